"""The portfolio: every campaign a user may see, side by side, with per-client totals."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlmodel import Session, col, select

from outreach.auth.models import User
from outreach.campaigns.models import Campaign, Client
from outreach.reports.access import visible_campaigns
from outreach.reports.campaign_report import (
    CampaignCore,
    campaign_core,
    live_links_by_week,
    money,
)
from outreach.reports.figures import cost_per_link, rate, roi, weekly_totals

TREND_WEEKS = 12


def _trend(session: Session, campaign_id: int, now: datetime) -> list[int]:
    """Links first live per week over the last TREND_WEEKS weeks, oldest first."""
    end = now.date()
    start = end - timedelta(weeks=TREND_WEEKS - 1)
    weeks = [(group.week, group.links) for group in live_links_by_week(session, campaign_id)]
    return [count for _, count in weekly_totals(weeks, start, end, 0)]


def _campaign_row(campaign: Campaign, client: Client, core: CampaignCore, trend: list[int]) -> Any:
    return {
        "campaign_id": campaign.id,
        "name": campaign.name,
        "client_id": client.id,
        "client_name": client.name,
        "status": campaign.status.value,
        "currency": campaign.currency,
        "prospects": core.stages.total,
        "contacted": core.stages.contacted,
        "emails_sent": core.emails_sent,
        "replies": core.replies,
        "reply_rate": rate(core.stages.replied, core.stages.contacted),
        "publish_rate": rate(core.links_live, core.stages.contacted),
        "links_live": core.links_live,
        "referring_domains": core.referring_domains,
        "cost_total": money(core.cost_total),
        "cost_per_link": money(cost_per_link(core.cost_total, core.links_live)),
        "value_total": money(core.value_total),
        "roi": roi(core.value_total, core.cost_total),
        "trend": trend,
    }


def portfolio(session: Session, user: User, now: datetime) -> dict[str, Any]:
    """Campaigns by client and name, then one row per client. A client's money is summed only
    when its campaigns share a currency; otherwise its currency and money figures are null."""
    campaigns = session.exec(
        visible_campaigns(user).order_by(col(Campaign.client_id), col(Campaign.name))
    ).all()
    clients = {
        client.id: client
        for client in session.exec(
            select(Client).where(col(Client.id).in_({c.client_id for c in campaigns}))
        )
    }
    rows = []
    per_client: dict[int, list[tuple[Campaign, CampaignCore]]] = defaultdict(list)
    for campaign in campaigns:
        core = campaign_core(session, campaign)
        per_client[campaign.client_id].append((campaign, core))
        trend = _trend(session, campaign.id, now)
        rows.append(_campaign_row(campaign, clients[campaign.client_id], core, trend))
    client_rows = []
    for client_id, members in per_client.items():
        currencies = {campaign.currency for campaign, _ in members}
        one_currency = len(currencies) == 1
        cost = sum((core.cost_total for _, core in members), Decimal(0))
        value = sum((core.value_total for _, core in members), Decimal(0))
        client_rows.append(
            {
                "client_id": client_id,
                "name": clients[client_id].name,
                "campaigns": len(members),
                "links_live": sum(core.links_live for _, core in members),
                "currency": currencies.pop() if one_currency else None,
                "cost_total": money(cost) if one_currency else None,
                "value_total": money(value) if one_currency else None,
                "roi": roi(value, cost) if one_currency else None,
            }
        )
    client_rows.sort(key=lambda row: row["name"].lower())
    return {"campaigns": rows, "clients": client_rows}
