"""Sequences and enrolments: which prospects get which emails, from which mailbox, and when."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, or_, select

from outreach.activity.services import record_activity
from outreach.auth.models import User
from outreach.campaigns.models import Campaign
from outreach.mail.models import (
    CampaignMailbox,
    Direction,
    Enrolment,
    EnrolmentStatus,
    Mailbox,
    Message,
    MessageStatus,
    Sequence,
    SequenceStep,
    Suppression,
    SuppressionReason,
    Template,
)
from outreach.mail.schedule import (
    SendingWindow,
    next_in_window,
    parse_weekdays,
    step_due_at,
    zone,
)
from outreach.mail.schemas import SequenceInput
from outreach.mail.stopping import StopReason, SuppressionHit, stop_enrolments, stop_reason_for
from outreach.prospects.models import Contact, Domain, EmailStatus, Prospect


class SequenceRefusedError(ValueError):
    """A sequence change that cannot be saved; `field` names the input to fix."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def _check(session: Session, data: SequenceInput) -> None:
    if session.get(Campaign, data.campaign_id) is None:
        raise SequenceRefusedError(f"There is no campaign {data.campaign_id}.", "campaign_id")
    template_ids = {step.template_id for step in data.steps}
    usable = set(
        session.exec(
            select(Template.id).where(
                col(Template.id).in_(template_ids),
                or_(
                    Template.campaign_id == data.campaign_id,
                    col(Template.campaign_id).is_(None),
                ),
            )
        )
    )
    for number, step in enumerate(data.steps, start=1):
        if step.template_id not in usable:
            raise SequenceRefusedError(
                f"Step {number}: there is no template {step.template_id} usable in this "
                "campaign (its own templates and the shared ones are).",
                "steps",
            )


def create_sequence(session: Session, data: SequenceInput, actor: User) -> Sequence:
    _check(session, data)
    sequence = Sequence(
        campaign_id=data.campaign_id,
        name=data.name,
        auto_reply_delay_days=data.auto_reply_delay_days,
    )
    session.add(sequence)
    session.flush()
    for position, step in enumerate(data.steps, start=1):
        session.add(
            SequenceStep(
                sequence_id=sequence.id,
                position=position,
                delay_days=step.delay_days,
                template_id=step.template_id,
            )
        )
    record_activity(
        session,
        "sequence.created",
        f"Sequence {sequence.name} created with {len(data.steps)} steps",
        actor=actor,
        campaign_id=sequence.campaign_id,
    )
    session.commit()
    return sequence


def update_sequence(
    session: Session, sequence: Sequence, data: SequenceInput, actor: User, now: datetime
) -> Sequence:
    """Change a sequence. Emails already sent or queued keep their own text; enrolments
    waiting for a changed step get its new delay, and ones past the last step complete."""
    if data.campaign_id != sequence.campaign_id:
        raise SequenceRefusedError("A sequence cannot move to another campaign.", "campaign_id")
    _check(session, data)
    sequence.name = data.name
    sequence.auto_reply_delay_days = data.auto_reply_delay_days
    existing = {step.position: step for step in steps_of(session, sequence.id)}
    for position, wanted in enumerate(data.steps, start=1):
        step = existing.pop(position, None)
        if step is None:
            step = SequenceStep(sequence_id=sequence.id, position=position)
            session.add(step)
        step.delay_days = wanted.delay_days
        step.template_id = wanted.template_id
    for step in existing.values():
        session.delete(step)
    session.flush()
    _reschedule_waiting(session, sequence, len(data.steps), now)
    record_activity(
        session,
        "sequence.updated",
        f"Sequence {sequence.name} changed ({len(data.steps)} steps)",
        actor=actor,
        campaign_id=sequence.campaign_id,
    )
    session.commit()
    return sequence


def _reschedule_waiting(
    session: Session, sequence: Sequence, step_count: int, now: datetime
) -> None:
    steps = {step.position: step for step in steps_of(session, sequence.id)}
    waiting = session.exec(
        select(Enrolment).where(
            Enrolment.sequence_id == sequence.id,
            Enrolment.status == EnrolmentStatus.ACTIVE,
            col(Enrolment.next_due_at).is_not(None),
        )
    )
    for enrolment in waiting:
        if enrolment.next_position > step_count:
            enrolment.status = EnrolmentStatus.COMPLETED
            enrolment.next_due_at = None
            continue
        previous_sent = last_sent_at(session, enrolment.id)
        window = enrolment_window(session, enrolment)
        if previous_sent is not None and window is not None:
            delay = steps[enrolment.next_position].delay_days
            enrolment.next_due_at = max(step_due_at(previous_sent, delay, window), now)


def steps_of(session: Session, sequence_id: int) -> list[SequenceStep]:
    return list(
        session.exec(
            select(SequenceStep)
            .where(SequenceStep.sequence_id == sequence_id)
            .order_by(SequenceStep.position)
        )
    )


def list_sequences(session: Session, campaign_id: int | None = None) -> list[Sequence]:
    statement = select(Sequence).order_by(Sequence.name, Sequence.id)
    if campaign_id is not None:
        statement = statement.where(Sequence.campaign_id == campaign_id)
    return list(session.exec(statement))


def last_sent_at(session: Session, enrolment_id: int) -> datetime | None:
    return session.exec(
        select(func.max(Message.sent_at)).where(
            Message.enrolment_id == enrolment_id, Message.status == MessageStatus.SENT
        )
    ).one()


def window_for(mailbox: Mailbox, *time_zones: str) -> SendingWindow:
    """The mailbox's window, in the first known of the contact's, prospect's, campaign's zone."""
    return SendingWindow(
        days=parse_weekdays(mailbox.window_days),
        start=mailbox.window_start,
        end=mailbox.window_end,
        tz=zone(*time_zones),
    )


def enrolment_window(session: Session, enrolment: Enrolment) -> SendingWindow | None:
    mailbox = session.get(Mailbox, enrolment.mailbox_id) if enrolment.mailbox_id else None
    if mailbox is None:
        return None
    prospect = session.get(Prospect, enrolment.prospect_id)
    contact = session.get(Contact, enrolment.contact_id)
    campaign = session.get(Campaign, prospect.campaign_id)
    return window_for(mailbox, contact.timezone, prospect.timezone, campaign.timezone)


# Built once: the dispatcher checks every email just before sending it.
_SUPPRESSION_REASONS = select(Suppression.reason).where(
    or_(
        Suppression.email == sa.bindparam("email"),
        col(Suppression.domain).in_(sa.bindparam("domains", expanding=True)),
    )
)


def suppression_hit(session: Session, email: str | None) -> SuppressionHit:
    """Whether an address, or its domain or a parent domain, is on the suppression list."""
    if not email:
        return SuppressionHit.NONE
    domain = email.rpartition("@")[2]
    labels = domain.split(".")
    domains = [".".join(labels[i:]) for i in range(len(labels) - 1)]
    reasons = list(session.exec(_SUPPRESSION_REASONS, params={"email": email, "domains": domains}))
    if SuppressionReason.HARD_BOUNCE in reasons:
        return SuppressionHit.BOUNCED
    return SuppressionHit.OPTED_OUT if reasons else SuppressionHit.NONE


def reason_not_to_email(
    session: Session, prospect: Prospect, contact: Contact
) -> StopReason | None:
    """The stop rules, read from the database for one prospect and contact."""
    domain = session.get(Domain, prospect.domain_id)
    return stop_reason_for(
        stage=prospect.stage,
        do_not_contact=domain.do_not_contact,
        suppressed=suppression_hit(session, contact.email),
        email=contact.email,
        email_status=contact.email_status,
    )


def choose_contact(session: Session, prospect: Prospect) -> Contact | None:
    """The primary contact if it can be emailed, else the site's first contact that can."""
    usable = (EmailStatus.UNKNOWN, EmailStatus.VALID)
    if prospect.primary_contact_id:
        primary = session.get(Contact, prospect.primary_contact_id)
        if primary is not None and primary.email and primary.email_status in usable:
            return primary
    return session.exec(
        select(Contact)
        .where(
            Contact.domain_id == prospect.domain_id,
            col(Contact.email).is_not(None),
            col(Contact.email_status).in_(usable),
        )
        .order_by(Contact.id)
    ).first()


def least_loaded(loads: dict[int, int]) -> int | None:
    """Rotation: the mailbox with the fewest running enrolments (the lowest id on a tie)."""
    if not loads:
        return None
    return min(loads, key=lambda mailbox_id: (loads[mailbox_id], mailbox_id))


@dataclass
class EnrolmentResult:
    enrolled: list[int] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"enrolled": self.enrolled, "skipped": self.skipped}

    def summary(self) -> str:
        text = f"{len(self.enrolled)} enrolled"
        if self.skipped:
            reasons = Counter(item["reason"] for item in self.skipped)
            text += "; skipped " + ", ".join(f"{n} ({reason})" for reason, n in reasons.items())
        return text


def _mailbox_loads(session: Session, campaign_id: int) -> dict[int, int]:
    active = list(
        session.exec(
            select(Mailbox.id)
            .join(CampaignMailbox)
            .where(CampaignMailbox.campaign_id == campaign_id, Mailbox.active)
        )
    )
    loads = dict.fromkeys(active, 0)
    running = session.exec(
        select(Enrolment.mailbox_id, func.count())
        .where(
            col(Enrolment.mailbox_id).in_(active),
            Enrolment.status == EnrolmentStatus.ACTIVE,
        )
        .group_by(Enrolment.mailbox_id)
    ).all()
    for mailbox_id, count in running:
        loads[mailbox_id] = count
    return loads


def enrol(
    session: Session, sequence: Sequence, prospect_ids: list[int], actor: User, now: datetime
) -> EnrolmentResult:
    """Start the sequence for each prospect that can be emailed; say why for the others."""
    result = EnrolmentResult()
    campaign = session.get(Campaign, sequence.campaign_id)
    steps = steps_of(session, sequence.id)
    loads = _mailbox_loads(session, campaign.id)
    busy = dict(
        session.exec(
            select(Enrolment.prospect_id, Sequence.name)
            .join(Sequence)
            .where(
                col(Enrolment.prospect_id).in_(prospect_ids),
                or_(
                    Enrolment.status == EnrolmentStatus.ACTIVE,
                    Enrolment.sequence_id == sequence.id,
                ),
            )
        ).all()
    )
    for prospect_id in dict.fromkeys(prospect_ids):
        prospect = session.get(Prospect, prospect_id)
        reason = _refusal(session, prospect, campaign, busy, bool(loads))
        contact = choose_contact(session, prospect) if reason is None and prospect else None
        if reason is None and contact is None:
            reason = "no contact with a usable email address"
        if reason is None and contact is not None:
            stop = reason_not_to_email(session, prospect, contact)
            if stop is not None:
                reason = _REFUSALS.get(stop, stop.value)
        if reason is not None or contact is None or prospect is None:
            result.skipped.append({"prospect_id": prospect_id, "reason": reason})
            continue
        mailbox_id = least_loaded(loads)
        loads[mailbox_id] += 1
        mailbox = session.get(Mailbox, mailbox_id)
        window = window_for(mailbox, contact.timezone, prospect.timezone, campaign.timezone)
        session.add(
            Enrolment(
                sequence_id=sequence.id,
                prospect_id=prospect.id,
                contact_id=contact.id,
                mailbox_id=mailbox_id,
                next_position=1,
                next_due_at=step_due_at(now, steps[0].delay_days, window)
                if steps
                else next_in_window(now, window),
                enrolled_at=now,
                enrolled_by_id=actor.id,
            )
        )
        result.enrolled.append(prospect.id)
        record_activity(
            session,
            "sequence.enrolled",
            f"Enrolled in sequence {sequence.name}, writing to {contact.email}",
            actor=actor,
            campaign_id=campaign.id,
            prospect_id=prospect.id,
            at=now,
        )
    record_activity(
        session,
        "sequence.enrolment",
        f"Sequence {sequence.name}: {result.summary()}",
        actor=actor,
        campaign_id=campaign.id,
        at=now,
    )
    session.commit()
    return result


_REFUSALS = {
    StopReason.STAGE_MOVED: "already past contacted",
    StopReason.DO_NOT_CONTACT: "the site is do-not-contact",
    StopReason.BOUNCED: "the address bounced",
    StopReason.UNSUBSCRIBED: "the address opted out",
    StopReason.NO_EMAIL: "no contact with a usable email address",
}


def _refusal(
    session: Session,
    prospect: Prospect | None,
    campaign: Campaign,
    busy: dict[int, str],
    has_mailbox: bool,
) -> str | None:
    if prospect is None or prospect.campaign_id != campaign.id:
        return "not a prospect of this campaign"
    if prospect.id in busy:
        return f"already in sequence {busy[prospect.id]}"
    if not has_mailbox:
        return "the campaign has no active mailbox"
    return None


def stop_enrolment(session: Session, enrolment: Enrolment, actor: User) -> None:
    """Stop one sequence by hand; its queued email is not sent."""
    stop_enrolments(session, Enrolment.id == enrolment.id, StopReason.MANUAL)
    record_activity(
        session,
        "sequence.stopped",
        "Sequence stopped by hand",
        actor=actor,
        prospect_id=enrolment.prospect_id,
    )
    session.commit()


def enrolments_of(session: Session, prospect_id: int) -> list[tuple[Enrolment, Sequence]]:
    return list(
        session.exec(
            select(Enrolment, Sequence)
            .join(Sequence)
            .where(Enrolment.prospect_id == prospect_id)
            .order_by(sa.desc(Enrolment.enrolled_at))
        )
    )


def outbound_history(session: Session, enrolment_id: int) -> list[Message]:
    """The emails of an enrolment so far, oldest first: what a follow-up threads onto."""
    return list(
        session.exec(
            select(Message)
            .where(
                Message.enrolment_id == enrolment_id,
                Message.direction == Direction.OUTBOUND,
                col(Message.status).in_([MessageStatus.SENT, MessageStatus.SENDING]),
            )
            .order_by(Message.created_at, Message.id)
        )
    )


def messages_of(session: Session, prospect_id: int) -> list[Message]:
    """Every email to and from a prospect, oldest first."""
    return list(
        session.exec(
            select(Message)
            .where(Message.prospect_id == prospect_id)
            .order_by(Message.created_at, Message.id)
        )
    )


def enrolment_counts(
    session: Session, sequence_ids: list[int]
) -> dict[int, dict[EnrolmentStatus, int]]:
    """For each sequence, how many enrolments are active, completed and stopped."""
    counts: dict[int, dict[EnrolmentStatus, int]] = {
        sequence_id: {} for sequence_id in sequence_ids
    }
    rows = session.exec(
        select(Enrolment.sequence_id, Enrolment.status, func.count())
        .where(col(Enrolment.sequence_id).in_(sequence_ids))
        .group_by(Enrolment.sequence_id, Enrolment.status)
    ).all()
    for sequence_id, status, count in rows:
        counts[sequence_id][status] = count
    return counts
