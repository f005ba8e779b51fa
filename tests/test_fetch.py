"""The page fetcher against real HTTP servers on 127.0.0.x: redirects, size and time bounds,
compression, politeness, and the address guard (no connection ever reaches a refused address)."""

from __future__ import annotations

import ipaddress
import socket
import ssl
import time
import tracemalloc
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from email.utils import format_datetime, formatdate
from pathlib import Path
from urllib.parse import quote

import httpcore
import pytest

from outreach.links.fetch import (
    DEFAULT_USER_AGENT,
    NON_HTML_PREFIX,
    FetchedPage,
    IPAddress,
    PageFetcher,
    _OriginPool,
    allow_all,
    fetch_many,
    public_only,
    retry_after_seconds,
)
from tests.httpservers import (
    CP1252_PAGE,
    PAGE,
    Site,
    ipv6_loopback_available,
    make_local_ca,
    sites_on_one_port,
)

ALLOWED = ipaddress.ip_address("127.0.0.2")
IPV6 = ipv6_loopback_available()


def allow_127_0_0_2(ip: IPAddress) -> str | None:
    """The production policy, except that 127.0.0.2 stands in for a public address."""
    return None if ip == ALLOWED else public_only(ip)


class FakeDNS:
    """A resolver from a table: each lookup of a name takes its next answer (the last one
    repeats), and every lookup is logged."""

    def __init__(self, table: dict[str, Sequence[Sequence[str]]]) -> None:
        self._table = {name: list(answers) for name, answers in table.items()}
        self.lookups: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.lookups.append(host)
        answers = self._table.get(host)
        if not answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return list(answers.pop(0) if len(answers) > 1 else answers[0])


@pytest.fixture
def site() -> Iterator[Site]:
    with Site() as server:
        yield server


@pytest.fixture
def fetcher() -> Iterator[PageFetcher]:
    with PageFetcher(allow_private=True, timeout=10) as page_fetcher:
        yield page_fetcher


@pytest.fixture
def allowed_and_refused() -> Iterator[tuple[Site, Site]]:
    """Servers on 127.0.0.2 (allowed by `allow_127_0_0_2`) and 127.0.0.1 (refused), one port."""
    allowed, refused = sites_on_one_port(["127.0.0.2", "127.0.0.1"])
    with allowed, refused:
        yield allowed, refused


def timed_fetch(fetcher: PageFetcher, url: str) -> tuple[float, FetchedPage]:
    started = time.monotonic()
    page = fetcher.fetch(url)
    return time.monotonic() - started, page


# --------------------------------------------------------------------------------------------
# Plain pages


def test_fetches_a_page_with_a_browser_like_request(fetcher: PageFetcher, site: Site) -> None:
    page = fetcher.fetch(site.url("/html"))

    assert (page.status, page.body, page.error) == (200, PAGE, "")
    assert page.final_url == site.url("/html")
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    sent = site.requests[0].headers
    assert sent["user-agent"] == DEFAULT_USER_AGENT
    assert sent["host"] == f"127.0.0.1:{site.port}"
    assert sent["accept-encoding"] == "gzip, deflate, br"


def test_reuses_connections(fetcher: PageFetcher, site: Site) -> None:
    for _ in range(3):
        assert fetcher.fetch(site.url("/html")).status == 200

    assert len(site.connections) == 1


def test_keeps_a_connection_to_each_of_many_hosts() -> None:
    """Link checks go to many sites in turn; each keeps its connection between pages (httpcore's
    own pool closed idle connections past 20 and reconnected all the time)."""
    sites = [Site(f"127.0.0.{n}") for n in range(2, 32)]
    try:
        with PageFetcher(allow_private=True, timeout=10) as fetcher:
            for _ in range(3):
                assert [fetcher.fetch(site.url("/html")).status for site in sites] == [200] * 30
        assert [len(site.connections) for site in sites] == [1] * 30
    finally:
        for site in sites:
            site.close()


def test_a_connection_the_server_closes_is_not_used_again(fetcher: PageFetcher, site: Site) -> None:
    assert fetcher.fetch(site.url("/html?close=1")).status == 200
    assert fetcher.fetch(site.url("/html")).status == 200
    assert fetcher.fetch(site.url("/html")).status == 200

    assert len(site.connections) == 2


def test_idle_connections_are_bounded_in_number_and_time() -> None:
    """The pool itself (a detail of the fetcher, but its bounds matter): past `max_idle` the
    longest idle connection is closed, and none is used after `keepalive_expiry`."""
    sites = [Site(f"127.0.0.{n}") for n in (2, 3, 4)]
    pool = _OriginPool(
        ssl_context=ssl.create_default_context(),
        network_backend=httpcore.SyncBackend(),
        max_idle=2,
        keepalive_expiry=0.5,
    )

    def get(site: Site) -> None:
        request = httpcore.Request(
            "GET", site.url("/html"), headers=[("Host", f"{site.host}:{site.port}")]
        )
        response = pool.handle_request(request)
        assert response.read() == PAGE
        response.close()

    try:
        with pool:
            for site in sites:
                get(site)  # the third one idle closes the first
            get(sites[1])
            get(sites[2])
            get(sites[0])
            assert [len(site.connections) for site in sites] == [2, 1, 1]
            time.sleep(0.6)
            get(sites[2])
            assert [len(site.connections) for site in sites] == [2, 1, 2]
    finally:
        for site in sites:
            site.close()


@pytest.mark.parametrize("status", [404, 410, 500])
def test_error_statuses_are_pages_not_errors(fetcher: PageFetcher, site: Site, status: int) -> None:
    page = fetcher.fetch(site.url(f"/status/{status}"))

    assert (page.status, page.body, page.error) == (status, PAGE, "")


def test_body_bytes_are_left_undecoded_for_the_verifier(fetcher: PageFetcher, site: Site) -> None:
    page = fetcher.fetch(site.url("/charset"))

    assert page.body == CP1252_PAGE
    assert page.headers["content-type"] == "text/html; charset=windows-1252"


def test_non_html_bodies_are_read_only_to_a_prefix(fetcher: PageFetcher, site: Site) -> None:
    page = fetcher.fetch(site.url("/pdf"))

    assert (page.status, page.error) == (200, "")
    assert page.headers["content-type"] == "application/pdf"
    assert len(page.body) == NON_HTML_PREFIX
    assert page.body.startswith(b"%PDF-1.7")


@pytest.mark.parametrize("url", ["ftp://example.com/", "file:///etc/passwd", "javascript:x", ""])
def test_only_http_urls_are_fetched(fetcher: PageFetcher, url: str) -> None:
    page = fetcher.fetch(url)

    assert (page.status, page.final_url) == (0, url)
    assert page.error == f"not an http(s) URL: {url}"


def test_network_failures_are_reported_not_raised(fetcher: PageFetcher) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    page = fetcher.fetch(f"http://127.0.0.1:{port}/")
    assert page.status == 0
    assert page.error.startswith("could not connect: ")

    with PageFetcher(resolver=FakeDNS({})) as guarded:
        page = guarded.fetch("http://nowhere.test/")
    assert page.error == "DNS lookup failed for nowhere.test"


# --------------------------------------------------------------------------------------------
# Redirects


@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
def test_follows_relative_redirects(fetcher: PageFetcher, site: Site, code: int) -> None:
    page = fetcher.fetch(site.url(f"/chain/{code}/3"))

    assert (page.status, page.body, page.error) == (200, PAGE, "")
    assert page.final_url == site.url(f"/chain/{code}/0")
    assert [r.path for r in site.requests] == [f"/chain/{code}/{n}" for n in (3, 2, 1, 0)]


def test_follows_absolute_and_path_redirects(fetcher: PageFetcher, site: Site) -> None:
    to_path = site.url("/redirect?to=/html")
    assert fetcher.fetch(to_path).final_url == site.url("/html")

    to_url = site.url("/redirect?code=301&to=" + quote(site.url("/status/410")))
    page = fetcher.fetch(to_url)
    assert (page.status, page.final_url) == (410, site.url("/status/410"))


def test_ten_redirects_are_followed_but_not_eleven(fetcher: PageFetcher, site: Site) -> None:
    assert fetcher.fetch(site.url("/chain/302/10")).status == 200

    page = fetcher.fetch(site.url("/chain/302/11"))

    assert page.error == "more than 10 redirects"
    assert (page.status, page.final_url) == (302, site.url("/chain/302/1"))


def test_a_redirect_loop_is_an_error(fetcher: PageFetcher, site: Site) -> None:
    page = fetcher.fetch(site.url("/loop/a"))

    assert page.error == f"redirect loop at {site.url('/loop/a')}"
    assert (page.status, page.final_url) == (301, site.url("/loop/b"))
    assert len(site.requests) == 2


def test_a_cookie_check_redirect_is_not_a_loop_and_cookies_stay_with_their_fetch(
    fetcher: PageFetcher, site: Site
) -> None:
    for _ in range(2):
        page = fetcher.fetch(site.url("/cookie-gate"))
        assert (page.status, page.error) == (200, "")

    cookies = [r.headers.get("cookie") for r in site.requests]
    assert cookies == [None, "consent=yes", None, "consent=yes"]


def test_bad_redirect_targets_are_errors(fetcher: PageFetcher, site: Site) -> None:
    page = fetcher.fetch(site.url("/redirect?to=" + quote("file:///etc/passwd")))
    assert page.status == 0
    assert page.final_url.startswith("file:")
    assert page.error == f"not an http(s) URL: {page.final_url}"

    page = fetcher.fetch(site.url("/redirect?to=" + quote("http://[::1")))
    assert page.status == 0
    assert page.error.startswith("RemoteProtocolError: Invalid URL in location header")


# --------------------------------------------------------------------------------------------
# Size and time bounds


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "deflate-raw", "br"])
def test_decodes_compressed_bodies(fetcher: PageFetcher, site: Site, encoding: str) -> None:
    page = fetcher.fetch(site.url(f"/encoded/{encoding}"))

    assert (page.status, page.body, page.error) == (200, PAGE, "")


def test_undecodable_bodies_are_errors(fetcher: PageFetcher, site: Site) -> None:
    corrupt = fetcher.fetch(site.url("/encoded/corrupt"))
    assert corrupt.status == 200
    assert corrupt.error.startswith("could not decode the gzip body: ")

    zstd = fetcher.fetch(site.url("/encoded/zstd"))
    assert (zstd.status, zstd.error) == (200, "unsupported content encoding 'zstd'")


def test_the_size_limit_is_exact(site: Site) -> None:
    with PageFetcher(allow_private=True, max_bytes=1000) as fetcher:
        assert len(fetcher.fetch(site.url("/size/1000")).body) == 1000
        page = fetcher.fetch(site.url("/size/1001"))

    assert (page.status, page.body, page.error) == (200, b"", "page larger than 1000 bytes")


@pytest.mark.parametrize("path", ["/endless", "/encoded/gzip-bomb", "/encoded/br-bomb"])
def test_big_bodies_stop_at_5_mb_without_buffering(
    fetcher: PageFetcher, site: Site, path: str
) -> None:
    """An endless body or 64 MB of zeros compressed to a few KB: the fetch stops soon after
    5 MB of decoded bytes and never holds much more than that."""
    fetcher.fetch(site.url("/encoded/gzip-bomb"))  # warm up: the server builds bombs once
    fetcher.fetch(site.url("/encoded/br-bomb"))
    tracemalloc.start()
    try:
        page = fetcher.fetch(site.url(path))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert (page.status, page.body, page.error) == (200, b"", "page larger than 5 MB")
    assert peak < 16 * 1024 * 1024


@pytest.mark.parametrize("path", ["/trickle", "/trickle-headers", "/slow-first-byte?seconds=30"])
def test_the_time_limit_is_for_the_whole_page(site: Site, path: str) -> None:
    """A byte every 0.1 s never trips a per-read timeout; the page's own deadline cuts it."""
    with PageFetcher(allow_private=True, timeout=1) as fetcher:
        elapsed, page = timed_fetch(fetcher, site.url(path))

    assert page.error == "timed out after 1 s"
    assert elapsed < 5


# --------------------------------------------------------------------------------------------
# Politeness


def test_backs_off_as_retry_after_says(fetcher: PageFetcher, site: Site) -> None:
    elapsed, page = timed_fetch(fetcher, site.url("/busy/a?times=1&retry-after=1"))

    assert page.status == 200
    assert elapsed >= 0.9
    assert len(site.requests) == 2


def test_retry_after_may_be_a_date(fetcher: PageFetcher, site: Site) -> None:
    when = quote(formatdate(time.time() + 2, usegmt=True))
    elapsed, page = timed_fetch(fetcher, site.url(f"/busy/b?code=503&retry-after={when}"))

    assert page.status == 200
    assert elapsed >= 0.9


def test_backs_off_without_retry_after_too(fetcher: PageFetcher, site: Site) -> None:
    elapsed, page = timed_fetch(fetcher, site.url("/busy/c?times=1"))

    assert page.status == 200
    assert elapsed >= 0.9


def test_gives_up_after_two_retries(fetcher: PageFetcher, site: Site) -> None:
    page = fetcher.fetch(site.url("/busy/d?times=9&retry-after=0"))

    assert (page.status, page.error) == (429, "")
    assert len(site.requests) == 3


def test_never_waits_past_the_deadline(site: Site) -> None:
    with PageFetcher(allow_private=True, timeout=2) as fetcher:
        elapsed, page = timed_fetch(fetcher, site.url("/busy/e?code=503&retry-after=3600"))

    assert page.status == 503
    assert elapsed < 1.5
    assert len(site.requests) == 1


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        (" 0 ", 0.0),
        ("Wed, 01 Jan 2025 00:01:30 GMT", 90.0),
        (format_datetime(datetime(2024, 12, 31, tzinfo=UTC), usegmt=True), 0.0),
        ("soon", None),
        ("-5", None),
        (None, None),
    ],
)
def test_reads_retry_after(value: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(value, now=datetime(2025, 1, 1, tzinfo=UTC)) == seconds


def test_at_most_per_host_requests_to_one_host(site: Site) -> None:
    with PageFetcher(allow_private=True, per_host=2) as fetcher:
        pages = fetch_many(fetcher, [site.url("/slow?seconds=0.3")] * 6, workers=6)

    assert [page.status for page in pages] == [200] * 6
    assert site.most_in_flight == 2


def test_different_hosts_go_in_parallel(site: Site) -> None:
    names = [f"h{n}.test" for n in range(4)]
    dns = FakeDNS({name: [["127.0.0.1"]] for name in names})
    urls = [site.url("/slow?seconds=0.3", host=name) for name in names for _ in range(2)]
    with PageFetcher(resolver=dns, policy=allow_all, per_host=2) as fetcher:
        pages = fetch_many(fetcher, urls, workers=8)

    assert [page.status for page in pages] == [200] * 8
    assert site.most_in_flight >= 4


def test_fetch_many_keeps_the_order_of_its_urls(fetcher: PageFetcher, site: Site) -> None:
    urls = [site.url("/status/404"), site.url("/html"), "ftp://x/", site.url("/status/500")]

    pages = fetch_many(fetcher, urls, workers=3)

    assert [page.status for page in pages] == [404, 200, 0, 500]
    assert [page.final_url for page in pages] == urls
    assert fetch_many(fetcher, []) == []


# --------------------------------------------------------------------------------------------
# The address guard


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("8.8.8.8", None),
        ("2606:4700:4700::1111", None),
        ("::ffff:8.8.8.8", None),
        ("64:ff9b::808:808", None),
        ("2002:808:808::1", None),
        ("127.0.0.1", "loopback"),
        ("127.0.0.2", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),
        ("100.64.0.1", "CGNAT"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("::1", "loopback"),
        ("fe80::1", "link-local"),
        ("fc00::1", "private"),
        ("fec0::1", "site-local"),
        ("ff02::1", "multicast"),
        ("::ffff:127.0.0.1", "IPv4-mapped loopback"),
        ("::ffff:100.64.1.1", "IPv4-mapped CGNAT"),
        ("::127.0.0.1", "IPv4-compatible loopback"),
        ("64:ff9b::a9fe:a9fe", "NAT64 link-local"),
        ("2002:a00:1::", "6to4 private"),
        ("2001:0:5ef5:79fd::80ff:fffe", "Teredo loopback"),
    ],
)
def test_public_only_policy(address: str, problem: str | None) -> None:
    assert public_only(ipaddress.ip_address(address)) == problem


def refused_forms(port: int) -> list[str]:
    forms = ["127.0.0.1", "localhost", "0x7f000001", "2130706433", "127.1", "0.0.0.0"]
    if IPV6:
        forms += ["[::1]", "[::ffff:127.0.0.1]", "[::]"]
    return [f"http://{host}:{port}/html" for host in forms]


@pytest.fixture
def loopback_sites() -> Iterator[list[Site]]:
    """Servers on 127.0.0.1 and ::1 on one port, so any spelling of loopback reaches one."""
    sites = sites_on_one_port(["127.0.0.1", "::1"] if IPV6 else ["127.0.0.1"])
    yield sites
    for site in sites:
        site.close()


def test_loopback_in_any_spelling_is_refused_before_connecting(
    loopback_sites: list[Site],
) -> None:
    with PageFetcher() as fetcher:
        pages = [fetcher.fetch(url) for url in refused_forms(loopback_sites[0].port)]

    for page in pages:
        assert page.status == 0
        assert page.error.startswith("refused address "), page
    assert pages[0].error == "refused address 127.0.0.1 (loopback)"
    assert all(site.connections == [] for site in loopback_sites)


def test_allow_private_reaches_the_same_servers(loopback_sites: list[Site]) -> None:
    """The control for the test above: these URLs do lead to the recording servers."""
    with PageFetcher(allow_private=True) as fetcher:
        pages = [fetcher.fetch(url) for url in refused_forms(loopback_sites[0].port)]

    assert [page.status for page in pages] == [200] * len(pages)
    assert sum(len(site.connections) for site in loopback_sites) == len(pages)


def test_a_redirect_to_a_refused_address_is_refused_at_the_hop(
    allowed_and_refused: tuple[Site, Site],
) -> None:
    allowed, refused = allowed_and_refused
    dns = FakeDNS({"allowed.test": [["127.0.0.2"]], "refused.test": [["127.0.0.1"]]})
    targets = {
        f"http://127.0.0.1:{refused.port}/html": "refused address 127.0.0.1 (loopback)",
        f"http://refused.test:{refused.port}/html": "refused address 127.0.0.1 (loopback)",
        "http://10.0.0.1/": "refused address 10.0.0.1 (private)",
        "http://169.254.169.254/latest/meta-data/": "refused address 169.254.169.254 (link-local)",
        "http://[::ffff:10.1.2.3]/": "refused address ::ffff:10.1.2.3 (IPv4-mapped private)",
    }
    with PageFetcher(resolver=dns, policy=allow_127_0_0_2) as fetcher:
        for target, error in targets.items():
            url = allowed.url("/redirect?to=" + quote(target), host="allowed.test")
            page = fetcher.fetch(url)
            assert (page.status, page.final_url, page.error) == (0, target, error)

    assert len(allowed.requests) == len(targets)
    assert refused.connections == []


def test_a_host_with_any_refused_address_is_refused(
    allowed_and_refused: tuple[Site, Site],
) -> None:
    allowed, refused = allowed_and_refused
    dns = FakeDNS({"mixed.test": [["127.0.0.2", "127.0.0.1"]]})
    with PageFetcher(resolver=dns, policy=allow_127_0_0_2) as fetcher:
        page = fetcher.fetch(allowed.url("/html", host="mixed.test"))

    assert page.error == "refused address 127.0.0.1 (loopback)"
    assert allowed.connections == refused.connections == []


def test_connects_to_the_checked_address_and_sends_the_hostname(
    allowed_and_refused: tuple[Site, Site],
) -> None:
    """DNS rebinding: the name answers an allowed address, then a refused one. The fetcher
    looks it up once per connection and dials what it checked, so the second answer only
    matters for a new connection, and there it is checked and refused."""
    allowed, refused = allowed_and_refused
    dns = FakeDNS({"rebind.test": [["127.0.0.2"], ["127.0.0.1"]]})
    with PageFetcher(resolver=dns, policy=allow_127_0_0_2) as fetcher:
        page = fetcher.fetch(allowed.url("/html", host="rebind.test"))
        assert (page.status, page.body) == (200, PAGE)
        assert dns.lookups == ["rebind.test"]
        assert [r.local_address for r in allowed.requests] == ["127.0.0.2"]
        assert allowed.requests[0].headers["host"] == f"rebind.test:{allowed.port}"

        # The server closes the connection, so the next hop needs a new one: a new lookup.
        page = fetcher.fetch(allowed.url("/redirect?close=1&to=/html", host="rebind.test"))
        assert page.error == "refused address 127.0.0.1 (loopback)"
        assert dns.lookups == ["rebind.test"] * 2

    assert len(allowed.connections) == 1
    assert refused.connections == []


def test_https_checks_the_certificate_of_the_hostname_not_the_address(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ca = make_local_ca(tmp_path, "allowed.test")
    monkeypatch.setenv("SSL_CERT_FILE", str(ca.ca_file))
    dns = FakeDNS({"allowed.test": [["127.0.0.2"]]})
    with (
        Site("127.0.0.2", tls=ca.server_context) as site,
        PageFetcher(resolver=dns, policy=allow_127_0_0_2) as fetcher,
    ):
        page = fetcher.fetch(site.url("/html", host="allowed.test"))
        assert (page.status, page.body, page.error) == (200, PAGE, "")
        assert ca.server_names == ["allowed.test"]
        assert site.requests[0].headers["host"] == f"allowed.test:{site.port}"

        # The same server by address: the certificate does not name 127.0.0.2.
        page = fetcher.fetch(site.url("/html"))
        assert page.status == 0
        assert "CERTIFICATE_VERIFY_FAILED" in page.error
