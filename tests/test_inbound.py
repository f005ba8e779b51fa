"""Classifying raw inbound emails: replies, auto-replies, bounces and unsubscribe requests.

Each email is written out as a server would hand it over, so the tests read like the mail.
"""

from __future__ import annotations

import dataclasses
import random
import textwrap
from datetime import UTC, datetime

import pytest

from outreach.mail.inbound import BODY_LIMIT, InboundEmail, analyse_inbound
from outreach.mail.models import InboundKind


def _email(text: str, charset: str = "utf-8") -> bytes:
    """A literal email as IMAP returns it: dedented, CRLF line ends, encoded."""
    return textwrap.dedent(text).lstrip("\n").replace("\n", "\r\n").encode(charset)


def _reply(headers: str, body: str = "Sounds good, send it over.\n") -> bytes:
    """A plain human reply with the given extra headers."""
    return _email(
        "From: Jan Novak <jan.novak@acme.example>\n"
        "To: hello@ourdomain.example\n"
        "Date: Wed, 13 Nov 2024 09:30:00 +0100\n"
        "Message-ID: <reply.1@mail.acme.example>\n"
        "In-Reply-To: <outreach.42.7@ourdomain.example>\n"
        f"{textwrap.dedent(headers).strip()}\n"
        "Content-Type: text/plain; charset=utf-8\n"
        "\n"
        f"{body}"
    )


def _assert_no_bounce_fields(result: InboundEmail) -> None:
    assert result.bounced_recipient == ""
    assert result.bounce_status == ""
    assert result.bounce_diagnostic == ""
    assert result.original_message_id == ""


# --- Replies -----------------------------------------------------------------------------------


def test_plain_reply_with_threading_headers() -> None:
    result = analyse_inbound(
        _email("""
            Return-Path: <jan.novak@acme.example>
            From: =?utf-8?b?SsO8cmdlbiBNw7xsbGVy?= <Juergen.Mueller@ACME.example>
            To: =?utf-8?q?L=C3=B3pez=2C_Ana?= <Hello@OurDomain.example>, boss@acme.example
            Cc: team@acme.example
            Subject: Re: Our autumn guide
            Date: Wed, 13 Nov 2024 09:30:00 +0100
            Message-ID: <CAKx=1a2b3c@mail.acme.example>
            In-Reply-To: <outreach.42.7@ourdomain.example>
            References: <outreach.42.1@ourdomain.example>
             <outreach.42.7@ourdomain.example>
            MIME-Version: 1.0
            Content-Type: text/plain; charset=utf-8
            Content-Transfer-Encoding: 7bit

            Hi Ana,

            thanks, happy to add the guide to our resources page.

            Jürgen

            On Tue, 12 Nov 2024 at 10:15, Ana Lopez <hello@ourdomain.example> wrote:
            > Hi Jürgen, we just published our autumn guide.
        """)
    )

    assert result.kind is InboundKind.REPLY
    assert result.message_id == "<CAKx=1a2b3c@mail.acme.example>"
    assert result.from_address == "juergen.mueller@acme.example"
    assert result.from_name == "Jürgen Müller"
    assert result.to_address == "hello@ourdomain.example"
    assert result.subject == "Re: Our autumn guide"
    assert result.date == datetime(2024, 11, 13, 8, 30, tzinfo=UTC)
    assert result.in_reply_to == "<outreach.42.7@ourdomain.example>"
    assert result.references == (
        "<outreach.42.1@ourdomain.example>",
        "<outreach.42.7@ourdomain.example>",
    )
    assert result.body_text.startswith("Hi Ana,\n\nthanks, happy to add the guide")
    assert result.body_text.endswith("> Hi Jürgen, we just published our autumn guide.")
    assert "\r" not in result.body_text
    assert result.unsubscribe_token == ""
    _assert_no_bounce_fields(result)


def test_html_only_reply_is_rendered_as_text() -> None:
    result = analyse_inbound(
        _email("""
            From: Jan Novak <jan.novak@acme.example>
            To: hello@ourdomain.example
            Subject: Re: Our autumn guide
            Message-ID: <html.1@mail.acme.example>
            In-Reply-To: <outreach.42.7@ourdomain.example>
            MIME-Version: 1.0
            Content-Type: text/html; charset=utf-8
            Content-Transfer-Encoding: quoted-printable

            <html><head><title>Reply</title><style>p { color: red }</style>
            <script>alert("tracking")</script></head><body>
            <div>Hi Ana,</div><div><br></div>
            <p>Thanks &amp; yes&nbsp;&mdash; we will link it from our <a href=3D"https://a=
            cme.example/">resources page</a>.</p>
            <p>Best,<br>Jan</p>
            <![if !mso]><table><tr><td>Sent from</td><td>my phone</td></tr></table><![endif]>
            </body></html>
        """)
    )

    assert result.kind is InboundKind.REPLY
    assert result.body_text == (
        "Hi Ana,\n"
        "\n"
        "Thanks & yes — we will link it from our resources page.\n"
        "\n"
        "Best,\n"
        "Jan\n"
        "\n"
        "Sent from my phone"
    )


def test_text_plain_is_preferred_over_html_in_an_alternative() -> None:
    result = analyse_inbound(
        _email("""
            From: jan.novak@acme.example
            To: hello@ourdomain.example
            Subject: Re: Our autumn guide
            MIME-Version: 1.0
            Content-Type: multipart/mixed; boundary="outer"

            --outer
            Content-Type: multipart/alternative; boundary="inner"

            --inner
            Content-Type: text/html; charset=utf-8

            <p>HTML version</p>
            --inner
            Content-Type: text/plain; charset=utf-8

            Plain version
            --inner--
            --outer
            Content-Type: text/plain; charset=utf-8
            Content-Disposition: attachment; filename="notes.txt"

            An attachment, not the message.
            --outer
            Content-Type: message/rfc822

            From: someone@else.example
            Subject: forwarded

            A forwarded email, not the message.
            --outer--
        """)
    )

    assert result.kind is InboundKind.REPLY
    assert result.body_text == "Plain version"


@pytest.mark.parametrize(
    ("charset", "encoding", "body", "expected"),
    [
        (
            "utf-8",
            "base64",
            "U2Now7ZuZSBHcsO8w59lIGF1cyBNw7xuY2hlbiDigJMgZ2VybiB2ZXJsaW5rZW4gd2lyIGV1cmVu\n"
            "IExlaXRmYWRlbiEK\n",
            "Schöne Grüße aus München – gern verlinken wir euren Leitfaden!",
        ),
        (
            "iso-8859-1",
            "base64",
            "U2No9m5lIEdy/N9lIGF1cyBN/G5jaGVuLCBnZXJuIHZlcmxpbmtlbiB3aXIgZXVyZW4gTGVpdGZh\n"
            "ZGVuIQo=\n",
            "Schöne Grüße aus München, gern verlinken wir euren Leitfaden!",
        ),
        (
            "utf-8",
            "quoted-printable",
            "Sch=C3=B6ne Gr=C3=BC=C3=9Fe aus M=C3=BCnchen =E2=80=93 gern verlinken wir e=\n"
            "uren Leitfaden!\n",
            "Schöne Grüße aus München – gern verlinken wir euren Leitfaden!",
        ),
        (
            "iso-8859-1",
            "quoted-printable",
            "Sch=F6ne Gr=FC=DFe aus M=FCnchen, gern verlinken wir euren Leitfaden!\n",
            "Schöne Grüße aus München, gern verlinken wir euren Leitfaden!",
        ),
    ],
)
def test_transfer_encodings_and_charsets_are_decoded(
    charset: str, encoding: str, body: str, expected: str
) -> None:
    raw = _email(
        "From: info@baeckerei.example\n"
        "To: hello@ourdomain.example\n"
        "Subject: Re: Euer Herbst-Leitfaden\n"
        "MIME-Version: 1.0\n"
        f'Content-Type: text/plain; charset="{charset}"\n'
        f"Content-Transfer-Encoding: {encoding}\n"
        "\n"
        f"{body}"
    )

    assert analyse_inbound(raw).body_text == expected


def test_eight_bit_latin1_body_without_transfer_encoding() -> None:
    raw = _email(
        """
        From: info@baeckerei.example
        Subject: Re: Euer Herbst-Leitfaden
        Content-Type: text/plain; charset=ISO-8859-1
        Content-Transfer-Encoding: 8bit

        Grüße aus Köln
        """,
        charset="iso-8859-1",
    )

    assert analyse_inbound(raw).body_text == "Grüße aus Köln"


def test_rfc2047_subject_is_decoded_and_unfolded() -> None:
    result = analyse_inbound(
        _email("""
            From: info@baeckerei.example
            To: hello@ourdomain.example
            Subject: =?utf-8?b?UmU6IFNjaMO2bmUgR3LDvMOfZSBhdXMgTcO8bmNoZW4=?=
             =?ISO-8859-1?Q?_und_K=F6ln?=

            Danke!
        """)
    )

    assert result.subject == "Re: Schöne Grüße aus München und Köln"
    assert result.kind is InboundKind.REPLY


def test_message_ids_without_brackets_and_with_comments() -> None:
    result = analyse_inbound(
        _email("""
            From: jan.novak@acme.example
            Subject: Re: Our autumn guide
            Message-ID: reply.2@mail.acme.example
            In-Reply-To: <outreach.42.7@ourdomain.example> (Ana Lopez's message of Tue)
            References: <outreach.42.1@ourdomain.example> (first)
              <outreach.42.4@ourdomain.example>
              <outreach.42.7@ourdomain.example>

            Yes.
        """)
    )

    assert result.message_id == "<reply.2@mail.acme.example>"
    assert result.in_reply_to == "<outreach.42.7@ourdomain.example>"
    assert result.references == (
        "<outreach.42.1@ourdomain.example>",
        "<outreach.42.4@ourdomain.example>",
        "<outreach.42.7@ourdomain.example>",
    )


def test_thread_ids_most_specific_first_without_duplicates() -> None:
    result = analyse_inbound(
        _reply("""
            Subject: Re: Our autumn guide
            References: <a@ourdomain.example> <b@ourdomain.example>
              <outreach.42.7@ourdomain.example>
        """)
    )

    assert result.thread_ids == (
        "<outreach.42.7@ourdomain.example>",
        "<b@ourdomain.example>",
        "<a@ourdomain.example>",
    )
    with_original = dataclasses.replace(
        result, in_reply_to="", original_message_id="<a@ourdomain.example>"
    )
    assert with_original.thread_ids == (
        "<outreach.42.7@ourdomain.example>",
        "<b@ourdomain.example>",
        "<a@ourdomain.example>",
    )
    bounce_only = dataclasses.replace(result, in_reply_to="", references=(), original_message_id="")
    assert bounce_only.thread_ids == ()


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Date: Wed, 13 Nov 2024 09:30:00 -0500", datetime(2024, 11, 13, 14, 30, tzinfo=UTC)),
        ("Date: Wed, 13 Nov 2024 09:30:00 -0000", datetime(2024, 11, 13, 9, 30, tzinfo=UTC)),
        ("Date: 13 Nov 2024 09:30 GMT", datetime(2024, 11, 13, 9, 30, tzinfo=UTC)),
        ("Date: yesterday, around noon", None),
        ("X-No-Date: here", None),
    ],
)
def test_date_is_aware_utc_or_none(header: str, expected: datetime | None) -> None:
    result = analyse_inbound(_email(f"From: a@b.example\n{header}\n\nHi\n"))

    assert result.date == expected
    assert result.date is None or result.date.tzinfo is UTC


def test_list_headers_alone_do_not_make_an_auto_reply() -> None:
    result = analyse_inbound(
        _reply("""
            Subject: Re: Our autumn guide
            List-Id: <editors.acme.example>
            List-Unsubscribe: <mailto:leave@acme.example>
        """)
    )

    assert result.kind is InboundKind.REPLY


# --- Bounces -----------------------------------------------------------------------------------

POSTFIX_HARD_BOUNCE = """
    Return-Path: <>
    Delivered-To: hello@ourdomain.example
    Date: Tue, 12 Nov 2024 10:15:02 +0100 (CET)
    From: MAILER-DAEMON@mx.ourdomain.example (Mail Delivery System)
    Subject: Undelivered Mail Returned to Sender
    To: hello@ourdomain.example
    Auto-Submitted: auto-replied
    MIME-Version: 1.0
    Content-Type: multipart/report; report-type=delivery-status;
        boundary="4XyzQ1.1731402902/mx.ourdomain.example"
    Message-Id: <20241112091502.4XyzQ1@mx.ourdomain.example>

    This is a MIME-encapsulated message.

    --4XyzQ1.1731402902/mx.ourdomain.example
    Content-Description: Notification
    Content-Type: text/plain; charset=us-ascii

    This is the mail system at host mx.ourdomain.example.

    I'm sorry to have to inform you that your message could not
    be delivered to one or more recipients. It's attached below.

    For further assistance, please send mail to postmaster.

                       The mail system

    <jan.novak@acme.example>: host mx1.acme.example[192.0.2.25] said: 550 5.1.1
        <jan.novak@acme.example>: Recipient address rejected: User unknown in
        virtual mailbox table (in reply to RCPT TO command)

    --4XyzQ1.1731402902/mx.ourdomain.example
    Content-Description: Delivery report
    Content-Type: message/delivery-status

    Reporting-MTA: dns; mx.ourdomain.example
    X-Postfix-Queue-ID: 4XyzQ1
    X-Postfix-Sender: rfc822; hello@ourdomain.example
    Arrival-Date: Tue, 12 Nov 2024 10:15:01 +0100 (CET)

    Final-Recipient: rfc822; jan.novak@acme.example
    Original-Recipient: rfc822;Jan.Novak@acme.example
    Action: failed
    Status: 5.1.1
    Remote-MTA: dns; mx1.acme.example
    Diagnostic-Code: smtp; 550 5.1.1 <jan.novak@acme.example>: Recipient address
        rejected: User unknown in virtual mailbox table

    --4XyzQ1.1731402902/mx.ourdomain.example
    Content-Description: Undelivered Message Headers
    Content-Type: text/rfc822-headers

    Return-Path: <hello@ourdomain.example>
    Message-ID: <outreach.42.7@ourdomain.example>
    Date: Tue, 12 Nov 2024 10:15:00 +0100
    From: Ana Lopez <hello@ourdomain.example>
    To: jan.novak@acme.example
    Subject: Our autumn guide

    --4XyzQ1.1731402902/mx.ourdomain.example--
"""


def test_postfix_dsn_hard_bounce() -> None:
    result = analyse_inbound(_email(POSTFIX_HARD_BOUNCE))

    assert result.kind is InboundKind.BOUNCE_HARD
    assert result.bounced_recipient == "jan.novak@acme.example"
    assert result.bounce_status == "5.1.1"
    assert result.bounce_diagnostic == (
        "550 5.1.1 <jan.novak@acme.example>: Recipient address rejected: "
        "User unknown in virtual mailbox table"
    )
    assert result.original_message_id == "<outreach.42.7@ourdomain.example>"
    assert result.thread_ids == ("<outreach.42.7@ourdomain.example>",)
    assert result.from_address == "mailer-daemon@mx.ourdomain.example"
    assert result.from_name == "Mail Delivery System"
    assert result.message_id == "<20241112091502.4XyzQ1@mx.ourdomain.example>"
    assert result.body_text.startswith("This is the mail system at host mx.ourdomain.example.")
    assert "Reporting-MTA" not in result.body_text
    assert result.date == datetime(2024, 11, 12, 9, 15, 2, tzinfo=UTC)


def test_dsn_original_recipient_wins_over_the_alias_target() -> None:
    aliased = POSTFIX_HARD_BOUNCE.replace(
        "Final-Recipient: rfc822; jan.novak@acme.example",
        "Final-Recipient: rfc822; jan.novak@mailhost.acme.example",
    )

    assert analyse_inbound(_email(aliased)).bounced_recipient == "jan.novak@acme.example"


def test_dsn_with_an_attached_message_gives_its_message_id() -> None:
    attached = POSTFIX_HARD_BOUNCE.replace(
        "Content-Type: text/rfc822-headers", "Content-Type: message/rfc822"
    )

    assert analyse_inbound(_email(attached)).original_message_id == (
        "<outreach.42.7@ourdomain.example>"
    )


def test_postfix_dsn_delayed_is_soft() -> None:
    result = analyse_inbound(
        _email("""
            Return-Path: <>
            From: MAILER-DAEMON@mx.ourdomain.example (Mail Delivery System)
            To: hello@ourdomain.example
            Subject: Delayed Mail (still being retried)
            Auto-Submitted: auto-replied
            MIME-Version: 1.0
            Content-Type: multipart/report; report-type=delivery-status; boundary="B1"

            --B1
            Content-Type: text/plain; charset=us-ascii

            ################################################################
            # THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #
            ################################################################

            Your message could not be delivered for more than 4 hour(s).
            It will be retried until it is 5 day(s) old.

            <editor@slow.example>: connect to mx.slow.example[198.51.100.7]:25: Connection
                timed out

            --B1
            Content-Type: message/delivery-status

            Reporting-MTA: dns; mx.ourdomain.example
            Arrival-Date: Tue, 12 Nov 2024 06:00:00 +0100 (CET)

            Final-Recipient: rfc822; editor@slow.example
            Action: delayed
            Status: 4.4.1
            Diagnostic-Code: X-Postfix; connect to mx.slow.example[198.51.100.7]:25:
                Connection timed out
            Will-Retry-Until: Sun, 17 Nov 2024 06:00:00 +0100 (CET)

            --B1
            Content-Type: text/rfc822-headers

            Message-ID: <outreach.43.1@ourdomain.example>
            Subject: Our autumn guide

            --B1--
        """)
    )

    assert result.kind is InboundKind.BOUNCE_SOFT
    assert result.bounced_recipient == "editor@slow.example"
    assert result.bounce_status == "4.4.1"
    assert result.bounce_diagnostic == (
        "connect to mx.slow.example[198.51.100.7]:25: Connection timed out"
    )
    assert result.original_message_id == "<outreach.43.1@ourdomain.example>"


@pytest.mark.parametrize(
    ("status", "diagnostic"),
    [
        ("5.2.2", "smtp; 552 5.2.2 <kim@full.example>: Mailbox full"),
        ("4.2.2", "smtp; 452 4.2.2 The email account that you tried to reach is over quota."),
    ],
)
def test_dsn_mailbox_full_is_soft_even_when_permanent(status: str, diagnostic: str) -> None:
    result = analyse_inbound(
        _email(f"""
            From: Mail Delivery System <MAILER-DAEMON@mx.ourdomain.example>
            To: hello@ourdomain.example
            Subject: Undelivered Mail Returned to Sender
            Content-Type: multipart/report; report-type=delivery-status; boundary="B2"

            --B2
            Content-Type: text/plain

            Your message could not be delivered.

            --B2
            Content-Type: message/delivery-status

            Reporting-MTA: dns; mx.ourdomain.example

            Final-Recipient: rfc822; kim@full.example
            Action: failed
            Status: {status}
            Diagnostic-Code: {diagnostic}

            --B2--
        """)
    )

    assert result.kind is InboundKind.BOUNCE_SOFT
    assert result.bounced_recipient == "kim@full.example"
    assert result.bounce_status == status


def test_successful_delivery_report_is_not_a_bounce() -> None:
    result = analyse_inbound(
        _email("""
            From: Mail Delivery System <MAILER-DAEMON@mx.ourdomain.example>
            To: hello@ourdomain.example
            Subject: Successful Mail Delivery Report
            Content-Type: multipart/report; report-type=delivery-status; boundary="B3"

            --B3
            Content-Type: text/plain

            Your message was successfully delivered to the destination(s) listed below.

            --B3
            Content-Type: message/delivery-status

            Reporting-MTA: dns; mx.ourdomain.example

            Final-Recipient: rfc822; jan.novak@acme.example
            Action: relayed
            Status: 2.0.0

            --B3--
        """)
    )

    assert result.kind is InboundKind.AUTO_REPLY
    _assert_no_bounce_fields(result)


def test_gmail_delivery_status_notification_failure() -> None:
    result = analyse_inbound(
        _email("""
            From: Mail Delivery Subsystem <mailer-daemon@googlemail.example>
            To: ana.lopez@gmail.example
            Subject: Delivery Status Notification (Failure)
            Message-ID: <5f3a0c1e.gmail@mx.google.example>
            Date: Tue, 12 Nov 2024 02:15:07 -0800 (PST)
            Content-Type: text/plain; charset=UTF-8

            Delivery to the following recipient failed permanently:

                 info@closed-shop.example

            Technical details of permanent failure:
            Google tried to deliver your message, but it was rejected by the server for the
            recipient domain closed-shop.example by mx.closed-shop.example. [203.0.113.9].

            The error that the other server returned was:
            550-5.1.1 The email account that you tried to reach does not exist. Please try
            550-5.1.1 double-checking the recipient's email address for typos or
            550 5.1.1 unnecessary spaces. https://support.google.example/mail/?p=NoSuchUser

            ----- Original message -----

            Message-ID: <outreach.51.1@ourdomain.example>
            Subject: Our autumn guide
            From: Ana Lopez <ana.lopez@gmail.example>
            To: info@closed-shop.example

            Hi, our guide reaches 450 000 readers a month.
        """)
    )

    assert result.kind is InboundKind.BOUNCE_HARD
    assert result.bounced_recipient == "info@closed-shop.example"
    assert result.bounce_status == "5.1.1"
    assert result.bounce_diagnostic == (
        "550-5.1.1 The email account that you tried to reach does not exist. Please try"
    )
    assert result.original_message_id == "<outreach.51.1@ourdomain.example>"


def test_gmail_delay_without_any_code_is_soft() -> None:
    result = analyse_inbound(
        _email("""
            From: Mail Delivery Subsystem <mailer-daemon@googlemail.example>
            To: ana.lopez@gmail.example
            Subject: Delivery Status Notification (Delay)
            Content-Type: text/plain; charset=UTF-8

            This is an automatically generated Delivery Status Notification

            THIS IS A WARNING MESSAGE ONLY.

            YOU DO NOT NEED TO RESEND YOUR MESSAGE.

            Delivery to the following recipient has been delayed:

                 editor@slow.example

            Message will be retried for 2 more day(s)
        """)
    )

    assert result.kind is InboundKind.BOUNCE_SOFT
    assert result.bounced_recipient == "editor@slow.example"
    assert result.bounce_status == ""
    assert result.bounce_diagnostic == ""


EXIM_BOUNCE = """
    Return-path: <>
    From: Mail Delivery System <Mailer-Daemon@mail.host.example>
    To: hello@ourdomain.example
    Subject: Mail delivery failed: returning message to sender
    Message-Id: <E1tAbc-0001xy-AB@mail.host.example>
    Date: Tue, 12 Nov 2024 10:15:02 +0000
    X-Failed-Recipients: owner@bakery.example
    Auto-Submitted: auto-replied

    This message was created automatically by mail delivery software.

    A message that you sent could not be delivered to one or more of its
    recipients. This is a permanent error. The following address(es) failed:

      owner@bakery.example
        host mx.bakery.example [192.0.2.80]
        SMTP error from remote mail server after RCPT TO:<owner@bakery.example>:
        550 No such user here

    ------ This is a copy of the message, including all the headers. ------

    Return-path: <hello@ourdomain.example>
    Message-ID: <outreach.60.2@ourdomain.example>
    From: Ana Lopez <hello@ourdomain.example>
    To: owner@bakery.example
    Subject: Our autumn guide

    Hi, 450 bakeries already link to it; reply 421 if you want the PDF.
"""


def test_exim_plain_text_bounce_with_a_bare_smtp_code() -> None:
    result = analyse_inbound(_email(EXIM_BOUNCE))

    assert result.kind is InboundKind.BOUNCE_HARD
    assert result.bounced_recipient == "owner@bakery.example"
    assert result.bounce_status == ""
    assert result.bounce_diagnostic == "550 No such user here"
    assert result.original_message_id == "<outreach.60.2@ourdomain.example>"
    assert result.from_address == "mailer-daemon@mail.host.example"


def test_exim_recipient_is_found_in_the_text_without_the_header() -> None:
    without_header = EXIM_BOUNCE.replace("    X-Failed-Recipients: owner@bakery.example\n", "")

    result = analyse_inbound(_email(without_header))

    assert result.kind is InboundKind.BOUNCE_HARD
    assert result.bounced_recipient == "owner@bakery.example"


def test_exchange_undeliverable_html_report() -> None:
    result = analyse_inbound(
        _email("""
            From: postmaster@contoso.example
            To: hello@ourdomain.example
            Subject: Undeliverable: Our autumn guide
            Message-ID: <ndr.77@EX01.contoso.example>
            MIME-Version: 1.0
            Content-Type: text/html; charset="us-ascii"
            Content-Transfer-Encoding: quoted-printable

            <html><head><style>p {font-family: Calibri}</style></head><body>
            <p><b><font color=3D"#000066">Delivery has failed to these recipients or =
            groups:</font></b></p>
            <p><a href=3D"mailto:m.smith@contoso.example">Mark Smith (m.smith@contoso.exa=
            mple)</a><br>
            The e-mail address you entered couldn't be found.</p>
            <p><font color=3D"#808080">Diagnostic information for administrators:</font></p>
            <p>Generating server: EX01.contoso.example</p>
            <p>m.smith@contoso.example<br>
            #550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address =
            lookup ##</p>
            <p>Original message headers:</p>
            <pre>Received: from mail.ourdomain.example (198.51.100.1) by EX01.contoso.example
            Message-ID: &lt;outreach.70.3@ourdomain.example&gt;
            From: Ana Lopez &lt;hello@ourdomain.example&gt;
            To: &lt;m.smith@contoso.example&gt;
            Subject: Our autumn guide
            </pre></body></html>
        """)
    )

    assert result.kind is InboundKind.BOUNCE_HARD
    assert result.bounced_recipient == "m.smith@contoso.example"
    assert result.bounce_status == "5.1.10"
    assert result.bounce_diagnostic == (
        "#550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup ##"
    )
    assert result.original_message_id == "<outreach.70.3@ourdomain.example>"
    assert result.body_text.startswith("Delivery has failed to these recipients or groups:\n\n")
    assert "font-family" not in result.body_text


def test_qmail_failure_notice_with_status_in_parentheses() -> None:
    result = analyse_inbound(
        _email("""
            From: MAILER-DAEMON@mail.small.example
            To: hello@ourdomain.example
            Subject: failure notice

            Hi. This is the qmail-send program at mail.small.example.
            I'm afraid I wasn't able to deliver your message to the following addresses.
            This is a permanent error; I've given up. Sorry it didn't work out.

            <webmaster@small.example>:
            Sorry, no mailbox here by that name. (#5.1.1)

            --- Below this line is a copy of the message.

            Message-ID: <outreach.80.1@ourdomain.example>
        """)
    )

    assert result.kind is InboundKind.BOUNCE_HARD
    assert result.bounced_recipient == "webmaster@small.example"
    assert result.bounce_status == "5.1.1"
    assert result.bounce_diagnostic == "Sorry, no mailbox here by that name. (#5.1.1)"
    assert result.original_message_id == "<outreach.80.1@ourdomain.example>"


@pytest.mark.parametrize(
    ("subject", "text", "kind"),
    [
        (
            "Returned mail: see transcript for details",
            "<kim@full.example>... 552 5.2.2 Mailbox full",
            InboundKind.BOUNCE_SOFT,
        ),
        (
            "failure notice",
            "<kim@full.example>:\n552 sorry, user is over quota",
            InboundKind.BOUNCE_SOFT,
        ),
        (
            "Undeliverable: Our autumn guide",
            "Your message to kim@full.example couldn't be delivered.\n452 4.3.1 Insufficient "
            "system resources",
            InboundKind.BOUNCE_SOFT,
        ),
        (
            "Returned mail: see transcript for details",
            "554 delivery error",
            InboundKind.BOUNCE_HARD,
        ),
        (
            "Undeliverable: Our autumn guide",
            "Delivery to kim@full.example failed permanently.",
            InboundKind.BOUNCE_HARD,
        ),
        (
            "Warning: message 1tAbc-0001xy-AB delayed 24 hours",
            "A message that you sent has not yet been delivered. Will retry.",
            InboundKind.BOUNCE_SOFT,
        ),
        ("Mail delivery problem", "Something happened to your message.", InboundKind.BOUNCE_SOFT),
    ],
)
def test_plain_text_bounces_hard_or_soft_from_codes_and_wording(
    subject: str, text: str, kind: InboundKind
) -> None:
    raw = _email(
        "From: Mail Delivery Subsystem <postmaster@mx.other.example>\n"
        "To: hello@ourdomain.example\n"
        f"Subject: {subject}\n"
        "\n"
        f"{text}\n"
    )

    assert analyse_inbound(raw).kind is kind


def test_bounce_wins_over_auto_reply_and_unsubscribe_subjects() -> None:
    result = analyse_inbound(
        _email("""
            From: MAILER-DAEMON@mx.other.example
            To: hello@ourdomain.example
            Subject: unsubscribe abc123
            Auto-Submitted: auto-replied
            X-Failed-Recipients: gone@other.example

            550 5.1.1 User unknown
        """)
    )

    assert result.kind is InboundKind.BOUNCE_HARD
    assert result.unsubscribe_token == ""
    assert result.bounced_recipient == "gone@other.example"


# --- Auto-replies ------------------------------------------------------------------------------


def test_auto_submitted_out_of_office() -> None:
    result = analyse_inbound(
        _email("""
            From: Jan Novak <jan.novak@acme.example>
            To: hello@ourdomain.example
            Subject: Thanks for your message
            Auto-Submitted: auto-replied (vacation)
            Message-ID: <ooo.1@mail.acme.example>
            In-Reply-To: <outreach.42.7@ourdomain.example>

            I am away until 2 December with limited access to email.
        """)
    )

    assert result.kind is InboundKind.AUTO_REPLY
    assert result.thread_ids == ("<outreach.42.7@ourdomain.example>",)
    _assert_no_bounce_fields(result)


@pytest.mark.parametrize("value", ["no", "No", "no (sent by a person)"])
def test_auto_submitted_no_is_a_human_reply(value: str) -> None:
    result = analyse_inbound(_reply(f"Subject: Re: Our autumn guide\nAuto-Submitted: {value}"))

    assert result.kind is InboundKind.REPLY


def test_x_autoreply_header() -> None:
    result = analyse_inbound(_reply("Subject: Re: Our autumn guide\nX-Autoreply: yes"))

    assert result.kind is InboundKind.AUTO_REPLY


@pytest.mark.parametrize(
    "header",
    [
        "Precedence: auto_reply",
        "Precedence: bulk",
        "Precedence: junk",
        "X-Precedence: auto_reply",
        "X-Autorespond: Out of office",
    ],
)
def test_precedence_and_autorespond_headers(header: str) -> None:
    result = analyse_inbound(_reply(f"Subject: Re: Our autumn guide\n{header}"))

    assert result.kind is InboundKind.AUTO_REPLY


@pytest.mark.parametrize(
    "subject",
    [
        "Automatic reply: Our autumn guide",
        "Out of Office: Our autumn guide",
        "Out of Office AutoReply: Our autumn guide",
        "Re: Out of office",
        "Auto: Our autumn guide",
        "Autoreply: Our autumn guide",
        "[Auto-Reply] Our autumn guide",
        "Abwesenheitsnotiz: Our autumn guide",
        "AW: Abwesenheitsnotiz",
        "=?iso-8859-1?q?R=E9ponse_automatique_=3A_Notre_guide?=",
        "Respuesta automática: Our autumn guide",
        "I am out of the office until 2 December",
        "On vacation",
        "Away from the office",
    ],
)
def test_auto_reply_subjects_without_headers(subject: str) -> None:
    result = analyse_inbound(_reply(f"Subject: {subject}"))

    assert result.kind is InboundKind.AUTO_REPLY


def test_human_reply_mentioning_out_of_office_is_a_reply() -> None:
    result = analyse_inbound(
        _reply(
            "Subject: Re: our autumn guide",
            body="Great guide! I'll be out of office next week, automatic reply aside.\n",
        )
    )

    assert result.kind is InboundKind.REPLY


def test_outlook_auto_response_suppress_alone_is_a_reply() -> None:
    result = analyse_inbound(_reply("Subject: RE: Our autumn guide\nX-Auto-Response-Suppress: All"))

    assert result.kind is InboundKind.REPLY


def test_auto_response_suppress_with_null_sender_is_an_auto_reply() -> None:
    result = analyse_inbound(
        _reply("""
            Return-Path: <>
            Subject: Our autumn guide
            X-Auto-Response-Suppress: OOF, DR, RN
        """)
    )

    assert result.kind is InboundKind.AUTO_REPLY


# --- Unsubscribe -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subject", "token"),
    [
        ("unsubscribe Ab3_x-9.Zq", "Ab3_x-9.Zq"),
        ("UNSUBSCRIBE   Ab3_x-9.Zq  ", "Ab3_x-9.Zq"),
        ("unsubscribe%20Ab3_x-9.Zq", "Ab3_x-9.Zq"),
        ("Re: Fwd: unsubscribe Ab3_x-9.Zq", "Ab3_x-9.Zq"),
        ("Unsubscribe", ""),
    ],
)
def test_unsubscribe_requests(subject: str, token: str) -> None:
    result = analyse_inbound(
        _email(f"""
            From: jan.novak@acme.example
            To: hello@ourdomain.example
            Subject: {subject}
            Auto-Submitted: auto-generated

            This message was sent by your mail client's unsubscribe button.
        """)
    )

    assert result.kind is InboundKind.UNSUBSCRIBE
    assert result.unsubscribe_token == token
    assert result.from_address == "jan.novak@acme.example"


@pytest.mark.parametrize(
    "subject", ["Please unsubscribe me from this", "unsubscribe <script>", "Re: unsubscribed?"]
)
def test_subjects_that_only_mention_unsubscribing_are_replies(subject: str) -> None:
    result = analyse_inbound(_reply(f"Subject: {subject}"))

    assert result.kind is InboundKind.REPLY
    assert result.unsubscribe_token == ""


# --- Robustness --------------------------------------------------------------------------------


def test_body_is_capped() -> None:
    result = analyse_inbound(_reply("Subject: Re: long", body="x" * (BODY_LIMIT + 5000)))

    assert len(result.body_text) == BODY_LIMIT


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\r\n\r\n",
        b"\x00\xff\xfe garbage \x80\x81",
        b"Subject: headers only\r\nFrom: nobody",
        b"From: <<<@>>>\r\nTo: ,,,;;;\r\nDate: 99 Foo 99999 99:99:99 +9999\r\n\r\nx",
        b"From: \xc3\xa9\xff@\xfe.example\r\nSubject: \xff\xfe\xc3\r\n\r\n\xff\xfe",
        b"Content-Type: multipart/mixed\r\n\r\nno boundary at all",
        b'Content-Type: multipart/mixed; boundary="x"\r\n\r\n--x\r\n--x\r\n\r\n--y--',
        b"Content-Type: text/plain; charset=x-no-such-charset\r\n\r\n\xe9t\xe9",
        b"Content-Type: text/plain; charset=base64\r\n\r\nnot base64 text",
        b"Content-Type: text/plain; charset=idna\r\n\r\n\xff",
        b"Content-Type: text/plain; charset=utf-7\r\nSubject: =?utf-7?Q?+2AA-?=\r\n\r\n+2AA-",
        b'Content-Type: text/plain; charset="utf-8\x00"\r\n\r\nnul',
        b"Content-Transfer-Encoding: base64\r\n\r\n@@@not=base64===",
        b"Content-Type: text/html\r\n\r\n<![x]>y<![<&<c&=x<script>unclosed",
        b"Content-Type: message/delivery-status\r\n\r\nAction: failed\r\n",
        b"Content-Type: multipart/report; report-type=delivery-status\r\n\r\n",
        b"In-Reply-To: <<<>>>\r\nReferences: (((<a@b>\r\nMessage-ID: <\r\n\r\n",
        b"From: " + b"(" * 5000 + b"\r\nMessage-ID: " + b"(" * 5000 + b"\r\n\r\nx",
        b"Content-Type: text/plain; charset=" + b"(" * 5000 + b"\r\n\r\nx",
        b"Content-Disposition: inline; " + b"(" * 5000 + b"\r\n\r\nx",
        b"Content-Type: text/html\r\n\r\n" + b"<a " * 30_000,  # quadratic for HTMLParser
    ],
)
def test_malformed_input_never_raises(raw: bytes) -> None:
    result = analyse_inbound(raw)

    assert result.kind in set(InboundKind) - {InboundKind.UNMATCHED}
    texts = [value for value in dataclasses.asdict(result).values() if isinstance(value, str)]
    for text in texts:
        assert "\x00" not in text
        text.encode("utf-8")  # storable: no lone surrogates


def test_deeply_nested_multiparts_find_the_text() -> None:
    depth = 30
    opening = "".join(
        f'Content-Type: multipart/mixed; boundary="b{i}"\n\n--b{i}\n' for i in range(depth)
    )
    closing = "".join(f"\n--b{i}--" for i in reversed(range(depth)))
    raw = _email(f"From: a@b.example\n{opening}Content-Type: text/plain\n\nDeep hello{closing}\n")

    assert analyse_inbound(raw).body_text == "Deep hello"


def test_hostile_mime_nesting_falls_back_to_the_headers() -> None:
    nesting = "".join(
        f"Content-Type: multipart/mixed; boundary=b{i}\n\n--b{i}\n" for i in range(1500)
    )
    raw = _email(
        "From: Jan Novak <Jan.Novak@acme.example>\n"
        "Subject: =?utf-8?q?Re:_Gr=C3=BC=C3=9Fe?=\n"
        "In-Reply-To: <outreach.42.7@ourdomain.example>\n"
        f"{nesting}Content-Type: text/plain\n\nToo deep to reach\n"
    )

    result = analyse_inbound(raw)

    assert result.kind is InboundKind.REPLY
    assert result.subject == "Re: Grüße"
    assert (result.from_name, result.from_address) == ("Jan Novak", "jan.novak@acme.example")
    assert result.in_reply_to == "<outreach.42.7@ourdomain.example>"


def test_random_mutations_of_real_emails_never_raise() -> None:
    rng = random.Random(20241112)
    samples = [_email(POSTFIX_HARD_BOUNCE), _email(EXIM_BOUNCE), _reply("Subject: Re: hi")]
    for sample in samples:
        for _ in range(150):
            mutated = bytearray(sample)
            for _ in range(rng.randint(1, 20)):
                position = rng.randrange(len(mutated))
                if rng.random() < 0.5:
                    mutated[position] = rng.randrange(256)
                else:
                    del mutated[position : position + rng.randint(1, 40)]
            result = analyse_inbound(bytes(mutated))
            assert isinstance(result, InboundEmail)
    for _ in range(200):
        garbage = bytes(rng.randrange(256) for _ in range(rng.randint(0, 400)))
        assert isinstance(analyse_inbound(garbage), InboundEmail)
