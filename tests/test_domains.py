"""What users paste becomes the site it belongs to, using the bundled public suffix list."""

import pytest

from outreach.prospects.domains import InvalidDomainError, hostname, registrable_domain


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("example.com", "example.com"),
        ("WWW.Example.COM", "example.com"),
        ("https://www.example.com/write-for-us?x=1#top", "example.com"),
        ("http://blog.example.co.uk/page", "example.co.uk"),
        ("example.com.", "example.com"),
        ("//cdn.example.org/x", "example.org"),
        ("GARDENISTA-BLOG.EXAMPLE/about", "gardenista-blog.example"),
        ("sub.client.example", "client.example"),
        ("bücher.de", "bücher.de"),
        ("https://XN--BCHER-KVA.de/", "bücher.de"),
        ("myblog.blogspot.com", "myblog.blogspot.com"),
        ("user.github.io", "user.github.io"),
        ("https://example.com:8443/x", "example.com"),
    ],
)
def test_registrable_domain(value: str, expected: str) -> None:
    assert registrable_domain(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "no domain or URL given"),
        ("   ", "no domain or URL given"),
        ("localhost", "not a full domain name"),
        ("127.0.0.1", "is an IP address"),
        ("http://[::1]:80/", "is an IP address"),
        ("co.uk", "is a public suffix"),
        ("exa mple.com", "not a valid domain name"),
        ("a..b", "not a valid domain name"),
        ("http://[broken", "is not a URL or domain"),
    ],
)
def test_not_a_site(value: str, message: str) -> None:
    with pytest.raises(InvalidDomainError, match=message):
        registrable_domain(value)


def test_hostname_keeps_subdomains() -> None:
    assert hostname("https://Blog.Example.com/x") == "blog.example.com"
