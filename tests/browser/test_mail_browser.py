"""The mail pages in a real browser: connecting a mailbox, building a sequence with the
add-step button, enrolling from the prospect list, and the inbox's htmx "Mark handled"."""

from datetime import UTC, datetime

from playwright.sync_api import Page, expect

from outreach.auth.models import Role
from outreach.mail.models import Direction, InboundKind, Message, MessageStatus
from outreach.mail.schemas import TemplateInput
from outreach.mail.services import create_template
from outreach.prospects.schemas import ProspectInput
from outreach.prospects.services import add_prospect
from tests.browser.conftest import sign_in


def test_mailbox_then_sequence_then_enrol_from_the_list(
    page: Page, live_server: str, session, campaign, make_user
) -> None:
    manager = make_user(Role.MANAGER, name="Maria")
    for name in ("Pitch", "Nudge"):
        create_template(
            session,
            TemplateInput(name=name, subject=f"{name} subject", body="Hi", campaign_id=campaign.id),
            manager,
        )
    add_prospect(
        session,
        campaign,
        ProspectInput.model_validate(
            {
                "domain": "blog.example",
                "contact": {"first_name": "Anna", "email": "anna@blog.example"},
            }
        ),
        manager,
    )
    sign_in(page, live_server, manager)

    page.get_by_role("link", name="Mailboxes").click()
    page.get_by_role("link", name="Connect a mailbox").click()
    page.get_by_label("Email address").fill("maria@client.example")
    page.get_by_label("From name").fill("Maria")
    page.get_by_label("SMTP server").fill("smtp.client.example")
    page.get_by_label("SMTP username").fill("maria")
    page.get_by_label("SMTP password").fill("secret")
    page.get_by_label("Guest posts").check()
    page.get_by_role("button", name="Connect mailbox").click()
    expect(page.get_by_text("Mailbox maria@client.example saved.")).to_be_visible()
    expect(page.get_by_label("SMTP password")).to_have_value("")

    page.get_by_role("link", name="Campaigns").click()
    page.get_by_role("link", name="Guest posts").click()
    page.get_by_role("link", name="Sequences").click()
    page.get_by_role("link", name="New sequence").click()
    page.get_by_label("Name").fill("Pitch and nudge")
    page.get_by_label("Step 1 Template").select_option(label="Pitch")
    page.get_by_role("button", name="Add step").click()
    expect(page.get_by_label("Step 2 Template")).to_be_focused()
    expect(page.get_by_label("Name")).to_have_value("Pitch and nudge")
    page.get_by_label("Step 2 Template").select_option(label="Nudge")
    page.get_by_label("Step 2 Business days after the previous email").fill("4")
    page.get_by_role("button", name="Create sequence").click()
    expect(page.get_by_text("Sequence Pitch and nudge created.")).to_be_visible()
    expect(page.get_by_role("cell", name="Pitch → +4 days Nudge")).to_be_visible()

    page.get_by_role("link", name="prospect list").click()
    bulk = page.get_by_role("group", name="Bulk actions")
    page.get_by_label("Select blog.example", exact=True).check()
    bulk.get_by_label("Action", exact=True).select_option(label="Enrol in sequence…")
    bulk.get_by_label("Sequence", exact=True).select_option(label="Pitch and nudge")
    bulk.get_by_role("button", name="Apply").click()
    expect(page.get_by_text("Pitch and nudge: 1 enrolled.")).to_be_visible()

    page.get_by_role("link", name="blog.example").click()
    sequences = page.get_by_role("region", name="Sequences")
    expect(sequences).to_contain_text("Pitch and nudge")
    expect(sequences).to_contain_text("Step 1 of 2 on")
    expect(sequences.get_by_role("button", name="Stop")).to_be_visible()


def test_mark_handled_removes_the_row_in_place(
    page: Page, live_server: str, session, make_user
) -> None:
    builder = make_user(Role.BUILDER)
    for subject, kind in (("Re: your guide", InboundKind.REPLY), ("Re: later", InboundKind.REPLY)):
        session.add(
            Message(
                direction=Direction.INBOUND,
                status=MessageStatus.RECEIVED,
                inbound_kind=kind,
                message_id=f"<{subject.replace(' ', '')}@mail.test>",
                from_address="anna@blog.example",
                to_address="maria@client.example",
                subject=subject,
                body_text="Sounds good.",
                received_at=datetime(2026, 11, 24, 15, 30, tzinfo=UTC),
            )
        )
    session.commit()
    sign_in(page, live_server, builder)
    page.get_by_role("link", name="Inbox").click()
    expect(page.locator("#tab-count-replies")).to_have_text("2")
    row = page.get_by_role("listitem").filter(has_text="Re: your guide")
    row.get_by_role("button", name="Mark handled").click()
    expect(page.get_by_text("Re: your guide", exact=True)).to_have_count(0)
    expect(page.locator("#tab-count-replies")).to_have_text("1")
    expect(page.get_by_role("status")).to_have_text("“Re: your guide” marked handled.")
    expect(page.get_by_role("button", name="Mark handled (Re: later)")).to_be_visible()
    assert page.url.endswith("/inbox/")
