"""Prospects, their domains, contacts and tags: adding, changing, moving, listing."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from sqlmodel import Session, col, func, select

from outreach.activity.services import record_activity
from outreach.auth.models import User
from outreach.campaigns.models import Campaign, ContentAsset
from outreach.db import utcnow
from outreach.mail.models import Enrolment
from outreach.mail.stopping import (
    STAGES_THAT_STOP,
    StopReason,
    stop_enrolments,
    stop_enrolments_for_prospects,
)
from outreach.prospects.models import (
    Contact,
    Domain,
    Prospect,
    ProspectTag,
    Stage,
    StageChange,
    Tag,
)
from outreach.prospects.pipeline import STAGE_LABELS, MoveReason, next_stage
from outreach.prospects.schemas import ContactInput, ProspectInput, ProspectQuery, ProspectUpdate
from outreach.reports.models import ProspectTally


class ProspectError(ValueError):
    """A change to prospects that cannot be made; the message is for the user.

    `conflict` marks a refusal because of what is already stored (a duplicate, a do-not-contact
    domain), as opposed to input that is wrong in itself.
    """

    def __init__(self, message: str, field: str = "", *, conflict: bool = False) -> None:
        super().__init__(message)
        self.field = field
        self.conflict = conflict


def search_text(domain: str, people: Iterable[str], notes: str) -> str:
    """What the search box matches: domain, contact names and emails, and notes, lower case."""
    return " ".join(f"{domain} {' '.join(people)} {notes}".lower().split())


def contact_words(contact: Contact) -> str:
    return f"{contact.first_name} {contact.last_name} {contact.email or ''}"


def refresh_search_text(session: Session, domain_ids: Iterable[int]) -> None:
    """Recompute search text for every prospect of these domains (contacts are per domain)."""
    ids = set(domain_ids)
    if not ids:
        return
    contacts: dict[int, list[str]] = {}
    for contact in session.exec(select(Contact).where(Contact.domain_id.in_(ids))):
        contacts.setdefault(contact.domain_id, []).append(contact_words(contact))
    rows = session.exec(
        select(Prospect, Domain.name)
        .join(Domain, Domain.id == Prospect.domain_id)
        .where(Prospect.domain_id.in_(ids))
    )
    for prospect, name in rows:
        prospect.search_text = search_text(
            name, contacts.get(prospect.domain_id, []), prospect.notes
        )


@dataclass(frozen=True)
class CampaignPresence:
    campaign_id: int
    campaign_name: str
    stage: Stage


@dataclass(frozen=True)
class DomainHistory:
    """What the agency already knows of a domain, shown before it is added again."""

    name: str
    known: bool = False
    do_not_contact: bool = False
    do_not_contact_reason: str = ""
    last_contacted_at: datetime | None = None
    last_contacted_by: str = ""
    campaigns: list[CampaignPresence] = field(default_factory=list)


def domain_history(
    session: Session, name: str, exclude_campaign_id: int | None = None
) -> DomainHistory:
    domain = session.exec(select(Domain).where(Domain.name == name)).first()
    if domain is None:
        return DomainHistory(name=name)
    by = session.get(User, domain.last_contacted_by_id) if domain.last_contacted_by_id else None
    presences = session.exec(
        select(Campaign.id, Campaign.name, Prospect.stage)
        .join(Prospect, Prospect.campaign_id == Campaign.id)
        .where(Prospect.domain_id == domain.id)
        .order_by(Campaign.name)
    ).all()
    return DomainHistory(
        name=name,
        known=True,
        do_not_contact=domain.do_not_contact,
        do_not_contact_reason=domain.do_not_contact_reason,
        last_contacted_at=domain.last_contacted_at,
        last_contacted_by=by.display_name if by else "",
        campaigns=[CampaignPresence(*row) for row in presences if row[0] != exclude_campaign_id],
    )


def _domain(session: Session, name: str) -> Domain:
    domain = session.exec(select(Domain).where(Domain.name == name)).first()
    if domain is None:
        domain = Domain(name=name)
        session.add(domain)
        session.flush()
    return domain


def _check_refs(session: Session, campaign_id: int, data: ProspectUpdate | ProspectInput) -> None:
    if data.owner_id is not None and session.get(User, data.owner_id) is None:
        raise ProspectError(f"There is no user {data.owner_id}.", "owner_id")
    if data.asset_id is not None:
        asset = session.get(ContentAsset, data.asset_id)
        if asset is None or asset.campaign_id != campaign_id:
            raise ProspectError(f"Campaign has no content asset {data.asset_id}.", "asset_id")


def add_prospect(
    session: Session,
    campaign: Campaign,
    data: ProspectInput,
    actor: User,
    *,
    check_deliverability: bool = False,
) -> Prospect:
    """Add a site to a campaign, refusing do-not-contact domains and duplicates."""
    _check_refs(session, campaign.id, data)
    if check_deliverability and data.contact and data.contact.email:
        check_deliverable(data.contact.email)
    existing = session.exec(select(Domain).where(Domain.name == data.domain)).first()
    if existing is not None and existing.do_not_contact:
        reason = f" ({existing.do_not_contact_reason})" if existing.do_not_contact_reason else ""
        raise ProspectError(
            f"{data.domain} is marked do-not-contact{reason} and cannot be added.",
            "domain",
            conflict=True,
        )
    if existing is not None:
        duplicate = session.exec(
            select(Prospect).where(
                Prospect.campaign_id == campaign.id, Prospect.domain_id == existing.id
            )
        ).first()
        if duplicate is not None:
            raise ProspectError(
                f"{data.domain} is already in this campaign "
                f"(stage {STAGE_LABELS[duplicate.stage]}).",
                "domain",
                conflict=True,
            )
    domain = existing or _domain(session, data.domain)
    values = data.model_dump(exclude={"domain", "contact", "tags"})
    prospect = Prospect(campaign_id=campaign.id, domain_id=domain.id, **values)
    if prospect.owner_id is None:
        prospect.owner_id = actor.id
    session.add(prospect)
    session.flush()
    session.add(
        StageChange(
            prospect_id=prospect.id,
            to_stage=Stage.PROSPECT,
            changed_by_id=actor.id,
            reason=MoveReason.MANUAL.value,
        )
    )
    if data.contact is not None:
        _save_contact(session, prospect, domain, data.contact)
    _add_tags(session, [prospect.id], data.tags)
    refresh_search_text(session, [domain.id])
    record_activity(
        session,
        "prospect.added",
        f"{domain.name} added to {campaign.name}",
        actor=actor,
        campaign_id=campaign.id,
        prospect_id=prospect.id,
    )
    session.commit()
    return prospect


def check_deliverable(email: str) -> None:
    """Refuse an address whose domain does not accept mail (DNS); used when the setting is on."""
    try:
        validate_email(email, check_deliverability=True)
    except EmailNotValidError as exc:
        raise ProspectError(f"{email} cannot receive email: {exc}", "contact_email") from None


def _save_contact(
    session: Session, prospect: Prospect, domain: Domain, data: ContactInput
) -> Contact:
    contact = None
    if data.email:
        contact = session.exec(
            select(Contact).where(Contact.domain_id == domain.id, Contact.email == data.email)
        ).first()
    if contact is None:
        contact = Contact(domain_id=domain.id, **data.model_dump(exclude={"primary"}))
        session.add(contact)
        session.flush()
    else:
        for name, value in data.model_dump(exclude={"primary", "email"}).items():
            if value:
                setattr(contact, name, value)
    if data.primary or prospect.primary_contact_id is None:
        prospect.primary_contact_id = contact.id
    return contact


def add_contact(
    session: Session,
    prospect: Prospect,
    data: ContactInput,
    actor: User,
    *,
    check_deliverability: bool = False,
) -> Contact:
    """Add a person at the prospect's domain (or update the one with the same email)."""
    if check_deliverability and data.email:
        check_deliverable(data.email)
    domain = session.get(Domain, prospect.domain_id)
    contact = _save_contact(session, prospect, domain, data)
    refresh_search_text(session, [domain.id])
    record_activity(
        session,
        "contact.added",
        f"Contact {contact.full_name or contact.email} added",
        actor=actor,
        campaign_id=prospect.campaign_id,
        prospect_id=prospect.id,
    )
    session.commit()
    return contact


def _add_tags(session: Session, prospect_ids: Sequence[int], names: Sequence[str]) -> None:
    if not names or not prospect_ids:
        return
    known = dict(session.exec(select(Tag.name, Tag.id).where(Tag.name.in_(names))).all())
    for name in names:
        if name not in known:
            tag = Tag(name=name)
            session.add(tag)
            session.flush()
            known[name] = tag.id
    tag_ids = [known[name] for name in names]
    present = set(
        session.exec(
            select(ProspectTag.prospect_id, ProspectTag.tag_id).where(
                ProspectTag.prospect_id.in_(prospect_ids), ProspectTag.tag_id.in_(tag_ids)
            )
        ).all()
    )
    session.add_all(
        ProspectTag(prospect_id=pid, tag_id=tid)
        for pid in prospect_ids
        for tid in tag_ids
        if (pid, tid) not in present
    )


def tags_of(session: Session, prospect_ids: Sequence[int]) -> dict[int, list[str]]:
    tags: dict[int, list[str]] = {pid: [] for pid in prospect_ids}
    if not prospect_ids:
        return tags
    rows = session.exec(
        select(ProspectTag.prospect_id, Tag.name)
        .join(Tag, Tag.id == ProspectTag.tag_id)
        .where(ProspectTag.prospect_id.in_(prospect_ids))
        .order_by(Tag.name)
    )
    for prospect_id, name in rows:
        tags[prospect_id].append(name)
    return tags


# The column stamped the first time a prospect reaches each of these stages.
FIRST_REACHED = {
    Stage.CONTACTED: "contacted_at",
    Stage.REPLIED: "replied_at",
    Stage.LINKED: "linked_at",
}


def move_stage(
    session: Session,
    prospect: Prospect,
    reason: MoveReason,
    *,
    to: Stage | None = None,
    actor: User | None = None,
    at: datetime | None = None,
) -> StageChange | None:
    """The one way a prospect changes stage, by hand or by the system; None if it stays.

    The caller commits. Entering *contacted* stamps the domain's last contact.
    """
    target = next_stage(prospect.stage, reason, to)
    if target is None:
        return None
    if target in STAGES_THAT_STOP:
        stop_enrolments_for_prospects(session, [prospect.id], StopReason.STAGE_MOVED)
    change = StageChange(**_enter_stage(session, prospect, target, reason, actor, at or utcnow()))
    session.add(change)
    return change


def move_stages(
    session: Session, moves: Sequence[tuple[Prospect, MoveReason]], *, at: datetime
) -> int:
    """`move_stage` for many system events at once (the link checker's batches), in their
    order: a later move of a prospect starts where an earlier one left it. The sequences of
    all the prospects that move past *contacted* are stopped together, and the history is
    written in one statement. Returns the moves made; the caller commits."""
    stopping: list[int] = []
    history: list[dict[str, Any]] = []
    for prospect, reason in moves:
        target = next_stage(prospect.stage, reason)
        if target is None:
            continue
        if target in STAGES_THAT_STOP:
            stopping.append(prospect.id)
        history.append(_enter_stage(session, prospect, target, reason, None, at))
    if stopping:
        stop_enrolments_for_prospects(session, stopping, StopReason.STAGE_MOVED)
    if history:
        session.execute(sa.insert(StageChange.__table__), history)
    return len(history)


def _enter_stage(
    session: Session,
    prospect: Prospect,
    target: Stage,
    reason: MoveReason,
    actor: User | None,
    moved_at: datetime,
) -> dict[str, Any]:
    """The move itself, once it is decided and the sequences are stopped; returns the values of
    its history row (a StageChange), for the caller to write."""
    change = {
        "prospect_id": prospect.id,
        "from_stage": prospect.stage,
        "to_stage": target,
        "changed_at": moved_at,
        "changed_by_id": actor.id if actor else None,
        "reason": reason.value,
    }
    prospect.stage = target
    prospect.stage_changed_at = moved_at
    first_reached = FIRST_REACHED.get(target)
    if first_reached and getattr(prospect, first_reached) is None:
        setattr(prospect, first_reached, moved_at)
    if target is Stage.CONTACTED:
        domain = session.get(Domain, prospect.domain_id)
        domain.last_contacted_at = moved_at
        domain.last_contacted_by_id = actor.id if actor else prospect.owner_id
    return change


def update_prospect(
    session: Session, prospect: Prospect, changes: dict[str, Any], actor: User
) -> Prospect:
    """Apply some fields; raises pydantic.ValidationError or ProspectError, saving nothing."""
    data = ProspectUpdate.model_validate(changes)
    _check_refs(session, prospect.campaign_id, data)
    sent = data.model_dump(exclude_unset=True)
    changed: list[str] = []
    for name, value in sent.items():
        if name in ("stage", "tags"):
            continue
        if getattr(prospect, name) != value:
            setattr(prospect, name, value)
            changed.append(name)
    if "tags" in sent:
        _replace_tags(session, prospect.id, data.tags)
        changed.append("tags")
    if data.stage is not None and move_stage(
        session, prospect, MoveReason.MANUAL, to=data.stage, actor=actor
    ):
        changed.append("stage")
    if "notes" in changed:
        refresh_search_text(session, [prospect.domain_id])
    if changed:
        prospect.updated_at = utcnow()
        record_activity(
            session,
            "prospect.updated",
            f"Changed {', '.join(sorted(changed))}",
            actor=actor,
            campaign_id=prospect.campaign_id,
            prospect_id=prospect.id,
            data={"fields": sorted(changed)},
        )
    session.commit()
    return prospect


def _replace_tags(session: Session, prospect_id: int, names: Sequence[str]) -> None:
    session.exec(sa.delete(ProspectTag).where(ProspectTag.prospect_id == prospect_id))
    _add_tags(session, [prospect_id], names)


def add_note(session: Session, prospect: Prospect, text: str, actor: User) -> None:
    note = text.strip()
    if not note:
        raise ProspectError("The note is empty.", "note")
    record_activity(
        session,
        "prospect.note",
        note[:500],
        actor=actor,
        campaign_id=prospect.campaign_id,
        prospect_id=prospect.id,
        data={"text": note},
    )
    session.commit()


# --- Lists -------------------------------------------------------------------------------


SORTS: dict[str, Any] = {
    "domain": Domain.name,
    "dr": Prospect.domain_rating,
    "traffic": Prospect.traffic,
    "relevance": Prospect.relevance,
    "stage": Prospect.stage,
    "added": Prospect.created_at,
    "updated": Prospect.updated_at,
    "last_contacted": Domain.last_contacted_at,
}


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def filter_conditions(
    campaign_id: int | None, query: ProspectQuery, me: int | None = None, *, counting: bool = False
) -> list[Any]:
    """WHERE clauses for prospects (joined with their domain); all campaigns when id is None.

    `counting` picks the faster form of the tag test for a count: starting from the tag's rows.
    A page is faster the other way round: walk the sort order and check each row's tags.
    """
    where: list[Any] = [] if campaign_id is None else [Prospect.campaign_id == campaign_id]
    if query.stage:
        where.append(Prospect.stage.in_(query.stage))
    if query.owner == "none":
        where.append(Prospect.owner_id.is_(None))
    elif query.owner:
        where.append(Prospect.owner_id == (me if query.owner == "me" else int(query.owner)))
    if query.tag:
        tag_id = select(Tag.id).where(Tag.name == query.tag.lower()).scalar_subquery()
        if counting:
            tagged = select(ProspectTag.prospect_id).where(ProspectTag.tag_id == tag_id)
            where.append(Prospect.id.in_(tagged))
        else:
            where.append(
                sa.exists().where(
                    ProspectTag.prospect_id == Prospect.id, ProspectTag.tag_id == tag_id
                )
            )
    for column, low, high in (
        (Prospect.domain_rating, query.dr_min, query.dr_max),
        (Prospect.traffic, query.traffic_min, query.traffic_max),
        (Prospect.relevance, query.relevance_min, None),
    ):
        if low is not None:
            where.append(column >= low)
        if high is not None:
            where.append(column <= high)
    if query.never_contacted:
        where.append(Domain.last_contacted_at.is_(None))
    if query.contacted_before is not None:
        where.append(Domain.last_contacted_at < _day_start(query.contacted_before))
    if query.contacted_after is not None:
        where.append(Domain.last_contacted_at >= _day_start(query.contacted_after))
    for term in query.q.lower().split():
        escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where.append(Prospect.search_text.like(f"%{escaped}%", escape="\\"))
    return where


@dataclass(frozen=True)
class ProspectRow:
    prospect: Prospect
    domain: str
    do_not_contact: bool
    last_contacted_at: datetime | None
    owner_name: str
    contact_name: str
    contact_email: str
    tags: list[str]


# Sort keys whose column may be empty: missing values go last whichever the direction.
NULLABLE_SORTS = {"dr", "traffic", "relevance", "last_contacted"}


def count_prospects(
    session: Session, campaign_id: int | None, query: ProspectQuery, me: int | None = None
) -> int:
    statement = select(func.count()).select_from(Prospect)
    if _needs_domain(query):
        statement = statement.join(Domain, Domain.id == Prospect.domain_id)
    where = filter_conditions(campaign_id, query, me, counting=True)
    return session.exec(statement.where(*where)).one()


def _needs_domain(query: ProspectQuery) -> bool:
    return bool(query.never_contacted or query.contacted_before or query.contacted_after)


def list_prospects(
    session: Session,
    campaign_id: int | None,
    query: ProspectQuery,
    me: int | None = None,
    *,
    with_total: bool = True,
) -> tuple[list[ProspectRow], int | None]:
    """A page of prospects, filtered and sorted as asked, and how many match in all."""
    where = filter_conditions(campaign_id, query, me)
    total = count_prospects(session, campaign_id, query, me) if with_total else None
    column = SORTS[query.sort]
    descending = query.order == "desc"
    order = column.desc() if descending else column.asc()
    if query.sort in NULLABLE_SORTS:
        # Only here: NULLS LAST on a non-null column would stop PostgreSQL using its index.
        order = order.nulls_last()
    tie = Prospect.id.desc() if descending else Prospect.id.asc()
    # Sort and skip over ids only (narrow rows, index-only where possible), then fetch the page.
    page = select(Prospect.id)
    if _needs_domain(query) or query.sort in ("domain", "last_contacted"):
        page = page.join(Domain, Domain.id == Prospect.domain_id)
    page_ids = (
        page.where(*where).order_by(order, tie).offset(query.offset).limit(query.per_page)
    ).subquery()
    return _prospect_rows(session, page_ids, (order, tie)), total


def board_columns(
    session: Session, campaign_id: int, stages: Sequence[Stage], per_column: int
) -> dict[Stage, list[ProspectRow]]:
    """Each stage's most recently updated prospects, for the board: all columns in three
    queries (ids, rows, tags), not in three per column."""
    newest_first = (col(Prospect.updated_at).desc(), col(Prospect.id).desc())
    columns = [
        select(Prospect.id)
        .where(Prospect.campaign_id == campaign_id, Prospect.stage == stage)
        .order_by(*newest_first)
        .limit(per_column)
        .subquery()
        for stage in stages
    ]
    page_ids = sa.union_all(*(select(column.c.id) for column in columns)).subquery()
    board: dict[Stage, list[ProspectRow]] = {stage: [] for stage in stages}
    for row in _prospect_rows(session, page_ids, newest_first):
        board[row.prospect.stage].append(row)
    return board


def _prospect_rows(
    session: Session, page_ids: sa.Subquery, order: tuple[Any, ...]
) -> list[ProspectRow]:
    """The prospects whose ids `page_ids` holds, in `order`, with what a list shows of each."""
    rows = session.exec(
        select(
            Prospect,
            Domain.name,
            Domain.do_not_contact,
            Domain.last_contacted_at,
            User.name,
            User.email,
            Contact.first_name,
            Contact.last_name,
            Contact.email,
        )
        .join(page_ids, page_ids.c.id == Prospect.id)
        .join(Domain, Domain.id == Prospect.domain_id)
        .outerjoin(User, User.id == Prospect.owner_id)
        .outerjoin(Contact, Contact.id == Prospect.primary_contact_id)
        .order_by(*order)
    ).all()
    tags = tags_of(session, [row[0].id for row in rows])
    return [
        ProspectRow(
            prospect=p,
            domain=name,
            do_not_contact=dnc,
            last_contacted_at=contacted,
            owner_name=owner_name or owner_email or "",
            contact_name=" ".join(part for part in (first, last) if part),
            contact_email=email or "",
            tags=tags[p.id],
        )
        for p, name, dnc, contacted, owner_name, owner_email, first, last, email in rows
    ]


def matching_ids(
    session: Session, campaign_id: int | None, query: ProspectQuery, me: int | None = None
) -> list[int]:
    return list(
        session.exec(
            select(Prospect.id)
            .join(Domain, Domain.id == Prospect.domain_id)
            .where(*filter_conditions(campaign_id, query, me))
        ).all()
    )


def stage_counts(session: Session, campaign_id: int) -> dict[Stage, int]:
    """Prospects per stage, from the tallies the database keeps as prospects are written
    (reports.models): the board shows them on every load, without counting 100k rows."""
    counts = dict(
        session.exec(
            select(ProspectTally.stage, func.sum(ProspectTally.prospects))
            .where(ProspectTally.campaign_id == campaign_id)
            .group_by(ProspectTally.stage)
        ).all()
    )
    return {stage: counts.get(stage.value, 0) for stage in Stage}


# --- Bulk actions ------------------------------------------------------------------------


def _campaign_prospects(
    session: Session, campaign_id: int | None, ids: Sequence[int]
) -> list[Prospect]:
    where = [Prospect.id.in_(ids)]
    if campaign_id is not None:
        where.append(Prospect.campaign_id == campaign_id)
    return list(session.exec(select(Prospect).where(*where)).all())


def bulk_assign(
    session: Session, campaign_id: int | None, ids: Sequence[int], owner: User | None, actor: User
) -> int:
    prospects = _campaign_prospects(session, campaign_id, ids)
    for prospect in prospects:
        prospect.owner_id = owner.id if owner else None
    _bulk_activity(
        session,
        campaign_id,
        f"Assigned {len(prospects)} prospects to {owner.display_name if owner else 'nobody'}",
        actor,
    )
    session.commit()
    return len(prospects)


def bulk_tag(
    session: Session, campaign_id: int | None, ids: Sequence[int], names: Sequence[str], actor: User
) -> int:
    prospects = _campaign_prospects(session, campaign_id, ids)
    if not names:
        raise ProspectError("Enter a tag.", "tag")
    _add_tags(session, [p.id for p in prospects], names)
    _bulk_activity(
        session, campaign_id, f"Tagged {len(prospects)} prospects {', '.join(names)}", actor
    )
    session.commit()
    return len(prospects)


def bulk_move(
    session: Session, campaign_id: int | None, ids: Sequence[int], stage: Stage, actor: User
) -> int:
    moved = 0
    for prospect in _campaign_prospects(session, campaign_id, ids):
        if move_stage(session, prospect, MoveReason.MANUAL, to=stage, actor=actor):
            moved += 1
    _bulk_activity(session, campaign_id, f"Moved {moved} prospects to {STAGE_LABELS[stage]}", actor)
    session.commit()
    return moved


def bulk_do_not_contact(
    session: Session, campaign_id: int | None, ids: Sequence[int], reason: str, actor: User
) -> int:
    """Mark the prospects' domains do-not-contact, in every campaign."""
    domain_ids = {p.domain_id for p in _campaign_prospects(session, campaign_id, ids)}
    for domain in session.exec(select(Domain).where(Domain.id.in_(domain_ids))):
        domain.do_not_contact = True
        domain.do_not_contact_reason = reason.strip()[:500]
    every_prospect_there = select(Prospect.id).where(Prospect.domain_id.in_(domain_ids))
    stop_enrolments(
        session, Enrolment.prospect_id.in_(every_prospect_there), StopReason.DO_NOT_CONTACT
    )
    _bulk_activity(session, campaign_id, f"Marked {len(domain_ids)} domains do-not-contact", actor)
    session.commit()
    return len(domain_ids)


def bulk_delete(session: Session, campaign_id: int | None, ids: Sequence[int], actor: User) -> int:
    prospects = _campaign_prospects(session, campaign_id, ids)
    for prospect in prospects:
        session.delete(prospect)
    _bulk_activity(session, campaign_id, f"Deleted {len(prospects)} prospects", actor)
    session.commit()
    return len(prospects)


def _bulk_activity(session: Session, campaign_id: int | None, summary: str, actor: User) -> None:
    record_activity(session, "prospects.bulk", summary, actor=actor, campaign_id=campaign_id)
