"""The app's link checker, built once from the settings and shared by the API, the CLI and
the scheduler."""

from __future__ import annotations

import threading
from datetime import timedelta

from flask import Flask

from outreach.links.fetch import PageFetcher
from outreach.links.monitor import CheckIntervals
from outreach.links.services import CheckSettings

_lock = threading.Lock()


def link_fetcher(app: Flask) -> PageFetcher:
    """One fetcher (one connection pool) per app; made on first use, not at start-up."""
    with _lock:
        fetcher = app.extensions.get("link_fetcher")
        if fetcher is None:
            settings = app.extensions["outreach"].settings
            fetcher = PageFetcher(
                allow_private=settings.links_allow_private,
                timeout=settings.link_check_timeout_seconds,
            )
            app.extensions["link_fetcher"] = fetcher
        return fetcher


def check_intervals(app: Flask) -> CheckIntervals:
    settings = app.extensions["outreach"].settings
    return CheckIntervals(
        promised=timedelta(hours=settings.link_check_promised_hours),
        live=timedelta(days=settings.link_check_live_days),
    )


def check_settings(app: Flask) -> CheckSettings:
    return CheckSettings(
        intervals=check_intervals(app),
        workers=app.extensions["outreach"].settings.link_check_workers,
    )
