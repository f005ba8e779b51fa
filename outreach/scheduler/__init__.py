"""`flask scheduler`: the process that runs timed jobs, apart from the web workers."""

from __future__ import annotations

import logging
import os
import signal
import socket
import time
from datetime import UTC, datetime
from types import FrameType

import click
from apscheduler.schedulers.background import BackgroundScheduler
from flask import current_app
from sqlalchemy.engine import Engine
from sqlmodel import Session

from outreach.clock import Clock
from outreach.db import get_engine, utcnow
from outreach.mail.dispatch import MailContext
from outreach.mail.runner import LinkChecks, link_checks, mail_context, run_due
from outreach.ops.services import record_run
from outreach.ops.serving import freeze_loaded_app
from outreach.prospects.imports import discard_abandoned_imports

log = logging.getLogger("outreach.scheduler")


def heartbeat() -> None:
    log.info("scheduler heartbeat host=%s pid=%d", socket.gethostname(), os.getpid())


def discard_abandoned_uploads(engine: Engine, worker: str) -> None:
    def discard() -> dict[str, int]:
        with Session(engine) as session:
            return {"uploads_discarded": discard_abandoned_imports(session, utcnow())}

    record_run(engine, "abandoned-uploads", worker, utcnow(), discard)


def run_due_work(engine: Engine, ctx: MailContext, links: LinkChecks, clock: Clock) -> None:
    """One pass, recorded in job_runs (the admin page) and logged as one line."""
    now = clock.now()
    record_run(
        engine, "due-work", ctx.worker, now, lambda: run_due(engine, ctx, now, links, clock.now)
    )


def build_scheduler(
    heartbeat_seconds: int,
    engine: Engine,
    *,
    mail: MailContext,
    links: LinkChecks,
    clock: Clock,
    dispatch_seconds: int,
) -> BackgroundScheduler:
    """Jobs live in memory: each scheduler process owns its own, none is shared. Several
    scheduler processes may run at once: the mail pass claims its work row by row."""
    scheduler = BackgroundScheduler(timezone="UTC", job_defaults={"coalesce": True})
    scheduler.add_job(
        run_due_work,
        "interval",
        seconds=dispatch_seconds,
        args=(engine, mail, links, clock),
        id="due-work",
        max_instances=1,
        next_run_time=datetime.now(UTC),
    )
    scheduler.add_job(
        discard_abandoned_uploads,
        "interval",
        hours=1,
        args=(engine, mail.worker),
        id="abandoned-uploads",
    )
    scheduler.add_job(
        heartbeat,
        "interval",
        seconds=heartbeat_seconds,
        id="heartbeat",
        next_run_time=datetime.now(UTC),
    )
    return scheduler


@click.command("scheduler")
def scheduler() -> None:
    """Run the scheduler until interrupted (Ctrl-C or SIGTERM)."""
    settings = current_app.extensions["outreach"].settings
    state = current_app.extensions["outreach"]
    jobs = build_scheduler(
        settings.scheduler_heartbeat_seconds,
        get_engine(),
        mail=mail_context(current_app),
        links=link_checks(current_app),
        clock=state.clock,
        dispatch_seconds=settings.dispatch_interval_seconds,
    )
    stop_requested: list[int] = []

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        # Only note the signal: raising here could land inside APScheduler and be swallowed.
        stop_requested.append(signum)

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    freeze_loaded_app()
    jobs.start()
    log.info("scheduler started")
    while not stop_requested:
        time.sleep(0.2)
    log.info("scheduler stopping on signal %d", stop_requested[0])
    jobs.shutdown(wait=True)
    log.info("scheduler stopped")
