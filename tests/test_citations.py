"""Name, address and phone on local citations: normalised comparison."""

from __future__ import annotations

from outreach.links.citations import Nap, nap_mismatches, page_text, phone_shown

NAP = Nap(
    name="Green Balcony GmbH",
    street_address="Gartenstraße 12",
    locality="München",
    postal_code="80331",
    phone="+49 89 1234567",
)


def test_a_listing_written_differently_still_matches() -> None:
    html = """<html><head><script>var x = "nothing";</script></head><body>
      <h1>GREEN BALCONY gmbh</h1>
      <p>Gartenstr. 12<br>80331 Munchen</p><p>Tel: (089) 123-4567</p></body></html>"""
    assert nap_mismatches(NAP, page_text(html)) == []


def test_each_missing_piece_is_named() -> None:
    text = page_text("<p>Green Balcony GmbH, Hauptstraße 1, 80331 München, 089 7654321</p>")
    assert nap_mismatches(NAP, text) == [
        "the listing does not show the street address 'Gartenstraße 12'",
        "the listing does not show the phone '+49 89 1234567'",
    ]


def test_name_must_be_whole_words() -> None:
    assert nap_mismatches(Nap("Balcony", "", "", "", ""), "Balconyworld shop") == [
        "the listing does not show the name 'Balcony'"
    ]


def test_phone_formats() -> None:
    assert phone_shown("+1 (555) 010-4477", "Call 555.010.4477 today")
    assert phone_shown("0044 20 7946 0958", "+44 20 7946 0958")
    assert not phone_shown("+1 555 010 4477", "Call 555 010 4478")
    assert not phone_shown("123", "123")


def test_empty_fields_are_not_checked() -> None:
    assert nap_mismatches(Nap("", "", "", "", ""), "") == []
    assert page_text("") == ""
