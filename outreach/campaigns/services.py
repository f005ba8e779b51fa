"""Creating, changing and listing campaigns."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlmodel import Session, func, select

from outreach.activity.services import record_activity
from outreach.auth.models import User
from outreach.campaigns.models import Campaign, CampaignStatus, Client, ContentAsset
from outreach.campaigns.schemas import AssetInput, CampaignInput
from outreach.db import utcnow
from outreach.prospects.domains import registrable_domain
from outreach.prospects.models import Prospect, Stage


def client_for_url(session: Session, url: str) -> Client:
    """The client whose site the URL is on, created on first use and named after its domain."""
    domain = registrable_domain(url)
    client = session.exec(select(Client).where(Client.domain == domain)).first()
    if client is None:
        parts = urlsplit(url)
        client = Client(name=domain, domain=domain, website=f"{parts.scheme}://{parts.netloc}/")
        session.add(client)
        session.flush()
    return client


def create_campaign(
    session: Session, data: CampaignInput, actor: User, *, default_timezone: str, currency: str
) -> Campaign:
    values = data.model_dump()
    values["timezone"] = values["timezone"] or default_timezone
    campaign = Campaign(
        **values,
        client_id=client_for_url(session, data.client_url).id,
        currency=currency,
        owner_id=actor.id,
    )
    session.add(campaign)
    session.flush()
    record_activity(
        session,
        "campaign.created",
        f"Campaign {campaign.name} created",
        actor=actor,
        campaign_id=campaign.id,
    )
    session.commit()
    return campaign


def campaign_input(campaign: Campaign) -> dict[str, Any]:
    """The campaign's current values in the shape CampaignInput accepts."""
    return {name: getattr(campaign, name) for name in CampaignInput.model_fields}


def update_campaign(
    session: Session, campaign: Campaign, changes: Mapping[str, Any], actor: User
) -> Campaign:
    """Apply some fields; the result is validated as a whole (e.g. dates stay in order).

    Raises pydantic.ValidationError when the merged campaign is invalid.
    """
    data = CampaignInput.model_validate({**campaign_input(campaign), **changes})
    changed = {
        name: value
        for name, value in data.model_dump().items()
        if getattr(campaign, name) != value and not (name == "timezone" and value is None)
    }
    if not changed:
        return campaign
    for name, value in changed.items():
        setattr(campaign, name, value)
    if "client_url" in changed:
        campaign.client_id = client_for_url(session, data.client_url).id
    campaign.updated_at = utcnow()
    record_activity(
        session,
        "campaign.updated",
        f"Campaign {campaign.name} updated: {', '.join(sorted(changed))}",
        actor=actor,
        campaign_id=campaign.id,
        data={"fields": sorted(changed)},
    )
    session.commit()
    return campaign


@dataclass(frozen=True)
class CampaignRow:
    campaign: Campaign
    client_name: str
    prospects: int
    linked: int


def list_campaigns(
    session: Session,
    *,
    status: CampaignStatus | None = None,
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[CampaignRow], int]:
    """A page of campaigns, newest first, with their prospect and linked counts; and the total."""
    where = [Campaign.status == status] if status else []
    total = session.exec(select(func.count()).select_from(Campaign).where(*where)).one()
    counts = (
        select(
            Prospect.campaign_id,
            func.count().label("prospects"),
            func.count().filter(Prospect.stage == Stage.LINKED).label("linked"),
        )
        .group_by(Prospect.campaign_id)
        .subquery()
    )
    rows = session.exec(
        select(
            Campaign,
            Client.name,
            sa.func.coalesce(counts.c.prospects, 0),
            sa.func.coalesce(counts.c.linked, 0),
        )
        .join(Client, Client.id == Campaign.client_id)
        .outerjoin(counts, counts.c.campaign_id == Campaign.id)
        .where(*where)
        .order_by(Campaign.created_at.desc(), Campaign.id.desc())
        .offset(offset)
        .limit(limit)
    ).all()
    return [CampaignRow(*row) for row in rows], total


def add_asset(session: Session, campaign: Campaign, data: AssetInput, actor: User) -> ContentAsset:
    asset = ContentAsset(campaign_id=campaign.id, **data.model_dump())
    session.add(asset)
    session.flush()
    record_activity(
        session,
        "asset.added",
        f"Asset {asset.title} added",
        actor=actor,
        campaign_id=campaign.id,
    )
    session.commit()
    return asset


def campaign_assets(session: Session, campaign_id: int) -> list[ContentAsset]:
    return list(
        session.exec(
            select(ContentAsset)
            .where(ContentAsset.campaign_id == campaign_id)
            .order_by(ContentAsset.created_at, ContentAsset.id)
        )
    )
