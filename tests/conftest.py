"""Fixtures: a real app on a migrated database (SQLite by default, PostgreSQL with
TEST_DATABASE_URL), emptied before every test."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from argon2 import PasswordHasher, profiles
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, SQLModel

import outreach.models  # noqa: F401  (fills the metadata)
from outreach import create_app
from outreach.auth import passwords
from outreach.auth.models import Role, User
from outreach.auth.services import create_user, issue_api_token
from outreach.campaigns.models import Campaign, CampaignKind, Client
from outreach.config import Settings
from outreach.dbcli import alembic_config
from tests.mailservers import imap_server, smtp_sink  # noqa: F401  (fixtures)

PASSWORD = "correct horse battery"
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(autouse=True, scope="session")
def cheap_password_hashing() -> Iterator[None]:
    """Production Argon2 costs ~50 ms a hash; the tests need correctness, not cost."""
    cheapest = PasswordHasher.from_parameters(profiles.CHEAPEST)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(passwords, "_hasher", lambda: cheapest)
        yield


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The test database, brought to the newest migration once per run."""
    url = os.environ.get("TEST_DATABASE_URL") or (
        f"sqlite:///{tmp_path_factory.mktemp('db') / 'outreach-test.db'}"
    )
    command.upgrade(alembic_config(url), "head")
    return url


def empty_database(engine: sa.Engine) -> None:
    tables = SQLModel.metadata.sorted_tables
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            names = ", ".join(f'"{table.name}"' for table in tables)
            connection.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(tables):
                connection.execute(table.delete())


def make_settings(database_url: str, instance_path: Path, **overrides: Any) -> Settings:
    return Settings(
        database_url=database_url,
        instance_path=instance_path,
        secret_key="test-secret-key-that-is-long-enough-1234",
        **overrides,
    )


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    app = create_app(make_settings(database_url, tmp_path / "instance"))
    app.config["TESTING"] = True
    engine = app.extensions["outreach"].engine
    empty_database(engine)
    yield app
    engine.dispose()


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    with Session(app.extensions["outreach"].engine, expire_on_commit=False) as session:
        yield session


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def make_user(session: Session) -> Callable[..., User]:
    def make(role: Role = Role.BUILDER, email: str | None = None, name: str = "") -> User:
        address = email or f"{role.value}-{os.urandom(3).hex()}@agency.example"
        return create_user(session, address, PASSWORD, role, name=name)

    return make


def csrf_token(client: FlaskClient, path: str) -> str:
    """The CSRF token from the form a browser would load first."""
    match = CSRF_INPUT.search(client.get(path).get_data(as_text=True))
    assert match, f"no CSRF token in the page at {path}"
    return match.group(1)


def sign_in(client: FlaskClient, user: User, password: str = PASSWORD) -> None:
    response = client.post(
        "/login",
        data={
            "email": user.email,
            "password": password,
            "csrf_token": csrf_token(client, "/login"),
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)


@pytest.fixture
def login(client: FlaskClient, make_user: Callable[..., User]) -> Callable[[Role], User]:
    """Sign the test client in as a new user of the given role."""

    def login_as(role: Role = Role.MANAGER) -> User:
        user = make_user(role)
        sign_in(client, user)
        return user

    return login_as


class ApiClient:
    """The test client with a real bearer token of one user."""

    def __init__(self, client: FlaskClient, token: str) -> None:
        self.client, self.headers = client, {"Authorization": f"Bearer {token}"}

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.client.get(path, headers=self.headers, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.client.post(path, headers=self.headers, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> Any:
        return self.client.patch(path, headers=self.headers, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.client.delete(path, headers=self.headers, **kwargs)


@pytest.fixture
def api_as(
    client: FlaskClient, session: Session, make_user: Callable[..., User]
) -> Callable[[Role], ApiClient]:
    def make(role: Role = Role.MANAGER) -> ApiClient:
        return ApiClient(client, issue_api_token(session, make_user(role)))

    return make


@pytest.fixture
def campaign(session: Session, make_user: Callable[..., User]) -> Campaign:
    """A guest-post campaign owned by a manager, for tests that need one."""
    owner = make_user(Role.MANAGER, name="Maria")
    client = Client(name="Client", domain="client.example", website="https://client.example/")
    session.add(client)
    session.commit()
    campaign = Campaign(
        name="Guest posts",
        kind=CampaignKind.GUEST_POST,
        client_id=client.id,
        client_url="https://client.example/",
        owner_id=owner.id,
    )
    session.add(campaign)
    session.commit()
    return campaign
