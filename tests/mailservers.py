"""Real mail servers on 127.0.0.1 for the mail engine's tests: an aiosmtpd SMTP sink and a
Dovecot IMAP server, so the engine speaks SMTP and IMAP to real servers instead of mocks.

Standalone SMTP sink for benchmarks: `python -m tests.mailservers smtp --port N [--log FILE]`.
"""

from __future__ import annotations

import argparse
import asyncio
import email
import grp
import imaplib
import itertools
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

HOST = "127.0.0.1"
MAIL_DOMAIN = "mail.test"


# --------------------------------------------------------------------------------------------
# SMTP


@dataclass(frozen=True)
class ReceivedMail:
    """One message as the sink accepted it: the envelope, the bytes, and the parsed message."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes
    message: EmailMessage
    received_at: float


class _Controller(Controller):
    """aiosmtpd 1.4 connects to `self.port` to finish starting; bound to port 0, it must first
    learn the port the kernel picked (binding to 0 avoids racing for a probed free port)."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class _Handler:
    """aiosmtpd's hooks, run on its event-loop thread; the sink holds the state."""

    def __init__(self, sink: SmtpSink) -> None:
        self._sink = sink

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        # Enforced here rather than with aiosmtpd's auth_required, which warns on every
        # connection when AUTH is allowed without TLS.
        if self._sink.requires_auth and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        refusal = self._sink._refusal_for(address)
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self._sink._take_data_refusal():
            # Hang up after the reply, like a server going down: aiosmtpd writes the reply
            # before the loop runs this callback, and closing flushes what was written.
            assert server.transport is not None
            server.loop.call_soon(server.transport.close)
            return "421 4.3.2 Service shutting down, try again later"
        if self._sink.delay:
            await asyncio.sleep(self._sink.delay)
        self._sink._accept(envelope)
        return "250 OK"


class SmtpSink:
    """An SMTP server on 127.0.0.1 that keeps every message it accepts, requires AUTH when
    given credentials, and refuses recipients or messages on cue. One start per sink."""

    host = HOST

    def __init__(
        self,
        *,
        username: str | None = None,
        password: str = "",
        log_path: Path | None = None,
        port: int = 0,
        delay: float = 0.0,
    ) -> None:
        # Seconds to think before accepting each message, like a slow server: a crash test
        # uses it to kill the sender while a batch is under way.
        self.delay = delay
        self._credentials = None if username is None else (username.encode(), password.encode())
        self.log_path = log_path
        self._changed = threading.Condition()
        self._messages: list[ReceivedMail] = []
        self._refusals: dict[str, str] = {}
        self._data_refusals = 0
        self._controller = _Controller(
            _Handler(self),
            hostname=HOST,
            port=port,
            # Without it aiosmtpd calls socket.getfqdn() on every connection: slow without DNS.
            server_hostname=f"sink.{MAIL_DOMAIN}",
            authenticator=self._authenticate,
            auth_require_tls=False,
            enable_SMTPUTF8=True,
        )

    @property
    def port(self) -> int:
        """The listening port (the kernel's pick once started, when created with port 0)."""
        return self._controller.port

    @property
    def requires_auth(self) -> bool:
        return self._credentials is not None

    @property
    def messages(self) -> list[ReceivedMail]:
        """A snapshot of the accepted messages, oldest first."""
        with self._changed:
            return list(self._messages)

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def clear(self) -> None:
        """Forget the messages received so far (refusals stay)."""
        with self._changed:
            self._messages.clear()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[ReceivedMail]:
        """All messages once at least `count` arrived; delivery is asynchronous to the test."""
        with self._changed:
            if self._changed.wait_for(lambda: len(self._messages) >= count, timeout):
                return list(self._messages)
            arrived = "".join(
                f"\n  {mail.mail_from} -> {', '.join(mail.rcpt_tos)}: {mail.message['Subject']!r}"
                for mail in self._messages
            )
            raise AssertionError(
                f"expected {count} message(s) within {timeout} s, "
                f"{len(self._messages)} arrived{arrived}"
            )

    def refuse(self, address: str, code: int = 550, message: str = "5.1.1 User unknown") -> None:
        """Answer RCPT TO for `address` (case-insensitive) with `code` (4xx for temporary)."""
        with self._changed:
            self._refusals[address.lower()] = f"{code} {message}"

    def accept(self, address: str) -> None:
        """Take back a `refuse`: the server accepts the address again."""
        with self._changed:
            self._refusals.pop(address.lower(), None)

    def refuse_next_connections(self, count: int) -> None:
        """Answer the next `count` messages' DATA with 421 and hang up, as a server that is
        shutting down does: the sender must retry later on a new connection."""
        with self._changed:
            self._data_refusals = count

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if self._credentials is None:
            return AuthResult(success=True)
        given = (data.login, data.password) if isinstance(data, LoginPassword) else None
        # handled=False: aiosmtpd then sends the 535 itself.
        return AuthResult(success=given == self._credentials, handled=False)

    def _refusal_for(self, address: str) -> str | None:
        with self._changed:
            return self._refusals.get(address.lower())

    def _take_data_refusal(self) -> bool:
        with self._changed:
            if self._data_refusals == 0:
                return False
            self._data_refusals -= 1
            return True

    def _accept(self, envelope: Envelope) -> None:
        raw = envelope.original_content or b""
        mail = ReceivedMail(
            mail_from=envelope.mail_from or "",
            rcpt_tos=tuple(envelope.rcpt_tos),
            raw=raw,
            message=email.message_from_bytes(raw, policy=policy.default),
            received_at=time.time(),
        )
        if self.log_path is not None:
            # Written (and flushed by close) before the 250: a sender killed after the 250
            # finds the message in the log.
            line = {
                "message_id": mail.message["Message-ID"],
                "to": list(mail.rcpt_tos),
                "at": mail.received_at,
            }
            with self.log_path.open("a", encoding="utf-8") as log:
                log.write(json.dumps(line) + "\n")
        with self._changed:
            self._messages.append(mail)
            self._changed.notify_all()


# --------------------------------------------------------------------------------------------
# IMAP

APPENDUID = re.compile(rb"\[APPENDUID \d+ (\d+)\]")


def dovecot_binary() -> str | None:
    """Dovecot lives in /usr/sbin, which is often not on a developer's PATH."""
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin"])
    return shutil.which("dovecot", path=path)


def free_port() -> int:
    """A port nobody listens on now, for servers (Dovecot) that cannot bind to port 0."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


class ImapServer:
    """A private Dovecot (plain IMAP, no TLS, passwd-file users) in a temporary directory.

    As root it runs mail processes as the system `dovecot` user, as Debian's package sets up;
    otherwise everything runs as the invoking user, which Dovecot allows when not root.
    """

    host = HOST

    def __init__(self, dovecot: str) -> None:
        self._dovecot = dovecot
        self.port = free_port()
        # Not pytest's tmp_path: that sits in a 0700 directory the dovecot user cannot cross.
        self.directory = Path(tempfile.mkdtemp(prefix="outreach-dovecot-"))
        self._users = self.directory / "users"
        self._account_numbers = itertools.count(1)
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        try:
            self._write_config()
            with (self.directory / "dovecot.out").open("wb") as output:
                self._process = subprocess.Popen(
                    [self._dovecot, "-F", "-c", str(self.directory / "dovecot.conf")],
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                )
            self._wait_until_ready(timeout=10.0)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def add_user(self, user: str, password: str) -> None:
        """One passwd-file per user: Dovecot looks at a known file at most once a second, so a
        user appended to a shared file could not log in until the next second."""
        if any(char in user + password for char in ":/\r\n"):
            raise ValueError("users and passwords cannot contain ':', '/' or newlines")
        (self._users / user).write_text(f"{user}:{{PLAIN}}{password}\n", encoding="utf-8")

    def new_account(self) -> tuple[str, str]:
        """A fresh user and password: tests sharing the server see only their own mailbox."""
        user = f"box-{next(self._account_numbers)}@{MAIL_DOMAIN}"
        password = secrets.token_urlsafe(12)
        self.add_user(user, password)
        return user, password

    def login(self, user: str, password: str) -> imaplib.IMAP4:
        """A logged-in client; use it as a context manager to log out."""
        client = imaplib.IMAP4(self.host, self.port, timeout=10)
        try:
            client.login(user, password)
        except BaseException:
            client.shutdown()
            raise
        return client

    def append(self, user: str, password: str, raw: bytes, folder: str = "INBOX") -> int:
        """Deliver `raw` into `folder` (created if missing) and return its UID."""
        with self.login(user, password) as client:
            if folder != "INBOX":
                client.create(folder)  # answers NO when it exists, which is fine
            _, data = client.append(folder, None, None, raw)
        match = APPENDUID.search(data[0] or b"")
        assert match is not None, f"no APPENDUID in {data!r}"
        return int(match.group(1))

    def uids(self, user: str, password: str, folder: str = "INBOX") -> list[int]:
        with self.login(user, password) as client:
            client.select(folder, readonly=True)
            _, data = client.uid("SEARCH", "ALL")
        return [int(uid) for uid in (data[0] or b"").split()]

    def _write_config(self) -> None:
        (self.directory / "run").mkdir()
        (self.directory / "state").mkdir()
        (self.directory / "mail").mkdir()
        (self.directory / "home").mkdir()
        self._users.mkdir()
        if os.geteuid() == 0:
            login_user, internal_user, internal_group = "dovenull", "dovecot", "dovecot"
            mail_uid, mail_gid = "dovecot", "dovecot"
            self.directory.chmod(0o711)
            for owned in ("mail", "home"):
                shutil.chown(self.directory / owned, "dovecot", "dovecot")
        else:
            login_user = internal_user = pwd.getpwuid(os.getuid()).pw_name
            internal_group = grp.getgrgid(os.getgid()).gr_name
            mail_uid, mail_gid = str(os.getuid()), str(os.getgid())
        directory = self.directory
        (directory / "dovecot.conf").write_text(
            f"""\
protocols = imap
listen = {HOST}
base_dir = {directory}/run
state_dir = {directory}/state
log_path = {directory}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_verbose = yes
# Wrong-password tests: no 2 s delay per failure, and no penalty growing with each failure
# from 127.0.0.1 (Dovecot disables it when auth cannot open the anvil-auth-penalty socket).
auth_failure_delay = 0
default_login_user = {login_user}
default_internal_user = {internal_user}
default_internal_group = {internal_group}
mail_location = maildir:{directory}/mail/%u
first_valid_uid = 0
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self._users}/%u
}}
userdb {{
  driver = static
  args = uid={mail_uid} gid={mail_gid} home={directory}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = {HOST}
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
  chroot =
}}
service anvil {{
  chroot =
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
""",
            encoding="utf-8",
        )

    def _wait_until_ready(self, timeout: float) -> None:
        """Listening is not enough: the greeting proves imap-login is up behind the port."""
        assert self._process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"Dovecot exited with {self._process.returncode}" + self._logs())
            try:
                with socket.create_connection((self.host, self.port), timeout=1) as probe:
                    if probe.recv(1024).startswith(b"* OK"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"Dovecot did not greet on {self.host}:{self.port}" + self._logs())

    def _logs(self) -> str:
        tails = []
        for name in ("dovecot.out", "dovecot.log"):
            path = self.directory / name
            if path.exists():
                tail = path.read_text(errors="replace").splitlines()[-20:]
                tails.append(f"\n--- {name}:\n" + "\n".join(tail))
        return "".join(tails)


# --------------------------------------------------------------------------------------------
# pytest fixtures (imported into tests/conftest.py)


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink


@pytest.fixture(scope="session")
def imap_server() -> Iterator[ImapServer]:
    """One Dovecot for the run; tests isolate themselves with `new_account()`."""
    dovecot = dovecot_binary()
    if dovecot is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Dovecot is not installed: CI must install dovecot-imapd", pytrace=False)
        pytest.skip("Dovecot is not installed (apt-get install dovecot-imapd)")
    with ImapServer(dovecot) as server:
        yield server


# --------------------------------------------------------------------------------------------
# Standalone


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.mailservers")
    servers = parser.add_subparsers(dest="server", required=True)
    smtp = servers.add_parser("smtp", help="run an SMTP sink until SIGTERM or SIGINT")
    smtp.add_argument("--port", type=int, default=0, help="0 (the default) picks a free port")
    smtp.add_argument("--log", type=Path, help="append one JSON line per accepted message")
    args = parser.parse_args(argv)

    stop_signals = {signal.SIGTERM, signal.SIGINT}
    # Blocked before the server thread starts, so that it inherits the mask and only
    # sigwait below sees them.
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
    with SmtpSink(port=args.port, log_path=args.log) as sink:
        print(f"ready {sink.host}:{sink.port}", flush=True)
        signal.sigwait(stop_signals)


if __name__ == "__main__":
    main()
