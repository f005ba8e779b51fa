"""Prospects: adding, the stage function, the list's filters and bulk actions, board and page."""

import csv
import io
import re
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from sqlmodel import select

from outreach.auth.models import Role
from outreach.campaigns.models import Campaign, CampaignKind
from outreach.mail.models import Enrolment, Sequence
from outreach.prospects.models import Contact, Domain, Prospect, Stage, StageChange
from outreach.prospects.pipeline import MoveReason
from outreach.prospects.schemas import ProspectInput, ProspectQuery
from outreach.prospects.services import (
    ProspectError,
    add_prospect,
    board_columns,
    domain_history,
    list_prospects,
    move_stage,
    move_stages,
)
from tests.conftest import csrf_token


@pytest.fixture
def other_campaign(session, campaign):
    other = Campaign(
        name="Round-up",
        kind=CampaignKind.EXPERT_ROUNDUP,
        client_id=campaign.client_id,
        client_url="https://client.example/",
    )
    session.add(other)
    session.commit()
    return other


def add(session, campaign, user, **fields):
    return add_prospect(session, campaign, ProspectInput.model_validate(fields), user)


class TestAdding:
    def test_domain_is_normalised_and_contact_and_tags_kept(self, session, campaign, make_user):
        user = make_user()
        prospect = add(
            session,
            campaign,
            user,
            page_url="https://www.Gardenista-Blog.example/write-for-us",
            domain_rating="54",
            tags="Gardening, DIY, gardening",
            contact={"first_name": "Anna", "email": "Anna@Gardenista-Blog.example"},
        )
        domain = session.get(Domain, prospect.domain_id)
        assert domain.name == "gardenista-blog.example"
        assert prospect.page_url == "https://www.gardenista-blog.example/write-for-us"
        assert prospect.domain_rating == 54
        assert prospect.owner_id == user.id
        contact = session.get(Contact, prospect.primary_contact_id)
        assert contact.email == "anna@gardenista-blog.example"
        assert "anna@gardenista-blog.example" in prospect.search_text
        rows, _ = list_prospects(session, campaign.id, ProspectQuery())
        assert rows[0].tags == ["diy", "gardening"]
        first = session.exec(
            select(StageChange).where(StageChange.prospect_id == prospect.id)
        ).one()
        assert (first.from_stage, first.to_stage, first.changed_by_id) == (
            None,
            "prospect",
            user.id,
        )

    def test_duplicate_in_campaign_is_refused(self, session, campaign, make_user):
        user = make_user()
        add(session, campaign, user, domain="blog.example")
        with pytest.raises(
            ProspectError, match=r"blog.example is already in this campaign \(stage Prospect\)"
        ):
            add(session, campaign, user, domain="https://www.BLOG.example/about")

    def test_do_not_contact_domain_is_refused(self, session, campaign, make_user):
        session.add(
            Domain(
                name="angry.example", do_not_contact=True, do_not_contact_reason="asked us to stop"
            )
        )
        session.commit()
        with pytest.raises(ProspectError, match=r"marked do-not-contact \(asked us to stop\)"):
            add(session, campaign, make_user(), domain="angry.example")

    def test_history_shows_other_campaigns_and_last_contact(
        self, session, campaign, other_campaign, make_user
    ):
        ben = make_user(name="Ben")
        first = add(session, other_campaign, ben, domain="blog.example")
        move_stage(session, first, MoveReason.EMAIL_SENT, at=datetime(2026, 10, 1, 9, tzinfo=UTC))
        session.commit()
        history = domain_history(session, "blog.example", exclude_campaign_id=campaign.id)
        assert history.known
        assert history.last_contacted_at == datetime(2026, 10, 1, 9, tzinfo=UTC)
        assert history.last_contacted_by == "Ben"
        assert [(c.campaign_name, c.stage) for c in history.campaigns] == [
            ("Round-up", "contacted")
        ]
        assert not domain_history(session, "new.example").known


class TestStageFunction:
    def test_manual_move_is_recorded_with_who_and_when(self, session, campaign, make_user):
        user = make_user()
        prospect = add(session, campaign, user, domain="blog.example")
        at = datetime(2026, 11, 2, 10, tzinfo=UTC)
        change = move_stage(
            session, prospect, MoveReason.MANUAL, to=Stage.REPLIED, actor=user, at=at
        )
        session.commit()
        assert (change.from_stage, change.to_stage, change.changed_by_id) == (
            "prospect",
            "replied",
            user.id,
        )
        assert prospect.stage == Stage.REPLIED
        assert prospect.stage_changed_at == at

    def test_automatic_moves_only_apply_where_they_mean_something(
        self, session, campaign, make_user
    ):
        prospect = add(session, campaign, make_user(), domain="blog.example")
        assert move_stage(session, prospect, MoveReason.EMAIL_SENT) is not None
        assert prospect.stage == Stage.CONTACTED
        assert session.get(Domain, prospect.domain_id).last_contacted_at is not None
        assert move_stage(session, prospect, MoveReason.EMAIL_SENT) is None
        move_stage(session, prospect, MoveReason.REPLY_RECEIVED)
        move_stage(session, prospect, MoveReason.EMAIL_SENT)
        assert prospect.stage == Stage.REPLIED

    def test_moving_many_at_once_is_moving_them_one_by_one(self, session, campaign, make_user):
        """`move_stages` (the link checker's batches) against `move_stage` for the same system
        events in the same order: the same history, stages, first-reached times, domain stamps
        and stopped sequences, including a prospect moved back and forth and moves that do
        not apply."""
        owner = make_user()
        first, second, third = (
            add(
                session,
                campaign,
                owner,
                domain=f"site{n}.example",
                contact={"email": f"a@site{n}.example"},
            )
            for n in range(3)
        )
        sequence = Sequence(campaign_id=campaign.id, name="Pitch")
        session.add(sequence)
        session.flush()
        for prospect in (first, second, third):
            session.add(
                Enrolment(
                    sequence_id=sequence.id,
                    prospect_id=prospect.id,
                    contact_id=prospect.primary_contact_id,
                    next_due_at=datetime(2026, 11, 3, tzinfo=UTC),
                )
            )
        session.commit()
        moves = [
            (first, MoveReason.EMAIL_SENT),
            (second, MoveReason.LINK_LIVE),
            (first, MoveReason.REPLY_RECEIVED),
            (second, MoveReason.LINK_LIVE),
            (second, MoveReason.LINK_LOST),
            (third, MoveReason.LINK_LOST),
            (second, MoveReason.LINK_LIVE),
            (first, MoveReason.EMAIL_SENT),
            (first, MoveReason.LINK_LIVE),
        ]
        at = datetime(2026, 11, 2, 10, tzinfo=UTC)
        ids = {first.id: "first", second.id: "second", third.id: "third"}
        before = {row["id"]: row["updated_at"] for row in rows_of(session, Prospect)}

        def outcome() -> dict[str, object]:
            session.flush()
            prospects = rows_of(session, Prospect)
            return {
                "history": [
                    (
                        ids[change.prospect_id],
                        change.from_stage,
                        change.to_stage,
                        change.changed_at,
                        change.changed_by_id,
                        change.reason,
                    )
                    for change in session.exec(
                        select(StageChange)
                        .where(StageChange.changed_at == at)
                        .order_by(StageChange.id)
                    )
                ],
                "prospects": [without_updated_at(row) for row in prospects],
                "touched": sorted(
                    ids[row["id"]] for row in prospects if row["updated_at"] != before[row["id"]]
                ),
                "domains": rows_of(session, Domain),
                "enrolments": rows_of(session, Enrolment),
            }

        for prospect, reason in moves:
            move_stage(session, prospect, reason, at=at)
        one_by_one = outcome()
        session.rollback()
        assert move_stages(session, moves, at=at) == 6
        at_once = outcome()
        session.rollback()

        assert at_once == one_by_one
        assert [(name, to) for name, _, to, *_ in one_by_one["history"]] == [
            ("first", "contacted"),
            ("second", "linked"),
            ("first", "replied"),
            ("second", "lost"),
            ("second", "linked"),
            ("first", "linked"),
        ]
        assert one_by_one["touched"] == ["first", "second"]
        assert [row["stage"] for row in one_by_one["prospects"]] == ["linked", "linked", "prospect"]
        assert [row["status"] for row in one_by_one["enrolments"]] == [
            "stopped",
            "stopped",
            "active",
        ]


def rows_of(session, model) -> list[dict[str, object]]:
    return [
        dict(row) for row in session.execute(sa.select(model.__table__).order_by("id")).mappings()
    ]


def without_updated_at(row: dict[str, object]) -> dict[str, object]:
    """updated_at is the wall clock at the flush, so it differs from run to run."""
    return {name: value for name, value in row.items() if name != "updated_at"}


@pytest.fixture
def listed(session, campaign, make_user):
    """Five prospects with different metrics, owners, tags and contact history."""
    ben, ida = make_user(name="Ben"), make_user(name="Ida")
    specs = [
        ("alpha.example", ben, 10, 500, "gardening", "Anna", "loves compost"),
        ("bravo.example", ida, 50, 5000, "diy", "", ""),
        ("charlie.example", ben, 90, None, "gardening, diy", "Carl", "big site"),
        ("delta.example", None, None, 100, "", "", "no metrics"),
        ("echo.example", ida, 30, 2000, "", "Eve", ""),
    ]
    made = {}
    for name, owner, dr, traffic, tags, person, notes in specs:
        fields = {
            "domain": name,
            "domain_rating": dr,
            "traffic": traffic,
            "tags": tags,
            "notes": notes,
        }
        if owner:
            fields["owner_id"] = owner.id
        if person:
            fields["contact"] = {"first_name": person, "email": f"{person.lower()}@{name}"}
        made[name] = add(session, campaign, ben, **fields)
    made["delta.example"].owner_id = None
    move_stage(
        session, made["bravo.example"], MoveReason.EMAIL_SENT, at=datetime(2026, 9, 1, tzinfo=UTC)
    )
    move_stage(
        session,
        made["charlie.example"],
        MoveReason.EMAIL_SENT,
        at=datetime(2026, 11, 1, tzinfo=UTC),
    )
    session.commit()
    return {"ben": ben, "ida": ida, **made}


def domains(session, campaign, me=None, **query):
    rows, total = list_prospects(session, campaign.id, ProspectQuery.model_validate(query), me)
    return [row.domain for row in rows], total


def test_board_columns_hold_each_stages_most_recently_changed_prospects(
    session, campaign, other_campaign, make_user
):
    user = make_user()
    made = [add(session, campaign, user, domain=f"site{n}.example") for n in range(5)]
    add(session, other_campaign, user, domain="elsewhere.example")
    for n, prospect in enumerate(made):
        prospect.updated_at = datetime(2026, 11, 1 + n, tzinfo=UTC)
    made[1].stage = made[3].stage = Stage.CONTACTED
    session.commit()

    board = board_columns(session, campaign.id, [Stage.PROSPECT, Stage.CONTACTED, Stage.LINKED], 2)

    assert {stage: [row.domain for row in rows] for stage, rows in board.items()} == {
        Stage.PROSPECT: ["site4.example", "site2.example"],
        Stage.CONTACTED: ["site3.example", "site1.example"],
        Stage.LINKED: [],
    }


class TestListing:
    def test_filters(self, session, campaign, listed):
        assert domains(session, campaign, stage=["contacted"], sort="domain", order="asc")[0] == [
            "bravo.example",
            "charlie.example",
        ]
        assert set(domains(session, campaign, tag="gardening")[0]) == {
            "alpha.example",
            "charlie.example",
        }
        assert domains(session, campaign, owner="none")[0] == ["delta.example"]
        assert set(domains(session, campaign, listed["ida"].id, owner="me")[0]) == {
            "bravo.example",
            "echo.example",
        }
        assert set(domains(session, campaign, dr_min=30, dr_max=60)[0]) == {
            "bravo.example",
            "echo.example",
        }
        assert domains(session, campaign, traffic_min=4000)[0] == ["bravo.example"]
        assert set(domains(session, campaign, never_contacted=True)[0]) == {
            "alpha.example",
            "delta.example",
            "echo.example",
        }
        assert domains(session, campaign, contacted_after=date(2026, 10, 1))[0] == [
            "charlie.example"
        ]
        assert domains(session, campaign, contacted_before=date(2026, 10, 1))[0] == [
            "bravo.example"
        ]

    def test_search_looks_in_domain_contacts_and_notes(self, session, campaign, listed):
        assert domains(session, campaign, q="compost")[0] == ["alpha.example"]
        assert domains(session, campaign, q="eve@")[0] == ["echo.example"]
        assert domains(session, campaign, q="CARL big")[0] == ["charlie.example"]
        assert domains(session, campaign, q="delta")[0] == ["delta.example"]
        assert domains(session, campaign, q="100%")[0] == []

    def test_search_words_are_literal_and_match_in_any_case(
        self, session, campaign, listed, make_user
    ):
        add(session, campaign, make_user(), domain="foxtrot.example", notes="Deal: 100%_OFF Größe")
        assert domains(session, campaign, q="100%_off")[0] == ["foxtrot.example"]
        assert domains(session, campaign, q="GRÖSSE")[0] == []
        assert domains(session, campaign, q="GRÖßE deal:")[0] == ["foxtrot.example"]
        assert domains(session, campaign, q="1_0")[0] == []
        assert domains(session, campaign, q="%")[0] == ["foxtrot.example"]

    def test_sort_puts_missing_values_last_and_pages(self, session, campaign, listed):
        assert domains(session, campaign, sort="dr", order="desc")[0] == [
            "charlie.example",
            "bravo.example",
            "echo.example",
            "alpha.example",
            "delta.example",
        ]
        assert domains(session, campaign, sort="dr", order="asc")[0][0] == "alpha.example"
        assert domains(session, campaign, sort="dr", order="asc")[0][-1] == "delta.example"
        page, total = domains(session, campaign, sort="domain", order="asc", per_page=2, page=2)
        assert (page, total) == (["charlie.example", "delta.example"], 5)


class TestPages:
    def test_list_page_filters_and_shows_counts(self, client, login, campaign, listed):
        login(Role.BUILDER)
        page = client.get(f"/prospects/?campaign={campaign.id}&tag=gardening&sort=domain&order=asc")
        text = page.get_data(as_text=True)
        assert '<span class="text-body-secondary fs-5" id="prospect-total">(2)</span>' in text
        assert "alpha.example" in text
        assert "bravo.example" not in text

    def test_bad_filter_is_reported_not_fatal(self, client, login, campaign, listed):
        login(Role.BUILDER)
        page = client.get(f"/prospects/?campaign={campaign.id}&dr_min=lots")
        assert page.status_code == 200
        assert "Some filters were not understood" in page.get_data(as_text=True)
        assert "(5)" in page.get_data(as_text=True)

    def bulk(self, client, campaign, **data):
        token = csrf_token(client, f"/prospects/?campaign={campaign.id}")
        return client.post(
            "/prospects/bulk",
            data={"csrf_token": token, "campaign": campaign.id, **data},
            follow_redirects=True,
        )

    def test_bulk_tag_selected_rows(self, client, session, login, campaign, listed):
        login(Role.BUILDER)
        ids = [listed["bravo.example"].id, listed["delta.example"].id]
        page = self.bulk(client, campaign, action="tag", value="Q4 push", ids=ids)
        assert "Tagged 2 prospects with q4 push." in page.get_data(as_text=True)
        assert set(domains(session, campaign, tag="q4 push")[0]) == {
            "bravo.example",
            "delta.example",
        }

    def test_bulk_on_all_matching_the_filter(self, client, session, login, campaign, listed):
        login(Role.BUILDER)
        page = self.bulk(client, campaign, action="stage", value="declined", scope="all", tag="diy")
        assert "Moved 2 prospects to Declined." in page.get_data(as_text=True)
        assert set(domains(session, campaign, stage=["declined"])[0]) == {
            "bravo.example",
            "charlie.example",
        }

    def test_bulk_on_all_matching_ignores_filters_the_list_ignored(
        self, client, session, login, campaign, listed
    ):
        login(Role.BUILDER)
        page = self.bulk(
            client, campaign, action="tag", value="all", scope="all", tag="diy", dr_min="lots"
        )
        assert "Tagged 2 prospects with all." in page.get_data(as_text=True)

    def test_bulk_assign_and_do_not_contact(self, client, session, login, campaign, listed):
        login(Role.BUILDER)
        ida = listed["ida"]
        self.bulk(
            client, campaign, action="assign", value=str(ida.id), ids=[listed["alpha.example"].id]
        )
        assert "alpha.example" in domains(session, campaign, owner=str(ida.id))[0]
        self.bulk(
            client,
            campaign,
            action="do_not_contact",
            value="spammy",
            ids=[listed["echo.example"].id],
        )
        domain = session.exec(select(Domain).where(Domain.name == "echo.example")).one()
        session.refresh(domain)
        assert (domain.do_not_contact, domain.do_not_contact_reason) == (True, "spammy")

    def test_bulk_delete_needs_confirmation(self, client, session, login, campaign, listed):
        login(Role.BUILDER)
        ids = [listed["alpha.example"].id]
        refused = self.bulk(client, campaign, action="delete", ids=ids)
        assert "Type delete to confirm deleting 1 prospects." in refused.get_data(as_text=True)
        assert domains(session, campaign)[1] == 5
        self.bulk(client, campaign, action="delete", ids=ids, confirm="delete")
        assert domains(session, campaign)[1] == 4

    def test_bulk_without_selection_says_so(self, client, login, campaign, listed):
        login(Role.BUILDER)
        page = self.bulk(client, campaign, action="tag", value="x")
        assert "Select at least one prospect first." in page.get_data(as_text=True)

    def test_export_is_the_filtered_list(self, client, login, campaign, listed):
        login(Role.BUILDER)
        response = client.get(
            f"/prospects/export.csv?campaign={campaign.id}&tag=gardening&sort=domain&order=asc"
        )
        assert response.mimetype == "text/csv"
        body = response.get_data(as_text=True)
        assert body.startswith("\ufeff")
        rows = list(csv.DictReader(io.StringIO(body.removeprefix("\ufeff"))))
        assert [row["domain"] for row in rows] == ["alpha.example", "charlie.example"]
        assert rows[0]["contact_email"] == "anna@alpha.example"
        assert rows[1]["tags"] == "diy, gardening"

    def test_export_keeps_spreadsheets_from_running_text_as_formulas(
        self, client, login, session, campaign
    ):
        add(
            session,
            campaign,
            login(Role.BUILDER),
            domain="formula.example",
            notes='=HYPERLINK("https://evil.example","click")',
            contact={"first_name": "@SUM(A1)", "email": "a@formula.example"},
        )
        body = client.get(f"/prospects/export.csv?campaign={campaign.id}").get_data(as_text=True)
        [row] = csv.DictReader(io.StringIO(body.removeprefix("\ufeff")))
        assert row["notes"] == '\'=HYPERLINK("https://evil.example","click")'
        assert row["contact_name"].startswith("'@SUM(A1)")
        assert row["domain_rating"] == ""

    def test_board_move_by_fetch_returns_new_counts(self, client, login, campaign, listed):
        login(Role.BUILDER)
        board = client.get(f"/campaigns/{campaign.id}/board").get_data(as_text=True)
        assert 'data-count="contacted">2<' in board
        token = csrf_token(client, f"/campaigns/{campaign.id}/board")
        response = client.post(
            f"/prospects/{listed['alpha.example'].id}/stage",
            data={"stage": "contacted", "csrf_token": token},
            headers={"Accept": "application/json"},
        )
        assert response.json["stage"] == "contacted"
        assert response.json["counts"]["contacted"] == 3
        assert response.json["counts"]["prospect"] == 2
        bad = client.post(
            f"/prospects/{listed['alpha.example'].id}/stage",
            data={"stage": "won", "csrf_token": token},
            headers={"Accept": "application/json"},
        )
        assert bad.status_code == 422
        assert "is not a stage" in bad.json["error"]

    def test_keyboard_move_form_redirects_back_to_the_board(self, client, login, campaign, listed):
        login(Role.BUILDER)
        token = csrf_token(client, f"/campaigns/{campaign.id}/board")
        response = client.post(
            f"/prospects/{listed['alpha.example'].id}/stage",
            data={
                "stage": "replied",
                "csrf_token": token,
                "back": f"/campaigns/{campaign.id}/board",
            },
        )
        assert response.headers["Location"] == f"/campaigns/{campaign.id}/board"
        board = client.get(f"/campaigns/{campaign.id}/board").get_data(as_text=True)
        assert "alpha.example moved to Replied." in board

    def test_prospect_page_timeline_notes_and_contacts(self, client, login, campaign, listed):
        login(Role.BUILDER)
        prospect = listed["bravo.example"]
        url = f"/prospects/{prospect.id}"
        client.post(
            f"{url}/notes",
            data={"note": "Prefers short pitches", "csrf_token": csrf_token(client, url)},
        )
        bad = client.post(
            f"{url}/contacts",
            data={
                "contact_first_name": "Bo",
                "contact_email": "bo@",
                "csrf_token": csrf_token(client, url),
            },
        )
        assert bad.status_code == 422
        text = bad.get_data(as_text=True)
        assert 'value="bo@"' in text
        assert 'value="Bo"' in text
        assert "is not a valid email address" in text
        # The Details form beside it still shows the saved values, not the refused contact's.
        assert re.search(r'id="domain_rating"[^>]*value="50"', text)
        client.post(
            f"{url}/contacts",
            data={
                "contact_first_name": "Bo",
                "contact_email": "bo@bravo.example",
                "contact_primary": "1",
                "csrf_token": csrf_token(client, url),
            },
        )
        page = client.get(url).get_data(as_text=True)
        assert "Prefers short pitches" in page
        assert "Moved to Contacted" in page
        assert "Added as Prospect" in page
        assert "bo@bravo.example" in page

    def test_add_form_keeps_values_and_explains_refusals(
        self, client, session, login, campaign, listed
    ):
        login(Role.BUILDER)
        url = f"/campaigns/{campaign.id}/prospects/new"
        response = client.post(
            url,
            data={
                "domain": "www.alpha.example",
                "domain_rating": "77",
                "notes": "typed",
                "csrf_token": csrf_token(client, url),
            },
        )
        assert response.status_code == 422
        text = response.get_data(as_text=True)
        assert "alpha.example is already in this campaign" in text
        assert 'value="77"' in text
        assert ">typed</textarea>" in text
        check = client.get(
            f"/campaigns/{campaign.id}/prospects/domain-check?domain=https://alpha.example/x"
        )
        assert "Already in this campaign" in check.get_data(as_text=True)
        created = client.post(
            url, data={"domain": "fresh.example", "csrf_token": csrf_token(client, url)}
        )
        assert created.status_code == 302
        assert session.exec(select(Domain).where(Domain.name == "fresh.example")).one()

    def test_hostile_notes_are_escaped(self, client, login, campaign, session, make_user):
        add(
            session, campaign, make_user(), domain="evil.example", notes="<script>alert(1)</script>"
        )
        login(Role.BUILDER)
        prospect = session.exec(select(Prospect)).one()
        page = client.get(f"/prospects/{prospect.id}").get_data(as_text=True)
        assert "<script>alert(1)</script>" not in page
        assert "&lt;script&gt;" in page


def test_deliverability_check_reports_on_the_email_field() -> None:
    """The check itself needs DNS, which tests never use; `.invalid` is refused before any
    lookup (RFC 2606), which is enough to show how a refusal reaches the user."""
    from outreach.prospects.services import check_deliverable

    with pytest.raises(ProspectError, match=r"someone@mail\.invalid cannot receive") as caught:
        check_deliverable("someone@mail.invalid")
    assert caught.value.field == "contact_email"
