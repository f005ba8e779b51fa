"""Opting out: signed unsubscribe links and the suppression list every campaign obeys."""

from __future__ import annotations

from datetime import datetime

from itsdangerous import BadSignature, URLSafeSerializer
from sqlmodel import Session, select

from outreach.activity.services import record_activity
from outreach.mail.models import Suppression, SuppressionReason
from outreach.mail.stopping import StopReason, stop_enrolments_for_emails

_SALT = "unsubscribe"


def unsubscribe_token(secret_key: str, email: str) -> str:
    """A token naming the address; only this app can make one, so links cannot be forged."""
    return URLSafeSerializer(secret_key, salt=_SALT).dumps(email.lower())


def email_for_token(secret_key: str, token: str) -> str | None:
    try:
        email = URLSafeSerializer(secret_key, salt=_SALT).loads(token)
    except BadSignature:
        return None
    return email if isinstance(email, str) and "@" in email else None


def unsubscribe_url(public_url: str, token: str) -> str:
    return f"{public_url}/unsubscribe/{token}"


def suppress(
    session: Session,
    *,
    reason: SuppressionReason,
    now: datetime,
    email: str | None = None,
    domain: str | None = None,
    source_message_id: int | None = None,
) -> bool:
    """Put an address or a domain on the suppression list and stop its sequences; False if
    it was there already. The caller commits."""
    if (email is None) == (domain is None):
        raise ValueError("suppress an email or a domain, not both")
    value = (email or domain or "").strip().lower()
    column = Suppression.email if email is not None else Suppression.domain
    if session.exec(select(Suppression.id).where(column == value)).first() is not None:
        return False
    session.add(
        Suppression(
            email=value if email is not None else None,
            domain=value if domain is not None else None,
            reason=reason,
            source_message_id=source_message_id,
            created_at=now,
        )
    )
    stop_reason = (
        StopReason.BOUNCED if reason is SuppressionReason.HARD_BOUNCE else StopReason.UNSUBSCRIBED
    )
    if email is not None:
        stop_enrolments_for_emails(session, [value], stop_reason)
    else:
        stop_enrolments_for_emails(session, [], stop_reason, domain=value)
    record_activity(
        session,
        "suppression.added",
        f"{value} will not be emailed again ({reason.value.replace('_', ' ')})",
        at=now,
    )
    return True
