"""`flask links check PAGE_URL TARGET`: one verification from the shell, as scripts need it."""

from __future__ import annotations

import json
import sys
from typing import NoReturn

import click
from flask import current_app
from flask.cli import AppGroup

from outreach.links.fetch import PageFetcher
from outreach.links.schemas import normalise_link_page
from outreach.links.verdict import TargetError, parse_target, verify_placement

links_cli = AppGroup("links", help="Check links.")


@links_cli.command("check")
@click.argument("page_url")
@click.argument("target")
@click.option("--anchor", default="", help="The agreed anchor text: preferred among equal links.")
@click.option(
    "--allow-private",
    is_flag=True,
    help="Allow pages on private, loopback and link-local addresses (intranet, tests).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the verdict object as JSON.")
def check(page_url: str, target: str, anchor: str, allow_private: bool, as_json: bool) -> None:
    """Fetch PAGE_URL and say whether it links to TARGET (a URL, or domain:client.example).

    Exits 0 whenever a check ran, whatever the verdict; 2 for unusable input."""
    try:
        page = normalise_link_page(page_url)
        parsed_target = parse_target(target)
    except TargetError as exc:
        _unusable(f"target {target!r}: {exc}")
    except ValueError as exc:
        _unusable(f"page URL {page_url!r}: {exc}")
    settings = current_app.extensions["outreach"].settings
    with PageFetcher(
        allow_private=allow_private or settings.links_allow_private,
        timeout=settings.link_check_timeout_seconds,
    ) as fetcher:
        verdict = verify_placement(fetcher.fetch(page), parsed_target, expected_anchor=anchor)
    if as_json:
        click.echo(json.dumps(verdict.as_json()))
        return
    click.echo(f"{verdict.verdict}: {page}")
    for name, value in verdict.as_json().items():
        if name != "verdict" and value not in ("", None, []):
            click.echo(f"  {name}: {value}")


def _unusable(message: str) -> NoReturn:
    click.echo(f"Error: {message}", err=True)
    sys.exit(2)
