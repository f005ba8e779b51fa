"""Placements: recording them, checking them now or when due, and what a check changes."""

from __future__ import annotations

import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from outreach.activity.services import SystemEntry, record_activity, record_system_activities
from outreach.auth.models import User
from outreach.campaigns.models import Campaign, Client, ContentAsset
from outreach.db import claim_rows, retry_deadlocks
from outreach.links.citations import Nap, nap_mismatches, page_text
from outreach.links.fetch import PageFetcher, fetch_many
from outreach.links.models import LinkType, Placement, PlacementCheck
from outreach.links.monitor import (
    EXPIRY_REMINDER_DAYS,
    Agreement,
    CheckIntervals,
    StatusChange,
    expiry_reminders_due,
    mismatches,
    next_check_at,
    next_status,
    outcome_of,
)
from outreach.links.schemas import PlacementInput
from outreach.links.verdict import (
    FetchedPage,
    Verdict,
    decode_body,
    parse_target,
    verify_placement,
)
from outreach.mail.compose import followup_subject, new_message_id, outreach_body, thread_headers
from outreach.mail.dispatch import MailContext
from outreach.mail.models import (
    CampaignMailbox,
    Direction,
    Mailbox,
    Message,
    MessageStatus,
)
from outreach.mail.sequences import choose_contact, reason_not_to_email
from outreach.mail.stopping import STOP_LABELS, StopReason
from outreach.mail.unsubscribe import unsubscribe_token, unsubscribe_url
from outreach.ops.logs import fields
from outreach.prospects.models import Contact, Prospect
from outreach.prospects.pipeline import MoveReason
from outreach.prospects.services import move_stages

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
        campaign_id=prospect.campaign_id,
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


@dataclass(frozen=True)
class CheckResult:
    verdict: Verdict
    # What the verdict cannot say: a local citation's name, address or phone missing.
    citation_problems: list[str]


def verify(session: Session, page: FetchedPage, placement: Placement) -> CheckResult:
    verdict = verify_placement(page, parse_target(placement.target), placement.expected_anchor)
    problems: list[str] = []
    if placement.link_type is LinkType.LOCAL_CITATION and verdict.indexable is not None:
        prospect = session.get(Prospect, placement.prospect_id)
        client = session.get(Client, session.get(Campaign, prospect.campaign_id).client_id)
        nap = Nap(
            name=client.business_name or client.name,
            street_address=client.street_address,
            locality=client.locality,
            postal_code=client.postal_code,
            phone=client.phone,
        )
        problems = nap_mismatches(nap, page_text(decode_body(page.body, page.headers)))
    return CheckResult(verdict, problems)


@dataclass(frozen=True)
class CheckSettings:
    intervals: CheckIntervals
    workers: int
    batch: int = 200


def evaluate_check(
    placement: Placement,
    result: CheckResult,
    now: datetime,
    intervals: CheckIntervals,
    rng: random.Random,
) -> tuple[dict[str, Any], dict[str, Any], StatusChange]:
    """What one check stores (the check row's values), what it changes on the placement, and
    the status change with its events. Nothing is written."""
    verdict = result.verdict
    agreement = Agreement(
        placement.expected_anchor, placement.expected_rel, placement.paid, placement.link_type
    )
    check_values = {
        **verdict.as_json(),
        # Bounded like the columns: an unclosed <a> can swallow a whole page as its text.
        "final_url": verdict.final_url[:2048],
        "anchor_text": verdict.anchor_text[:2000],
        "canonical": verdict.canonical[:2048],
        "placement_id": placement.id,
        "checked_at": now,
        "mismatches": mismatches(
            agreement,
            verdict.verdict,
            verdict.rel,
            verdict.anchor_text,
            placement.page_url,
            verdict.final_url or placement.page_url,
        )
        + result.citation_problems,
    }
    change = next_status(
        placement.status,
        placement.consecutive_failures,
        outcome_of(verdict.verdict),
        ever_live=placement.first_live_at is not None,
    )
    changes: dict[str, Any] = {
        "status": change.status,
        "consecutive_failures": change.consecutive_failures,
        "last_verdict": verdict.verdict,
        "last_checked_at": now,
        "next_check_at": next_check_at(
            change.status, change.consecutive_failures, now, intervals, rng
        ),
    }
    if verdict.found:
        changes["found_verdict"] = verdict.verdict
        changes["found_anchor"] = verdict.anchor_text[:500]
    if change.went_live:
        changes["first_live_at"] = now
    if change.was_lost:
        changes["lost_at"] = now
    if change.came_back:
        changes["lost_at"] = None
    return check_values, changes, change


log = logging.getLogger("outreach.links.check")


def _log_check(
    placement_id: int, verdict: Verdict, change: StatusChange, duration_ms: int | None
) -> None:
    """One line per check. A batch's fetches are not timed one by one: no duration there."""
    log.info(
        "placement %d checked: %s",
        placement_id,
        verdict.verdict,
        extra=fields(
            placement_id=placement_id,
            verdict=verdict.verdict,
            http_status=verdict.http_status,
            status=change.status.value,
            duration_ms=duration_ms,
        ),
    )


def record_check(
    session: Session,
    placement: Placement,
    result: CheckResult,
    now: datetime,
    intervals: CheckIntervals,
    rng: random.Random,
    duration_ms: int | None = None,
) -> PlacementCheck:
    """Store one check and apply what it means: live, lost, back, and when to look again.
    The caller commits."""
    check_values, changes, change = evaluate_check(placement, result, now, intervals, rng)
    check = PlacementCheck(**check_values, duration_ms=duration_ms)
    _log_check(placement.id, result.verdict, change, duration_ms)
    session.add(check)
    for name, value in changes.items():
        setattr(placement, name, value)
    _apply_events(session, [(placement, change, result.verdict)], now)
    return check


def _apply_events(
    session: Session, checks: Sequence[tuple[Placement, StatusChange, Verdict]], now: datetime
) -> None:
    """What a link going live, lost or coming back means beyond its placement: the prospect's
    stage, the activity log and, for a lost link, an email to its owner. Takes a batch of checks
    at once, in their order, so that a batch costs a few statements rather than a few each."""
    events = [
        (placement, change, verdict)
        for placement, change, verdict in checks
        if change.went_live or change.was_lost or change.came_back
    ]
    if not events:
        return
    prospect_ids = {placement.prospect_id for placement, _, _ in events}
    prospects = {
        prospect.id: prospect
        for prospect in session.exec(select(Prospect).where(col(Prospect.id).in_(prospect_ids)))
    }
    moves: list[tuple[Prospect, MoveReason]] = []
    entries: list[SystemEntry] = []
    lost: list[tuple[Placement, Verdict, Prospect, str]] = []
    for placement, change, verdict in events:
        prospect = prospects[placement.prospect_id]
        if change.went_live:
            moves.append((prospect, MoveReason.LINK_LIVE))
            entries.append(_entry("placement.live", f"Link live on {placement.page_url}", prospect))
        if change.was_lost:
            moves.append((prospect, MoveReason.LINK_LOST))
            summary = (
                f"Link lost on {placement.page_url} ({verdict.verdict}, "
                f"{change.consecutive_failures} failing checks in a row)"
            )
            entries.append(_entry("placement.lost", summary, prospect))
            lost.append((placement, verdict, prospect, summary))
        if change.came_back:
            moves.append((prospect, MoveReason.LINK_LIVE))
            entries.append(_entry("placement.back", f"Link back on {placement.page_url}", prospect))
    move_stages(session, moves, at=now)
    record_system_activities(session, entries, now)
    for placement, verdict, prospect, summary in lost:
        queue_notice(
            session,
            prospect.campaign_id,
            owner_email(session, prospect),
            f"[outreach] {summary}",
            f"{summary}.\nTarget: {placement.target}\nLast error: {verdict.error or 'none'}\n"
            "Open the placement in outreach to check it again or send a reclaim email.\n",
            now,
        )


def _entry(kind: str, summary: str, prospect: Prospect) -> SystemEntry:
    return SystemEntry(kind, summary, prospect.campaign_id, prospect.id)


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
        session, placement, verify(session, page, placement), now, intervals, _JITTER, duration
    )
    session.commit()
    return check


# How long a claimed placement stays another worker's: longer than any batch's fetches take.
CHECK_LEASE = timedelta(minutes=10)


def claim_due_placements(
    session: Session, now: datetime, limit: int, lease: timedelta
) -> list[int]:
    """Take due placements for this worker: their next check moves a lease ahead, so another
    worker skips them, and a worker that dies leaves them due again when the lease ends."""
    due = sa.and_(col(Placement.next_check_at).is_not(None), col(Placement.next_check_at) <= now)
    return claim_rows(
        session,
        Placement,
        due,
        (Placement.next_check_at, Placement.id),
        limit,
        {"next_check_at": now + lease},
    )


def run_due_checks(
    engine: Engine,
    fetcher: PageFetcher,
    now: datetime,
    settings: CheckSettings,
    clock: Callable[[], datetime] | None = None,
) -> Counter[str]:
    """Check every placement that is due, fetching concurrently, storing each result.
    Counts the checks, and the placements that became live, unknown or lost.

    Pipelined: while one batch's results are verified and stored, the next batch is already
    being fetched. `clock` (default: `now` throughout) is read as each batch is claimed: deep
    in a long backlog, a claim still holds a full lease from when it was taken, so that no
    other worker takes it over while this one fetches it."""
    counts: Counter[str] = Counter()
    lease = CHECK_LEASE
    read_clock = clock or (lambda: now)
    with ThreadPoolExecutor(1, thread_name_prefix="link-batch") as prefetch:
        waiting: _ClaimedBatch | None = None
        while True:
            claimed_at = read_clock()
            with Session(engine) as session:
                claimed = _claimed_pages(session, claimed_at, settings.batch, lease)
            fetching = None
            if claimed:
                urls = [url for _, url in claimed]
                pages = prefetch.submit(fetch_many, fetcher, urls, settings.workers)
                fetching = _ClaimedBatch(claimed, claimed_at, pages)
            if waiting is not None:
                store = partial(
                    _store_checks,
                    engine,
                    waiting.placements,
                    waiting.pages.result(),
                    waiting.claimed_at,
                    waiting.claimed_at + lease,
                    settings,
                )
                counts.update(retry_deadlocks(store))
            if fetching is None:
                return counts
            waiting = fetching


@dataclass(frozen=True)
class _ClaimedBatch:
    placements: list[tuple[int, str]]
    claimed_at: datetime
    pages: Future[list[FetchedPage]]


def _claimed_pages(
    session: Session, now: datetime, limit: int, lease: timedelta
) -> list[tuple[int, str]]:
    ids = claim_due_placements(session, now, limit, lease)
    if not ids:
        return []
    return list(
        session.exec(
            select(Placement.id, Placement.page_url)
            .where(col(Placement.id).in_(ids))
            .order_by(Placement.id)
        ).all()
    )


def _store_checks(
    engine: Engine,
    batch: list[tuple[int, str]],
    pages: list[FetchedPage],
    now: datetime,
    held_until: datetime,
    settings: CheckSettings,
) -> Counter[str]:
    counts: Counter[str] = Counter()
    with Session(engine) as session:
        # Only the placements this worker still holds, locked until the commit: a claim that
        # outlived its lease may have been taken over, and then the other worker records it.
        held = set(
            session.execute(
                sa.update(Placement)
                .where(col(Placement.id).in_([pid for pid, _ in batch]))
                .where(Placement.next_check_at == held_until)
                .values(next_check_at=held_until)
                .returning(Placement.id)
                .execution_options(synchronize_session=False)
            ).scalars()
        )
        kept = [(pid, page) for (pid, _), page in zip(batch, pages, strict=True) if pid in held]
        ids = [placement_id for placement_id, _ in kept]
        placements = {
            p.id: p for p in session.exec(select(Placement).where(col(Placement.id).in_(ids)))
        }
        # What record_check does for one check, for the batch in a few bulk statements.
        check_rows: list[dict[str, Any]] = []
        placement_rows: list[dict[str, Any]] = []
        checks: list[tuple[Placement, StatusChange, Verdict]] = []
        for placement_id, page in kept:
            placement = placements[placement_id]
            result = verify(session, page, placement)
            values, changes, change = evaluate_check(
                placement, result, now, settings.intervals, _JITTER
            )
            counts["checked"] += 1
            _log_check(placement_id, result.verdict, change, None)
            if change.status is not placement.status:
                counts[change.status.value] += 1
            check_rows.append(values)
            placement_rows.append({"id": placement_id, **changes})
            checks.append((placement, change, result.verdict))
        if not check_rows:
            return counts
        session.execute(sa.insert(PlacementCheck), check_rows)
        # Rows that set the same columns go in one executemany; it takes them as they come. The
        # placements loaded above keep their old values: nothing here reads those again.
        session.execute(
            sa.update(Placement).execution_options(synchronize_session=False),
            sorted(placement_rows, key=sorted),
        )
        _apply_events(session, checks, now)
        session.commit()
    return counts


def set_toxic(session: Session, placement: Placement, toxic: bool, actor: User) -> None:
    """Mark a link toxic (it goes into the campaign's disavow file) or take that back."""
    placement.toxic = toxic
    prospect = session.get(Prospect, placement.prospect_id)
    record_activity(
        session,
        "placement.toxic" if toxic else "placement.not_toxic",
        f"Link on {placement.page_url} marked {'toxic' if toxic else 'not toxic'}",
        actor=actor,
        campaign_id=prospect.campaign_id,
        prospect_id=prospect.id,
    )
    session.commit()


class ReclaimRefusedError(ValueError):
    """A reclaim email that cannot be sent; the message says why."""


@dataclass(frozen=True)
class ReclaimDraft:
    to_address: str
    subject: str
    body: str
    mailbox_email: str


@dataclass(frozen=True)
class _Route:
    contact: Contact
    mailbox: Mailbox
    earlier: list[Message]


def _reclaim_route(session: Session, placement: Placement) -> _Route:
    """Write to whoever we last wrote to about this site, from the same mailbox, in the same
    thread; else to the site's contact from the campaign's first active mailbox."""
    prospect = session.get(Prospect, placement.prospect_id)
    last = session.exec(
        select(Message)
        .where(
            Message.prospect_id == prospect.id,
            Message.direction == Direction.OUTBOUND,
            Message.status == MessageStatus.SENT,
            col(Message.contact_id).is_not(None),
        )
        .order_by(sa.desc(Message.sent_at))
    ).first()
    contact = session.get(Contact, last.contact_id) if last else choose_contact(session, prospect)
    if contact is None or not contact.email:
        raise ReclaimRefusedError("There is no contact with an email address for this site.")
    mailbox = session.get(Mailbox, last.mailbox_id) if last and last.mailbox_id else None
    if mailbox is None or not mailbox.active:
        mailbox = campaign_mailbox(session, prospect.campaign_id)
    if mailbox is None:
        raise ReclaimRefusedError("The campaign has no active mailbox to send from.")
    earlier = list(
        session.exec(
            select(Message)
            .where(
                Message.prospect_id == prospect.id,
                Message.contact_id == contact.id,
                Message.direction == Direction.OUTBOUND,
                Message.status == MessageStatus.SENT,
            )
            .order_by(Message.sent_at, Message.id)
        )
    )
    return _Route(contact, mailbox, earlier)


def reclaim_draft(session: Session, placement: Placement) -> ReclaimDraft:
    """A polite note for a lost link, for the user to edit before it goes."""
    route = _reclaim_route(session, placement)
    target = placement.target.removeprefix("domain:")
    subject = (
        followup_subject(route.earlier[0].subject)
        if route.earlier
        else f"The link on {placement.page_url}"
    )
    body = (
        f"Hi {route.contact.first_name or 'there'},\n\n"
        f"Thank you again for linking to us from {placement.page_url}. I noticed that the link "
        f"to {target} is no longer on the page. Was that on purpose? If it went missing in an "
        "update, we would be grateful if you could put it back.\n\n"
        f"Best,\n{route.mailbox.from_name or route.mailbox.email}\n"
    )
    return ReclaimDraft(route.contact.email or "", subject, body, route.mailbox.email)


def send_reclaim(
    session: Session,
    placement: Placement,
    subject: str,
    body: str,
    actor: User,
    now: datetime,
    ctx: MailContext,
) -> Message:
    """Queue the reclaim email; the dispatcher sends it within the mailbox's window and caps,
    unless the address has opted out or bounced since."""
    subject = " ".join(subject.split())
    if not subject or not body.strip():
        raise ReclaimRefusedError("Write a subject and a message.")
    route = _reclaim_route(session, placement)
    prospect = session.get(Prospect, placement.prospect_id)
    stop = reason_not_to_email(session, prospect, route.contact)
    if stop is not None and stop is not StopReason.STAGE_MOVED:
        raise ReclaimRefusedError(f"{route.contact.email} cannot be emailed: {STOP_LABELS[stop]}.")
    in_reply_to, references = thread_headers([m.message_id for m in route.earlier])
    link = unsubscribe_url(ctx.public_url, unsubscribe_token(ctx.secret_key, route.contact.email))
    message = Message(
        direction=Direction.OUTBOUND,
        status=MessageStatus.QUEUED,
        message_id=new_message_id(route.mailbox.email),
        in_reply_to=in_reply_to,
        references=references,
        mailbox_id=route.mailbox.id,
        prospect_id=prospect.id,
        contact_id=route.contact.id,
        from_address=route.mailbox.email,
        to_address=route.contact.email,
        subject=subject,
        body_text=outreach_body(body, route.mailbox.signature, link),
        scheduled_at=now,
        created_at=now,
    )
    session.add(message)
    record_activity(
        session,
        "placement.reclaim",
        f"Reclaim email queued to {route.contact.email} for {placement.page_url}",
        actor=actor,
        campaign_id=prospect.campaign_id,
        prospect_id=prospect.id,
        at=now,
    )
    session.commit()
    return message


def campaign_mailbox(session: Session, campaign_id: int) -> Mailbox | None:
    return session.exec(
        select(Mailbox)
        .join(CampaignMailbox)
        .where(CampaignMailbox.campaign_id == campaign_id, Mailbox.active)
        .order_by(Mailbox.id)
    ).first()


def queue_notice(
    session: Session, campaign_id: int, to_address: str, subject: str, body: str, now: datetime
) -> Message | None:
    """An email to one of our own users (say, a lost link), from the campaign's mailbox; None
    when the campaign has no mailbox, and then the activity log is the only alert."""
    mailbox = campaign_mailbox(session, campaign_id)
    if mailbox is None or not to_address:
        return None
    message = Message(
        direction=Direction.OUTBOUND,
        status=MessageStatus.QUEUED,
        message_id=new_message_id(mailbox.email),
        mailbox_id=mailbox.id,
        from_address=mailbox.email,
        to_address=to_address,
        subject=subject,
        body_text=body,
        scheduled_at=now,
        created_at=now,
    )
    session.add(message)
    return message


def owner_email(session: Session, prospect: Prospect) -> str:
    """Who hears about a prospect's links: its owner, else the campaign's."""
    owner_id = prospect.owner_id or session.get(Campaign, prospect.campaign_id).owner_id
    owner = session.get(User, owner_id) if owner_id else None
    return owner.email if owner else ""


def remind_expiring(session: Session, now: datetime) -> int:
    """The 7- and 2-day reminders before paid or time-limited links expire; each goes out
    once, as an activity and an email to the owner, however many workers run this at once:
    each marks its reminders with a compare-and-set, and the one that loses sends nothing."""
    today = now.date()
    soon = today + timedelta(days=max(EXPIRY_REMINDER_DAYS))
    placements = session.exec(
        select(Placement).where(
            col(Placement.expires_on).is_not(None),
            col(Placement.expires_on) >= today,
            col(Placement.expires_on) <= soon,
        )
    ).all()
    sent = 0
    for placement in placements:
        due = expiry_reminders_due(placement.expires_on, today, set(placement.reminders_sent))
        if not due:
            continue
        marked = session.execute(
            sa.update(Placement)
            .where(
                Placement.id == placement.id,
                Placement.reminders_sent == placement.reminders_sent,
            )
            .values(reminders_sent=sorted({*placement.reminders_sent, *due}))
            .execution_options(synchronize_session=False)
        ).rowcount
        if not marked:
            continue
        prospect = session.get(Prospect, placement.prospect_id)
        days = (placement.expires_on - today).days
        summary = f"Link on {placement.page_url} expires on {placement.expires_on} ({days} days)"
        _log(session, "placement.expiring", summary, prospect, now)
        queue_notice(
            session,
            prospect.campaign_id,
            owner_email(session, prospect),
            f"[outreach] {summary}",
            f"{summary}.\nRenew it with the site, or plan its replacement.\n",
            now,
        )
        sent += 1
    session.commit()
    return sent
