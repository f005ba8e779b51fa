"""Structured logs: the formatters, the per-request line with its X-Request-ID, and that no
secret ever reaches a log record."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session

from outreach.auth.models import Role, User
from outreach.auth.services import issue_api_token
from outreach.ops.logs import JsonFormatter, TextFormatter, fields, request_id_from
from tests.conftest import PASSWORD, csrf_token, sign_in
from tests.mailservers import SmtpSink
from tests.test_mail_engine import World, at_utc, build_world, enrol_world  # noqa: F401

# The test mail servers run inside this process; their own debug lines are the server's side
# of the conversation (aiosmtpd logs the AUTH exchange), not something the app wrote.
TEST_SERVER_LOGGERS = ("mail.log",)


def make_record(message: str, *args: object, **data: object) -> logging.LogRecord:
    record = logging.LogRecord("outreach.test", logging.INFO, __file__, 1, message, args, None)
    record.__dict__.update(fields(**data))
    return record


def test_json_formatter_puts_the_fields_at_the_top_level() -> None:
    line = JsonFormatter().format(make_record("sent %d", 3, message_row_id=3, outcome="sent"))
    parsed = json.loads(line)
    assert parsed["message"] == "sent 3"
    assert (parsed["level"], parsed["logger"]) == ("INFO", "outreach.test")
    assert (parsed["message_row_id"], parsed["outcome"]) == (3, "sent")
    assert parsed["ts"].endswith("+00:00")


def test_json_formatter_keeps_the_exception_on_the_same_line() -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    line = JsonFormatter().format(record)
    assert "\n" not in line
    assert "RuntimeError: boom" in json.loads(line)["exception"]


def test_text_formatter_appends_the_fields() -> None:
    line = TextFormatter().format(make_record("checked", placement_id=7, verdict="live"))
    assert line.endswith('outreach.test: checked placement_id=7 verdict="live"')


@pytest.mark.parametrize(
    ("log_format", "expected"),
    [("json", '{"ts"'), ("text", " INFO outreach.demo: hello a=1")],
)
def test_configure_logging_installs_one_handler_in_the_chosen_format(
    log_format: str, expected: str
) -> None:
    """In a fresh process (pytest has its own handlers on the root logger)."""
    code = (
        "import logging\n"
        "from outreach.ops.logs import configure_logging, fields\n"
        "configure_logging('INFO', 'text')\n"
        f"configure_logging('INFO', {log_format!r})\n"
        "logging.getLogger('outreach.demo').debug('hidden')\n"
        "logging.getLogger('outreach.demo').info('hello', extra=fields(a=1))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
    )
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert expected in lines[0]
    if log_format == "json":
        assert json.loads(lines[0])["a"] == 1


def test_request_ids_are_taken_only_when_sane() -> None:
    assert request_id_from("req-42.a:b_C") == "req-42.a:b_C"
    for bad in (None, "", "has space", "x" * 129, '"quoted"', "-leading-dash"):
        generated = request_id_from(bad)
        assert generated != bad
        assert len(generated) == 32
        int(generated, 16)


def request_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    return [r.data for r in caplog.records if r.name == "outreach.request"]  # type: ignore[attr-defined]


def test_one_line_per_request_with_the_callers_request_id(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="outreach.request")
    response = client.get("/login?next=/campaigns/", headers={"X-Request-ID": "lb-1234"})
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == "lb-1234"
    [line] = request_lines(caplog)
    assert line["request_id"] == "lb-1234"
    assert (line["method"], line["path"], line["status"]) == ("GET", "/login", 200)
    assert isinstance(line["duration_ms"], float)
    assert line["duration_ms"] >= 0
    assert "user_id" not in line


def test_a_redirect_to_the_login_is_logged_with_a_new_request_id(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="outreach.request")
    response = client.get("/campaigns/", headers={"X-Request-ID": "not a valid id"})
    assert response.status_code == 302
    [line] = request_lines(caplog)
    assert line["status"] == 302
    assert line["request_id"] == response.headers["X-Request-ID"] != "not a valid id"
    assert line["duration_ms"] is not None


def test_signed_in_and_api_requests_carry_the_user_id(
    client: FlaskClient,
    session: Session,
    login: Callable[[Role], User],
    make_user: Callable[..., User],
    caplog: pytest.LogCaptureFixture,
) -> None:
    user = login(Role.MANAGER)
    caplog.set_level(logging.INFO, logger="outreach.request")
    assert client.get("/campaigns/").status_code == 200
    robot = make_user(Role.MANAGER)
    token = issue_api_token(session, robot)
    api = client.application.test_client()
    assert (
        api.get("/api/v1/campaigns", headers={"Authorization": f"Bearer {token}"}).status_code
        == 200
    )
    page, call = request_lines(caplog)
    assert (page["path"], page["user_id"]) == ("/campaigns/", user.id)
    assert (call["path"], call["user_id"]) == ("/api/v1/campaigns", robot.id)


def test_probes_are_logged_at_debug_only(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="outreach.request")
    client.get("/healthz")
    client.get("/readyz")
    assert [r.levelno for r in caplog.records if r.name == "outreach.request"] == [
        logging.DEBUG
    ] * 2


def test_no_secret_reaches_a_log_record(
    app: Flask,
    client: FlaskClient,
    session: Session,
    make_user: Callable[..., User],
    build_world: Callable[..., World],  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Everything at DEBUG: signing in (wrongly, then rightly), an API call, an SMTP send with
    a login and a mailbox poll over IMAP."""
    caplog.set_level(logging.DEBUG)
    user = make_user(Role.ADMIN)
    client.post("/login", data={"email": user.email, "password": "wrong " + PASSWORD})
    sign_in(client, user)
    assert client.get("/admin/").status_code == 200
    token = issue_api_token(session, user)
    api = app.test_client()
    assert (
        api.get("/api/v1/campaigns", headers={"Authorization": f"Bearer {token}"}).status_code
        == 200
    )
    smtp_password = "smtp-pass-7f3a"
    with SmtpSink(username="maria", password=smtp_password) as authed:
        world = build_world(
            smtp_port=authed.port, smtp_username="maria", smtp_password=smtp_password
        )
        enrol_world(world)
        summary = world.run(at_utc(23, 14))
        assert (summary["sent"], summary["mailboxes_polled"], summary["poll_errors"]) == (1, 1, 0)
    secrets = {
        "user password": PASSWORD,
        "SECRET_KEY": app.config["SECRET_KEY"],
        "MAIL_ENCRYPTION_KEY": app.extensions["outreach"].mail_key,
        "API token": token,
        "SMTP password": smtp_password,
        "IMAP password": world.imap_password,
    }
    records = [r for r in caplog.records if not r.name.startswith(TEST_SERVER_LOGGERS)]
    assert any(r.name == "outreach.mail" for r in records)
    assert any(r.name == "outreach.request" for r in records)
    formatter = JsonFormatter()
    for record in records:
        line = formatter.format(record) + repr(record.__dict__)
        for what, secret in secrets.items():
            assert secret not in line, f"{what} in a log record of {record.name}: {line}"


def test_a_password_change_request_is_logged_with_its_user(
    client: FlaskClient, login: Callable[[Role], User], caplog: pytest.LogCaptureFixture
) -> None:
    """The account page signs the user in again; the log line reads that user afterwards."""
    user = login(Role.BUILDER)
    token = csrf_token(client, "/account")
    caplog.set_level(logging.INFO, logger="outreach.request")
    response = client.post(
        "/account",
        data={
            "current_password": PASSWORD,
            "new_password": "a much newer password",
            "confirm_password": "a much newer password",
            "csrf_token": token,
        },
    )
    assert response.status_code == 302
    [line] = request_lines(caplog)
    assert (line["path"], line["status"], line["user_id"]) == ("/account", 302, user.id)
