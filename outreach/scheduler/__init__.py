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

from outreach.db import get_engine, utcnow
from outreach.prospects.imports import discard_abandoned_imports

log = logging.getLogger("outreach.scheduler")


def heartbeat() -> None:
    log.info("scheduler heartbeat host=%s pid=%d", socket.gethostname(), os.getpid())


def discard_abandoned_uploads(engine: Engine) -> None:
    with Session(engine) as session:
        count = discard_abandoned_imports(session, utcnow())
    if count:
        log.info("discarded %d abandoned import uploads", count)


def build_scheduler(heartbeat_seconds: int, engine: Engine) -> BackgroundScheduler:
    """Jobs live in memory: each scheduler process owns its own, none is shared."""
    scheduler = BackgroundScheduler(timezone="UTC", job_defaults={"coalesce": True})
    scheduler.add_job(
        discard_abandoned_uploads, "interval", hours=1, args=(engine,), id="abandoned-uploads"
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
    jobs = build_scheduler(settings.scheduler_heartbeat_seconds, get_engine())
    stop_requested: list[int] = []

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        # Only note the signal: raising here could land inside APScheduler and be swallowed.
        stop_requested.append(signum)

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    jobs.start()
    log.info("scheduler started")
    while not stop_requested:
        time.sleep(0.2)
    log.info("scheduler stopping on signal %d", stop_requested[0])
    jobs.shutdown(wait=True)
    log.info("scheduler stopped")
