"""Sign-in rate limit: the decision as a pure function, and the login page that applies it
with the failures kept in the database (so several web workers count the same ones)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, func, select

from outreach import create_app
from outreach.auth.models import LoginAttempt, Role, User
from outreach.auth.ratelimit import LoginLimits, login_decision
from outreach.auth.services import issue_api_token, record_login_failure
from outreach.clock import FixedClock
from tests.conftest import PASSWORD, csrf_token, make_settings

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
LIMITS = LoginLimits(per_account=5, per_ip=50, window=timedelta(minutes=15))


def minutes_ago(*minutes: float) -> list[datetime]:
    return [NOW - timedelta(minutes=m) for m in minutes]


# --- The decision ---------------------------------------------------------------------------


def test_fewer_failures_than_the_limit_are_allowed() -> None:
    assert login_decision(minutes_ago(1, 2, 3, 4), minutes_ago(1, 2, 3, 4), NOW, LIMITS).allowed
    assert login_decision([], [], NOW, LIMITS).allowed


def test_the_fifth_failure_of_an_account_blocks_until_the_oldest_counted_one_expires() -> None:
    decision = login_decision(minutes_ago(1, 2, 3, 4, 10), minutes_ago(1, 2, 3, 4, 10), NOW, LIMITS)
    assert not decision.allowed
    assert decision.retry_after == timedelta(minutes=5)
    assert decision.retry_minutes == 5


def test_the_wait_follows_the_newest_failures_that_still_make_the_limit() -> None:
    failures = minutes_ago(1, 2, 3, 4, 5, 14)
    decision = login_decision(failures, failures, NOW, LIMITS)
    # Six failures: allowed again when the fifth newest (5 min ago) leaves the window.
    assert decision.retry_after == timedelta(minutes=10)


def test_failures_older_than_the_window_and_in_the_future_do_not_count() -> None:
    failures = [*minutes_ago(15, 16, 60, 90), NOW + timedelta(minutes=1)]
    assert login_decision(failures, failures, NOW, LIMITS).allowed


def test_an_address_failing_on_many_accounts_is_blocked_by_the_address_cap() -> None:
    spread = minutes_ago(*[i * 0.2 for i in range(50)])
    decision = login_decision([], spread, NOW, LIMITS)
    assert not decision.allowed
    assert decision.retry_after == timedelta(minutes=15) - timedelta(minutes=49 * 0.2)
    assert login_decision([], spread[:49], NOW, LIMITS).allowed


def test_the_wait_is_the_longer_of_the_two_limits_and_rounds_up_to_a_minute() -> None:
    decision = login_decision(minutes_ago(1, 1, 1, 1, 14.99), minutes_ago(*[0.1] * 50), NOW, LIMITS)
    assert decision.retry_after == timedelta(minutes=14.9)
    assert decision.retry_minutes == 15
    assert login_decision(minutes_ago(*[14.99] * 5), [], NOW, LIMITS).retry_minutes == 1


# --- The login page -------------------------------------------------------------------------


@pytest.fixture
def clock(app: Flask) -> FixedClock:
    clock = FixedClock(NOW)
    app.extensions["outreach"] = replace(app.extensions["outreach"], clock=clock)
    return clock


@pytest.fixture
def user(make_user: Callable[..., User]) -> User:
    return make_user(Role.BUILDER)


def attempt(
    client: FlaskClient, email: str, password: str, ip: str = "203.0.113.7"
) -> tuple[int, str]:
    response = client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": csrf_token(client, "/login")},
        environ_base={"REMOTE_ADDR": ip},
    )
    return response.status_code, response.get_data(as_text=True)


def failures_in_db(session: Session) -> int:
    return session.exec(select(func.count()).select_from(LoginAttempt)).one()


def test_five_wrong_passwords_block_the_account_from_that_address(
    client: FlaskClient, user: User, clock: FixedClock, session: Session
) -> None:
    for _ in range(5):
        assert attempt(client, user.email, "wrong password")[0] == 401
    status, page = attempt(client, user.email, PASSWORD)
    assert status == 429
    assert "Too many attempts, try again in 15 minutes." in page
    assert "The email or password is not correct." not in page
    # A refused attempt is not checked and not counted.
    assert failures_in_db(session) == 5

    response = client.post(
        "/login",
        data={
            "email": user.email,
            "password": PASSWORD,
            "csrf_token": csrf_token(client, "/login"),
        },
        environ_base={"REMOTE_ADDR": "203.0.113.7"},
    )
    assert int(response.headers["Retry-After"]) == 15 * 60 + 1

    clock.advance(timedelta(minutes=14, seconds=59))
    status, page = attempt(client, " " + user.email.upper(), PASSWORD)
    assert (status, "try again in 1 minute." in page) == (429, True)
    clock.advance(timedelta(seconds=1))
    assert attempt(client, user.email, PASSWORD)[0] == 302


def test_another_address_and_another_account_are_not_blocked(
    client: FlaskClient, user: User, make_user: Callable[..., User], clock: FixedClock
) -> None:
    for _ in range(5):
        attempt(client, user.email, "wrong password")
    assert attempt(client, user.email, PASSWORD)[0] == 429
    assert attempt(client, make_user().email, PASSWORD)[0] == 302
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account")})
    assert attempt(client, user.email, PASSWORD, ip="198.51.100.9")[0] == 302


def test_a_successful_sign_in_clears_the_failures_of_the_account_from_that_address(
    client: FlaskClient, user: User, clock: FixedClock, session: Session
) -> None:
    for _ in range(4):
        attempt(client, user.email, "wrong password")
    attempt(client, user.email, "wrong password", ip="198.51.100.9")
    assert attempt(client, user.email, PASSWORD)[0] == 302
    # The failure from the other address still counts.
    assert failures_in_db(session) == 1
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account")})
    for _ in range(4):
        assert attempt(client, user.email, "wrong password")[0] == 401
    assert attempt(client, user.email, PASSWORD)[0] == 302


def test_the_address_cap_blocks_every_account_from_one_address(
    client: FlaskClient, user: User, clock: FixedClock, session: Session
) -> None:
    for number in range(50):
        record_login_failure(session, f"guess{number}@agency.example", "203.0.113.7", NOW)
    status, page = attempt(client, user.email, PASSWORD)
    assert status == 429
    assert "Too many attempts" in page
    assert attempt(client, user.email, PASSWORD, ip="198.51.100.9")[0] == 302


def test_old_failures_are_pruned_when_a_new_one_is_recorded(
    client: FlaskClient, user: User, clock: FixedClock, session: Session
) -> None:
    for _ in range(3):
        attempt(client, user.email, "wrong password")
    clock.advance(timedelta(minutes=15))
    attempt(client, user.email, "wrong password")
    assert failures_in_db(session) == 1


def test_api_tokens_are_not_rate_limited(
    client: FlaskClient, user: User, clock: FixedClock, session: Session
) -> None:
    for _ in range(5):
        attempt(client, user.email, "wrong password", ip="127.0.0.1")
    assert attempt(client, user.email, PASSWORD, ip="127.0.0.1")[0] == 429
    token = issue_api_token(session, user)
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.get_json()["email"] == user.email


@pytest.fixture
def second_worker(app: Flask, database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """Another app on the same database, as a second gunicorn worker would be."""
    other = create_app(make_settings(database_url, tmp_path / "instance"), clock=FixedClock(NOW))
    other.config["TESTING"] = True
    yield other
    other.extensions["outreach"].engine.dispose()


def test_failures_counted_by_one_worker_block_the_other(
    client: FlaskClient, user: User, clock: FixedClock, second_worker: Flask
) -> None:
    for _ in range(3):
        attempt(client, user.email, "wrong password")
    other = second_worker.test_client()
    for _ in range(2):
        assert attempt(other, user.email, "wrong password")[0] == 401
    assert attempt(other, user.email, PASSWORD)[0] == 429
    assert attempt(client, user.email, PASSWORD)[0] == 429


def behind_proxy(
    client: FlaskClient, email: str, password: str, forwarded_for: str
) -> tuple[int, str]:
    """A sign-in through a reverse proxy at 10.0.0.2 that adds the client's address."""
    response = client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": csrf_token(client, "/login")},
        environ_base={"REMOTE_ADDR": "10.0.0.2"},
        headers={"X-Forwarded-For": forwarded_for},
    )
    return response.status_code, response.get_data(as_text=True)


def test_behind_a_trusted_proxy_each_client_is_counted_at_its_own_address(
    app: Flask, database_url: str, tmp_path: Path, user: User, session: Session
) -> None:
    settings = make_settings(database_url, tmp_path / "instance", trusted_proxies=1)
    proxied = create_app(settings, clock=FixedClock(NOW))
    try:
        client = proxied.test_client()
        for _ in range(5):
            behind_proxy(client, user.email, "wrong password", "203.0.113.7")
        assert behind_proxy(client, user.email, PASSWORD, "203.0.113.7")[0] == 429
        assert behind_proxy(client, user.email, PASSWORD, "198.51.100.9")[0] == 302
        stored = session.exec(select(LoginAttempt.ip).distinct()).all()
        assert stored == ["203.0.113.7"]
    finally:
        proxied.extensions["outreach"].engine.dispose()


def test_without_trusted_proxies_a_forged_forwarded_address_changes_nothing(
    client: FlaskClient, user: User, clock: FixedClock
) -> None:
    for _ in range(5):
        behind_proxy(client, user.email, "wrong password", "203.0.113.7")
    assert behind_proxy(client, user.email, PASSWORD, "198.51.100.9")[0] == 429
