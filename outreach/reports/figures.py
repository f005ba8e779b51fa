"""The arithmetic of the campaign ROI report: plain functions over plain data.

The query layer aggregates in SQL and hands the results here, so every figure can be tested by
hand. Money is Decimal and is rounded to cents (half up) only where a figure leaves this module;
rates are floats in 0..1. A figure whose denominator is zero is undefined and comes back as None
(the page shows a dash) rather than as 0, which would be a claim.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, TypeVar
from urllib.parse import urlsplit

CENT = Decimal("0.01")
Amount = TypeVar("Amount", int, Decimal)
STAGES = ("prospect", "contacted", "replied", "linked", "declined", "lost")


def to_cents(amount: Decimal) -> Decimal:
    """Round money for display; only outputs are rounded, so sums carry no rounding error."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def rate(numerator: int, denominator: int) -> float | None:
    """numerator / denominator, or None when there is nothing to divide by."""
    if denominator == 0:
        return None
    return numerator / denominator


# --- Funnel ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Funnel:
    """How many prospects reached each stage, and the conversion between neighbouring stages."""

    total: int
    contacted: int
    replied: int
    linked: int
    conversion: dict[str, float | None]


def funnel(by_stage: Mapping[str, int]) -> Funnel:
    """Turn current-stage counts into reached-stage counts.

    A prospect at a later stage has passed the earlier ones: "declined" answered (so replied) and
    "lost" had a live link (so linked). Missing stages count 0; unknown ones are a caller bug.
    """
    unknown = sorted(set(by_stage) - set(STAGES))
    if unknown:
        raise ValueError(f"unknown funnel stage(s): {', '.join(unknown)}")
    counts = {stage: by_stage.get(stage, 0) for stage in STAGES}
    negative = [stage for stage, count in counts.items() if count < 0]
    if negative:
        raise ValueError(f"negative count for stage(s): {', '.join(negative)}")
    total = sum(counts.values())
    contacted = total - counts["prospect"]
    linked = counts["linked"] + counts["lost"]
    replied = counts["replied"] + counts["declined"] + linked
    return Funnel(
        total=total,
        contacted=contacted,
        replied=replied,
        linked=linked,
        conversion={
            "prospect→contacted": rate(contacted, total),
            "contacted→replied": rate(replied, contacted),
            "replied→linked": rate(linked, replied),
        },
    )


def median_days(durations: Sequence[timedelta]) -> float | None:
    """Median of durations in days (e.g. time to reply), None when there are none."""
    if not durations:
        return None
    return statistics.median(d / timedelta(days=1) for d in durations)


# --- Value model ----------------------------------------------------------------------------

_WEIGHTS = ("nofollow_weight", "sponsored_weight", "ugc_weight", "noindex_weight")


@dataclass(frozen=True)
class ValueModel:
    """What a live link is worth: a followed link's value by the domain's rating (DR), scaled
    down by a weight for links search engines follow less or not at all.

    `bands` pairs a minimum DR with the value of a followed link from that DR up to the next
    band. The first band must start at DR 0 so every domain has a value. Construction validates
    and sorts, so a ValueModel in hand is always usable.
    """

    bands: tuple[tuple[int, Decimal], ...]
    nofollow_weight: Decimal = Decimal("0.25")
    sponsored_weight: Decimal = Decimal("0.5")
    ugc_weight: Decimal = Decimal("0.25")
    noindex_weight: Decimal = Decimal("0")

    def __post_init__(self) -> None:
        if not self.bands:
            raise ValueError("the value model needs at least one DR band")
        seen: set[int] = set()
        for min_dr, value in self.bands:
            if isinstance(min_dr, bool) or not isinstance(min_dr, int) or not 0 <= min_dr <= 100:
                raise ValueError(f"a band must start at a whole DR from 0 to 100, not {min_dr!r}")
            if min_dr in seen:
                raise ValueError(f"two bands start at DR {min_dr}")
            seen.add(min_dr)
            if not isinstance(value, Decimal) or not value.is_finite():
                raise ValueError(
                    f"the value for DR {min_dr}+ must be a finite Decimal, got {value!r}"
                )
            if value < 0:
                raise ValueError(f"the value for DR {min_dr}+ must be 0 or more, got {value}")
        if 0 not in seen:
            raise ValueError("the lowest band must start at DR 0, so every domain has a value")
        for name in _WEIGHTS:
            weight = getattr(self, name)
            if not isinstance(weight, Decimal) or not weight.is_finite():
                raise ValueError(f"{name} must be a finite Decimal, got {weight!r}")
            if not 0 <= weight <= 1:
                raise ValueError(f"{name} must be between 0 and 1, got {weight}")
        object.__setattr__(self, "bands", tuple(sorted(self.bands)))

    @classmethod
    def default(cls) -> ValueModel:
        """A starting point for a new workspace; agencies are expected to adjust it."""
        return cls(bands=((0, Decimal(50)), (30, Decimal(150)), (60, Decimal(400))))

    def as_json(self) -> dict[str, Any]:
        """JSON-safe form; amounts are strings so no float ever touches money."""
        return {
            "bands": [{"min_dr": min_dr, "value": str(value)} for min_dr, value in self.bands],
            **{name: str(getattr(self, name)) for name in _WEIGHTS},
        }


def _decimal(raw: object, what: str) -> Decimal:
    # Floats go through str() so 0.1 becomes Decimal("0.1"), not its binary approximation.
    if isinstance(raw, bool) or not isinstance(raw, str | int | float | Decimal):
        raise ValueError(f"{what} must be a number, got {raw!r}")
    try:
        return Decimal(str(raw))
    except InvalidOperation:
        raise ValueError(f"{what} must be a number, got {raw!r}") from None


def value_model_from_json(data: Mapping[str, Any]) -> ValueModel:
    """Parse the stored or submitted settings; missing weights take their defaults, unknown
    keys are rejected so a typo does not silently fall back to a default."""
    unknown = sorted(set(data) - {"bands", *_WEIGHTS})
    if unknown:
        raise ValueError(f"unknown value model setting(s): {', '.join(unknown)}")
    raw_bands = data.get("bands")
    if not isinstance(raw_bands, list):
        raise ValueError("bands must be a list of {min_dr, value} objects")
    bands = []
    for band in raw_bands:
        if not isinstance(band, Mapping) or set(band) != {"min_dr", "value"}:
            raise ValueError(f"each band needs exactly min_dr and value, got {band!r}")
        min_dr = band["min_dr"]
        bands.append((min_dr, _decimal(band["value"], f"the value for DR {min_dr}+")))
    weights = {name: _decimal(data[name], name) for name in _WEIGHTS if name in data}
    return ValueModel(bands=tuple(bands), **weights)


def link_value(
    model: ValueModel, domain_rating: int | None, rel: str, override: Decimal | None
) -> Decimal:
    """Value of one live link, unrounded so that sums are exact.

    A per-link override (an agreed price, say) wins outright, even when it is 0. An unknown DR
    takes the lowest band: we do not credit a link with authority nobody has measured.
    """
    if override is not None:
        return override
    weights = {
        "follow": Decimal(1),
        "nofollow": model.nofollow_weight,
        "sponsored": model.sponsored_weight,
        "ugc": model.ugc_weight,
        "noindex": model.noindex_weight,
    }
    if rel not in weights:
        raise ValueError(f"unknown rel {rel!r}; expected one of {', '.join(weights)}")
    if domain_rating is not None and not 0 <= domain_rating <= 100:
        raise ValueError(f"domain rating must be 0-100, got {domain_rating}")
    base = model.bands[0][1]
    if domain_rating is not None:
        base = [value for min_dr, value in model.bands if min_dr <= domain_rating][-1]
    return base * weights[rel]


def roi(value: Decimal, cost: Decimal) -> float | None:
    """Return on investment, (value - cost) / cost; None for a campaign that cost nothing."""
    if cost == 0:
        return None
    return float((value - cost) / cost)


def cost_per_link(cost: Decimal, links: int) -> Decimal | None:
    """Cost of one live link in cents; None when no link went live."""
    if links == 0:
        return None
    return to_cents(cost / links)


# --- Anchors and rel ------------------------------------------------------------------------

ANCHOR_CLASSES = ("exact", "partial", "branded", "generic", "url", "other", "empty")
GENERIC_ANCHORS = frozenset(
    {
        "click here",
        "here",
        "this",
        "website",
        "read more",
        "learn more",
        "this article",
        "source",
        "link",
        "more",
        "this post",
        "this site",
        "visit",
        "check it out",
        "click",
        "this page",
        "this link",
        "homepage",
        "web site",
        "more info",
        "find out more",
        "see more",
        "go here",
        "visit website",
        "visit site",
        "official website",
        "this website",
    }
)
# Words of four letters or more that say nothing about the topic.
STOP_WORDS = frozenset(
    {
        "about",
        "after",
        "also",
        "best",
        "been",
        "does",
        "from",
        "have",
        "into",
        "just",
        "more",
        "most",
        "only",
        "other",
        "over",
        "some",
        "than",
        "that",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "what",
        "when",
        "where",
        "which",
        "while",
        "will",
        "with",
        "your",
    }
)
_DOMAIN_LIKE = re.compile(r"\w+\.\w{2,}")


def _normal(text: str) -> str:
    return " ".join(re.sub(r"[\W_]+", " ", text.casefold()).split())


def _significant(text: str) -> set[str]:
    return {word for word in _normal(text).split() if len(word) >= 4 and word not in STOP_WORDS}


def _looks_like_url(anchor: str, target_url: str) -> bool:
    lowered = anchor.casefold()
    if "://" in lowered or "www." in lowered:
        return True
    host = (urlsplit(target_url).hostname or "").removeprefix("www.")
    if host and host in lowered:
        return True
    return not any(char.isspace() for char in anchor) and bool(_DOMAIN_LIKE.search(anchor))


def classify_anchor(
    anchor: str, *, brand_terms: Sequence[str], target_keywords: Sequence[str], target_url: str
) -> str:
    """Which of ANCHOR_CLASSES an anchor text falls in, for the anchor-profile chart.

    First rule that matches wins: empty (blank) → url (a scheme, "www.", the target's host, or a
    single token like "example.com") → exact (equals a target keyword, ignoring case, spacing and
    punctuation) → branded (contains a brand term as whole words; beats partial, since a brand
    anchor is the safest kind) → generic (the whole anchor is a stock phrase like "click here";
    checked before partial so "link" is not partial for the keyword "link building") → partial
    (shares a word of 4+ letters, not a stop word, with a keyword) → other.
    """
    if not anchor.strip():
        return "empty"
    if _looks_like_url(anchor, target_url):
        return "url"
    normal = _normal(anchor)
    if normal in {_normal(keyword) for keyword in target_keywords}:
        return "exact"
    padded = f" {normal} "
    if any(_normal(term) and f" {_normal(term)} " in padded for term in brand_terms):
        return "branded"
    if normal in GENERIC_ANCHORS:
        return "generic"
    keyword_words = set().union(*(_significant(keyword) for keyword in target_keywords))
    if _significant(anchor) & keyword_words:
        return "partial"
    return "other"


def anchor_distribution(
    anchors: Iterable[str] | Mapping[str, int],
    *,
    brand_terms: Sequence[str],
    target_keywords: Sequence[str],
    target_url: str,
) -> dict[str, int]:
    """Links per anchor class, from one anchor per link or from links per anchor text; every
    class present so charts stay stable."""
    counts = dict.fromkeys(ANCHOR_CLASSES, 0)
    per_anchor = anchors if isinstance(anchors, Mapping) else Counter(anchors)
    for anchor, links in per_anchor.items():
        kind = classify_anchor(
            anchor, brand_terms=brand_terms, target_keywords=target_keywords, target_url=target_url
        )
        counts[kind] += links
    return counts


REL_CLASSES = ("follow", "nofollow", "sponsored", "ugc")


def rel_mix(rels: Iterable[str] | Mapping[str, int]) -> dict[str, int]:
    """Links per rel class, from one rel attribute value per link (space-separated tokens
    allowed) or from links per rel value.

    Each link counts once, so the classes add up to the number of links. "nofollow sponsored"
    counts as sponsored and "nofollow ugc" as ugc: the more specific disclosure wins. Tokens that
    do not restrict ranking (noopener, noreferrer) or an empty rel count as follow.
    """
    counts = dict.fromkeys(REL_CLASSES, 0)
    per_rel = rels if isinstance(rels, Mapping) else Counter(rels)
    for rel, links in per_rel.items():
        tokens = set(rel.casefold().split())
        kind = next((k for k in ("sponsored", "ugc", "nofollow") if k in tokens), "follow")
        counts[kind] += links
    return counts


# --- Time -----------------------------------------------------------------------------------


def survival_share(old_enough: int, died: int) -> float | None:
    """Share of links still live N days after going live, among the `old_enough` ones live at
    least that long, `died` of which were lost within those days (exactly on day N counts as
    lost). Younger links are left out rather than counted as survivors, which would flatter a
    young campaign. None when no link is old enough."""
    return rate(old_enough - died, old_enough)


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def weekly_counts(moments: Iterable[datetime], start: date, end: date) -> list[tuple[date, int]]:
    """Events per ISO week (keyed by its Monday) from start's week to end's week, zero-filled so
    quiet weeks show. Moments outside those weeks are ignored; the caller converts time zones."""
    return weekly_totals(((moment.date(), 1) for moment in moments), start, end, 0)


def weekly_totals(
    daily: Iterable[tuple[date, Amount]], start: date, end: date, zero: Amount
) -> list[tuple[date, Amount]]:
    """Daily amounts (e.g. from a GROUP BY day in SQL) summed per ISO week from start's week to
    end's week, zero-filled; days outside those weeks are ignored."""
    if end < start:
        raise ValueError(f"the period ends ({end}) before it starts ({start})")
    first, last = _monday(start), _monday(end)
    totals = {first + timedelta(weeks=n): zero for n in range((last - first).days // 7 + 1)}
    for day, amount in daily:
        week = _monday(day)
        if week in totals:
            totals[week] += amount
    return list(totals.items())


def cumulative(series: Sequence[tuple[date, Decimal]]) -> list[tuple[date, Decimal]]:
    """Running totals, e.g. value earned to date; the sum is exact, each point shown in cents."""
    running = Decimal(0)
    out = []
    for day, amount in series:
        running += amount
        out.append((day, to_cents(running)))
    return out


# --- Natural-profile warnings ---------------------------------------------------------------

MIN_LINKS_FOR_SHARES = 5


def _percent(share: float, limit: float) -> str:
    # Whole percents read best, but "10% (above 10%)" would look wrong: add a decimal then.
    whole = f"{share:.0%}"
    return f"{share:.1%}" if whole == _limit(limit) else whole


def _limit(limit: float) -> str:
    return f"{limit * 100:g}%"


def profile_warnings(
    *,
    anchors: Mapping[str, int],
    rels: Mapping[str, int],
    paid_without_sponsored: int,
    links_per_domain: Mapping[str, int],
    exact_share_limit: float = 0.1,
    nofollow_share_floor: float = 0.05,
    burst_limit: int = 3,
) -> list[str]:
    """Sentences pointing at a link profile that looks built rather than earned.

    `anchors` and `rels` are live-link counts as from anchor_distribution and rel_mix. Shares
    are judged only from MIN_LINKS_FOR_SHARES live links up: with fewer, one link swings them.
    Sponsored and ugc links count as nofollow, since search engines treat them alike.
    """
    warnings = []
    anchor_total = sum(anchors.values())
    if anchor_total >= MIN_LINKS_FOR_SHARES:
        exact = anchors.get("exact", 0) / anchor_total
        if exact > exact_share_limit:
            warnings.append(
                f"Exact-match anchors are {_percent(exact, exact_share_limit)} of links"
                f" (above {_limit(exact_share_limit)})"
            )
    rel_total = sum(rels.values())
    if rel_total >= MIN_LINKS_FOR_SHARES:
        nofollow = (rel_total - rels.get("follow", 0)) / rel_total
        if nofollow < nofollow_share_floor:
            warnings.append(
                f"Only {_percent(nofollow, nofollow_share_floor)} of links are nofollow"
                f" (below {_limit(nofollow_share_floor)})"
            )
    if paid_without_sponsored == 1:
        warnings.append('1 paid link lacks rel="sponsored"')
    elif paid_without_sponsored > 1:
        warnings.append(f'{paid_without_sponsored} paid links lack rel="sponsored"')
    bursts = sorted(
        ((count, domain) for domain, count in links_per_domain.items() if count > burst_limit),
        key=lambda pair: (-pair[0], pair[1]),
    )
    warnings.extend(f"{count} links come from one domain: {domain}" for count, domain in bursts)
    return warnings
