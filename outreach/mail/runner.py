"""One pass of everything that is due: read new mail, queue due steps, send the outbox, check
the placements whose check is due.

The scheduler runs it every minute; `flask outreach run-due` runs it once, at any time."""

from __future__ import annotations

import os
import socket
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy.engine import Engine
from sqlmodel import Session

from outreach.links.checking import check_settings, link_fetcher
from outreach.links.fetch import PageFetcher
from outreach.links.services import CheckSettings, remind_expiring, run_due_checks
from outreach.mail.dispatch import MailContext, queue_due_steps, send_due_messages
from outreach.mail.inbox import poll_mailboxes

SEND_OUTCOMES = ("sent", "failed", "retried", "deferred", "cancelled", "duplicate")


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def mail_context(app: Flask) -> MailContext:
    state = app.extensions["outreach"]
    settings = state.settings
    return MailContext(
        mail_key=state.mail_key,
        secret_key=app.config["SECRET_KEY"],
        public_url=settings.public_url,
        lease=timedelta(seconds=settings.mail_claim_lease_seconds),
        smtp_timeout=settings.smtp_timeout_seconds,
        worker=worker_name(),
    )


@dataclass(frozen=True)
class LinkChecks:
    fetcher: PageFetcher
    settings: CheckSettings


def link_checks(app: Flask) -> LinkChecks:
    return LinkChecks(link_fetcher(app), check_settings(app))


def run_due(
    engine: Engine,
    ctx: MailContext,
    now: datetime,
    links: LinkChecks | None = None,
    clock: Callable[[], datetime] | None = None,
) -> dict[str, Any]:
    """Replies first, so that a sequence answered since the last pass sends nothing more;
    link checks before sending, so that their alerts go out in the same pass. Without
    `links`, placements are not checked (tests of the mail engine alone). With `clock`, link
    checks and emails are claimed as of the time they are claimed, not the pass's start."""
    inbox = poll_mailboxes(engine, ctx, now)
    checks: Counter[str] = Counter()
    if links:
        checks = run_due_checks(engine, links.fetcher, now, links.settings, clock)
        with Session(engine) as session:
            checks["expiry_reminders"] = remind_expiring(session, now)
    with Session(engine) as session:
        steps = queue_due_steps(session, ctx, now)
    sending = send_due_messages(engine, ctx, now, clock)
    received = Counter(
        {k: v for k, v in inbox.items() if k not in ("mailboxes_polled", "poll_errors")}
    )
    return {
        "now": now.isoformat(),
        "mailboxes_polled": inbox["mailboxes_polled"],
        "poll_errors": inbox["poll_errors"],
        "received": dict(sorted(received.items())),
        "queued": steps["queued"],
        "stopped": steps["stopped"],
        "completed": steps["completed"],
        **{outcome: sending[outcome] for outcome in SEND_OUTCOMES},
        "links_checked": checks["checked"],
        "links_live": checks["live"],
        "links_unknown": checks["unknown"],
        "links_lost": checks["lost"],
        "links_expiry_reminders": checks["expiry_reminders"],
    }
