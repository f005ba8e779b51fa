"""The reports in a real browser, on the demo agency: the portfolio's sparklines and keyboard
sorting, then the demo campaign's report, whose charts must draw (pixels on every canvas, the
chart data the API's) and whose printed figures must be the API's for the same user."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect
from sqlmodel import Session, select

from outreach.auth.models import User
from outreach.auth.services import issue_api_token
from outreach.campaigns.models import Campaign
from outreach.demo import DEMO_PASSWORD, load_demo
from tests.browser.conftest import sign_in

DEMO_CAMPAIGN = "Balcony gardening guide: guest posts"
# How many pixels of a canvas are not transparent: a drawn chart has plenty.
PAINTED_PIXELS = """canvas => {
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) painted += 1;
  return painted;
}"""
CHART_DATA = """canvas => {
  const chart = Chart.getChart(canvas);
  return chart ? chart.data.datasets.map(dataset => dataset.data) : null;
}"""
MONEY = {"cost_total", "cost_per_link", "value_total", "budget", "cost_total_spent"}
RATES = {"reply_rate", "publish_rate", "roi"}
DAYS = {"median_days_to_reply", "median_days_to_live"}
# The page's figures every report must show, beyond the per-section ones.
HEADLINE = {
    "links_live",
    "referring_domains",
    "emails_sent",
    "replies",
    "reply_rate",
    "publish_rate",
    "cost_total",
    "cost_per_link",
    "value_total",
    "roi",
    "budget",
    "median_days_to_reply",
    "median_days_to_live",
}


@pytest.fixture
def demo(session: Session) -> tuple[User, Campaign]:
    admin = load_demo(session, date.today())
    campaign = session.exec(select(Campaign).where(Campaign.name == DEMO_CAMPAIGN)).one()
    return admin, campaign


def expected_text(name: str, report: dict[str, Any]) -> str:
    """How the page must print the API's figure called `name` (dotted for nested ones)."""
    path = ["cost_total"] if name == "cost_total_spent" else name.split(".", 1)
    if path[0] == "funnel" and path[1].startswith("conversion."):
        path = ["funnel", "conversion", path[1].removeprefix("conversion.")]
    value: Any = report
    for key in path:
        value = value[key]
    if value is None:
        return "–"
    top = path[0]
    if top in MONEY:
        return f"{report['currency']} {value:,.2f}"
    if top in RATES or top == "survival" or path[-2:-1] == ["conversion"]:
        return f"{value * 100:.1f}%"
    if top in DAYS:
        return f"{value:.1f} day{'' if value == 1 else 's'}"
    return f"{value:,}"


def painted(canvas: Locator) -> int:
    return canvas.evaluate(PAINTED_PIXELS)


def test_portfolio_draws_trends_and_sorts_from_the_keyboard(
    page: Page, live_server: str, demo: tuple[User, Campaign]
) -> None:
    admin, _ = demo
    sign_in(page, live_server, admin, DEMO_PASSWORD)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Reports").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Reports")
    table = page.locator("#portfolio-table")
    expect(table.locator("tbody tr")).to_have_count(3)
    sparklines = table.locator("canvas.sparkline")
    expect(sparklines.first).to_have_attribute("data-chart-ready", "true")
    for index in range(sparklines.count()):
        assert painted(sparklines.nth(index)) > 0, f"sparkline {index} is blank"

    links_header = table.get_by_role("columnheader", name="Links live")
    assert links_header.get_attribute("aria-sort") is None
    links_header.get_by_role("link").focus()
    page.keyboard.press("Enter")
    expect(links_header).to_have_attribute("aria-sort", "descending")
    counts = [int(text) for text in table.locator("tbody tr td:nth-child(10)").all_inner_texts()]
    assert counts == sorted(counts, reverse=True)
    assert "sort=links_live" in page.url

    table.get_by_role("link", name=DEMO_CAMPAIGN).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Report: {DEMO_CAMPAIGN}")


def test_demo_report_charts_render_and_figures_match_the_api(
    page: Page, live_server: str, session: Session, demo: tuple[User, Campaign]
) -> None:
    admin, campaign = demo
    token = issue_api_token(session, admin)
    sign_in(page, live_server, admin, DEMO_PASSWORD)
    page.goto(f"{live_server}/campaigns/{campaign.id}/report")
    api = page.request.get(
        f"{live_server}/api/v1/campaigns/{campaign.id}/report",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert api.ok, api.text()
    report = api.json()

    # The charts: every canvas drawn by Chart.js, with pixels on it and the API's numbers.
    canvases = page.locator("canvas[data-chart]")
    expect(canvases.first).to_have_attribute("data-chart-ready", "true")
    names = canvases.evaluate_all("all => all.map(canvas => canvas.dataset.chart)")
    assert {"funnel", "link_types", "rel_mix", "anchor_mix", "links_per_week"} <= set(names)
    assert "cost_value" in names, "the demo has costs and value over time"
    for name in names:
        canvas = page.locator(f'canvas[data-chart="{name}"]')
        expect(canvas).to_be_visible()
        expect(canvas).to_have_attribute("data-chart-ready", "true")
        box = canvas.bounding_box()
        assert box, name
        assert box["width"] > 100, name
        assert box["height"] > 100, name
        assert painted(canvas) > 500, f"the {name} chart is blank"
    weeks = report["over_time"]
    chart_data = {
        name: page.locator(f'canvas[data-chart="{name}"]').evaluate(CHART_DATA) for name in names
    }
    funnel = report["funnel"]
    assert chart_data["funnel"] == [
        [funnel[key] for key in ("total", "contacted", "replied", "linked")]
    ]
    assert chart_data["rel_mix"] == [list(report["rel_mix"].values())]
    assert chart_data["anchor_mix"] == [list(report["anchor_mix"].values())]
    assert chart_data["links_per_week"] == [[week["links_live"] for week in weeks]]
    assert chart_data["cost_value"] == [
        [week["cumulative_cost"] for week in weeks],
        [week["cumulative_value"] for week in weeks],
    ]

    # The figures as text: each one the page prints is the API's, formatted.
    shown = dict(
        page.locator("[data-figure]").evaluate_all(
            "all => all.map(element => [element.dataset.figure, element.textContent.trim()])"
        )
    )
    assert set(shown) >= HEADLINE
    assert any(name.startswith("survival.") for name in shown)
    assert any(name.startswith("funnel.conversion.") for name in shown)
    for name, text in shown.items():
        assert text == expected_text(name, report), name
    assert shown["links_live"] == str(report["links_live"]) != "0"
    assert shown["cost_total"].startswith("USD ")
    week_rows = page.locator("#weeks-table tbody tr")
    expect(week_rows).to_have_count(len(weeks))
    last = weeks[-1]
    expect(week_rows.last.locator("th")).to_have_text(last["week"])
    expect(week_rows.last.locator("td").nth(5)).to_have_text(f"{last['cumulative_cost']:,.2f}")
    builders = page.locator("#builders-table tbody tr")
    expect(builders).to_have_count(len(report["builders"]))
    for builder in report["builders"]:
        expect(page.locator("#builders-table")).to_contain_text(builder["name"])

    # Printing: the button calls the browser's print; the printout drops nav and buttons.
    page.evaluate("window.print = () => { window.printed = true; }")
    page.get_by_role("button", name="Print").click()
    assert page.evaluate("window.printed") is True
    page.emulate_media(media="print")
    expect(page.get_by_role("navigation", name="Main")).to_be_hidden()
    expect(page.get_by_role("button", name="Print")).to_be_hidden()
    expect(page.get_by_role("link", name="Download CSV")).to_be_hidden()
    expect(page.locator('canvas[data-chart="funnel"]')).to_be_visible()
