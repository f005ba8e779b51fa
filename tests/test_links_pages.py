"""The link pages: the Links card on a prospect's page (add, check now), a placement's page
(toxic toggle, reclaim email), the Links page's tabs and alerts, and a campaign's ledger with
its CSV and disavow exports. Checks are recorded through the service, with verdict objects;
one "Check now" fetches a real page from a local HTTP server."""

from __future__ import annotations

import csv
import io
import random
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, select

from outreach.auth.models import Role, User
from outreach.campaigns.models import Campaign, CampaignKind, ContentAsset
from outreach.clock import FixedClock
from outreach.links.models import Placement, PlacementStatus
from outreach.links.monitor import CheckIntervals
from outreach.links.schemas import PlacementInput
from outreach.links.services import CheckResult, create_placement, record_check
from outreach.links.verdict import Verdict
from outreach.mail.mailboxes import create_mailbox
from outreach.mail.models import Message, MessageStatus
from outreach.mail.schemas import MailboxInput
from outreach.prospects.models import Prospect
from outreach.prospects.schemas import ProspectInput
from outreach.prospects.services import add_prospect
from tests.conftest import csrf_token, sign_in
from tests.httpservers import Site

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
TODAY = NOW.date()
LINKED = (
    b'<html><body><p>See <a href="https://client.example/guide">the guide</a></p></body></html>'
)
NOFOLLOW = (
    b'<html><body><a rel="nofollow" href="https://client.example/guide">the guide</a></body></html>'
)


@pytest.fixture
def local_app(app: Flask) -> Flask:
    """A fixed clock, and pages on 127.0.0.1 allowed (the test server is there)."""
    state = app.extensions["outreach"]
    settings = state.settings.model_copy(update={"links_allow_private": True})
    app.extensions["outreach"] = replace(state, settings=settings, clock=FixedClock(NOW))
    return app


@pytest.fixture
def manager(local_app: Flask, make_user: Callable[..., User]) -> User:
    return make_user(Role.MANAGER, name="Maria")


def post(client: FlaskClient, path: str, data: dict[str, Any], page: str) -> Any:
    """A form post with the CSRF token of the page the form is on."""
    return client.post(path, data={**data, "csrf_token": csrf_token(client, page)})


def text(response: Any) -> str:
    return response.get_data(as_text=True)


def new_prospect(
    session: Session, campaign: Campaign, user: User, domain: str = "blog.example", **fields: Any
) -> Prospect:
    return add_prospect(
        session, campaign, ProspectInput.model_validate({"domain": domain, **fields}), user
    )


def new_placement(
    session: Session, prospect: Prospect, user: User, at: datetime = NOW, **fields: Any
) -> Placement:
    data = {
        "page_url": "https://blog.example/post",
        "target": "https://client.example/guide",
        "expected_anchor": "the guide",
        **fields,
    }
    return create_placement(session, prospect, PlacementInput.model_validate(data), user, at)


def verdict(name: str = "live", page_url: str = "", **changes: Any) -> Verdict:
    found = name in ("live", "nofollow", "sponsored", "ugc", "noindex")
    fields: dict[str, Any] = {
        "verdict": name,
        "found": found,
        "http_status": 200 if name not in ("page_gone", "page_error") else 404,
        "final_url": page_url,
        "rel": [],
        "anchor_text": "the guide" if found else "",
        "indexable": True,
        "canonical": "",
        "error": "",
        **changes,
    }
    return Verdict(**fields)


def checked(
    session: Session, placement: Placement, name: str = "live", at: datetime = NOW, **changes: Any
) -> None:
    """Record one check of `placement`, as the monitor would have."""
    result = CheckResult(verdict(name, placement.page_url, **changes), [])
    record_check(session, placement, result, at, CheckIntervals(), random.Random(1))
    session.commit()


def lost(session: Session, placement: Placement) -> None:
    """Live once, then missing three times in a row."""
    checked(session, placement, "live", NOW - timedelta(days=30))
    for days in (3, 2, 1):
        checked(session, placement, "missing", NOW - timedelta(days=days))
    assert placement.status is PlacementStatus.LOST


def other_campaign(session: Session, campaign: Campaign) -> Campaign:
    other = Campaign(
        name="Resource pages",
        kind=CampaignKind.RESOURCE_PAGE,
        client_id=campaign.client_id,
        client_url="https://client.example/",
    )
    session.add(other)
    session.commit()
    return other


# --- The prospect page ----------------------------------------------------------------------


def placement_form(**changes: str) -> dict[str, str]:
    form = {
        "placement_page_url": "https://blog.example/garden-guide",
        "placement_target": "https://client.example/guide",
        "placement_expected_anchor": "balcony guide",
        "placement_expected_rel": "follow",
        "placement_link_type": "guest_post",
        "placement_asset_id": "",
        "placement_cost": "150.00",
        "placement_promised_on": "2026-11-20",
        "placement_expires_on": "",
    }
    form.update(changes)
    return form


def test_add_placement_keeps_what_was_typed_and_explains_errors(
    client: FlaskClient, session: Session, manager: User, campaign: Campaign
) -> None:
    prospect = new_prospect(
        session, campaign, manager, page_url="https://blog.example/write-for-us"
    )
    other_asset = ContentAsset(
        campaign_id=other_campaign(session, campaign).id, title="Other", url="https://x.example/"
    )
    session.add(other_asset)
    session.commit()
    sign_in(client, manager)
    page_path = f"/prospects/{prospect.id}"
    blank = text(client.get(page_path))
    assert 'id="links-heading"' in blank
    assert "No placements recorded." in blank
    assert 'name="placement_cost"' in blank
    # The campaign is a guest-post campaign: that is the link type to expect.
    assert re.search(r'<option value="guest_post" selected>', blank)

    refused = post(
        client,
        f"/prospects/{prospect.id}/placements",
        placement_form(
            placement_target="ftp://client.example/",
            placement_expires_on="2026-11-01",
            placement_expected_anchor="Crème brûlée guide",
        ),
        page_path,
    )
    assert refused.status_code == 422
    page = text(refused)
    assert "is not an http(s) URL" in page
    assert "the link cannot expire before it was promised" in page
    assert 'value="https://blog.example/garden-guide"' in page
    assert 'value="Crème brûlée guide"' in page
    assert 'value="150.00"' in page
    assert re.search(
        r'id="placement_target" name="placement_target"[^>]*\n?[^>]*aria-invalid', page
    )
    assert "<details open>" in page
    # The prospect's details form still shows what is saved, not the placement's fields.
    assert (
        'id="page_url" name="page_url" type="url"\n         value="https://blog.example/write-for-us"'
        in page
    )

    wrong_asset = post(
        client,
        f"/prospects/{prospect.id}/placements",
        placement_form(placement_asset_id=str(other_asset.id)),
        page_path,
    )
    assert wrong_asset.status_code == 422
    assert f"There is no asset {other_asset.id} in this campaign." in text(wrong_asset)

    saved = post(
        client,
        f"/prospects/{prospect.id}/placements",
        placement_form(placement_paid="1"),
        page_path,
    )
    assert saved.status_code == 302
    assert saved.headers["Location"].endswith(f"/prospects/{prospect.id}#links-heading")
    placement = session.exec(select(Placement)).one()
    assert (placement.cost, placement.paid, placement.link_type.value) == (
        Decimal("150.00"),
        True,
        "guest_post",
    )
    assert placement.next_check_at == NOW
    card = text(client.get(page_path))
    assert "Placement on https://blog.example/garden-guide recorded" in card
    assert "Last verdict: not checked yet" in card
    assert f'href="/placements/{placement.id}"' in card


def test_a_builder_records_paid_links_but_never_sees_or_sets_a_cost(
    client: FlaskClient,
    session: Session,
    make_user: Callable[..., User],
    campaign: Campaign,
    local_app: Flask,
) -> None:
    builder = make_user(Role.BUILDER)
    prospect = new_prospect(session, campaign, builder)
    sign_in(client, builder)
    page_path = f"/prospects/{prospect.id}"
    page = text(client.get(page_path))
    assert "placement_cost" not in page
    assert 'name="placement_paid"' in page
    saved = post(
        client,
        f"/prospects/{prospect.id}/placements",
        placement_form(placement_paid="1", placement_cost="999"),
        page_path,
    )
    assert saved.status_code == 302
    placement = session.exec(select(Placement)).one()
    assert (placement.paid, placement.cost) == (True, None)

    placement.cost = Decimal("80")
    session.commit()
    checked(session, placement)
    detail = text(client.get(f"/placements/{placement.id}"))
    assert 'Paid</dt><dd class="col-7">yes' in detail
    assert "Cost" not in detail
    assert "80.00" not in detail
    ledger = text(client.get(f"/campaigns/{campaign.id}/ledger"))
    assert "garden-guide" in ledger
    assert "Cost" not in ledger
    assert "80.00" not in ledger
    header = text(client.get(f"/campaigns/{campaign.id}/ledger.csv")).splitlines()[0]
    assert "cost" not in header


def test_check_now_fetches_the_page_and_flashes_the_verdict(
    client: FlaskClient, session: Session, manager: User, campaign: Campaign
) -> None:
    with Site() as site:
        site.pages["post"] = (200, LINKED)
        prospect = new_prospect(session, campaign, manager)
        placement = new_placement(session, prospect, manager, page_url=site.url("/pages/post"))
        sign_in(client, manager)
        page_path = f"/prospects/{prospect.id}"
        back = f"{page_path}#links-heading"
        done = post(client, f"/placements/{placement.id}/check", {"back": back}, page_path)
        assert done.status_code == 302
        assert done.headers["Location"] == back
        card = text(client.get(page_path))
        assert f"{placement.page_url}: link found, followed." in card
        assert (
            'Last verdict: <span class="verdict verdict-live">link found, followed</span>' in card
        )
        assert 'last checked <time datetime="2026-11-24T09:00:00+00:00">' in card
        session.expire_all()
        assert session.get(Placement, placement.id).status is PlacementStatus.LIVE

        site.pages["post"] = (200, NOFOLLOW)
        post(client, f"/placements/{placement.id}/check", {}, page_path)
        detail = text(client.get(f"/placements/{placement.id}"))
        assert "link found, nofollow; nofollow where a followed link was agreed." in detail
        assert '<dt class="col-4">verdict</dt><dd class="col-8"><code>nofollow</code>' in detail
        assert detail.count("<tr>") == 3  # the header and two checks


def test_toxic_toggle_and_the_disavow_file(
    client: FlaskClient, session: Session, manager: User, campaign: Campaign
) -> None:
    campaign.name = "Guest\nposts"  # a name on two lines must not end the comment
    session.commit()
    prospect = new_prospect(session, campaign, manager)
    pages = [
        "https://www.blog.example/a",
        "https://news.blog.example/b",
        "https://spam.example.co.uk/c",
        "http://127.0.0.1/d",
        "https://fine.example/e",
    ]
    placements = [new_placement(session, prospect, manager, page_url=url) for url in pages]
    sign_in(client, manager)
    for placement in placements[:4]:
        page = f"/placements/{placement.id}"
        marked = post(client, f"{page}/toxic", {"toxic": "1"}, page)
        assert marked.status_code == 302
    detail = text(client.get(f"/placements/{placements[0].id}"))
    assert "marked toxic: it is in the disavow file now." in detail
    assert "Mark not toxic" in detail

    response = client.get(f"/campaigns/{campaign.id}/disavow.txt")
    assert response.mimetype == "text/plain"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="disavow-{campaign.id}.txt"'
    )
    assert text(response) == (
        "# disavow file for Guest posts generated 2026-11-24\n"
        "domain:blog.example\n"
        "domain:example.co.uk\n"
        "http://127.0.0.1/d\n"
    )

    page = f"/placements/{placements[2].id}"
    post(client, f"{page}/toxic", {"toxic": "0"}, page)
    assert "is no longer marked toxic." in text(client.get(page))
    assert "example.co.uk" not in text(client.get(f"/campaigns/{campaign.id}/disavow.txt"))


# --- The ledger -----------------------------------------------------------------------------


def test_ledger_page_and_csv(
    client: FlaskClient, session: Session, manager: User, campaign: Campaign
) -> None:
    asset = ContentAsset(
        campaign_id=campaign.id, title="Balcony guide", url="https://client.example/guide"
    )
    session.add(asset)
    session.commit()
    café = new_prospect(session, campaign, manager, "café.example", domain_rating=55, traffic=12000)
    live = new_placement(
        session,
        café,
        manager,
        page_url="https://café.example/post",
        cost="120.50",
        asset_id=asset.id,
        link_type="guest_post",
    )
    checked(session, live, "live", NOW - timedelta(days=10), anchor_text="Old anchor")
    checked(
        session, live, "live", NOW - timedelta(days=3), anchor_text="Crème guide", rel=["noopener"]
    )
    blog = new_prospect(session, campaign, manager, "blog.example")
    was_live = new_placement(session, blog, manager, page_url="https://blog.example/x")
    checked(session, was_live, "live", NOW - timedelta(days=40), rel=["sponsored"])
    checked(session, was_live, "page_error", NOW - timedelta(days=1), http_status=503)
    assert was_live.status is PlacementStatus.UNKNOWN
    new_placement(session, blog, manager, page_url="https://blog.example/promised")
    gone = new_placement(session, blog, manager, page_url="https://blog.example/gone")
    lost(session, gone)
    sign_in(client, manager)

    page = text(client.get(f"/campaigns/{campaign.id}"))
    assert f'href="/campaigns/{campaign.id}/ledger"' in page
    ledger = text(client.get(f"/campaigns/{campaign.id}/ledger"))
    assert "2 links live, or live before the last check could not tell." in ledger
    assert "unknown, was live" in ledger
    assert "USD 120.50" in ledger
    assert "12,000" in ledger
    assert "40 days" in ledger
    assert "10 days" in ledger
    assert "promised" not in ledger
    assert "/gone" not in ledger

    response = client.get(f"/campaigns/{campaign.id}/ledger.csv")
    assert response.mimetype == "text/csv"
    body = response.get_data().decode("utf-8")
    assert body.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(body.removeprefix("\ufeff"))))
    assert rows[0] == [
        "status",
        "link_type",
        "page_url",
        "domain",
        "domain_rating",
        "traffic",
        "anchor_text",
        "rel",
        "target",
        "asset",
        "cost",
        "first_seen",
        "last_checked",
        "survival_days",
    ]
    assert rows[1:] == [
        [
            "unknown",
            "other",
            "https://blog.example/x",
            "blog.example",
            "",
            "",
            "the guide",
            "sponsored",
            "https://client.example/guide",
            "",
            "",
            "2026-10-15T09:00:00+00:00",
            "2026-11-23T09:00:00+00:00",
            "40",
        ],
        [
            "live",
            "guest_post",
            "https://café.example/post",
            "café.example",
            "55",
            "12000",
            "Crème guide",
            "noopener",
            "https://client.example/guide",
            "Balcony guide",
            "120.50",
            "2026-11-14T09:00:00+00:00",
            "2026-11-21T09:00:00+00:00",
            "10",
        ],
    ]


def test_ledger_csv_cells_never_start_a_formula(
    client: FlaskClient, session: Session, manager: User, campaign: Campaign
) -> None:
    prospect = new_prospect(session, campaign, manager)
    placement = new_placement(session, prospect, manager)
    checked(session, placement, anchor_text='=HYPERLINK("http://evil.example")')
    sign_in(client, manager)
    body = text(client.get(f"/campaigns/{campaign.id}/ledger.csv")).removeprefix("\ufeff")
    row = list(csv.reader(io.StringIO(body)))[1]
    assert row[6] == '\'=HYPERLINK("http://evil.example")'


# --- The Links page -------------------------------------------------------------------------


@pytest.fixture
def many_links(session: Session, manager: User, campaign: Campaign) -> dict[str, Placement]:
    prospect = new_prospect(session, campaign, manager)
    made = {
        name: new_placement(
            session, prospect, manager, page_url=f"https://blog.example/{name}", **fields
        )
        for name, fields in {
            "clean": {},
            "nofollowed": {},
            "gone": {},
            "expiring": {"paid": True, "expires_on": TODAY + timedelta(days=5)},
            "expires-later": {"paid": True, "expires_on": TODAY + timedelta(days=30)},
            "overdue": {"promised_on": TODAY - timedelta(days=3)},
            "due-later": {"promised_on": TODAY + timedelta(days=3)},
            "unsure": {},
        }.items()
    }
    checked(session, made["clean"])
    checked(session, made["nofollowed"], "nofollow", rel=["nofollow"])
    lost(session, made["gone"])
    checked(session, made["unsure"])
    checked(session, made["unsure"], "page_error", NOW + timedelta(hours=1))
    other = new_prospect(session, other_campaign(session, campaign), manager, "elsewhere.example")
    made["elsewhere"] = new_placement(
        session, other, manager, page_url="https://elsewhere.example/"
    )
    lost(session, made["elsewhere"])
    return made


def listed(page: str) -> list[str]:
    return re.findall(r'<td class="link-page"><a href="https://[^/]+/([^"]*)"', page)


def test_links_page_tabs_and_alerts(
    client: FlaskClient, manager: User, campaign: Campaign, many_links: dict[str, Placement]
) -> None:
    sign_in(client, manager)
    alerts = text(client.get("/links/"))
    assert re.search(r'class="nav-link active" aria-current="page"\s+href="/links/">Links', alerts)
    assert sorted(listed(alerts)) == ["", "expiring", "gone", "nofollowed"]
    assert "nofollow where a followed link was agreed" in alerts
    assert "lost after 3 failing checks" in alerts
    assert "paid link expires in 5 days" in alerts
    assert re.search(r"Alerts\s*<span class=\"badge rounded-pill text-bg-danger\">4</span>", alerts)

    scoped = text(client.get(f"/links/?tab=alerts&campaign={campaign.id}"))
    assert sorted(listed(scoped)) == ["expiring", "gone", "nofollowed"]
    assert "Earned-link ledger of Guest posts" in scoped

    promised = text(client.get(f"/links/?tab=promised&campaign={campaign.id}"))
    assert listed(promised)[:2] == ["overdue", "due-later"]
    assert "1 promised link overdue" in promised
    assert "Overdue: promised on 2026-11-21" in promised
    assert set(listed(promised)) == {"overdue", "due-later", "expiring", "expires-later"}

    assert sorted(listed(text(client.get("/links/?tab=live")))) == ["clean", "nofollowed"]
    assert listed(text(client.get("/links/?tab=unknown"))) == ["unsure"]
    assert sorted(listed(text(client.get("/links/?tab=lost")))) == ["", "gone"]
    assert len(listed(text(client.get("/links/?tab=all")))) == 9
    assert client.get("/links/?tab=nonsense").status_code == 404
    assert client.get("/links/?campaign=x").status_code == 400
    assert client.get("/links/?campaign=999").status_code == 404


# --- Reclaim --------------------------------------------------------------------------------


def test_reclaim_shows_the_draft_or_why_not(
    local_app: Flask,
    client: FlaskClient,
    session: Session,
    manager: User,
    campaign: Campaign,
) -> None:
    silent = new_prospect(session, campaign, manager, "silent.example")
    nobody = new_placement(session, silent, manager, page_url="https://silent.example/p")
    lost(session, nobody)
    sign_in(client, manager)
    page = text(client.get(f"/placements/{nobody.id}"))
    assert "There is no contact with an email address for this site." in page
    assert "Queue reclaim email" not in page

    prospect = new_prospect(
        session,
        campaign,
        manager,
        contact={"first_name": "Anna", "email": "anna@blog.example"},
    )
    placement = new_placement(session, prospect, manager, page_url="https://blog.example/post")
    lost(session, placement)
    no_mailbox = text(client.get(f"/placements/{placement.id}"))
    assert "The campaign has no active mailbox to send from." in no_mailbox

    create_mailbox(
        session,
        MailboxInput.model_validate(
            {
                "email": "maria@client.example",
                "from_name": "Maria",
                "smtp_host": "smtp.client.example",
                "smtp_username": "maria",
                "smtp_password": "secret",
                "campaign_ids": [campaign.id],
            }
        ),
        local_app.extensions["outreach"].mail_key,
        manager,
    )
    path = f"/placements/{placement.id}"
    draft = text(client.get(path))
    assert "To <strong>anna@blog.example</strong> from maria@client.example" in draft
    assert 'value="The link on https://blog.example/post"' in draft
    assert "Hi Anna," in draft

    empty = post(client, f"{path}/reclaim", {"subject": " ", "body": "Please?"}, path)
    assert empty.status_code == 422
    assert "Write a subject and a message." in text(empty)
    assert ">Please?</textarea>" in text(empty)

    sent = post(client, f"{path}/reclaim", {"subject": "Our link", "body": "Hi Anna"}, path)
    assert sent.status_code == 302
    assert "Reclaim email queued to anna@blog.example." in text(client.get(path))
    message = session.exec(select(Message)).one()
    assert (message.status, message.subject, message.to_address) == (
        MessageStatus.QUEUED,
        "Our link",
        "anna@blog.example",
    )

    live = new_placement(session, prospect, manager, page_url="https://blog.example/other")
    checked(session, live)
    refused = post(client, f"/placements/{live.id}/reclaim", {"subject": "x", "body": "y"}, path)
    assert refused.status_code == 302
    live_page = text(client.get(f"/placements/{live.id}"))
    assert "Only a lost link can be reclaimed." in live_page
    assert 'id="reclaim-heading"' not in live_page


def test_unknown_placements_and_prospects_are_404(
    client: FlaskClient, manager: User, campaign: Campaign
) -> None:
    sign_in(client, manager)
    assert client.get("/placements/999").status_code == 404
    assert client.get("/campaigns/999/ledger").status_code == 404
    token = csrf_token(client, "/links/")
    assert client.post("/prospects/999/placements", data={"csrf_token": token}).status_code == 404
    assert client.post("/placements/999/check", data={"csrf_token": token}).status_code == 404
