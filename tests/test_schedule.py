"""Sending windows, business days, caps and back-off: pure functions, no clock."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from outreach.mail.schedule import (
    SendingWindow,
    add_business_days,
    describe_window,
    in_window,
    next_in_window,
    parse_weekdays,
    postpone,
    retry_delay,
    sending_allowance,
    step_due_at,
    zone,
)

BERLIN = ZoneInfo("Europe/Berlin")
WEEKDAYS = SendingWindow(frozenset({1, 2, 3, 4, 5}), time(9), time(17), BERLIN)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


class TestWindow:
    def test_inside_the_window_is_now(self) -> None:
        tuesday_noon_berlin = utc(2026, 11, 24, 11)
        assert next_in_window(tuesday_noon_berlin, WEEKDAYS) == tuesday_noon_berlin
        assert in_window(tuesday_noon_berlin, WEEKDAYS)

    def test_before_opening_waits_for_nine_local(self) -> None:
        assert next_in_window(utc(2026, 11, 24, 5), WEEKDAYS) == utc(2026, 11, 24, 8)

    def test_closing_time_is_outside(self) -> None:
        # 17:00 Berlin on a Tuesday: the next slot is Wednesday 09:00.
        assert next_in_window(utc(2026, 11, 24, 16), WEEKDAYS) == utc(2026, 11, 25, 8)

    def test_friday_evening_waits_for_monday(self) -> None:
        assert next_in_window(utc(2026, 11, 27, 18), WEEKDAYS) == utc(2026, 11, 30, 8)

    def test_daylight_saving_change_keeps_local_hours(self) -> None:
        # Berlin moves to summer time on 29 March 2026: 09:00 is 08:00 UTC before, 07:00 after.
        assert next_in_window(utc(2026, 3, 27, 18), WEEKDAYS) == utc(2026, 3, 30, 7)

    def test_weekend_only_window(self) -> None:
        weekend = SendingWindow(frozenset({6, 7}), time(10), time(12), ZoneInfo("UTC"))
        assert next_in_window(utc(2026, 11, 24, 11), weekend) == utc(2026, 11, 28, 10)

    def test_a_window_must_open_before_it_closes(self) -> None:
        with pytest.raises(ValueError, match="start before it ends"):
            SendingWindow(frozenset({1}), time(17), time(9), BERLIN)


class TestBusinessDays:
    def test_skips_the_weekend(self) -> None:
        thursday = utc(2026, 11, 26, 14)
        assert add_business_days(thursday, 3, ZoneInfo("UTC")) == utc(2026, 12, 1, 14)

    def test_zero_days_is_the_same_moment(self) -> None:
        assert add_business_days(utc(2026, 11, 28, 14), 0, BERLIN) == utc(2026, 11, 28, 14)

    def test_counts_days_in_the_recipient_zone(self) -> None:
        # Friday 23:30 UTC is already Saturday in Tokyo: one business day later is Monday there.
        tokyo = ZoneInfo("Asia/Tokyo")
        friday_late = utc(2026, 11, 27, 23, 30)
        assert add_business_days(friday_late, 1, tokyo) == utc(2026, 11, 29, 23, 30)

    def test_follow_up_lands_in_the_window(self) -> None:
        sent = utc(2026, 11, 27, 15, 30)  # Friday 16:30 Berlin
        assert step_due_at(sent, 1, WEEKDAYS) == utc(2026, 11, 30, 15, 30)
        late = utc(2026, 11, 27, 15, 59)
        assert step_due_at(late + timedelta(minutes=30), 1, WEEKDAYS) == utc(2026, 12, 1, 8)

    def test_postpone_moves_by_calendar_days_into_the_window(self) -> None:
        thursday_nine = utc(2026, 11, 26, 8)
        assert postpone(thursday_nine, 3, WEEKDAYS) == utc(2026, 11, 30, 8)


class TestAllowance:
    def test_cap_counts_the_last_24_hours(self) -> None:
        now = utc(2026, 11, 24, 12)
        kwargs = {"min_spacing_seconds": 0, "last_sent_at": None, "now": now, "batch": 100}
        assert sending_allowance(daily_cap=50, sent_last_24h=48, **kwargs) == 2
        assert sending_allowance(daily_cap=50, sent_last_24h=50, **kwargs) == 0
        assert sending_allowance(daily_cap=500, sent_last_24h=0, **kwargs) == 100

    def test_spacing_sends_one_at_a_time(self) -> None:
        now = utc(2026, 11, 24, 12)
        common = {"daily_cap": 50, "sent_last_24h": 3, "min_spacing_seconds": 120, "batch": 100}
        assert sending_allowance(last_sent_at=now - timedelta(seconds=60), now=now, **common) == 0
        assert sending_allowance(last_sent_at=now - timedelta(seconds=120), now=now, **common) == 1
        assert sending_allowance(last_sent_at=None, now=now, **common) == 1

    def test_retry_back_off_doubles_up_to_six_hours(self) -> None:
        assert [retry_delay(n) for n in (1, 2, 3)] == [
            timedelta(minutes=5),
            timedelta(minutes=10),
            timedelta(minutes=20),
        ]
        assert retry_delay(20) == timedelta(hours=6)


def test_weekday_lists() -> None:
    assert parse_weekdays("1, 2,3") == frozenset({1, 2, 3})
    with pytest.raises(ValueError, match="1 \\(Monday\\) to 7"):
        parse_weekdays("0,8")
    with pytest.raises(ValueError, match="weekday numbers"):
        parse_weekdays("mon")
    assert describe_window(frozenset({1, 2, 3, 4, 5}), time(9), time(17)) == "Mon–Fri 09:00–17:00"
    assert describe_window(frozenset({1, 3}), time(8, 30), time(12)) == "Mon, Wed 08:30–12:00"


def test_zone_takes_the_first_known_name() -> None:
    assert zone("", "Not/AZone", "America/New_York", "UTC") == ZoneInfo("America/New_York")
    assert zone("", "") == ZoneInfo("UTC")
