"""What one raw inbound email is: a reply, an auto-reply, a bounce or an unsubscribe request.

Pure on purpose (bytes in, a frozen record out; no database, network or clock) so the IMAP
poller can call it on anything a server hands over and tests can feed it literal emails.
Mail from the wild is often malformed, so nothing here raises: every field is best effort.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from email.headerregistry import BaseHeader
from email.message import Message
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime
from html.parser import HTMLParser

from outreach.mail.models import InboundKind

# The outgoing List-Unsubscribe mailto is mailto:<mailbox>?subject=unsubscribe%20<TOKEN>.
UNSUBSCRIBE_SUBJECT = "unsubscribe"
BODY_LIMIT = 100_000

_SPACE = re.compile(r"\s+")
# The lookbehind starts matches only at the start of a word: linear time on long words.
_ADDRESS = re.compile(r"(?<![\w.%+-])[\w.%+-]+@[\w-]+(?:\.[\w-]+)+")
_BRACKETED_ID = re.compile(r"<([^<>]*)>")
_COMMENT = re.compile(r"\([^()]*\)")
# "Re:", "Fwd:", "AW:", "SV:" ... possibly repeated or numbered ("Re[2]:").
_REPLY_PREFIX = re.compile(
    r"^(?:\s*(?:re|fwd?|aw|wg|sv|vs|antw|rif|tr)\s*(?:\[\d+\]|\(\d+\))?\s*:)+\s*", re.IGNORECASE
)
_UNSUBSCRIBE = re.compile(
    rf"^{UNSUBSCRIBE_SUBJECT}(?:(?:\s+|%20)(?P<token>[A-Za-z0-9_.\-]+))?$", re.IGNORECASE
)
_AUTO_SUBJECT = re.compile(
    r"^\[?\s*(?:out of (?:the )?office|automatic reply|auto[- ]?(?:reply|response|responder)\b"
    r"|auto:|abwesenheit|automatische antwort|r[ée]ponse automatique"
    r"|respuesta autom[aá]tica|risposta automatica|automatisch antwoord"
    r"|i am (?:currently )?(?:out of|away from) the office|i'?m (?:currently )?out of the office"
    r"|on vacation|on holiday|away from (?:the|my) office)",
    re.IGNORECASE,
)
_AUTO_PRECEDENCE = frozenset({"auto_reply", "bulk", "junk"})
_FALSE_FLAGS = frozenset({"no", "false", "0"})
_KEYWORD_END = re.compile(r"[\s;,(]")

_BOUNCE_SUBJECT = re.compile(
    r"^(?:warning: message \S+ delayed|(?:warning:\s*)?(?:undeliver(?:ed|able)|mail delivery fail"
    r"|delivery status notification \((?:failure|delay)\)|failure notice|returned mail"
    r"|delivery (?:failure|failed|delayed)|delayed mail|non-?deliver|could not send message"
    r"|mail system error|message not delivered))",
    re.IGNORECASE,
)
_DAEMON_LOCAL_PARTS = frozenset({"mailer-daemon", "postmaster"})
_DAEMON_NAME = re.compile(r"^mail delivery (?:subsystem|system)\b", re.IGNORECASE)
# Where a plain-text bounce starts quoting the original; codes and addresses below are ours.
_ORIGINAL_MARKER = re.compile(
    r"^[ \t>-]*(?:this is a copy of the message|below this line is a copy of the message"
    r"|original message|unsent message|returned message)",
    re.IGNORECASE | re.MULTILINE,
)
_ORIGINAL_ID = re.compile(r"(?<![\w-])message-id:\s*(<[^<>\s]+>)", re.IGNORECASE)
_ENHANCED_STATUS = r"[245]\.\d{1,3}\.\d{1,3}(?!\d|\.\d)"
# "550 5.1.1 ...", "550-5.1.1 ...", "#550 5.1.1", "554 delivery error": a 4xx/5xx SMTP reply.
_SMTP_REPLY = re.compile(
    rf"(?<![\w.:])(?P<code>[45]\d\d)(?:[ -](?P<status>{_ENHANCED_STATUS})|(?=[ -]))"
)
_STATUS_ALONE = re.compile(rf"(?<![\w.])(?P<status>{_ENHANCED_STATUS})")
_MAILBOX_FULL = re.compile(
    r"\bmailbox (?:is )?full\b|\bover ?quota\b|\bquota exceeded\b"
    r"|\bexceed(?:s|ed)? (?:\w+ ){0,3}quota\b",
    re.IGNORECASE,
)
_DELAY_WORDING = re.compile(
    r"\bdelay(?:ed)?\b|\bwill (?:continue to |be )?retr(?:y|ied)\b|\bstill being retried\b"
    r"|\btemporar(?:y|ily)\b|\bnot yet been delivered\b|\bwarning only\b",
    re.IGNORECASE,
)
_PERMANENT_WORDING = re.compile(
    r"\bpermanent(?:ly)?\b|\bundeliverable\b|\bcould not be delivered\b|\bfail(?:ed|ure)\b"
    r"|\bdoes not exist\b|\buser unknown\b|\bno such (?:user|mailbox|address)\b",
    re.IGNORECASE,
)
_DIAGNOSTIC_TYPE = re.compile(r"^[A-Za-z][\w-]*\s*;\s*")
# HTML rendering, the way a mail client lays text out.
_HTML_LIMIT = 10 * BODY_LIMIT
_MARKED_SECTION = re.compile(r"<!\[[^>]*>?")
_LONE_LT = re.compile(r"<(?=[^<>]*(?:<|\Z))")  # no ">" before the next "<": not a tag
_HIDDEN_TAGS = frozenset({"script", "style", "title"})
_PARAGRAPH_TAGS = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote"})
_LINE_TAGS = frozenset(
    {"div", "tr", "li", "ul", "ol", "dl", "dt", "dd", "table", "pre", "hr", "section", "article"}
    | {"header", "footer", "address", "center", "form", "main", "nav", "aside", "figure"}
)
_CELL_TAGS = frozenset({"td", "th"})
_BLANK_LINES = re.compile(r"\n{3,}")


@dataclass(frozen=True)
class InboundEmail:
    """Everything the poller needs from one inbound email; strings are "" when unknown."""

    kind: InboundKind
    message_id: str
    from_address: str
    from_name: str
    to_address: str
    subject: str
    date: datetime | None
    in_reply_to: str
    references: tuple[str, ...]
    body_text: str
    bounced_recipient: str
    bounce_status: str
    bounce_diagnostic: str
    original_message_id: str
    unsubscribe_token: str

    @property
    def thread_ids(self) -> tuple[str, ...]:
        """Message-IDs this email refers to, most specific first: In-Reply-To, then References
        newest first, then the bounced original; no duplicates, no empties."""
        candidates = (self.in_reply_to, *reversed(self.references), self.original_message_id)
        return tuple(dict.fromkeys(c for c in candidates if c))


@dataclass(frozen=True)
class _Bounce:
    kind: InboundKind
    recipient: str
    status: str
    diagnostic: str
    original_message_id: str


def analyse_inbound(raw: bytes) -> InboundEmail:
    """Parse and classify one raw email as fetched with BODY.PEEK[]."""
    try:
        return _analyse(BytesParser(policy=policy.default).parsebytes(raw))
    except RecursionError:
        # Hostile nesting (parts in parts, comments in comments) exhausts the stdlib parser,
        # while parsing or when a header is read later: go on the headers alone, read plainly.
        return _analyse(BytesParser(policy=policy.compat32).parsebytes(raw, headersonly=True))


def _analyse(msg: Message) -> InboundEmail:
    """The record for a parsed email; the kind by precedence bounce > unsubscribe > auto > reply."""
    from_name, from_address = _first_address(_raw_header(msg, "From"))
    to_address = _first_address(_raw_header(msg, "To"))[1]
    subject = _header(msg, "Subject")
    body_text = _body_text(msg)
    bounce = _bounce(msg, subject, from_name, from_address, to_address, body_text)
    unsubscribe = None if bounce else _UNSUBSCRIBE.match(_strip_reply_prefixes(subject))
    if bounce:
        kind = bounce.kind
    elif unsubscribe:
        kind = InboundKind.UNSUBSCRIBE
    elif _is_auto_reply(msg, subject):
        kind = InboundKind.AUTO_REPLY
    else:
        kind = InboundKind.REPLY
    in_reply_to = _message_ids(_header(msg, "In-Reply-To"))
    return InboundEmail(
        kind=kind,
        message_id=next(iter(_message_ids(_header(msg, "Message-ID"))), ""),
        from_address=from_address,
        from_name=from_name,
        to_address=to_address,
        subject=subject,
        date=_date(_header(msg, "Date")),
        in_reply_to=in_reply_to[0] if in_reply_to else "",
        references=_message_ids(_header(msg, "References")),
        body_text=body_text,
        bounced_recipient=bounce.recipient if bounce else "",
        bounce_status=bounce.status if bounce else "",
        bounce_diagnostic=bounce.diagnostic if bounce else "",
        original_message_id=bounce.original_message_id if bounce else "",
        unsubscribe_token=(unsubscribe.group("token") or "") if unsubscribe else "",
    )


# --- Headers ---------------------------------------------------------------------------------


def _header(msg: Message, name: str) -> str:
    """A header decoded (RFC 2047) with whitespace collapsed; "" when absent.

    The raw value is decoded here when the stdlib's structured parser did not give a header
    object: it has known crashes on hostile input, and compat32 messages do not use it.
    """
    try:
        value = msg.get(name)
    except Exception:  # any parser bug must degrade to the raw value
        value = None
    if isinstance(value, BaseHeader):
        return _clean(str(value))
    return _clean(_decode_words(_raw_header(msg, name)))


def _raw_header(msg: Message, name: str) -> str:
    """A header's first value as received, still RFC 2047-encoded; "" when absent."""
    return next((value for key, value in msg.raw_items() if key.lower() == name.lower()), "")


def _decode_words(text: str) -> str:
    """RFC 2047 encoded words decoded; the text unchanged when they do not decode."""
    try:
        return str(make_header(decode_header(text)))
    except (HeaderParseError, LookupError, UnicodeError, ValueError):
        return text


def _clean(text: str) -> str:
    """A one-line value: whitespace collapsed, storable."""
    return _SPACE.sub(" ", _storable(text)).strip()


def _storable(text: str) -> str:
    """Text a database column accepts: raw 8-bit bytes the parser kept as surrogates are read
    as UTF-8; NULs and any other lone surrogates (a UTF-7 body can make them) are dropped."""
    try:
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "ignore").decode("utf-8")
    return text.replace("\x00", "")


def _first_address(value: str) -> tuple[str, str]:
    """(display name, lower-cased addr-spec) of the first address in a raw header, or ("", "").

    Parsed before decoding so an encoded name with a comma cannot split the address, and from
    the raw value because the stdlib's rendering drops old-style "addr (Name)" names.
    """
    try:
        addresses = getaddresses([_SPACE.sub(" ", value)])
    except RecursionError:  # comments nested thousands deep
        addresses = []
    for name, address in addresses:
        if address:
            return _clean(_decode_words(name)), _clean(address).lower()
    found = _ADDRESS.search(value)
    return ("", _clean(found.group()).lower()) if found else ("", "")


def _message_ids(value: str) -> tuple[str, ...]:
    """The <...> ids in a header, in order; bare "local@domain" words get their brackets back."""
    ids = [_SPACE.sub("", found) for found in _BRACKETED_ID.findall(value)]
    if not ids:
        words = _COMMENT.sub(" ", value).split()
        ids = [word.strip(",;<>") for word in words if "@" in word]
    return tuple(f"<{found}>" for found in ids if found)


def _date(value: str) -> datetime | None:
    """The Date header as an aware UTC datetime; a date without zone is taken as UTC."""
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _strip_reply_prefixes(subject: str) -> str:
    return _REPLY_PREFIX.sub("", subject).strip()


# --- Body ------------------------------------------------------------------------------------


def _body_text(msg: Message) -> str:
    """The readable text: the first text/plain part, else the first text/html one as text."""
    parts = [
        part
        for part in _inline_leaves(msg)
        if part.get_content_type() in ("text/plain", "text/html")
        and part.get_content_disposition() != "attachment"
    ]
    plain = next((p for p in parts if p.get_content_type() == "text/plain"), None)
    if plain is not None:
        text = _part_text(plain)
    elif parts:
        text = _html_to_text(_part_text(parts[0]))
    else:
        text = ""
    text = _storable(text).replace("\r\n", "\n").replace("\r", "\n")
    return text.strip()[:BODY_LIMIT]


def _inline_leaves(msg: Message) -> Iterator[Message]:
    """Leaf parts in order, without going into attached messages: a bounce's copy of the
    original, or a forwarded email, is not what this email says."""
    if msg.get_content_maintype() == "message":
        return
    if msg.is_multipart():
        for part in msg.get_payload():
            yield from _inline_leaves(part)
    else:
        yield msg


def _part_text(part: Message) -> str:
    """A leaf's content decoded from its transfer encoding and charset."""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    try:
        return payload.decode(_codec(part.get_content_charset()), errors="replace")
    except (LookupError, UnicodeError, ValueError):  # a non-text codec such as "base64"
        return payload.decode("utf-8", errors="replace")


def _codec(charset: str | None) -> str:
    """The codec for a declared charset, widened the way browsers do: mail labelled ASCII is
    often UTF-8 and mail labelled Latin-1 is often Windows-1252."""
    try:
        name = codecs.lookup(charset or "utf-8").name
    except (LookupError, ValueError):
        return "utf-8"
    return {"ascii": "utf-8", "iso8859-1": "cp1252"}.get(name, name)


def _html_to_text(html: str) -> str:
    """Text of an HTML body, after three guards for HTMLParser: a size cap; marked sections
    ("<![if mso]>", "<![CDATA[") dropped as browsers do, as they can make it raise
    AssertionError; and a "<" that cannot open a tag escaped, as runs of those take it
    quadratic time."""
    html = _MARKED_SECTION.sub(" ", html[:_HTML_LIMIT])
    parser = _TextExtractor()
    parser.feed(_LONE_LT.sub("&lt;", html))
    parser.close()
    return parser.text()


class _TextExtractor(HTMLParser):
    """HTML as a reader sees it: no scripts or styles, block elements on lines of their own."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._chunks: list[str] = []
        self._hidden_depth = 0
        self._pre_depth = 0
        self._trailing_newlines = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN_TAGS:
            self._hidden_depth += 1
        elif tag == "br":
            self._chunks.append("\n")
            self._trailing_newlines += 1
        else:
            self._pre_depth += tag == "pre"
            self._break_for(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN_TAGS:
            self._hidden_depth = max(0, self._hidden_depth - 1)
        elif tag in _CELL_TAGS:
            self._chunks.append(" ")
        else:
            self._pre_depth = max(0, self._pre_depth - (tag == "pre"))
            self._break_for(tag)

    def handle_data(self, data: str) -> None:
        if self._hidden_depth:
            return
        text = data if self._pre_depth else _SPACE.sub(" ", data)
        self._chunks.append(text)
        if text.strip():
            self._trailing_newlines = 0

    def _break_for(self, tag: str) -> None:
        """End the current line (or paragraph) unless the text already ends with one."""
        wanted = 2 if tag in _PARAGRAPH_TAGS else 1 if tag in _LINE_TAGS else 0
        if wanted > self._trailing_newlines:
            self._chunks.append("\n" * (wanted - self._trailing_newlines))
            self._trailing_newlines = wanted

    def text(self) -> str:
        lines = (line.strip() for line in "".join(self._chunks).split("\n"))
        return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


# --- Bounces ---------------------------------------------------------------------------------


def _bounce(
    msg: Message,
    subject: str,
    from_name: str,
    from_address: str,
    to_address: str,
    body_text: str,
) -> _Bounce | None:
    """The bounce this email reports, if it is one: a DSN's own fields first, then the text."""
    blocks = _delivery_status_blocks(msg)
    reported = [block for block in blocks if _header(block, "Action")]
    if reported:
        failed = next((block for block in reported if _block_kind(block)), None)
        if failed is None:  # every recipient delivered or relayed: a report, not a bounce
            return None
    elif _looks_like_bounce(msg, subject, from_name, from_address):
        failed = next((block for block in blocks if _dsn_recipient(block)), Message())
    else:
        return None
    searchable = _before_original(body_text)
    text_status, text_line, text_code = _smtp_error(searchable)
    diagnostic = _diagnostic(failed)
    status = _status_in(_header(failed, "Status")) or _status_in(diagnostic) or text_status
    return _Bounce(
        kind=_block_kind(failed) or _text_kind(status or text_code, f"{subject}\n{searchable}"),
        recipient=(
            _dsn_recipient(failed)
            or _first_address(_raw_header(msg, "X-Failed-Recipients"))[1]
            or _recipient_in(searchable, exclude={from_address, to_address})
        ),
        status=status,
        diagnostic=diagnostic or text_line,
        original_message_id=_attached_original_id(msg) or _original_id_in(body_text),
    )


def _looks_like_bounce(msg: Message, subject: str, from_name: str, from_address: str) -> bool:
    """The signs of a bounce without a usable DSN: its sender, its subject, Exim's header."""
    signs = (
        msg.get_content_type() == "multipart/report"
        and msg.get_param("report-type") == "delivery-status",
        "X-Failed-Recipients" in msg,
        from_address.partition("@")[0] in _DAEMON_LOCAL_PARTS,
        _DAEMON_NAME.match(from_name) is not None,
        _BOUNCE_SUBJECT.match(subject) is not None,
    )
    return any(signs)


def _delivery_status_blocks(msg: Message) -> list[Message]:
    """The field blocks of the message/delivery-status part (RFC 3464): the per-message block
    then one per recipient. Python parses each block into a Message of headers."""
    for part in msg.walk():
        if part.get_content_type() == "message/delivery-status" and part.is_multipart():
            return part.get_payload()
    return []


def _block_kind(block: Message) -> InboundKind | None:
    """Failed with 5.x.x is hard; 4.x.x, delayed or a full mailbox is soft; delivered, relayed
    or expanded is no bounce."""
    action = _header(block, "Action").lower()
    diagnostic = _diagnostic(block)
    status = _status_in(_header(block, "Status")) or _status_in(diagnostic)
    if action not in ("failed", "delayed"):
        return None
    if action == "delayed" or status.startswith("4") or _is_mailbox_full(status, diagnostic):
        return InboundKind.BOUNCE_SOFT
    return InboundKind.BOUNCE_HARD


def _dsn_recipient(block: Message) -> str:
    """Original-Recipient (the address as we sent it, before any alias expansion), else
    Final-Recipient; both read "rfc822; addr"."""
    for field in ("Original-Recipient", "Final-Recipient"):
        found = _ADDRESS.search(_header(block, field).rpartition(";")[2])
        if found:
            return found.group().lower()
    return ""


def _diagnostic(block: Message) -> str:
    """Diagnostic-Code without its type ("smtp; 550 ..." becomes "550 ...")."""
    return _DIAGNOSTIC_TYPE.sub("", _header(block, "Diagnostic-Code"))


def _status_in(text: str) -> str:
    found = _STATUS_ALONE.search(text)
    return found.group("status") if found else ""


def _smtp_error(text: str) -> tuple[str, str, str]:
    """(enhanced status, the line it is on, SMTP code) of the most precise SMTP error in a
    bounce's text: a reply with an enhanced status beats a bare code, which beats a status."""
    replies = list(_SMTP_REPLY.finditer(text))
    best = (
        next((reply for reply in replies if reply.group("status")), None)
        or next(iter(replies), None)
        or _STATUS_ALONE.search(text)
    )
    if best is None:
        return "", "", ""
    groups = best.groupdict()
    line_start = text.rfind("\n", 0, best.start()) + 1
    line_end = text.find("\n", best.end())
    line = text[line_start : line_end if line_end >= 0 else None]
    return groups.get("status") or "", _clean(line), groups.get("code") or ""


def _text_kind(code: str, text: str) -> InboundKind:
    """5xx is hard and 4xx soft; without a code, delay wording is soft and permanent-failure
    wording hard. A full mailbox is soft even at 5.2.2: it is usually temporary."""
    if _is_mailbox_full(code, text):
        return InboundKind.BOUNCE_SOFT
    if code:
        return InboundKind.BOUNCE_HARD if code.startswith("5") else InboundKind.BOUNCE_SOFT
    if _DELAY_WORDING.search(text) or not _PERMANENT_WORDING.search(text):
        return InboundKind.BOUNCE_SOFT
    return InboundKind.BOUNCE_HARD


def _is_mailbox_full(status: str, text: str) -> bool:
    return status.endswith(".2.2") or bool(_MAILBOX_FULL.search(text))


def _before_original(text: str) -> str:
    """A plain-text bounce up to where it quotes the original email."""
    marker = _ORIGINAL_MARKER.search(text)
    return text[: marker.start()] if marker else text


def _recipient_in(text: str, exclude: set[str]) -> str:
    """The first address in a bounce's text that is neither party nor a mail daemon."""
    for found in _ADDRESS.finditer(text):
        address = found.group().lower()
        if address not in exclude and address.partition("@")[0] not in _DAEMON_LOCAL_PARTS:
            return address
    return ""


def _attached_original_id(msg: Message) -> str:
    """Message-ID of the bounced original, from its copy attached to the bounce."""
    for part in msg.walk():
        headers = _original_headers(part)
        ids = _message_ids(_header(headers, "Message-ID")) if headers is not None else ()
        if ids:
            return ids[0]
    return ""


def _original_headers(part: Message) -> Message | None:
    """The headers in a message/rfc822 or text/rfc822-headers part; None for other parts."""
    content_type = part.get_content_type()
    if content_type == "message/rfc822" and part.is_multipart():
        return next(iter(part.get_payload()), None)
    if content_type == "text/rfc822-headers":
        headers = part.get_payload(decode=True) or b""
        return BytesParser(policy=policy.default).parsebytes(headers, headersonly=True)
    return None


def _original_id_in(text: str) -> str:
    found = _ORIGINAL_ID.search(text)
    return found.group(1) if found else ""


# --- Auto-replies ----------------------------------------------------------------------------


def _is_auto_reply(msg: Message, subject: str) -> bool:
    """Headers that autoresponders set, or a subject they write. Signals that human mail also
    carries (Outlook's X-Auto-Response-Suppress) only count two at a time."""
    precedences = {_first_word(msg, name) for name in ("Precedence", "X-Precedence")}
    return bool(
        ("Auto-Submitted" in msg and _first_word(msg, "Auto-Submitted") != "no")
        or _flag(msg, "X-Autoreply")
        or _flag(msg, "X-Autorespond")
        or precedences & _AUTO_PRECEDENCE
        or msg.get_content_type() == "multipart/report"  # a delivery or read report, not failed
        or _AUTO_SUBJECT.match(_strip_reply_prefixes(subject))
        or _weak_auto_signals(msg) >= 2
    )


def _flag(msg: Message, name: str) -> bool:
    """A yes/no header that is present and not a no ("X-Autoreply: yes")."""
    return name in msg and _first_word(msg, name) not in _FALSE_FLAGS


def _first_word(msg: Message, name: str) -> str:
    """A header's keyword, lower-cased, without the comment or parameters after it."""
    return _KEYWORD_END.split(_header(msg, name).lower(), maxsplit=1)[0]


def _weak_auto_signals(msg: Message) -> int:
    """Hints that human mail carries too, each alone; together they mean a machine wrote it."""
    suppress = {
        word.strip() for word in _header(msg, "X-Auto-Response-Suppress").lower().split(",")
    }
    return sum(
        (
            bool(suppress & {"oof", "all"}),
            bool(_header(msg, "X-MS-Exchange-Inbox-Rules-Loop")),
            _header(msg, "Return-Path") == "<>",  # the null sender of generated mail
        )
    )
