"""The outreach email as it goes on the wire: threading, unsubscribe headers, opt-out footer."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from datetime import datetime
from email import policy as email_policy
from email.headerregistry import Address, BaseHeader, HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from urllib.parse import quote

from outreach.mail.inbound import UNSUBSCRIBE_SUBJECT

_REPLY_PREFIX = re.compile(r"^\s*re\s*:", re.IGNORECASE)


class _ListUnsubscribeHeader(UnstructuredHeader):
    """Its URLs must reach mail clients as they are. The default folding turns any word longer
    than a 78-character line (every unsubscribe URL) into RFC 2047 encoded words, which no
    client reads as a link, and costs more than the rest of the email. Lines may run to 998."""

    def fold(self, *, policy: email_policy.Policy) -> str:
        if not str(self).isascii():
            return super().fold(policy=policy)
        return f"{self.name}: {self}{policy.linesep}"


class _KeptHeaderClasses(HeaderRegistry):
    """The standard registry builds a new class with type() for every header set or read, the
    costliest step of building an email; the classes never change, so each is built once."""

    def __init__(self) -> None:
        super().__init__()
        self._built: dict[str, type[BaseHeader]] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        key = name.lower()
        if key not in self._built:
            self._built[key] = super().__getitem__(key)
        return self._built[key]


_HEADERS = _KeptHeaderClasses()
_HEADERS.map_to_type("list-unsubscribe", _ListUnsubscribeHeader)
_POLICY = email_policy.default.clone(header_factory=_HEADERS)


@functools.lru_cache(maxsize=256)
def _from_header(from_name: str, from_address: str) -> BaseHeader:
    """Parsed once per sender: a dispatcher pass sends every email of a mailbox from it."""
    local, _, domain = from_address.rpartition("@")
    return _POLICY.header_factory(
        "From", Address(display_name=from_name, username=local, domain=domain)
    )


def new_message_id(from_address: str) -> str:
    """A globally unique Message-ID on the sender's domain, fixed before the email is sent."""
    return make_msgid(domain=from_address.rpartition("@")[2] or "outreach.invalid")


def followup_subject(first_subject: str) -> str:
    """Follow-ups answer the first email: "Re: <its subject>", never "Re: Re: ..."."""
    return first_subject if _REPLY_PREFIX.match(first_subject) else f"Re: {first_subject}"


def thread_headers(earlier_message_ids: Sequence[str]) -> tuple[str, str]:
    """In-Reply-To (the latest earlier email) and References (all of them, oldest first)."""
    if not earlier_message_ids:
        return "", ""
    return earlier_message_ids[-1], " ".join(earlier_message_ids)


def outreach_body(text: str, signature: str, unsubscribe_url: str) -> str:
    """The rendered template, the mailbox signature and the opt-out line every email carries."""
    parts = [text.rstrip()]
    if signature.strip():
        parts.append(f"-- \n{signature.strip()}")
    parts.append(f"Not interested? Opt out of further emails: {unsubscribe_url}")
    return "\n\n".join(parts) + "\n"


def unsubscribe_mailto(mailbox_address: str, token: str) -> str:
    return f"mailto:{mailbox_address}?subject={quote(f'{UNSUBSCRIBE_SUBJECT} {token}')}"


def build_email(
    *,
    message_id: str,
    from_name: str,
    from_address: str,
    to_address: str,
    subject: str,
    body: str,
    in_reply_to: str,
    references: str,
    unsubscribe_url: str,
    unsubscribe_mailto: str,
    date: datetime,
) -> EmailMessage:
    """The MIME message; without an unsubscribe URL (a test email) no List-Unsubscribe.
    The email package refuses CR/LF inside any header value."""
    message = EmailMessage(policy=_POLICY)
    message["From"] = _from_header(from_name, from_address)
    message["To"] = to_address
    message["Subject"] = subject
    message["Date"] = format_datetime(date)
    message["Message-ID"] = message_id
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
        message["References"] = references
    if unsubscribe_url:
        # RFC 2369 and RFC 8058: mail clients show an unsubscribe button that POSTs to the URL.
        message["List-Unsubscribe"] = f"<{unsubscribe_url}>, <{unsubscribe_mailto}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(body)
    return message
