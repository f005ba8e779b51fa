"""The link verifier: what a fetched page says about a placement, as a pure function.

The fetcher hands over a `FetchedPage`; `verify_placement` parses it (selectolax/lexbor, a real
HTML5 parser, so malformed markup parses the way a browser would and links inside comments or
`<template>` are not elements) and returns a `Verdict`. No network, database or clock here.

Verdict precedence, first that applies wins:
page_gone (404/410) / page_error (fetch error or other non-2xx) / not_html > missing > noindex >
sponsored > ugc > nofollow > live.

Decisions beyond the issue's words:
- The best matching link counts: the one whose own verdict ranks lowest in that precedence
  (live < nofollow < ugc < sponsored), then the one with fewer restrictive rel tokens, then the
  first in the document.
- Page-level nofollow (meta robots/googlebot, X-Robots-Tag) turns a followed link's verdict into
  nofollow, but `Verdict.rel` stays the link's own tokens.
- A missing Content-Type counts as HTML when the body starts like HTML, by the WHATWG MIME
  sniffing patterns (`<!DOCTYPE HTML`, `<html`, `<a`, `<p`, `<!--`, ...).
- Charset: a byte-order mark wins (as in browsers: a BOM is never there by accident), then the
  Content-Type charset, then a `<meta>` declaration in the first 4 KB, then strict UTF-8, else
  windows-1252. Labels Python cannot decode text with are skipped; iso-8859-1 and us-ascii are
  read as windows-1252, as browsers do.
- `domain:www.client.example` means the same site as `domain:client.example` (matching ignores a
  leading "www." everywhere), and a domain target needs at least two labels.
"""

from __future__ import annotations

import codecs
import contextlib
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import quote, urljoin, urlsplit

import idna
from selectolax.lexbor import LexborHTMLParser, LexborNode

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
TRACKING_PARAMS = frozenset({"gclid", "fbclid"})
TRACKING_PREFIXES = ("utm_", "mc_")
META_CHARSET_WINDOW = 4096

# Ranks of a link's own verdict; the names double as the verdict strings.
LINK_VERDICTS = ("live", "nofollow", "ugc", "sponsored")
_RESTRICTIVE_RANK = {name: rank for rank, name in enumerate(LINK_VERDICTS) if rank}
# Headers name a directive with a colon too; these are not user agents.
_X_ROBOTS_PARAMETERS = frozenset(
    {"unavailable_after", "max-snippet", "max-image-preview", "max-video-preview"}
)

# Characters left as they are in paths and query pairs (besides letters, digits and "_.-~").
_URL_SAFE = "/%:@!$&'()*+,;=?"
_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?([^"';,\s]+)""", re.IGNORECASE)
_META_CHARSET = re.compile(rb"""<meta[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9_.:()-]+)""", re.I)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# Bytes that binary and text-transform codecs (base64, rot13), idna and punycode cannot read.
_CODEC_PROBE = b"<a>-\xff"
# Python codecs that read text but are no web charset (the escape ones even warn on bad input).
_NOT_WEB_CHARSETS = frozenset({"unicode-escape", "raw-unicode-escape", "utf-7"})
# Python's names for the labels browsers read as windows-1252.
_READ_AS_CP1252 = frozenset({"iso8859-1", "ascii"})
# WHATWG MIME sniffing: a body starting with one of these (then space or ">") is HTML.
_HTML_TAGS = "!doctype html|html|head|script|iframe|h1|div|font|table|a|style|title|b|body|br|p|!--"
_HTML_STARTS = tuple(f"<{tag}{end}".encode() for tag in _HTML_TAGS.split("|") for end in " >")
_LINK_HEADER_ENTRY = re.compile(r"<([^>]*)>([^<]*)")
_LINK_HEADER_REL = re.compile(r"""\brel\s*=\s*(?:"([^"]*)"|([^\s;,]+))""", re.IGNORECASE)


class TargetError(ValueError):
    """The placement's target is not a usable http(s) URL or `domain:` host."""


@dataclass(frozen=True)
class FetchedPage:
    """The final response the fetcher got, body already decompressed."""

    status: int
    headers: Mapping[str, str]
    final_url: str
    body: bytes
    error: str = ""


@dataclass(frozen=True)
class Target:
    """Where the link must point: one page (`key` set) or a whole domain (`key` empty)."""

    text: str
    host: str  # ASCII (punycode), lower case, without a leading "www."
    key: str  # normalise_url() of the page; "" for a domain target

    @property
    def is_domain(self) -> bool:
        return not self.key

    def covers_host(self, host: str) -> bool:
        """Whether links on this (matching-form) host may point at the target."""
        if self.key:
            return host == self.host
        return host == self.host or host.endswith("." + self.host)

    def matches(self, host: str, rest: str) -> bool:
        """Whether a link, split by `_key_parts`, points at this target."""
        return host + rest == self.key if self.key else self.covers_host(host)


@dataclass(frozen=True)
class Verdict:
    """What the check found; `as_json` is the stored and served form."""

    verdict: str
    found: bool
    http_status: int | None
    final_url: str
    rel: list[str]
    anchor_text: str
    indexable: bool | None
    canonical: str
    error: str

    def as_json(self) -> dict[str, object]:
        return {
            "verdict": self.verdict,
            "found": self.found,
            "http_status": self.http_status,
            "final_url": self.final_url,
            "rel": list(self.rel),
            "anchor_text": self.anchor_text,
            "indexable": self.indexable,
            "canonical": self.canonical,
            "error": self.error,
        }


@lru_cache(maxsize=4096)
def parse_target(text: str) -> Target:
    """A placement target: "https://client.example/page" or "domain:client.example".
    Cached: a campaign's placements share a handful of targets."""
    value = text.strip()
    if not value:
        raise TargetError(
            "the target is empty: give a URL like https://client.example/page "
            "or a domain like domain:client.example"
        )
    if value[:7].lower() == "domain:":
        host = _target_host(value[7:].strip(), value)
        return Target(text=value, host=host, key="")
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        raise TargetError(f"{value!r} is not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise TargetError(
            f"{value!r} is not an http(s) URL (for a whole site write domain:client.example)"
        )
    if not parts.hostname:
        raise TargetError(f"{value!r} has no host name")
    host = _target_host(parts.hostname, value)
    rest = _key_rest(port, parts.path, parts.query)
    return Target(text=value, host=host, key=host + rest)


def normalise_url(url: str) -> str:
    """The key two URLs share when they are the same link target; "" if not an http(s) URL.

    It drops the scheme, userinfo, default ports (80/443), a leading "www.", trailing slashes,
    the fragment and tracking parameters; lower-cases the host (IDN as punycode); sorts the
    remaining query pairs; and spells percent-escapes one way.
    """
    parts = _key_parts(url)
    return "" if parts is None else parts[0] + parts[1]


def is_html(headers: Mapping[str, str], body: bytes = b"") -> bool:
    """Whether the response is an HTML page; without a Content-Type the body decides."""
    media_type = _media_type(headers)
    if media_type:
        return media_type in HTML_TYPES
    start = body[:512].lstrip(codecs.BOM_UTF8).lstrip(b" \t\n\r\x0c").lower()
    return start.startswith(_HTML_STARTS)


def decode_body(body: bytes, headers: Mapping[str, str]) -> str:
    """The page as text, honouring BOM, HTTP charset and meta charset; never raises."""
    codec, skip = _charset(body, headers)
    return body[skip:].decode(codec, "replace")


def verify_placement(page: FetchedPage, target: Target, expected_anchor: str = "") -> Verdict:
    """The verdict for one placement on one fetched page. Among equally good links, one with
    the agreed anchor text (if given) counts before the others."""
    if page.error:
        return _unjudged("page_error", page, page.error)
    if page.status in (404, 410):
        return _unjudged("page_gone", page, f"HTTP {page.status}")
    if not 200 <= page.status < 300:
        return _unjudged("page_error", page, f"HTTP {page.status}")
    if not is_html(page.headers, page.body):
        content_type = _media_type(page.headers) or "no Content-Type"
        return _unjudged("not_html", page, f"not an HTML page ({content_type})")

    codec, skip = _charset(page.body, page.headers)
    # lexbor reads bytes as UTF-8, and reading them is faster than having it encode a str.
    body = page.body[skip:]
    doc = _scan(LexborHTMLParser(body if codec == "utf-8" else body.decode(codec, "replace")))
    base = _base_url(page.final_url, doc.base_href)
    robots = doc.robots | _x_robots_directives(page.headers)
    indexable = not robots & {"noindex", "none"}
    canonical = _canonical(doc.canonical_href, base, page)
    best = _best_link(doc.anchors, base, target, " ".join(expected_anchor.casefold().split()))
    if best is None:
        return Verdict(
            verdict="missing",
            found=False,
            http_status=page.status,
            final_url=page.final_url,
            rel=[],
            anchor_text="",
            indexable=indexable,
            canonical=canonical,
            error="",
        )
    node, rel = best
    if not indexable:
        verdict = "noindex"
    else:
        rank = _link_rank(rel)[0]
        if robots & {"nofollow", "none"}:
            rank = max(rank, _RESTRICTIVE_RANK["nofollow"])
        verdict = LINK_VERDICTS[rank]
    return Verdict(
        verdict=verdict,
        found=True,
        http_status=page.status,
        final_url=page.final_url,
        rel=rel,
        anchor_text=_anchor_text(node),
        indexable=indexable,
        canonical=canonical,
        error="",
    )


def _unjudged(verdict: str, page: FetchedPage, error: str) -> Verdict:
    """A verdict for a page that could not be looked into."""
    return Verdict(
        verdict=verdict,
        found=False,
        http_status=page.status or None,
        final_url=page.final_url,
        rel=[],
        anchor_text="",
        indexable=None,
        canonical="",
        error=error,
    )


# --- URLs -------------------------------------------------------------------------------------


def _target_host(host: str, value: str) -> str:
    """A target's host, validated (IDNA rules, two labels or more), ASCII, without "www."."""
    name = host.rstrip(".").lower()
    if not name:
        raise TargetError(f"{value!r} has no host name")
    try:
        ascii_name = idna.encode(name, uts46=True).decode("ascii")
    except UnicodeError as exc:
        raise TargetError(f"{value!r} does not name a valid host: {exc}") from None
    ascii_name = ascii_name.removeprefix("www.")
    if "." not in ascii_name:
        raise TargetError(f"{value!r} is not a full domain name (expected e.g. client.example)")
    return ascii_name


def _key_parts(url: str) -> tuple[str, str] | None:
    """(host, the rest of the matching key) of an http(s) URL, None for anything else."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname
    if parts.scheme not in ("http", "https") or not host:
        return None
    return _link_host(host), _key_rest(port, parts.path, parts.query)


@lru_cache(maxsize=4096)
def _link_host(host: str) -> str:
    """A link's host as matched: ASCII (punycode), no trailing dot, no leading "www."."""
    name = host.rstrip(".")
    if not name.isascii():
        # An invalid IDN stays as it is: then it can only ever match itself.
        with contextlib.suppress(UnicodeError):
            name = idna.encode(name, uts46=True).decode("ascii")
    return name.lower().removeprefix("www.")


def _key_rest(port: int | None, path: str, query: str) -> str:
    """Port, path and query of the matching key (see `normalise_url`)."""
    rest = "" if port in (None, 80, 443) else f":{port}"
    rest += _one_spelling(path).rstrip("/")
    pairs = sorted(
        pair
        for pair in (_one_spelling(item) for item in query.split("&") if item)
        if not _is_tracking(pair.partition("=")[0].lower())
    )
    return rest + "?" + "&".join(pairs) if pairs else rest


def _is_tracking(name: str) -> bool:
    return name in TRACKING_PARAMS or name.startswith(TRACKING_PREFIXES)


def _one_spelling(text: str) -> str:
    """Percent-escapes one way: unreserved characters plain, others escaped with upper hex."""
    text = quote(text, safe=_URL_SAFE)
    return _ESCAPE.sub(_fix_escape, text) if "%" in text else text


def _fix_escape(match: re.Match[str]) -> str:
    char = chr(int(match.group(1), 16))
    return char if char in _UNRESERVED else "%" + match.group(1).upper()


# --- Headers and charsets ---------------------------------------------------------------------


def _header_lines(headers: Mapping[str, str], name: str) -> list[str]:
    """Every value of one header, case-insensitively; httpx.Headers keeps repeated lines apart
    (and decodes only the lines asked for: decoding them all four times a page showed up)."""
    get_list = getattr(headers, "get_list", None)
    if callable(get_list):
        return get_list(name)
    return [value for key, value in headers.items() if key.lower() == name]


def _media_type(headers: Mapping[str, str]) -> str:
    lines = _header_lines(headers, "content-type")
    return lines[0].partition(";")[0].strip().lower() if lines else ""


def _charset(body: bytes, headers: Mapping[str, str]) -> tuple[str, int]:
    """The codec to read the body with, and how many leading bytes (a BOM) to skip."""
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return codec, len(bom)
    declared = [_HEADER_CHARSET.search(line) for line in _header_lines(headers, "content-type")]
    for label in [match.group(1) for match in declared if match]:
        codec = _codec(label)
        if codec:
            return codec, 0
    meta = _META_CHARSET.search(body, 0, META_CHARSET_WINDOW)
    codec = _codec(meta.group(1).decode("ascii")) if meta else None
    if codec:
        # A page whose <meta> could be read says nothing true by "UTF-16" (HTML standard).
        return ("utf-8" if codec.startswith("utf-16") else codec), 0
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return "cp1252", 0
    return "utf-8", 0


@lru_cache(maxsize=256)
def _codec(label: str) -> str | None:
    """Python's codec for a charset label; None for unknown labels and Python's pseudo-codecs."""
    try:
        name = codecs.lookup(label).name
        _CODEC_PROBE.decode(name, "replace")
    except (LookupError, UnicodeError, ValueError):
        return None
    if name in _NOT_WEB_CHARSETS:
        return None
    return "cp1252" if name in _READ_AS_CP1252 else name


# --- The document -----------------------------------------------------------------------------


def _tokens(value: str | None) -> list[str]:
    """Lower-cased tokens split on whitespace and commas, each once, in order."""
    return list(dict.fromkeys((value or "").lower().replace(",", " ").split()))


@dataclass
class _Scan:
    """What two passes over the parsed page collect: the links, then the few elements that say
    something about the page (one pass for all four kinds cost more: a tag test per link)."""

    anchors: list[LexborNode] = field(default_factory=list)
    base_href: str | None = None
    canonical_href: str = ""
    robots: set[str] = field(default_factory=set)


_PAGE_SELECTOR = "base[href], meta[name], link[rel][href]"


def _scan(tree: LexborHTMLParser) -> _Scan:
    """Links, the first <base href>, the first canonical <link> and meta robots/googlebot."""
    found = _Scan(anchors=tree.css("a[href]"))
    for node in tree.css(_PAGE_SELECTOR):
        tag = node.tag
        attrs = node.attrs
        if tag == "base":
            if found.base_href is None:
                found.base_href = (attrs.get("href") or "").strip()
        elif tag == "meta":
            if (attrs.get("name") or "").strip().lower() in ("robots", "googlebot"):
                found.robots.update(_tokens(attrs.get("content")))
        elif not found.canonical_href and "canonical" in _tokens(attrs.get("rel")):
            found.canonical_href = (attrs.get("href") or "").strip()
    return found


def _base_url(final_url: str, base_href: str | None) -> str:
    """Where relative links point from: <base href> resolved, unless it is no http(s) URL."""
    base = urljoin(final_url, base_href) if base_href else final_url
    return base if _key_parts(base) else final_url


def _x_robots_directives(headers: Mapping[str, str]) -> set[str]:
    """X-Robots-Tag directives for Google: unprefixed ones and those after "googlebot:"."""
    directives: set[str] = set()
    for line in _header_lines(headers, "x-robots-tag"):
        applies = True  # until a "bot:" prefix says whom the rest of the line is for
        for item in line.split(","):
            name, colon, rest = item.partition(":")
            name = name.strip().lower()
            if colon and name not in _X_ROBOTS_PARAMETERS:
                applies = name == "googlebot"
                item = rest
            if applies:
                directives.update(_tokens(item))
    return directives


def _canonical(href: str, base: str, page: FetchedPage) -> str:
    """The canonical URL from <link rel=canonical>, else from the HTTP Link header."""
    if href:
        return _absolute(base, href)
    for line in _header_lines(page.headers, "link"):
        for url, params in _LINK_HEADER_ENTRY.findall(line):
            rel = _LINK_HEADER_REL.search(params)
            if rel and "canonical" in _tokens(rel.group(1) or rel.group(2)):
                return _absolute(page.final_url, url)
    return ""


def _absolute(base: str, href: str) -> str:
    url = urljoin(base, href.strip())
    return url if _key_parts(url) else ""


def _best_link(
    anchors: list[LexborNode], base: str, target: Target, expected_anchor: str
) -> tuple[LexborNode, list[str]] | None:
    """The matching <a href> that counts, with its rel tokens (see the module docstring)."""
    base_parts = _key_parts(base)
    # Speed: an ASCII href that does not contain the target's host can only match by resolving
    # against the base, so it is skipped unless the base itself is on the target's host. (A host
    # split by a tab or newline, which URL parsers drop, is the one thing this misses.)
    relative_may_match = base_parts is not None and target.covers_host(base_parts[0])
    best: tuple[LexborNode, list[str]] | None = None
    best_rank = (len(LINK_VERDICTS), 0, 0)
    for node in anchors:
        href = node.attrs.get("href") or ""
        if not (relative_may_match or target.host in href.lower() or not href.isascii()):
            continue
        parts = _key_parts(urljoin(base, href.strip()))
        if parts is None or not target.matches(*parts):
            continue
        rel = _tokens(node.attrs.get("rel"))
        other_anchor = bool(expected_anchor) and (
            " ".join(_anchor_text(node).casefold().split()) != expected_anchor
        )
        rank = (*_link_rank(rel), int(other_anchor))
        if rank < best_rank:
            best, best_rank = (node, rel), rank
            if rank == (0, 0, 0):
                break  # a plainly followed link: nothing later can beat it
    return best


def _link_rank(rel: list[str]) -> tuple[int, int]:
    """(rank of the link's own verdict, number of restrictive tokens): lower is better."""
    ranks = [_RESTRICTIVE_RANK[token] for token in rel if token in _RESTRICTIVE_RANK]
    return max(ranks, default=0), len(ranks)


def _anchor_text(node: LexborNode) -> str:
    """The link's text, whitespace collapsed; else the first non-blank <img alt> inside it."""
    text = " ".join(node.text(deep=True).split())
    if text:
        return text
    for image in node.css("img[alt]"):
        alt = " ".join((image.attrs.get("alt") or "").split())
        if alt:
            return alt
    return ""
