"""Placement status, check intervals, agreed-vs-actual and expiry reminders: pure functions."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest

from outreach.links.models import LinkType, PlacementStatus, Rel
from outreach.links.monitor import (
    Agreement,
    CheckIntervals,
    Outcome,
    expiry_reminders_due,
    mismatches,
    next_check_at,
    next_status,
    outcome_of,
)

LIVE, LOST, PROMISED, UNKNOWN = (
    PlacementStatus.LIVE,
    PlacementStatus.LOST,
    PlacementStatus.PROMISED,
    PlacementStatus.UNKNOWN,
)


@pytest.mark.parametrize(
    ("verdict", "outcome"),
    [
        ("live", Outcome.FOUND),
        ("nofollow", Outcome.FOUND),
        ("noindex", Outcome.FOUND),
        ("missing", Outcome.FAILING),
        ("page_gone", Outcome.FAILING),
        ("page_error", Outcome.UNKNOWN),
        ("not_html", Outcome.UNKNOWN),
    ],
)
def test_outcomes(verdict: str, outcome: Outcome) -> None:
    assert outcome_of(verdict) is outcome


class TestStatus:
    def test_first_found_goes_live(self) -> None:
        change = next_status(PROMISED, 2, Outcome.FOUND, ever_live=False)
        assert (change.status, change.consecutive_failures, change.went_live) == (LIVE, 0, True)

    def test_lost_only_after_three_failing_checks_in_a_row(self) -> None:
        first = next_status(LIVE, 0, Outcome.FAILING, ever_live=True)
        second = next_status(first.status, first.consecutive_failures, Outcome.FAILING, True)
        third = next_status(second.status, second.consecutive_failures, Outcome.FAILING, True)
        assert [first.status, second.status, third.status] == [LIVE, LIVE, LOST]
        assert third.was_lost
        assert not second.was_lost
        fourth = next_status(LOST, 3, Outcome.FAILING, ever_live=True)
        assert (fourth.status, fourth.was_lost) == (LOST, False)

    def test_unknown_never_counts_towards_lost(self) -> None:
        change = next_status(LIVE, 2, Outcome.UNKNOWN, ever_live=True)
        assert (change.status, change.consecutive_failures) == (UNKNOWN, 2)
        assert next_status(PROMISED, 0, Outcome.UNKNOWN, ever_live=False).status is PROMISED

    def test_a_found_link_clears_failures_and_a_lost_one_comes_back(self) -> None:
        assert next_status(LIVE, 2, Outcome.FOUND, ever_live=True).consecutive_failures == 0
        back = next_status(LOST, 5, Outcome.FOUND, ever_live=True)
        assert (back.status, back.came_back, back.went_live) == (LIVE, True, False)

    def test_a_promise_is_never_lost(self) -> None:
        change = next_status(PROMISED, 9, Outcome.FAILING, ever_live=False)
        assert (change.status, change.consecutive_failures) == (PROMISED, 10)


def test_check_intervals_with_jitter() -> None:
    now = datetime(2026, 11, 24, tzinfo=UTC)
    intervals = CheckIntervals(jitter=0.1)
    rng = random.Random(1)
    promised = next_check_at(PROMISED, 0, now, intervals, rng) - now
    live = next_check_at(LIVE, 0, now, intervals, rng) - now
    suspect = next_check_at(LIVE, 1, now, intervals, rng) - now
    assert timedelta(hours=21.6) <= promised <= timedelta(hours=26.4)
    assert timedelta(days=6.3) <= live <= timedelta(days=7.7)
    assert timedelta(hours=5.4) <= suspect <= timedelta(hours=6.6)
    spread = {next_check_at(LIVE, 0, now, intervals, rng) for _ in range(20)}
    assert len(spread) == 20
    exact = next_check_at(LIVE, 0, now, CheckIntervals(jitter=0), rng)
    assert exact == now + timedelta(days=7)


FOLLOW = Agreement("balcony gardening", Rel.FOLLOW, paid=False, link_type=LinkType.GUEST_POST)
PAGE = "https://blog.example/post"


def test_a_link_as_agreed_has_no_mismatch() -> None:
    assert mismatches(FOLLOW, "live", [], "Balcony  Gardening", PAGE, PAGE + "/") == []


def test_mismatches_in_words() -> None:
    assert mismatches(FOLLOW, "nofollow", ["nofollow"], "click here", PAGE, PAGE) == [
        "anchor is 'click here', agreed 'balcony gardening'",
        "nofollow where a followed link was agreed",
    ]
    paid = Agreement("", Rel.SPONSORED, paid=True, link_type=LinkType.REVIEW)
    assert mismatches(paid, "live", [], "x", PAGE, PAGE) == [
        "rel is follow, agreed sponsored",
        'paid link without rel="sponsored"',
    ]
    assert mismatches(paid, "sponsored", ["sponsored"], "x", PAGE, PAGE) == []
    moved = mismatches(FOLLOW, "live", [], "balcony gardening", PAGE, "https://blog.example/new")
    assert moved == ["the page now redirects to https://blog.example/new"]
    assert mismatches(FOLLOW, "noindex", [], "balcony gardening", PAGE, PAGE) == [
        "the page is not indexable (noindex)"
    ]
    assert mismatches(FOLLOW, "missing", [], "", PAGE, PAGE) == []


def test_expiry_reminders() -> None:
    expires = date(2026, 12, 10)
    assert expiry_reminders_due(expires, date(2026, 12, 1), set()) == []
    assert expiry_reminders_due(expires, date(2026, 12, 3), set()) == [7]
    assert expiry_reminders_due(expires, date(2026, 12, 8), {7}) == [2]
    assert expiry_reminders_due(expires, date(2026, 12, 9), {7, 2}) == []
    assert expiry_reminders_due(expires, date(2026, 12, 11), set()) == []
    assert expiry_reminders_due(None, date(2026, 12, 3), set()) == []
