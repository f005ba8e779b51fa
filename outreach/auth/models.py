"""Users, their roles and their API tokens."""

from __future__ import annotations

import enum
import secrets
from datetime import datetime
from decimal import Decimal

from sqlmodel import Field, SQLModel

from outreach.db import UTCDateTime, created_at_field, enum_type, money_field


class Role(enum.StrEnum):
    ADMIN = "admin"
    MANAGER = "manager"
    BUILDER = "builder"


def new_session_nonce() -> str:
    return secrets.token_urlsafe(16)


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, unique=True)
    name: str = Field(default="", max_length=200)
    password_hash: str = Field(max_length=255)
    role: Role = Field(default=Role.BUILDER, sa_type=enum_type(Role))
    # Money figures in reports use it; builders never see anyone's rate.
    hourly_rate: Decimal | None = money_field()
    active: bool = True
    # Part of the login cookie: changing it (password change, deactivation) logs out every session.
    session_nonce: str = Field(default_factory=new_session_nonce, max_length=64)
    created_at: datetime = created_at_field()
    last_login_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    # Flask-Login's user protocol.
    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return f"{self.id}:{self.session_nonce}"

    @property
    def display_name(self) -> str:
        return self.name or self.email

    def has_role(self, *roles: Role) -> bool:
        return self.role in roles


class ApiToken(SQLModel, table=True):
    """A bearer token for the JSON API; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", ondelete="CASCADE", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    label: str = Field(default="", max_length=200)
    created_at: datetime = created_at_field()
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class LoginAttempt(SQLModel, table=True):
    """A failed sign-in, kept for the rate-limit window only. In the database, not in memory,
    so that every web worker process counts the same failures."""

    __tablename__ = "login_attempts"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, index=True)
    ip: str = Field(max_length=64, index=True)
    attempted_at: datetime = Field(sa_type=UTCDateTime, nullable=False, index=True)
