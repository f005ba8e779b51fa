"""Costs, logged time, hourly rates and value models: the services and their input rules."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError
from sqlmodel import Session, select

from outreach.activity.models import Activity
from outreach.api.core import field_errors
from outreach.auth.models import Role, User
from outreach.campaigns.costs import (
    add_cost,
    campaign_costs,
    campaign_spend,
    campaign_time,
    delete_cost,
    format_minutes,
    log_time,
    prospect_minutes,
    reset_value_model,
    set_hourly_rate,
    set_value_model,
    set_value_override,
    value_model_of,
)
from outreach.campaigns.models import Campaign, CampaignKind, CostEntry, CostKind, TimeEntry
from outreach.campaigns.schemas import (
    CostInput,
    HourlyRateInput,
    TimeInput,
    ValueOverrideInput,
)
from outreach.links.schemas import PlacementInput
from outreach.links.services import create_placement
from outreach.prospects.models import Prospect
from outreach.prospects.schemas import ProspectInput
from outreach.prospects.services import add_prospect
from outreach.reports.figures import ValueModel

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
TODAY = NOW.date()


def cost(**fields: Any) -> CostInput:
    data = {"kind": "fee", "amount": "100", "incurred_on": "2026-11-20", **fields}
    return CostInput.model_validate(data, context={"today": TODAY})


def problems(model: type, data: dict[str, Any], **context: Any) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data, context=context or None)
    return field_errors(caught.value)


def new_prospect(
    session: Session, campaign: Campaign, user: User, domain: str = "blog.example"
) -> Prospect:
    return add_prospect(session, campaign, ProspectInput.model_validate({"domain": domain}), user)


def activities(session: Session, kind: str) -> list[Activity]:
    return list(session.exec(select(Activity).where(Activity.kind == kind).order_by(Activity.id)))


@pytest.fixture
def manager(make_user: Callable[..., User]) -> User:
    return make_user(Role.MANAGER, name="Maria")


class TestInput:
    def test_a_cost_needs_a_positive_amount_in_cents(self) -> None:
        assert cost(amount="12.5").amount == Decimal("12.5")
        assert cost(amount=99.99).amount == Decimal("99.99")
        assert problems(CostInput, {"kind": "fee", "amount": "0", "incurred_on": "2026-11-20"}) == {
            "amount": "enter an amount above 0"
        }
        for amount in ("-3", "12.345"):
            data = {"kind": "fee", "amount": amount, "incurred_on": "2026-11-20"}
            assert "amount" in problems(CostInput, data)
        data = {"kind": "fee", "amount": "12.345", "incurred_on": "2026-11-20"}
        assert problems(CostInput, data)["amount"] == "use at most 2 decimals, e.g. 12.50"
        data = {"kind": "fee", "amount": "10000000000", "incurred_on": "2026-11-20"}
        assert problems(CostInput, data)["amount"] == "enter at most 9,999,999,999.99"

    def test_blank_required_fields_say_what_to_enter(self) -> None:
        assert problems(CostInput, {"kind": "fee", "amount": " ", "incurred_on": ""}) == {
            "amount": "enter the amount",
            "incurred_on": "enter the date",
        }
        assert problems(TimeInput, {"minutes": ""}) == {"minutes": "enter the minutes"}

    def test_a_cost_is_dated_at_most_a_year_ahead(self) -> None:
        assert cost(incurred_on=TODAY + timedelta(days=366)).incurred_on == date(2027, 11, 25)
        assert cost(incurred_on="2020-01-01").incurred_on == date(2020, 1, 1)
        data = {"kind": "fee", "amount": "1", "incurred_on": TODAY + timedelta(days=367)}
        assert problems(CostInput, data, today=TODAY) == {
            "incurred_on": "the date is more than a year ahead"
        }

    def test_a_cost_kind_and_note_are_checked(self) -> None:
        data = {"kind": "bribe", "amount": "1", "incurred_on": "2026-11-20"}
        assert "kind" in problems(CostInput, data)
        data = {"kind": "fee", "amount": "1", "incurred_on": "2026-11-20", "note": "x" * 501}
        assert "note" in problems(CostInput, data)
        assert cost(note="  Writer for 3 posts ").note == "Writer for 3 posts"

    def test_minutes_are_1_to_a_day(self) -> None:
        assert TimeInput.model_validate({"minutes": "1"}).minutes == 1
        assert TimeInput.model_validate({"minutes": 1440}).minutes == 1440
        for minutes in (0, 1441, -5):
            assert problems(TimeInput, {"minutes": minutes}) == {
                "minutes": "enter whole minutes from 1 to 1440 (24 hours)"
            }
        assert "minutes" in problems(TimeInput, {"minutes": "1.5"})
        assert "note" in problems(TimeInput, {"minutes": 5, "note": "x" * 501})

    def test_rates_and_overrides_may_be_empty_but_not_negative(self) -> None:
        assert HourlyRateInput.model_validate({"hourly_rate": ""}).hourly_rate is None
        assert HourlyRateInput.model_validate({"hourly_rate": "0"}).hourly_rate == 0
        assert problems(HourlyRateInput, {"hourly_rate": "-1"}) == {
            "hourly_rate": "enter 0 or more"
        }
        assert "hourly_rate" in problems(HourlyRateInput, {"hourly_rate": "10.001"})
        assert ValueOverrideInput.model_validate({"value_override": ""}).value_override is None
        assert ValueOverrideInput.model_validate({"value_override": "0"}).value_override == 0
        assert "value_override" in problems(ValueOverrideInput, {"value_override": "-0.01"})


def test_format_minutes() -> None:
    assert [format_minutes(m) for m in (0, 15, 59, 60, 90, 120, 1440)] == [
        "0 min",
        "15 min",
        "59 min",
        "1 h",
        "1 h 30 min",
        "2 h",
        "24 h",
    ]


class TestCostEntries:
    def test_added_listed_newest_first_with_totals_by_kind(
        self, session: Session, campaign: Campaign, manager: User
    ) -> None:
        add_cost(
            session, campaign, cost(kind="tool", amount="49", incurred_on="2026-10-01"), manager
        )
        add_cost(session, campaign, cost(kind="fee", amount="120.50"), manager)
        add_cost(
            session, campaign, cost(kind="fee", amount="30", incurred_on="2026-11-21"), manager
        )
        other = Campaign(
            name="Other",
            kind=CampaignKind.OTHER,
            client_id=campaign.client_id,
            client_url="https://client.example/",
        )
        session.add(other)
        session.commit()
        add_cost(session, other, cost(amount="999"), manager)

        costs = campaign_costs(session, campaign.id)
        assert [(r.entry.incurred_on.isoformat(), r.entry.amount) for r in costs.rows] == [
            ("2026-11-21", Decimal("30.00")),
            ("2026-11-20", Decimal("120.50")),
            ("2026-10-01", Decimal("49.00")),
        ]
        assert {r.created_by for r in costs.rows} == {"Maria"}
        assert costs.by_kind == {
            CostKind.FEE: Decimal("150.50"),
            CostKind.CONTENT: Decimal(0),
            CostKind.TOOL: Decimal("49.00"),
            CostKind.OTHER: Decimal(0),
        }
        assert costs.total == Decimal("199.50")
        summaries = [a.summary for a in activities(session, "cost.added")]
        assert summaries[1] == "Cost added: fee 120.50 USD"

    def test_deleted_and_logged(self, session: Session, campaign: Campaign, manager: User) -> None:
        entry = add_cost(session, campaign, cost(amount="75"), manager)
        delete_cost(session, entry, manager)
        assert session.exec(select(CostEntry)).all() == []
        assert campaign_costs(session, campaign.id).total == 0
        (logged,) = activities(session, "cost.deleted")
        assert logged.summary == "Cost deleted: fee 75.00 USD of 2026-11-20"
        assert logged.campaign_id == campaign.id


class TestTime:
    def test_logged_per_user_and_per_prospect(
        self, session: Session, campaign: Campaign, manager: User, make_user: Callable[..., User]
    ) -> None:
        builder = make_user(Role.BUILDER, name="Ben")
        prospect = new_prospect(session, campaign, builder)
        entry = log_time(
            session,
            builder,
            campaign,
            TimeInput(minutes=90, note="pitch"),
            NOW,
            prospect=prospect,
        )
        log_time(session, builder, campaign, TimeInput(minutes=15), NOW)
        log_time(session, manager, campaign, TimeInput(minutes=20), NOW, prospect=prospect)

        assert (entry.user_id, entry.campaign_id, entry.prospect_id) == (
            builder.id,
            campaign.id,
            prospect.id,
        )
        assert entry.logged_at == NOW
        rows = campaign_time(session, campaign.id)
        assert [(r.name, r.minutes) for r in rows] == [("Ben", 105), ("Maria", 20)]
        assert prospect_minutes(session, prospect.id) == 110
        timeline = activities(session, "time.logged")
        assert [(a.summary, a.prospect_id) for a in timeline] == [
            ("Logged 1 h 30 min: pitch", prospect.id),
            ("Logged 15 min", None),
            ("Logged 20 min", prospect.id),
        ]
        assert timeline[0].at == NOW

    def test_a_prospect_of_another_campaign_is_refused(
        self, session: Session, campaign: Campaign, manager: User
    ) -> None:
        other = Campaign(
            name="Other",
            kind=CampaignKind.OTHER,
            client_id=campaign.client_id,
            client_url="https://client.example/",
        )
        session.add(other)
        session.commit()
        prospect = new_prospect(session, other, manager)
        with pytest.raises(ValueError, match="is not in campaign"):
            log_time(session, manager, campaign, TimeInput(minutes=5), NOW, prospect=prospect)
        assert session.exec(select(TimeEntry)).all() == []

    def test_hourly_rate_change_is_logged_without_the_rate(
        self, session: Session, manager: User, make_user: Callable[..., User]
    ) -> None:
        builder = make_user(Role.BUILDER, name="Ben")
        set_hourly_rate(session, builder, HourlyRateInput(hourly_rate=Decimal("42.50")), manager)
        session.refresh(builder)
        assert builder.hourly_rate == Decimal("42.50")
        set_hourly_rate(session, builder, HourlyRateInput(hourly_rate=Decimal("42.50")), manager)
        set_hourly_rate(session, builder, HourlyRateInput(hourly_rate=None), manager)
        session.refresh(builder)
        assert builder.hourly_rate is None
        logged = activities(session, "user.hourly_rate")
        assert [a.summary for a in logged] == ["Hourly rate of Ben changed"] * 2
        assert all("42" not in str(a.data) for a in logged)


def test_spend_is_entries_link_prices_and_time_at_each_rate(
    session: Session, campaign: Campaign, manager: User, make_user: Callable[..., User]
) -> None:
    builder = make_user(Role.BUILDER, name="Ben")
    unpaid = make_user(Role.BUILDER, name="No rate")
    manager.hourly_rate = Decimal("60")
    builder.hourly_rate = Decimal("50")
    campaign.budget = Decimal("1000")
    session.commit()
    spend = campaign_spend(session, campaign)
    assert (spend.spent, spend.remaining, spend.time_minutes) == (0, Decimal("1000"), 0)

    add_cost(session, campaign, cost(amount="100"), manager)
    prospect = new_prospect(session, campaign, builder)
    placement = {"page_url": "https://blog.example/p", "target": "https://client.example/"}
    create_placement(
        session, prospect, PlacementInput(**placement, cost=Decimal("250")), manager, NOW
    )
    free = {"page_url": "https://blog.example/q", "target": "https://client.example/"}
    create_placement(session, prospect, PlacementInput(**free), manager, NOW)
    log_time(session, manager, campaign, TimeInput(minutes=30), NOW)  # 30.00
    log_time(session, builder, campaign, TimeInput(minutes=7), NOW)  # 5.8333…
    log_time(session, builder, campaign, TimeInput(minutes=7), NOW)  # 5.8333…
    log_time(session, unpaid, campaign, TimeInput(minutes=120), NOW)  # no rate: 0

    spend = campaign_spend(session, campaign)
    assert spend.entries == Decimal("100")
    assert spend.placements == Decimal("250")
    assert spend.time_minutes == 164
    assert spend.time_cost == Decimal("41.67")  # 30 + 11.666… rounded once
    assert spend.spent == Decimal("391.67")
    assert spend.remaining == Decimal("608.33")
    rows = {row.name: row for row in campaign_time(session, campaign.id)}
    assert rows["Ben"].cost == Decimal("11.67")
    assert rows["Maria"].cost == Decimal("30.00")
    assert rows["No rate"].cost is None

    campaign.budget = None
    session.commit()
    assert campaign_spend(session, campaign).remaining is None
    campaign.budget = Decimal("300")
    assert campaign_spend(session, campaign).remaining == Decimal("-91.67")


class TestValue:
    def test_stored_in_normal_form_and_reset(
        self, session: Session, campaign: Campaign, manager: User
    ) -> None:
        assert value_model_of(campaign) == ValueModel.default()
        raw = {
            "bands": [{"min_dr": 50, "value": 300}, {"min_dr": 0, "value": "20.5"}],
            "nofollow_weight": 0.1,
        }
        model = set_value_model(session, campaign, raw, manager)
        session.refresh(campaign)
        assert campaign.value_model == {
            "bands": [{"min_dr": 0, "value": "20.5"}, {"min_dr": 50, "value": "300"}],
            "nofollow_weight": "0.1",
            "sponsored_weight": "0.5",
            "ugc_weight": "0.25",
            "noindex_weight": "0",
        }
        assert value_model_of(campaign) == model
        reset_value_model(session, campaign, manager)
        session.refresh(campaign)
        assert campaign.value_model == {}
        assert value_model_of(campaign) == ValueModel.default()
        assert [a.summary for a in activities(session, "campaign.value_model")] == [
            "Value model changed",
            "Value model reset to the default",
        ]

    def test_a_bad_model_is_refused_and_nothing_changes(
        self, session: Session, campaign: Campaign, manager: User
    ) -> None:
        set_value_model(session, campaign, ValueModel.default().as_json(), manager)
        bad = {"bands": [{"min_dr": 10, "value": "5"}]}
        with pytest.raises(ValueError, match="the lowest band must start at DR 0"):
            set_value_model(session, campaign, bad, manager)
        session.rollback()
        session.refresh(campaign)
        assert campaign.value_model == ValueModel.default().as_json()

    def test_value_override_set_and_cleared_without_the_amount_in_the_log(
        self, session: Session, campaign: Campaign, manager: User
    ) -> None:
        prospect = new_prospect(session, campaign, manager)
        data = PlacementInput(page_url="https://blog.example/p", target="https://client.example/")
        placement = create_placement(session, prospect, data, manager, NOW)
        set_value_override(session, placement, ValueOverrideInput(value_override="333"), manager)
        session.refresh(placement)
        assert placement.value_override == Decimal("333")
        set_value_override(session, placement, ValueOverrideInput(value_override=None), manager)
        session.refresh(placement)
        assert placement.value_override is None
        logged = activities(session, "placement.value")
        assert [(a.summary, a.prospect_id) for a in logged] == [
            ("Value of the link on https://blog.example/p set", prospect.id),
            ("Value of the link on https://blog.example/p left to the value model", prospect.id),
        ]
