"""Turning whatever a user pasted (URL, host, "www.Site.com/page") into the site it belongs to."""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from functools import cache
from urllib.parse import urlsplit

import idna
import tldextract

# ASCII letters, digits and inner hyphens, labels of 1-63: such hosts need no IDNA round trip.
_PLAIN_HOST = re.compile(
    r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
)


class InvalidDomainError(ValueError):
    """The text names no public site: empty, an IP address, a single label, bad characters."""


@cache
def _extractor() -> tldextract.TLDExtract:
    # The bundled Public Suffix List snapshot: no network, no cache directory.
    return tldextract.TLDExtract(
        suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True
    )


def hostname(value: str) -> str:
    """The host of a URL or bare host name, lower case, as Unicode (IDN decoded)."""
    text = value.strip()
    if not text:
        raise InvalidDomainError("no domain or URL given")
    if "://" not in text:
        text = "http://" + text.lstrip("/")
    try:
        host = urlsplit(text).hostname or ""
    except ValueError as exc:
        raise InvalidDomainError(f"{value.strip()!r} is not a URL or domain: {exc}") from None
    host = unicodedata.normalize("NFC", host.rstrip(".").lower())
    if not host:
        raise InvalidDomainError(f"{value.strip()!r} has no host name")
    # Only a host ending in a digit (IPv4) or holding a colon (IPv6) can be an IP address;
    # trying to parse every other one as such cost as much as the rest of this function.
    if host[-1].isdigit() or ":" in host:
        try:
            ipaddress.ip_address(host)
        except ValueError:
            pass
        else:
            raise InvalidDomainError(f"{host} is an IP address, not a site's domain")
    if _PLAIN_HOST.fullmatch(host) and "xn--" not in host:
        return host
    try:
        return idna.decode(idna.encode(host, uts46=True))
    except idna.IDNAError as exc:
        raise InvalidDomainError(f"{host!r} is not a valid domain name: {exc}") from None


def registrable_domain(value: str) -> str:
    """The site a URL or host belongs to: "https://www.blog.example.co.uk/x" -> "example.co.uk".

    Hosts under a suffix the list does not know (".example", a new TLD) follow the list's own
    default rule: the last label is the suffix.
    """
    host = hostname(value)
    labels = host.split(".")
    if len(labels) < 2 or not all(labels):
        raise InvalidDomainError(
            f"{host!r} is not a full domain name (expected something like site.com)"
        )
    parts = _extractor()(host)
    if parts.domain and parts.suffix:
        return f"{parts.domain}.{parts.suffix}"
    if parts.suffix:
        raise InvalidDomainError(f"{host!r} is a public suffix, not a site")
    return ".".join(labels[-2:])
