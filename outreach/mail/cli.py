"""`flask outreach run-due` and `flask mailboxes new-key`."""

from __future__ import annotations

import json
from datetime import UTC, datetime

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
def run_due_command(now: datetime | None) -> None:
    """Run one pass of everything due (inbox polls, queued steps, sends, link checks); print a
    JSON summary."""
    clock_now = now or app_now()
    summary = run_due(get_engine(), mail_context(current_app), clock_now, link_checks(current_app))
    click.echo(json.dumps(summary))


@mailboxes_cli.command("new-key")
def new_key() -> None:
    """Print a new key for mail_encryption_key (stored passwords must then be entered again)."""
    click.echo(Fernet.generate_key().decode())
