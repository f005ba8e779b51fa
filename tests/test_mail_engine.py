"""The email engine end to end: real SMTP (aiosmtpd) and IMAP (Dovecot) servers on 127.0.0.1,
and a clock that travels through simulated days."""

from __future__ import annotations

import imaplib
import json
import re
import smtplib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import make_msgid
from typing import Any

import pytest
from flask import Flask
from sqlmodel import Session, select

from outreach.auth.models import Role, User
from outreach.campaigns.models import Campaign, CampaignKind, Client
from outreach.mail.mailboxes import create_mailbox
from outreach.mail.models import (
    CampaignMailbox,
    Enrolment,
    EnrolmentStatus,
    InboundKind,
    Mailbox,
    Message,
    MessageStatus,
    Sequence,
    Suppression,
    Template,
    TransportSecurity,
)
from outreach.mail.runner import mail_context, run_due
from outreach.mail.schemas import MailboxInput, SequenceInput, StepInput, TemplateInput
from outreach.mail.sequences import create_sequence, enrol
from outreach.mail.services import create_template
from outreach.mail.stopping import StopReason, stop_enrolments_for_prospects
from outreach.prospects.models import Contact, EmailStatus, Prospect, Stage
from outreach.prospects.pipeline import MoveReason
from outreach.prospects.schemas import ContactInput, ProspectInput
from outreach.prospects.services import add_prospect, move_stage
from outreach.reports.campaign_report import campaign_report
from tests.mailservers import ImapServer, SmtpSink

# Monday 23 November 2026, 06:00 UTC = 01:00 in New York (UTC-5 in November).
MONDAY = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
NEW_YORK_9AM_UTC = 14


@dataclass
class World:
    app: Flask
    session: Session
    user: User
    campaign: Campaign
    prospect: Prospect
    contact: Contact
    sink: SmtpSink
    imap: ImapServer
    imap_user: str
    imap_password: str
    sequence_id: int

    def run(self, at: datetime) -> dict[str, Any]:
        summary = run_due(self.app.extensions["outreach"].engine, mail_context(self.app), at)
        self.session.expire_all()
        return summary

    def enrolment(self) -> Enrolment:
        return self.session.exec(
            select(Enrolment).where(Enrolment.prospect_id == self.prospect.id)
        ).one()

    def deliver(self, raw: str) -> None:
        self.imap.append(self.imap_user, self.imap_password, raw.encode())


def at_utc(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def make_template(session: Session, user: User, name: str, subject: str, body: str) -> int:
    return create_template(session, TemplateInput(name=name, subject=subject, body=body), user).id


@pytest.fixture
def world(build_world: Callable[..., World]) -> World:
    return build_world()


@pytest.fixture
def build_world(
    app: Flask,
    session: Session,
    make_user: Callable[..., User],
    smtp_sink: SmtpSink,
    imap_server: ImapServer,
) -> Callable[..., World]:
    """A campaign in Berlin, a prospect in New York, a mailbox on the test servers and a
    three-step sequence; keyword arguments change the mailbox."""

    def build(**mailbox: Any) -> World:
        return _build_world(app, session, make_user, smtp_sink, imap_server, mailbox)

    return build


def _build_world(
    app: Flask,
    session: Session,
    make_user: Callable[..., User],
    smtp_sink: SmtpSink,
    imap_server: ImapServer,
    mailbox: dict[str, Any],
) -> World:
    user = make_user(Role.MANAGER, name="Maria")
    client = Client(name="Client", domain="client.example", website="https://client.example/")
    session.add(client)
    session.commit()
    campaign = Campaign(
        name="Balcony guide",
        kind=CampaignKind.GUEST_POST,
        client_id=client.id,
        client_url="https://client.example/",
        owner_id=user.id,
        timezone="Europe/Berlin",
    )
    session.add(campaign)
    session.commit()
    imap_user, imap_password = imap_server.new_account()
    create_mailbox(
        session,
        MailboxInput(
            email="maria@client.example",
            from_name="Maria",
            signature="Maria, Client",
            **{
                "smtp_host": smtp_sink.host,
                "smtp_port": smtp_sink.port,
                "smtp_security": TransportSecurity.NONE,
                "imap_host": imap_server.host,
                "imap_port": imap_server.port,
                "imap_security": TransportSecurity.NONE,
                "imap_username": imap_user,
                "imap_password": imap_password,
                "campaign_ids": [campaign.id],
                "min_spacing_seconds": 0,
                **mailbox,
            },
        ),
        app.extensions["outreach"].mail_key,
        user,
    )
    prospect = add_prospect(
        session,
        campaign,
        ProspectInput(
            domain="gardenblog.example",
            timezone="America/New_York",
            contact=ContactInput(first_name="Ann", email="ann@gardenblog.example"),
        ),
        user,
    )
    session.commit()
    first = make_template(
        session, user, "Pitch", "A guide for {{ prospect.domain }}", "Hi {{ contact.first_name }},"
    )
    second = make_template(
        session, user, "Nudge", "ignored", "Any thoughts, {{ contact.first_name }}?"
    )
    third = make_template(session, user, "Last", "ignored", "Last note from {{ sender.name }}.")
    sequence = create_sequence(
        session,
        SequenceInput(
            campaign_id=campaign.id,
            name="Three steps",
            steps=[
                StepInput(delay_days=0, template_id=first),
                StepInput(delay_days=3, template_id=second),
                StepInput(delay_days=4, template_id=third),
            ],
        ),
        user,
    )
    contact = session.get(Contact, prospect.primary_contact_id)
    return World(
        app,
        session,
        user,
        campaign,
        prospect,
        contact,
        smtp_sink,
        imap_server,
        imap_user,
        imap_password,
        sequence.id,
    )


def enrol_world(world: World, when: datetime = MONDAY) -> None:
    sequence = world.session.get(Sequence, world.sequence_id)
    result = enrol(world.session, sequence, [world.prospect.id], world.user, when)
    assert result.enrolled == [world.prospect.id], result.skipped


def reply_to(world: World, message_id: str, *, headers: str = "", subject: str = "Re: hi") -> str:
    return (
        f"From: Ann <ann@gardenblog.example>\r\nTo: maria@client.example\r\n"
        f"Subject: {subject}\r\nMessage-ID: {make_msgid(domain='gardenblog.example')}\r\n"
        f"In-Reply-To: {message_id}\r\nReferences: {message_id}\r\n{headers}"
        "Date: Tue, 24 Nov 2026 10:00:00 -0500\r\n\r\nSounds good, send it over.\r\n"
    )


def test_three_steps_go_out_at_local_times_threaded(world: World) -> None:
    enrol_world(world)
    assert world.enrolment().next_due_at == at_utc(23, NEW_YORK_9AM_UTC)

    assert world.run(at_utc(23, 13, 59))["sent"] == 0
    assert world.run(at_utc(23, 14))["sent"] == 1
    first = world.sink.wait_for(1)[0].message
    assert first["Subject"] == "A guide for gardenblog.example"
    assert first["To"] == "ann@gardenblog.example"
    assert first["From"] == "Maria <maria@client.example>"
    assert first["In-Reply-To"] is None
    assert "Hi Ann," in first.get_content()
    assert "Maria, Client" in first.get_content()
    assert world.session.get(Prospect, world.prospect.id).stage is Stage.CONTACTED

    # Three business days later: Thursday 09:00 in New York.
    assert world.enrolment().next_due_at == at_utc(26, NEW_YORK_9AM_UTC)
    assert world.run(at_utc(25, 20))["sent"] == 0
    assert world.run(at_utc(26, 14, 1))["sent"] == 1
    second = world.sink.wait_for(2)[1].message
    assert second["Subject"] == "Re: A guide for gardenblog.example"
    assert second["In-Reply-To"] == first["Message-ID"]
    assert second["References"] == first["Message-ID"]

    # Four business days after Thursday's send (Fri, Mon, Tue, Wed): Wednesday 2 December.
    due = world.enrolment().next_due_at
    assert due == datetime(2026, 12, 2, NEW_YORK_9AM_UTC, 1, tzinfo=UTC)
    assert world.run(due)["sent"] == 1
    third = world.sink.wait_for(3)[2].message
    assert third["In-Reply-To"] == second["Message-ID"]
    assert third["References"].split() == [first["Message-ID"], second["Message-ID"]]
    assert "Last note from Maria." in third.get_content()
    assert world.enrolment().status is EnrolmentStatus.COMPLETED
    assert world.run(due + timedelta(days=10))["sent"] == 0
    assert len(world.sink.messages) == 3


def test_every_email_carries_one_click_unsubscribe(world: World) -> None:
    enrol_world(world)
    world.run(at_utc(23, 14))
    received = world.sink.wait_for(1)[0]
    email = received.message
    assert email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    links = re.findall(r"<([^>]+)>", email["List-Unsubscribe"])
    assert links[0].startswith("http://127.0.0.1:5000/unsubscribe/")
    assert links[1].startswith("mailto:maria@client.example?subject=unsubscribe%20")
    assert "Opt out of further emails: " + links[0] in email.get_content()
    # On the wire as they are, not as RFC 2047 encoded words, which no mail client reads as links.
    [header] = [line for line in received.raw.splitlines() if line.startswith(b"List-Unsubscribe:")]
    assert header == f"List-Unsubscribe: <{links[0]}>, <{links[1]}>".encode()


def test_a_reply_recorded_while_the_email_is_on_the_wire_wins(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The inbox of another process records a reply during the SMTP conversation: the email
    counts as sent, but the prospect stays at replied and the sequence stays stopped."""
    enrol_world(world)
    engine = world.app.extensions["outreach"].engine
    send_message = smtplib.SMTP.send_message

    def send_then_reply_arrives(smtp: smtplib.SMTP, *args: Any, **kwargs: Any) -> Any:
        answer = send_message(smtp, *args, **kwargs)
        with Session(engine) as other:
            stop_enrolments_for_prospects(other, [world.prospect.id], StopReason.REPLIED)
            prospect = other.get(Prospect, world.prospect.id)
            move_stage(other, prospect, MoveReason.REPLY_RECEIVED, at=at_utc(23, 14))
            other.commit()
        return answer

    monkeypatch.setattr(smtplib.SMTP, "send_message", send_then_reply_arrives)
    assert world.run(at_utc(23, 14))["sent"] == 1
    sent = world.session.exec(select(Message).where(Message.prospect_id == world.prospect.id))
    assert [message.status for message in sent] == [MessageStatus.SENT]
    enrolment = world.enrolment()
    assert (enrolment.status, enrolment.stop_reason) == (EnrolmentStatus.STOPPED, "replied")
    assert enrolment.next_due_at is None
    assert world.session.get(Prospect, world.prospect.id).stage is Stage.REPLIED
    assert world.run(at_utc(26, 14, 1))["sent"] == 0


def test_a_reply_in_the_mailbox_stops_the_sequence(world: World) -> None:
    enrol_world(world)
    world.run(at_utc(23, 14))
    first = world.sink.wait_for(1)[0].message
    world.deliver(reply_to(world, first["Message-ID"]))

    summary = world.run(at_utc(24, 16))
    assert summary["received"] == {"reply": 1}
    enrolment = world.enrolment()
    assert (enrolment.status, enrolment.stop_reason) == (EnrolmentStatus.STOPPED, "replied")
    assert world.session.get(Prospect, world.prospect.id).stage is Stage.REPLIED
    assert world.run(at_utc(30, 20))["sent"] == 0
    assert len(world.sink.messages) == 1
    # Polling again fetches nothing new and stores nothing twice.
    assert world.run(at_utc(30, 21))["received"] == {}
    inbound = world.session.exec(select(Message).where(Message.inbound_kind.is_not(None))).all()
    assert [m.inbound_kind for m in inbound] == [InboundKind.REPLY]
    assert inbound[0].prospect_id == world.prospect.id
    # The report counts the email on the day it went and the reply for the template it answers.
    report = campaign_report(world.session, world.campaign, at_utc(30, 22))
    assert (report["emails_sent"], report["replies"]) == (1, 1)
    [template] = report["templates"]
    assert (template["sent"], template["replies"], template["reply_rate"]) == (1, 1, 1.0)
    days = {week["week"]: (week["emails_sent"], week["replies"]) for week in report["over_time"]}
    assert days["2026-11-23"] == (1, 1)


def test_a_reply_from_a_colleague_at_the_same_site_counts(world: World) -> None:
    enrol_world(world)
    world.run(at_utc(23, 14))
    world.deliver(
        "From: Bob <bob@gardenblog.example>\r\nTo: maria@client.example\r\n"
        "Subject: About your guide\r\nMessage-ID: <colleague@gardenblog.example>\r\n\r\n"
        "Ann forwarded me your note. Interested!\r\n"
    )
    assert world.run(at_utc(24, 16))["received"] == {"reply": 1}
    assert world.enrolment().stop_reason == "replied"


def test_an_out_of_office_postpones_instead_of_stopping(world: World) -> None:
    enrol_world(world)
    world.run(at_utc(23, 14))
    first = world.sink.wait_for(1)[0].message
    world.deliver(
        reply_to(
            world,
            first["Message-ID"],
            headers="Auto-Submitted: auto-replied\r\n",
            subject="Out of Office: back on Monday",
        )
    )
    assert world.run(at_utc(23, 15))["received"] == {"auto_reply": 1}
    enrolment = world.enrolment()
    assert enrolment.status is EnrolmentStatus.ACTIVE
    assert world.session.get(Prospect, world.prospect.id).stage is Stage.CONTACTED
    # Due Thursday 09:00, pushed three days to Sunday, so Monday 09:00 in New York.
    assert enrolment.next_due_at == at_utc(30, NEW_YORK_9AM_UTC)
    assert world.run(at_utc(26, 14, 1))["sent"] == 0
    assert world.run(at_utc(30, 14))["sent"] == 1


def test_a_dsn_bounce_marks_the_contact_and_stops(world: World) -> None:
    enrol_world(world)
    world.run(at_utc(23, 14))
    first = world.sink.wait_for(1)[0].message
    world.deliver(
        "From: MAILER-DAEMON@mx.gardenblog.example\r\nTo: maria@client.example\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <bounce-1@mx.gardenblog.example>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nI could not deliver your message.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.gardenblog.example\r\n\r\n"
        "Final-Recipient: rfc822; ann@gardenblog.example\r\nAction: failed\r\n"
        "Status: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 User unknown\r\n"
        "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: {first['Message-ID']}\r\nSubject: {first['Subject']}\r\n"
        "--B--\r\n"
    )
    assert world.run(at_utc(23, 15))["received"] == {"bounce_hard": 1}
    assert world.session.get(Contact, world.contact.id).email_status is EmailStatus.BOUNCED
    suppression = world.session.exec(select(Suppression)).one()
    assert suppression.email == "ann@gardenblog.example"
    assert world.enrolment().stop_reason == "bounced"
    assert world.run(at_utc(30, 20))["sent"] == 0


def test_one_click_unsubscribe_suppresses_in_every_campaign(world: World) -> None:
    other = Campaign(
        name="Resource pages",
        kind=CampaignKind.RESOURCE_PAGE,
        client_id=world.campaign.client_id,
        client_url="https://client.example/",
        timezone="UTC",
    )
    world.session.add(other)
    world.session.commit()
    mailbox_id = world.session.exec(select(Mailbox.id)).one()
    world.session.add(CampaignMailbox(campaign_id=other.id, mailbox_id=mailbox_id))
    world.session.commit()
    second_prospect = add_prospect(
        world.session, other, ProspectInput(domain="gardenblog.example"), world.user
    )
    other_sequence = create_sequence(
        world.session,
        SequenceInput(
            campaign_id=other.id,
            name="One step",
            # A day later than the first campaign's email, so one email is out at opt-out time.
            steps=[
                StepInput(
                    delay_days=1,
                    template_id=make_template(world.session, world.user, "Hi", "Hi", "Hello."),
                )
            ],
        ),
        world.user,
    )
    enrol_world(world)
    enrol(world.session, other_sequence, [second_prospect.id], world.user, MONDAY)
    world.run(at_utc(23, 14))
    email = world.sink.wait_for(1)[0].message
    url = re.findall(r"<(http[^>]+)>", email["List-Unsubscribe"])[0]

    anonymous = world.app.test_client()
    response = anonymous.post(
        url.removeprefix("http://127.0.0.1:5000"),
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    world.session.expire_all()
    assert world.session.exec(select(Suppression.email)).all() == ["ann@gardenblog.example"]
    statuses = world.session.exec(select(Enrolment.status, Enrolment.stop_reason)).all()
    assert all(status is EnrolmentStatus.STOPPED for status, _ in statuses)
    assert {reason for _, reason in statuses} == {"unsubscribed"}
    assert world.run(at_utc(30, 20))["sent"] == 0
    assert len(world.sink.messages) == 1
    still_queued = world.session.exec(
        select(Message).where(Message.status == MessageStatus.QUEUED)
    ).all()
    assert still_queued == []


def outbox(world: World) -> list[Message]:
    return list(
        world.session.exec(
            select(Message).where(Message.direction == "outbound").order_by(Message.id)
        )
    )


def test_smtp_login_uses_the_encrypted_password(
    build_world: Callable[..., World], smtp_sink: SmtpSink
) -> None:
    with SmtpSink(username="maria", password="s3cret pass") as authed:
        world = build_world(
            smtp_port=authed.port, smtp_username="maria", smtp_password="s3cret pass"
        )
        stored = world.session.exec(select(Mailbox)).one()
        assert "s3cret" not in stored.smtp_password_encrypted
        enrol_world(world)
        assert world.run(at_utc(23, 14))["sent"] == 1
        assert authed.wait_for(1)[0].rcpt_tos == ("ann@gardenblog.example",)


def test_a_wrong_password_is_retried_and_shown_on_the_mailbox(
    build_world: Callable[..., World],
) -> None:
    with SmtpSink(username="maria", password="right") as authed:
        world = build_world(smtp_port=authed.port, smtp_username="maria", smtp_password="wrong")
        enrol_world(world)
        summary = world.run(at_utc(23, 14))
        assert (summary["sent"], summary["retried"]) == (0, 1)
        mailbox = world.session.exec(select(Mailbox)).one()
        assert "refused the username or password" in mailbox.last_error
        [message] = outbox(world)
        assert message.status is MessageStatus.QUEUED
        assert message.scheduled_at == at_utc(23, 14, 5)
        assert authed.messages == []


def test_a_temporary_refusal_is_retried_with_the_same_message_id(world: World) -> None:
    world.sink.refuse("ann@gardenblog.example", code=451, message="4.7.1 Try again later")
    enrol_world(world)
    assert world.run(at_utc(23, 14))["retried"] == 1
    [queued] = outbox(world)
    assert "451" in queued.error
    world.sink.accept("ann@gardenblog.example")
    assert world.run(at_utc(23, 14, 4))["sent"] == 0
    assert world.run(at_utc(23, 14, 5))["sent"] == 1
    assert world.sink.wait_for(1)[0].message["Message-ID"] == queued.message_id


def test_a_recipient_refused_for_good_is_a_hard_bounce(world: World) -> None:
    world.sink.refuse("ann@gardenblog.example", code=550, message="5.1.1 No such user")
    enrol_world(world)
    assert world.run(at_utc(23, 14))["failed"] == 1
    [failed] = outbox(world)
    assert failed.status is MessageStatus.FAILED
    assert "550" in failed.error
    assert world.session.get(Contact, world.contact.id).email_status is EmailStatus.BOUNCED
    assert world.enrolment().stop_reason == "bounced"
    assert world.session.exec(select(Suppression.email)).all() == ["ann@gardenblog.example"]


def add_new_yorker(world: World, first_name: str, domain: str) -> Prospect:
    return add_prospect(
        world.session,
        world.campaign,
        ProspectInput(
            domain=domain,
            timezone="America/New_York",
            contact=ContactInput(first_name=first_name, email=f"{first_name}@{domain}"),
        ),
        world.user,
    )


def test_daily_cap_holds_the_rest_for_tomorrow(build_world: Callable[..., World]) -> None:
    world = build_world(daily_cap=2)
    sequence = world.session.get(Sequence, world.sequence_id)
    ids = [world.prospect.id]
    for name in ("b", "c"):
        ids.append(add_new_yorker(world, name, f"{name}.example").id)
    assert len(enrol(world.session, sequence, ids, world.user, MONDAY).enrolled) == 3
    assert world.run(at_utc(23, 14))["sent"] == 2
    assert world.run(at_utc(23, 20))["sent"] == 0
    # 24 hours after the first two went out, there is room again.
    assert world.run(at_utc(24, 14))["sent"] == 1


def test_an_email_claimed_late_in_a_long_pass_is_claimed_and_sent_at_that_time(
    world: World,
) -> None:
    """A pass that spent 25 minutes on other work (link checks) before sending claims with a
    full lease from then: stamped with the pass's start, the claim would look abandoned to
    every other dispatcher, which would send the email again."""
    enrol_world(world)
    engine = world.app.extensions["outreach"].engine
    summary = run_due(
        engine, mail_context(world.app), at_utc(23, 14), clock=lambda: at_utc(23, 14, 25)
    )
    world.session.expire_all()

    assert summary["sent"] == 1
    [sent] = outbox(world)
    assert (sent.claimed_at, sent.sent_at) == (at_utc(23, 14, 25), at_utc(23, 14, 25))


def test_spacing_between_sends(build_world: Callable[..., World]) -> None:
    world = build_world(min_spacing_seconds=120)
    sequence = world.session.get(Sequence, world.sequence_id)
    other = add_new_yorker(world, "olga", "other.example")
    enrol(world.session, sequence, [world.prospect.id, other.id], world.user, MONDAY)
    assert world.run(at_utc(23, 14))["sent"] == 1
    assert world.run(at_utc(23, 14, 1))["sent"] == 0
    assert world.run(at_utc(23, 14, 2))["sent"] == 1


def test_an_email_held_past_its_window_waits_for_the_next_one(
    build_world: Callable[..., World],
) -> None:
    world = build_world(daily_cap=1)
    sequence = world.session.get(Sequence, world.sequence_id)
    other = add_new_yorker(world, "olga", "other.example")
    enrol(world.session, sequence, [world.prospect.id, other.id], world.user, MONDAY)
    world.run(at_utc(23, 14))
    # Tuesday 23:00 UTC is 18:00 in New York: the cap has room again but the window is shut.
    summary = world.run(at_utc(24, 23))
    assert (summary["sent"], summary["deferred"]) == (0, 1)
    held = [m for m in outbox(world) if m.status is MessageStatus.QUEUED]
    assert [m.scheduled_at for m in held] == [at_utc(25, NEW_YORK_9AM_UTC)]
    assert world.run(at_utc(25, 14))["sent"] == 1


def test_a_manual_move_past_contacted_stops_the_sequence(world: World) -> None:
    enrol_world(world)
    world.run(at_utc(23, 14))
    prospect = world.session.get(Prospect, world.prospect.id)
    move_stage(world.session, prospect, MoveReason.MANUAL, to=Stage.DECLINED, actor=world.user)
    world.session.commit()
    assert world.enrolment().stop_reason == "stage_moved"
    assert world.run(at_utc(30, 20))["sent"] == 0


def test_do_not_contact_stops_the_sequence(world: World) -> None:
    from outreach.prospects.services import bulk_do_not_contact

    enrol_world(world)
    bulk_do_not_contact(world.session, world.campaign.id, [world.prospect.id], "asked", world.user)
    assert world.enrolment().stop_reason == "do_not_contact"
    assert world.run(at_utc(23, 14))["sent"] == 0


def test_an_empty_merge_field_stops_with_the_reason_and_sends_nothing(world: World) -> None:
    template = world.session.exec(select(Template).where(Template.name == "Pitch")).one()
    template.body = "Dear {{ contact.last_name }},"
    world.session.commit()
    enrol_world(world)
    assert world.run(at_utc(23, 14))["stopped"] == 1
    enrolment = world.enrolment()
    assert enrolment.stop_reason == "merge_error"
    assert "contact.last_name" in enrolment.last_error
    assert "Step 1 (Pitch)" in enrolment.last_error
    assert world.sink.messages == []


def test_editing_a_sequence_changes_only_unsent_steps(world: World) -> None:
    from outreach.mail.sequences import update_sequence

    enrol_world(world)
    world.run(at_utc(23, 14))
    sequence = world.session.get(Sequence, world.sequence_id)
    templates = {t.name: t.id for t in world.session.exec(select(Template))}
    replacement = make_template(world.session, world.user, "Better", "x", "A better nudge.")
    update_sequence(
        world.session,
        sequence,
        SequenceInput(
            campaign_id=world.campaign.id,
            name="Two steps",
            steps=[
                StepInput(delay_days=0, template_id=templates["Nudge"]),
                StepInput(delay_days=1, template_id=replacement),
            ],
        ),
        world.user,
        at_utc(23, 15),
    )
    first = outbox(world)[0]
    assert "Hi Ann," in first.body_text
    assert world.enrolment().next_due_at == at_utc(24, NEW_YORK_9AM_UTC)
    assert world.run(at_utc(24, 14))["sent"] == 1
    assert "A better nudge." in world.sink.wait_for(2)[1].message.get_content()
    assert world.enrolment().status is EnrolmentStatus.COMPLETED


def test_an_opt_out_by_reply_to_the_mailto_suppresses(world: World) -> None:
    enrol_world(world)
    world.run(at_utc(23, 14))
    email = world.sink.wait_for(1)[0].message
    mailto = re.findall(r"<(mailto:[^>]+)>", email["List-Unsubscribe"])[0]
    subject = mailto.partition("subject=")[2].replace("%20", " ")
    world.deliver(
        "From: someone-else@elsewhere.example\r\nTo: maria@client.example\r\n"
        f"Subject: {subject}\r\nMessage-ID: <optout@elsewhere.example>\r\n\r\n\r\n"
    )
    assert world.run(at_utc(23, 15))["received"] == {"unsubscribe": 1}
    assert world.session.exec(select(Suppression.email)).all() == ["ann@gardenblog.example"]
    assert world.enrolment().stop_reason == "unsubscribed"


def test_mail_nobody_can_place_is_kept_as_unmatched(world: World) -> None:
    world.deliver(
        "From: stranger@nowhere.example\r\nTo: maria@client.example\r\nSubject: Hello\r\n"
        "Message-ID: <stranger@nowhere.example>\r\n\r\nWho are you?\r\n"
    )
    assert world.run(at_utc(23, 15))["received"] == {"unmatched": 1}
    stored = world.session.exec(select(Message).where(Message.direction == "inbound")).one()
    assert (stored.prospect_id, stored.subject) == (None, "Hello")


def test_run_due_cli_prints_a_json_summary(world: World) -> None:
    enrol_world(world)
    runner = world.app.test_cli_runner()
    result = runner.invoke(args=["outreach", "run-due", "--now", "2026-11-23T09:00:00-05:00"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["now"] == "2026-11-23T09:00:00-05:00"
    assert (summary["queued"], summary["sent"], summary["mailboxes_polled"]) == (1, 1, 1)
    bad = runner.invoke(args=["outreach", "run-due", "--now", "tomorrow"])
    assert bad.exit_code == 2
    assert "is not an ISO-8601 time" in bad.output


def test_the_first_poll_skips_mail_older_than_the_mailbox(world: World) -> None:
    old = (
        "From: ann@gardenblog.example\r\nTo: maria@client.example\r\nSubject: From 2020\r\n"
        "Message-ID: <old@gardenblog.example>\r\n\r\nAncient history.\r\n"
    )
    with world.imap.login(world.imap_user, world.imap_password) as imap:
        imap.append("INBOX", None, imaplib.Time2Internaldate(1_600_000_000), old.encode())
    world.deliver(
        "From: stranger@nowhere.example\r\nTo: maria@client.example\r\nSubject: New\r\n"
        "Message-ID: <new@nowhere.example>\r\n\r\nHello.\r\n"
    )
    assert world.run(at_utc(23, 15))["received"] == {"unmatched": 1}
    subjects = world.session.exec(select(Message.subject).where(Message.direction == "inbound"))
    assert list(subjects) == ["New"]
