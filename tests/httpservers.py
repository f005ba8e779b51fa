"""Real HTTP servers on 127.0.0.x for the page fetcher's tests: a small threaded server whose
routes misbehave the way real sites do (redirect loops, endless or trickling responses,
compression bombs, rate limits), which records every connection it accepts, so a test can show
that a refused address was never connected to. Optionally HTTPS, with a test CA.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import functools
import gzip
import socket
import socketserver
import ssl
import sys
import threading
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Self
from urllib.parse import parse_qs, urlsplit

import brotli
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

PAGE = (
    '<!doctype html><html><head><meta charset="utf-8"><title>Guest post</title></head>'
    '<body><p>Read more at <a href="https://client.example/">Client</a> — ça marche.</p>'
    "</body></html>"
).encode()
# The same kind of page in windows-1252, declared only in the Content-Type header.
CP1252_PAGE = "<html><body><p>Caf\u00e9 \u2013 \u201cquotes\u201d</p></body></html>".encode(
    "cp1252"
)
NON_HTML_SIZE = 1024 * 1024
BOMB_SIZE = 64 * 1024 * 1024
_TICK = 0.1  # seconds between the bytes of a trickle


@functools.cache
def gzip_bomb() -> bytes:
    """64 MB of zeros as about 64 KB of gzip."""
    return gzip.compress(bytes(BOMB_SIZE), compresslevel=9)


@functools.cache
def brotli_bomb() -> bytes:
    """64 MB of zeros as about a hundred bytes of brotli."""
    return brotli.compress(bytes(BOMB_SIZE), quality=5)


@dataclass(frozen=True)
class RecordedRequest:
    path: str
    headers: dict[str, str]  # names in lower case
    local_address: str  # the address the client connected to


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30  # no client holds a handler thread for ever
    server: _HTTPServer

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the tests read the site's records instead."""

    def setup(self) -> None:
        # Headers and body go out in separate writes; without this, Nagle holds the body
        # until the client's delayed ACK, 40 ms per response.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        site = self.server.site
        if site.tls is not None:
            raw = self.request
            self.request = site.tls.wrap_socket(raw, server_side=True)
            site.replace_open(raw, self.request)
        super().setup()

    def do_GET(self) -> None:
        site = self.server.site
        url = urlsplit(self.path)
        query = {name: values[-1] for name, values in parse_qs(url.query).items()}
        site.record(
            RecordedRequest(
                url.path,
                {name.lower(): value for name, value in self.headers.items()},
                self.connection.getsockname()[0],
            )
        )
        parts = url.path.strip("/").split("/")
        route = _ROUTES.get(parts[0])
        if route is None:
            self.reply(404, b"not found", "text/plain")
            return
        try:
            route(self, parts[1:], query)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self.close_connection = True  # the fetcher hung up, as it should have

    def reply(
        self,
        status: int,
        body: bytes,
        content_type: str = "text/html; charset=utf-8",
        headers: Sequence[tuple[str, str]] = (),
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    # Routes: each takes the path segments after the first and the query.

    def html(self, parts: list[str], query: dict[str, str]) -> None:
        headers = [("Connection", "close")] if query.get("close") else []
        self.reply(200, PAGE, headers=headers)
        self.close_connection = bool(query.get("close"))

    def pages(self, parts: list[str], query: dict[str, str]) -> None:
        """`/pages/<name>`: whatever the test put in `site.pages[name]` (status, body), as HTML;
        a name not there is a 404."""
        status, body = self.server.site.pages.get("/".join(parts), (404, b"not found"))
        self.reply(status, body)

    def redirect(self, parts: list[str], query: dict[str, str]) -> None:
        """`/redirect?to=URL&code=302`, `close=1` to make the next hop open a new connection."""
        headers = [("Location", query["to"])]
        if query.get("close"):
            headers.append(("Connection", "close"))
            self.close_connection = True
        self.reply(int(query.get("code", "302")), b"moved", headers=headers)

    def chain(self, parts: list[str], query: dict[str, str]) -> None:
        """`/chain/CODE/N`: N more redirects, each with a relative Location, then the page."""
        code, left = parts[0], int(parts[1])
        if left == 0:
            self.reply(200, PAGE)
        else:
            self.reply(int(code), b"moved", headers=[("Location", str(left - 1))])

    def loop(self, parts: list[str], query: dict[str, str]) -> None:
        """`/loop/a` and `/loop/b` redirect to each other."""
        other = "b" if parts[0] == "a" else "a"
        self.reply(301, b"moved", headers=[("Location", other)])

    def cookie_gate(self, parts: list[str], query: dict[str, str]) -> None:
        """Redirects to itself, setting a cookie, until the cookie comes back."""
        if "consent=yes" in self.headers.get("Cookie", ""):
            self.reply(200, PAGE)
        else:
            headers = [("Set-Cookie", "consent=yes; Path=/"), ("Location", "/cookie-gate")]
            self.reply(302, b"", headers=headers)

    def endless(self, parts: list[str], query: dict[str, str]) -> None:
        """An HTML body in chunks that never ends."""
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        chunk = b"<p>" + b"x" * 65_000 + b"</p>"
        frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
        while not self.server.site.stopping.is_set():
            self.wfile.write(frame)

    def trickle(self, parts: list[str], query: dict[str, str]) -> None:
        """Headers at once, then one byte of body every tick, until the client gives up."""
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        while not self.server.site.stopping.wait(_TICK):
            self.wfile.write(b"x")

    def trickle_headers(self, parts: list[str], query: dict[str, str]) -> None:
        """A header that arrives one byte every tick and never ends."""
        self.close_connection = True
        self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        while not self.server.site.stopping.wait(_TICK):
            self.wfile.write(b"x")

    def slow_first_byte(self, parts: list[str], query: dict[str, str]) -> None:
        """Nothing at all for `seconds`, then the page."""
        if not self.server.site.stopping.wait(float(query.get("seconds", "10"))):
            self.reply(200, PAGE)

    def encoded(self, parts: list[str], query: dict[str, str]) -> None:
        """`/encoded/gzip|deflate|deflate-raw|br|gzip-bomb|br-bomb|unknown`."""
        raw_deflate = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        bodies: dict[str, tuple[str, Callable[[], bytes]]] = {
            "gzip": ("gzip", lambda: gzip.compress(PAGE)),
            "deflate": ("deflate", lambda: zlib.compress(PAGE)),
            "deflate-raw": ("deflate", lambda: raw_deflate.compress(PAGE) + raw_deflate.flush()),
            "br": ("br", lambda: brotli.compress(PAGE)),
            "gzip-bomb": ("gzip", gzip_bomb),
            "br-bomb": ("br", brotli_bomb),
            "corrupt": ("gzip", lambda: b"\x1f\x8b\x08\x00not gzip at all"),
            "zstd": ("zstd", lambda: b"(\xb5/\xfd"),
        }
        encoding, body = bodies[parts[0]]
        self.reply(200, body(), headers=[("Content-Encoding", encoding)])

    def charset(self, parts: list[str], query: dict[str, str]) -> None:
        self.reply(200, CP1252_PAGE, "text/html; charset=windows-1252")

    def size(self, parts: list[str], query: dict[str, str]) -> None:
        """`/size/N`: an HTML body of exactly N bytes."""
        self.reply(200, b"x" * int(parts[0]))

    def status(self, parts: list[str], query: dict[str, str]) -> None:
        self.reply(int(parts[0]), PAGE)

    def busy(self, parts: list[str], query: dict[str, str]) -> None:
        """`/busy/KEY?times=N&code=429&retry-after=V`: the first N requests for KEY get `code`
        (with Retry-After V if given), later ones the page."""
        if self.server.site.count(parts[0]) > int(query.get("times", "1")):
            self.reply(200, PAGE)
            return
        after = query.get("retry-after")
        headers = [("Retry-After", after)] if after is not None else []
        self.reply(int(query.get("code", "429")), b"slow down", "text/plain", headers)

    def pdf(self, parts: list[str], query: dict[str, str]) -> None:
        """A big non-HTML body."""
        self.reply(200, b"%PDF-1.7\n" + bytes(NON_HTML_SIZE), "application/pdf")

    def slow(self, parts: list[str], query: dict[str, str]) -> None:
        """The page after `seconds`, counting how many requests are in progress at once."""
        site = self.server.site
        with site.in_flight():
            site.stopping.wait(float(query.get("seconds", "0.3")))
        self.reply(200, PAGE)


_ROUTES: dict[str, Callable[[_Handler, list[str], dict[str, str]], None]] = {
    "html": _Handler.html,
    "pages": _Handler.pages,
    "redirect": _Handler.redirect,
    "chain": _Handler.chain,
    "loop": _Handler.loop,
    "cookie-gate": _Handler.cookie_gate,
    "endless": _Handler.endless,
    "trickle": _Handler.trickle,
    "trickle-headers": _Handler.trickle_headers,
    "slow-first-byte": _Handler.slow_first_byte,
    "encoded": _Handler.encoded,
    "charset": _Handler.charset,
    "size": _Handler.size,
    "status": _Handler.status,
    "busy": _Handler.busy,
    "pdf": _Handler.pdf,
    "slow": _Handler.slow,
}


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], site: Site) -> None:
        self.site = site
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks up the host's FQDN, which can mean a slow reverse lookup.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def process_request(self, request: socket.socket, client_address: tuple[str, int]) -> None:
        self.site.accepted(request, client_address)
        super().process_request(request, client_address)

    def shutdown_request(self, request: socket.socket) -> None:
        self.site.finished(request)
        super().shutdown_request(request)

    def handle_error(self, request: socket.socket, client_address: tuple[str, int]) -> None:
        """A client that refuses the test certificate or hangs up is expected; anything else
        is a bug in a route and is printed."""
        if not isinstance(sys.exc_info()[1], ssl.SSLError | ConnectionError):
            super().handle_error(request, client_address)


class Site:
    """One server with its records: every connection accepted, every request read."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, tls: ssl.SSLContext | None = None):
        self.tls = tls
        # Pages a test writes and changes, served at /pages/<name>.
        self.pages: dict[str, tuple[int, bytes]] = {}
        self.stopping = threading.Event()
        self.connections: list[tuple[str, int]] = []  # the clients' addresses
        self.requests: list[RecordedRequest] = []
        self.most_in_flight = 0
        self._in_flight = 0
        self._counts: dict[str, int] = {}
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._server = _HTTPServer((host, port), self)
        self.host = host
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def url(self, path: str, host: str | None = None) -> str:
        """This site's URL for `path`, optionally under another name for the same address."""
        name = host or (f"[{self.host}]" if ":" in self.host else self.host)
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{name}:{self.port}{path}"

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def count(self, key: str) -> int:
        with self._lock:
            self._counts[key] = self._counts.get(key, 0) + 1
            return self._counts[key]

    def in_flight(self) -> _InFlight:
        return _InFlight(self)

    def accepted(self, sock: socket.socket, client: tuple[str, int]) -> None:
        with self._lock:
            self.connections.append(client[:2])
            self._open.add(sock)

    def replace_open(self, raw: socket.socket, wrapped: socket.socket) -> None:
        """Wrapping for TLS detaches the accepted socket; shut the wrapped one on close."""
        with self._lock:
            self._open.discard(raw)
            self._open.add(wrapped)

    def finished(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.discard(sock)

    def close(self) -> None:
        """Stops the server and ends every handler: slow routes see `stopping`, and
        connections a client keeps alive are shut so their handler threads return."""
        self.stopping.set()
        self._server.shutdown()
        with self._lock:
            for sock in self._open:
                with contextlib.suppress(OSError):  # already closed by the client
                    sock.shutdown(socket.SHUT_RDWR)
        self._server.server_close()  # joins the handler threads
        self._thread.join()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class _InFlight:
    def __init__(self, site: Site) -> None:
        self._site = site

    def __enter__(self) -> None:
        site = self._site
        with site._lock:
            site._in_flight += 1
            site.most_in_flight = max(site.most_in_flight, site._in_flight)

    def __exit__(self, *exc_info: object) -> None:
        with self._site._lock:
            self._site._in_flight -= 1


def sites_on_one_port(hosts: Sequence[str], tls: ssl.SSLContext | None = None) -> list[Site]:
    """Servers on several addresses sharing one port, so one URL's port can lead to any of
    them (the port the first gets may be taken on another address: then try again)."""
    for _ in range(20):
        sites = [Site(hosts[0], tls=tls)]
        try:
            sites.extend(Site(host, sites[0].port, tls) for host in hosts[1:])
        except OSError as exc:
            for site in sites:
                site.close()
            if exc.errno != errno.EADDRINUSE:
                raise
        else:
            return sites
    raise RuntimeError(f"no port free on all of {hosts}")


def ipv6_loopback_available() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@dataclass(frozen=True)
class LocalCA:
    """A certificate authority for one test and a server certificate it signed."""

    ca_file: Path
    server_context: ssl.SSLContext
    server_names: list[str]  # the SNI names clients sent, in order


def make_local_ca(directory: Path, hostname: str) -> LocalCA:
    """A CA (written to `directory`, for SSL_CERT_FILE) and a server context holding a
    certificate for `hostname` only, which records the SNI name of every handshake."""
    now = dt.datetime.now(dt.UTC)

    def certificate(
        subject: str, key: ec.EllipticCurvePrivateKey, issuer: str
    ) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        certificate("Test CA", ca_key, "Test CA")
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        certificate(hostname, key, "Test CA")
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_file = directory / "ca.pem"
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    chain_file = directory / "server.pem"
    chain_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        + cert.public_bytes(serialization.Encoding.PEM)
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(chain_file)
    names: list[str] = []
    context.sni_callback = lambda sock, name, ctx: names.append(name or "")
    return LocalCA(ca_file, context, names)
