"""`flask reports recount-mail`: rebuild the mail counts reports read, from the messages."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from outreach.db import db_session
from outreach.mail.tallies import recount_tallies

reports_cli = AppGroup("reports", help="Report figures.")


@reports_cli.command("recount-mail")
@click.option("--campaign", "campaign_id", type=int, help="One campaign; all without it.")
def recount_mail(campaign_id: int | None) -> None:
    """Recount emails sent and replies per campaign, day and template, after mail was written
    around the app (a restore, an import of old history)."""
    session = db_session()
    rows = recount_tallies(session, campaign_id)
    session.commit()
    click.echo(f"Recounted mail: {rows} day and template row(s).")
