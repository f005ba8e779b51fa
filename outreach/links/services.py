"""Placements: recording them, checking them now or when due, and what a check changes."""

from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from outreach.activity.services import record_activity
from outreach.auth.models import User
from outreach.campaigns.models import ContentAsset
from outreach.links.fetch import PageFetcher, fetch_many
from outreach.links.models import Placement, PlacementCheck
from outreach.links.monitor import (
    Agreement,
    CheckIntervals,
    mismatches,
    next_check_at,
    next_status,
    outcome_of,
)
from outreach.links.schemas import PlacementInput
from outreach.links.verdict import FetchedPage, Verdict, parse_target, verify_placement
from outreach.prospects.models import Prospect
from outreach.prospects.pipeline import MoveReason
from outreach.prospects.services import move_stage

# Spreads check times; not a secret.
_JITTER = random.Random()  # noqa: S311


class PlacementRefusedError(ValueError):
    """A placement that cannot be saved; `field` names the input to fix."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def create_placement(
    session: Session, prospect: Prospect, data: PlacementInput, actor: User, now: datetime
) -> Placement:
    """Record a placement; its first check is due at once."""
    if data.asset_id is not None:
        asset = session.get(ContentAsset, data.asset_id)
        if asset is None or asset.campaign_id != prospect.campaign_id:
            raise PlacementRefusedError(
                f"There is no asset {data.asset_id} in this campaign.", "asset_id"
            )
    placement = Placement(
        prospect_id=prospect.id,
        **data.model_dump(),
        next_check_at=now,
        created_by_id=actor.id,
        created_at=now,
    )
    session.add(placement)
    session.flush()
    record_activity(
        session,
        "placement.added",
        f"Placement recorded on {placement.page_url}",
        actor=actor,
        campaign_id=prospect.campaign_id,
        prospect_id=prospect.id,
        at=now,
    )
    session.commit()
    return placement


def placements_of(session: Session, prospect_id: int) -> list[Placement]:
    return list(
        session.exec(
            select(Placement)
            .where(Placement.prospect_id == prospect_id)
            .order_by(Placement.created_at, Placement.id)
        )
    )


def check_history(session: Session, placement_id: int, limit: int = 50) -> list[PlacementCheck]:
    """The latest checks first."""
    return list(
        session.exec(
            select(PlacementCheck)
            .where(PlacementCheck.placement_id == placement_id)
            .order_by(sa.desc(PlacementCheck.checked_at), sa.desc(PlacementCheck.id))
            .limit(limit)
        )
    )


def verify(page: FetchedPage, placement: Placement) -> Verdict:
    return verify_placement(page, parse_target(placement.target), placement.expected_anchor)


@dataclass(frozen=True)
class CheckSettings:
    intervals: CheckIntervals
    workers: int
    batch: int = 500


def record_check(
    session: Session,
    placement: Placement,
    verdict: Verdict,
    now: datetime,
    intervals: CheckIntervals,
    rng: random.Random,
    duration_ms: int | None = None,
) -> PlacementCheck:
    """Store one check and apply what it means: live, lost, back, and when to look again.
    The caller commits."""
    agreement = Agreement(
        placement.expected_anchor, placement.expected_rel, placement.paid, placement.link_type
    )
    check = PlacementCheck(
        placement_id=placement.id,
        checked_at=now,
        **{
            **verdict.as_json(),
            # Bounded like the columns: an unclosed <a> can swallow a whole page as its text.
            "final_url": verdict.final_url[:2048],
            "anchor_text": verdict.anchor_text[:2000],
            "canonical": verdict.canonical[:2048],
        },
        mismatches=mismatches(
            agreement,
            verdict.verdict,
            verdict.rel,
            verdict.anchor_text,
            placement.page_url,
            verdict.final_url or placement.page_url,
        ),
        duration_ms=duration_ms,
    )
    session.add(check)
    change = next_status(
        placement.status,
        placement.consecutive_failures,
        outcome_of(verdict.verdict),
        ever_live=placement.first_live_at is not None,
    )
    placement.status = change.status
    placement.consecutive_failures = change.consecutive_failures
    placement.last_verdict = verdict.verdict
    placement.last_checked_at = now
    placement.next_check_at = next_check_at(
        change.status, change.consecutive_failures, now, intervals, rng
    )
    prospect = session.get(Prospect, placement.prospect_id)
    if change.went_live:
        placement.first_live_at = now
        move_stage(session, prospect, MoveReason.LINK_LIVE, at=now)
        _log(session, "placement.live", f"Link live on {placement.page_url}", prospect, now)
    if change.was_lost:
        move_stage(session, prospect, MoveReason.LINK_LOST, at=now)
        _log(
            session,
            "placement.lost",
            f"Link lost on {placement.page_url} ({verdict.verdict}, "
            f"{change.consecutive_failures} failing checks in a row)",
            prospect,
            now,
        )
    if change.came_back:
        move_stage(session, prospect, MoveReason.LINK_LIVE, at=now)
        _log(session, "placement.back", f"Link back on {placement.page_url}", prospect, now)
    return check


def _log(session: Session, kind: str, summary: str, prospect: Prospect, now: datetime) -> None:
    record_activity(
        session, kind, summary, campaign_id=prospect.campaign_id, prospect_id=prospect.id, at=now
    )


def check_now(
    session: Session,
    placement: Placement,
    fetcher: PageFetcher,
    now: datetime,
    intervals: CheckIntervals,
) -> PlacementCheck:
    """Fetch and verify one placement right away (the "check now" button and API)."""
    started = time.perf_counter()
    page = fetcher.fetch(placement.page_url)
    duration = int((time.perf_counter() - started) * 1000)
    check = record_check(
        session, placement, verify(page, placement), now, intervals, _JITTER, duration
    )
    session.commit()
    return check


def claim_due_placements(
    session: Session, now: datetime, limit: int, lease: timedelta
) -> list[int]:
    """Take due placements for this worker: their next check moves a lease ahead, so another
    worker skips them, and a worker that dies leaves them due again when the lease ends."""
    due = sa.and_(col(Placement.next_check_at).is_not(None), col(Placement.next_check_at) <= now)
    candidates = list(
        session.exec(
            select(Placement.id)
            .where(due)
            .order_by(Placement.next_check_at, Placement.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if not candidates:
        session.rollback()
        return []
    claimed = [
        row[0]
        for row in session.execute(
            sa.update(Placement)
            .where(col(Placement.id).in_(candidates), due)
            .values(next_check_at=now + lease)
            .returning(Placement.id)
            .execution_options(synchronize_session=False)
        )
    ]
    session.commit()
    return sorted(claimed)


def run_due_checks(
    engine: Engine, fetcher: PageFetcher, now: datetime, settings: CheckSettings
) -> Counter[str]:
    """Check every placement that is due, fetching concurrently, storing each result.
    Counts the checks, and the placements that became live, unknown or lost."""
    counts: Counter[str] = Counter()
    lease = timedelta(minutes=10)
    while True:
        with Session(engine, expire_on_commit=False) as session:
            ids = claim_due_placements(session, now, settings.batch, lease)
            if not ids:
                return counts
            placements = list(session.exec(select(Placement).where(col(Placement.id).in_(ids))))
            pages = fetch_many(fetcher, [p.page_url for p in placements], settings.workers)
            for placement, page in zip(placements, pages, strict=True):
                before = placement.status
                record_check(
                    session, placement, verify(page, placement), now, settings.intervals, _JITTER
                )
                counts["checked"] += 1
                if placement.status is not before:
                    counts[placement.status.value] += 1
            session.commit()
