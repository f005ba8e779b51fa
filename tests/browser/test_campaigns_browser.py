"""Campaigns in a real browser: what a manager sees, types and reads back, with the real
CSRF-protected forms, the real CSP and accessible names as the only way to find things."""

from __future__ import annotations

import re
from collections.abc import Callable

from playwright.sync_api import Page, expect

from outreach.auth.models import Role, User
from tests.browser.conftest import sign_in
from tests.conftest import PASSWORD

TYPED = {
    "Name": "Local citations Berlin",
    "Client's site or page": "greenbalcony.example",
    "Goal": "30 citations",
    "Target links": "30",
    "Budget": "750.00",
    "Starts on": "2026-12-01",
    "Time zone": "Europe/Berlin",
}
CHOSEN = {"Kind": "local_citation", "Status": "paused"}
END_BEFORE_START = "2026-01-01"
END_AFTER_START = "2027-02-28"


def test_manager_fixes_a_bad_end_date_and_creates_the_campaign(
    page: Page, live_server: str, make_user: Callable[..., User]
) -> None:
    sign_in(page, live_server, make_user(Role.MANAGER))
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Campaigns").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Campaigns (0)")

    page.get_by_role("link", name="New campaign").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New campaign")
    for label in [*TYPED, *CHOSEN, "Ends on"]:
        expect(page.get_by_label(label)).to_have_accessible_name(label)  # the "*" is aria-hidden
    for label, value in TYPED.items():
        page.get_by_label(label).fill(value)
    for label, value in CHOSEN.items():
        page.get_by_label(label).select_option(value)
    ends_on = page.get_by_label("Ends on")
    ends_on.fill(END_BEFORE_START)
    page.get_by_role("button", name="Create campaign").click()

    expect(page.get_by_role("alert")).to_contain_text("Please correct the 1 highlighted field")
    expect(ends_on).to_have_attribute("aria-invalid", "true")
    expect(ends_on).to_have_accessible_description("the end date is before the start date")
    expect(page.get_by_text("the end date is before the start date")).to_be_visible()
    for label, value in {**TYPED, **CHOSEN, "Ends on": END_BEFORE_START}.items():
        expect(page.get_by_label(label)).to_have_value(value)
    expect(page.locator("[aria-invalid=true]")).to_have_count(1)

    ends_on.fill(END_AFTER_START)
    page.get_by_role("button", name="Create campaign").click()

    expect(page).to_have_url(re.compile(r"/campaigns/\d+$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(TYPED["Name"])
    expect(page.get_by_role("alert")).to_contain_text(f"Campaign {TYPED['Name']} created.")
    details = page.get_by_role("region", name="Details")
    expect(details).to_contain_text("2026-12-01 → 2027-02-28")
    expect(details).to_contain_text("https://greenbalcony.example/")

    page.get_by_role("navigation", name="breadcrumb").get_by_role("link", name="Campaigns").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Campaigns (1)")
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=TYPED["Name"]))
    expect(row).to_contain_text("paused")
    expect(row).to_contain_text("USD 750.00")


def test_keyboard_alone_signs_in_and_skips_to_content(
    page: Page, live_server: str, make_user: Callable[..., User]
) -> None:
    manager = make_user(Role.MANAGER)
    page.goto(f"{live_server}/login")
    skip = page.get_by_role("link", name="Skip to content")
    email = page.get_by_label("Email")
    expect(email).to_be_focused()
    page.keyboard.press("Shift+Tab")
    expect(skip).to_be_focused()
    page.keyboard.press("Tab")
    expect(email).to_be_focused()
    page.keyboard.type(manager.email)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")

    expect(page.get_by_role("heading", level=1)).to_have_text("Campaigns (0)")
    page.keyboard.press("Tab")
    expect(skip).to_be_focused()
    box = skip.bounding_box()
    assert box is not None
    assert min(box["width"], box["height"]) > 1, "the focused skip link stays visually hidden"
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"#main$"))
    page.keyboard.press("Tab")
    expect(page.locator("#main :focus")).to_have_count(1)  # the navigation was skipped
