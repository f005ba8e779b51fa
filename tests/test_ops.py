"""Scheduler passes recorded in job_runs, and the admin page that shows them with the queue."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import timedelta
from email.utils import make_msgid

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from outreach.auth.models import Role, User
from outreach.campaigns.models import Campaign
from outreach.clock import FixedClock
from outreach.db import utcnow
from outreach.links.schemas import PlacementInput
from outreach.links.services import create_placement
from outreach.mail.models import Direction, Message, MessageStatus
from outreach.mail.runner import link_checks, mail_context
from outreach.ops.models import JobRun
from outreach.ops.services import flatten_counts, record_run, total_runs
from outreach.prospects.schemas import ContactInput, ProspectInput
from outreach.prospects.services import add_prospect
from outreach.scheduler import run_due_work
from tests.test_mail_engine import World, at_utc, build_world, enrol_world  # noqa: F401


def test_flatten_counts_keeps_numbers_and_names_nested_tallies() -> None:
    summary = {
        "now": "2026-11-24T10:00:00+00:00",
        "sent": 2,
        "failed": 0,
        "received": {"reply": 3, "bounce": 1},
        "flag": True,
    }
    assert flatten_counts(summary) == {
        "sent": 2,
        "failed": 0,
        "received_reply": 3,
        "received_bounce": 1,
    }


def test_totals_sum_every_count_and_the_failed_runs() -> None:
    totals = total_runs(
        [({"sent": 2, "queued": 1}, ""), ({"sent": 3}, "RuntimeError: x"), ({}, "")]
    )
    assert (totals.runs, totals.failed_runs) == (3, 1)
    assert totals.counts == {"queued": 1, "sent": 5}


def engine_of(app: Flask) -> Engine:
    return app.extensions["outreach"].engine


def test_a_run_is_recorded_with_its_counts_and_logged(
    app: Flask, session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="outreach.jobs")
    now = utcnow()
    summary = {"now": now.isoformat(), "sent": 2, "failed": 0, "received": {"reply": 1}}
    assert record_run(engine_of(app), "due-work", "host:1", now, lambda: summary) is summary
    run = session.exec(select(JobRun)).one()
    assert (run.job, run.worker, run.started_at, run.error) == ("due-work", "host:1", now, "")
    assert run.counts == {"sent": 2, "failed": 0, "received_reply": 1}
    assert run.finished_at is not None
    assert run.finished_at >= run.started_at
    assert run.duration_ms is not None
    [line] = [r.data for r in caplog.records if r.name == "outreach.jobs"]  # type: ignore[attr-defined]
    assert line["job"] == "due-work"
    assert line["run_id"] == run.id
    assert line["counts"] == {"sent": 2, "received_reply": 1}
    assert line["error"] is None


def test_a_run_that_raises_is_recorded_with_its_error_and_the_error_goes_on(
    app: Flask, session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> dict[str, int]:
        raise RuntimeError("database went away")

    with pytest.raises(RuntimeError, match="database went away"):
        record_run(engine_of(app), "due-work", "host:1", utcnow(), broken)
    run = session.exec(select(JobRun)).one()
    assert run.error == "RuntimeError: database went away"
    assert run.finished_at is not None
    assert run.counts == {}
    [record] = [r for r in caplog.records if r.name == "outreach.jobs"]
    assert record.levelno == logging.ERROR


def test_runs_older_than_two_weeks_are_pruned_by_the_next_run(app: Flask, session: Session) -> None:
    now = utcnow()
    for days in (15, 13):
        session.add(JobRun(job="due-work", worker="old:1", started_at=now - timedelta(days=days)))
    session.commit()
    record_run(engine_of(app), "due-work", "host:1", now, dict)
    kept = session.exec(select(JobRun.started_at).order_by(JobRun.started_at)).all()
    assert kept == [now - timedelta(days=13), now]


def test_the_scheduler_pass_records_what_it_sent(
    app: Flask,
    session: Session,
    build_world: Callable[..., World],  # noqa: F811
) -> None:
    world = build_world()
    enrol_world(world)
    ctx = mail_context(app)
    run_due_work(engine_of(app), ctx, link_checks(app), FixedClock(at_utc(23, 14)))
    run = session.exec(select(JobRun)).one()
    assert (run.job, run.worker, run.started_at) == ("due-work", ctx.worker, at_utc(23, 14))
    assert (run.counts["sent"], run.counts["mailboxes_polled"], run.counts["failed"]) == (1, 1, 0)
    assert run.counts["links_checked"] == 0


# ---------------------------------------------------------------------------------------------
# The admin page


@pytest.mark.parametrize("role", [Role.BUILDER, Role.MANAGER])
def test_only_admins_open_the_admin_page(
    client: FlaskClient, login: Callable[[Role], User], role: Role
) -> None:
    login(role)
    assert client.get("/admin/").status_code == 403
    assert 'href="/admin/"' not in client.get("/campaigns/").get_data(as_text=True)


def test_the_admin_page_needs_a_sign_in(client: FlaskClient) -> None:
    response = client.get("/admin/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def outbound(status: MessageStatus, **values: object) -> Message:
    return Message(
        direction=Direction.OUTBOUND,
        status=status,
        message_id=make_msgid(domain="agency.example"),
        from_address="maria@client.example",
        to_address="ann@gardenblog.example",
        **values,
    )


def cell(page: str, attribute: str, name: str) -> list[str]:
    return re.findall(rf'{attribute}="{name}">([^<]*)<', page)


def test_the_admin_page_shows_the_recorded_runs_totals_and_queue(
    app: Flask,
    client: FlaskClient,
    session: Session,
    login: Callable[[Role], User],
    campaign: Campaign,
) -> None:
    admin = login(Role.ADMIN)
    now = utcnow()
    lease = timedelta(seconds=app.extensions["outreach"].settings.mail_claim_lease_seconds)
    runs = [
        JobRun(
            job="due-work",
            worker="web1:11",
            started_at=now - timedelta(hours=1),
            finished_at=now - timedelta(hours=1) + timedelta(seconds=2),
            duration_ms=2000,
            counts={"sent": 4, "queued": 5, "links_checked": 7},
        ),
        JobRun(
            job="due-work",
            worker="web2:12",
            started_at=now - timedelta(minutes=5),
            finished_at=now - timedelta(minutes=5),
            duration_ms=3,
            counts={"sent": 1},
            error="RuntimeError: smtp server on fire",
        ),
        # Outside the last 24 hours: listed, not in the totals.
        JobRun(
            job="due-work",
            worker="web1:11",
            started_at=now - timedelta(days=2),
            counts={"sent": 100},
        ),
    ]
    session.add_all(runs)
    session.add_all(
        [
            outbound(MessageStatus.QUEUED, scheduled_at=now - timedelta(minutes=1)),
            outbound(MessageStatus.QUEUED, scheduled_at=now - timedelta(minutes=2)),
            outbound(MessageStatus.QUEUED, scheduled_at=now + timedelta(days=1)),
            outbound(MessageStatus.SENDING, claimed_at=now - timedelta(seconds=5)),
            outbound(MessageStatus.SENDING, claimed_at=now - lease - timedelta(minutes=1)),
            outbound(MessageStatus.SENT, sent_at=now),
        ]
    )
    session.commit()
    prospect = add_prospect(
        session,
        campaign,
        ProspectInput(
            domain="gardenblog.example",
            contact=ContactInput(first_name="Ann", email="ann@gardenblog.example"),
        ),
        admin,
    )
    session.commit()
    page_input = PlacementInput(
        page_url="https://gardenblog.example/post", target="https://client.example/"
    )
    create_placement(session, prospect, page_input, admin, now - timedelta(minutes=1))
    create_placement(session, prospect, page_input, admin, now + timedelta(hours=1))

    page = client.get("/admin/").get_data(as_text=True)

    assert 'href="/admin/"' in page
    assert cell(page, "data-figure", "emails_due") == ["2"]
    assert cell(page, "data-figure", "emails_later") == ["1"]
    assert cell(page, "data-figure", "emails_sending") == ["1"]
    assert cell(page, "data-figure", "claims_past_lease") == ["1"]
    assert cell(page, "data-figure", "placements_due") == ["1"]
    assert "2 passes" in page
    assert "1 failed" in page
    assert cell(page, "data-total", "sent") == ["5"]
    assert cell(page, "data-total", "queued") == ["5"]
    assert cell(page, "data-total", "links_checked") == ["7"]
    # Newest first, every recorded run with its own counts.
    assert cell(page, "data-count", "sent") == ["1", "4", "100"]
    assert cell(page, "data-count", "links_checked") == ["0", "7", "0"]
    assert "RuntimeError: smtp server on fire" in page
    assert "unfinished" in page
    assert '<caption class="visually-hidden">Scheduler passes, newest first</caption>' in page
