"""Fetches the pages that should carry our links: polite to the sites, bounded in time and size,
and safe to point at URLs that strangers control (no requests to private networks).

The safety check lives in the connection layer: a network backend for httpcore resolves each
host once, refuses if any of its addresses is private, and connects to the address it checked.
Every connection, so every redirect hop, passes through it, and no second DNS lookup can swap
in another address (DNS rebinding). The Host header, TLS SNI and certificate checks still use the
URL's hostname, because httpcore only hands the backend the host to dial.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http.cookiejar import CookieJar, DefaultCookiePolicy
from itertools import zip_longest
from queue import Empty, SimpleQueue
from types import TracebackType
from typing import Any, Protocol, Self, cast
from urllib.parse import urlsplit

import brotli
import httpcore
import httpx

from outreach.links.verdict import FetchedPage

DEFAULT_USER_AGENT = (
    "Mozilla/5.0 (compatible; outreach-linkcheck/1.0; +https://github.com/outreach)"
)
# The verifier only needs to see that a PDF or image is not HTML, not the whole file.
NON_HTML_PREFIX = 64 * 1024
_MIB = 1024 * 1024
_HTML_TYPES = frozenset({"", "text/html", "application/xhtml+xml"})
_RETRY_STATUSES = frozenset({429, 503})
# Waits before the first and second retry when a 429/503 has no usable Retry-After.
_BACKOFF = (1.0, 2.0)
_BROTLI_STEP = 64 * 1024
# The headers a cookie jar takes cookies from (httpx.Headers' keys are lower case).
_SET_COOKIE_HEADERS = frozenset({"set-cookie", "set-cookie2"})

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]
"""Turns a hostname and port into IP addresses, like getaddrinfo; raises OSError if it cannot."""
AddressPolicy = Callable[[IPAddress], str | None]
"""Says why an address must not be connected to, or None when it may be."""


# --------------------------------------------------------------------------------------------
# Which addresses may be fetched from

_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[tuple[str, ipaddress.IPv4Address]]:
    """The IPv4 addresses an IPv6 address leads to, by the scheme that embeds them."""
    found = []
    if ip.ipv4_mapped is not None:
        found.append(("IPv4-mapped", ip.ipv4_mapped))
    if ip in _NAT64:
        found.append(("NAT64", ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)))
    if int(ip) >> 32 == 0 and int(ip) > 1:
        found.append(("IPv4-compatible", ipaddress.IPv4Address(int(ip))))
    if ip.sixtofour is not None:
        found.append(("6to4", ip.sixtofour))
    if ip.teredo is not None:
        found.append(("Teredo", ip.teredo[1]))
    return found


def public_only(ip: IPAddress) -> str | None:
    """The default policy: only globally routable unicast addresses. An IPv6 address that
    carries an IPv4 one is refused if that one would be; IPv4-mapped and NAT64 addresses
    (DNS64 networks give these for every IPv4-only site) are judged by it alone."""
    if isinstance(ip, ipaddress.IPv6Address):
        for scheme, inner in _embedded_ipv4(ip):
            problem = public_only(inner)
            if problem:
                return f"{scheme} {problem}"
            if scheme in ("IPv4-mapped", "NAT64"):
                return None
    checks = (
        (ip.is_unspecified, "unspecified"),
        (ip.is_loopback, "loopback"),
        (ip.is_link_local, "link-local"),
        (ip.is_multicast, "multicast"),
        (ip in _CGNAT, "CGNAT"),
        (ip.is_reserved, "reserved"),
        (ip.is_private, "private"),
        (isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local, "site-local"),
        (not ip.is_global, "not globally routable"),
    )
    return next((problem for refused, problem in checks if refused), None)


def allow_all(ip: IPAddress) -> str | None:
    """The policy for intranet use and tests (`allow_private`)."""
    return None


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses getaddrinfo gives, first-preferred first, without repeats."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _shown(ip: IPAddress) -> str:
    """IPv4-mapped addresses as people write them (::ffff:10.0.0.1, not ::ffff:a00:1)."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return f"::ffff:{ip.ipv4_mapped}"
    return str(ip)


class _FetchError(Exception):
    """A fetch that cannot go on; the message is the page's error. Raised inside httpx's call
    stack too (by the backend), which passes exceptions it does not know through unchanged."""


# --------------------------------------------------------------------------------------------
# The page deadline, enforced on every socket operation


class _Budget:
    """A page's remaining time. httpx's timeouts are per socket operation, so a server sending a
    byte a second never trips them; every operation is capped by what is left of this instead."""

    def __init__(self, seconds: float) -> None:
        self._end = time.monotonic() + seconds

    def remaining(self) -> float:
        return self._end - time.monotonic()

    def extend(self, seconds: float) -> None:
        self._end += seconds


# The budget of the page this thread is fetching: httpx's sync client does all its I/O on the
# calling thread, and a pooled connection serves whichever page is using it now.
_BUDGET: ContextVar[_Budget | None] = ContextVar("page_budget", default=None)


def _capped(timeout: float | None, expired: type[Exception]) -> float | None:
    budget = _BUDGET.get()
    if budget is None:
        return timeout
    remaining = budget.remaining()
    if remaining <= 0:
        raise expired("the page's time is up")
    return remaining if timeout is None else min(timeout, remaining)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _capped(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _capped(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(
            ssl_context, server_hostname, _capped(timeout, httpcore.ConnectTimeout)
        )
        return _DeadlineStream(inner)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


# --------------------------------------------------------------------------------------------
# The guarded connection layer


class _GuardedBackend(httpcore.NetworkBackend):
    """Resolves once, checks every address, and dials only the checked addresses."""

    def __init__(self, resolver: Resolver, policy: AddressPolicy) -> None:
        self._resolver = resolver
        self._policy = policy
        self._dialer = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = self._checked_addresses(host, port)
        failure: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for address in addresses:
            try:
                stream = self._dialer.connect_tcp(
                    address,
                    port,
                    _capped(timeout, httpcore.ConnectTimeout),
                    local_address,
                    socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
            else:
                return _DeadlineStream(stream)
        assert failure is not None  # there was at least one address
        raise failure

    def _checked_addresses(self, host: str, port: int) -> list[str]:
        try:
            addresses = [ipaddress.ip_address(host)]
        except ValueError:
            try:
                addresses = [ipaddress.ip_address(found) for found in self._resolver(host, port)]
            except (OSError, UnicodeError) as exc:
                raise _FetchError(f"DNS lookup failed for {host}") from exc
            if not addresses:
                raise _FetchError(f"DNS lookup failed for {host}") from None
        for address in addresses:
            problem = self._policy(address)
            if problem:
                raise _FetchError(f"refused address {_shown(address)} ({problem})")
        return [str(address) for address in addresses]


_OriginKey = tuple[bytes, bytes, int]


def _origin_key(origin: httpcore.Origin) -> _OriginKey:
    return origin.scheme, origin.host, origin.port


class _OriginPool:
    """Keep-alive connections kept per origin, for the pages of many hosts.

    httpcore's ConnectionPool scans all its connections (some of them twice over, polling each
    socket) for every request, and past its keep-alive limit closes idle connections to hosts it
    is about to fetch from again: with a few dozen hosts that costs more CPU than the page. Here
    a request takes the newest idle connection to its origin or dials a new one (through the
    guarded backend), and gives it back when its response is closed. The fetcher's host slots
    and thread count bound the connections in use; at most `max_idle` wait, each for at most
    `keepalive_expiry` seconds."""

    def __init__(
        self,
        *,
        ssl_context: ssl.SSLContext,
        network_backend: httpcore.NetworkBackend,
        max_idle: int,
        keepalive_expiry: float,
    ) -> None:
        self._ssl_context = ssl_context
        self._backend = network_backend
        self._max_idle = max_idle
        self._keepalive_expiry = keepalive_expiry
        self._lock = threading.Lock()
        self._idle: dict[_OriginKey, list[httpcore.HTTPConnection]] = {}
        # Every idle connection, the longest idle first, with when it expires.
        self._waiting: OrderedDict[httpcore.HTTPConnection, tuple[_OriginKey, float]] = (
            OrderedDict()
        )
        self._busy: set[httpcore.HTTPConnection] = set()

    def handle_request(self, request: httpcore.Request) -> httpcore.Response:
        origin = request.url.origin
        key = _origin_key(origin)
        connection = self._take(origin, key)
        try:
            response = connection.handle_request(request)
        except BaseException:
            # httpcore closes a connection whose exchange failed; this makes sure of it.
            self._give_back(connection, key, reusable=False)
            raise
        return httpcore.Response(
            status=response.status,
            headers=response.headers,
            content=_PooledStream(response.stream, lambda: self._give_back(connection, key)),
            extensions=response.extensions,
        )

    def _take(self, origin: httpcore.Origin, key: _OriginKey) -> httpcore.HTTPConnection:
        stale: list[httpcore.HTTPConnection] = []
        try:
            with self._lock:
                idle = self._idle.get(key, [])
                while idle:
                    connection = idle.pop()
                    if not idle:
                        del self._idle[key]
                    del self._waiting[connection]
                    # Expired, or the server closed it (its socket reads as EOF).
                    if connection.has_expired():
                        stale.append(connection)
                        continue
                    self._busy.add(connection)
                    return connection
                connection = httpcore.HTTPConnection(
                    origin=origin,
                    ssl_context=self._ssl_context,
                    keepalive_expiry=self._keepalive_expiry,
                    network_backend=self._backend,
                )
                self._busy.add(connection)
                return connection
        finally:
            for connection in stale:
                connection.close()

    def _give_back(
        self, connection: httpcore.HTTPConnection, key: _OriginKey, *, reusable: bool = True
    ) -> None:
        """Keeps a connection whose exchange ended cleanly (HTTP/1.1 keep-alive); one the
        server or an error closed is dropped."""
        now = time.monotonic()
        closing: list[httpcore.HTTPConnection] = []
        with self._lock:
            self._busy.discard(connection)
            if not reusable:
                closing.append(connection)
            elif connection.is_idle():
                self._idle.setdefault(key, []).append(connection)
                self._waiting[connection] = (key, now + self._keepalive_expiry)
            while self._waiting:
                oldest, (oldest_key, expires) = next(iter(self._waiting.items()))
                if len(self._waiting) <= self._max_idle and expires > now:
                    break
                del self._waiting[oldest]
                self._idle[oldest_key].remove(oldest)
                if not self._idle[oldest_key]:
                    del self._idle[oldest_key]
                closing.append(oldest)
        for stale in closing:
            stale.close()

    def close(self) -> None:
        with self._lock:
            closing = [*self._waiting, *self._busy]
            self._idle.clear()
            self._waiting.clear()
            self._busy.clear()
        for connection in closing:
            connection.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        self.close()


class _PooledStream:
    """A response body that hands its connection back to the pool once it is closed."""

    def __init__(self, stream: Iterable[bytes], on_close: Callable[[], None]) -> None:
        self._stream = stream
        self._on_close: Callable[[], None] | None = on_close

    def __iter__(self) -> Iterator[bytes]:
        yield from self._stream

    def close(self) -> None:
        on_close, self._on_close = self._on_close, None
        if on_close is None:
            return
        try:
            close = getattr(self._stream, "close", None)
            if close is not None:
                close()
        finally:
            on_close()


class _GuardedTransport(httpx.HTTPTransport):
    """httpx's own transport on a pool that dials through the guard. HTTPTransport has no
    network-backend argument, so the pool it builds is replaced; request and response handling
    and exception mapping stay httpx's."""

    def __init__(self, backend: httpcore.NetworkBackend) -> None:
        super().__init__(trust_env=False)
        self._pool = _OriginPool(
            ssl_context=httpx.create_ssl_context(),  # honours SSL_CERT_FILE for private CAs
            network_backend=backend,
            max_idle=100,
            keepalive_expiry=5.0,
        )


# --------------------------------------------------------------------------------------------
# Bodies: decoded as they stream in, never past a limit


class _Decoder(Protocol):
    def decode(self, data: bytes, limit: int) -> bytes:
        """Decodes `data`, giving at most about `limit` bytes; the caller stops past its cap."""
        ...


class _Identity:
    def decode(self, data: bytes, limit: int) -> bytes:
        return data


class _Zlib:
    def __init__(self, wbits: int) -> None:
        self._inflater = zlib.decompressobj(wbits)

    def decode(self, data: bytes, limit: int) -> bytes:
        return self._inflater.decompress(data, limit)


class _Deflate:
    """HTTP's deflate is zlib-wrapped, but some servers send it raw; like browsers, try both."""

    def __init__(self) -> None:
        self._inflater = zlib.decompressobj()
        self._first = True

    def decode(self, data: bytes, limit: int) -> bytes:
        if self._first:
            self._first = False
            try:
                return self._inflater.decompress(data, limit)
            except zlib.error:
                self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        return self._inflater.decompress(data, limit)


class _Brotli:
    """Brotli can expand a few bytes into gigabytes, so output is taken in small steps."""

    def __init__(self) -> None:
        self._decompressor = brotli.Decompressor()

    def decode(self, data: bytes, limit: int) -> bytes:
        out = bytearray()
        piece = self._decompressor.process(data, output_buffer_limit=_BROTLI_STEP)
        while piece:
            out += piece
            if len(out) >= limit or self._decompressor.can_accept_more_data():
                break
            piece = self._decompressor.process(b"", output_buffer_limit=_BROTLI_STEP)
        return bytes(out)


def _decoder(encoding: str) -> _Decoder:
    if encoding in ("", "identity"):
        return _Identity()
    if encoding in ("gzip", "x-gzip"):
        return _Zlib(16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        return _Deflate()
    if encoding == "br":
        return _Brotli()
    raise _FetchError(f"unsupported content encoding {encoding!r}")


def _size(n: int) -> str:
    return f"{n // _MIB} MB" if n % _MIB == 0 else f"{n} bytes"


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """A Retry-After header (seconds or an HTTP date) as seconds from now; None if unusable."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _drain(response: httpx.Response) -> None:
    """Reads a small unwanted body (redirect, 429) to its end, so the connection can be reused."""
    read = 0
    for chunk in response.iter_raw():
        read += len(chunk)
        if read > NON_HTML_PREFIX:
            return


# --------------------------------------------------------------------------------------------
# The fetcher


class _NoCookies(httpx.Cookies):
    """A jar that is offered every response and keeps nothing."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


_NO_COOKIES = _NoCookies()


class _Client(httpx.Client):
    """httpx's client, whose own jar is never offered the responses: httpx copies each one into
    urllib and email objects for its jar, even one that takes no cookies, and that cost more
    CPU than reading the page. Its jar (see PageFetcher) refuses every cookie all the same."""

    @property
    def cookies(self) -> httpx.Cookies:
        return _NO_COOKIES


class _HostSlots:
    def __init__(self, size: int) -> None:
        self.semaphore = threading.Semaphore(size)
        self.users = 0


class PageFetcher:
    """Fetches pages for link verification. One instance serves many threads and keeps one
    connection pool; `fetch` never raises for network trouble, it reports it in the page."""

    def __init__(
        self,
        *,
        allow_private: bool = False,
        timeout: float = 20.0,
        max_bytes: int = 5 * _MIB,
        max_redirects: int = 10,
        per_host: int = 2,
        user_agent: str = DEFAULT_USER_AGENT,
        resolver: Resolver = system_resolver,
        policy: AddressPolicy | None = None,
    ) -> None:
        """`resolver` and `policy` replace DNS and the address rules (tests); by default only
        public addresses are fetched from, or any with `allow_private`."""
        self._timeout = timeout
        self._max_bytes = max_bytes
        self._max_redirects = max_redirects
        self._per_host = per_host
        backend = _GuardedBackend(resolver, policy or (allow_all if allow_private else public_only))
        self._client = _Client(
            transport=_GuardedTransport(backend),
            trust_env=False,
            # Cookies live for one fetch (see _follow); the client's own jar takes none, so
            # nothing one site sets is ever sent on another page's fetch.
            cookies=CookieJar(DefaultCookiePolicy(allowed_domains=[])),
            headers={
                "User-Agent": user_agent,
                "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
                "Accept-Encoding": "gzip, deflate, br",
            },
        )
        self._slots: dict[str, _HostSlots] = {}
        self._slots_lock = threading.Lock()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def fetch(self, url: str) -> FetchedPage:
        """Fetches `url`, following redirects, within the page's time budget."""
        budget = _Budget(self._timeout)
        token = _BUDGET.set(budget)
        try:
            return self._follow(url, budget)
        finally:
            _BUDGET.reset(token)

    def _follow(self, url: str, budget: _Budget) -> FetchedPage:
        # Redirects are followed here, not by httpx: each hop is checked for its scheme and
        # takes a slot on its own host, cookies last for this fetch only, and a loop is told
        # from a cookie check (a URL visited again with the same cookies is a loop).
        jar = httpx.Cookies()
        visited: set[tuple[str, str]] = set()
        current = url
        try:
            request = self._build(url, jar)
            hops = 0
            while True:
                visited.add((str(request.url), request.headers.get("cookie", "")))
                with self._host_slot(request.url.host, budget):
                    page, location = self._exchange(request, jar, budget)
                if location is None:
                    return page
                if hops == self._max_redirects:
                    return replace(page, error=f"more than {self._max_redirects} redirects")
                hops += 1
                current = location
                request = self._build(location, jar)
                if (str(request.url), request.headers.get("cookie", "")) in visited:
                    return replace(page, error=f"redirect loop at {request.url}")
        except (_FetchError, httpx.HTTPError) as exc:
            return FetchedPage(0, httpx.Headers(), current, b"", self._describe(exc))

    def _build(self, url: str, jar: httpx.Cookies) -> httpx.Request:
        try:
            target = httpx.URL(url)
        except httpx.InvalidURL as exc:
            raise _FetchError(f"invalid URL: {exc}") from exc
        if target.scheme not in ("http", "https") or not target.host:
            raise _FetchError(f"not an http(s) URL: {url}")
        request = self._client.build_request("GET", target)
        if jar:  # the cookie jar's work is costly even when it has nothing to add
            jar.set_cookie_header(request)
        return request

    def _exchange(
        self, request: httpx.Request, jar: httpx.Cookies, budget: _Budget
    ) -> tuple[FetchedPage, str | None]:
        """One hop: the page, and where it redirects to (None when it does not)."""
        response = self._send(request, budget)
        try:
            if _SET_COOKIE_HEADERS.intersection(response.headers):
                jar.extract_cookies(response)
            url = str(request.url)
            # httpx resolves a redirect's Location (RemoteProtocolError if it is unusable) even
            # when it does not follow it; the URL is all that is taken from its next request.
            if response.next_request is not None:
                _drain(response)
                page = FetchedPage(response.status_code, response.headers, url, b"")
                return page, str(response.next_request.url)
            body, error = self._read_body(response)
            return FetchedPage(response.status_code, response.headers, url, body, error), None
        finally:
            response.close()

    def _send(self, request: httpx.Request, budget: _Budget) -> httpx.Response:
        """Sends, backing off on 429/503 as Retry-After asks, at most twice and only while the
        page has time left; after that the 429/503 is the answer."""
        retries = 0
        while True:
            request.extensions["timeout"] = httpx.Timeout(max(budget.remaining(), 0.001)).as_dict()
            response = self._client.send(request, stream=True)
            if response.status_code not in _RETRY_STATUSES or retries == len(_BACKOFF):
                return response
            wait = retry_after_seconds(response.headers.get("retry-after"))
            if wait is None:
                wait = _BACKOFF[retries]
            if wait >= budget.remaining():
                return response
            _drain(response)
            response.close()
            time.sleep(wait)
            retries += 1

    def _read_body(self, response: httpx.Response) -> tuple[bytes, str]:
        """The decoded body, read only as far as needed: up to the size limit for HTML (beyond
        it is an error), a short prefix for anything else."""
        media_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        html = media_type in _HTML_TYPES
        cap = self._max_bytes if html else min(self._max_bytes, NON_HTML_PREFIX)
        encoding = response.headers.get("content-encoding", "").strip().lower()
        body = bytearray()
        try:
            decoder = _decoder(encoding)
            for chunk in response.iter_raw():
                body += decoder.decode(chunk, cap + 1 - len(body))
                if len(body) > cap:
                    break
        except (zlib.error, brotli.error) as exc:
            return b"", f"could not decode the {encoding} body: {exc}"
        except (_FetchError, httpx.HTTPError) as exc:
            return b"", self._describe(exc)
        if len(body) <= cap:
            return bytes(body), ""
        if html:
            return b"", f"page larger than {_size(self._max_bytes)}"
        return bytes(body[:cap]), ""

    def _describe(self, exc: Exception) -> str:
        if isinstance(exc, httpx.TimeoutException):
            return f"timed out after {self._timeout:g} s"
        if isinstance(exc, httpx.ConnectError):
            return f"could not connect: {exc}"
        if isinstance(exc, httpx.HTTPError):
            return f"{type(exc).__name__}: {exc}"
        return str(exc)

    @contextmanager
    def _host_slot(self, host: str, budget: _Budget) -> Iterator[None]:
        """At most `per_host` requests to one host at a time. Waiting for a slot is queueing,
        not the page's fault, so it is not charged to the page's time."""
        with self._slots_lock:
            slots = self._slots.get(host)
            if slots is None:
                slots = self._slots[host] = _HostSlots(self._per_host)
            slots.users += 1
        try:
            started = time.monotonic()
            slots.semaphore.acquire()
            budget.extend(time.monotonic() - started)
            try:
                yield
            finally:
                slots.semaphore.release()
        finally:
            with self._slots_lock:
                slots.users -= 1
                if not slots.users:
                    del self._slots[host]


def _host_of(url: str) -> str:
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


def fetch_many(fetcher: PageFetcher, urls: Iterable[str], workers: int = 16) -> list[FetchedPage]:
    """Fetches many pages on a bounded thread pool; the results are in the order of `urls`.
    Pages are started one host at a time in turn, so a long run of one site's pages (which may
    only go `per_host` at once) does not hold every worker while other sites wait."""
    urls = list(urls)
    if not urls:
        return []
    by_host: dict[str, list[int]] = {}
    for index, url in enumerate(urls):
        by_host.setdefault(_host_of(url), []).append(index)
    pending: SimpleQueue[int] = SimpleQueue()
    for turn in zip_longest(*by_host.values()):
        for index in turn:
            if index is not None:
                pending.put(index)
    pages: list[FetchedPage | None] = [None] * len(urls)

    def fetch_pending() -> None:
        # A worker per thread, not a future per page: waiting on each page's future woke the
        # caller once a page, and that cost more than the bookkeeping it saved.
        while True:
            try:
                index = pending.get_nowait()
            except Empty:
                return
            pages[index] = fetcher.fetch(urls[index])

    threads = min(workers, len(urls))
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="fetch") as pool:
        for done in [pool.submit(fetch_pending) for _ in range(threads)]:
            done.result()
    return cast(list[FetchedPage], pages)
