"""The unsubscribe page recipients reach from an outreach email: no login, no cookie.

GET only shows a button, since link scanners open links; a POST opts out, whether it comes
from the button or from a mail client's one-click unsubscribe (RFC 8058)."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template

from outreach.clock import app_now
from outreach.db import db_session
from outreach.mail.models import SuppressionReason
from outreach.mail.unsubscribe import email_for_token, suppress

bp = Blueprint("unsubscribe", __name__, url_prefix="/unsubscribe")


def _email(token: str) -> str | None:
    return email_for_token(current_app.config["SECRET_KEY"], token)


@bp.get("/<token>")
def confirm(token: str) -> tuple[str, int]:
    email = _email(token)
    return render_template("mail/unsubscribe.html", email=email, done=False), 200 if email else 404


@bp.post("/<token>")
def one_click(token: str) -> tuple[str, int]:
    email = _email(token)
    if email is None:
        return render_template("mail/unsubscribe.html", email=None, done=False), 404
    session = db_session()
    suppress(
        session,
        reason=SuppressionReason.UNSUBSCRIBE,
        now=app_now(),
        email=email,
    )
    session.commit()
    return render_template("mail/unsubscribe.html", email=email, done=True), 200
