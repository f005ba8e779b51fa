"""Never send twice, never lose one: the dispatcher killed mid-batch, and two at once.

The dispatchers are real `flask outreach run-due` processes on the test database; the SMTP
server lives in the test process and logs each accepted message before answering 250."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, select

from outreach.auth.models import Role, User
from outreach.campaigns.models import Campaign, CampaignKind, Client
from outreach.config import PROJECT_ROOT
from outreach.mail.mailboxes import create_mailbox
from outreach.mail.models import Message, MessageStatus, TransportSecurity
from outreach.mail.schemas import MailboxInput, SequenceInput, StepInput, TemplateInput
from outreach.mail.sequences import create_sequence, enrol
from outreach.mail.services import create_template
from outreach.prospects.schemas import ContactInput, ProspectInput
from outreach.prospects.services import add_prospect
from tests.mailservers import SmtpSink

# A Monday at 14:00 UTC: inside a 09:00-17:00 UTC window.
DUE = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
LEASE_SECONDS = 10


def prepare(session: Session, user: User, sink: SmtpSink, count: int) -> None:
    """`count` prospects enrolled in a one-step sequence, due at DUE."""
    client = Client(name="Client", domain="client.example", website="https://client.example/")
    session.add(client)
    session.commit()
    campaign = Campaign(
        name="Crash",
        kind=CampaignKind.GUEST_POST,
        client_id=client.id,
        client_url="https://client.example/",
        timezone="UTC",
    )
    session.add(campaign)
    session.commit()
    create_mailbox(
        session,
        MailboxInput(
            email="sender@client.example",
            from_name="Sender",
            smtp_host=sink.host,
            smtp_port=sink.port,
            smtp_security=TransportSecurity.NONE,
            daily_cap=10_000,
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
    ids = [
        add_prospect(
            session,
            campaign,
            ProspectInput(
                domain=f"site{n}.example", contact=ContactInput(email=f"editor@site{n}.example")
            ),
            user,
        ).id
        for n in range(count)
    ]
    assert len(enrol(session, sequence, ids, user, DUE).enrolled) == count


def dispatcher(database_url: str, instance: Path, now: datetime) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "INSTANCE_PATH": str(instance),
        "SECRET_KEY": "crash-test-secret-key-that-is-long-enough",
        "MAIL_CLAIM_LEASE_SECONDS": str(LEASE_SECONDS),
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "flask",
            "--app",
            "app",
            "outreach",
            "run-due",
            "--now",
            now.isoformat(),
        ],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def logged_ids(log: Path) -> list[str]:
    if not log.exists():
        return []
    return [json.loads(line)["message_id"] for line in log.read_text().splitlines() if line]


def wait_for_lines(log: Path, count: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while len(logged_ids(log)) < count:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the dispatcher sent too little in 60 s"
        time.sleep(0.005)


def finish(process: subprocess.Popen[bytes]) -> dict[str, int]:
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err.decode()
    return json.loads(out)


@pytest.fixture
def user(make_user: Callable[..., User]) -> User:
    return make_user(Role.MANAGER)


def test_killed_mid_batch_every_message_goes_out_once_or_again_with_its_id(
    session: Session, user: User, database_url: str, tmp_path: Path
) -> None:
    count = 80
    log = tmp_path / "smtp.log"
    with SmtpSink(log_path=log, delay=0.01) as sink:
        prepare(session, user, sink, count)
        first = dispatcher(database_url, tmp_path / "one", DUE)
        wait_for_lines(log, 20, first)
        first.send_signal(signal.SIGKILL)
        first.wait()
        session.expire_all()
        statuses = Counter(m.status for m in session.exec(select(Message)))
        assert statuses[MessageStatus.SENDING] > 0, statuses
        assert statuses[MessageStatus.SENT] < count

        # Another dispatcher, once the dead one's claims have expired, finishes the batch.
        summary = finish(
            dispatcher(database_url, tmp_path / "two", DUE + timedelta(seconds=LEASE_SECONDS + 1))
        )

    session.expire_all()
    messages = list(session.exec(select(Message)))
    assert len(messages) == count
    assert {m.status for m in messages} == {MessageStatus.SENT}
    ids = logged_ids(log)
    assert set(ids) == {m.message_id for m in messages}
    duplicates = [mid for mid, seen in Counter(ids).items() if seen > 1]
    # Only the message in flight at the kill (accepted by SMTP, not yet committed) can go out
    # twice, and then with the same Message-ID, so the recipient's mail client shows it once.
    assert len(duplicates) <= 1
    assert len(ids) == count + len(duplicates)
    assert summary["sent"] + statuses[MessageStatus.SENT] == count


def test_two_dispatchers_at_once_send_each_message_once(
    session: Session, user: User, database_url: str, tmp_path: Path
) -> None:
    count = 100
    log = tmp_path / "smtp.log"
    with SmtpSink(log_path=log, delay=0.002) as sink:
        prepare(session, user, sink, count)
        both = [dispatcher(database_url, tmp_path / name, DUE) for name in ("a", "b")]
        summaries = [finish(process) for process in both]

    ids = logged_ids(log)
    assert len(ids) == count
    assert len(set(ids)) == count
    assert sum(s["sent"] for s in summaries) == count
    assert sum(s["queued"] for s in summaries) == count
    session.expire_all()
    assert {m.status for m in session.exec(select(Message))} == {MessageStatus.SENT}
