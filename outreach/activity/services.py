"""Writing to the activity log."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from outreach.activity.models import Activity
from outreach.auth.models import User
from outreach.db import utcnow


def record_activity(
    session: Session,
    kind: str,
    summary: str,
    *,
    actor: User | None = None,
    campaign_id: int | None = None,
    prospect_id: int | None = None,
    data: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> Activity:
    """Add an entry to the log; the caller commits it with the change it describes."""
    entry = Activity(
        at=at or utcnow(),
        kind=kind,
        summary=summary[:500],
        actor_id=actor.id if actor else None,
        campaign_id=campaign_id,
        prospect_id=prospect_id,
        data=data or {},
    )
    session.add(entry)
    return entry


@dataclass(frozen=True)
class SystemEntry:
    """An entry for something the system did on its own (no actor)."""

    kind: str
    summary: str
    campaign_id: int | None
    prospect_id: int | None
    data: dict[str, Any] = field(default_factory=dict)


def record_system_activities(
    session: Session, entries: Sequence[SystemEntry], at: datetime
) -> None:
    """Many entries in one statement, for batches (the link checker's) and for each email the
    dispatcher sends: building an ORM object for each, or going through the ORM's bulk insert,
    costs more than the work behind it. The caller commits."""
    if not entries:
        return
    session.execute(
        sa.insert(Activity.__table__),
        [
            {
                "at": at,
                "kind": entry.kind,
                "summary": entry.summary[:500],
                "actor_id": None,
                "campaign_id": entry.campaign_id,
                "prospect_id": entry.prospect_id,
                "data": entry.data,
            }
            for entry in entries
        ],
    )
