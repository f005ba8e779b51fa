"""The template editor's preview in a real browser (htmx under the app's CSP)."""

from playwright.sync_api import Page, expect

from outreach.auth.models import Role
from outreach.prospects.schemas import ProspectInput
from outreach.prospects.services import add_prospect
from tests.browser.conftest import sign_in


def test_preview_shows_the_email_and_then_what_is_missing(
    page: Page, live_server: str, session, campaign, make_user
) -> None:
    writer = make_user(Role.BUILDER, name="Ben")
    add_prospect(
        session,
        campaign,
        ProspectInput.model_validate({"domain": "blog.example", "contact": {"first_name": "Anna"}}),
        writer,
    )
    sign_in(page, live_server, writer)
    page.get_by_role("link", name="Templates").click()
    page.get_by_role("link", name="New template").click()
    page.get_by_label("Name").fill("First pitch")
    page.get_by_label("Subject").fill("Hello {{ prospect.domain }}")
    page.get_by_label("Body").fill("Hi {{ contact.first_name }}, from {{ sender.name }}")
    page.get_by_label("As sent to").select_option(label="blog.example")
    page.get_by_role("button", name="Preview").click()
    preview = page.locator("#preview")
    expect(preview).to_contain_text("Subject: Hello blog.example")
    expect(preview).to_contain_text("Hi Anna, from Ben")
    page.get_by_label("Body").fill("Dear {{ contact.last_name }}")
    page.get_by_role("button", name="Preview").click()
    expect(preview).to_contain_text("Not ready to send")
    expect(preview).to_contain_text("contact.last_name }} is empty for this prospect")
    page.get_by_role("button", name="Save template").click()
    expect(page.get_by_text("Template First pitch saved.")).to_be_visible()
