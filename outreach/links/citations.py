"""Local citations: does a directory listing show the client's name, address and phone the
way the client writes them? Compared after normalising, since listings reformat everything."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from selectolax.lexbor import LexborHTMLParser

# Street words directories abbreviate; compared in their short form.
_ABBREVIATIONS = {
    "street": "st",
    "avenue": "ave",
    "road": "rd",
    "boulevard": "blvd",
    "drive": "dr",
    "lane": "ln",
    "suite": "ste",
}
# German streets are one word ("Gartenstraße", casefolded "gartenstrasse"), shortened "Gartenstr.".
_STREET_SUFFIX = "strasse"
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


@dataclass(frozen=True)
class Nap:
    name: str
    street_address: str
    locality: str
    postal_code: str
    phone: str


def page_text(html: str) -> str:
    """The visible text of a page (scripts and styles left out)."""
    tree = LexborHTMLParser(html)
    for node in tree.css("script, style, noscript, template"):
        node.decompose()
    return tree.text(separator=" ") if tree.body is not None else ""


def _words(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(char for char in folded if not unicodedata.combining(char))
    return " " + " ".join(_short(word) for word in _WORD.findall(plain)) + " "


def _short(word: str) -> str:
    if word.endswith(_STREET_SUFFIX):
        return word.removesuffix(_STREET_SUFFIX) + "str"
    return _ABBREVIATIONS.get(word, word)


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def phone_shown(phone: str, text: str) -> bool:
    """The phone's digits appear in the text, ignoring spacing, dashes, brackets and a
    country-code prefix written one way on the listing and another way by the client."""
    wanted = _digits(phone).lstrip("0")
    if len(wanted) < 6:
        return False
    runs = [_digits(run) for run in re.findall(r"[+(]?\d[\d\s().\-/]{5,}\d", text)]
    return any(run.lstrip("0").endswith(wanted[-9:]) for run in runs)


def nap_mismatches(nap: Nap, text: str) -> list[str]:
    """What of the client's name, address and phone the listing does not show."""
    words = _words(text)
    problems: list[str] = []
    if nap.name and _words(nap.name) not in words:
        problems.append(f"the listing does not show the name {nap.name!r}")
    for label, value in (
        ("street address", nap.street_address),
        ("town", nap.locality),
        ("postal code", nap.postal_code),
    ):
        if value and _words(value) not in words:
            problems.append(f"the listing does not show the {label} {value!r}")
    if nap.phone and not phone_shown(nap.phone, text):
        problems.append(f"the listing does not show the phone {nap.phone!r}")
    return problems
