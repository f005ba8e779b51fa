"""The flask commands scripts rely on: users, tokens, demo data, the scheduler process."""

import gc
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlmodel import func, select

from outreach.auth.models import Role, User
from outreach.campaigns.models import Campaign
from outreach.config import PROJECT_ROOT
from outreach.demo import DEMO_EMAIL, DEMO_PASSWORD
from outreach.mail.runner import link_checks, mail_context
from outreach.ops.serving import freeze_loaded_app
from outreach.prospects.models import Prospect, Stage
from outreach.scheduler import build_scheduler


def test_users_create_and_token_for_the_api(app, client):
    runner = app.test_cli_runner()
    created = runner.invoke(
        args=[
            "users",
            "create",
            "Lead@Agency.example",
            "--role",
            "manager",
            "--password",
            "long enough pw",
        ]
    )
    assert created.exit_code == 0, created.output
    assert "Created manager lead@agency.example" in created.output
    token = runner.invoke(args=["users", "token", "lead@agency.example"])
    assert token.exit_code == 0, token.output
    bearer = token.output.strip()
    assert bearer.startswith("otr_")
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {bearer}"})
    assert me.json["role"] == "manager"


def test_users_create_without_password_generates_one(app, session):
    result = app.test_cli_runner().invoke(args=["users", "create", "b@agency.example"], input="")
    assert result.exit_code == 0, result.output
    password = result.output.split("Password: ", 1)[1].strip()
    assert len(password) >= 10
    user = session.exec(select(User).where(User.email == "b@agency.example")).one()
    assert user.role == Role.BUILDER


def test_users_commands_report_mistakes(app):
    runner = app.test_cli_runner()
    bad_email = runner.invoke(args=["users", "create", "nope", "--password", "long enough pw"])
    assert bad_email.exit_code != 0
    assert "not a valid email" in bad_email.output
    bad_role = runner.invoke(args=["users", "create", "a@agency.example", "--role", "boss"])
    assert bad_role.exit_code == 2
    runner.invoke(args=["users", "create", "a@agency.example", "--password", "long enough pw"])
    again = runner.invoke(
        args=["users", "create", "a@agency.example", "--password", "long enough pw"]
    )
    assert "already exists" in again.output
    unknown = runner.invoke(args=["users", "token", "ghost@agency.example"])
    assert unknown.exit_code != 0
    assert "No user with the email ghost@agency.example" in unknown.output


def test_demo_load_fills_a_realistic_sample_once(app, session):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["demo", "load"])
    assert result.exit_code == 0, result.output
    assert f"Sign in as {DEMO_EMAIL} with the password {DEMO_PASSWORD}" in result.output
    kinds = set(session.exec(select(Campaign.kind)).all())
    assert kinds == {"guest_post", "expert_roundup", "local_citation"}
    prospects = session.exec(select(func.count()).select_from(Prospect)).one()
    assert 200 <= prospects <= 500
    stages = set(session.exec(select(Prospect.stage).distinct()).all())
    assert stages == set(Stage)
    searchable = session.exec(select(Prospect).where(Prospect.search_text == "")).all()
    assert searchable == []
    again = runner.invoke(args=["demo", "load", "--if-empty"])
    assert again.exit_code == 0
    assert "no demo data loaded" in again.output
    assert session.exec(select(func.count()).select_from(Prospect)).one() == prospects
    refused = runner.invoke(args=["demo", "load"])
    assert refused.exit_code != 0


def test_demo_login_works(app, client):
    app.test_cli_runner().invoke(args=["demo", "load"])
    page = client.get("/login")
    token = page.get_data(as_text=True).split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    response = client.post(
        "/login", data={"email": DEMO_EMAIL, "password": DEMO_PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302
    listing = client.get("/campaigns/").get_data(as_text=True)
    assert "Balcony gardening guide: guest posts" in listing


def test_scheduler_has_its_jobs(app) -> None:
    state = app.extensions["outreach"]
    scheduler = build_scheduler(
        heartbeat_seconds=30,
        engine=state.engine,
        mail=mail_context(app),
        links=link_checks(app),
        clock=state.clock,
        dispatch_seconds=60,
    )
    assert scheduler.get_job("abandoned-uploads") is not None
    assert scheduler.get_job("due-work").trigger.interval.total_seconds() == 60
    job = scheduler.get_job("heartbeat")
    assert job is not None
    assert job.trigger.interval.total_seconds() == 30


def test_the_scheduler_keeps_what_it_loaded_out_of_the_collectors_way() -> None:
    try:
        freeze_loaded_app()
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_scheduler_process_runs_and_stops_on_sigterm(database_url: str, tmp_path: Path):
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "INSTANCE_PATH": str(tmp_path),
        "SECRET_KEY": "x" * 40,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "app", "scheduler"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        lines = []
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            lines.append(line)
            if "scheduler heartbeat" in line:
                break
        assert any("scheduler heartbeat" in line for line in lines), lines
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert "scheduler stopped" in process.stdout.read()
    finally:
        process.kill()
