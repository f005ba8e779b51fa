"""What a check means for a placement: its new status, when to look again, and how the link
differs from what was agreed. Plain functions over data; the checker supplies the clock."""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from outreach.links.models import LinkType, PlacementStatus, Rel

# Verdicts that say the link is there, whatever its attributes.
FOUND_VERDICTS = frozenset({"live", "nofollow", "sponsored", "ugc", "noindex"})
# Verdicts that say the link (or the page) is gone. Anything else says nothing for sure.
FAILING_VERDICTS = frozenset({"missing", "page_gone"})
# Failing checks in a row before a live link counts as lost: one bad fetch is no alarm.
LOST_AFTER = 3
_RESTRICTING = frozenset({"nofollow", "sponsored", "ugc"})
# Reminders before a paid or time-limited link expires.
EXPIRY_REMINDER_DAYS = (7, 2)


class Outcome(enum.Enum):
    FOUND = "found"
    FAILING = "failing"
    UNKNOWN = "unknown"


def outcome_of(verdict: str) -> Outcome:
    """Timeouts, 429s, blocks, server errors and odd content types are unknown, never lost."""
    if verdict in FOUND_VERDICTS:
        return Outcome.FOUND
    if verdict in FAILING_VERDICTS:
        return Outcome.FAILING
    return Outcome.UNKNOWN


@dataclass(frozen=True)
class StatusChange:
    status: PlacementStatus
    consecutive_failures: int
    went_live: bool = False
    was_lost: bool = False
    came_back: bool = False


def next_status(
    status: PlacementStatus, consecutive_failures: int, outcome: Outcome, ever_live: bool
) -> StatusChange:
    """The placement's status after one check."""
    if outcome is Outcome.FOUND:
        return StatusChange(
            PlacementStatus.LIVE,
            0,
            went_live=not ever_live,
            came_back=status is PlacementStatus.LOST,
        )
    if outcome is Outcome.UNKNOWN:
        unsure = PlacementStatus.UNKNOWN if status is PlacementStatus.LIVE else status
        return StatusChange(unsure, consecutive_failures)
    failures = consecutive_failures + 1
    if not ever_live:
        # A promise not kept yet is still a promise: it is not "lost", it is overdue.
        return StatusChange(PlacementStatus.PROMISED, failures)
    if status is PlacementStatus.LOST:
        return StatusChange(PlacementStatus.LOST, failures)
    if failures >= LOST_AFTER:
        return StatusChange(PlacementStatus.LOST, failures, was_lost=True)
    return StatusChange(PlacementStatus.LIVE, failures)


@dataclass(frozen=True)
class CheckIntervals:
    promised: timedelta = timedelta(days=1)
    live: timedelta = timedelta(days=7)
    # After a failing or unknown check of a live link: look again soon, to confirm or clear it.
    suspect: timedelta = timedelta(hours=6)
    lost: timedelta = timedelta(days=7)
    jitter: float = 0.1


def next_check_at(
    status: PlacementStatus,
    consecutive_failures: int,
    now: datetime,
    intervals: CheckIntervals,
    rng: random.Random,
) -> datetime:
    """Promised links daily until live, live ones weekly, with jitter so that checks of one
    site spread out instead of arriving together."""
    if status is PlacementStatus.PROMISED:
        interval = intervals.promised
    elif status is PlacementStatus.LOST:
        interval = intervals.lost
    elif status is PlacementStatus.UNKNOWN or consecutive_failures:
        interval = intervals.suspect
    else:
        interval = intervals.live
    spread = interval.total_seconds() * intervals.jitter
    return now + interval + timedelta(seconds=rng.uniform(-spread, spread))


@dataclass(frozen=True)
class Agreement:
    expected_anchor: str
    expected_rel: Rel
    paid: bool
    link_type: LinkType


def mismatches(
    agreement: Agreement,
    verdict: str,
    rel: list[str],
    anchor_text: str,
    page_url: str,
    final_url: str,
) -> list[str]:
    """How the link found differs from what was agreed, in words for the user."""
    found: list[str] = []
    if verdict not in FOUND_VERDICTS:
        return found
    tokens = {token.lower() for token in rel}
    if agreement.expected_anchor and _words(anchor_text) != _words(agreement.expected_anchor):
        found.append(f"anchor is {anchor_text!r}, agreed {agreement.expected_anchor!r}")
    restrictions = sorted(tokens & _RESTRICTING)
    if verdict in _RESTRICTING:
        restrictions = sorted({verdict, *restrictions})
    if agreement.expected_rel is Rel.FOLLOW and restrictions:
        found.append(f"{' '.join(restrictions)} where a followed link was agreed")
    elif agreement.expected_rel is not Rel.FOLLOW and agreement.expected_rel.value not in tokens:
        found.append(
            f"rel is {' '.join(sorted(tokens)) or 'follow'}, agreed {agreement.expected_rel.value}"
        )
    if agreement.paid and "sponsored" not in tokens:
        found.append('paid link without rel="sponsored"')
    if verdict == "noindex":
        found.append("the page is not indexable (noindex)")
    if _site_path(final_url) != _site_path(page_url):
        found.append(f"the page now redirects to {final_url}")
    return found


def _words(text: str) -> str:
    return " ".join(text.casefold().split())


def _site_path(url: str) -> str:
    head, _, rest = url.partition("://")
    return rest.removeprefix("www.").rstrip("/").split("#")[0].lower() if head else url


def expiry_reminders_due(expires_on: date | None, today: date, already_sent: set[int]) -> list[int]:
    """Which of the 7- and 2-day reminders are due today and not sent yet."""
    if expires_on is None:
        return []
    days_left = (expires_on - today).days
    return [
        days for days in EXPIRY_REMINDER_DAYS if 0 <= days_left <= days and days not in already_sent
    ]
