"""Input rules shared by every area's forms and API bodies."""

from __future__ import annotations

from typing import Annotated, Any

from email_validator import EmailNotValidError, validate_email
from pydantic import Field

# The largest number an INTEGER column holds on PostgreSQL (SQLite's go to 2**63 - 1): a larger
# id names no row, and a larger count or page would fail in the database instead of here.
MAX_INT = 2**31 - 1
RowId = Annotated[int, Field(ge=1, le=MAX_INT)]


def normalise_email(value: str) -> str:
    """A syntactically valid address in lower case; raises ValueError saying what is wrong."""
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise ValueError(f"{value.strip()!r} is not a valid email address: {exc}") from None


def blank_to_none(data: Any, names: set[str]) -> Any:
    """An empty form field is an unset optional value, not an invalid one."""
    if isinstance(data, dict):
        return {k: (None if k in names and v == "" else v) for k, v in data.items()}
    return data


def nul_field(value: Any, name: str = "") -> str | None:
    """The dotted name of the first key or text in `value` (JSON-like data) holding a NUL
    character, or None. PostgreSQL cannot store NUL in text and no real input has one, so
    requests carrying it are refused up front with this name."""
    if isinstance(value, str):
        return (name or "body") if "\x00" in value else None
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        field = f"{name}.{key}" if name else str(key)
        found = field if "\x00" in str(key) else nul_field(item, field)
        if found:
            return found
    return None
