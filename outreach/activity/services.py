"""Writing to the activity log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

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
