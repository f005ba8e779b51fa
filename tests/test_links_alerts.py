"""What follows a check: the owner's email about a lost link, the reclaim email in the original
thread, expiry reminders, and the name/address/phone check of local citations."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlmodel import Session, col, select

from outreach.activity.models import Activity
from outreach.auth.models import Role, User
from outreach.campaigns.models import Campaign, Client
from outreach.clock import FixedClock
from outreach.links.models import LinkType, Placement, PlacementCheck, PlacementStatus
from outreach.links.schemas import PlacementInput
from outreach.links.services import (
    ReclaimRefusedError,
    create_placement,
    reclaim_draft,
    send_reclaim,
)
from outreach.mail.mailboxes import create_mailbox
from outreach.mail.models import Enrolment, Message, Sequence, TransportSecurity
from outreach.mail.runner import link_checks, mail_context, run_due
from outreach.mail.schemas import MailboxInput
from outreach.prospects.models import Prospect, Stage, StageChange
from outreach.prospects.schemas import ContactInput, ProspectInput
from outreach.prospects.services import add_prospect
from tests.httpservers import Site
from tests.mailservers import SmtpSink

MONDAY = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
LINKED = b'<html><body><a href="https://client.example/">Client</a></body></html>'
GONE = b"<html><body>Redesigned.</body></html>"


@pytest.fixture
def site() -> Iterator[Site]:
    with Site() as server:
        yield server


@pytest.fixture
def world(
    app: Flask,
    session: Session,
    campaign: Campaign,
    make_user: Callable[..., User],
    smtp_sink: SmtpSink,
) -> dict[str, Any]:
    state = app.extensions["outreach"]
    settings = state.settings.model_copy(update={"links_allow_private": True})
    app.extensions["outreach"] = replace(state, settings=settings, clock=FixedClock(MONDAY))
    owner = make_user(Role.BUILDER, email="ben@agency.example", name="Ben")
    create_mailbox(
        session,
        MailboxInput(
            email="maria@client.example",
            from_name="Maria",
            smtp_host=smtp_sink.host,
            smtp_port=smtp_sink.port,
            smtp_security=TransportSecurity.NONE,
            min_spacing_seconds=0,
            window_days=[1, 2, 3, 4, 5, 6, 7],
            window_start="00:00",
            window_end="23:59",
            campaign_ids=[campaign.id],
        ),
        state.mail_key,
        owner,
    )
    prospect = add_prospect(
        session,
        campaign,
        ProspectInput(
            domain="blog.example",
            owner_id=owner.id,
            contact=ContactInput(first_name="Ann", email="ann@blog.example"),
        ),
        owner,
    )
    return {"app": app, "owner": owner, "prospect": prospect, "sink": smtp_sink}


def due_pass(app: Flask, at: datetime) -> dict[str, Any]:
    return run_due(app.extensions["outreach"].engine, mail_context(app), at, link_checks(app))


def add_placement(session: Session, world: dict[str, Any], **fields: Any) -> Placement:
    data = PlacementInput(**{"target": "domain:client.example", **fields})
    return create_placement(session, world["prospect"], data, world["owner"], MONDAY)


def test_a_lost_link_emails_its_owner_and_can_be_reclaimed_in_the_thread(
    session: Session, world: dict[str, Any], site: Site
) -> None:
    app, sink = world["app"], world["sink"]
    site.pages["post"] = (200, LINKED)
    placement = add_placement(session, world, page_url=site.url("/pages/post"))
    earlier = Message(
        direction="outbound",
        status="sent",
        message_id="<pitch@client.example>",
        mailbox_id=1,
        prospect_id=world["prospect"].id,
        contact_id=world["prospect"].primary_contact_id,
        from_address="maria@client.example",
        to_address="ann@blog.example",
        subject="A guide for your readers",
        sent_at=MONDAY - timedelta(days=30),
        created_at=MONDAY - timedelta(days=30),
    )
    session.add(earlier)
    session.commit()
    due_pass(app, MONDAY)
    site.pages["post"] = (200, GONE)
    moment = MONDAY + timedelta(days=8)
    for _ in range(3):
        summary = due_pass(app, moment)
        session.expire_all()
        moment = session.get(Placement, placement.id).next_check_at
    assert summary["links_lost"] == 1
    notice = sink.wait_for(1)[0].message
    assert notice["To"] == "ben@agency.example"
    assert notice["Subject"].startswith("[outreach] Link lost on " + site.url("/pages/post"))
    assert notice["List-Unsubscribe"] is None

    placement = session.get(Placement, placement.id)
    draft = reclaim_draft(session, placement)
    assert (draft.to_address, draft.subject) == ("ann@blog.example", "Re: A guide for your readers")
    assert "Hi Ann," in draft.body
    assert site.url("/pages/post") in draft.body
    send_reclaim(
        session,
        placement,
        draft.subject,
        draft.body,
        world["owner"],
        moment,
        mail_context(app),
    )
    assert due_pass(app, moment)["sent"] == 1
    reclaim = sink.wait_for(2)[1].message
    assert reclaim["To"] == "ann@blog.example"
    assert reclaim["In-Reply-To"] == "<pitch@client.example>"
    assert reclaim["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    with pytest.raises(ReclaimRefusedError, match="Write a subject"):
        send_reclaim(session, placement, " ", "x", world["owner"], moment, mail_context(app))


def test_expiry_reminders_go_out_seven_and_two_days_before(
    session: Session, world: dict[str, Any]
) -> None:
    app, sink = world["app"], world["sink"]
    add_placement(
        session,
        world,
        page_url="https://blog.example/sponsored",
        paid=True,
        promised_on=date(2026, 11, 1),
        expires_on=date(2026, 12, 2),
    )
    # Keep the check itself out of the way: it is not what this test is about.
    session.exec(select(Placement)).one().next_check_at = None
    session.commit()
    assert due_pass(app, MONDAY)["links_expiry_reminders"] == 0
    assert due_pass(app, MONDAY + timedelta(days=2))["links_expiry_reminders"] == 1
    assert due_pass(app, MONDAY + timedelta(days=3))["links_expiry_reminders"] == 0
    assert due_pass(app, MONDAY + timedelta(days=7))["links_expiry_reminders"] == 1
    subjects = [mail.message["Subject"] for mail in sink.wait_for(2)]
    assert subjects == [
        "[outreach] Link on https://blog.example/sponsored expires on 2026-12-02 (7 days)",
        "[outreach] Link on https://blog.example/sponsored expires on 2026-12-02 (2 days)",
    ]
    kinds = session.exec(select(Activity.kind).where(Activity.kind == "placement.expiring"))
    assert len(list(kinds)) == 2


def test_a_local_citation_must_show_the_clients_name_address_and_phone(
    session: Session, world: dict[str, Any], campaign: Campaign, site: Site
) -> None:
    client = session.get(Client, campaign.client_id)
    client.business_name = "Green Balcony GmbH"
    client.street_address = "Gartenstraße 12"
    client.locality = "München"
    client.phone = "+49 89 1234567"
    session.commit()
    site.pages["listing"] = (
        200,
        (
            b"<html><body><h1>Green Balcony GmbH</h1><p>Gartenstr. 12, Munchen</p>"
            b'<a href="https://client.example/">Website</a></body></html>'
        ),
    )
    placement = add_placement(
        session, world, page_url=site.url("/pages/listing"), link_type=LinkType.LOCAL_CITATION
    )
    due_pass(world["app"], MONDAY)
    session.expire_all()
    check = session.exec(
        select(PlacementCheck).where(PlacementCheck.placement_id == placement.id)
    ).one()
    assert check.verdict == "live"
    assert check.mismatches == ["the listing does not show the phone '+49 89 1234567'"]
    assert session.get(Placement, placement.id).status is PlacementStatus.LIVE
    assert session.get(Prospect, world["prospect"].id).stage.value == "linked"


def test_a_batch_of_checks_applies_their_events_in_order(
    session: Session, world: dict[str, Any], campaign: Campaign, site: Site
) -> None:
    """The checks of one batch move prospects, log and alert as they would one at a time: a
    site whose live link is lost while another of its links goes live ends up linked (lost,
    then linked again), and a site with two links going live moves once, its sequence
    stopped."""
    app, sink = world["app"], world["sink"]
    site.pages["gone"] = (200, GONE)
    site.pages["post"] = (200, LINKED)
    blog = world["prospect"]
    lost = add_placement(session, world, page_url=site.url("/pages/gone"))
    lost.status, lost.first_live_at, lost.consecutive_failures = (
        PlacementStatus.LIVE,
        MONDAY - timedelta(days=30),
        2,
    )
    blog.stage = Stage.LINKED
    new = add_placement(session, world, page_url=site.url("/pages/post"))
    news = add_prospect(
        session,
        campaign,
        ProspectInput(domain="news.example", contact=ContactInput(email="ed@news.example")),
        world["owner"],
    )
    sequence = Sequence(campaign_id=campaign.id, name="Pitch")
    session.add(sequence)
    session.flush()
    session.add(
        Enrolment(
            sequence_id=sequence.id,
            prospect_id=news.id,
            contact_id=news.primary_contact_id,
            next_due_at=MONDAY + timedelta(days=3),
        )
    )
    data = PlacementInput(target="domain:client.example", page_url=site.url("/pages/post"))
    first = create_placement(session, news, data, world["owner"], MONDAY)
    second = create_placement(session, news, data, world["owner"], MONDAY)
    session.commit()

    summary = due_pass(app, MONDAY)

    assert (summary["links_checked"], summary["links_lost"], summary["links_live"]) == (4, 1, 3)
    session.expire_all()
    history = session.exec(
        select(StageChange.prospect_id, StageChange.to_stage, StageChange.reason)
        .where(StageChange.changed_at == MONDAY)
        .order_by(StageChange.id)
    ).all()
    assert [tuple(row) for row in history] == [
        (blog.id, Stage.LOST, "link_lost"),
        (blog.id, Stage.LINKED, "link_live"),
        (news.id, Stage.LINKED, "link_live"),
    ]
    assert session.get(Prospect, blog.id).stage is Stage.LINKED
    assert session.get(Prospect, news.id).linked_at == MONDAY
    logged = session.exec(
        select(Activity.kind, Activity.prospect_id, Activity.summary)
        .where(Activity.kind != "placement.added", col(Activity.kind).startswith("placement."))
        .order_by(Activity.id)
    ).all()
    assert [(kind, prospect_id) for kind, prospect_id, _ in logged] == [
        ("placement.lost", blog.id),
        ("placement.live", blog.id),
        ("placement.live", news.id),
        ("placement.live", news.id),
    ]
    assert logged[0][2] == f"Link lost on {lost.page_url} (missing, 3 failing checks in a row)"
    assert logged[1][2] == f"Link live on {new.page_url}"
    assert {first.id, second.id} < {p.id for p in session.exec(select(Placement))}
    enrolment = session.exec(select(Enrolment).where(Enrolment.prospect_id == news.id)).one()
    assert (enrolment.status, enrolment.stop_reason) == ("stopped", "stage_moved")
    notice = sink.wait_for(1)[0].message
    assert notice["Subject"] == f"[outreach] {logged[0][2]}"


def test_a_checks_activity_is_cut_to_the_logs_length(
    session: Session, world: dict[str, Any], site: Site
) -> None:
    site.pages["post"] = (200, LINKED)
    long_url = site.url("/pages/post?ref=" + "x" * 600)
    add_placement(session, world, page_url=long_url)

    due_pass(world["app"], MONDAY)

    summary = session.exec(select(Activity.summary).where(Activity.kind == "placement.live")).one()
    assert summary == f"Link live on {long_url}"[:500]
