"""Reading prospect lists exported from SEO tools, or kept by hand, out of uploaded CSV files.

Pure parsing: no database, no web layer. Files are streamed line by line so a 100k-row export
never sits in memory whole; the caller de-duplicates the rows and stores them.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from itertools import islice
from typing import BinaryIO, TypeVar
from urllib.parse import urlsplit, urlunsplit

import email_validator
from email_validator import EmailNotValidError, validate_email
from email_validator.rfc_constants import EMAIL_MAX_LENGTH, LOCAL_PART_MAX_LENGTH

from outreach.prospects.domains import InvalidDomainError, registrable_domain
from outreach.prospects.schemas import CUSTOM_FIELD_NAME, MAX_CUSTOM_VALUE_LENGTH

FIELDS: tuple[str, ...] = (
    "domain",
    "page_url",
    "domain_rating",
    "traffic",
    "relevance",
    "contact_name",
    "contact_role",
    "email",
    "profile_url",
    "tags",
    "notes",
)
# A mapping key "custom.topic" puts its column into the prospect's custom field "topic".
CUSTOM_PREFIX = "custom."

# Enough to see the header and a few dozen rows of any export, small enough to read eagerly.
SAMPLE_BYTES = 64 * 1024
# Tools put at most a few lines of report title and filters above the header.
HEADER_SEARCH_ROWS = 30
# Pasted page contents in a notes cell exceed csv's 128 KiB default; beyond 1 MiB it is garbage.
FIELD_SIZE_LIMIT = 1024 * 1024
DELIMITERS = (",", ";", "\t", "|")
# Column sizes of the tables the rows end up in.
MAX_URL_LENGTH = 2048
MAX_NAME_LENGTH = 200
MAX_TAG_LENGTH = 60
MAX_TRAFFIC = 2**31 - 1
# What ProspectInput allows for a custom field's name.
MAX_CUSTOM_NAME_LENGTH = 40

# Known column names of each field, best first, trimmed and case-folded. Only exact names: a
# loose match would take Ahrefs' "Referring domains" (a count) or "Target URL" (the client's
# page, not the prospect's) for the prospect's site. No name is listed under two fields, so no
# column is ever suggested for two.
COLUMN_NAMES: dict[str, tuple[str, ...]] = {
    "domain": (
        "domain",
        "website",
        "site",
        "root domain",
        "domain name",
        "referring domain",
        "source domain",
        "website url",
        "site url",
        "homepage",
        "host",
        "hostname",
        "web site",
        # Search Console's "Site" column in a few UI languages.
        "webseite",
        "sitio",
        "sitio web",
        "sito",
        "sito web",
        "witryna",
        "domaine",
        "dominio",
    ),
    "page_url": (
        "page url",
        "referring page url",
        "source url",
        "url",
        "page",
        "source page",
        "referring page",
        "referring url",
        "linking page",
        "backlink url",
        "link url",
        "article url",
        "post url",
    ),
    "domain_rating": (
        "domain rating",
        "dr",
        "domain authority",
        "da",
        "domain ascore",
        "authority score",
        "ascore",
        "page ascore",
        "page score",
        "sourcetrustflow",
        "trust flow",
        "tf",
    ),
    "traffic": (
        "domain traffic",
        "traffic",
        "organic traffic",
        "monthly traffic",
        "estimated traffic",
        "monthly visits",
        "visits",
    ),
    "relevance": ("relevance", "relevancy", "relevance score"),
    "contact_name": ("contact name", "contact", "name", "full name", "contact person", "author"),
    "contact_role": ("role", "contact role", "job title", "position"),
    "email": (
        "email",
        "e-mail",
        "email address",
        "e-mail address",
        "contact email",
        "mail",
    ),
    "profile_url": (
        "profile url",
        "profile",
        "linkedin",
        "linkedin url",
        "linkedin profile",
        "twitter",
        "social profile",
    ),
    "tags": ("tags", "tag", "labels", "label", "category", "categories", "niche"),
    "notes": ("notes", "note", "comments", "comment", "remarks"),
}
_SITE_COLUMNS = frozenset(COLUMN_NAMES["domain"] + COLUMN_NAMES["page_url"])

# Columns that together only appear in one tool's export, first match wins.
SOURCE_SIGNATURES: tuple[tuple[str, frozenset[str]], ...] = (
    ("ahrefs_backlinks", frozenset({"referring page url", "domain rating"})),
    ("ahrefs_referring_domains", frozenset({"domain", "dr", "links to target"})),
    ("semrush_backlinks", frozenset({"page ascore", "source url", "target url"})),
    ("semrush_backlinks", frozenset({"page score", "page trust score", "source url"})),
    ("semrush_referring_domains", frozenset({"domain ascore", "domain", "backlinks"})),
    ("majestic_backlinks", frozenset({"source url", "target url", "sourcetrustflow"})),
    ("gsc_top_linking_sites", frozenset({"site", "linking pages", "target pages"})),
    ("moz_links", frozenset({"url", "page authority", "domain authority", "spam score"})),
)

_EXCEL_SIGNATURES = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")
# A site value in a cell: "example.com", "www.example.co.uk/page", "https://example.com".
_SITE_VALUE = re.compile(
    r"(?:[a-z][a-z0-9+.-]*://|//)?[^\s/@:]+\.[^\W\d_]{2,}(?::\d+)?(?:/\S*)?", re.IGNORECASE
)
_EMAIL_VALUE = re.compile(r"[^\s@]+@[^\s@]+\.[^\s@]+")
_PLAIN_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")
_GROUPED_NUMBER = re.compile(r"[+-]?\d{1,3}(?:[,' \u00a0\u202f]\d{3})+(?:\.\d+)?")
_DECIMAL_COMMA = re.compile(r"[+-]?\d+,\d{1,2}")
# An address of ASCII letters, digits and a few symbols in dot-separated words at a host name
# whose top-level domain is letters: see `_plain_email`.
_PLAIN_EMAIL = re.compile(
    r"(?P<local>[A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*)"
    r"@(?P<domain>(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63})"
)
_OBFUSCATION_MARKS = frozenset("([{")
_OBFUSCATED_AT = re.compile(r"\s*[(\[{]\s*at\s*[)\]}]\s*", re.IGNORECASE)
_OBFUSCATED_DOT = re.compile(r"\s*[(\[{]\s*dot\s*[)\]}]\s*", re.IGNORECASE)
_TAG_SEPARATORS = re.compile(r"[,;|]")
# Matches exactly the characters for which str.isspace() is true.
_WHITESPACE = re.compile(r"\s")

_T = TypeVar("_T")


class UnusableFileError(ValueError):
    """The file as a whole cannot be imported; the message tells the user why."""


@dataclass(frozen=True)
class CsvLayout:
    """How to read a file: found by `sniff_layout`, needed again by `read_rows`."""

    encoding: str
    delimiter: str
    header_row: int  # 1-based, as a spreadsheet numbers it (preamble rows count)
    columns: tuple[str, ...]
    source: str


@dataclass(frozen=True)
class ParsedRow:
    """One valid prospect row, normalised; `raw` keeps the cells as they were in the file."""

    row: int
    domain: str
    page_url: str
    domain_rating: int | None
    traffic: int | None
    relevance: int | None
    contact_name: str
    contact_role: str
    email: str | None
    profile_url: str
    tags: tuple[str, ...]
    notes: str
    custom_fields: dict[str, str]  # only the non-empty cells
    raw: tuple[str, ...]


@dataclass(frozen=True)
class RowError:
    """A row that cannot be imported, with the reasons, so the user can fix and re-upload it."""

    row: int
    message: str
    raw: tuple[str, ...]


def sniff_layout(stream: BinaryIO) -> CsvLayout:
    """Work out encoding, delimiter, header row and source tool from the start of the file.

    Reads at most `SAMPLE_BYTES` and seeks the stream back to the start.
    """
    stream.seek(0)
    sample = stream.read(SAMPLE_BYTES)
    truncated = bool(stream.read(1))
    stream.seek(0)
    if sample.startswith(_EXCEL_SIGNATURES):
        raise UnusableFileError(
            "This is an Excel workbook, not a CSV file. Save it as CSV from Excel and upload that."
        )
    encoding = _detect_encoding(sample, truncated=truncated)
    lines = list(_text_lines(io.BytesIO(sample), encoding))
    if truncated and len(lines) > 1:
        lines.pop()  # probably cut in the middle
    text = "".join(lines)
    if not text.strip():
        raise UnusableFileError("The file is empty.")
    if _looks_binary(text):
        raise UnusableFileError("This does not look like a CSV file: it holds binary data.")
    delimiter = _sniff_delimiter(lines)
    try:
        records = list(_csv_records(lines, delimiter))
    except csv.Error as exc:
        raise UnusableFileError(f"The file cannot be read as CSV: {exc}") from None
    if truncated and len(records) > 1:
        records.pop()
    header_index = _find_header(records)
    columns = tuple(cell.strip() for cell in records[header_index])
    data = [record for record in records[header_index + 1 :] if not _is_blank(record)]
    if not data and not truncated:
        raise UnusableFileError("The file has a header row but no rows of data under it.")
    if not any(_fold(column) in _SITE_COLUMNS for column in columns) and not any(
        _looks_like_site(cell) for record in data for cell in record
    ):
        raise UnusableFileError(
            "No column in this file holds websites or page URLs. Columns found: "
            + ", ".join(repr(column) for column in columns if column)
        )
    return CsvLayout(
        encoding=encoding,
        delimiter=delimiter,
        header_row=header_index + 1,
        columns=columns,
        source=_detect_source(columns),
    )


def suggest_mapping(layout: CsvLayout) -> dict[str, str]:
    """Our field -> the file's column, for each field found under a known name."""
    by_name: dict[str, str] = {}
    for column in layout.columns:
        by_name.setdefault(_fold(column), column)
    mapping: dict[str, str] = {}
    for field in FIELDS:
        found = next((by_name[name] for name in COLUMN_NAMES[field] if name in by_name), None)
        if found is not None:
            mapping[field] = found
    return mapping


def read_rows(
    stream: BinaryIO, layout: CsvLayout, mapping: dict[str, str]
) -> Iterator[ParsedRow | RowError]:
    """Each non-blank data row as a `ParsedRow` or a `RowError`, lazily, in file order.

    Mapping keys are `FIELDS` and `custom.<name>` (a column kept as the custom field <name>).
    A mapping value of "" means the field is not mapped (what an empty form choice sends).
    Raises `UnusableFileError` at once, before reading, when the mapping cannot work.
    """
    columns = _resolve_mapping(layout, mapping)
    if stream.seekable():
        stream.seek(0)
    return _parse_records(stream, layout, columns)


def custom_field_name(column: str) -> str:
    """The custom field name a column header suggests, "" if it has no letters or digits.

    "Monthly visits (est.)" -> "monthly_visits_est", "2024 Price" -> "col_2024_price".
    """
    ascii_text = unicodedata.normalize("NFKD", column).encode("ascii", "ignore").decode()
    name = re.sub(r"[^a-z0-9]+", "_", ascii_text.lower()).strip("_")
    if name[:1].isdigit():
        name = "col_" + name
    return name[:MAX_CUSTOM_NAME_LENGTH].rstrip("_")


def _resolve_mapping(layout: CsvLayout, mapping: dict[str, str]) -> dict[str, tuple[int, str]]:
    unknown = sorted(key for key in mapping if key not in FIELDS and not _is_custom(key))
    if unknown:
        raise UnusableFileError(
            f"Unknown field(s) in the column mapping: {', '.join(unknown)}. "
            f"Known fields: {', '.join(FIELDS)}, or {CUSTOM_PREFIX}<name> for a custom field."
        )
    for key, column in mapping.items():
        name = key.removeprefix(CUSTOM_PREFIX)
        if _is_custom(key) and not CUSTOM_FIELD_NAME.fullmatch(name):
            raise UnusableFileError(
                f"{name!r} (for column {column!r}) cannot be a custom field name: use letters, "
                "digits and _, starting with a letter, at most "
                f"{MAX_CUSTOM_NAME_LENGTH} characters."
            )
    columns: dict[str, tuple[int, str]] = {}
    for field, column in mapping.items():
        if not column:
            continue
        if column not in layout.columns:
            raise UnusableFileError(f"The file has no column {column!r} (chosen for {field}).")
        columns[field] = (layout.columns.index(column), column)
    if "domain" not in columns and "page_url" not in columns:
        raise UnusableFileError(
            "Choose the column that holds the website (domain) or the page URL of each prospect."
        )
    return columns


def _is_custom(key: str) -> bool:
    return key.startswith(CUSTOM_PREFIX)


def _parse_records(
    stream: BinaryIO, layout: CsvLayout, columns: dict[str, tuple[int, str]]
) -> Iterator[ParsedRow | RowError]:
    records = _csv_records(_text_lines(stream, layout.encoding), layout.delimiter)
    parser = _RowParser(columns)
    row = 0
    while True:
        try:
            record = next(records)
        except StopIteration:
            return
        except csv.Error as exc:
            # The reader starts afresh on the next line, so one broken record costs one row.
            row += 1
            if row > layout.header_row:
                yield RowError(row, f"This row cannot be read as CSV: {exc}", ())
            continue
        row += 1
        if row > layout.header_row and not _is_blank(record):
            yield parser.parse(row, record)


class _RowParser:
    """Validates records' mapped cells, collecting every problem of a row rather than the first.

    Built once per file: where each field's cell is, is worked out once, not for every row."""

    def __init__(self, columns: dict[str, tuple[int, str]]) -> None:
        self.cell_index = {field: index for field, (index, _) in columns.items()}
        self.column_of = {field: column for field, (_, column) in columns.items()}
        self.custom = [
            (key, key.removeprefix(CUSTOM_PREFIX), column)
            for key, (_, column) in columns.items()
            if _is_custom(key)
        ]

    def parse(self, row: int, record: list[str]) -> ParsedRow | RowError:
        width = len(record)
        cells = {
            field: record[index].strip()
            for field, index in self.cell_index.items()
            if index < width
        }
        errors: list[str] = []
        page = self._value(cells, errors, "page_url", _parse_url)
        site = self._value(cells, errors, "domain", _parse_domain)
        if not cells.get("domain") and not cells.get("page_url"):
            errors.append("no website or URL in this row")
        elif page and site and page[1] != site:
            errors.append(f"{self.column_of['page_url']}: {page[0]} is not on {site}")
        raw = tuple(record)
        parsed = ParsedRow(
            row=row,
            domain=site or (page[1] if page else ""),
            page_url=page[0] if page else "",
            domain_rating=self._value(cells, errors, "domain_rating", _parse_rating),
            traffic=self._value(cells, errors, "traffic", _parse_traffic),
            relevance=self._value(cells, errors, "relevance", _parse_relevance),
            contact_name=self._value(cells, errors, "contact_name", _parse_name) or "",
            contact_role=self._value(cells, errors, "contact_role", _parse_name) or "",
            email=self._value(cells, errors, "email", _parse_email),
            profile_url=self._value(cells, errors, "profile_url", _parse_profile_url) or "",
            tags=self._value(cells, errors, "tags", _parse_tags) or (),
            notes=cells.get("notes", ""),
            custom_fields=self._custom_fields(cells, errors),
            raw=raw,
        )
        if errors:
            return RowError(row, "; ".join(errors), raw)
        return parsed

    def _value(
        self, cells: dict[str, str], errors: list[str], field: str, parse: Callable[[str], _T]
    ) -> _T | None:
        """The parsed cell, None when empty or invalid (the reason goes to `errors`)."""
        text = cells.get(field)
        if not text:
            return None
        try:
            return parse(text)
        except ValueError as exc:
            errors.append(f"{self.column_of[field]}: {exc}")
            return None

    def _custom_fields(self, cells: dict[str, str], errors: list[str]) -> dict[str, str]:
        """The non-empty custom cells: to a template an empty value is a missing one anyway."""
        values: dict[str, str] = {}
        for key, name, column in self.custom:
            text = cells.get(key)
            if not text:
                continue
            if len(text) > MAX_CUSTOM_VALUE_LENGTH:
                errors.append(
                    f"{column}: {len(text)} characters is too long for custom field {name!r} "
                    f"(at most {MAX_CUSTOM_VALUE_LENGTH})"
                )
            else:
                values[name] = text
        return values


def _parse_domain(text: str) -> str:
    if _WHITESPACE.search(text):
        raise ValueError(f"{text!r} is not a URL or domain")
    try:
        return _registrable_domain(text)
    except InvalidDomainError as exc:
        reason = str(exc)
        raise ValueError(reason if text in reason else f"{text!r}: {reason}") from None


def _parse_url(text: str) -> tuple[str, str]:
    """The absolute http(s) URL and the registrable domain it is on."""
    if _WHITESPACE.search(text):
        raise ValueError(f"{text!r} is not a URL")
    absolute = text
    if "://" not in text:
        absolute = "https:" + text if text.startswith("//") else "https://" + text
    try:
        parts = urlsplit(absolute)
        _ = parts.port  # raises on a port that is not a number
    except ValueError:
        raise ValueError(f"{text!r} is not a URL") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError(f"{text!r} is not a web address (http or https)")
    if "@" in parts.netloc:
        raise ValueError(f"{text!r} is not a URL")
    try:
        domain = _registrable_domain(parts.netloc.lower())
    except InvalidDomainError as exc:
        raise ValueError(f"{text!r} is not a URL: {exc}") from None
    url = urlunsplit(
        (parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", parts.query, "")
    )
    if len(url) > MAX_URL_LENGTH:
        raise ValueError(f"a URL of {len(url)} characters is too long (at most {MAX_URL_LENGTH})")
    return url, domain


def _parse_profile_url(text: str) -> str:
    return _parse_url(text)[0]


@lru_cache(maxsize=8192)
def _registrable_domain(host: str) -> str:
    """`registrable_domain`, remembered: backlink exports list many pages of each site."""
    return registrable_domain(host)


def _parse_email(text: str) -> str:
    address = text
    if not _OBFUSCATION_MARKS.isdisjoint(address):
        address = _OBFUSCATED_DOT.sub(".", _OBFUSCATED_AT.sub("@", address))
    if address[:7].lower() == "mailto:":
        address = address[7:]
    plain = _plain_email(address)
    if plain is not None:
        return plain
    try:
        return validate_email(address, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise ValueError(f"{text!r} is not a valid email address ({exc})") from None


def _plain_email(address: str) -> str | None:
    """The address in lower case when email-validator would accept it unchanged, else None.

    Most addresses in a sheet are plain ASCII; for them the library's Unicode, quoting and IDNA
    checks, character by character, were most of an import's parsing time. This takes only
    what those checks provably pass: dot-atom words of letters, digits and _%+-, host labels
    of letters, digits and inner hyphens (no "--", so no Punycode), a letter TLD, within the
    length limits (the whole address's also bounds the host's), no special-use domain. Anything
    else goes to the library, which decides and words the reason."""
    match = _PLAIN_EMAIL.fullmatch(address)
    if (
        match is None
        or len(address) > EMAIL_MAX_LENGTH
        or len(match["local"]) > LOCAL_PART_MAX_LENGTH
    ):
        return None
    domain = match["domain"].lower()
    if "--" in domain:
        return None
    if any(
        domain == name or domain.endswith("." + name)
        for name in email_validator.SPECIAL_USE_DOMAIN_NAMES
    ):
        return None
    return address.lower()


def _parse_name(text: str) -> str:
    if len(text) > MAX_NAME_LENGTH:
        raise ValueError(f"{len(text)} characters is too long (at most {MAX_NAME_LENGTH})")
    return text


def _parse_tags(text: str) -> tuple[str, ...]:
    tags = (tag.strip().lower()[:MAX_TAG_LENGTH].rstrip() for tag in _TAG_SEPARATORS.split(text))
    return tuple(dict.fromkeys(tag for tag in tags if tag))


def _parse_whole_number(text: str) -> int | None:
    """Numbers as tools and spreadsheets write them: "1,240", "1 240", "12.0", "12,5"; "-" is
    Majestic's empty cell. Decimals round half up."""
    if text == "-":
        return None
    if text.isascii() and text.isdigit():
        return int(text)
    if _PLAIN_NUMBER.fullmatch(text):
        digits = text
    elif _GROUPED_NUMBER.fullmatch(text):
        digits = re.sub(r"[,' \u00a0\u202f]", "", text)
    elif _DECIMAL_COMMA.fullmatch(text):
        digits = text.replace(",", ".")
    else:
        raise ValueError(f"{text!r} is not a number")
    return int(Decimal(digits).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _bounded(text: str, low: int, high: int) -> int | None:
    value = _parse_whole_number(text)
    if value is not None and not low <= value <= high:
        raise ValueError(f"{text} is outside {low}–{high}")
    return value


def _parse_rating(text: str) -> int | None:
    return _bounded(text, 0, 100)


def _parse_relevance(text: str) -> int | None:
    return _bounded(text, 1, 5)


def _parse_traffic(text: str) -> int | None:
    value = _parse_whole_number(text)
    if value is not None and value < 0:
        raise ValueError(f"{text} is negative")
    if value is not None and value > MAX_TRAFFIC:
        raise ValueError(f"{text} is too large")
    return value


def _detect_encoding(sample: bytes, *, truncated: bool) -> str:
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=not truncated)
    except UnicodeDecodeError:
        return "cp1252"
    return "utf-8"


def _text_lines(stream: BinaryIO, encoding: str) -> Iterator[str]:
    """The file's physical lines, decoded, with their line endings so csv can join quoted ones.

    Lines of single-byte files are decoded one by one, UTF-8 first, so a UTF-8 file with a few
    lines pasted in from a Latin-1 sheet still reads right. Latin-1 maps bytes to characters
    one to one, which lets the text layer find the line ends (\\n, \\r\\n or \\r) for us.
    """
    utf16 = codecs.lookup(encoding).name.startswith("utf-16")
    wrapper = io.TextIOWrapper(
        stream, encoding=encoding if utf16 else "latin-1", errors="replace", newline=""
    )
    try:
        for number, line in enumerate(wrapper):
            text = line if utf16 else _decode_line(line.encode("latin-1"))
            if number == 0:
                text = text.removeprefix("\ufeff")
            yield text.replace("\x00", "")
    finally:
        # Leave the caller's stream open: closing the wrapper would close it.
        if not wrapper.closed:
            wrapper.detach()


def _decode_line(data: bytes) -> str:
    for encoding in ("utf-8", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _csv_records(lines: Iterable[str], delimiter: str) -> Iterator[list[str]]:
    csv.field_size_limit(max(csv.field_size_limit(), FIELD_SIZE_LIMIT))
    return csv.reader(lines, delimiter=delimiter)


def _looks_binary(text: str) -> bool:
    """Control characters (or undecodable bytes) in more than 5% of the text: not a CSV."""
    odd = sum(
        1
        for character in text
        if character == "\ufffd"
        or (unicodedata.category(character) == "Cc" and character not in "\t\r\n")
    )
    return odd > len(text) * 0.05


def _sniff_delimiter(lines: list[str]) -> str:
    """The candidate that splits the most rows into the same number (> 1) of cells.

    csv.Sniffer guesses from character frequencies and is fooled by a ";" in quoted notes or by
    a title line above the header; parsing with each candidate respects quotes.
    """
    best, best_score = DELIMITERS[0], (0, 0)
    for delimiter in DELIMITERS:
        try:
            widths = Counter(
                len(record)
                for record in islice(_csv_records(lines, delimiter), 100)
                if len(record) > 1
            )
        except csv.Error:
            continue
        if widths:
            width, count = widths.most_common(1)[0]
            if (count, width) > best_score:
                best, best_score = delimiter, (count, width)
    return best


def _find_header(records: list[list[str]]) -> int:
    """Index of the header: the first row naming a site or URL column, else the first row of
    names; a first row of data means the file has no header."""
    for index, record in enumerate(records[:HEADER_SEARCH_ROWS]):
        if any(_fold(cell) in _SITE_COLUMNS for cell in record) and not any(
            _looks_like_value(cell) for cell in record
        ):
            return index
    first = next(
        (
            index
            for index, record in enumerate(records[:HEADER_SEARCH_ROWS])
            if not _is_blank(record)
        ),
        None,
    )
    if first is None:
        raise UnusableFileError("The file has no rows, only empty lines.")
    value = next((cell.strip() for cell in records[first] if _looks_like_value(cell)), None)
    if value is not None:
        raise UnusableFileError(
            f"The first row holds data ({value!r}), not column names. Add a header row "
            "naming the columns, e.g. Website, Contact, Email."
        )
    return first


def _detect_source(columns: tuple[str, ...]) -> str:
    folded = {_fold(column) for column in columns}
    return next((source for source, names in SOURCE_SIGNATURES if names <= folded), "generic")


def _fold(name: str) -> str:
    return " ".join(name.split()).casefold()


def _is_blank(record: list[str]) -> bool:
    return not any(cell.strip() for cell in record)


def _looks_like_site(cell: str) -> bool:
    return bool(_SITE_VALUE.fullmatch(cell.strip()))


def _looks_like_value(cell: str) -> bool:
    text = cell.strip()
    return bool(_SITE_VALUE.fullmatch(text) or _EMAIL_VALUE.fullmatch(text))
