"""Several workers on one database (issue 7): two real worker processes at once, 2,000 emails
to a local SMTP sink and 2,000 placements checked on a local web server, and a worker killed
with SIGKILL midway.

The workers are `flask outreach run-due --until-idle` processes: passes as of one injected
time until nothing is left, so that the outcome does not depend on the wall clock. After a
kill, a worker started later, as of a time past the lease, takes over what the dead one held.

What holds after a kill (and what the tests assert):
- the database records every email sent exactly once, and every placement checked exactly
  once for its due time: a claim is recorded only by the worker that still holds it;
- the SMTP sink receives every email at least once. One email may arrive twice: the one the
  killed worker had handed to SMTP but not yet recorded (SMTP cannot be exactly once across
  a crash between DATA and the commit). It goes out again with the same Message-ID, so the
  recipient's mail client shows it once, and only after the lease, by the worker that took
  the claim over.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlmodel import Session, col, func, select

from outreach.auth.models import Role, User
from outreach.campaigns.models import Campaign, CampaignKind, Client
from outreach.config import PROJECT_ROOT
from outreach.links.fetch import PageFetcher, fetch_many
from outreach.links.models import Placement, PlacementCheck
from outreach.links.monitor import CheckIntervals
from outreach.links.services import CHECK_LEASE, CheckSettings, run_due_checks
from outreach.links.services import _claimed_pages as claimed_pages
from outreach.links.services import _store_checks as store_checks
from outreach.mail.dispatch import claim_messages, queue_due_steps, send_due_messages
from outreach.mail.mailboxes import create_mailbox
from outreach.mail.models import (
    Direction,
    Enrolment,
    EnrolmentStatus,
    Message,
    MessageStatus,
    TransportSecurity,
)
from outreach.mail.runner import mail_context
from outreach.mail.schemas import MailboxInput, SequenceInput, StepInput, TemplateInput
from outreach.mail.sequences import create_sequence, enrol
from outreach.mail.services import create_template
from outreach.prospects.importing import read_rows, sniff_layout, suggest_mapping
from outreach.prospects.imports import import_rows
from outreach.prospects.models import Prospect
from tests.httpservers import Site
from tests.mailservers import SmtpSink

pytestmark = pytest.mark.reliability

# A Monday at 14:00 UTC: inside the default 09:00-17:00 window of a UTC campaign.
DUE = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
COUNT = 2000
LEASE_SECONDS = 10
# Each worker waits this long at most; the whole of a scenario takes a few seconds.
PATIENCE = 120.0


class Worker:
    """One `flask outreach run-due --until-idle` process; its output goes to files, since a
    pipe nobody reads would stall it once full."""

    def __init__(self, database_url: str, workdir: Path, name: str, now: datetime) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.out, self.err = workdir / f"{name}.out", workdir / f"{name}.err"
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "INSTANCE_PATH": str(workdir / name),
            "SECRET_KEY": "reliability-test-secret-key-long-enough",
            "MAIL_CLAIM_LEASE_SECONDS": str(LEASE_SECONDS),
            "LINKS_ALLOW_PRIVATE": "true",
        }
        command = [sys.executable, "-m", "flask", "--app", "app", "outreach", "run-due"]
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.process = subprocess.Popen(
                [*command, "--now", now.isoformat(), "--until-idle"],
                cwd=PROJECT_ROOT,
                env=env,
                stdout=out,
                stderr=err,
            )

    @property
    def name(self) -> str:
        """What the worker writes into its claims (outreach.mail.runner.worker_name)."""
        return f"{socket.gethostname()}:{self.process.pid}"

    def alive(self) -> bool:
        return self.process.poll() is None

    def finish(self) -> list[dict[str, Any]]:
        """Its pass summaries, once it ran dry."""
        returncode = self.process.wait(timeout=PATIENCE)
        assert returncode == 0, self.err.read_text()[-3000:]
        return [json.loads(line) for line in self.out.read_text().splitlines()]

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        assert self.process.wait(timeout=10) == -signal.SIGKILL

    def stop(self) -> None:
        if self.alive():
            self.process.kill()
            self.process.wait()


@pytest.fixture
def workers(database_url: str, tmp_path: Path) -> Iterator[Callable[[str, datetime], Worker]]:
    started: list[Worker] = []

    def start(name: str, now: datetime) -> Worker:
        worker = Worker(database_url, tmp_path / "workers", name, now)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def total(summaries: list[dict[str, Any]], name: str) -> int:
    return sum(summary[name] for summary in summaries)


def wait_until(condition: Callable[[], bool], worker: Worker, what: str) -> None:
    deadline = time.monotonic() + PATIENCE
    while not condition():
        assert worker.alive(), f"the worker ended before {what}: {worker.err.read_text()[-3000:]}"
        assert time.monotonic() < deadline, f"no {what} within {PATIENCE} s"
        time.sleep(0.05)


# --- Seeding ----------------------------------------------------------------------------------


@pytest.fixture
def user(make_user: Callable[..., User]) -> User:
    return make_user(Role.MANAGER)


@pytest.fixture
def campaign(session: Session, user: User) -> Campaign:
    client = Client(name="Client", domain="client.example", website="https://client.example/")
    session.add(client)
    session.commit()
    campaign = Campaign(
        name="Scale-out",
        kind=CampaignKind.GUEST_POST,
        client_id=client.id,
        client_url="https://client.example/",
        owner_id=user.id,
        timezone="UTC",
    )
    session.add(campaign)
    session.commit()
    return campaign


def import_prospects(
    session: Session, campaign: Campaign, user: User, workdir: Path, count: int = COUNT
) -> list[int]:
    """Prospects, each with a contact, through the CSV import (bulk inserts)."""
    sheet = workdir / "prospects.csv"
    sheet.write_text(
        "Website,Contact,Email\n"
        + "".join(f"https://site{n}.example/,Editor,editor@site{n}.example\n" for n in range(count))
    )
    with sheet.open("rb") as stream:
        layout = sniff_layout(stream)
        summary = import_rows(
            session, campaign.id, user.id, read_rows(stream, layout, suggest_mapping(layout))
        )
    assert summary.imported == count
    return list(session.exec(select(Prospect.id).order_by(Prospect.id)))


def enrol_all(
    session: Session,
    campaign: Campaign,
    user: User,
    sink: SmtpSink,
    workdir: Path,
    count: int = COUNT,
    daily_cap: int = 10_000,
) -> int:
    """Prospects in a one-step sequence from one mailbox, all due at DUE: both workers compete
    for the same mailbox's outbox. Its spacing (none) lets all go out at once. The mailbox's id."""
    ids = import_prospects(session, campaign, user, workdir, count)
    mailbox = create_mailbox(
        session,
        MailboxInput(
            email="sender@client.example",
            from_name="Sender",
            smtp_host=sink.host,
            smtp_port=sink.port,
            smtp_security=TransportSecurity.NONE,
            daily_cap=daily_cap,
            min_spacing_seconds=0,
            campaign_ids=[campaign.id],
        ),
        "unused: no password is stored",
        user,
    )
    template = create_template(
        session,
        TemplateInput(name="Pitch", subject="Hello {{ prospect.domain }}", body="Hi."),
        user,
    )
    sequence = create_sequence(
        session,
        SequenceInput(
            campaign_id=campaign.id, name="One", steps=[StepInput(template_id=template.id)]
        ),
        user,
    )
    assert len(enrol(session, sequence, ids, user, DUE).enrolled) == count
    return mailbox.id


def place_links(
    session: Session, campaign: Campaign, user: User, site: Site, workdir: Path, count: int = COUNT
) -> None:
    """Placements, each on its own page of the local site, all due at DUE."""
    ids = import_prospects(session, campaign, user, workdir, count)
    session.execute(
        sa.insert(Placement),
        [
            {
                "prospect_id": prospect_id,
                "campaign_id": campaign.id,
                "page_url": site.url(f"/html/{n}"),
                "target": "domain:client.example",
                "expected_anchor": "",
                "expected_rel": "follow",
                "link_type": "guest_post",
                "paid": False,
                "toxic": False,
                "status": "promised",
                "last_verdict": "",
                "consecutive_failures": 0,
                "reminders_sent": [],
                "next_check_at": DUE,
                "created_at": DUE,
            }
            for n, prospect_id in enumerate(ids)
        ],
    )
    session.commit()


# --- What the database and the servers saw ----------------------------------------------------


def outbound(session: Session) -> list[Message]:
    session.expire_all()
    return list(session.exec(select(Message).where(Message.direction == Direction.OUTBOUND)))


def assert_each_enrolment_sent_once(session: Session) -> list[Message]:
    messages = outbound(session)
    assert len(messages) == COUNT
    assert Counter(m.status for m in messages) == {MessageStatus.SENT: COUNT}
    assert len({m.enrolment_id for m in messages}) == COUNT
    assert len({m.message_id for m in messages}) == COUNT
    statuses = Counter(session.exec(select(Enrolment.status)))
    assert statuses == {EnrolmentStatus.COMPLETED: COUNT}
    return messages


def checks_per_placement(session: Session) -> dict[int, list[datetime]]:
    session.expire_all()
    times: dict[int, list[datetime]] = {pid: [] for pid in session.exec(select(Placement.id))}
    for placement_id, checked_at in session.exec(
        select(PlacementCheck.placement_id, PlacementCheck.checked_at)
    ):
        times[placement_id].append(checked_at)
    return times


def count_checks(session: Session) -> int:
    session.expire_all()
    return session.exec(select(func.count()).select_from(PlacementCheck)).one()


def claims_held_by(session: Session, worker: Worker) -> int:
    session.expire_all()
    return session.exec(
        select(func.count())
        .select_from(Message)
        .where(Message.status == MessageStatus.SENDING, Message.claimed_by == worker.name)
    ).one()


# --- The scenarios ----------------------------------------------------------------------------


def test_two_workers_send_2000_due_emails_each_exactly_once(
    session: Session,
    campaign: Campaign,
    user: User,
    workers: Callable[[str, datetime], Worker],
    tmp_path: Path,
) -> None:
    with SmtpSink() as sink:
        enrol_all(session, campaign, user, sink, tmp_path)
        both = [workers(name, DUE) for name in ("a", "b")]
        summaries = [worker.finish() for worker in both]
        received = [mail.message["Message-ID"] for mail in sink.messages]

    messages = assert_each_enrolment_sent_once(session)
    assert Counter(received) == Counter({m.message_id: 1 for m in messages})
    # Each was claimed once: no claim expired and was taken over.
    assert {m.attempts for m in messages} == {1}
    assert sum(total(s, "queued") for s in summaries) == COUNT
    assert sum(total(s, "sent") for s in summaries) == COUNT
    assert sum(total(s, "duplicate") for s in summaries) == 0
    # Both took part: the claims were contended, not served one after the other.
    assert all(total(s, "sent") > 0 for s in summaries), [total(s, "sent") for s in summaries]


def test_two_workers_check_2000_due_placements_each_once(
    session: Session,
    campaign: Campaign,
    user: User,
    workers: Callable[[str, datetime], Worker],
    tmp_path: Path,
) -> None:
    with Site() as site:
        place_links(session, campaign, user, site, tmp_path)
        both = [workers(name, DUE) for name in ("a", "b")]
        summaries = [worker.finish() for worker in both]
        fetched = Counter(request.path for request in site.requests)

    assert checks_per_placement(session) == {
        pid: [DUE] for pid in session.exec(select(Placement.id))
    }
    # Each page was fetched once: no worker fetched a placement another held.
    assert fetched == Counter({f"/html/{n}": 1 for n in range(COUNT)})
    assert sum(total(s, "links_checked") for s in summaries) == COUNT
    assert all(total(s, "links_checked") > 0 for s in summaries)
    session.expire_all()
    # Each is due again later (a promised link, daily), none held by a claim any more.
    assert (
        session.exec(
            select(func.count()).where(col(Placement.next_check_at) < DUE + timedelta(hours=20))
        ).one()
        == 0
    )


def test_a_worker_killed_midway_leaves_no_email_unsent_and_none_recorded_twice(
    session: Session,
    campaign: Campaign,
    user: User,
    workers: Callable[[str, datetime], Worker],
    tmp_path: Path,
) -> None:
    with SmtpSink() as sink:
        enrol_all(session, campaign, user, sink, tmp_path)
        victim, survivor = workers("victim", DUE), workers("survivor", DUE)
        wait_until(
            lambda: len(sink.messages) >= COUNT // 4 and claims_held_by(session, victim) > 0,
            victim,
            "claims held midway",
        )
        victim.kill()
        survivor_sent = total(survivor.finish(), "sent")
        orphaned = claims_held_by(session, victim)
        assert orphaned > 0
        # The survivor left the dead worker's claims alone, and did everything else.
        assert Counter(m.status for m in outbound(session)) == {
            MessageStatus.SENT: COUNT - orphaned,
            MessageStatus.SENDING: orphaned,
        }

        # A worker started once the lease has run out takes the claims over.
        later = DUE + timedelta(seconds=LEASE_SECONDS + 1)
        taken_over = total(workers("later", later).finish(), "sent")
        received = Counter(mail.message["Message-ID"] for mail in sink.messages)

    assert taken_over == orphaned
    assert survivor_sent > 0
    messages = assert_each_enrolment_sent_once(session)
    assert set(received) == {m.message_id for m in messages}
    twice = [message_id for message_id, seen in received.items() if seen > 1]
    assert max(received.values()) <= 2
    assert len(twice) <= 1, twice
    # Only one of the dead worker's claims can have gone out twice, sent again after the lease.
    resent = {m.message_id for m in messages if m.attempts == 2}
    assert all(m.sent_at == later for m in messages if m.attempts == 2)
    assert len(resent) == orphaned
    assert set(twice) <= resent


def test_a_checker_killed_midway_leaves_each_placement_checked_once(
    session: Session,
    campaign: Campaign,
    user: User,
    workers: Callable[[str, datetime], Worker],
    tmp_path: Path,
) -> None:
    with Site() as site:
        place_links(session, campaign, user, site, tmp_path)
        victim, survivor = workers("victim", DUE), workers("survivor", DUE)
        wait_until(lambda: count_checks(session) >= COUNT // 4, victim, "checks midway")
        victim.kill()
        survivor.finish()
        held = DUE + CHECK_LEASE
        session.expire_all()
        orphaned = session.exec(select(func.count()).where(Placement.next_check_at == held)).one()
        # The dead worker held at least the batch it was fetching; nobody checked those.
        assert orphaned > 0
        assert count_checks(session) == COUNT - orphaned

        later = held + timedelta(seconds=1)
        taken_over = total(workers("later", later).finish(), "links_checked")

    assert taken_over == orphaned
    checks = checks_per_placement(session)
    assert all(len(times) == 1 for times in checks.values())
    assert Counter(times[0] for times in checks.values()) == {
        DUE: COUNT - orphaned,
        later: orphaned,
    }


# --- The gaps closed for several workers, one interleaving at a time, in this process ---------


def test_claims_in_flight_count_against_the_mailbox_cap(
    app: Flask, session: Session, campaign: Campaign, user: User, tmp_path: Path
) -> None:
    """Another dispatcher's claimed, not yet sent emails count as sent: two dispatchers at once
    keep to the daily cap between them."""
    with SmtpSink() as sink:
        mailbox_id = enrol_all(session, campaign, user, sink, tmp_path, count=10, daily_cap=6)
        ctx = mail_context(app)
        with Session(app.extensions["outreach"].engine) as other:
            assert queue_due_steps(other, ctx, DUE)["queued"] == 10
            held = claim_messages(other, mailbox_id, 4, "other-worker", DUE, ctx.lease)
        assert len(held) == 4
        sent = send_due_messages(app.extensions["outreach"].engine, ctx, DUE)["sent"]
        assert sent == 2
        assert len(sink.messages) == 2


def test_a_check_whose_claim_was_taken_over_is_recorded_once(
    session: Session, campaign: Campaign, user: User, tmp_path: Path
) -> None:
    """A worker whose claim outlived its lease and was taken over records nothing: the worker
    that took it over does."""
    engine = session.get_bind()
    settings = CheckSettings(intervals=CheckIntervals(), workers=4)
    with Site() as site, PageFetcher(allow_private=True, timeout=5) as fetcher:
        place_links(session, campaign, user, site, tmp_path, count=3)
        with Session(engine) as slow:
            batch = claimed_pages(slow, DUE, 10, CHECK_LEASE)
        pages = fetch_many(fetcher, [url for _, url in batch], 2)
        later = DUE + CHECK_LEASE + timedelta(seconds=1)
        assert run_due_checks(engine, fetcher, later, settings)["checked"] == 3
        late = store_checks(engine, batch, pages, DUE, DUE + CHECK_LEASE, settings)

    assert late["checked"] == 0
    assert list(checks_per_placement(session).values()) == [[later]] * 3
