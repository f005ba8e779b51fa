"""The link verifier's rules (issue 5), one or more tests each; no network, database or clock."""

import json
import random
from collections.abc import Mapping
from pathlib import Path

import httpx
import pytest

from outreach.links.verdict import (
    FetchedPage,
    Target,
    TargetError,
    Verdict,
    decode_body,
    is_html,
    normalise_url,
    parse_target,
    verify_placement,
)

FIXTURES = Path(__file__).parent / "fixtures" / "links"
PAGE_URL = "https://gardenista.example/posts/guest/"
HTML = {"Content-Type": "text/html; charset=utf-8"}


def check(
    body: str | bytes,
    target: str = "https://client.example/page",
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    url: str = PAGE_URL,
    error: str = "",
) -> Verdict:
    """The verdict for `target` on a page with this body (an HTML page at PAGE_URL unless told)."""
    page = FetchedPage(
        status=status,
        headers=HTML if headers is None else headers,
        final_url=url,
        body=body.encode() if isinstance(body, str) else body,
        error=error,
    )
    return verify_placement(page, parse_target(target))


def link(href: str, text: str = "Client", rel: str | None = None) -> str:
    rel_attr = "" if rel is None else f' rel="{rel}"'
    return f'<p>See <a href="{href}"{rel_attr}>{text}</a>.</p>'


# --- The whole thing on a realistic page ------------------------------------------------------


def test_realistic_guest_post() -> None:
    body = (FIXTURES / "guest_post.html").read_bytes()
    verdict = check(body, "https://client.example/shop")
    assert verdict.as_json() == {
        "verdict": "live",
        "found": True,
        "http_status": 200,
        "final_url": PAGE_URL,
        "rel": [],
        "anchor_text": "buy drought-proof seeds",
        "indexable": True,
        "canonical": "https://gardenista.example/posts/green-garden/",
        "error": "",
    }


# --- Which links count and how they resolve ---------------------------------------------------


def test_relative_link_resolves_against_base_href() -> None:
    body = '<head><base href="https://client.example/"></head>' + link("page")
    assert check(body).verdict == "live"


def test_base_href_is_itself_resolved_and_only_the_first_counts() -> None:
    body = (
        '<base href="/docs/"><base href="https://elsewhere.example/">'
        + link("page", "first")
        + link("/page", "second")
    )
    verdict = check(
        body, url="https://client.example/blog/post", target="https://client.example/docs/page"
    )
    assert (verdict.verdict, verdict.anchor_text) == ("live", "first")


@pytest.mark.parametrize("base", ["javascript:void(0)", "data:text/html,x", "mailto:a@b.example"])
def test_base_href_that_is_no_web_url_is_ignored(base: str) -> None:
    body = f'<base href="{base}">' + link("page")
    assert check(body, url="https://client.example/x").verdict == "live"


def test_relative_link_resolves_against_final_url() -> None:
    body = link("../page")
    verdict = check(body, url="https://www.client.example/blog/post")
    assert verdict.found


def test_relative_link_on_another_site_does_not_match() -> None:
    assert check(link("/page")).verdict == "missing"


def test_protocol_relative_link() -> None:
    assert check(link("//client.example/page")).verdict == "live"


def test_link_inside_comment_is_ignored() -> None:
    body = "<!-- " + link("https://client.example/page") + " -->"
    body += '<!--[if IE]><a href="https://client.example/page">ie</a><![endif]-->'
    assert check(body).verdict == "missing"


def test_link_inside_template_is_ignored() -> None:
    body = "<template>" + link("https://client.example/page") + "</template>"
    assert check(body).verdict == "missing"


@pytest.mark.parametrize(
    "href",
    [
        "javascript:location='https://client.example/page'",
        "mailto:hello@client.example?body=https://client.example/page",
        "tel:+1555",
        "data:text/html,https://client.example/page",
        "ftp://client.example/page",
    ],
)
def test_non_web_links_are_ignored(href: str) -> None:
    assert check(link(href)).verdict == "missing"


def test_anchors_without_href_are_ignored() -> None:
    assert check('<a name="https://client.example/page">x</a>').verdict == "missing"


def test_entities_and_whitespace_in_href() -> None:
    body = link("\n  https://client.example/page?a=1&amp;b=2  \n")
    assert check(body, "https://client.example/page?b=2&a=1").verdict == "live"


# --- URL matching -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("https://client.example/page", "http://client.example/page"),
        ("https://client.example/page", "https://CLIENT.Example/page"),
        ("https://client.example/page", "https://www.client.example/page"),
        ("https://client.example/page", "https://client.example:443/page"),
        ("http://client.example/page", "http://client.example:80/page"),
        ("https://client.example/page", "https://client.example/page/"),
        ("https://client.example/", "https://client.example"),
        ("https://client.example/page", "https://client.example/page#pricing"),
        ("https://client.example/page", "https://client.example/page?utm_source=x&utm_medium=y"),
        ("https://client.example/page", "https://client.example/page?gclid=1&fbclid=2"),
        ("https://client.example/page", "https://client.example/page?mc_cid=1&mc_eid=2"),
        ("https://client.example/page?id=3", "https://client.example/page?utm_campaign=z&id=3"),
        ("https://client.example/page?a=1&b=2", "https://client.example/page?b=2&a=1"),
        ("https://client.example/~ann", "https://client.example/%7Eann"),
        ("https://client.example/%7eann", "https://client.example/%7Eann"),
        ("https://client.example/a%2fb", "https://client.example/a%2Fb"),
        ("https://client.example/café", "https://client.example/caf%C3%A9"),
        ("https://client.example/a b", "https://client.example/a%20b"),
        ("https://bücher.example/page", "https://xn--bcher-kva.example/page"),
        ("https://BÜCHER.example/page", "https://XN--BCHER-KVA.example/page"),
        ("https://client.example./page", "https://client.example/page"),
        ("https://user:pw@client.example/page", "https://client.example/page"),
    ],
)
def test_same_link_target(one: str, other: str) -> None:
    assert normalise_url(one) == normalise_url(other) != ""


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("https://client.example/page?id=1", "https://client.example/page?id=2"),
        ("https://client.example/page", "https://client.example/page?id=1"),
        ("https://client.example/page", "https://client.example/Page"),
        ("https://client.example/page", "https://client.example:8443/page"),
        ("https://client.example/a/b", "https://client.example/a%2Fb"),
        ("https://client.example/page", "https://blog.client.example/page"),
        ("https://client.example/page", "https://client.example/page/more"),
    ],
)
def test_different_link_targets(one: str, other: str) -> None:
    assert normalise_url(one) != normalise_url(other)


@pytest.mark.parametrize(
    "url", ["mailto:a@client.example", "javascript:x", "/page", "https:///x", ""]
)
def test_normalise_url_of_a_non_web_url_is_empty(url: str) -> None:
    assert normalise_url(url) == ""


def test_normalisation_applies_to_links_on_the_page() -> None:
    href = "http://WWW.client.example:80/page/?utm_source=news&amp;fbclid=abc#top"
    assert check(link(href)).verdict == "live"


def test_other_query_parameters_count() -> None:
    target = "https://client.example/product?id=7"
    assert check(link("https://client.example/product?id=8"), target).verdict == "missing"
    assert check(link("https://client.example/product"), target).verdict == "missing"
    assert check(link("https://client.example/product?utm_source=x&id=7"), target).found


def test_idn_link_matches_punycode_target() -> None:
    body = link("https://Bücher.example/seite")
    assert check(body, "https://xn--bcher-kva.example/seite").verdict == "live"
    body = link("https://xn--bcher-kva.example/seite")
    assert check(body, "https://bücher.example/seite").verdict == "live"
    assert check(body, "domain:bücher.example").verdict == "live"


@pytest.mark.parametrize(
    ("href", "found"),
    [
        ("https://client.example/", True),
        ("https://www.client.example/any/page?x=1", True),
        ("http://blog.client.example/post", True),
        ("https://a.b.client.example:8080/", True),
        ("/relative/on/another/site", False),
        ("https://client.example.evil.test/", False),
        ("https://evilclient.example/", False),
        ("https://notclient.example/client.example", False),
        ("https://evil.test/?u=https://client.example/", False),
    ],
)
def test_domain_target_matches_the_domain_and_its_subdomains(href: str, found: bool) -> None:
    assert check(link(href), "domain:client.example").found is found


def test_domain_target_matches_relative_links_on_its_own_site() -> None:
    verdict = check(link("/pricing"), "domain:client.example", url="https://blog.client.example/x")
    assert verdict.verdict == "live"


# --- rel tokens and page-level robots ---------------------------------------------------------


@pytest.mark.parametrize(
    ("rel", "verdict", "tokens"),
    [
        ("", "live", []),
        ("noopener noreferrer", "live", ["noopener", "noreferrer"]),
        ("NoFollow", "nofollow", ["nofollow"]),
        ("external,NOFOLLOW", "nofollow", ["external", "nofollow"]),
        (" UGC ,\tnofollow ", "ugc", ["ugc", "nofollow"]),
        ("Sponsored", "sponsored", ["sponsored"]),
        ("nofollow, sponsored, ugc", "sponsored", ["nofollow", "sponsored", "ugc"]),
        ("nofollow nofollow", "nofollow", ["nofollow"]),
    ],
)
def test_rel_tokens(rel: str, verdict: str, tokens: list[str]) -> None:
    result = check(link("https://client.example/page", rel=rel))
    assert (result.verdict, result.rel, result.found) == (verdict, tokens, True)


def test_uppercase_unquoted_rel_attribute() -> None:
    assert check("<A HREF=https://client.example/page REL=NOFOLLOW>x</A>").verdict == "nofollow"


@pytest.mark.parametrize(
    ("meta", "verdict", "indexable"),
    [
        ('<meta name="robots" content="nofollow">', "nofollow", True),
        ('<meta name="ROBOTS" content="Index,NoFollow">', "nofollow", True),
        ('<meta name="robots" content="noindex">', "noindex", False),
        ('<meta name="robots" content="noindex, follow">', "noindex", False),
        ('<meta name="robots" content="none">', "noindex", False),
        ('<meta name="googlebot" content="nofollow">', "nofollow", True),
        ('<meta name="Googlebot" content="NOINDEX">', "noindex", False),
        ('<meta name="bingbot" content="noindex, nofollow">', "live", True),
        ('<meta name="description" content="noindex nofollow">', "live", True),
        ('<meta name="robots" content="index, follow">', "live", True),
    ],
)
def test_meta_robots(meta: str, verdict: str, indexable: bool) -> None:
    result = check("<head>" + meta + "</head>" + link("https://client.example/page"))
    assert (result.verdict, result.indexable, result.found) == (verdict, indexable, True)
    assert result.rel == []  # a page-level nofollow is not the link's own token


def test_meta_robots_outside_head_still_counts() -> None:
    body = link("https://client.example/page") + '<meta name="robots" content="nofollow">'
    assert check(body).verdict == "nofollow"


def test_page_nofollow_does_not_soften_a_sponsored_link() -> None:
    body = '<meta name="robots" content="nofollow">' + link(
        "https://client.example/page", rel="sponsored"
    )
    assert check(body).verdict == "sponsored"


def test_noindex_beats_link_tokens() -> None:
    body = '<meta name="robots" content="noindex">' + link(
        "https://client.example/page", rel="sponsored"
    )
    result = check(body)
    assert (result.verdict, result.rel, result.found) == ("noindex", ["sponsored"], True)


@pytest.mark.parametrize(
    ("header", "verdict"),
    [
        ("noindex", "noindex"),
        ("NoFollow", "nofollow"),
        ("none", "noindex"),
        ("googlebot: nofollow", "nofollow"),
        ("Googlebot: noindex", "noindex"),
        ("otherbot: noindex", "live"),
        ("otherbot: noindex, nofollow", "live"),
        ("googlebot-news: noindex", "live"),
        ("otherbot: noindex, googlebot: nofollow", "nofollow"),
        ("nofollow, otherbot: noindex", "nofollow"),
        ("unavailable_after: 25 Jun 2010 15:00:00 PST, nofollow", "nofollow"),
        ("max-snippet: 20, max-image-preview: large", "live"),
        ("noarchive", "live"),
    ],
)
def test_x_robots_tag(header: str, verdict: str) -> None:
    headers = {"content-type": "text/html", "X-Robots-Tag": header}
    assert check(link("https://client.example/page"), headers=headers).verdict == verdict


def test_x_robots_tag_header_name_is_case_insensitive() -> None:
    headers = {"CONTENT-TYPE": "text/html", "x-robots-tag": "noindex"}
    assert check(link("https://client.example/page"), headers=headers).verdict == "noindex"


def test_repeated_x_robots_tag_lines_stay_apart_in_httpx_headers() -> None:
    headers = httpx.Headers(
        [
            ("Content-Type", "text/html"),
            ("X-Robots-Tag", "otherbot: noindex"),
            ("X-Robots-Tag", "nofollow"),
        ]
    )
    assert check(link("https://client.example/page"), headers=headers).verdict == "nofollow"


# --- Several matching links -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rels", "winner"),
    [
        (["nofollow", ""], 1),
        (["sponsored", "ugc"], 1),
        (["ugc", "nofollow"], 1),
        (["sponsored", "nofollow"], 1),
        (["", ""], 0),
        (["nofollow", "nofollow"], 0),
        (["sponsored nofollow", "sponsored"], 1),
        (["ugc nofollow", "sponsored"], 0),
        (["sponsored", "noopener", "ugc"], 1),
    ],
)
def test_best_of_several_links_counts(rels: list[str], winner: int) -> None:
    body = "".join(
        link("https://client.example/page", text=f"link {index}", rel=rel)
        for index, rel in enumerate(rels)
    )
    result = check(body)
    assert result.anchor_text == f"link {winner}"
    assert result.rel == rels[winner].split()


def test_non_matching_links_do_not_compete() -> None:
    body = link("https://client.example/other") + link("https://client.example/page", rel="ugc")
    result = check(body)
    assert (result.verdict, result.rel) == ("ugc", ["ugc"])


# --- Anchor text ------------------------------------------------------------------------------


def test_anchor_text_collapses_whitespace_and_includes_nested_elements() -> None:
    body = (
        '<a href="https://client.example/page">\n Best <b>garden</b>\t<i>tools</i>&nbsp; 26\n</a>'
    )
    assert check(body).anchor_text == "Best garden tools 26"


def test_anchor_text_from_image_alt() -> None:
    body = (
        '<a href="https://client.example/page"> <img src="a.png"> <img alt="  Client   logo "></a>'
    )
    assert check(body).anchor_text == "Client logo"


def test_link_text_beats_image_alt() -> None:
    body = '<a href="https://client.example/page"><img alt="logo"> Client</a>'
    assert check(body).anchor_text == "Client"


def test_empty_anchor() -> None:
    result = check('<a href="https://client.example/page"></a>')
    assert (result.verdict, result.anchor_text) == ("live", "")


# --- Charsets ---------------------------------------------------------------------------------


def test_header_charset_iso_8859_1() -> None:
    body = link("https://client.example/page", "Café crème").encode("iso-8859-1")
    headers = {"Content-Type": "text/html; charset=ISO-8859-1"}
    assert check(body, headers=headers).anchor_text == "Café crème"


def test_meta_charset_windows_1252() -> None:
    html = '<meta charset="windows-1252">' + link("https://client.example/page", "Prix €5 été")
    result = check(html.encode("cp1252"), headers={"Content-Type": "text/html"})
    assert result.anchor_text == "Prix €5 été"


def test_meta_http_equiv_charset() -> None:
    html = '<meta http-equiv="Content-Type" content="text/html; charset=windows-1251">' + link(
        "https://client.example/page", "Привет"
    )
    result = check(html.encode("cp1251"), headers={"Content-Type": "text/html"})
    assert result.anchor_text == "Привет"


def test_header_charset_beats_meta() -> None:
    html = '<meta charset="utf-8">' + link("https://client.example/page", "naïve")
    headers = {"Content-Type": 'text/html; charset="iso-8859-1"'}
    assert check(html.encode("latin-1"), headers=headers).anchor_text == "naïve"


def test_utf8_bom() -> None:
    body = b"\xef\xbb\xbf" + link("https://client.example/page", "Zürich").encode()
    assert check(body, headers={"Content-Type": "text/html"}).anchor_text == "Zürich"
    assert decode_body(body, {}).startswith("<p>")


def test_bom_beats_a_wrong_declaration() -> None:
    body = b"\xef\xbb\xbf" + "Zürich".encode()
    assert decode_body(body, {"Content-Type": "text/html; charset=iso-8859-1"}) == "Zürich"


def test_utf16_bom() -> None:
    body = "\ufeff<p>Zürich</p>".encode("utf-16-le")
    assert decode_body(body, {}) == "<p>Zürich</p>"


@pytest.mark.parametrize(
    "label", ["x-no-such-charset", "base64", "rot13", "idna", "unicode_escape"]
)
def test_unknown_or_unusable_charset_falls_back(label: str) -> None:
    headers = {"Content-Type": f"text/html; charset={label}"}
    assert decode_body("Zürich \\N{x}".encode(), headers) == "Zürich \\N{x}"
    assert decode_body("Zürich".encode("cp1252"), headers) == "Zürich"


def test_undeclared_body_is_utf8_when_valid_else_windows_1252() -> None:
    assert decode_body("Zürich €".encode(), {}) == "Zürich €"
    assert decode_body("Zürich €".encode("cp1252"), {}) == "Zürich €"


def test_unknown_header_charset_falls_through_to_meta() -> None:
    body = '<meta charset="windows-1252"><p>été</p>'.encode("cp1252")
    assert "été" in decode_body(body, {"Content-Type": "text/html; charset=bogus"})


def test_meta_claiming_utf16_is_read_as_utf8() -> None:
    body = '<meta charset="utf-16"><p>été</p>'.encode()
    assert "été" in decode_body(body, {})


def test_charset_declared_after_the_first_4kb_is_not_seen() -> None:
    body = ("<!--" + "x" * 5000 + '--><meta charset="windows-1251"><p>été</p>').encode()
    assert "été" in decode_body(body, {})


def test_idn_path_link_in_legacy_charset() -> None:
    body = link("https://client.example/café", "x").encode("cp1252")
    headers = {"Content-Type": "text/html; charset=windows-1252"}
    assert check(body, "https://client.example/caf%C3%A9", headers=headers).found


# --- Page-level verdicts and their precedence -------------------------------------------------

CLIENT_LINK = link("https://client.example/page")


@pytest.mark.parametrize(
    ("status", "verdict"),
    [(404, "page_gone"), (410, "page_gone"), (500, "page_error"), (503, "page_error"),
     (403, "page_error"), (301, "page_error"), (199, "page_error")],
)  # fmt: skip
def test_http_status_verdicts(status: int, verdict: str) -> None:
    result = check(CLIENT_LINK, status=status)
    assert result.as_json() == {
        "verdict": verdict,
        "found": False,
        "http_status": status,
        "final_url": PAGE_URL,
        "rel": [],
        "anchor_text": "",
        "indexable": None,
        "canonical": "",
        "error": f"HTTP {status}",
    }


@pytest.mark.parametrize("status", [200, 204, 299])
def test_any_2xx_is_judged(status: int) -> None:
    assert check(CLIENT_LINK, status=status).verdict == "live"


def test_fetch_error_is_page_error_with_that_error() -> None:
    result = check(CLIENT_LINK, error="timed out after 15 s")
    assert (result.verdict, result.error, result.found, result.indexable) == (
        "page_error",
        "timed out after 15 s",
        False,
        None,
    )


def test_fetch_error_wins_over_status() -> None:
    result = check(CLIENT_LINK, status=404, error="redirect loop")
    assert (result.verdict, result.error) == ("page_error", "redirect loop")


def test_no_response_has_no_status() -> None:
    result = check(b"", status=0, error="connection refused")
    assert (result.http_status, result.verdict) == (None, "page_error")


def test_gone_beats_not_html() -> None:
    assert check(CLIENT_LINK, status=410, headers={"Content-Type": "image/png"}).verdict == (
        "page_gone"
    )


@pytest.mark.parametrize(
    ("headers", "body", "verdict"),
    [
        ({"Content-Type": "application/pdf"}, CLIENT_LINK, "not_html"),
        ({"Content-Type": "text/plain"}, CLIENT_LINK, "not_html"),
        ({"Content-Type": "application/json"}, CLIENT_LINK, "not_html"),
        ({"Content-Type": "TEXT/HTML; Charset=UTF-8"}, CLIENT_LINK, "live"),
        ({"Content-Type": "application/xhtml+xml"}, CLIENT_LINK, "live"),
        ({}, CLIENT_LINK, "live"),
        ({}, "\n  <!DOCTYPE html><html>" + CLIENT_LINK, "live"),
        ({"Content-Type": ""}, "<HTML>" + CLIENT_LINK, "live"),
        ({}, "%PDF-1.7 https://client.example/page", "not_html"),
        ({}, '{"url": "https://client.example/page"}', "not_html"),
        ({}, "", "not_html"),
    ],
)
def test_not_html(headers: dict[str, str], body: str, verdict: str) -> None:
    result = check(body, headers=headers)
    assert result.verdict == verdict
    if verdict == "not_html":
        assert (result.found, result.indexable, result.error.startswith("not an HTML page")) == (
            False,
            None,
            True,
        )


def test_is_html() -> None:
    assert is_html({"content-type": "text/html"})
    assert not is_html({"Content-Type": "image/svg+xml"}, b"<html>")
    assert is_html({}, b"\xef\xbb\xbf<p>hello")
    assert not is_html({}, b"<pre>hello")


def test_missing_link_still_reports_indexability_and_canonical() -> None:
    body = '<meta name="robots" content="noindex"><link rel="canonical" href="/x">'
    result = check(body + link("https://other.example/page"))
    assert result.as_json() == {
        "verdict": "missing",
        "found": False,
        "http_status": 200,
        "final_url": PAGE_URL,
        "rel": [],
        "anchor_text": "",
        "indexable": False,
        "canonical": "https://gardenista.example/x",
        "error": "",
    }


# --- Canonical --------------------------------------------------------------------------------


def test_canonical_from_tag_resolved_against_base() -> None:
    body = '<base href="https://cdn.gardenista.example/a/"><link rel="canonical" href="b">'
    assert check(body).canonical == "https://cdn.gardenista.example/a/b"


def test_canonical_rel_is_a_token_list() -> None:
    body = '<link rel="alternate" href="/amp"><LINK REL="Canonical Other" HREF=" /real ">'
    assert check(body).canonical == "https://gardenista.example/real"


def test_canonical_from_link_header() -> None:
    headers = {
        "Content-Type": "text/html",
        "Link": '</s.css>; rel=preload, <https://gardenista.example/c?a=1,2>; rel="canonical"',
    }
    assert check("<p>hi", headers=headers).canonical == "https://gardenista.example/c?a=1,2"


def test_canonical_from_link_header_relative_and_unquoted() -> None:
    headers = {"Content-Type": "text/html", "link": "</c>; REL=canonical"}
    assert check("<p>hi", headers=headers).canonical == "https://gardenista.example/c"


def test_canonical_tag_beats_link_header() -> None:
    headers = {"Content-Type": "text/html", "Link": '<https://x.example/h>; rel="canonical"'}
    body = '<link rel="canonical" href="https://x.example/t">'
    assert check(body, headers=headers).canonical == "https://x.example/t"


def test_no_canonical() -> None:
    assert check("<p>hi").canonical == ""


# --- as_json ----------------------------------------------------------------------------------


def test_as_json_keys_in_order_and_serialisable() -> None:
    result = check(link("https://client.example/page", rel="ugc"))
    data = result.as_json()
    assert list(data) == [
        "verdict",
        "found",
        "http_status",
        "final_url",
        "rel",
        "anchor_text",
        "indexable",
        "canonical",
        "error",
    ]
    assert json.loads(json.dumps(data)) == data
    rel = data["rel"]
    assert isinstance(rel, list)
    rel.append("changed")
    assert result.rel == ["ugc"]


# --- Targets ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "host", "key"),
    [
        ("https://client.example/page", "client.example", "client.example/page"),
        (
            "  http://WWW.Client.example/Page/?utm_source=x ",
            "client.example",
            "client.example/Page",
        ),
        ("domain:client.example", "client.example", ""),
        ("Domain: www.Client.Example.", "client.example", ""),
        ("domain:bücher.example", "xn--bcher-kva.example", ""),
        ("https://client.example:8443/", "client.example", "client.example:8443"),
    ],
)
def test_parse_target(text: str, host: str, key: str) -> None:
    target = parse_target(text)
    assert (target.host, target.key, target.is_domain) == (host, key, not key)
    assert target.text == text.strip()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("client.example/page", r"not an http\(s\) URL"),
        ("ftp://client.example/page", r"not an http\(s\) URL"),
        ("mailto:hello@client.example", r"not an http\(s\) URL"),
        ("https:///page", "no host"),
        ("https://client.example:99999/", "not a valid URL"),
        ("https://exa mple.example/", "valid host"),
        ("https://localhost/page", "full domain name"),
        ("domain:", "no host"),
        ("domain:client", "full domain name"),
        ("domain:www.client", "full domain name"),
        ("domain:exa mple.example", "valid host"),
        ("domain:client.example/page", "valid host"),
        ("domain:https://client.example", "valid host"),
        ("domain:-client-.example", "valid host"),
    ],
)
def test_parse_target_errors(text: str, message: str) -> None:
    with pytest.raises(TargetError, match=message) as caught:
        parse_target(text)
    assert isinstance(caught.value, ValueError)


def test_target_is_a_value() -> None:
    assert parse_target("https://client.example/a") == Target(
        text="https://client.example/a", host="client.example", key="client.example/a"
    )


# --- Robustness -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "verdict"),
    [
        ('<div><p><a href="https://client.example/page">unclosed', "live"),
        ("<a href=https://client.example/page rel=nofollow>unquoted</a>", "nofollow"),
        ("<A HREF='HTTPS://CLIENT.EXAMPLE/page'>upper</A>", "live"),
        ('<a href="/x"><a href="https://client.example/page">nested</a></a>', "live"),
        ('<a href="https://client.example/page" href="https://other.example/">dup</a>', "live"),
        ('<a href="https://other.example/" href="https://client.example/page">dup</a>', "missing"),
        ('<table><a href="https://client.example/page">foster-parented</a></table>', "live"),
        ('<svg><a href="https://client.example/page"><text>svg</text></a></svg>', "live"),
        ('<a href="https://client.example/page\x00">nul</a>', "missing"),
        ("<<<>>><a href=>></a><a href='https://client.example/page'\x00>", "live"),
        ("<a href='https://[::1/page'>bad ipv6</a>", "missing"),
        ("<a href='https://client.example:99999/page'>bad port</a>", "missing"),
        ("<a href='https://%ZZ.example/%GG'>bad escapes</a>", "missing"),
        ("<a href='https://exa\u00admple\u200b.example/'>odd idn</a>", "missing"),
    ],
)
def test_malformed_html(body: str, verdict: str) -> None:
    assert check(body).verdict == verdict


def test_nested_anchor_text_belongs_to_the_inner_link() -> None:
    body = '<a href="/x">outer <a href="https://client.example/page">inner</a> tail</a>'
    assert check(body).anchor_text == "inner"


def test_huge_page() -> None:
    filler = "".join(
        f'<p>Paragraph {i} <a href="https://site{i % 50}.example/{i}">link {i}</a></p>'
        for i in range(50_000)
    )
    body = "<div>" * 3000 + filler + link("https://client.example/page", rel="ugc")
    result = check(body)
    assert (result.verdict, result.anchor_text) == ("ugc", "Client")


def test_random_bytes_never_raise() -> None:
    pieces = [
        b"<a href=", b"<A HREF='", b'"', b"'", b">", b"</a>", b"<!--", b"-->", b"\x00", b"\xff",
        b"https://client.example/page", b"<base href=", b"<meta name=robots content=",
        b"<meta charset=", b"<img alt=", b"<script>", b"<table>", b"<svg>", b"&amp;", b"&#0;",
        b"%", b" ", b"rel=nofollow", b"//", b"\xef\xbb\xbf", b"<link rel=canonical href=",
    ]  # fmt: skip
    rng = random.Random(5)
    for _ in range(500):
        body = rng.randbytes(rng.randint(0, 64)) + b"".join(
            rng.choice(pieces) for _ in range(rng.randint(0, 80))
        )
        charset = rng.choice(["utf-8", "bogus", "utf-16", "rot13", "shift_jis", "utf-7"])
        headers = rng.choice([{}, {"content-type": f"text/html; charset={charset}"}])
        url = rng.choice([PAGE_URL, "", "not a url", "https://client.example/"])
        verdict = check(body, "domain:client.example", headers=headers, url=url)
        json.dumps(verdict.as_json())


def test_the_agreed_anchor_breaks_a_tie_between_equal_links() -> None:
    body = link("https://client.example/page", "footer") + link(
        "https://client.example/page", "Balcony  Guide"
    )
    page = FetchedPage(200, HTML, PAGE_URL, body.encode())
    target = parse_target("https://client.example/page")
    assert verify_placement(page, target).anchor_text == "footer"
    assert verify_placement(page, target, "balcony guide").anchor_text == "Balcony Guide"
    # A followed link still beats a nofollow one that carries the agreed anchor.
    mixed = link("https://client.example/page", "Balcony guide", rel="nofollow") + link(
        "https://client.example/page", "footer"
    )
    chosen = verify_placement(
        FetchedPage(200, HTML, PAGE_URL, mixed.encode()), target, "balcony guide"
    )
    assert (chosen.verdict, chosen.anchor_text) == ("live", "footer")
