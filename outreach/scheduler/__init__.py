"""`flask scheduler`: the process that runs timed jobs, apart from the web workers."""

from __future__ import annotations

import logging
import os
import signal
import socket
from types import FrameType

import click
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import current_app

log = logging.getLogger("outreach.scheduler")


def heartbeat() -> None:
    log.info("scheduler heartbeat host=%s pid=%d", socket.gethostname(), os.getpid())


def build_scheduler(heartbeat_seconds: int) -> BlockingScheduler:
    """Jobs live in memory: each scheduler process owns its own, none is shared."""
    scheduler = BlockingScheduler(timezone="UTC", job_defaults={"coalesce": True})
    scheduler.add_job(heartbeat, "interval", seconds=heartbeat_seconds, id="heartbeat")
    return scheduler


@click.command("scheduler")
def scheduler() -> None:
    """Run the scheduler until interrupted (Ctrl-C or SIGTERM)."""
    settings = current_app.extensions["outreach"].settings
    jobs = build_scheduler(settings.scheduler_heartbeat_seconds)

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("scheduler stopping on signal %d", signum)
        jobs.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    log.info("scheduler started")
    heartbeat()
    try:
        jobs.start()
    except KeyboardInterrupt:
        log.info("scheduler stopped")
