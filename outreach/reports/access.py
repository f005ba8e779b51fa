"""Who may see which campaign's report: managers and admins every campaign, builders the
campaigns they own or hold prospects in."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, or_, select

from outreach.auth.models import Role, User
from outreach.campaigns.models import Campaign
from outreach.prospects.models import Prospect

MONEY_ROLES = (Role.ADMIN, Role.MANAGER)


def sees_everything(user: User) -> bool:
    return user.has_role(*MONEY_ROLES)


def may_see_campaign(session: Session, user: User, campaign: Campaign) -> bool:
    if sees_everything(user) or campaign.owner_id == user.id:
        return True
    works_in = select(Prospect.id).where(
        Prospect.campaign_id == campaign.id, Prospect.owner_id == user.id
    )
    return session.exec(works_in.limit(1)).first() is not None


def visible_campaigns(user: User) -> Any:
    """A select of the campaigns `user` may see, to filter or order further."""
    query = select(Campaign)
    if sees_everything(user):
        return query
    works_in = select(Prospect.campaign_id).where(Prospect.owner_id == user.id).distinct()
    return query.where(or_(Campaign.owner_id == user.id, col(Campaign.id).in_(works_in)))
