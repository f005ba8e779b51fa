"""Benchmark: outreach emails rendered and sent per second, beside a bare smtplib loop.

    .venv/bin/python bench/mail.py                      # SQLite, 2,000 emails
    .venv/bin/python bench/mail.py --emails 5000 --postgres postgresql+psycopg://postgres@127.0.0.1/postgres

Both sides send to the same local SMTP sink (tests/mailservers.py, in its own process) over
one connection. The bare loop only sends prebuilt messages of the same size; the dispatcher
also claims each email, re-checks the stop rules and sending window, records it as sent,
moves the prospect to contacted and schedules the next step, committing after each email
so that a crash loses nothing.
"""

from __future__ import annotations

import argparse
import smtplib
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from prospects import drop_database, fresh_database, generate_csv, setup  # noqa: E402

# A Monday, 10:00 UTC: inside the default 09:00-17:00 window of a UTC campaign.
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def start_sink() -> tuple[subprocess.Popen[str], int]:
    sink = subprocess.Popen(
        [sys.executable, "-m", "tests.mailservers", "smtp", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    ready = sink.stdout.readline().split()
    return sink, int(ready[1].rpartition(":")[2])


def prepare(
    app: object, campaign_id: int, owner_id: int, emails: int, port: int, workdir: Path
) -> int:
    """Import prospects with contacts, connect a mailbox, enrol them in a one-step sequence."""
    from sqlmodel import Session, select

    from outreach.prospects.importing import read_rows, sniff_layout, suggest_mapping
    from outreach.prospects.imports import import_rows
    from outreach.prospects.models import Prospect

    csv_path = workdir / "prospects.csv"
    generate_csv(csv_path, int(emails * 1.5), seed=3, prefix="m")
    engine = app.extensions["outreach"].engine
    with Session(engine) as session, csv_path.open("rb") as stream:
        layout = sniff_layout(stream)
        import_rows(
            session, campaign_id, owner_id, read_rows(stream, layout, suggest_mapping(layout))
        )
    connect_mailbox(app, campaign_id, owner_id, port)
    with Session(engine) as session:
        ids = list(
            session.exec(
                select(Prospect.id)
                .where(Prospect.primary_contact_id.is_not(None))
                .order_by(Prospect.id)
                .limit(emails)
            )
        )
    return enrol_in_pitch(app, campaign_id, owner_id, ids, NOW - timedelta(minutes=1))


def connect_mailbox(app: object, campaign_id: int, owner_id: int, port: int) -> int:
    """A mailbox sending through the sink, no spacing, a cap above any run; its id."""
    from sqlmodel import Session

    from outreach.auth.models import User
    from outreach.mail.mailboxes import create_mailbox
    from outreach.mail.models import TransportSecurity
    from outreach.mail.schemas import MailboxInput

    with Session(app.extensions["outreach"].engine) as session:
        return create_mailbox(
            session,
            MailboxInput(
                email="bench@client.example",
                from_name="Bench",
                signature="Bench, Client",
                smtp_host="127.0.0.1",
                smtp_port=port,
                smtp_security=TransportSecurity.NONE,
                daily_cap=10_000,
                min_spacing_seconds=0,
                campaign_ids=[campaign_id],
            ),
            app.extensions["outreach"].mail_key,
            session.get(User, owner_id),
        ).id


def enrol_in_pitch(
    app: object, campaign_id: int, owner_id: int, prospect_ids: list[int], at: datetime
) -> int:
    """A one-step sequence with a merge-field template, the prospects enrolled in it `at`
    (through the service: its checks and its choice of contact); how many were enrolled."""
    from sqlmodel import Session

    from outreach.auth.models import User
    from outreach.mail.schemas import SequenceInput, StepInput, TemplateInput
    from outreach.mail.sequences import create_sequence, enrol
    from outreach.mail.services import create_template

    with Session(app.extensions["outreach"].engine) as session:
        user = session.get(User, owner_id)
        template = create_template(
            session,
            TemplateInput(
                name="Pitch",
                subject="A resource for {{ prospect.domain }}",
                body=(
                    "Hi {{ contact.first_name | default('there') }},\n\n"
                    "I enjoyed reading {{ prospect.domain }} and thought our guide at "
                    "{{ campaign.client_url }} could be useful for your readers.\n\n"
                    "Best,\n{{ sender.name }}\n"
                ),
            ),
            user,
        )
        sequence = create_sequence(
            session,
            SequenceInput(
                campaign_id=campaign_id, name="Pitch", steps=[StepInput(template_id=template.id)]
            ),
            user,
        )
        return len(enrol(session, sequence, prospect_ids, user, at).enrolled)


@dataclass(frozen=True)
class Dispatch:
    queued: int
    render_seconds: float
    sent: int
    send_seconds: float
    send_statements: int


def time_dispatcher(app: object, now: datetime = NOW) -> Dispatch:
    """Queue the due steps, then send until nothing is left; the sending's SQL statements are
    counted (a listener's cost is within the noise of the timing)."""
    import sqlalchemy as sa
    from sqlmodel import Session

    from outreach.mail.dispatch import queue_due_steps, send_due_messages
    from outreach.mail.runner import mail_context

    engine = app.extensions["outreach"].engine
    ctx = mail_context(app)
    start = time.perf_counter()
    with Session(engine) as session:
        queued = queue_due_steps(session, ctx, now, limit=1_000_000)["queued"]
    render_seconds = time.perf_counter() - start
    statements = [0]

    def count(*_: object) -> None:
        statements[0] += 1

    sa.event.listen(engine, "before_cursor_execute", count)
    sent = 0
    start = time.perf_counter()
    try:
        while True:
            sent_now = send_due_messages(engine, ctx, now)["sent"]
            if not sent_now:
                break
            sent += sent_now
        send_seconds = time.perf_counter() - start
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    return Dispatch(queued, render_seconds, sent, send_seconds, statements[0])


def time_bare_smtplib(port: int, emails: int) -> float:
    """The floor: prebuilt messages of the same shape over one connection, nothing else."""
    body = (
        "Hi Anna,\n\nI enjoyed reading example.org and thought our guide "
        "at https://client.example/ could be useful for your readers.\n\nBest,\nBench\n\n-- \n"
        "Bench, Client\n\nNot interested? Opt out of further emails: http://127.0.0.1:5000/"
        "unsubscribe/" + "x" * 60 + "\n"
    )
    messages = []
    for n in range(emails):
        message = EmailMessage()
        message["From"] = "Bench <bench@client.example>"
        message["To"] = f"anna@site{n}.example"
        message["Subject"] = f"A resource for site{n}.example"
        message["Message-ID"] = f"<bare.{n}@client.example>"
        message.set_content(body)
        messages.append(message)
    start = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for message in messages:
            smtp.send_message(message)
    return time.perf_counter() - start


@dataclass(frozen=True)
class Sending:
    emails: int
    bare_seconds: float
    render_seconds: float
    send_seconds: float
    send_statements: int


def measure(base_url: str | None, emails: int, port: int) -> Sending:
    """The dispatcher and the bare loop, each sending `emails` to the sink on `port`."""
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        url = fresh_database(base_url, workdir)
        try:
            app, campaign_id, owner_id, _, _ = setup(url, workdir)
            enrolled = prepare(app, campaign_id, owner_id, emails, port, workdir)
            bare_seconds = time_bare_smtplib(port, enrolled)
            dispatch = time_dispatcher(app)
            assert dispatch.queued == dispatch.sent == enrolled, (dispatch, enrolled)
            app.extensions["outreach"].engine.dispose()
        finally:
            drop_database(url)
    return Sending(
        enrolled,
        bare_seconds,
        dispatch.render_seconds,
        dispatch.send_seconds,
        dispatch.send_statements,
    )


def run(engine_name: str, base_url: str | None, emails: int) -> None:
    sink, port = start_sink()
    try:
        result = measure(base_url, emails, port)
    finally:
        sink.terminate()
        sink.wait()
    bare_rate = result.emails / result.bare_seconds
    send_rate = result.emails / result.send_seconds
    both_rate = result.emails / (result.render_seconds + result.send_seconds)
    print(f"\n== {engine_name}: {result.emails:,} emails to a local SMTP sink")
    print(f"{'':<34} {'emails/s':>9} {'vs bare':>8}")
    print(f"{'bare smtplib loop (baseline)':<34} {bare_rate:>9,.0f} {'1.00':>8}")
    print(f"{'render (queue due steps)':<34} {result.emails / result.render_seconds:>9,.0f}")
    print(f"{'send (claim, send, record)':<34} {send_rate:>9,.0f} {send_rate / bare_rate:>8.2f}")
    print(f"{'render + send':<34} {both_rate:>9,.0f} {both_rate / bare_rate:>8.2f}")
    print(f"SQL statements per email sent: {result.send_statements / result.emails:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, default=2000)
    parser.add_argument("--postgres", help="a PostgreSQL URL whose server may create databases")
    parser.add_argument("--skip-sqlite", action="store_true")
    args = parser.parse_args()
    if not args.skip_sqlite:
        run("SQLite", None, args.emails)
    if args.postgres:
        run("PostgreSQL", args.postgres, args.emails)


if __name__ == "__main__":
    main()
