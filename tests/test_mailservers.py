"""The test mail servers themselves: the mail engine's tests rely on them behaving like real
servers, so each behaviour they promise is checked here against the standard library clients."""

from __future__ import annotations

import imaplib
import json
import select
import signal
import smtplib
import subprocess
import sys
import time
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.mailservers import ImapServer, SmtpSink

ROOT = Path(__file__).resolve().parent.parent


def message(n: int = 1) -> bytes:
    """On-the-wire bytes (CRLF): smtplib sends bytes as given."""
    mail = EmailMessage()
    mail["From"] = "outreach@agency.test"
    mail["To"] = "editor@example.com"
    mail["Subject"] = "Guest post"
    mail["Message-ID"] = f"<msg-{n}@agency.test>"
    mail.set_content(f"Hello number {n}\n")
    return mail.as_bytes(policy=policy.SMTP)


def send(sink: SmtpSink, to: list[str], raw: bytes | None = None) -> dict[str, tuple[int, bytes]]:
    with smtplib.SMTP(sink.host, sink.port, timeout=5) as client:
        return client.sendmail("outreach@agency.test", to, raw or message())


# --------------------------------------------------------------------------------------------
# SMTP


def test_sink_keeps_the_envelope_and_the_parsed_message(smtp_sink: SmtpSink) -> None:
    before = time.time()
    send(smtp_sink, ["editor@example.com", "cc@example.com"])

    [mail] = smtp_sink.wait_for(1)
    assert mail.mail_from == "outreach@agency.test"
    assert mail.rcpt_tos == ("editor@example.com", "cc@example.com")
    assert mail.message["Subject"] == "Guest post"
    assert mail.message.get_content() == "Hello number 1\r\n"
    assert b"Subject: Guest post\r\n" in mail.raw
    assert before <= mail.received_at <= time.time()
    assert smtp_sink.messages == [mail]

    smtp_sink.clear()
    assert smtp_sink.messages == []


def test_sink_without_credentials_accepts_any_login(smtp_sink: SmtpSink) -> None:
    with smtplib.SMTP(smtp_sink.host, smtp_sink.port, timeout=5) as client:
        client.login("anyone", "anything")
        client.sendmail("outreach@agency.test", ["editor@example.com"], message())
    smtp_sink.wait_for(1)


def test_sink_with_credentials_requires_them() -> None:
    with SmtpSink(username="mailer", password="s3cret") as sink:
        with smtplib.SMTP(sink.host, sink.port, timeout=5) as client:
            client.login("mailer", "s3cret")
            client.sendmail("outreach@agency.test", ["editor@example.com"], message())
        assert len(sink.wait_for(1)) == 1

        with smtplib.SMTP(sink.host, sink.port, timeout=5) as client:
            with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
                client.login("mailer", "wrong")
            assert refused.value.smtp_code == 535

        with pytest.raises(smtplib.SMTPSenderRefused) as unauthenticated:
            send(sink, ["editor@example.com"])
        assert unauthenticated.value.smtp_code == 530
        assert len(sink.messages) == 1


@pytest.mark.parametrize(
    ("code", "reply"), [(550, "5.1.1 User unknown"), (451, "4.2.1 Mailbox busy")]
)
def test_refused_recipient_gets_the_scripted_reply(
    smtp_sink: SmtpSink, code: int, reply: str
) -> None:
    smtp_sink.refuse("Gone@Example.com", code, reply)

    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        send(smtp_sink, ["gone@example.com"])
    assert refused.value.recipients == {"gone@example.com": (code, reply.encode())}

    # With another recipient the message goes through, minus the refused one.
    assert send(smtp_sink, ["gone@example.com", "editor@example.com"]) == {
        "gone@example.com": (code, reply.encode())
    }
    [mail] = smtp_sink.wait_for(1)
    assert mail.rcpt_tos == ("editor@example.com",)


def test_refused_messages_get_421_and_a_hang_up_then_go_through(smtp_sink: SmtpSink) -> None:
    smtp_sink.refuse_next_connections(2)

    for _ in range(2):
        with smtplib.SMTP(smtp_sink.host, smtp_sink.port, timeout=5) as client:
            with pytest.raises(smtplib.SMTPDataError) as refused:
                client.sendmail("outreach@agency.test", ["editor@example.com"], message())
            assert refused.value.smtp_code == 421
            # The sink hung up: the connection cannot be reused.
            with pytest.raises(smtplib.SMTPServerDisconnected):
                client.noop()
    assert smtp_sink.messages == []

    send(smtp_sink, ["editor@example.com"])
    assert len(smtp_sink.wait_for(1)) == 1


def test_log_file_gets_one_json_line_per_accepted_message(tmp_path: Path) -> None:
    log = tmp_path / "sink.jsonl"
    with SmtpSink(log_path=log) as sink:
        sink.refuse("gone@example.com")
        send(sink, ["a@example.com", "gone@example.com"], message(n=1))
        send(sink, ["b@example.com"], message(n=2))
        sink.wait_for(2)

    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(line["message_id"], line["to"]) for line in lines] == [
        ("<msg-1@agency.test>", ["a@example.com"]),
        ("<msg-2@agency.test>", ["b@example.com"]),
    ]
    assert all(isinstance(line["at"], float) for line in lines)


def test_wait_for_times_out_listing_what_arrived(smtp_sink: SmtpSink) -> None:
    send(smtp_sink, ["editor@example.com"])

    started = time.monotonic()
    with pytest.raises(AssertionError) as timed_out:
        smtp_sink.wait_for(2, timeout=0.2)
    assert time.monotonic() - started < 2
    assert str(timed_out.value) == (
        "expected 2 message(s) within 0.2 s, 1 arrived\n"
        "  outreach@agency.test -> editor@example.com: 'Guest post'"
    )


def test_stop_does_not_wait_for_idle_clients() -> None:
    sink = SmtpSink()
    sink.start()
    client = smtplib.SMTP(sink.host, sink.port, timeout=5)
    try:
        client.ehlo()
        started = time.monotonic()
        sink.stop()
        assert time.monotonic() - started < 2
        with pytest.raises(smtplib.SMTPServerDisconnected):
            client.noop()
    finally:
        client.close()


def test_standalone_sink_runs_until_sigterm(tmp_path: Path) -> None:
    log = tmp_path / "sink.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.mailservers", "smtp", "--port", "0", "--log", str(log)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        readable, _, _ = select.select([process.stdout], [], [], 15)
        assert readable, "the sink printed nothing within 15 s"
        ready, address = process.stdout.readline().split()
        assert ready == "ready"
        host, port = address.rsplit(":", 1)

        with smtplib.SMTP(host, int(port), timeout=5) as client:
            client.sendmail("outreach@agency.test", ["editor@example.com"], message())
        assert json.loads(log.read_text())["to"] == ["editor@example.com"]

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        assert process.stdout is not None
        process.stdout.close()


# --------------------------------------------------------------------------------------------
# IMAP


def test_append_returns_increasing_uids(imap_server: ImapServer) -> None:
    user, password = imap_server.new_account()

    uids = [imap_server.append(user, password, message(n=n)) for n in range(3)]

    assert uids == sorted(set(uids))
    assert imap_server.uids(user, password) == uids


def test_append_to_another_folder_creates_it(imap_server: ImapServer) -> None:
    user, password = imap_server.new_account()

    uid = imap_server.append(user, password, message(), folder="Bounces")
    assert imap_server.append(user, password, message(n=2), folder="Bounces") > uid

    assert imap_server.uids(user, password, folder="Bounces") == [uid, uid + 1]
    assert imap_server.uids(user, password) == []


def test_login_with_a_wrong_password_fails(imap_server: ImapServer) -> None:
    user, _ = imap_server.new_account()

    with pytest.raises(imaplib.IMAP4.error):
        imap_server.login(user, "wrong")


def test_accounts_are_isolated(imap_server: ImapServer) -> None:
    first, first_password = imap_server.new_account()
    second, second_password = imap_server.new_account()

    uid = imap_server.append(first, first_password, message())

    assert imap_server.uids(first, first_password) == [uid]
    assert imap_server.uids(second, second_password) == []


def test_uidvalidity_is_stable_across_sessions(imap_server: ImapServer) -> None:
    user, password = imap_server.new_account()
    imap_server.append(user, password, message())

    def uidvalidity() -> bytes:
        with imap_server.login(user, password) as client:
            client.select("INBOX", readonly=True)
            _, [value] = client.response("UIDVALIDITY")
            return value

    assert uidvalidity() == uidvalidity()
