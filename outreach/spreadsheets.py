"""Cells for the CSV files people open in a spreadsheet."""

from __future__ import annotations

# What a spreadsheet takes for the start of a formula (CSV injection), in any text cell.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """A text cell a spreadsheet would run as a formula gets a leading apostrophe: prospect
    names, notes and anchors come from outside (imports, scraped pages). Numbers, a negative
    ROI included, are written as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
