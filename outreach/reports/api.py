"""/api/v1/campaigns/{id}/report: the campaign's figures, by the names the report page uses."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from sqlmodel import select

from outreach.api.core import ApiError, api_blueprint, api_user
from outreach.auth.models import Role
from outreach.campaigns.api import CampaignPath, campaign_or_error
from outreach.campaigns.models import Campaign
from outreach.clock import app_now
from outreach.db import db_session
from outreach.prospects.models import Prospect
from outreach.reports.campaign_report import campaign_report

api = api_blueprint("reports_api", __name__)


class Report(BaseModel):
    """Rates are 0..1 and money is in the campaign's currency; null where a figure is
    undefined (no contacts yet, no cost yet)."""

    campaign_id: int
    currency: str
    prospects_by_stage: dict[str, int]
    funnel: dict[str, Any]
    emails_sent: int
    replies: int = Field(description="Replies received (emails).")
    reply_rate: float | None = Field(description="Prospects that replied / contacted.")
    publish_rate: float | None = Field(description="Live links / prospects contacted.")
    median_days_to_reply: float | None
    median_days_to_live: float | None
    links_live: int
    links_by_type: dict[str, int]
    rel_mix: dict[str, int]
    referring_domains: int
    anchor_mix: dict[str, int]
    survival: dict[str, float | None]
    cost_total: float | None
    cost_per_link: float | None
    value_total: float | None
    roi: float | None
    warnings: list[str]


def may_see(campaign: Campaign) -> bool:
    """Managers and admins see every campaign; builders the ones they own or work in."""
    user = api_user()
    if user.has_role(Role.ADMIN, Role.MANAGER) or campaign.owner_id == user.id:
        return True
    works_in = select(Prospect.id).where(
        Prospect.campaign_id == campaign.id, Prospect.owner_id == user.id
    )
    return db_session().exec(works_in.limit(1)).first() is not None


@api.get(
    "/campaigns/<int:campaign_id>/report",
    responses={200: Report},
    summary="A campaign's funnel, links, cost, value and ROI",
)
def report(path: CampaignPath) -> tuple[dict[str, Any], int]:
    campaign = campaign_or_error(path.campaign_id)
    if not may_see(campaign):
        raise ApiError(403, "forbidden", "This campaign's report is for its team and managers.")
    now = app_now()
    figures = campaign_report(db_session(), campaign, now)
    return Report.model_validate(figures).model_dump(mode="json"), 200
