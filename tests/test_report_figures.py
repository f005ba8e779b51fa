"""The ROI report's arithmetic, checked against figures worked out by hand."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from outreach.reports.figures import (
    ANCHOR_CLASSES,
    ValueModel,
    anchor_distribution,
    classify_anchor,
    cost_per_link,
    cumulative,
    funnel,
    link_value,
    median_days,
    profile_warnings,
    rate,
    rel_mix,
    roi,
    to_cents,
    value_model_from_json,
    weekly_counts,
)

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


# --- funnel, rate, median -------------------------------------------------------------------


def test_funnel_counts_later_stages_as_having_passed_the_earlier_ones():
    result = funnel(
        {"prospect": 40, "contacted": 30, "replied": 10, "linked": 12, "declined": 5, "lost": 3}
    )
    # total 100; contacted = 100 - 40; replied = 10 + 5 + (12 + 3); linked = 12 + 3
    assert (result.total, result.contacted, result.replied, result.linked) == (100, 60, 30, 15)
    assert result.conversion == {
        "prospect→contacted": 0.6,
        "contacted→replied": 0.5,
        "replied→linked": 0.5,
    }


def test_funnel_of_an_empty_campaign_has_no_conversion_rates():
    result = funnel({})
    assert (result.total, result.contacted, result.replied, result.linked) == (0, 0, 0, 0)
    assert result.conversion == {
        "prospect→contacted": None,
        "contacted→replied": None,
        "replied→linked": None,
    }


def test_funnel_with_nobody_contacted_yet_defines_only_the_first_rate():
    assert funnel({"prospect": 7}).conversion == {
        "prospect→contacted": 0.0,
        "contacted→replied": None,
        "replied→linked": None,
    }


@pytest.mark.parametrize(
    ("by_stage", "message"),
    [({"bounced": 1}, "unknown funnel stage"), ({"linked": -1}, "negative count")],
)
def test_funnel_rejects_counts_it_cannot_place(by_stage, message):
    with pytest.raises(ValueError, match=message):
        funnel(by_stage)


def test_rate_is_none_without_a_denominator():
    assert rate(3, 4) == 0.75
    assert rate(0, 4) == 0.0
    assert rate(0, 0) is None


def test_median_days_in_fractional_days():
    assert median_days([]) is None
    assert median_days([timedelta(hours=36)]) == 1.5
    assert median_days([timedelta(days=1), timedelta(days=9), timedelta(days=2)]) == 2.0
    assert median_days([timedelta(days=1), timedelta(days=2), timedelta(hours=84)]) == 2.0
    assert median_days([timedelta(days=1), timedelta(days=4)]) == 2.5


# --- value model, roi -----------------------------------------------------------------------

MODEL = ValueModel.default()


@pytest.mark.parametrize(
    ("rating", "expected"),
    [(None, "50"), (0, "50"), (29, "50"), (30, "150"), (59, "150"), (60, "400"), (100, "400")],
)
def test_a_followed_link_is_worth_its_band_edges_included(rating, expected):
    assert link_value(MODEL, rating, "follow", None) == Decimal(expected)


@pytest.mark.parametrize(
    ("rel", "expected"),
    [("nofollow", "37.5"), ("sponsored", "75"), ("ugc", "37.5"), ("noindex", "0")],
)
def test_weights_scale_less_followed_links(rel, expected):
    assert link_value(MODEL, 45, rel, None) == Decimal(expected)


def test_an_override_wins_even_when_zero():
    assert link_value(MODEL, 80, "follow", Decimal("999.99")) == Decimal("999.99")
    assert link_value(MODEL, 80, "follow", Decimal(0)) == Decimal(0)


def test_link_value_rejects_unknown_rel_and_impossible_ratings():
    with pytest.raises(ValueError, match="unknown rel 'dofollow'"):
        link_value(MODEL, 40, "dofollow", None)
    with pytest.raises(ValueError, match="domain rating must be 0-100"):
        link_value(MODEL, 101, "follow", None)


def test_link_value_stays_exact_so_sums_round_once():
    model = ValueModel(bands=((0, Decimal("10.01")),), nofollow_weight=Decimal("0.5"))
    each = link_value(model, None, "nofollow", None)
    assert each == Decimal("5.005")
    assert to_cents(each + each) == Decimal("10.01")  # not 5.01 + 5.01


def test_value_model_round_trips_through_json_with_sorted_bands():
    data = {
        "bands": [{"min_dr": 50, "value": "300"}, {"min_dr": 0, "value": 20}],
        "sponsored_weight": 0.1,
    }
    model = value_model_from_json(data)
    assert model.bands == ((0, Decimal(20)), (50, Decimal(300)))
    assert model.sponsored_weight == Decimal("0.1")
    assert model.nofollow_weight == Decimal("0.25")
    assert model.as_json() == {
        "bands": [{"min_dr": 0, "value": "20"}, {"min_dr": 50, "value": "300"}],
        "nofollow_weight": "0.25",
        "sponsored_weight": "0.1",
        "ugc_weight": "0.25",
        "noindex_weight": "0",
    }
    assert value_model_from_json(model.as_json()) == model
    assert value_model_from_json(MODEL.as_json()) == MODEL


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "bands must be a list"),
        ({"bands": []}, "at least one DR band"),
        ({"bands": [{"min_dr": 0}]}, "exactly min_dr and value"),
        ({"bands": [{"min_dr": 101, "value": 1}]}, "whole DR from 0 to 100, not 101"),
        ({"bands": [{"min_dr": 2.5, "value": 1}]}, "whole DR from 0 to 100, not 2.5"),
        (
            {"bands": [{"min_dr": 0, "value": 1}, {"min_dr": 0, "value": 2}]},
            "two bands start at DR 0",
        ),
        ({"bands": [{"min_dr": 10, "value": 1}]}, "lowest band must start at DR 0"),
        ({"bands": [{"min_dr": 0, "value": -1}]}, r"DR 0\+ must be 0 or more, got -1"),
        ({"bands": [{"min_dr": 0, "value": "lots"}]}, r"DR 0\+ must be a number"),
        ({"bands": [{"min_dr": 0, "value": None}]}, r"DR 0\+ must be a number"),
        ({"bands": [{"min_dr": 0, "value": "NaN"}]}, r"DR 0\+ must be a finite Decimal"),
        ({"bands": [[0, 50]]}, "exactly min_dr and value"),
        ({"bands": [{"min_dr": 0, "value": 1}], "ugc_weight": 1.5}, "ugc_weight must be between"),
        ({"bands": [{"min_dr": 0, "value": 1}], "noindex_weight": -0.1}, "noindex_weight must be"),
        ({"bands": [{"min_dr": 0, "value": 1}], "nofolow_weight": 0}, "unknown .*nofolow_weight"),
    ],
)
def test_value_model_from_json_explains_what_is_wrong(data, message):
    with pytest.raises(ValueError, match=message):
        value_model_from_json(data)


def test_a_value_model_built_in_code_is_validated_too():
    with pytest.raises(ValueError, match=r"DR 0\+ must be a finite Decimal, got 50"):
        ValueModel(bands=((0, 50),))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="nofollow_weight must be a finite Decimal"):
        ValueModel(bands=((0, Decimal(50)),), nofollow_weight=0.25)  # type: ignore[arg-type]
    assert ValueModel(bands=((60, Decimal(1)), (0, Decimal(2)))).bands[0] == (0, Decimal(2))


def test_roi_and_cost_per_link():
    assert roi(Decimal(1500), Decimal(1000)) == 0.5
    assert roi(Decimal(250), Decimal(1000)) == -0.75
    assert roi(Decimal(100), Decimal(0)) is None
    assert cost_per_link(Decimal(1000), 3) == Decimal("333.33")
    assert cost_per_link(Decimal("0.05"), 2) == Decimal("0.03")  # 0.025 rounds half up
    assert cost_per_link(Decimal(1000), 0) is None


# --- anchors and rel ------------------------------------------------------------------------

TARGET = {
    "brand_terms": ["Acme Garden", "acmegarden"],
    "target_keywords": ["balcony planters", "Small-space gardening"],
    "target_url": "https://www.acmegarden.example/guides/balcony/",
}


@pytest.mark.parametrize(
    ("anchor", "kind"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("https://example.org/page", "url"),
        ("www.acmegarden.example", "url"),
        ("see acmegarden.example for more", "url"),
        ("example.org/guide", "url"),
        ("Balcony Planters", "exact"),
        ("  small space  gardening! ", "exact"),
        ("Acme Garden's balcony planters", "branded"),
        ("the AcmeGarden guide", "branded"),
        ("Acme Gardening tips", "partial"),  # "acme garden" is not a whole-word match
        ("cheap planters for balconies", "partial"),
        ("click here", "generic"),
        ("Read more…", "generic"),
        ("link", "generic"),
        ("with more than this", "other"),  # only stop words in common
        ("a lovely page", "other"),
    ],
)
def test_classify_anchor(anchor, kind):
    assert classify_anchor(anchor, **TARGET) == kind


def test_anchor_distribution_lists_every_class():
    assert anchor_distribution([], **TARGET) == dict.fromkeys(ANCHOR_CLASSES, 0)
    counts = anchor_distribution(["balcony planters", "here", "here", "Acme Garden"], **TARGET)
    assert counts == {
        "exact": 1,
        "partial": 0,
        "branded": 1,
        "generic": 2,
        "url": 0,
        "other": 0,
        "empty": 0,
    }


def test_rel_mix_counts_each_link_once():
    assert rel_mix([]) == {"follow": 0, "nofollow": 0, "sponsored": 0, "ugc": 0}
    rels = ["", "noopener", "nofollow", "NoFollow noreferrer", "nofollow sponsored", "ugc nofollow"]
    assert rel_mix(rels) == {"follow": 2, "nofollow": 2, "sponsored": 1, "ugc": 1}


# --- time -----------------------------------------------------------------------------------


def test_weekly_counts_zero_fill_iso_weeks():
    # 2027-03-03 is a Wednesday; its week starts Monday 2027-03-01.
    moments = [
        datetime(2027, 3, 1, 0, 0, tzinfo=UTC),
        datetime(2027, 3, 7, 23, 59, tzinfo=UTC),  # Sunday, same week
        datetime(2027, 3, 20, 9, 0, tzinfo=UTC),
        datetime(2027, 2, 28, 9, 0, tzinfo=UTC),  # the week before: ignored
        datetime(2027, 3, 22, 9, 0, tzinfo=UTC),  # the week after: ignored
    ]
    assert weekly_counts(moments, date(2027, 3, 3), date(2027, 3, 18)) == [
        (date(2027, 3, 1), 2),
        (date(2027, 3, 8), 0),
        (date(2027, 3, 15), 1),
    ]
    assert weekly_counts([], date(2027, 3, 7), date(2027, 3, 7)) == [(date(2027, 3, 1), 0)]
    with pytest.raises(ValueError, match="ends"):
        weekly_counts([], date(2027, 3, 7), date(2027, 3, 6))


def test_cumulative_sums_exactly_and_rounds_each_point():
    series = [
        (date(2027, 3, 1), Decimal("0.005")),
        (date(2027, 3, 8), Decimal(0)),
        (date(2027, 3, 15), Decimal("0.005")),
    ]
    assert cumulative(series) == [
        (date(2027, 3, 1), Decimal("0.01")),
        (date(2027, 3, 8), Decimal("0.01")),
        (date(2027, 3, 15), Decimal("0.01")),
    ]
    assert cumulative([]) == []


# --- warnings -------------------------------------------------------------------------------

QUIET = {"anchors": {}, "rels": {}, "paid_without_sponsored": 0, "links_per_domain": {}}


def test_no_warnings_for_an_empty_campaign():
    assert profile_warnings(**QUIET) == []


def test_warnings_name_the_figures():
    warnings = profile_warnings(
        anchors={"exact": 3, "branded": 5, "generic": 5},  # 3/13 = 23%
        rels={"follow": 49, "nofollow": 1},  # 2%
        paid_without_sponsored=3,
        links_per_domain={"blog.example": 4, "news.example": 3, "a.example": 4, "b.example": 5},
    )
    assert warnings == [
        "Exact-match anchors are 23% of links (above 10%)",
        "Only 2% of links are nofollow (below 5%)",
        '3 paid links lack rel="sponsored"',
        "5 links come from one domain: b.example",
        "4 links come from one domain: a.example",
        "4 links come from one domain: blog.example",
    ]


def test_one_paid_link_is_singular():
    assert profile_warnings(**{**QUIET, "paid_without_sponsored": 1}) == [
        '1 paid link lacks rel="sponsored"'
    ]


def test_shares_need_five_live_links():
    four = {"anchors": {"exact": 4}, "rels": {"follow": 4}}
    assert profile_warnings(**{**QUIET, **four}) == []
    five = {"anchors": {"exact": 5}, "rels": {"follow": 5}}
    assert profile_warnings(**{**QUIET, **five}) == [
        "Exact-match anchors are 100% of links (above 10%)",
        "Only 0% of links are nofollow (below 5%)",
    ]


def test_shares_on_the_limit_pass_and_sponsored_ugc_count_as_nofollow():
    assert (
        profile_warnings(
            **{
                **QUIET,
                "anchors": {"exact": 1, "other": 9},  # exactly 10%
                "rels": {"follow": 18, "sponsored": 1, "ugc": 1},  # 10% not followed
            }
        )
        == []
    )
    assert profile_warnings(**{**QUIET, "rels": {"follow": 19, "nofollow": 1}}) == []  # 5%


def test_a_share_that_rounds_to_the_limit_shows_a_decimal():
    warnings = profile_warnings(
        **{
            **QUIET,
            "anchors": {"exact": 21, "other": 179},  # 10.5%
            "rels": {"follow": 951, "nofollow": 49},  # 4.9%
        },
    )
    assert warnings == [
        "Exact-match anchors are 10.5% of links (above 10%)",
        "Only 4.9% of links are nofollow (below 5%)",
    ]


def test_custom_limits_appear_in_the_sentences():
    warnings = profile_warnings(
        anchors={"exact": 2, "other": 8},
        rels={"follow": 9, "nofollow": 1},
        paid_without_sponsored=0,
        links_per_domain={"x.example": 2},
        exact_share_limit=0.125,
        nofollow_share_floor=0.15,
        burst_limit=1,
    )
    assert warnings == [
        "Exact-match anchors are 20% of links (above 12.5%)",
        "Only 10% of links are nofollow (below 15%)",
        "2 links come from one domain: x.example",
    ]
