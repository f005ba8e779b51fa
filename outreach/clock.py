"""The one source of "now" for everything that acts on time, so tests can travel in time."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from flask import current_app

from outreach.db import utcnow


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return utcnow()


class FixedClock:
    """A clock that only moves when told to."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self._at = at

    def now(self) -> datetime:
        return self._at

    def set(self, at: datetime) -> None:
        self._at = at

    def advance(self, delta: timedelta) -> None:
        self._at += delta


def app_now() -> datetime:
    """Now by the running app's clock: what views, the API and the CLI act on."""
    return current_app.extensions["outreach"].clock.now()
