"""/readyz: ready only when the database answers and its schema is at the migrations' head."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from flask import Flask
from flask.testing import FlaskClient

from outreach import create_app
from outreach.dbcli import alembic_config
from outreach.web import migration_heads
from tests.conftest import make_settings


def head_revision() -> str:
    [head] = ScriptDirectory.from_config(alembic_config("")).get_heads()
    return head


def test_ready_on_the_migrated_test_database(client: FlaskClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ready", "revision": head_revision()}


def test_heads_are_read_once() -> None:
    migration_heads()
    before = migration_heads.cache_info()
    assert migration_heads() == (head_revision(),)
    assert migration_heads.cache_info().hits == before.hits + 1


@pytest.fixture
def one_revision_back(app: Flask) -> Iterator[str]:
    """The database's recorded revision set to the head's parent, put back afterwards."""
    engine = app.extensions["outreach"].engine
    head = head_revision()
    parent = ScriptDirectory.from_config(alembic_config("")).get_revision(head).down_revision
    assert isinstance(parent, str)
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = :v"), {"v": parent})
    try:
        yield parent
    finally:
        with engine.begin() as connection:
            connection.execute(sa.text("UPDATE alembic_version SET version_num = :v"), {"v": head})


def test_not_ready_while_migrations_are_pending(
    client: FlaskClient, one_revision_back: str
) -> None:
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json() == {
        "status": "unavailable",
        "reason": f"migrations pending: at {one_revision_back}, head {head_revision()}",
    }
    # Liveness is another matter: the process and its database are fine.
    assert client.get("/healthz").status_code == 200


def test_not_ready_without_a_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'no-such-folder' / 'outreach.db'}"
    app = create_app(make_settings(url, tmp_path / "instance"))
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert (body["status"], body["reason"]) == ("unavailable", "database unreachable")
    assert body["database"] == "OperationalError"


def test_not_ready_on_an_empty_database(tmp_path: Path) -> None:
    app = create_app(make_settings(f"sqlite:///{tmp_path / 'empty.db'}", tmp_path / "instance"))
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["reason"] == f"migrations pending: at none, head {head_revision()}"
