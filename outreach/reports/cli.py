"""`flask reports recount-mail` and `rebuild-rollups`: rebuild the counts reports read."""

from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlmodel import col, select

from outreach.campaigns.costs import value_model_of
from outreach.campaigns.models import Campaign
from outreach.db import db_session
from outreach.mail.tallies import recount_tallies
from outreach.reports.rollups import rebuild_rollups

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


@reports_cli.command("rebuild-rollups")
@click.option("--campaign", "campaign_id", type=int, help="One campaign; all without it.")
def rebuild(campaign_id: int | None) -> None:
    """Recount the link, prospect and spend rollups from the rows, after data was written with
    the database's triggers dropped (a restore into a bare schema, a repair)."""
    session = db_session()
    query = select(Campaign)
    if campaign_id is not None:
        query = query.where(col(Campaign.id) == campaign_id)
    campaigns = session.exec(query).all()
    if campaign_id is not None and not campaigns:
        raise click.ClickException(f"There is no campaign {campaign_id}.")
    for campaign in campaigns:
        rebuild_rollups(session, campaign.id, value_model_of(campaign))
        session.commit()
    click.echo(f"Rebuilt the rollups of {len(campaigns)} campaign(s).")
