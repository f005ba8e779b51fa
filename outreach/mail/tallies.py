"""Counting mail into MailTally as it is recorded, and recounting it from the messages.

A report over a million emails must not count them one by one; the two places that record mail
(a send in dispatch, a reply in the inbox) add to the day's tally in the same transaction."""

from __future__ import annotations

import functools
from datetime import date

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from outreach.db import utc_date
from outreach.mail.models import Direction, InboundKind, MailTally, Message, MessageStatus
from outreach.prospects.models import Prospect

NO_TEMPLATE = 0


def add_to_tally(
    session: Session,
    campaign_id: int,
    day: date,
    template_id: int | None,
    *,
    sent: int = 0,
    replies: int = 0,
) -> None:
    """One upsert; concurrent dispatchers add to the same row without losing a count."""
    session.execute(
        _tally_upsert(session.get_bind().dialect.name),
        {
            "campaign_id": campaign_id,
            "day": day,
            "template_id": template_id or NO_TEMPLATE,
            "sent": sent,
            "replies": replies,
        },
    )


@functools.cache
def _tally_upsert(dialect: str) -> sa.Insert:
    """The upsert, built once per engine kind: the dispatcher runs it for every email, and
    building it costs several times more than running it."""
    table = MailTally.__table__
    statement = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    return statement.on_conflict_do_update(
        index_elements=[table.c.campaign_id, table.c.day, table.c.template_id],
        set_={
            "sent": table.c.sent + statement.excluded.sent,
            "replies": table.c.replies + statement.excluded.replies,
        },
    )


def recount_tallies(session: Session, campaign_id: int | None = None) -> int:
    """Rebuild the tallies of one campaign (or all) from the messages; returns the rows
    written. For data written around the services (imports of history, repairs)."""
    scope = select(Prospect.id)
    cleared = sa.delete(MailTally)
    if campaign_id is not None:
        scope = scope.where(Prospect.campaign_id == campaign_id)
        cleared = cleared.where(MailTally.campaign_id == campaign_id)
    session.execute(cleared)
    counts: dict[tuple[int, date, int], list[int]] = {}
    sent_day = utc_date(Message.sent_at)
    received_day = utc_date(Message.received_at)
    for column, day, kind_filter in (
        (
            0,
            sent_day,
            (Message.direction == Direction.OUTBOUND, Message.status == MessageStatus.SENT),
        ),
        (
            1,
            received_day,
            (Message.direction == Direction.INBOUND, Message.inbound_kind == InboundKind.REPLY),
        ),
    ):
        rows = session.exec(
            select(Prospect.campaign_id, day, Message.template_id, sa.func.count())
            .join(Prospect, col(Prospect.id) == Message.prospect_id)
            .where(col(Message.prospect_id).in_(scope), day.is_not(None), *kind_filter)
            .group_by(Prospect.campaign_id, day, Message.template_id)
        )
        for campaign, on_day, template_id, count in rows:
            key = (campaign, on_day, template_id or NO_TEMPLATE)
            counts.setdefault(key, [0, 0])[column] += count
    if counts:
        session.execute(
            sa.insert(MailTally),
            [
                {"campaign_id": c, "day": d, "template_id": t, "sent": s, "replies": r}
                for (c, d, t), (s, r) in counts.items()
            ],
        )
    return len(counts)
