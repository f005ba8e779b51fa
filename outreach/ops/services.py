"""Recording scheduler passes, and the figures of the admin page."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from outreach.links.models import Placement
from outreach.mail.models import Direction, Message, MessageStatus
from outreach.ops.logs import fields
from outreach.ops.models import JobRun

log = logging.getLogger("outreach.jobs")

# Runs older than this are deleted by the job itself: the table stays small on its own.
RUN_RETENTION = timedelta(days=14)
_MAX_ERROR = 2000


def flatten_counts(summary: Mapping[str, Any], prefix: str = "") -> dict[str, int]:
    """The numbers of a pass's summary: nested tallies (received by kind) become
    received_<kind>; anything else (the pass's time) is left out."""
    counts: dict[str, int] = {}
    for key, value in summary.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            counts.update(flatten_counts(value, f"{name}_"))
        elif isinstance(value, int) and not isinstance(value, bool):
            counts[name] = value
    return counts


def record_run(
    engine: Engine,
    job: str,
    worker: str,
    now: datetime,
    work: Callable[[], Mapping[str, Any]],
    retention: timedelta = RUN_RETENTION,
) -> Mapping[str, Any]:
    """Run `work` as one pass of `job`, recorded in job_runs and logged as one line. A pass
    that raises is recorded with its error and the exception goes on to the caller. `now` is
    the app clock's time of the pass; its duration is measured."""
    with Session(engine, expire_on_commit=False) as session:
        run = JobRun(job=job, worker=worker, started_at=now)
        session.add(run)
        session.commit()
        started = time.perf_counter()
        summary: Mapping[str, Any] = {}
        error = ""
        try:
            summary = work()
        except BaseException as exc:
            error = f"{type(exc).__name__}: {exc}"[:_MAX_ERROR]
            raise
        finally:
            elapsed = time.perf_counter() - started
            run.finished_at = now + timedelta(seconds=elapsed)
            run.duration_ms = round(elapsed * 1000)
            run.counts = flatten_counts(summary)
            run.error = error
            session.add(run)
            session.execute(sa.delete(JobRun).where(col(JobRun.started_at) < now - retention))
            session.commit()
            log.log(
                logging.ERROR if error else logging.INFO,
                "job %s run %d %s in %d ms",
                job,
                run.id,
                "failed" if error else "done",
                run.duration_ms,
                extra=fields(
                    job=job,
                    run_id=run.id,
                    worker=worker,
                    duration_ms=run.duration_ms,
                    counts={name: value for name, value in run.counts.items() if value},
                    error=error or None,
                ),
            )
    return summary


def recent_runs(session: Session, limit: int = 50) -> list[JobRun]:
    return list(
        session.exec(
            select(JobRun)
            .order_by(col(JobRun.started_at).desc(), col(JobRun.id).desc())
            .limit(limit)
        )
    )


@dataclass(frozen=True)
class RunTotals:
    runs: int
    failed_runs: int
    counts: dict[str, int]


def total_runs(runs: Iterable[tuple[Mapping[str, int], str]]) -> RunTotals:
    """Counts summed over (counts, error) pairs of runs; names in alphabetical order."""
    summed: Counter[str] = Counter()
    number = failed = 0
    for counts, error in runs:
        number += 1
        failed += bool(error)
        summed.update(counts)
    return RunTotals(number, failed, dict(sorted(summed.items())))


def totals_since(session: Session, since: datetime) -> RunTotals:
    rows = session.exec(
        select(JobRun.counts, JobRun.error).where(col(JobRun.started_at) >= since)
    ).all()
    return total_runs((counts or {}, error) for counts, error in rows)


@dataclass(frozen=True)
class QueueFigures:
    emails_due: int
    emails_later: int
    emails_sending: int
    claims_past_lease: int
    placements_due: int


def queue_figures(session: Session, now: datetime, lease: timedelta) -> QueueFigures:
    """What waits right now. A claim past its lease is an email a dispatcher took and did not
    finish (it died): the next pass takes it over."""
    queued = Message.status == MessageStatus.QUEUED
    sending = Message.status == MessageStatus.SENDING
    expired = col(Message.claimed_at) < now - lease
    due, later, in_flight, stale = session.exec(
        select(
            func.count().filter(queued, col(Message.scheduled_at) <= now),
            func.count().filter(queued, col(Message.scheduled_at) > now),
            func.count().filter(sending, sa.not_(expired)),
            func.count().filter(sending, expired),
        ).where(
            Message.direction == Direction.OUTBOUND,
            col(Message.status).in_([MessageStatus.QUEUED, MessageStatus.SENDING]),
        )
    ).one()
    placements = session.exec(
        select(func.count()).where(
            col(Placement.next_check_at).is_not(None), col(Placement.next_check_at) <= now
        )
    ).one()
    return QueueFigures(due, later, in_flight, stale, placements)
