"""Report pages: a campaign's report (with its CSV export) and the portfolio of every campaign
the user may see. The figures come whole from reports.campaign_report and reports.portfolio,
the same dicts the API answers; these views only choose, order and format them."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from flask import Blueprint, Response, abort, current_app, render_template, request
from flask_login import current_user
from jinja2.utils import htmlsafe_json_dumps

from outreach.campaigns.models import Campaign, Client
from outreach.clock import app_now
from outreach.db import db_session
from outreach.reports.access import may_see_campaign, sees_everything
from outreach.reports.campaign_report import campaign_report
from outreach.reports.exports import csv_text, report_rows

bp = Blueprint("reports", __name__)

FUNNEL_STEPS = (
    ("total", "Prospects", None),
    ("contacted", "Contacted", "prospect→contacted"),
    ("replied", "Replied", "contacted→replied"),
    ("linked", "Linked", "replied→linked"),
)

# The portfolio's columns: key in portfolio()["campaigns"], heading, how to show and sort it.
TEXT, COUNT, RATE, MONEY = "text", "count", "rate", "money"
PORTFOLIO_COLUMNS = (
    ("name", "Campaign", TEXT),
    ("client_name", "Client", TEXT),
    ("status", "Status", TEXT),
    ("prospects", "Prospects", COUNT),
    ("contacted", "Contacted", COUNT),
    ("emails_sent", "Emails sent", COUNT),
    ("replies", "Replies", COUNT),
    ("reply_rate", "Reply rate", RATE),
    ("publish_rate", "Publish rate", RATE),
    ("links_live", "Links live", COUNT),
    ("referring_domains", "Referring domains", COUNT),
    ("cost_total", "Cost", MONEY),
    ("cost_per_link", "Cost per link", MONEY),
    ("value_total", "Value", MONEY),
    ("roi", "ROI", RATE),
)
SORT_KINDS = {key: kind for key, _, kind in PORTFOLIO_COLUMNS}
DEFAULT_SORT = "name"


@bp.app_template_filter("percent")
def percent(value: float | None) -> str:
    """0.1234 -> "12.3%"; an undefined rate shows as an en dash."""
    if value is None:
        return "–"
    return f"{value * 100:.1f}%"


@bp.app_template_filter("days")
def days(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.1f} day{'' if value == 1 else 's'}"


@bp.app_template_filter("number")
def number(value: int | None) -> str:
    return "–" if value is None else f"{value:,}"


@bp.app_template_filter("words")
def words(key: str) -> str:
    """ "guest_post" -> "guest post"."""
    return str(key).replace("_", " ")


def _report_of(campaign_id: int) -> tuple[Campaign, Client, dict[str, Any]]:
    """The campaign and its report for the signed-in user; 404 for no such campaign, 403 for
    one that is not theirs to see (it exists, and pretending otherwise would confuse)."""
    session = db_session()
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        abort(404, f"There is no campaign {campaign_id}.")
    if not may_see_campaign(session, current_user, campaign):
        abort(
            403,
            f"The report of {campaign.name} is for its team and for managers. "
            "Ask a manager to add you to the campaign if you need it.",
        )
    client = session.get(Client, campaign.client_id)
    report = campaign_report(
        session, campaign, app_now(), viewer=current_user._get_current_object()
    )
    return campaign, client, report


def _has_data(values: Sequence[Any] | Mapping[str, Any] | None) -> bool:
    """Whether a chart would show anything; an all-zero chart is left out for a sentence."""
    if isinstance(values, Mapping):
        values = list(values.values())
    return any(value for value in values or [])


def _charts(report: Mapping[str, Any]) -> dict[str, bool]:
    weeks = report.get("over_time") or []
    funnel = report.get("funnel") or {}
    return {
        "funnel": bool(funnel.get("total")),
        "link_types": _has_data(report.get("links_by_type")),
        "rel_mix": _has_data(report.get("rel_mix")),
        "anchor_mix": _has_data(report.get("anchor_mix")),
        "links_per_week": _has_data([week["links_live"] for week in weeks]),
        "emails_per_week": _has_data([w["emails_sent"] or w["replies"] for w in weeks]),
        "cost_value": _has_data([w["cumulative_cost"] or w["cumulative_value"] for w in weeks]),
    }


@bp.get("/campaigns/<int:campaign_id>/report")
def campaign(campaign_id: int) -> str:
    campaign, client, report = _report_of(campaign_id)
    return render_template(
        "reports/campaign.html",
        campaign=campaign,
        client=client,
        report=report,
        # Not the tojson filter: it sorts keys, and the charts keep the order of the tables.
        report_json=htmlsafe_json_dumps(report, dumps=current_app.json.dumps),
        charts=_charts(report),
        funnel_steps=FUNNEL_STEPS,
        sees_money=sees_everything(current_user),
        today=app_now().date(),
    )


def _filename(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower()[:60] or "campaign"


@bp.get("/campaigns/<int:campaign_id>/report.csv")
def campaign_csv(campaign_id: int) -> Response:
    campaign, client, report = _report_of(campaign_id)
    rows = report_rows(report, campaign_name=campaign.name, client_name=client.name)
    filename = f"report-{campaign.id}-{_filename(campaign.name)}.csv"
    return Response(
        csv_text(rows),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def sort_campaigns(
    rows: Sequence[Mapping[str, Any]], key: str, descending: bool
) -> list[Mapping[str, Any]]:
    """Rows by one column; rows without that figure (a dash) come last either way, ties keep
    the order by name."""

    def value(row: Mapping[str, Any]) -> Any:
        raw = row.get(key)
        return raw.casefold() if isinstance(raw, str) else raw

    by_name = sorted(rows, key=lambda row: str(row.get("name") or "").casefold())
    present = [row for row in by_name if row.get(key) is not None]
    missing = [row for row in by_name if row.get(key) is None]
    return sorted(present, key=value, reverse=descending) + missing


@bp.get("/reports/")
def portfolio() -> str:
    # Imported here so that the rest of the reports pages do not depend on it.
    from outreach.reports.portfolio import portfolio as portfolio_figures

    sort = request.args.get("sort", DEFAULT_SORT)
    if sort not in SORT_KINDS:
        sort = DEFAULT_SORT
    default_dir = "asc" if SORT_KINDS[sort] == TEXT else "desc"
    direction = request.args.get("dir", default_dir)
    if direction not in ("asc", "desc"):
        direction = default_dir
    figures = portfolio_figures(db_session(), current_user, app_now())
    return render_template(
        "reports/portfolio.html",
        campaigns=sort_campaigns(figures["campaigns"], sort, direction == "desc"),
        clients=figures["clients"],
        columns=PORTFOLIO_COLUMNS,
        sort=sort,
        sort_heading=next(heading for key, heading, _ in PORTFOLIO_COLUMNS if key == sort),
        direction=direction,
        sees_money=sees_everything(current_user),
    )
