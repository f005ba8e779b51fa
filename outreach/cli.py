"""`flask serve`: the web app and the scheduler, as two processes, for `make run`."""

from __future__ import annotations

import subprocess
import sys

import click
from flask import current_app
from waitress import serve as waitress_serve

from outreach.config import PROJECT_ROOT


@click.command("serve")
@click.option("--threads", default=8, show_default=True, help="Web worker threads.")
def serve(threads: int) -> None:
    """Serve the app on HOST:PORT from the settings, with the scheduler beside it."""
    settings = current_app.extensions["outreach"].settings
    scheduler = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "app", "scheduler"], cwd=PROJECT_ROOT
    )
    click.echo(f"outreach is running at http://{settings.host}:{settings.port}/  (Ctrl-C stops)")
    try:
        waitress_serve(
            current_app._get_current_object(),  # type: ignore[attr-defined]
            host=settings.host,
            port=settings.port,
            threads=threads,
            ident="outreach",
        )
    finally:
        scheduler.terminate()
        try:
            scheduler.wait(timeout=10)
        except subprocess.TimeoutExpired:
            scheduler.kill()
