"""A campaign report as a flat CSV, one figure a row (`section,figure,value`), for a
spreadsheet. The figures are the report's own (reports.campaign_report); nothing is computed
here, only laid out: rates stay 0..1 fractions, money stays a number in the campaign's currency,
and an undefined figure is an empty cell."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from outreach.spreadsheets import safe_cell

HEADER = ("section", "figure", "value")
HEADLINE = (
    "links_live",
    "referring_domains",
    "emails_sent",
    "replies",
    "reply_rate",
    "publish_rate",
    "median_days_to_reply",
    "median_days_to_live",
    "budget",
    "cost_total",
    "cost_per_link",
    "value_total",
    "roi",
)
WEEK_FIGURES = (
    "links_live",
    "emails_sent",
    "replies",
    "cost",
    "value",
    "cumulative_cost",
    "cumulative_value",
)
BUILDER_FIGURES = ("prospects", "contacted", "replies", "links", "cost", "cost_per_link")
TEMPLATE_FIGURES = ("sent", "replies", "reply_rate")

Row = tuple[str, str, Any]


def _mapping(section: str, figures: Mapping[str, Any] | None) -> Iterator[Row]:
    for name, value in (figures or {}).items():
        yield section, str(name), value


def report_rows(
    report: Mapping[str, Any], *, campaign_name: str, client_name: str
) -> Iterator[Row]:
    """Every figure of the report, in the order the page shows them."""
    yield "campaign", "campaign_id", report["campaign_id"]
    yield "campaign", "name", campaign_name
    yield "campaign", "client", client_name
    yield "campaign", "currency", report["currency"]
    for name in HEADLINE:
        if name in report:
            yield "headline", name, report[name]
    funnel = report.get("funnel") or {}
    for name in ("total", "contacted", "replied", "linked"):
        yield "funnel", name, funnel.get(name)
    yield from _mapping("funnel_conversion", funnel.get("conversion"))
    yield from _mapping("prospects_by_stage", report.get("prospects_by_stage"))
    yield from _mapping("links_by_type", report.get("links_by_type"))
    yield from _mapping("rel_mix", report.get("rel_mix"))
    yield from _mapping("anchor_mix", report.get("anchor_mix"))
    yield from _mapping("survival", report.get("survival"))
    for week in report.get("over_time") or []:
        for name in WEEK_FIGURES:
            yield f"week {week['week']}", name, week.get(name)
    for builder in report.get("builders") or []:
        for name in BUILDER_FIGURES:
            yield "builders", f"{builder['name']}: {name}", builder.get(name)
    for template in report.get("templates") or []:
        for name in TEMPLATE_FIGURES:
            yield "templates", f"{template['name']}: {name}", template.get(name)
    for number, warning in enumerate(report.get("warnings") or [], 1):
        yield "warnings", f"warning {number}", warning


def csv_text(rows: Iterable[Row]) -> str:
    """UTF-8 text with a byte-order mark (Excel then reads accents); None is an empty cell."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer)
    writer.writerow(HEADER)
    for row in rows:
        writer.writerow(["" if cell is None else safe_cell(cell) for cell in row])
    return buffer.getvalue()
