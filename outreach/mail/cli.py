"""`flask outreach run-due` and `flask mailboxes new-key`."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import click
from cryptography.fernet import Fernet
from flask import current_app
from flask.cli import AppGroup

from outreach.clock import app_now
from outreach.db import get_engine
from outreach.mail.runner import link_checks, mail_context, run_due

outreach_cli = AppGroup("outreach", help="Run the outreach engine by hand.")
mailboxes_cli = AppGroup("mailboxes", help="Mailbox settings.")


def _instant(_ctx: click.Context, _param: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO-8601 time such as 2026-11-24T09:30:00+01:00"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@outreach_cli.command("run-due")
@click.option(
    "--now",
    callback=_instant,
    help="Act as if it were this time (ISO-8601; UTC when no offset is given).",
)
@click.option(
    "--until-idle",
    is_flag=True,
    help="Run passes, as of the same time, until one finds nothing to do (a backlog at once).",
)
def run_due_command(now: datetime | None, until_idle: bool) -> None:
    """Run one pass of everything due (inbox polls, queued steps, sends, link checks); print a
    JSON summary, one line per pass."""
    clock_now = now or app_now()
    # Told a time, the pass acts as of that time throughout; else as of each moment it acts.
    clock = None if now else app_now
    ctx, links = mail_context(current_app), link_checks(current_app)
    while True:
        summary = run_due(get_engine(), ctx, clock_now, links, clock)
        click.echo(json.dumps(summary))
        if not (until_idle and did_work(summary)):
            return


def did_work(summary: dict[str, Any]) -> bool:
    """Whether a pass found anything to do: at a fixed time, passes run dry in the end, since
    each piece of work moves on (sent, rescheduled or stopped) once it is done."""
    quiet = ("now", "mailboxes_polled", "poll_errors")
    return any(value for name, value in summary.items() if name not in quiet)


@mailboxes_cli.command("new-key")
def new_key() -> None:
    """Print a new key for mail_encryption_key (stored passwords must then be entered again)."""
    click.echo(Fernet.generate_key().decode())
