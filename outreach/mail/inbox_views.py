"""The inbox: replies, auto-replies, bounces and opt-outs the IMAP poller recorded, for
someone to act on and then mark handled."""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from outreach.clock import app_now
from outreach.db import db_session
from outreach.mail.inbox import inbox_counts, list_inbound, mark_handled
from outreach.mail.models import Direction, InboundKind, Message
from outreach.validation import MAX_INT
from outreach.web import same_site_path

bp = Blueprint("inbox", __name__, url_prefix="/inbox")

PER_PAGE = 50
HANDLED = "handled"


@dataclass(frozen=True)
class Tab:
    label: str
    kinds: tuple[InboundKind, ...]


TABS = {
    "replies": Tab("Replies", (InboundKind.REPLY,)),
    "auto_replies": Tab("Auto-replies", (InboundKind.AUTO_REPLY,)),
    "bounces": Tab("Bounces", (InboundKind.BOUNCE_HARD, InboundKind.BOUNCE_SOFT)),
    "opt_outs": Tab("Opt-outs", (InboundKind.UNSUBSCRIBE,)),
    "unmatched": Tab("Unmatched", (InboundKind.UNMATCHED,)),
}
KIND_LABELS = {
    InboundKind.REPLY: "reply",
    InboundKind.AUTO_REPLY: "auto-reply",
    InboundKind.BOUNCE_HARD: "hard bounce",
    InboundKind.BOUNCE_SOFT: "soft bounce",
    InboundKind.UNSUBSCRIBE: "opt-out",
    InboundKind.UNMATCHED: "unmatched",
}


def _kinds(tab: str) -> tuple[InboundKind, ...] | None:
    return None if tab == HANDLED else TABS[tab].kinds


def _to_act_on() -> dict[str, int]:
    """How many messages each tab still holds."""
    counts = inbox_counts(db_session())
    return {name: sum(counts.get(kind, 0) for kind in tab.kinds) for name, tab in TABS.items()}


@bp.get("/")
def index() -> str:
    session = db_session()
    tab = request.args.get("tab", "replies")
    if tab not in TABS and tab != HANDLED:
        abort(404, f"There is no inbox tab {tab!r}.")
    page = min(max(request.args.get("page", 1, type=int) or 1, 1), MAX_INT)
    rows, total = list_inbound(session, _kinds(tab), (page - 1) * PER_PAGE, PER_PAGE)
    return render_template(
        "mail/inbox.html",
        tabs=TABS,
        tab=tab,
        counts=_to_act_on(),
        rows=rows,
        kind_labels=KIND_LABELS,
        page=page,
        pages=max(ceil(total / PER_PAGE), 1),
        total=total,
    )


@bp.post("/<int:message_id>/handled")
def handled(message_id: int) -> str | Response:
    """With htmx the row goes away (and the tab counts follow); without, back to the list."""
    session = db_session()
    message = session.get(Message, message_id)
    if message is None or message.direction is not Direction.INBOUND:
        abort(404, f"There is no received message {message_id}.")
    if message.handled_at is None:
        mark_handled(session, message, app_now())
    if request.headers.get("HX-Request"):
        return render_template(
            "mail/_handled.html", message=message, tabs=TABS, counts=_to_act_on()
        )
    flash(f"“{message.subject or '(no subject)'}” marked handled.", "success")
    return redirect(same_site_path(request.form.get("back"), url_for("inbox.index")))
