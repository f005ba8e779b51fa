"""/api/v1/campaigns/{id}/report: the campaign's figures, by the names the report page uses."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from outreach.api.core import ApiError, api_blueprint, api_user
from outreach.campaigns.api import CampaignPath, campaign_or_error
from outreach.clock import app_now
from outreach.db import db_session
from outreach.reports.access import may_see_campaign
from outreach.reports.campaign_report import campaign_report
from outreach.reports.portfolio import portfolio

api = api_blueprint("reports_api", __name__)


class Week(BaseModel):
    week: str = Field(description="The week's Monday, ISO date (UTC).")
    links_live: int = Field(description="Links first seen live that week.")
    emails_sent: int
    replies: int
    cost: float
    value: float
    cumulative_cost: float
    cumulative_value: float


class BuilderRow(BaseModel):
    user_id: int | None = Field(description="null for prospects nobody owns.")
    name: str
    prospects: int
    contacted: int
    replies: int = Field(description="Prospects that replied.")
    links: int = Field(description="Links live now.")
    cost: float | None
    cost_per_link: float | None


class TemplateRow(BaseModel):
    template_id: int
    name: str
    sent: int
    replies: int
    reply_rate: float | None


class PortfolioCampaign(BaseModel):
    campaign_id: int
    name: str
    client_id: int
    client_name: str
    status: str
    currency: str
    prospects: int
    contacted: int
    emails_sent: int
    replies: int
    reply_rate: float | None
    publish_rate: float | None
    links_live: int
    referring_domains: int
    cost_total: float | None
    cost_per_link: float | None
    value_total: float | None
    roi: float | None
    trend: list[int] = Field(description="Links first live per week, last 12 weeks, oldest first.")


class PortfolioClient(BaseModel):
    client_id: int
    name: str
    campaigns: int
    links_live: int
    currency: str | None = Field(description="null when the client's campaigns mix currencies.")
    cost_total: float | None
    value_total: float | None
    roi: float | None


class Portfolio(BaseModel):
    """Managers and admins see every campaign; builders the ones they own or work in."""

    campaigns: list[PortfolioCampaign]
    clients: list[PortfolioClient]


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
    budget: float | None
    over_time: list[Week] = Field(description="Oldest week first, at most 52, to this week.")
    builders: list[BuilderRow] = Field(
        description="Per prospect owner; cost figures only for managers and admins."
    )
    templates: list[TemplateRow] = Field(
        description="Replies count for the template of the email they answer (In-Reply-To)."
    )


@api.get(
    "/campaigns/<int:campaign_id>/report",
    responses={200: Report},
    summary="A campaign's funnel, links, cost, value and ROI",
)
def report(path: CampaignPath) -> tuple[dict[str, Any], int]:
    campaign = campaign_or_error(path.campaign_id)
    if not may_see_campaign(db_session(), api_user(), campaign):
        raise ApiError(403, "forbidden", "This campaign's report is for its team and managers.")
    now = app_now()
    figures = campaign_report(db_session(), campaign, now, viewer=api_user())
    return Report.model_validate(figures).model_dump(mode="json"), 200


@api.get(
    "/reports/portfolio",
    responses={200: Portfolio},
    summary="Key figures of every campaign you may see, and per-client totals",
)
def portfolio_report() -> tuple[dict[str, Any], int]:
    figures = portfolio(db_session(), api_user(), app_now())
    return Portfolio.model_validate(figures).model_dump(mode="json"), 200
