"""The mail pages: mailboxes (passwords never sent back), the test email against a real SMTP
sink, the sequence editor without JavaScript, enrolling from the list and the prospect page,
and the inbox."""

from __future__ import annotations

import re
import socket
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from markupsafe import escape
from sqlmodel import Session, select

from outreach.auth.models import Role, User
from outreach.campaigns.models import Campaign, CampaignKind
from outreach.mail.mailboxes import create_mailbox
from outreach.mail.models import (
    Direction,
    Enrolment,
    EnrolmentStatus,
    InboundKind,
    Mailbox,
    Message,
    MessageStatus,
    Sequence,
    SequenceStep,
    TransportSecurity,
)
from outreach.mail.schemas import MailboxInput, SequenceInput, StepInput, TemplateInput
from outreach.mail.sequences import create_sequence
from outreach.mail.services import create_template
from outreach.prospects.models import Prospect
from outreach.prospects.schemas import ProspectInput
from outreach.prospects.services import add_prospect
from tests.conftest import csrf_token
from tests.mailservers import SmtpSink

SMTP_SECRET = "smtp-secret-Zq81"


def mailbox_form(**changes: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        "email": "maria@client.example",
        "from_name": "Maria",
        "signature": "Maria, Client",
        "smtp_host": "smtp.client.example",
        "smtp_port": "587",
        "smtp_security": "starttls",
        "smtp_username": "maria",
        "smtp_password": SMTP_SECRET,
        "imap_host": "",
        "imap_port": "993",
        "imap_security": "tls",
        "imap_username": "",
        "imap_password": "",
        "imap_folder": "INBOX",
        "daily_cap": "40",
        "min_spacing_seconds": "120",
        "window_days": ["1", "2", "3", "4", "5"],
        "window_start": "09:00",
        "window_end": "17:00",
        "active": "1",
        "campaign_ids": [],
    }
    form.update(changes)
    return form


def post(client: FlaskClient, path: str, data: dict[str, Any], page: str | None = None) -> Any:
    """A form post with the CSRF token of the page the form is on."""
    return client.post(path, data={**data, "csrf_token": csrf_token(client, page or path)})


def saved_mailbox(
    app: Flask, session: Session, owner: User, campaigns: list[int] | None = None, **fields: Any
) -> Mailbox:
    data = MailboxInput.model_validate(
        {
            "email": "maria@client.example",
            "smtp_host": "smtp.client.example",
            "smtp_username": "maria",
            "smtp_password": SMTP_SECRET,
            "campaign_ids": campaigns or [],
            **fields,
        }
    )
    return create_mailbox(session, data, app.extensions["outreach"].mail_key, owner)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- Mailboxes ------------------------------------------------------------------------------


def test_mailbox_errors_keep_what_was_typed_but_never_the_password(
    client: FlaskClient, session: Session, login: Callable[..., User], campaign: Campaign
) -> None:
    login(Role.MANAGER)
    blank = client.get("/mailboxes/new").get_data(as_text=True)
    assert "PydanticUndefined" not in blank
    assert 'value="587"' in blank
    assert 'value="09:00"' in blank
    assert re.search(r'id="window_days-5" name="window_days"\s+value="5" checked', blank)
    assert re.search(r'id="window_days-6" name="window_days"\s+value="6" >', blank)
    bad = post(
        client,
        "/mailboxes/new",
        mailbox_form(
            email="not an address",
            window_days=[],
            from_name="Maria Rossi",
            campaign_ids=[str(campaign.id)],
        ),
    )
    assert bad.status_code == 422
    text = bad.get_data(as_text=True)
    assert "is not a valid email address" in text
    assert "Tick at least one day to send on." in text
    assert 'value="Maria Rossi"' in text
    assert 'value="smtp.client.example"' in text
    assert f'value="{campaign.id}" checked' in text
    assert SMTP_SECRET not in text
    assert "Type the password again" in text
    assert 'aria-invalid="true"' in text
    backwards = post(client, "/mailboxes/new", mailbox_form(window_start="18:00"))
    assert backwards.status_code == 422
    text = backwards.get_data(as_text=True)
    assert "the sending window must start before it ends" in text
    assert 'id="window_end-error"' in text
    assert 'value="18:00"' in text

    created = post(client, "/mailboxes/new", mailbox_form(campaign_ids=[str(campaign.id)]))
    assert created.status_code == 302
    mailbox = session.exec(select(Mailbox)).one()
    assert (mailbox.email, mailbox.daily_cap, mailbox.window_days) == (
        "maria@client.example",
        40,
        "1,2,3,4,5",
    )
    assert mailbox.smtp_password_encrypted
    assert SMTP_SECRET not in mailbox.smtp_password_encrypted
    listing = client.get("/mailboxes/").get_data(as_text=True)
    assert "maria@client.example" in listing
    assert "Guest posts" in listing
    assert "Mon–Fri 09:00–17:00" in listing

    duplicate = post(client, "/mailboxes/new", mailbox_form(email="Maria@Client.example"))
    assert duplicate.status_code == 422
    assert "There is already a mailbox for maria@client.example." in duplicate.get_data(
        as_text=True
    )


def test_builders_see_mailboxes_but_cannot_change_them(
    app: Flask,
    client: FlaskClient,
    session: Session,
    login: Callable[..., User],
    make_user: Callable[..., User],
) -> None:
    mailbox = saved_mailbox(app, session, make_user(Role.MANAGER))
    mailbox.last_error = "cannot reach SMTP server smtp.client.example:587: timed out"
    session.commit()
    login(Role.BUILDER)
    listing = client.get("/mailboxes/")
    assert listing.status_code == 200
    text = listing.get_data(as_text=True)
    assert "cannot reach SMTP server smtp.client.example:587: timed out" in text
    assert "/mailboxes/new" not in text
    token = csrf_token(client, "/mailboxes/")
    assert client.get("/mailboxes/new").status_code == 403
    assert client.post("/mailboxes/new", data={"csrf_token": token}).status_code == 403
    assert client.get(f"/mailboxes/{mailbox.id}").status_code == 403
    assert client.post(f"/mailboxes/{mailbox.id}", data={"csrf_token": token}).status_code == 403
    test = client.post(
        f"/mailboxes/{mailbox.id}/test", data={"to_address": "x@y.example", "csrf_token": token}
    )
    assert test.status_code == 403


def test_edit_with_a_blank_password_keeps_the_saved_one(
    app: Flask, client: FlaskClient, session: Session, login: Callable[..., User]
) -> None:
    manager = login(Role.MANAGER)
    mailbox = saved_mailbox(app, session, manager)
    stored = mailbox.smtp_password_encrypted
    url = f"/mailboxes/{mailbox.id}"
    page = client.get(url).get_data(as_text=True)
    assert "Leave blank to keep the saved password." in page
    assert SMTP_SECRET not in page
    assert stored not in page

    saved = post(client, url, mailbox_form(from_name="Maria R.", smtp_password=""))
    assert saved.status_code == 302
    session.refresh(mailbox)
    assert mailbox.from_name == "Maria R."
    assert mailbox.smtp_password_encrypted == stored

    refused = post(client, url, mailbox_form(daily_cap="0", smtp_password="new-one"))
    assert refused.status_code == 422
    assert "new-one" not in refused.get_data(as_text=True)
    session.refresh(mailbox)
    assert mailbox.smtp_password_encrypted == stored

    post(client, url, mailbox_form(smtp_password="new-one"))
    session.refresh(mailbox)
    assert mailbox.smtp_password_encrypted != stored


def test_test_email_goes_out_through_the_mailbox(
    app: Flask,
    client: FlaskClient,
    session: Session,
    login: Callable[..., User],
    smtp_sink: SmtpSink,
) -> None:
    manager = login(Role.MANAGER)
    mailbox = saved_mailbox(
        app,
        session,
        manager,
        smtp_host=smtp_sink.host,
        smtp_port=smtp_sink.port,
        smtp_security=TransportSecurity.NONE,
        smtp_username="",
        smtp_password=None,
    )
    url = f"/mailboxes/{mailbox.id}"
    assert f'value="{manager.email}"' in client.get(url).get_data(as_text=True)
    sent = post(client, f"{url}/test", {"to_address": "Check@Agency.example"}, page=url)
    assert sent.status_code == 302
    assert "Test email sent to check@agency.example" in client.get(url).get_data(as_text=True)
    (mail,) = smtp_sink.wait_for(1)
    assert mail.rcpt_tos == ("check@agency.example",)
    assert mail.message["Subject"] == "outreach test email"


def test_a_failed_test_email_says_why(
    app: Flask, client: FlaskClient, session: Session, login: Callable[..., User]
) -> None:
    manager = login(Role.MANAGER)
    port = closed_port()
    mailbox = saved_mailbox(
        app,
        session,
        manager,
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_security=TransportSecurity.NONE,
    )
    url = f"/mailboxes/{mailbox.id}"
    refused = post(client, f"{url}/test", {"to_address": "check@agency.example"}, page=url)
    assert refused.status_code == 422
    text = refused.get_data(as_text=True)
    assert "The test email was not sent:" in text
    assert f"cannot reach SMTP server 127.0.0.1:{port}: connection refused" in text
    assert 'value="check@agency.example"' in text
    session.refresh(mailbox)
    assert mailbox.last_error in text
    assert "Last failure" in client.get(url).get_data(as_text=True)

    wrong = post(client, f"{url}/test", {"to_address": "nobody"}, page=url)
    assert wrong.status_code == 422
    assert escape("'nobody' is not a valid email address") in wrong.get_data(as_text=True)


# --- Sequences ------------------------------------------------------------------------------


@pytest.fixture
def templates(session: Session, campaign: Campaign, make_user: Callable[..., User]) -> dict:
    """Two templates of the campaign, a shared one, and one of another campaign."""
    author = make_user(Role.BUILDER)
    other = Campaign(
        name="Other",
        kind=CampaignKind.GUEST_POST,
        client_id=campaign.client_id,
        client_url="https://client.example/",
        owner_id=campaign.owner_id,
    )
    session.add(other)
    session.commit()

    def make(name: str, campaign_id: int | None) -> int:
        data = TemplateInput(
            name=name, subject=f"{name} subject", body="Hi", campaign_id=campaign_id
        )
        return create_template(session, data, author).id

    return {
        "Pitch": make("Pitch", campaign.id),
        "Nudge": make("Nudge", campaign.id),
        "Shared last": make("Shared last", None),
        "Elsewhere": make("Elsewhere", other.id),
    }


def test_sequence_editor_adds_and_removes_steps_without_javascript(
    client: FlaskClient,
    session: Session,
    login: Callable[..., User],
    campaign: Campaign,
    templates: dict[str, int],
) -> None:
    login(Role.BUILDER)
    new_url = f"/campaigns/{campaign.id}/sequences/new"
    form = client.get(new_url).get_data(as_text=True)
    assert ">Pitch<" in form
    assert ">Shared last<" in form
    assert "Elsewhere" not in form

    first = {
        "name": "Guest post pitch",
        "auto_reply_delay_days": "2",
        "steps-0-template_id": str(templates["Pitch"]),
        "steps-0-delay_days": "0",
    }
    added = post(client, new_url, {**first, "action": "add_step"})
    assert added.status_code == 200
    text = added.get_data(as_text=True)
    assert 'value="Guest post pitch"' in text
    assert 'value="2"' in text
    assert f'<option value="{templates["Pitch"]}" selected>' in text
    assert 'name="steps-1-template_id"' in text
    assert "autofocus" in text

    two = {**first, "steps-1-template_id": "", "steps-1-delay_days": "3"}
    missing = post(client, new_url, {**two, "action": "save"})
    assert missing.status_code == 422
    text = missing.get_data(as_text=True)
    assert "Choose a template." in text
    assert 'id="steps-1-template_id-error"' in text
    assert 'value="Guest post pitch"' in text

    two["steps-1-template_id"] = str(templates["Nudge"])
    created = post(client, new_url, {**two, "action": "save"})
    assert created.status_code == 302
    sequence = session.exec(select(Sequence)).one()
    assert (sequence.name, sequence.auto_reply_delay_days) == ("Guest post pitch", 2)
    listing = client.get(f"/campaigns/{campaign.id}/sequences/").get_data(as_text=True)
    assert "Pitch → +3 days Nudge" in listing

    edit_url = f"/campaigns/{campaign.id}/sequences/{sequence.id}"
    page = client.get(edit_url).get_data(as_text=True)
    assert "Changes affect only emails not sent yet." in page
    assert 'name="steps-1-delay_days"' in page
    removed = post(client, edit_url, {**two, "action": "remove_step-0"}, page=edit_url)
    text = removed.get_data(as_text=True)
    assert 'name="steps-1-template_id"' not in text
    assert f'<option value="{templates["Nudge"]}" selected>' in text

    elsewhere = {**two, "steps-1-template_id": str(templates["Elsewhere"])}
    refused = post(client, edit_url, {**elsewhere, "action": "save"}, page=edit_url)
    assert refused.status_code == 422
    assert "Step 2: there is no template" in refused.get_data(as_text=True)

    three = {**two, "steps-2-template_id": str(templates["Shared last"]), "steps-2-delay_days": "4"}
    assert post(client, edit_url, {**three, "action": "save"}, page=edit_url).status_code == 302
    steps = session.exec(select(SequenceStep).order_by(SequenceStep.position)).all()
    assert [(s.template_id, s.delay_days) for s in steps] == [
        (templates["Pitch"], 0),
        (templates["Nudge"], 3),
        (templates["Shared last"], 4),
    ]
    listing = client.get(f"/campaigns/{campaign.id}/sequences/").get_data(as_text=True)
    assert "Pitch → +3 days Nudge → +4 days Shared last" in listing
    campaign_page = client.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    assert f'href="/campaigns/{campaign.id}/sequences/">Sequences</a>' in campaign_page


# --- Enrolling ------------------------------------------------------------------------------


@pytest.fixture
def ready(
    app: Flask,
    session: Session,
    campaign: Campaign,
    make_user: Callable[..., User],
    templates: dict[str, int],
) -> dict[str, Any]:
    """A campaign in New York with a mailbox, a two-step sequence, and two prospects: one with
    an address, one without a contact."""
    campaign.timezone = "America/New_York"
    session.commit()
    manager = make_user(Role.MANAGER)
    saved_mailbox(app, session, manager, campaigns=[campaign.id])
    sequence = create_sequence(
        session,
        SequenceInput(
            campaign_id=campaign.id,
            name="Pitch and nudge",
            steps=[
                StepInput(template_id=templates["Pitch"]),
                StepInput(template_id=templates["Nudge"], delay_days=3),
            ],
        ),
        manager,
    )

    def prospect(domain: str, **contact: str) -> Prospect:
        data = {"domain": domain, **({"contact": contact} if contact else {})}
        return add_prospect(session, campaign, ProspectInput.model_validate(data), manager)

    return {
        "sequence": sequence,
        "reachable": prospect("blog.example", first_name="Anna", email="anna@blog.example"),
        "silent": prospect("quiet.example"),
    }


def test_bulk_enrol_from_the_list_says_who_was_left_out(
    client: FlaskClient,
    session: Session,
    login: Callable[..., User],
    campaign: Campaign,
    ready: dict[str, Any],
) -> None:
    login(Role.BUILDER)
    list_url = f"/prospects/?campaign={campaign.id}"
    listing = client.get(list_url).get_data(as_text=True)
    assert "Enrol in sequence…" in listing
    assert f'<option value="{ready["sequence"].id}">Pitch and nudge</option>' in listing
    ids = [str(ready["reachable"].id), str(ready["silent"].id)]
    base = {"campaign": campaign.id, "action": "enrol", "back": list_url}

    unchosen = post(client, "/prospects/bulk", {**base, "ids": ids}, page=list_url)
    assert "Choose a sequence of this campaign" in client.get(unchosen.location).get_data(
        as_text=True
    )

    done = post(
        client,
        "/prospects/bulk",
        {**base, "ids": ids, "sequence_id": ready["sequence"].id},
        page=list_url,
    )
    assert done.status_code == 302
    flashed = client.get(done.location).get_data(as_text=True)
    assert (
        "Pitch and nudge: 1 enrolled; skipped 1 (no contact with a usable email address)."
        in flashed
    )
    enrolment = session.exec(select(Enrolment)).one()
    assert enrolment.prospect_id == ready["reachable"].id

    again = post(
        client,
        "/prospects/bulk",
        {**base, "scope": "all", "sequence_id": ready["sequence"].id},
        page=list_url,
    )
    flashed = client.get(again.location).get_data(as_text=True)
    assert "0 enrolled; skipped 1 (already in sequence Pitch and nudge)" in flashed
    assert "alert-warning" in flashed


def test_prospect_page_enrols_shows_the_next_step_and_stops(
    client: FlaskClient,
    session: Session,
    login: Callable[..., User],
    ready: dict[str, Any],
) -> None:
    login(Role.BUILDER)
    prospect, sequence = ready["reachable"], ready["sequence"]
    url = f"/prospects/{prospect.id}"
    assert "Not in any sequence." in client.get(url).get_data(as_text=True)

    enrolled = post(client, f"{url}/enrol", {"sequence_id": sequence.id}, page=url)
    assert enrolled.status_code == 302
    page = client.get(url).get_data(as_text=True)
    assert "Enrolled in Pitch and nudge." in page
    enrolment = session.exec(select(Enrolment)).one()
    due = enrolment.next_due_at.astimezone(ZoneInfo("America/New_York"))
    assert "Step 1 of 2 on" in page
    assert f"{due:%a} {due.day} {due:%b}, {due:%H:%M} America/New_York" in page
    utc = enrolment.next_due_at.astimezone(UTC)
    assert f"({utc:%a} {utc.day} {utc:%b}, {utc:%H:%M} UTC)" in page

    twice = post(client, f"{url}/enrol", {"sequence_id": sequence.id}, page=url)
    assert "Not enrolled in Pitch and nudge: already in sequence Pitch and nudge." in client.get(
        twice.location
    ).get_data(as_text=True)

    stopped = post(client, f"/enrolments/{enrolment.id}/stop", {}, page=url)
    assert stopped.status_code == 302
    session.refresh(enrolment)
    assert enrolment.status is EnrolmentStatus.STOPPED
    page = client.get(url).get_data(as_text=True)
    assert "Stopped: stopped by hand." in page
    assert f"/enrolments/{enrolment.id}/stop" not in page


def test_enrol_from_a_board_card_returns_to_the_board(
    client: FlaskClient,
    session: Session,
    login: Callable[..., User],
    ready: dict[str, Any],
) -> None:
    login(Role.BUILDER)
    prospect, sequence = ready["reachable"], ready["sequence"]
    board = f"/campaigns/{prospect.campaign_id}/board"
    page = client.get(board).get_data(as_text=True)
    assert f'id="enrol-{prospect.id}"' in page
    enrolled = post(
        client,
        f"/prospects/{prospect.id}/enrol",
        {"sequence_id": sequence.id, "back": board},
        page=board,
    )
    assert enrolled.location == board
    assert session.exec(select(Enrolment.prospect_id)).all() == [prospect.id]
    outside = post(
        client,
        f"/prospects/{prospect.id}/enrol",
        {"sequence_id": sequence.id, "back": "https://evil.example/"},
        page=board,
    )
    assert outside.location.startswith(f"/prospects/{prospect.id}")


# --- Inbox ----------------------------------------------------------------------------------


def received(session: Session, kind: InboundKind, subject: str, **fields: Any) -> Message:
    message = Message(
        direction=Direction.INBOUND,
        status=MessageStatus.RECEIVED,
        inbound_kind=kind,
        message_id=f"<{subject.replace(' ', '-')}@mail.test>",
        from_address="anna@blog.example",
        to_address="maria@client.example",
        subject=subject,
        received_at=datetime(2026, 11, 24, 15, 30, tzinfo=UTC),
        **fields,
    )
    session.add(message)
    session.commit()
    return message


def test_inbox_lists_what_to_act_on_and_mark_handled_removes_it(
    client: FlaskClient,
    session: Session,
    login: Callable[..., User],
    ready: dict[str, Any],
) -> None:
    login(Role.BUILDER)
    prospect = ready["reachable"]
    reply = received(
        session,
        InboundKind.REPLY,
        "Re: A guide for your readers",
        prospect_id=prospect.id,
        body_text="Sounds good,\n\nsend me the draft.\n\n> quoted pitch",
    )
    received(session, InboundKind.BOUNCE_HARD, "Undeliverable: hello")
    inbox = client.get("/inbox/").get_data(as_text=True)
    assert "Re: A guide for your readers" in inbox
    assert "Sounds good, send me the draft." in inbox
    assert f'href="/prospects/{prospect.id}">blog.example</a> in Guest posts' in inbox
    assert "Undeliverable" not in inbox
    assert 'id="tab-count-bounces">1<' in inbox
    assert "Undeliverable: hello" in client.get("/inbox/?tab=bounces").get_data(as_text=True)
    assert client.get("/inbox/?tab=spam").status_code == 404

    done = post(client, f"/inbox/{reply.id}/handled", {"back": "/inbox/?tab=replies"}, "/inbox/")
    assert done.status_code == 302
    assert done.location == "/inbox/?tab=replies"
    session.refresh(reply)
    assert reply.handled_at is not None
    inbox = client.get("/inbox/").get_data(as_text=True)
    assert "“Re: A guide for your readers” marked handled." in inbox
    assert f'id="message-{reply.id}"' not in inbox
    assert "Re: A guide for your readers" in client.get("/inbox/?tab=handled").get_data(
        as_text=True
    )


def test_mark_handled_with_htmx_answers_with_the_new_counts(
    client: FlaskClient, session: Session, login: Callable[..., User]
) -> None:
    login(Role.BUILDER)
    bounce = received(session, InboundKind.BOUNCE_SOFT, "Mailbox full")
    answer = client.post(
        f"/inbox/{bounce.id}/handled",
        data={"csrf_token": csrf_token(client, "/inbox/?tab=bounces")},
        headers={"HX-Request": "true"},
    )
    assert answer.status_code == 200
    text = answer.get_data(as_text=True)
    assert 'id="tab-count-bounces" hx-swap-oob="innerHTML">0<' in text
    assert "Mailbox full” marked handled." in text
    assert "<li" not in text
