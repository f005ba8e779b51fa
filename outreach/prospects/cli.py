"""`flask prospects ...`: scripted prospect work."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

import click
from flask.cli import AppGroup

from outreach.campaigns.models import Campaign
from outreach.db import db_session
from outreach.prospects.importing import (
    CUSTOM_PREFIX,
    UnusableFileError,
    custom_field_name,
    read_rows,
    sniff_layout,
    suggest_mapping,
)
from outreach.prospects.imports import import_rows

prospects_cli = AppGroup("prospects", help="Prospect lists.")

UNUSABLE = 2


def _custom_columns(
    context: click.Context, parameter: click.Parameter, specs: Sequence[str]
) -> dict[str, str]:
    """`--custom COLUMN[=NAME]` values as mapping entries; NAME defaults to the header's slug.

    The last "=" splits, since a custom field name cannot hold one but a header can.
    """
    mapping: dict[str, str] = {}
    for spec in specs:
        column, equals, name = spec.rpartition("=")
        if not equals:
            column, name = spec, custom_field_name(spec)
        if not column:
            raise click.BadParameter(
                f"{spec!r} names no column: write COLUMN=NAME.", context, parameter
            )
        if not name:
            raise click.BadParameter(
                f"{spec!r} gives no field name: write {column}=NAME.", context, parameter
            )
        key = CUSTOM_PREFIX + name
        if key in mapping:
            raise click.BadParameter(
                f"columns {mapping[key]!r} and {column!r} are both custom field {name!r}: "
                "give each its own NAME.",
                context,
                parameter,
            )
        mapping[key] = column
    return mapping


@prospects_cli.command("import")
@click.argument("campaign_id", type=int)
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--custom",
    "custom",
    metavar="COLUMN[=NAME]",
    multiple=True,
    callback=_custom_columns,
    help="Also import COLUMN into the custom field NAME (default: the header in lower case, "
    "e.g. 'Topic' -> topic). Repeatable.",
)
def import_file(campaign_id: int, file: Path, custom: dict[str, str]) -> None:
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
            rows = read_rows(stream, layout, suggest_mapping(layout) | custom)
            summary = import_rows(session, campaign.id, campaign.owner_id, rows)
    except (UnusableFileError, OSError) as exc:
        click.echo(f"Error: {file}: {exc}", err=True)
        sys.exit(UNUSABLE)
    click.echo(json.dumps(summary.as_json(), ensure_ascii=False))
