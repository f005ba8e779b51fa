"""When emails may go out: sending windows in the recipient's time zone, business days,
daily caps and spacing. Plain functions over data; the dispatcher supplies the clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class SendingWindow:
    """The ISO weekdays (1 = Monday) and local hours in which a mailbox may send."""

    days: frozenset[int]
    start: time
    end: time
    tz: ZoneInfo

    def __post_init__(self) -> None:
        if not self.days or not self.days <= set(range(1, 8)):
            raise ValueError("a sending window needs at least one weekday between 1 and 7")
        if self.start >= self.end:
            raise ValueError("a sending window must start before it ends")


def parse_weekdays(text: str) -> frozenset[int]:
    """ "1,2,3,4,5" → {1, 2, 3, 4, 5}; raises ValueError on anything else."""
    try:
        days = frozenset(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not a list of weekday numbers such as 1,2,3,4,5") from None
    if not days or not days <= set(range(1, 8)):
        raise ValueError("weekdays are numbers from 1 (Monday) to 7 (Sunday)")
    return days


def format_weekdays(days: frozenset[int] | set[int]) -> str:
    return ",".join(str(day) for day in sorted(days))


def describe_window(days: frozenset[int], start: time, end: time) -> str:
    """The window in words, such as "Mon to Fri 09:00 to 17:00" but with dashes."""
    ordered = sorted(days)
    if ordered == list(range(ordered[0], ordered[-1] + 1)) and len(ordered) > 2:
        names = f"{WEEKDAY_NAMES[ordered[0] - 1]}–{WEEKDAY_NAMES[ordered[-1] - 1]}"
    else:
        names = ", ".join(WEEKDAY_NAMES[day - 1] for day in ordered)
    return f"{names} {start:%H:%M}–{end:%H:%M}"


def zone(*names: str) -> ZoneInfo:
    """The first of the names that is a real IANA time zone (contact, prospect, campaign), else
    UTC."""
    for name in names:
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def _local(day: date, at: time, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, at, tzinfo=tz)


def next_in_window(moment: datetime, window: SendingWindow) -> datetime:
    """The earliest instant at or after `moment` that falls inside the window, in UTC."""
    local = moment.astimezone(window.tz)
    for offset in range(8):
        day = local.date() + timedelta(days=offset)
        if day.isoweekday() not in window.days:
            continue
        opens = _local(day, window.start, window.tz)
        closes = _local(day, window.end, window.tz)
        if opens <= local < closes:
            return moment.astimezone(UTC)
        if local < opens:
            return opens.astimezone(UTC)
    raise AssertionError("a window with at least one weekday opens within eight days")


def in_window(moment: datetime, window: SendingWindow) -> bool:
    return next_in_window(moment, window) == moment.astimezone(UTC)


def add_business_days(moment: datetime, days: int, tz: ZoneInfo) -> datetime:
    """`days` working days (Monday to Friday) later, at the same local time of day."""
    local = moment.astimezone(tz)
    day = local.date()
    remaining = days
    while remaining > 0:
        day += timedelta(days=1)
        if day.isoweekday() <= 5:
            remaining -= 1
    return _local(day, local.time(), tz).astimezone(UTC)


def step_due_at(previous_sent_at: datetime, delay_days: int, window: SendingWindow) -> datetime:
    """When a follow-up is due: `delay_days` business days after the previous email, in the
    recipient's time zone, moved into the sending window."""
    return next_in_window(add_business_days(previous_sent_at, delay_days, window.tz), window)


def postpone(due: datetime, days: int, window: SendingWindow) -> datetime:
    """An auto-reply pushes the next step back by whole calendar days, still inside the window."""
    return next_in_window(due + timedelta(days=days), window)


def sending_allowance(
    *,
    daily_cap: int,
    sent_last_24h: int,
    min_spacing_seconds: int,
    last_sent_at: datetime | None,
    now: datetime,
    batch: int,
) -> int:
    """How many emails a mailbox may send in this pass: never past its cap for any 24 hours,
    and with spacing, one at a time once the spacing since the last has passed."""
    room = max(0, daily_cap - sent_last_24h)
    if min_spacing_seconds <= 0:
        return min(room, batch)
    if last_sent_at is not None and now - last_sent_at < timedelta(seconds=min_spacing_seconds):
        return 0
    return min(room, 1)


def retry_delay(attempts: int) -> timedelta:
    """After a temporary failure: 5, 10, 20, 40 minutes..., at most 6 hours."""
    return min(timedelta(minutes=5) * 2 ** max(0, attempts - 1), timedelta(hours=6))
