"""Accounts, sign-in and API tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlmodel import Session, select

from outreach.auth.models import ApiToken, Role, User, new_session_nonce
from outreach.auth.passwords import (
    dummy_verify,
    hash_password,
    needs_rehash,
    password_problem,
    verify_password,
)
from outreach.db import utcnow
from outreach.validation import normalise_email

TOKEN_PREFIX = "otr_"  # noqa: S105  (a marker, not a secret)
# last_used_at is written at most this often, so API reads do not each cost a write.
TOKEN_USE_RESOLUTION = timedelta(minutes=1)


class AccountError(ValueError):
    """A request about an account that cannot be carried out; the message is for the user."""


def account_email(email: str) -> str:
    try:
        return normalise_email(email)
    except ValueError as exc:
        raise AccountError(str(exc)) from None


def find_user(session: Session, email: str) -> User | None:
    return session.exec(select(User).where(User.email == email.strip().lower())).first()


def create_user(session: Session, email: str, password: str, role: Role, name: str = "") -> User:
    address = account_email(email)
    if find_user(session, address) is not None:
        raise AccountError(f"A user with the email {address} already exists.")
    problem = password_problem(password)
    if problem:
        raise AccountError(problem)
    user = User(email=address, name=name.strip(), password_hash=hash_password(password), role=role)
    session.add(user)
    session.commit()
    return user


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The active user with this email and password, or None; wrong email and wrong password
    look the same from outside."""
    user = find_user(session, email)
    if user is None or not user.active:
        dummy_verify(password)
        return None
    if not verify_password(user.password_hash, password):
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    session.commit()
    return user


def change_password(session: Session, user: User, current: str, new: str) -> None:
    if not verify_password(user.password_hash, current):
        raise AccountError("The current password is not correct.")
    problem = password_problem(new)
    if problem:
        raise AccountError(problem)
    user.password_hash = hash_password(new)
    user.session_nonce = new_session_nonce()
    session.commit()


def load_session_user(session: Session, cookie_id: str) -> User | None:
    """The user behind a login cookie, if the cookie is still valid for them."""
    user_id, _, nonce = cookie_id.partition(":")
    if not user_id.isdigit() or not nonce:
        return None
    user = session.get(User, int(user_id))
    if user is None or not user.active or not secrets.compare_digest(user.session_nonce, nonce):
        return None
    return user


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_api_token(session: Session, user: User, label: str = "") -> str:
    """Create a bearer token; the clear text is returned once and never stored."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_hash=_token_hash(token), label=label))
    session.commit()
    return token


def user_for_token(session: Session, token: str) -> User | None:
    row = session.exec(
        select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == _token_hash(token), ApiToken.revoked_at.is_(None))
    ).first()
    if row is None:
        return None
    api_token, user = row
    if not user.active:
        return None
    now = utcnow()
    if api_token.last_used_at is None or now - api_token.last_used_at > TOKEN_USE_RESOLUTION:
        api_token.last_used_at = now
        session.commit()
    return user
