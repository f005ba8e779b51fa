"""One timeline per prospect, merged from everything that happened to it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, select

from outreach.activity.models import Activity
from outreach.auth.models import User
from outreach.links.models import Placement, PlacementCheck
from outreach.mail.models import Direction, Message
from outreach.prospects.models import StageChange
from outreach.prospects.pipeline import STAGE_LABELS


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str  # stage, note, activity, email_out, email_in, placement, check
    title: str
    detail: str = ""
    actor: str = ""


def merge_timeline(*sources: list[TimelineEntry]) -> list[TimelineEntry]:
    """Newest first; entries at the same moment keep their source order."""
    merged = [entry for source in sources for entry in source]
    return sorted(merged, key=lambda entry: entry.at, reverse=True)


def prospect_timeline(session: Session, prospect_id: int) -> list[TimelineEntry]:
    names = {user.id: user.display_name for user in session.exec(select(User))}
    stages = [
        TimelineEntry(
            at=change.changed_at,
            kind="stage",
            title=(
                f"Moved to {STAGE_LABELS[change.to_stage]}"
                if change.from_stage
                else f"Added as {STAGE_LABELS[change.to_stage]}"
            ),
            detail=""
            if change.reason in ("manual", "import")
            else f"by the system: {change.reason}",
            actor=names.get(change.changed_by_id, "") if change.changed_by_id else "",
        )
        for change in session.exec(
            select(StageChange).where(StageChange.prospect_id == prospect_id)
        )
    ]
    activities = [
        TimelineEntry(
            at=activity.at,
            kind="note" if activity.kind == "prospect.note" else "activity",
            title="Note" if activity.kind == "prospect.note" else activity.summary,
            detail=activity.data.get("text", "") if activity.kind == "prospect.note" else "",
            actor=names.get(activity.actor_id, "") if activity.actor_id else "",
        )
        for activity in session.exec(
            select(Activity).where(
                Activity.prospect_id == prospect_id, Activity.kind != "prospect.added"
            )
        )
    ]
    messages = [
        TimelineEntry(
            at=message.sent_at or message.received_at or message.created_at,
            kind="email_out" if message.direction is Direction.OUTBOUND else "email_in",
            title=(
                f"Email to {message.to_address}: {message.subject}"
                if message.direction is Direction.OUTBOUND
                else f"Email from {message.from_address}: {message.subject}"
            ),
            detail=message.status.value,
        )
        for message in session.exec(select(Message).where(Message.prospect_id == prospect_id))
    ]
    placements = list(session.exec(select(Placement).where(Placement.prospect_id == prospect_id)))
    links = [
        TimelineEntry(
            at=placement.created_at,
            kind="placement",
            title=f"Placement recorded on {placement.page_url}",
            detail=f"{placement.link_type.value}, status {placement.status.value}",
        )
        for placement in placements
    ]
    checks = [
        TimelineEntry(
            at=check.checked_at,
            kind="check",
            title=f"Link check: {check.verdict}",
            detail=check.final_url or check.error,
        )
        for check in session.exec(
            select(PlacementCheck).where(
                PlacementCheck.placement_id.in_([p.id for p in placements])
            )
        )
    ]
    return merge_timeline(stages, activities, messages, links, checks)
