"""Email templates: saving them, and filling them in for a real prospect."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, or_, select

from outreach.activity.services import record_activity
from outreach.auth.models import User
from outreach.campaigns.models import Campaign, ContentAsset
from outreach.mail.models import Template
from outreach.mail.schemas import TemplateInput
from outreach.mail.templating import RenderedEmail, render_email
from outreach.prospects.models import Contact, Domain, Prospect


@dataclass(frozen=True)
class Sender:
    """Who signs an email: the mailbox's from-name and address, or the user previewing."""

    name: str
    email: str


class TemplateRefusedError(ValueError):
    """A template change that cannot be saved; the message is for the user."""


def _check_campaign(session: Session, campaign_id: int | None) -> None:
    if campaign_id is not None and session.get(Campaign, campaign_id) is None:
        raise TemplateRefusedError(f"There is no campaign {campaign_id}.")


def create_template(session: Session, data: TemplateInput, actor: User) -> Template:
    _check_campaign(session, data.campaign_id)
    template = Template(**data.model_dump(), owner_id=actor.id)
    session.add(template)
    session.flush()
    record_activity(
        session,
        "template.created",
        f"Template {template.name} created",
        actor=actor,
        campaign_id=template.campaign_id,
    )
    session.commit()
    return template


def update_template(
    session: Session, template: Template, data: TemplateInput, actor: User
) -> Template:
    """Change a template. Emails already sent keep their own copy of subject and body."""
    _check_campaign(session, data.campaign_id)
    for name, value in data.model_dump().items():
        setattr(template, name, value)
    record_activity(
        session,
        "template.updated",
        f"Template {template.name} changed",
        actor=actor,
        campaign_id=template.campaign_id,
    )
    session.commit()
    return template


def list_templates(session: Session, campaign_id: int | None = None) -> list[Template]:
    """All templates; with a campaign, those usable in it (its own and the shared ones)."""
    statement = select(Template).order_by(Template.name, Template.id)
    if campaign_id is not None:
        statement = statement.where(
            or_(Template.campaign_id == campaign_id, Template.campaign_id.is_(None))
        )
    return list(session.exec(statement))


def merge_data(
    session: Session,
    prospect: Prospect,
    sender: Sender,
    contact: Contact | None = None,
) -> dict[str, dict[str, Any]]:
    """The merge fields for one prospect: the contact written to (its primary one unless
    given), its asset, campaign and custom fields, and who signs the email."""
    domain = session.get(Domain, prospect.domain_id)
    campaign = session.get(Campaign, prospect.campaign_id)
    if contact is None and prospect.primary_contact_id:
        contact = session.get(Contact, prospect.primary_contact_id)
    asset = session.get(ContentAsset, prospect.asset_id) if prospect.asset_id else None
    return {
        "contact": {
            "first_name": contact.first_name if contact else "",
            "last_name": contact.last_name if contact else "",
            "full_name": contact.full_name if contact else "",
            "email": (contact.email or "") if contact else "",
            "role": contact.role if contact else "",
        },
        "prospect": {"domain": domain.name, "page_url": prospect.page_url},
        "asset": {"title": asset.title, "url": asset.url} if asset else {},
        "campaign": {"name": campaign.name, "client_url": campaign.client_url},
        "sender": {"name": sender.name, "email": sender.email},
        "custom": dict(prospect.custom_fields or {}),
    }


def preview_email(
    session: Session, subject: str, body: str, prospect: Prospect, sender: Sender
) -> RenderedEmail:
    """The email as this prospect would get it; raises TemplateError with what to fix."""
    return render_email(subject, body, merge_data(session, prospect, sender))
