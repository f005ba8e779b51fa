"""The admin page: what the scheduler passes did, and what waits now."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, current_app, render_template

from outreach.auth.models import Role
from outreach.auth.views import roles_required
from outreach.clock import app_now
from outreach.db import db_session
from outreach.ops.services import queue_figures, recent_runs, totals_since

bp = Blueprint("ops", __name__, url_prefix="/admin")

# The counts shown as columns of the runs table, in this order; the 24-hour totals show all.
RUN_COLUMNS = (
    ("queued", "Queued"),
    ("sent", "Sent"),
    ("failed", "Failed"),
    ("retried", "Retried"),
    ("mailboxes_polled", "Mailboxes polled"),
    ("links_checked", "Links checked"),
    ("links_lost", "Links lost"),
)


@bp.get("/")
@roles_required(Role.ADMIN)
def index() -> str:
    """Operations are the admins' business: managers and builders get a 403."""
    session = db_session()
    now = app_now()
    lease = timedelta(seconds=current_app.extensions["outreach"].settings.mail_claim_lease_seconds)
    return render_template(
        "ops/index.html",
        runs=recent_runs(session),
        columns=RUN_COLUMNS,
        totals=totals_since(session, now - timedelta(hours=24)),
        queue=queue_figures(session, now, lease),
        now=now,
    )
