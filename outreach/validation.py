"""Input rules shared by every area's forms and API bodies."""

from __future__ import annotations

from typing import Any

from email_validator import EmailNotValidError, validate_email


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
