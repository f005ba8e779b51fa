"""Connections to a mailbox's SMTP and IMAP servers, and what their failures mean to a user."""

from __future__ import annotations

import imaplib
import smtplib
import socket
import ssl
from dataclasses import dataclass

from outreach.mail.crypto import decrypt_secret
from outreach.mail.models import Mailbox, TransportSecurity


class MailTransportError(RuntimeError):
    """Talking to a mail server failed; `temporary` says whether trying later may help."""

    def __init__(self, message: str, *, temporary: bool) -> None:
        super().__init__(message)
        self.temporary = temporary


@dataclass(frozen=True)
class SmtpRefusal:
    """The server refused one recipient or the message itself."""

    code: int
    text: str

    @property
    def permanent(self) -> bool:
        return 500 <= self.code < 600


def open_smtp(mailbox: Mailbox, key: str, timeout: float) -> smtplib.SMTP:
    """A logged-in SMTP connection; raises MailTransportError saying what to fix."""
    where = f"{mailbox.smtp_host}:{mailbox.smtp_port}"
    try:
        if mailbox.smtp_security is TransportSecurity.TLS:
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                mailbox.smtp_host,
                mailbox.smtp_port,
                timeout=timeout,
                context=ssl.create_default_context(),
            )
        else:
            smtp = smtplib.SMTP(mailbox.smtp_host, mailbox.smtp_port, timeout=timeout)
            if mailbox.smtp_security is TransportSecurity.STARTTLS:
                smtp.starttls(context=ssl.create_default_context())
        if mailbox.smtp_username:
            smtp.login(mailbox.smtp_username, decrypt_secret(key, mailbox.smtp_password_encrypted))
    except smtplib.SMTPAuthenticationError:
        raise MailTransportError(
            f"SMTP server {where} refused the username or password", temporary=False
        ) from None
    except smtplib.SMTPNotSupportedError as exc:
        raise MailTransportError(f"SMTP server {where}: {exc}", temporary=False) from None
    except ssl.SSLError as exc:
        raise MailTransportError(
            f"TLS with SMTP server {where} failed ({exc.reason}); check the security setting",
            temporary=False,
        ) from None
    except (OSError, smtplib.SMTPException) as exc:
        raise MailTransportError(
            f"cannot reach SMTP server {where}: {_describe(exc)}", temporary=True
        ) from None
    return smtp


def open_imap(mailbox: Mailbox, key: str, timeout: float) -> imaplib.IMAP4:
    """A logged-in IMAP connection; raises MailTransportError saying what to fix."""
    where = f"{mailbox.imap_host}:{mailbox.imap_port}"
    try:
        if mailbox.imap_security is TransportSecurity.TLS:
            imap: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                mailbox.imap_host,
                mailbox.imap_port,
                ssl_context=ssl.create_default_context(),
                timeout=timeout,
            )
        else:
            imap = imaplib.IMAP4(mailbox.imap_host, mailbox.imap_port, timeout=timeout)
            if mailbox.imap_security is TransportSecurity.STARTTLS:
                imap.starttls(ssl.create_default_context())
        imap.login(
            mailbox.imap_username or mailbox.email,
            decrypt_secret(key, mailbox.imap_password_encrypted),
        )
    except imaplib.IMAP4.error as exc:
        raise MailTransportError(
            f"IMAP server {where} refused the login: {_describe(exc)}", temporary=False
        ) from None
    except ssl.SSLError as exc:
        raise MailTransportError(
            f"TLS with IMAP server {where} failed ({exc.reason}); check the security setting",
            temporary=False,
        ) from None
    except OSError as exc:
        raise MailTransportError(
            f"cannot reach IMAP server {where}: {_describe(exc)}", temporary=True
        ) from None
    return imap


def close_quietly(connection: smtplib.SMTP | imaplib.IMAP4) -> None:
    """Say goodbye if the server is still there; a dead connection needs no goodbye."""
    try:
        if isinstance(connection, smtplib.SMTP):
            connection.quit()
        else:
            connection.logout()
    except (OSError, smtplib.SMTPException, imaplib.IMAP4.error):
        pass


def smtp_refusal(exc: smtplib.SMTPException) -> SmtpRefusal | None:
    """The code and text of a refusal the server gave, None for a broken connection."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(exc.recipients.values()))
        return SmtpRefusal(code, _text(text))
    if isinstance(exc, smtplib.SMTPResponseException):
        return SmtpRefusal(exc.smtp_code, _text(exc.smtp_error))
    return None


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, socket.timeout | TimeoutError):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, socket.gaierror):
        return "unknown host"
    text = exc.args[0] if exc.args else exc
    return _text(text) if isinstance(text, bytes | str) else str(exc)
