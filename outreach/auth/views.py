"""Sign in, sign out, the user's own account page, and the team page (hourly rates)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, url_for
from flask_login import LoginManager, current_user, login_required, login_user, logout_user
from pydantic import ValidationError
from sqlmodel import select
from werkzeug.exceptions import NotFound
from werkzeug.routing import IntegerConverter
from werkzeug.wrappers import Response

from outreach.api.core import field_errors, request_nul_field
from outreach.auth.models import Role, User
from outreach.auth.services import (
    AccountError,
    authenticate,
    change_password,
    clear_login_failures,
    load_session_user,
    login_allowed,
    record_login_failure,
)
from outreach.campaigns.costs import set_hourly_rate
from outreach.campaigns.schemas import HourlyRateInput
from outreach.clock import app_now
from outreach.db import db_session
from outreach.validation import MAX_INT
from outreach.web import same_site_path

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "Please sign in to continue."
login_manager.login_message_category = "info"
login_manager.session_protection = "basic"

# Endpoints anyone may open without signing in.
PUBLIC_ENDPOINTS = {
    "auth.login",
    "web.healthz",
    "web.readyz",
    "static",
    "unsubscribe.confirm",
    "unsubscribe.one_click",
}

F = TypeVar("F", bound=Callable[..., Any])

MANAGERS = (Role.ADMIN, Role.MANAGER)


@login_manager.user_loader
def _load_user(cookie_id: str) -> User | None:
    return load_session_user(db_session(), cookie_id)


class RowIdConverter(IntegerConverter):
    """`<int:...>` in every URL: a number past any row id (/campaigns/10**30) names nothing, so
    it is a 404 here rather than a number the database refuses."""

    def to_python(self, value: str) -> Any:
        number = super().to_python(value)
        if number > MAX_INT:
            raise NotFound(f"There is nothing with the number {value}.")
        return number


def init_app(app: Flask) -> None:
    """The gate every request passes. Registered before any other blueprint, so that every
    URL rule is built with the bounded id converter."""
    app.url_map.converters["int"] = RowIdConverter
    login_manager.init_app(app)
    app.register_blueprint(bp)

    @app.before_request
    def refuse_nul_characters() -> None:
        """Pages refuse NUL characters in any field (PostgreSQL cannot store them); the API
        answers them in its own error shape."""
        if request.blueprint not in app.extensions.get("api_blueprints", ()):
            field = request_nul_field()
            if field is not None:
                abort(400, f"The field {field!r} contains a NUL character (\\u0000).")

    @app.before_request
    def require_login() -> Response | None:
        """Every browser page needs a signed-in user; the API checks its own bearer tokens."""
        endpoint = request.endpoint or ""
        if endpoint in PUBLIC_ENDPOINTS or request.blueprint in app.extensions["api_blueprints"]:
            return None
        if endpoint == "" or current_user.is_authenticated:
            return None
        return login_manager.unauthorized()


def roles_required(*roles: Role) -> Callable[[F], F]:
    """Refuse (403) a signed-in user whose role is not among `roles`."""

    def decorator(view: F) -> F:
        @wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.has_role(*roles):
                abort(403)
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response | tuple[str, int] | tuple[str, int, dict[str, str]]:
    if current_user.is_authenticated:
        return redirect(same_site_path(request.args.get("next"), url_for("web.index")))
    email = request.form.get("email", "")
    if request.method == "POST":
        session, ip, now = db_session(), request.remote_addr or "unknown", app_now()
        decision = login_allowed(session, email, ip, now)
        if not decision.allowed:
            minutes = decision.retry_minutes
            flash(
                f"Too many attempts, try again in {minutes} minute{'s' if minutes > 1 else ''}.",
                "danger",
            )
            retry = str(int(decision.retry_after.total_seconds()) + 1)
            return render_template("auth/login.html", email=email), 429, {"Retry-After": retry}
        user = authenticate(session, email, request.form.get("password", ""))
        if user is not None:
            clear_login_failures(session, email, ip)
            login_user(user, remember=bool(request.form.get("remember")))
            return redirect(same_site_path(request.args.get("next"), url_for("web.index")))
        record_login_failure(session, email, ip, now)
        flash("The email or password is not correct.", "danger")
        return render_template("auth/login.html", email=email), 401
    return render_template("auth/login.html", email=email)


@bp.post("/logout")
def logout() -> Response:
    logout_user()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/account", methods=["GET", "POST"])
def account() -> str | tuple[str, int] | Response:
    if request.method == "POST":
        new = request.form.get("new_password", "")
        if new != request.form.get("confirm_password", ""):
            flash("The new password and its confirmation differ.", "danger")
            return render_template("auth/account.html"), 422
        try:
            change_password(
                db_session(), current_user, request.form.get("current_password", ""), new
            )
        except AccountError as exc:
            flash(str(exc), "danger")
            return render_template("auth/account.html"), 422
        # The user, not the proxy: Flask-Login keeps what it is given in g, and a proxy there
        # resolves to itself (endless recursion on the next current_user in this request).
        login_user(current_user._get_current_object())
        flash("Your password is changed. Other sessions are signed out.", "success")
        return redirect(url_for("auth.account"))
    return render_template("auth/account.html")


def _render_team(
    values: dict[int, str] | None = None, errors: dict[int, str] | None = None, status: int = 200
) -> tuple[str, int]:
    users = db_session().exec(select(User).order_by(User.name, User.email)).all()
    return (
        render_template("auth/team.html", users=users, values=values or {}, errors=errors or {}),
        status,
    )


@bp.get("/team/")
@roles_required(*MANAGERS)
def team() -> tuple[str, int]:
    """Everyone with their role and hourly rate: managers' eyes only, rates are private."""
    return _render_team()


@bp.post("/team/<int:user_id>/rate")
@roles_required(*MANAGERS)
def set_rate(user_id: int) -> tuple[str, int] | Response:
    user = db_session().get(User, user_id)
    if user is None:
        abort(404, f"There is no user {user_id}.")
    typed = request.form.get("hourly_rate", "")
    try:
        data = HourlyRateInput.model_validate({"hourly_rate": typed.strip()})
    except ValidationError as exc:
        return _render_team({user.id: typed}, {user.id: field_errors(exc)["hourly_rate"]}, 422)
    set_hourly_rate(db_session(), user, data, current_user)
    flash(f"Hourly rate of {user.display_name} saved.", "success")
    return redirect(url_for("auth.team"))
