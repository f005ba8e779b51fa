"""`flask prospects ...`: scripted prospect work."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask.cli import AppGroup

from outreach.campaigns.models import Campaign
from outreach.db import db_session
from outreach.prospects.importing import UnusableFileError, read_rows, sniff_layout, suggest_mapping
from outreach.prospects.imports import import_rows

prospects_cli = AppGroup("prospects", help="Prospect lists.")

UNUSABLE = 2


@prospects_cli.command("import")
@click.argument("campaign_id", type=int)
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def import_file(campaign_id: int, file: Path) -> None:
    """Import FILE (CSV) into the campaign; print {"imported", "duplicates", "errors"} as JSON.

    Exits 0 when the file was read, even if rows were refused; 2 when it cannot be used.
    """
    session = db_session()
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        click.echo(f"Error: there is no campaign {campaign_id}.", err=True)
        sys.exit(UNUSABLE)
    try:
        with file.open("rb") as stream:
            layout = sniff_layout(stream)
            rows = read_rows(stream, layout, suggest_mapping(layout))
            summary = import_rows(session, campaign.id, campaign.owner_id, rows)
    except (UnusableFileError, OSError) as exc:
        click.echo(f"Error: {file}: {exc}", err=True)
        sys.exit(UNUSABLE)
    click.echo(json.dumps(summary.as_json(), ensure_ascii=False))
