"""The report pages: a campaign's report (every figure as text, a dash where undefined, the
chart data embedded for charts.js), its CSV export, who may see it, and the portfolio's
server-side sorting. The figures themselves are tested in test_report_api/test_report_figures;
here they only have to arrive on the page as the API gives them."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from html import unescape
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session

from outreach.auth.models import Role, User
from outreach.campaigns.models import (
    Campaign,
    CampaignKind,
    Client,
    CostEntry,
    CostKind,
    TimeEntry,
)
from outreach.clock import FixedClock
from outreach.links.models import LinkType, Placement, PlacementCheck, PlacementStatus
from outreach.mail.models import Direction, InboundKind, Message, MessageStatus, Template
from outreach.mail.tallies import recount_tallies
from outreach.prospects.models import Stage
from outreach.prospects.pipeline import MoveReason
from outreach.prospects.schemas import ProspectInput
from outreach.prospects.services import add_prospect, move_stage
from outreach.reports.views import sort_campaigns
from outreach.spreadsheets import safe_cell
from tests.conftest import sign_in

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)
FIGURE = re.compile(r'data-figure="([^"]+)"[^>]*>([^<]*)<')
REPORT_DATA = re.compile(
    r'<script type="application/json" id="report-data">(.*?)</script>', re.DOTALL
)


@pytest.fixture(autouse=True)
def fixed_clock(app: Flask) -> None:
    state = app.extensions["outreach"]
    app.extensions["outreach"] = replace(state, clock=FixedClock(NOW))


def figures(html: str) -> dict[str, str]:
    """Each figure the page prints, by its data-figure name."""
    return {name: unescape(text).strip() for name, text in FIGURE.findall(html)}


def page(client: FlaskClient, path: str, status: int = 200) -> str:
    response = client.get(path)
    assert response.status_code == status, response.get_data(as_text=True)[:2000]
    return response.get_data(as_text=True)


def fill_campaign(session: Session, campaign: Campaign, builder: User) -> None:
    """Five prospects of one builder: 4 contacted (2 replied, 1 linked), 4 emails from one
    template, 1 threaded reply, a live link that cost 100, 50 of content and 90 min at 30/h."""
    builder.hourly_rate = Decimal("30")
    campaign.budget = Decimal("1000")
    session.add_all([builder, campaign])
    template = Template(campaign_id=campaign.id, name="First pitch", subject="Hi", body="Hello")
    session.add(template)
    session.commit()
    stages = [Stage.PROSPECT, Stage.CONTACTED, Stage.CONTACTED, Stage.REPLIED, Stage.LINKED]
    prospects = []
    for number, stage in enumerate(stages):
        prospect = add_prospect(
            session,
            campaign,
            ProspectInput(domain=f"site{number}.example", domain_rating=40),
            builder,
        )
        if stage is not Stage.PROSPECT:
            move_stage(session, prospect, MoveReason.MANUAL, to=stage, actor=builder)
        prospects.append(prospect)
    for prospect in prospects[1:]:
        session.add(
            Message(
                direction=Direction.OUTBOUND,
                status=MessageStatus.SENT,
                message_id=f"<{prospect.id}@client.example>",
                prospect_id=prospect.id,
                template_id=template.id,
                from_address="a@client.example",
                to_address="b@site.example",
                sent_at=NOW - timedelta(days=20),
            )
        )
    session.add(
        Message(
            direction=Direction.INBOUND,
            status=MessageStatus.RECEIVED,
            inbound_kind=InboundKind.REPLY,
            message_id="<reply@site3.example>",
            in_reply_to=f"<{prospects[3].id}@client.example>",
            prospect_id=prospects[3].id,
            template_id=template.id,
            from_address="b@site3.example",
            to_address="a@client.example",
            received_at=NOW - timedelta(days=18),
        )
    )
    live = Placement(
        prospect_id=prospects[4].id,
        campaign_id=campaign.id,
        page_url="https://site4.example/post",
        target="domain:client.example",
        link_type=LinkType.GUEST_POST,
        cost=Decimal("100"),
        status=PlacementStatus.LIVE,
        last_verdict="live",
        found_verdict="live",
        found_anchor="here",
        first_live_at=NOW - timedelta(days=40),
        created_at=NOW - timedelta(days=45),
    )
    session.add(live)
    session.flush()
    session.add(
        PlacementCheck(
            placement_id=live.id, checked_at=NOW, verdict="live", found=True, anchor_text="here"
        )
    )
    session.add(
        CostEntry(
            campaign_id=campaign.id,
            kind=CostKind.CONTENT,
            amount=Decimal("50"),
            incurred_on=(NOW - timedelta(days=30)).date(),
        )
    )
    session.add(
        TimeEntry(
            user_id=builder.id,
            campaign_id=campaign.id,
            minutes=90,
            logged_at=NOW - timedelta(days=10),
        )
    )
    session.flush()
    # The messages were written around the mail services, which keep the tallies.
    recount_tallies(session, campaign.id)
    session.commit()


@pytest.fixture
def builder(make_user: Callable[..., User]) -> User:
    return make_user(Role.BUILDER, name="Ben Builder")


@pytest.fixture
def filled(session: Session, campaign: Campaign, builder: User) -> Campaign:
    fill_campaign(session, campaign, builder)
    return campaign


def test_the_report_prints_every_headline_figure_as_text(
    client: FlaskClient, login: Callable[..., User], filled: Campaign
) -> None:
    login(Role.MANAGER)
    html = page(client, f"/campaigns/{filled.id}/report")
    shown = figures(html)
    # Counted by hand: see fill_campaign (and test_report_api for the same arithmetic).
    assert shown["links_live"] == "1"
    assert shown["referring_domains"] == "1"
    assert shown["emails_sent"] == "4"
    assert shown["replies"] == "1"
    assert shown["reply_rate"] == "50.0%"
    assert shown["publish_rate"] == "25.0%"
    assert shown["cost_total"] == "USD 195.00"
    assert shown["cost_per_link"] == "USD 195.00"
    assert shown["value_total"] == "USD 150.00"
    assert shown["roi"] == "-23.1%"
    assert shown["budget"] == "USD 1,000.00"
    assert shown["cost_total_spent"] == "USD 195.00"
    assert shown["funnel.total"] == "5"
    assert shown["funnel.contacted"] == "4"
    assert shown["funnel.conversion.contacted→replied"] == "50.0%"
    assert shown["rel_mix.follow"] == "1"
    assert shown["links_by_type.guest_post"] == "1"
    assert shown["anchor_mix.generic"] == "1"
    assert shown["survival.30d"] == "100.0%"
    assert shown["survival.90d"] == "–"
    # The budget bar: 195 of 1000 is about 20% wide, and says so in words.
    assert "progress-w-20" in html
    assert 'aria-valuetext="USD 195.00 of USD 1,000.00"' in html
    # Tables: the builder (with money, for a manager) and the template.
    builders = html.split('id="builders-table"')[1].split("</table>")[0]
    assert "Ben Builder" in builders
    assert "USD 145.00" in builders  # 100 link price + 1.5 h at 30
    templates = html.split('id="templates-table"')[1].split("</table>")[0]
    assert re.search(
        r"First pitch</th>\s*<td[^>]*>4</td>\s*<td[^>]*>1</td>\s*<td[^>]*>25.0%", templates
    )
    # Weekly figures as a table, and the charts drawn from the same dict.
    assert html.count("<tr data-week=") >= 6
    for chart in ("funnel", "link_types", "rel_mix", "anchor_mix", "links_per_week"):
        assert f'data-chart="{chart}"' in html, chart
    assert 'src="/static/vendor/chartjs/chart.umd.min.js"' in html
    assert not re.search(r"\b(None|nan|inf)\b", html)


def test_embedded_chart_data_is_what_the_api_answers(
    client: FlaskClient,
    filled: Campaign,
    make_user: Callable[..., User],
    api_as: Callable[..., Any],
) -> None:
    sign_in(client, make_user(Role.MANAGER))
    embedded = json.loads(
        unescape(REPORT_DATA.search(page(client, f"/campaigns/{filled.id}/report"))[1])
    )
    answered = api_as(Role.MANAGER).get(f"/api/v1/campaigns/{filled.id}/report").json
    assert embedded == answered
    assert embedded["over_time"], "the over-time charts need weeks"


def test_an_empty_campaign_shows_dashes_and_no_charts(
    client: FlaskClient, login: Callable[..., User], campaign: Campaign
) -> None:
    login(Role.MANAGER)
    html = page(client, f"/campaigns/{campaign.id}/report")
    shown = figures(html)
    for name in ("reply_rate", "publish_rate", "cost_per_link", "roi", "median_days_to_reply"):
        assert shown[name] == "–", name
    assert shown["links_live"] == "0"
    assert shown["cost_total"] == "USD 0.00"
    assert shown["budget"] == "no budget set"
    assert "data-chart=" not in html
    assert not re.search(r"\b(None|nan|inf)\b", html)


def test_builders_see_reports_of_their_campaigns_only(
    client: FlaskClient,
    filled: Campaign,
    builder: User,
    make_user: Callable[..., User],
) -> None:
    outsider = make_user(Role.BUILDER)
    sign_in(client, outsider)
    refused = page(client, f"/campaigns/{filled.id}/report", 403)
    assert "is for its team and for managers" in refused
    assert filled.name in refused
    assert client.get(f"/campaigns/{filled.id}/report.csv").status_code == 403
    assert client.get("/campaigns/9999/report").status_code == 404

    team_client = client.application.test_client()
    sign_in(team_client, builder)
    html = page(team_client, f"/campaigns/{filled.id}/report")
    assert figures(html)["links_live"] == "1"
    builders = html.split('id="builders-table"')[1].split("</table>")[0]
    assert "Ben Builder" in builders
    # What a colleague's time costs would reveal their rate: no money columns for builders.
    assert "Cost per link" not in builders
    assert "USD 145.00" not in builders


def test_csv_has_one_figure_a_row(
    client: FlaskClient, login: Callable[..., User], filled: Campaign
) -> None:
    login(Role.MANAGER)
    response = client.get(f"/campaigns/{filled.id}/report.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert (
        f'filename="report-{filled.id}-guest-posts.csv"' in response.headers["Content-Disposition"]
    )
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0] == ["section", "figure", "value"]
    assert all(len(row) == 3 for row in rows)
    cells = {(section, figure): value for section, figure, value in rows[1:]}
    assert cells["campaign", "name"] == "Guest posts"
    assert cells["campaign", "currency"] == "USD"
    assert cells["headline", "links_live"] == "1"
    assert cells["headline", "cost_total"] == "195.0"
    assert cells["headline", "reply_rate"] == "0.5"
    assert float(cells["headline", "roi"]) == pytest.approx((150 - 195) / 195)
    assert cells["headline", "budget"] == "1000.0"
    assert cells["funnel_conversion", "contacted→replied"] == "0.5"
    assert cells["survival", "90d"] == ""
    assert cells["builders", "Ben Builder: links"] == "1"
    assert cells["builders", "Ben Builder: cost"] == "145.0"
    assert cells["templates", "First pitch: sent"] == "4"
    assert cells["templates", "First pitch: reply_rate"] == "0.25"
    weeks = [row for row in rows if row[0].startswith("week ")]
    assert weeks, "the over-time rows are in the export"
    live_week = (NOW - timedelta(days=40)).date()
    monday = live_week - timedelta(days=live_week.weekday())
    assert cells[f"week {monday.isoformat()}", "links_live"] == "1"
    assert cells[f"week {weeks[-1][0][5:]}", "cumulative_cost"] == "195.0"


def test_csv_cells_never_start_a_formula(
    client: FlaskClient,
    login: Callable[..., User],
    session: Session,
    filled: Campaign,
    builder: User,
) -> None:
    filled.name = '=HYPERLINK("http://evil.example","x")'
    client_row = session.get(Client, filled.client_id)
    client_row.name = "+cmd|' /C calc'!A0"
    builder.name = "@SUM(1+1)"
    session.add_all([filled, client_row, builder])
    session.commit()
    login(Role.MANAGER)
    text = client.get(f"/campaigns/{filled.id}/report.csv").get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    cells = {(section, figure): value for section, figure, value in rows[1:]}
    assert cells["campaign", "name"] == '\'=HYPERLINK("http://evil.example","x")'
    assert cells["campaign", "client"] == "'+cmd|' /C calc'!A0"
    assert cells["builders", "'@SUM(1+1): links"] == "1"
    # A negative number is a number, not text: it keeps its sign and gets no apostrophe.
    assert cells["headline", "roi"].startswith("-0.23")
    for row in rows:
        for cell in row:
            assert not cell.startswith(("=", "+", "@", "\t", "\r")), cell
    assert safe_cell("-1+2") == "'-1+2"
    assert safe_cell("\tx") == "'\tx"
    assert safe_cell(-1.5) == -1.5


def _campaign(session: Session, client: Client, owner: User, name: str) -> Campaign:
    campaign = Campaign(
        name=name,
        kind=CampaignKind.GUEST_POST,
        client_id=client.id,
        client_url="https://client.example/",
        owner_id=owner.id,
    )
    session.add(campaign)
    session.commit()
    return campaign


def _order(html: str) -> list[int]:
    return [int(number) for number in re.findall(r'<tr data-campaign="(\d+)"', html)]


def test_portfolio_sorts_on_the_server_and_says_how(
    client: FlaskClient,
    session: Session,
    filled: Campaign,
    builder: User,
    make_user: Callable[..., User],
) -> None:
    owner = make_user(Role.MANAGER)
    agency_client = session.get(Client, filled.client_id)
    alpha = _campaign(session, agency_client, owner, "Alpha round-up")
    zulu = _campaign(session, agency_client, owner, "Zulu citations")
    for number in range(2):
        add_prospect(session, zulu, ProspectInput(domain=f"zulu{number}.example"), owner)
    sign_in(client, owner)

    html = page(client, "/reports/")
    assert _order(html) == [alpha.id, filled.id, zulu.id]  # by name by default
    assert 'aria-sort="ascending"' in html
    assert html.count("aria-sort=") == 1
    assert f'href="/campaigns/{filled.id}/report"' in html
    assert "data-sparkline='[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]'" in html

    html = page(client, "/reports/?sort=name&dir=desc")
    assert _order(html) == [zulu.id, filled.id, alpha.id]
    assert 'aria-sort="descending"' in html

    html = page(client, "/reports/?sort=prospects&dir=desc")
    assert _order(html) == [filled.id, zulu.id, alpha.id]
    # The sorted column's link turns the order around; another column starts descending.
    assert 'href="/reports/?sort=prospects&amp;dir=asc"' in html
    assert 'href="/reports/?sort=roi&amp;dir=desc"' in html
    assert 'href="/reports/?sort=client_name&amp;dir=asc"' in html

    # Only `filled` has costs, so only it has an ROI: the others (a dash) come last both ways.
    for direction in ("asc", "desc"):
        html = page(client, f"/reports/?sort=roi&dir={direction}")
        assert _order(html)[0] == filled.id, direction
    html = page(client, "/reports/?sort=prospects&dir=asc")
    assert _order(html) == [alpha.id, zulu.id, filled.id]

    # Nonsense in the query string falls back to the defaults rather than failing.
    assert _order(page(client, "/reports/?sort=password_hash&dir=sideways")) == _order(
        page(client, "/reports/")
    )
    clients = html.split('id="clients-table"')[1].split("</table>")[0]
    assert agency_client.name in clients
    assert re.search(r"Client</th>\s*<td[^>]*>3</td>", clients)


def test_builders_portfolio_lists_only_their_campaigns(
    client: FlaskClient,
    session: Session,
    filled: Campaign,
    builder: User,
    make_user: Callable[..., User],
) -> None:
    other = _campaign(
        session, session.get(Client, filled.client_id), make_user(Role.MANAGER), "Not theirs"
    )
    sign_in(client, builder)
    html = page(client, "/reports/")
    assert _order(html) == [filled.id]
    assert other.name not in html
    # The nav's Reports item is live and marks this section.
    assert re.search(r'<a class="nav-link active" aria-current="page"\s+href="/reports/">', html)


def test_an_empty_portfolio_says_so(client: FlaskClient, login: Callable[..., User]) -> None:
    login(Role.BUILDER)
    html = page(client, "/reports/")
    assert "No campaigns to report on yet." in html


def test_sort_keeps_missing_figures_last_and_ties_by_name() -> None:
    rows = [
        {"name": "b", "roi": 0.5},
        {"name": "a", "roi": None},
        {"name": "c", "roi": 0.5},
        {"name": "d", "roi": -1.0},
    ]
    assert [row["name"] for row in sort_campaigns(rows, "roi", descending=True)] == [
        "b",
        "c",
        "d",
        "a",
    ]
    assert [row["name"] for row in sort_campaigns(rows, "roi", descending=False)] == [
        "d",
        "b",
        "c",
        "a",
    ]
