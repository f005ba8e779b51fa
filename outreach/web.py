"""Site-wide pieces: the home page, the health and readiness checks, error pages and security
headers."""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from urllib.parse import urlsplit

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Blueprint, Flask, jsonify, redirect, render_template, request, url_for
from sqlalchemy import text
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from outreach.db import get_engine
from outreach.dbcli import alembic_config

bp = Blueprint("web", __name__)

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "img-src 'self' data:",
        "style-src 'self'",
        "script-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


@bp.get("/")
def index() -> Response:
    return redirect(url_for("campaigns.index"))


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    """Liveness: the process answers and can reach its database."""
    try:
        with get_engine().connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:
        return jsonify(status="error", database=type(exc).__name__), 503
    return jsonify(status="ok"), 200


@cache
def migration_heads() -> tuple[str, ...]:
    """The newest revision(s) of migrations/: read once, the scripts do not change at run time."""
    return tuple(sorted(ScriptDirectory.from_config(alembic_config("")).get_heads()))


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """Readiness: the database answers and its schema is the one this code expects. A load
    balancer sends no traffic to a worker started before `flask db upgrade` finished."""
    heads = migration_heads()
    try:
        with get_engine().connect() as connection:
            current = tuple(sorted(MigrationContext.configure(connection).get_current_heads()))
    except Exception as exc:
        return jsonify(
            status="unavailable", reason="database unreachable", database=type(exc).__name__
        ), 503
    if current != heads:
        at, head = ", ".join(current) or "none", ", ".join(heads)
        return jsonify(
            status="unavailable", reason=f"migrations pending: at {at}, head {head}"
        ), 503
    return jsonify(status="ready", revision=", ".join(heads)), 200


def _security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    if request.endpoint != "static":
        headers.setdefault("Cache-Control", "no-store")
    return response


def _handle_http_error(error: HTTPException) -> tuple[Response | str, int]:
    status = error.code or 500
    if request.path.startswith("/api/"):
        from outreach.api.core import error_body

        return jsonify(error_body(_error_code(status), error.description or error.name)), status
    return render_template("errors/error.html", error=error, status=status), status


def _error_code(status: int) -> str:
    return {
        400: "bad_request",
        401: "unauthorized",
        403: "forbidden",
        404: "not_found",
        405: "method_not_allowed",
        409: "conflict",
        413: "payload_too_large",
        422: "validation_error",
        429: "too_many_requests",
    }.get(status, "server_error" if status >= 500 else "error")


def same_site_path(target: str | None, default: str) -> str:
    """`target` when it is a path on this site, else `default`: no open redirects."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return default
    parts = urlsplit(target)
    return default if parts.scheme or parts.netloc or "\\" in target else target


def money(amount: Decimal | None, currency: str = "") -> str:
    """1234.5 -> "USD 1,234.50"; a missing amount shows as an en dash."""
    if amount is None:
        return "–"
    return f"{currency} {amount:,.2f}".strip()


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.add_template_filter(money)
    app.after_request(_security_headers)
    app.register_error_handler(HTTPException, _handle_http_error)
