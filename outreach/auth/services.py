"""Accounts, sign-in and API tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlmodel import Session, col, delete, select

from outreach.auth.models import ApiToken, LoginAttempt, Role, User, new_session_nonce
from outreach.auth.passwords import (
    dummy_verify,
    hash_password,
    needs_rehash,
    password_problem,
    verify_password,
)
from outreach.auth.ratelimit import LOGIN_LIMITS, LoginDecision, LoginLimits, login_decision
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


def _attempt_email(email: str) -> str:
    """The account a sign-in was for, as typed (it need not exist), in one spelling."""
    return email.strip().lower()[:320]


def login_allowed(
    session: Session, email: str, ip: str, now: datetime, limits: LoginLimits = LOGIN_LIMITS
) -> LoginDecision:
    """Whether a sign-in to `email` from address `ip` may be tried now, given the failures
    every web worker recorded."""
    recent = session.exec(
        select(LoginAttempt.email, LoginAttempt.attempted_at).where(
            LoginAttempt.ip == ip, LoginAttempt.attempted_at > now - limits.window
        )
    ).all()
    account = _attempt_email(email)
    return login_decision(
        [at for address, at in recent if address == account], [at for _, at in recent], now, limits
    )


def record_login_failure(
    session: Session, email: str, ip: str, now: datetime, limits: LoginLimits = LOGIN_LIMITS
) -> None:
    """Count a failed sign-in, and forget failures too old to count any more."""
    session.exec(delete(LoginAttempt).where(col(LoginAttempt.attempted_at) <= now - limits.window))
    session.add(LoginAttempt(email=_attempt_email(email), ip=ip[:64], attempted_at=now))
    session.commit()


def clear_login_failures(session: Session, email: str, ip: str) -> None:
    """After a successful sign-in: the account's failures from that address no longer count.
    Failures from other addresses stay, so one good sign-in does not reset a guesser elsewhere."""
    session.exec(
        delete(LoginAttempt).where(
            LoginAttempt.email == _attempt_email(email), LoginAttempt.ip == ip[:64]
        )
    )
    session.commit()


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
