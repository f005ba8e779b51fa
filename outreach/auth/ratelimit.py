"""Whether a sign-in attempt may go ahead, given the recent failures: password guessing is
slowed per account and client address, and per address over all accounts.

Plain data in, a decision out; outreach.auth.services reads and writes the failures."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class LoginLimits:
    # Failures of one account from one address: a user who mistypes stays well under it.
    per_account: int = 5
    # Failures from one address over every account: one office behind one address still fits.
    per_ip: int = 50
    window: timedelta = timedelta(minutes=15)


LOGIN_LIMITS = LoginLimits()


@dataclass(frozen=True)
class LoginDecision:
    allowed: bool
    retry_after: timedelta = timedelta(0)

    @property
    def retry_minutes(self) -> int:
        """The wait in whole minutes, rounded up, for the message."""
        return max(1, math.ceil(self.retry_after.total_seconds() / 60))


def _wait(failures: Sequence[datetime], limit: int, now: datetime, window: timedelta) -> timedelta:
    """How long until fewer than `limit` of `failures` fall in the window ending then."""
    recent = sorted(at for at in failures if now - window < at <= now)
    if len(recent) < limit:
        return timedelta(0)
    # The attempt is allowed again once the limit-th newest failure leaves the window.
    return recent[-limit] + window - now


def login_decision(
    account_failures: Sequence[datetime],
    ip_failures: Sequence[datetime],
    now: datetime,
    limits: LoginLimits = LOGIN_LIMITS,
) -> LoginDecision:
    """`account_failures`: times of failed sign-ins to this account from this address;
    `ip_failures`: from this address to any account. Older failures are ignored."""
    wait = max(
        _wait(account_failures, limits.per_account, now, limits.window),
        _wait(ip_failures, limits.per_ip, now, limits.window),
    )
    if wait > timedelta(0):
        return LoginDecision(allowed=False, retry_after=wait)
    return LoginDecision(allowed=True)
