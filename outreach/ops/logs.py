"""Logs as one line per event: text for a terminal, JSON for a log collector (LOG_FORMAT).

Structured fields travel in a record's `data` attribute (see `fields`); the JSON formatter
puts them at the top level of the line, the text formatter appends them as key=value."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from flask import Flask, g, request
from werkzeug.wrappers import Response

request_log = logging.getLogger("outreach.request")

# What a caller (a proxy, a load balancer) may hand us as its request id; anything else, such
# as a header long enough to bloat every line or one with spaces or quotes, is replaced.
_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
# Polled every few seconds by load balancers: logged at DEBUG, not to drown the rest.
_PROBES = frozenset({"web.healthz", "web.readyz"})
_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def fields(**data: Any) -> dict[str, Any]:
    """The `extra` of a structured log call: log.info("sent", extra=fields(message_id=7))."""
    return {"data": data}


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, then the record's fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **getattr(record, "data", {}),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """The classic line, with the record's fields appended as key=value."""

    def __init__(self) -> None:
        super().__init__(_TEXT_FORMAT)

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802  (stdlib's name)
        line = super().formatMessage(record)
        data = getattr(record, "data", None)
        if not data:
            return line
        pairs = " ".join(f"{key}={json.dumps(value, default=str)}" for key, value in data.items())
        return f"{line} {pairs}"


class _OutreachHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Our handler on the root logger, told apart from handlers others installed."""


def configure_logging(level: str, log_format: str) -> None:
    """Like logging.basicConfig: a handler on the root logger unless someone else (a test
    runner, an embedding program) already installed one. Called again, it only re-formats."""
    root = logging.getLogger()
    formatter = JsonFormatter() if log_format == "json" else TextFormatter()
    ours = [handler for handler in root.handlers if isinstance(handler, _OutreachHandler)]
    if not ours and root.handlers:
        return
    if not ours:
        ours = [_OutreachHandler(sys.stderr)]
        root.addHandler(ours[0])
    for handler in ours:
        handler.setFormatter(formatter)
    root.setLevel(level)


def request_id_from(header: str | None) -> str:
    """The caller's request id when it is a sane token, else a new one."""
    if header and _REQUEST_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


def _start_request() -> None:
    g.request_id = request_id_from(request.headers.get("X-Request-ID"))
    g.request_started = time.perf_counter()


def _log_request(response: Response) -> Response:
    request_id = g.get("request_id") or request_id_from(None)
    started = g.get("request_started")
    response.headers["X-Request-ID"] = request_id
    user = g.get("_login_user") or g.get("api_user")  # only when the request loaded one
    data: dict[str, Any] = {
        "request_id": request_id,
        "method": request.method,
        "path": request.path,
        "status": response.status_code,
        "duration_ms": round((time.perf_counter() - started) * 1000, 1) if started else None,
    }
    if getattr(user, "is_authenticated", False):
        data["user_id"] = user.id
    level = logging.DEBUG if request.endpoint in _PROBES else logging.INFO
    request_log.log(
        level,
        "%s %s %d",
        request.method,
        request.path,
        response.status_code,
        extra=fields(**data),
    )
    return response


def init_app(app: Flask) -> None:
    """Call before anything else registers request hooks: a hook that answers early (the
    login redirect) skips those registered after it, and after_request hooks run in reverse,
    so the log line is written last, with the final status and headers."""
    app.before_request(_start_request)
    app.after_request(_log_request)
