"""`flask serve`: the web app and the scheduler, as two processes, for `make run`."""

from __future__ import annotations

import signal
import subprocess
import sys
from types import FrameType

import click
from flask import current_app
from waitress import serve as waitress_serve

from outreach.config import PROJECT_ROOT


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@click.command("serve")
@click.option("--threads", default=8, show_default=True, help="Web worker threads.")
def serve(threads: int) -> None:
    """Serve the app on HOST:PORT from the settings, with the scheduler beside it."""
    settings = current_app.extensions["outreach"].settings
    # Ctrl-C and a service manager's SIGTERM both stop the web server, then the scheduler.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
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
    except KeyboardInterrupt:
        click.echo("Stopping.")
    finally:
        scheduler.terminate()
        try:
            scheduler.wait(timeout=10)
        except subprocess.TimeoutExpired:
            scheduler.kill()
