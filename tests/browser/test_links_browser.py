"""Links in a real browser: a placement added from the prospect page's Links card is checked
there against a real local page, shows up on the Links page, and its own page opens from there."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlmodel import Session

from outreach.auth.models import Role, User
from outreach.campaigns.models import Campaign
from outreach.prospects.schemas import ProspectInput
from outreach.prospects.services import add_prospect
from tests.browser.conftest import sign_in
from tests.httpservers import Site

LINKED = b'<html><body><a href="https://client.example/guide">Balkon-Ratgeber</a></body></html>'


@pytest.fixture
def site() -> Iterator[Site]:
    with Site() as server:
        yield server


def test_add_a_placement_then_find_it_on_the_links_page(
    page: Page,
    app: Flask,
    live_server: str,
    site: Site,
    session: Session,
    campaign: Campaign,
    make_user: Callable[..., User],
) -> None:
    state = app.extensions["outreach"]
    settings = state.settings.model_copy(update={"links_allow_private": True})
    app.extensions["outreach"] = replace(state, settings=settings)
    site.pages["balkon"] = (200, LINKED)
    page_url = site.url("/pages/balkon")
    manager = make_user(Role.MANAGER, name="Maria")
    prospect = add_prospect(
        session, campaign, ProspectInput.model_validate({"domain": "gartenblog.example"}), manager
    )
    sign_in(page, live_server, manager)
    page.goto(f"{live_server}/prospects/{prospect.id}")

    card = page.get_by_role("region", name="Links")
    expect(card).to_contain_text("No placements recorded.")
    card.locator("summary", has_text="Add placement").click()
    card.get_by_label("Page the link is on").fill(page_url)
    card.get_by_label("Link target").fill("ftp://client.example/")
    card.get_by_role("button", name="Add placement").click()
    expect(card.get_by_label("Link target")).to_have_attribute("aria-invalid", "true")
    expect(card.get_by_label("Page the link is on")).to_have_value(page_url)

    card.get_by_label("Link target").fill("https://client.example/guide")
    card.get_by_label("Agreed anchor text").fill("Balkon-Ratgeber")
    card.get_by_label("Cost (USD)").fill("90")
    card.get_by_label("Paid link").check()
    card.get_by_role("button", name="Add placement").click()
    expect(page.get_by_role("alert")).to_contain_text(f"Placement on {page_url} recorded")
    expect(card).to_contain_text("Last verdict: not checked yet")
    card.get_by_role("button", name="Check now").click()
    expect(page.get_by_role("alert")).to_have_text(
        f'{page_url}: link found, followed; paid link without rel="sponsored".'
    )
    expect(card).to_contain_text("Last verdict: link found, followed")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Links").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Links")
    page.get_by_role("link", name="Live").click()
    row = page.get_by_role("row").filter(has_text=page_url)
    expect(row).to_contain_text("gartenblog.example")
    expect(row).to_contain_text("Guest posts")
    expect(row).to_contain_text("live")
    row.get_by_role("link", name="Open").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Link on gartenblog.example")
    expect(page.get_by_role("region", name="Agreement")).to_contain_text("USD 90.00")
