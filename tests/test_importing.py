"""The CSV prospect importer's parsing layer, on real tool exports and on generated edge cases."""

from __future__ import annotations

import csv
import gc
import io
import random
from collections.abc import Iterator
from itertools import islice
from pathlib import Path

import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

from outreach.prospects.importing import (
    COLUMN_NAMES,
    FIELDS,
    MAX_CUSTOM_VALUE_LENGTH,
    SAMPLE_BYTES,
    CsvLayout,
    ParsedRow,
    RowError,
    UnusableFileError,
    custom_field_name,
    read_rows,
    sniff_layout,
    suggest_mapping,
)

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "imports"


def fixture(name: str) -> Path:
    path = FIXTURES / name
    if not path.is_file():
        pytest.skip(f"sample export {path} is not checked out next to the repository")
    return path


def parse(data: bytes) -> tuple[CsvLayout, list[ParsedRow | RowError]]:
    stream = io.BytesIO(data)
    layout = sniff_layout(stream)
    return layout, list(read_rows(stream, layout, suggest_mapping(layout)))


def parse_file(path: Path) -> tuple[CsvLayout, dict[str, str], list[ParsedRow | RowError]]:
    with path.open("rb") as stream:
        layout = sniff_layout(stream)
        mapping = suggest_mapping(layout)
        return layout, mapping, list(read_rows(stream, layout, mapping))


def valid(items: list[ParsedRow | RowError]) -> list[ParsedRow]:
    rows = [item for item in items if isinstance(item, ParsedRow)]
    assert rows == items, [item for item in items if isinstance(item, RowError)]
    return rows


def only(items: list[ParsedRow | RowError]) -> ParsedRow | RowError:
    assert len(items) == 1
    return items[0]


def sheet(header: str, cell: str) -> bytes:
    """A one-row file with a Website column and one more, quoted as a spreadsheet would."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerows([["Website", header], ["example.com", cell]])
    return out.getvalue().encode()


def error_message(data: bytes) -> str:
    item = only(parse(data)[1])
    assert isinstance(item, RowError)
    return item.message


# --- The sample exports -------------------------------------------------------------------------


def test_ahrefs_backlinks() -> None:
    layout, mapping, items = parse_file(fixture("ahrefs-backlinks.csv"))
    assert (layout.encoding, layout.delimiter, layout.header_row) == ("utf-16", "\t", 1)
    assert layout.source == "ahrefs_backlinks"
    assert len(layout.columns) == 31
    assert mapping == {
        "page_url": "Referring page URL",
        "domain_rating": "Domain rating",
        "traffic": "Domain traffic",
    }
    rows = valid(items)
    assert [(r.row, r.domain, r.domain_rating, r.traffic) for r in rows] == [
        (2, "gardenista-blog.example", 24, 85419),
        (3, "urbanplanter.example", 32, 11365),
        (4, "greenthumbdaily.example", 77, 29360),
        (5, "balcony-harvest.example", 22, 55037),
        (6, "plantparenthood.example", 78, 24724),
        (7, "soil-and-seed.example", 68, 69793),
        (8, "compostcorner.example", 28, 32094),
        (9, "herbhaven.example", 14, 67200),
    ]
    assert rows[1].page_url == "https://www.urbanplanter.example/posts/balcony-plants"
    assert len(rows[0].raw) == 31
    assert rows[0].raw[13] == "https://client.example/guides/balcony-gardening/"


def test_ahrefs_referring_domains() -> None:
    layout, mapping, items = parse_file(fixture("ahrefs-referring-domains.csv"))
    assert (layout.encoding, layout.delimiter, layout.source) == (
        "utf-16",
        "\t",
        "ahrefs_referring_domains",
    )
    assert "Traffic" in layout.columns  # "Traffic " in the file
    assert mapping == {"domain": "Domain", "domain_rating": "DR", "traffic": "Traffic"}
    rows = valid(items)
    assert [(r.row, r.domain, r.domain_rating, r.traffic) for r in rows] == [
        (2, "gardenista-blog.example", 6, 73148),
        (3, "urbanplanter.example", 75, 110096),
        (4, "greenthumbdaily.example", 8, 75752),
        (5, "balcony-harvest.example", 3, 22026),
        (6, "plantparenthood.example", 37, 32455),
        (7, "soil-and-seed.example", 22, 72016),
        (8, "compostcorner.example", 36, 89485),
        (9, "herbhaven.example", 23, 86313),
        (10, "rooftopfarms.example", 34, 19094),
        (11, "indoorjungle.example", 17, 85847),
        (12, "seedlibrary.example", 51, 51658),
        (13, "münchen-gärten.example", 8, 27363),
    ]
    assert all(r.page_url == "" for r in rows)


def test_semrush_backlinks() -> None:
    layout, mapping, items = parse_file(fixture("semrush-backlinks.csv"))
    assert (layout.encoding, layout.delimiter, layout.source) == ("utf-8", ",", "semrush_backlinks")
    assert mapping == {"page_url": "Source url", "domain_rating": "Page ascore"}
    rows = valid(items)
    assert [(r.row, r.domain, r.domain_rating) for r in rows] == [
        (2, "balcony-harvest.example", 39),
        (3, "plantparenthood.example", 37),
        (4, "soil-and-seed.example", 24),
        (5, "compostcorner.example", 56),
        (6, "herbhaven.example", 10),
        (7, "rooftopfarms.example", 31),
        (8, "indoorjungle.example", 30),
        (9, "seedlibrary.example", 6),
    ]
    assert rows[3].page_url == "https://www.compostcorner.example/resources/"


def test_majestic_backlinks() -> None:
    layout, mapping, items = parse_file(fixture("majestic-backlinks.csv"))
    assert (layout.encoding, layout.delimiter, layout.source) == (
        "utf-8",
        ",",
        "majestic_backlinks",
    )
    assert mapping == {"page_url": "Source URL", "domain_rating": "SourceTrustFlow"}
    rows = valid(items)
    assert [(r.row, r.domain, r.domain_rating, r.traffic) for r in rows] == [
        (2, "gardenista-blog.example", 17, None),
        (3, "urbanplanter.example", 11, None),
        (4, "greenthumbdaily.example", 14, None),
        (5, "balcony-harvest.example", 10, None),
        (6, "plantparenthood.example", 49, None),
        (7, "soil-and-seed.example", 42, None),
    ]
    assert rows[0].page_url == "http://gardenista-blog.example/blog/herbs"
    assert rows[0].raw[5] == "-"


def test_gsc_top_linking_sites() -> None:
    layout, mapping, items = parse_file(fixture("gsc-top-linking-sites.csv"))
    assert layout == CsvLayout(
        encoding="utf-8-sig",
        delimiter=",",
        header_row=1,
        columns=("Site", "Linking pages", "Target pages"),
        source="gsc_top_linking_sites",
    )
    assert mapping == {"domain": "Site"}
    rows = valid(items)
    assert [r.domain for r in rows] == [
        "gardenista-blog.example",
        "urbanplanter.example",
        "greenthumbdaily.example",
        "balcony-harvest.example",
        "plantparenthood.example",
        "soil-and-seed.example",
        "compostcorner.example",
        "herbhaven.example",
        "rooftopfarms.example",
        "indoorjungle.example",
        "seedlibrary.example",
        "münchen-gärten.example",
    ]
    assert [r.row for r in rows] == list(range(2, 14))
    assert rows[0].raw == ("gardenista-blog.example", "1,070", "17")


def test_handmade_latin1_sheet() -> None:
    layout, mapping, items = parse_file(fixture("handmade-prospects-latin1.csv"))
    assert layout == CsvLayout(
        encoding="cp1252",
        delimiter=";",
        header_row=1,
        columns=("Website", "Contact", "Email", "DR", "Notes"),
        source="generic",
    )
    assert mapping == {
        "domain": "Website",
        "contact_name": "Contact",
        "email": "Email",
        "domain_rating": "DR",
        "notes": "Notes",
    }
    assert [item.row for item in items] == [2, 3, 4, 5, 7, 8]  # row 6 is blank
    anna, tom, greenthumb, duplicate, bad, lee = items
    assert anna == ParsedRow(
        row=2,
        domain="gardenista-blog.example",
        page_url="",
        domain_rating=54,
        traffic=None,
        relevance=None,
        contact_name="Anna Grün",
        contact_role="",
        email="anna@gardenista-blog.example",
        profile_url="",
        tags=(),
        notes="Crème de la crème",
        custom_fields={},
        raw=(
            "www.gardenista-blog.example",
            "Anna Grün",
            "anna@gardenista-blog.example",
            "54",
            "Crème de la crème",
        ),
    )
    assert isinstance(tom, ParsedRow)
    assert (tom.domain, tom.email, tom.domain_rating) == (
        "urbanplanter.example",
        "tom@urbanplanter.example",
        38,
    )
    assert isinstance(greenthumb, ParsedRow)
    assert (greenthumb.domain, greenthumb.contact_name, greenthumb.email) == (
        "greenthumbdaily.example",
        "",
        None,
    )
    # The caller de-duplicates; the parser reports the row as it is.
    assert isinstance(duplicate, ParsedRow)
    assert (duplicate.domain, duplicate.email) == (anna.domain, anna.email)
    assert bad == RowError(
        row=7,
        message="Website: 'not a website' is not a URL or domain",
        raw=("not a website", "X", "x@example.com", "", "bad url"),
    )
    assert isinstance(lee, ParsedRow)
    assert (lee.domain, lee.domain_rating, lee.notes) == (
        "balcony-harvest.example",
        12,
        "notes; with semicolon",
    )


# --- Other tools' layouts -----------------------------------------------------------------------

SEMRUSH_OLD_HEADER = (
    "Page score,Page trust score,Source title,Source url,Target url,Anchor,External links,"
    "Internal links,Nofollow,Frame,Form,Image,Sitewide,First seen,Last seen"
)
MOZ_HEADER = (
    "URL,Title,Anchor Text,Spam Score,Page Authority,Domain Authority,"
    "Number of Domains Linking to this Page,Number of Domains Linking to Domain,Origin,"
    "Target URL,Link Equity,Image Link,Alt Text,Type,Redirect Chain,First Seen,Last Seen"
)


def test_semrush_old_fifteen_column_export() -> None:
    data = (
        SEMRUSH_OLD_HEADER + "\n12,9,Herbs | herbhaven.example,https://herbhaven.example/herbs,"
        "https://client.example/,herbs,4,20,false,false,false,false,false,"
        "2019-01-02,2019-03-04\n"
    )
    layout, items = parse(data.encode())
    assert len(layout.columns) == 15
    assert layout.source == "semrush_backlinks"
    assert suggest_mapping(layout) == {"page_url": "Source url", "domain_rating": "Page score"}
    row = only(items)
    assert isinstance(row, ParsedRow)
    assert (row.domain, row.page_url, row.domain_rating) == (
        "herbhaven.example",
        "https://herbhaven.example/herbs",
        12,
    )


def test_semrush_referring_domains() -> None:
    data = (
        b"Domain ascore,Domain,Backlinks,IP,Country,First seen,Last seen\n"
        b"44,herbhaven.example,12,192.0.2.1,de,2024-01-01,2024-02-01\n"
    )
    layout, items = parse(data)
    assert layout.source == "semrush_referring_domains"
    assert suggest_mapping(layout) == {"domain": "Domain", "domain_rating": "Domain ascore"}
    row = only(items)
    assert isinstance(row, ParsedRow)
    assert (row.domain, row.domain_rating) == ("herbhaven.example", 44)


def test_moz_export_with_preamble() -> None:
    preamble = (
        "Open Site Explorer Inbound Links Report\n"
        "Target URL,http://client.example/\n"
        '"Filters: external, all links, to: this page"\n'
        "Generated:,2017-03-01\n"
        "Moz Pro,https://moz.com/products/pro\n"
        "\n"
    )
    data = (
        preamble
        + MOZ_HEADER
        + '\nhttps://herbhaven.example/herbs,"Herbs, herbs",herbs,1,30,41,3,90,external,'
        "http://client.example/,passing,No,,link,,2016-01-01,2017-01-01\n"
    )
    layout, items = parse(data.encode())
    assert layout.header_row == 7
    assert layout.source == "moz_links"
    assert layout.columns == tuple(MOZ_HEADER.split(","))
    assert suggest_mapping(layout) == {"page_url": "URL", "domain_rating": "Domain Authority"}
    row = only(items)
    assert isinstance(row, ParsedRow)
    assert (row.row, row.domain, row.domain_rating) == (8, "herbhaven.example", 41)


def test_target_columns_are_never_the_prospect_page() -> None:
    layout, _ = parse(b"Target URL,Target url 2,Website\nclient.example,client.example,a.example\n")
    assert suggest_mapping(layout) == {"domain": "Website"}
    layout, _ = parse(b"Target url,Anchor,Source url\nclient.example,x,a.example/p\n")
    assert suggest_mapping(layout) == {"page_url": "Source url"}


def test_generic_sheet_mapping() -> None:
    header = (
        " Website ,URL,DA,Traffic,Relevance,Name,Role,E-mail,LinkedIn,Tags,Comments,Page traffic"
    )
    layout, _ = parse(f"{header}\nexample.com,example.com/x,1,2,3,a,b,c@example.com,,,,\n".encode())
    assert layout.source == "generic"
    assert suggest_mapping(layout) == {
        "domain": "Website",
        "page_url": "URL",
        "domain_rating": "DA",
        "traffic": "Traffic",
        "relevance": "Relevance",
        "contact_name": "Name",
        "contact_role": "Role",
        "email": "E-mail",
        "profile_url": "LinkedIn",
        "tags": "Tags",
        "notes": "Comments",
    }


def test_no_column_name_is_known_for_two_fields() -> None:
    assert set(COLUMN_NAMES) == set(FIELDS)
    names = [name for field in FIELDS for name in COLUMN_NAMES[field]]
    assert len(names) == len(set(names))
    assert all(name == " ".join(name.split()).casefold() for name in names)


def test_repeated_column_names_map_to_the_first() -> None:
    layout, _ = parse(b"Website,Email,Email\nexample.com,a@example.com,b@example.com\n")
    assert suggest_mapping(layout) == {"domain": "Website", "email": "Email"}
    stream = io.BytesIO(b"Website,Email,Email\nexample.com,a@example.com,b@example.com\n")
    assert [r.email for r in valid(list(read_rows(stream, layout, suggest_mapping(layout))))] == [
        "a@example.com"
    ]


# --- Encodings, delimiters and line structure ---------------------------------------------------


def test_utf8_with_bom() -> None:
    layout, items = parse("\ufeffWebsite,Contact\nexample.com,Zoë\n".encode())
    assert (layout.encoding, layout.columns) == ("utf-8-sig", ("Website", "Contact"))
    row = only(items)
    assert isinstance(row, ParsedRow)
    assert row.contact_name == "Zoë"


def test_utf16_big_endian_bom_is_honoured() -> None:
    data = b"\xfe\xff" + "Website;Contact\nexample.com;Zoë\n".encode("utf-16-be")
    layout, items = parse(data)
    assert (layout.encoding, layout.delimiter) == ("utf-16", ";")
    assert [r.contact_name for r in valid(items)] == ["Zoë"]


def test_semicolon_delimiter_with_quoted_semicolons_and_decimal_commas() -> None:
    data = b'Website;DR;Notes\na.example;45,5;"x; y; z"\nb.example;1;plain\n'
    layout, items = parse(data)
    assert layout.delimiter == ";"
    assert [(r.domain, r.domain_rating, r.notes) for r in valid(items)] == [
        ("a.example", 46, "x; y; z"),
        ("b.example", 1, "plain"),
    ]


def test_pipe_delimiter() -> None:
    layout, items = parse(b"Website|Email\na.example|a@a.example\n")
    assert layout.delimiter == "|"
    assert [r.email for r in valid(items)] == ["a@a.example"]


def test_quoted_newlines_keep_spreadsheet_row_numbers() -> None:
    data = (
        b"Website,Notes\r\n"
        b'a.example,"first line\r\nsecond line\r\nthird line"\r\n'
        b"b.example,single\r\n"
        b"not a site,x\r\n"
    )
    layout, items = parse(data)
    assert layout.header_row == 1
    first, second, third = items
    assert isinstance(first, ParsedRow)
    assert (first.row, first.notes) == (2, "first line\r\nsecond line\r\nthird line")
    assert isinstance(second, ParsedRow)
    assert second.row == 3  # one spreadsheet row per record, not per physical line
    assert isinstance(third, RowError)
    assert third.row == 4


def test_latin1_file() -> None:
    data = "Website;Contact;Notes\nbücher.de;Jürgen Groß;Façade – naïve\n".encode("cp1252")
    layout, items = parse(data)
    assert layout.encoding == "cp1252"
    row = only(items)
    assert isinstance(row, ParsedRow)
    assert (row.domain, row.contact_name, row.notes) == (
        "bücher.de",
        "Jürgen Groß",
        "Façade – naïve",
    )


def test_bytes_cp1252_cannot_decode_fall_back_to_latin1() -> None:
    layout, items = parse(b"Website,Notes\na.example,x\x81y\n")
    assert layout.encoding == "cp1252"
    assert [r.notes for r in valid(items)] == ["x\x81y"]


def test_mostly_utf8_file_with_a_latin1_line() -> None:
    data = "Website,Contact\na.example,Zoë\n".encode() + "b.example,Zoë\n".encode("latin-1")
    layout, items = parse(data)
    assert layout.encoding == "cp1252"
    assert [r.contact_name for r in valid(items)] == ["Zoë", "Zoë"]


def test_empty_and_whitespace_lines_are_skipped_but_counted() -> None:
    data = b"\n\nWebsite,DR\n\na.example,1\n  ,  \n,\nb.example,2\n\n"
    layout, items = parse(data)
    assert layout.header_row == 3
    assert [(r.row, r.domain) for r in valid(items)] == [(5, "a.example"), (8, "b.example")]


def test_old_mac_line_endings() -> None:
    _, items = parse(b"Website,DR\ra.example,1\rb.example,2\r")
    assert [(r.row, r.domain) for r in valid(items)] == [(2, "a.example"), (3, "b.example")]


def test_nul_bytes_are_ignored() -> None:
    _, items = parse(b"Website,DR\na.exa\x00mple,1\x00\n")
    assert [(r.domain, r.domain_rating) for r in valid(items)] == [("a.example", 1)]


def test_short_and_long_rows() -> None:
    _, items = parse(b"Website,DR,Notes\na.example\nb.example,2,n,extra,cells\n")
    a, b = valid(items)
    assert (a.domain, a.domain_rating, a.notes, a.raw) == ("a.example", None, "", ("a.example",))
    assert (b.notes, b.raw) == ("n", ("b.example", "2", "n", "extra", "cells"))


def test_a_record_too_large_for_csv_is_one_row_error() -> None:
    huge = b"x" * (1024 * 1024 + 10)
    data = b"Website,Notes\na.example,ok\nb.example," + huge + b"\nc.example,ok\n"
    _, items = parse(data)
    assert [type(item) for item in items] == [ParsedRow, RowError, ParsedRow]
    assert items[1].row == 3
    assert "field larger than field limit" in items[1].message
    assert items[2].row == 4


def test_sniffing_reads_a_bounded_sample_and_rewinds() -> None:
    class Tracking(io.BytesIO):
        furthest = 0

        def read(self, size: int | None = -1, /) -> bytes:
            data = super().read(size)
            self.furthest = max(self.furthest, self.tell())
            return data

    stream = Tracking(b"Website,DR\n" + b"a.example,1\n" * 100_000)
    layout = sniff_layout(stream)
    assert stream.furthest <= SAMPLE_BYTES + 1
    assert stream.tell() == 0
    assert layout.columns == ("Website", "DR")


def test_the_callers_stream_stays_open() -> None:
    stream = io.BytesIO(b"Website\na.example\nb.example\n")
    layout = sniff_layout(stream)
    rows = read_rows(stream, layout, {"domain": "Website"})
    next(rows)
    del rows
    gc.collect()
    assert not stream.closed
    assert len(list(read_rows(stream, layout, {"domain": "Website"}))) == 2
    assert not stream.closed


# --- Cell values --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "url", "domain"),
    [
        ("example.com/x", "https://example.com/x", "example.com"),
        ("www.example.com", "https://www.example.com/", "example.com"),
        ("//cdn.example.org/x", "https://cdn.example.org/x", "example.org"),
        ("HTTP://WWW.Example.COM/Path?q=1#top", "http://www.example.com/Path?q=1", "example.com"),
        ("https://example.com:8443/x", "https://example.com:8443/x", "example.com"),
        ("https://blog.example.co.uk/", "https://blog.example.co.uk/", "example.co.uk"),
    ],
)
def test_urls_are_normalised(cell: str, url: str, domain: str) -> None:
    row = only(parse(f"URL,Notes\n{cell},x\n".encode())[1])
    assert isinstance(row, ParsedRow)
    assert (row.page_url, row.domain) == (url, domain)


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("ftp://example.com/x", "URL: 'ftp://example.com/x' is not a web address (http or https)"),
        ("https://exa mple.com/", "URL: 'https://exa mple.com/' is not a URL"),
        (
            "http://127.0.0.1/x",
            "URL: 'http://127.0.0.1/x' is not a URL: 127.0.0.1 is an IP address",
        ),
        ("mailto:bob@example.com", "URL: 'mailto:bob@example.com' is not a URL"),
        ("https://example.com:port/", "URL: 'https://example.com:port/' is not a URL"),
        ("localhost/x", "URL: 'localhost/x' is not a URL: 'localhost' is not a full domain"),
    ],
)
def test_bad_urls_are_row_errors(cell: str, message: str) -> None:
    assert error_message(f"URL,Notes\n{cell},x\n".encode()).startswith(message)


@pytest.mark.parametrize(
    "cell", ["bücher.de", "xn--bcher-kva.de", "https://www.XN--BCHER-KVA.de/x"]
)
def test_idn_domains(cell: str) -> None:
    row = only(parse(f"Website\n{cell}\n".encode())[1])
    assert isinstance(row, ParsedRow)
    assert row.domain == "bücher.de"


def test_domain_and_page_from_different_sites_is_an_error() -> None:
    message = error_message(b"Website,URL\na.example,https://b.example/x\n")
    assert message == "URL: https://b.example/x is not on a.example"
    _, items = parse(b"Website,URL\nexample.co.uk,https://blog.example.co.uk/x\n")
    assert [r.page_url for r in valid(items)] == ["https://blog.example.co.uk/x"]


def test_a_bad_page_url_is_an_error_even_with_a_good_domain() -> None:
    assert error_message(b"Website,URL\na.example,ftp://a.example/x\n").startswith("URL: ")


def test_row_without_website_or_url() -> None:
    data = b"Website,URL,Email\n,,bob@example.com\n"
    assert error_message(data) == "no website or URL in this row"


def test_every_problem_of_a_row_is_reported() -> None:
    message = error_message(b"Website,DR,Email\nexample.com,abc,x@\n")
    assert message.startswith("DR: 'abc' is not a number; Email: 'x@' is not a valid email address")


def test_duplicate_rows_both_parse() -> None:
    _, items = parse(b"Website,Email\na.example,a@a.example\na.example,a@a.example\n")
    first, second = valid(items)
    assert (first.row, second.row) == (2, 3)
    assert (first.domain, first.email) == (second.domain, second.email)


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("1,240", 1240),
        ("1 240", 1240),
        ("1\u00a0240", 1240),
        ("73,148", 73148),
        ("1,234,567", 1234567),
        ("12.0", 12),
        ("12.5", 13),
        ("0", 0),
        ("", None),
        ("-", None),
        ("  2,060 ", 2060),
    ],
)
def test_number_formats(cell: str, expected: int | None) -> None:
    row = only(parse(sheet("Traffic", cell))[1])
    assert isinstance(row, ParsedRow)
    assert row.traffic == expected


@pytest.mark.parametrize(
    ("header", "cell", "expected"),
    [
        ("DR", "54", 54),
        ("DR", "45.4", 45),
        ("DR", "45.5", 46),
        ("DR", "99.5", 100),
        ("Relevance", "4", 4),
        ("Relevance", "4.0", 4),
    ],
)
def test_ratings(header: str, cell: str, expected: int) -> None:
    row = only(parse(sheet(header, cell))[1])
    assert isinstance(row, ParsedRow)
    assert (row.domain_rating if header == "DR" else row.relevance) == expected


@pytest.mark.parametrize(
    ("header", "cell", "message"),
    [
        ("DR", "abc", "DR: 'abc' is not a number"),
        ("DR", "140", "DR: 140 is outside 0–100"),
        ("DR", "100.5", "DR: 100.5 is outside 0–100"),
        ("DR", "-1", "DR: -1 is outside 0–100"),
        ("DR", "1,2345", "DR: '1,2345' is not a number"),
        ("Relevance", "0", "Relevance: 0 is outside 1–5"),
        ("Relevance", "7", "Relevance: 7 is outside 1–5"),
        ("Traffic", "-5", "Traffic: -5 is negative"),
        ("Traffic", "9999999999", "Traffic: 9999999999 is too large"),
        ("Traffic", "n/a", "Traffic: 'n/a' is not a number"),
        ("Traffic", "1.2K", "Traffic: '1.2K' is not a number"),
    ],
)
def test_bad_numbers(header: str, cell: str, message: str) -> None:
    assert error_message(sheet(header, cell)) == message


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("Tom@Example.COM", "tom@example.com"),
        ("tom(at)example.com", "tom@example.com"),
        ("tom [at] example [dot] com", "tom@example.com"),
        ("tom{at}example(dot)com", "tom@example.com"),
        ("tom (AT) example.com", "tom@example.com"),
        ("mailto:tom@example.com", "tom@example.com"),
        ("", None),
    ],
)
def test_emails(cell: str, expected: str | None) -> None:
    row = only(parse(sheet("Email", cell))[1])
    assert isinstance(row, ParsedRow)
    assert row.email == expected


@pytest.mark.parametrize("cell", ["x@", "tom at example dot com", "a@b.example, c@d.example"])
def test_bad_emails(cell: str) -> None:
    message = error_message(sheet("Email", cell))
    assert message.startswith(f"Email: {cell!r} is not a valid email address")


def email_verdict(cell: str) -> str:
    """What the user sees for an Email cell: the address stored, or the reason it is refused."""
    item = only(parse(sheet("Email", cell))[1])
    return item.email if isinstance(item, ParsedRow) else item.message


def library_verdict(cell: str) -> str:
    try:
        return validate_email(cell, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        return f"Email: {cell!r} is not a valid email address ({exc})"


# Pieces that land near every rule the importer's shortcut for plain addresses relies on: dots,
# hyphens and "--", long labels and local parts, digit TLDs, special-use names, non-ASCII.
LOCAL_PIECES = st.sampled_from(["a", "Zed", "0", "_", "%", "+", "-", ".", "'", "é", "l" * 64])
DOMAIN_PIECES = st.sampled_from(
    ["a", "B", "9", "-", "--", ".", "xn--", "x" * 63, "ü", "com", "test", "local", "onion", "arpa"]
)


@settings(max_examples=400, deadline=None)
@given(
    local=st.lists(LOCAL_PIECES, min_size=1, max_size=5).map("".join),
    domain=st.lists(DOMAIN_PIECES, min_size=1, max_size=6).map("".join),
    top=st.sampled_from(["example", "co.uk", "c0m", "co1", "io", "x" * 64, "test", "ü"]),
)
def test_emails_are_accepted_and_refused_as_email_validator_decides(
    local: str, domain: str, top: str
) -> None:
    cell = f"{local}@{domain}.{top}"
    assert email_verdict(cell) == library_verdict(cell)


@pytest.mark.parametrize(
    "cell",
    [
        "Anna.B+seo@Mail.Example.COM",
        "a@b.test",
        "a@sub.onion",
        "a@xn--bcher-kva.de",
        "a@ab--cd.com",
        "a@x.c0m",
        "a@x.co1",
        "a@-x.example",
        f"{'l' * 65}@x.example",
        f"a@{'y' * 64}.example",
        f"a@{'y.' * 130}example",
        f"{'l' * 64}@{'y' * 60}.{'z' * 60}.{'w' * 60}.example",
        "jöhn@bücher.de",
        "info@X.COM",
    ],
)
def test_email_edge_cases_match_email_validator(cell: str) -> None:
    assert email_verdict(cell) == library_verdict(cell)


def test_tags_are_split_lowercased_and_deduplicated() -> None:
    long_tag = "Very " + "long " * 20 + "tag"
    cell = f"SEO, Gardening;seo | Balcony||;{long_tag}"
    row = only(parse(sheet("Tags", cell))[1])
    assert isinstance(row, ParsedRow)
    assert row.tags[:3] == ("seo", "gardening", "balcony")
    assert len(row.tags) == 4
    assert len(row.tags[3]) <= 60
    assert row.tags[3].startswith("very long long")


def test_contact_fields_and_profile() -> None:
    data = (
        b"Website,Name,Role,Profile,Notes\n"
        b"example.com,  Ada Lovelace ,Editor,linkedin.com/in/ada,  keep me  \n"
    )
    row = only(parse(data)[1])
    assert isinstance(row, ParsedRow)
    assert (row.contact_name, row.contact_role, row.profile_url, row.notes) == (
        "Ada Lovelace",
        "Editor",
        "https://linkedin.com/in/ada",
        "keep me",
    )


def test_over_long_name_is_an_error() -> None:
    message = error_message(sheet("Name", "x" * 201))
    assert message == "Name: 201 characters is too long (at most 200)"


# --- Files that cannot be imported --------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The file is empty."),
        (b"\xef\xbb\xbf", "The file is empty."),
        (b"\r\n \n\t\n", "The file is empty."),
        (b";;;\n;;;\n", "The file has no rows, only empty lines."),
        (b"Website,Email\n", "The file has a header row but no rows of data"),
        (b"Website,Email\n\n,\n", "The file has a header row but no rows of data"),
        (b"Name,Age\nBob,42\n", "No column in this file holds websites or page URLs"),
        (b"example.com,Bob\nother.example,Al\n", "The first row holds data ('example.com')"),
        (b"PK\x03\x04\x14\x00\x06\x00rest of a zip", "This is an Excel workbook"),
        (random.Random(7).randbytes(4096), "This does not look like a CSV file"),
    ],
)
def test_unusable_files(data: bytes, message: str) -> None:
    with pytest.raises(UnusableFileError) as caught:
        sniff_layout(io.BytesIO(data))
    assert str(caught.value).startswith(message)


def test_unknown_column_names_holding_sites_can_be_mapped_by_hand() -> None:
    stream = io.BytesIO(b"Blog,Who\nexample.com,Bob\n")
    layout = sniff_layout(stream)
    assert (layout.header_row, layout.columns) == (1, ("Blog", "Who"))
    assert suggest_mapping(layout) == {}
    rows = valid(list(read_rows(stream, layout, {"domain": "Blog", "contact_name": "Who"})))
    assert [(r.domain, r.contact_name) for r in rows] == [("example.com", "Bob")]


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"domian": "Website"}, "Unknown field(s) in the column mapping: domian."),
        ({"domain": "Site"}, "The file has no column 'Site' (chosen for domain)."),
        ({"email": "Email"}, "Choose the column that holds the website"),
        ({"domain": "", "email": "Email"}, "Choose the column that holds the website"),
        ({}, "Choose the column that holds the website"),
    ],
)
def test_mapping_errors_are_raised_before_reading(mapping: dict[str, str], message: str) -> None:
    stream = io.BytesIO(b"Website,Email\na.example,a@a.example\n")
    layout = sniff_layout(stream)
    with pytest.raises(UnusableFileError) as caught:
        read_rows(stream, layout, mapping)  # not iterated: raises on the call
    assert str(caught.value).startswith(message)


def test_unmapped_fields_are_ignored() -> None:
    stream = io.BytesIO(b"Website,Email\na.example,not an email\n")
    layout = sniff_layout(stream)
    rows = valid(list(read_rows(stream, layout, {"domain": "Website", "email": ""})))
    assert [(r.domain, r.email) for r in rows] == [("a.example", None)]


# --- Custom fields ------------------------------------------------------------------------------


CUSTOM_SHEET = (
    b"Website,Topic,Pitch angle,Ignored\n"
    b"a.example, balcony plants ,their 2023 list,x\n"
    b"b.example,,   ,y\n"
    b"c.example,herbs,,z\n"
)


def test_columns_mapped_to_custom_fields() -> None:
    stream = io.BytesIO(CUSTOM_SHEET)
    layout = sniff_layout(stream)
    mapping = {"domain": "Website", "custom.topic": "Topic", "custom.Angle_2": "Pitch angle"}
    rows = valid(list(read_rows(stream, layout, mapping)))
    assert [(r.domain, r.custom_fields) for r in rows] == [
        ("a.example", {"topic": "balcony plants", "Angle_2": "their 2023 list"}),
        ("b.example", {}),  # empty and blank cells are left out
        ("c.example", {"topic": "herbs"}),
    ]
    assert rows[0].notes == ""  # a custom column is not also a known field
    assert suggest_mapping(layout) == {"domain": "Website"}


def test_one_column_can_be_a_known_field_and_a_custom_field() -> None:
    stream = io.BytesIO(b"Website,Niche\na.example,Home & Garden\n")
    layout = sniff_layout(stream)
    mapping = {"domain": "Website", "tags": "Niche", "custom.niche": "Niche"}
    (row,) = valid(list(read_rows(stream, layout, mapping)))
    assert (row.tags, row.custom_fields) == (("home & garden",), {"niche": "Home & Garden"})


def test_a_custom_field_mapped_to_no_column_is_ignored() -> None:
    stream = io.BytesIO(CUSTOM_SHEET)
    layout = sniff_layout(stream)
    rows = valid(list(read_rows(stream, layout, {"domain": "Website", "custom.topic": ""})))
    assert all(row.custom_fields == {} for row in rows)


@pytest.mark.parametrize(
    "name", ["2023_list", "my topic", "", "topic-name", "_topic", "thema_ü", "a" * 41]
)
def test_bad_custom_field_names_are_refused_before_reading(name: str) -> None:
    stream = io.BytesIO(CUSTOM_SHEET)
    layout = sniff_layout(stream)
    with pytest.raises(UnusableFileError) as caught:
        read_rows(stream, layout, {"domain": "Website", f"custom.{name}": "Topic"})
    assert str(caught.value) == (
        f"{name!r} (for column 'Topic') cannot be a custom field name: use letters, digits "
        "and _, starting with a letter, at most 40 characters."
    )


def test_a_custom_field_needs_a_column_of_the_file() -> None:
    stream = io.BytesIO(CUSTOM_SHEET)
    layout = sniff_layout(stream)
    with pytest.raises(UnusableFileError) as caught:
        read_rows(stream, layout, {"domain": "Website", "custom.topic": "Subject"})
    assert str(caught.value) == "The file has no column 'Subject' (chosen for custom.topic)."


def test_unknown_fields_message_mentions_custom_fields() -> None:
    stream = io.BytesIO(CUSTOM_SHEET)
    layout = sniff_layout(stream)
    with pytest.raises(UnusableFileError) as caught:
        read_rows(stream, layout, {"domain": "Website", "custom": "Topic", "customs.x": "Topic"})
    message = str(caught.value)
    assert message.startswith("Unknown field(s) in the column mapping: custom, customs.x.")
    assert message.endswith(", or custom.<name> for a custom field.")


def test_an_over_long_custom_value_is_a_row_error() -> None:
    longest = "x" * MAX_CUSTOM_VALUE_LENGTH
    data = f"Website,Topic\na.example,{longest}\nb.example,{longest}y\n".encode()
    stream = io.BytesIO(data)
    layout = sniff_layout(stream)
    fits, too_long = read_rows(stream, layout, {"domain": "Website", "custom.topic": "Topic"})
    assert isinstance(fits, ParsedRow)
    assert fits.custom_fields == {"topic": longest}
    assert isinstance(too_long, RowError)
    assert (too_long.row, too_long.message) == (
        3,
        "Topic: 2001 characters is too long for custom field 'topic' (at most 2000)",
    )


@pytest.mark.parametrize(
    ("column", "name"),
    [
        ("Topic", "topic"),
        ("Monthly visits (est.)", "monthly_visits_est"),
        ("Pitch-Angle", "pitch_angle"),
        ("2024 Price", "col_2024_price"),
        ("Catégorie", "categorie"),
        ("  __Notes__ 2 ", "notes_2"),
        ("A" * 39 + " B", "a" * 39),  # cut to 40, without a trailing _
        ("Тема", ""),
        ("#", ""),
    ],
)
def test_custom_field_name_suggested_for_a_column(column: str, name: str) -> None:
    assert custom_field_name(column) == name


# --- Large files --------------------------------------------------------------------------------


def test_a_hundred_thousand_rows_stream_lazily(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("Source URL,DR,Notes\n")
        for number in range(100_000):
            out.write(f"https://site{number % 500}.example/p/{number},{number % 101},n{number}\n")
    size = path.stat().st_size

    with path.open("rb") as stream:
        layout = sniff_layout(stream)
        rows = read_rows(stream, layout, suggest_mapping(layout))
        assert isinstance(rows, Iterator)
        first = list(islice(rows, 5))
        assert stream.tell() < size // 50  # only the start of the file has been read
    assert [r.row for r in first] == [2, 3, 4, 5, 6]
    assert isinstance(first[4], ParsedRow)
    assert (first[4].domain, first[4].page_url) == ("site4.example", "https://site4.example/p/4")

    with path.open("rb") as stream:
        count = last = 0
        for item in read_rows(stream, layout, suggest_mapping(layout)):
            assert isinstance(item, ParsedRow)
            count += 1
            last = item.row
    assert (count, last) == (100_000, 100_001)
