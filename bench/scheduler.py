"""Benchmark: one scheduler pass with a million sequence steps waiting, beside the same pass on
an empty database.

    .venv/bin/python bench/scheduler.py                 # SQLite, 1,000,000 steps
    .venv/bin/python bench/scheduler.py --steps 200000 --postgres postgresql+psycopg://postgres@127.0.0.1/postgres

The pass is what `flask scheduler` runs every minute (run_due_work): read new mail, check the
due placements, send expiry reminders, render the due steps, send the outbox, and record the
run. The waiting steps are active enrolments whose next step is due in the coming weeks, bulk
inserted over several sequences (the service allows one running sequence per prospect; the
pass never looks at that, only at what is due). Nothing is due, so the pass's cost is finding
that out among them; the baseline is the same pass before any data was added.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from mail import connect_mailbox  # noqa: E402
from prospects import drop_database, fresh_database, generate_csv, import_in_child, setup  # noqa: E402
from report import bulk, settle  # noqa: E402

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def fix_clock(app: Any, now: datetime) -> None:
    """The app's clock stopped at `now`, so that the data's "today" is the pages' today."""
    from outreach.clock import FixedClock

    app.extensions["outreach"] = replace(app.extensions["outreach"], clock=FixedClock(now))


def add_waiting_steps(engine: Any, campaign_id: int, mailbox_id: int, steps: int) -> int:
    """`steps` active enrolments due 1 to 60 days after NOW, over as many one-step sequences as
    it takes for the campaign's prospects with a contact; how many."""
    from sqlmodel import Session, col, select

    from outreach.mail.models import Enrolment, Sequence, SequenceStep, Template
    from outreach.prospects.models import Prospect

    with Session(engine) as session:
        people = session.exec(
            select(Prospect.id, Prospect.primary_contact_id)
            .where(
                Prospect.campaign_id == campaign_id,
                col(Prospect.primary_contact_id).is_not(None),
            )
            .order_by(Prospect.id)
        ).all()
        template = Template(name="Follow-up", subject="Hello again", body="Hi")
        session.add(template)
        session.flush()
        sequences = [
            Sequence(campaign_id=campaign_id, name=f"Waiting {n}")
            for n in range(-(-steps // len(people)))
        ]
        session.add_all(sequences)
        session.flush()
        session.add_all(
            SequenceStep(sequence_id=sequence.id, position=1, template_id=template.id)
            for sequence in sequences
        )
        session.commit()
        sequence_ids = [sequence.id for sequence in sequences]

    def rows() -> Any:
        for n in range(steps):
            prospect_id, contact_id = people[n % len(people)]
            yield {
                "sequence_id": sequence_ids[n // len(people)],
                "prospect_id": prospect_id,
                "contact_id": contact_id,
                "mailbox_id": mailbox_id,
                "status": "active",
                "stop_reason": "",
                "last_error": "",
                "next_position": 1,
                "next_due_at": NOW + timedelta(days=1 + n % 60, minutes=n % 480),
                "enrolled_at": NOW - timedelta(days=n % 30),
            }

    count = bulk(engine, Enrolment.__table__, rows(), rebuild_indexes=True)
    settle(engine)
    return count


def time_pass(app: Any, now: datetime, repeat: int) -> dict[str, float]:
    """The scheduler's pass (run_due_work) `repeat` times after one warm-up: p50 and p95 in
    ms, and what the last pass did."""
    from outreach.mail.runner import link_checks, mail_context
    from outreach.scheduler import run_due_work

    engine = app.extensions["outreach"].engine
    ctx = mail_context(app)
    links = link_checks(app)
    clock = app.extensions["outreach"].clock
    run_due_work(engine, ctx, links, clock)
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        run_due_work(engine, ctx, links, clock)
        samples.append((time.perf_counter() - started) * 1000)
    assert clock.now() == now, "the app's clock must be fixed at the data's now"
    samples.sort()
    return {
        "p50_ms": statistics.median(samples),
        "p95_ms": samples[min(len(samples) - 1, int(len(samples) * 0.95))],
    }


def run(engine_name: str, base_url: str | None, steps: int, repeat: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        url = fresh_database(base_url, workdir)
        try:
            app, campaign_id, owner_id, _, _ = setup(url, workdir)
            fix_clock(app, NOW)
            # Nothing is due, so nothing is sent: the mailbox's server is never connected to.
            mailbox_id = connect_mailbox(app, campaign_id, owner_id, 2525)
            empty = time_pass(app, NOW, repeat)
            csv_path = workdir / "prospects.csv"
            generate_csv(csv_path, min(steps, 100_000), seed=9, prefix="q")
            import_in_child(url, csv_path, campaign_id, owner_id)
            engine = app.extensions["outreach"].engine
            added = add_waiting_steps(engine, campaign_id, mailbox_id, steps)
            loaded = time_pass(app, NOW, repeat)
            print(f"\n== {engine_name}: one scheduler pass, nothing due")
            print(f"{'':<34} {'p50 ms':>8} {'p95 ms':>8}")
            print(
                f"{'empty database (baseline)':<34} {empty['p50_ms']:>8.1f} {empty['p95_ms']:>8.1f}"
            )
            label = f"{added:,} steps waiting"
            print(f"{label:<34} {loaded['p50_ms']:>8.1f} {loaded['p95_ms']:>8.1f}")
            engine.dispose()
        finally:
            drop_database(url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=20, help="passes timed")
    parser.add_argument("--postgres", help="a PostgreSQL URL whose server may create databases")
    parser.add_argument("--skip-sqlite", action="store_true")
    args = parser.parse_args()
    if not args.skip_sqlite:
        run("SQLite", None, args.steps, args.repeat)
    if args.postgres:
        run("PostgreSQL", args.postgres, args.steps, args.repeat)


if __name__ == "__main__":
    main()
