"""One pass of everything that is due: read new mail, queue due steps, send the outbox.

The scheduler runs it every minute; `flask outreach run-due` runs it once, at any time."""

from __future__ import annotations

import os
import socket
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy.engine import Engine
from sqlmodel import Session

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


def run_due(engine: Engine, ctx: MailContext, now: datetime) -> dict[str, Any]:
    """Replies first, so that a sequence answered since the last pass sends nothing more."""
    inbox = poll_mailboxes(engine, ctx, now)
    with Session(engine) as session:
        steps = queue_due_steps(session, ctx, now)
    sending = send_due_messages(engine, ctx, now)
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
    }
