"""outreach: a self-hosted link-building campaign manager."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass

from flask_openapi3 import Info, OpenAPI
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.engine import Engine
from werkzeug.middleware.proxy_fix import ProxyFix

from outreach.clock import Clock, SystemClock
from outreach.config import (
    PROJECT_ROOT,
    ConfigError,
    Settings,
    ensure_mail_key,
    ensure_secret_key,
    load_settings,
)
from outreach.db import close_db_session, make_engine
from outreach.ops.logs import configure_logging

csrf = CSRFProtect()


@dataclass(frozen=True)
class AppState:
    """What the app keeps in app.extensions["outreach"]."""

    settings: Settings
    engine: Engine
    # Encrypts mailbox passwords; see config.ensure_mail_key.
    mail_key: str
    clock: Clock


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> OpenAPI:
    """Build the app. Migrations are never run here: `flask --app app db upgrade` does that."""
    if settings is None:
        try:
            settings = load_settings()
        except ConfigError as exc:
            sys.exit(f"outreach: {exc}")

    from outreach.api.core import (
        API_SECURITY_SCHEMES,
        ErrorResponse,
        validation_error_response,
    )

    app = OpenAPI(
        __name__,
        info=Info(title="outreach API", version="1"),
        security_schemes=API_SECURITY_SCHEMES,
        validation_error_status=422,
        validation_error_model=ErrorResponse,
        validation_error_callback=validation_error_response,
        doc_ui=False,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
        instance_path=str(settings.resolved_instance_path),
    )
    settings.resolved_instance_path.mkdir(parents=True, exist_ok=True)
    app.config.update(
        SECRET_KEY=ensure_secret_key(settings),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.session_cookie_secure,
        SESSION_COOKIE_NAME="outreach_session",
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=settings.session_cookie_secure,
        WTF_CSRF_TIME_LIMIT=None,
        MAX_CONTENT_LENGTH=200 * 1024 * 1024,
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]
    if settings.trusted_proxies:
        hops = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    configure_logging(settings.log_level, settings.log_format)
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    # httpx logs every request at INFO: a line per page the link checker fetches.
    logging.getLogger("httpx").setLevel(logging.WARNING)

    engine = make_engine(
        settings.resolved_database_url,
        pool_pre_ping=not settings.resolved_database_url.startswith("sqlite"),
    )
    app.extensions["outreach"] = AppState(
        settings=settings,
        engine=engine,
        mail_key=ensure_mail_key(settings),
        clock=clock or SystemClock(),
    )
    app.teardown_appcontext(close_db_session)

    csrf.init_app(app)

    from outreach import web
    from outreach.api import core as api_core
    from outreach.auth import views as auth_views
    from outreach.campaigns import api as campaigns_api
    from outreach.campaigns import cost_api
    from outreach.campaigns import views as campaigns_views
    from outreach.links import api as links_api
    from outreach.links import views as links_views
    from outreach.mail import api as mail_api
    from outreach.mail import inbox_views, mailbox_views, public_views, sequence_views
    from outreach.mail import views as mail_views
    from outreach.ops import logs as ops_logs
    from outreach.ops import views as ops_views
    from outreach.prospects import api as prospects_api
    from outreach.prospects import import_views
    from outreach.prospects import views as prospects_views
    from outreach.reports import api as reports_api
    from outreach.reports import views as reports_views

    ops_logs.init_app(app)
    auth_views.init_app(app)
    web.init_app(app)
    app.register_blueprint(campaigns_views.bp)
    app.register_blueprint(prospects_views.bp)
    app.register_blueprint(import_views.bp)
    app.register_blueprint(mail_views.bp)
    app.register_blueprint(mailbox_views.bp)
    app.register_blueprint(sequence_views.bp)
    app.register_blueprint(inbox_views.bp)
    app.register_blueprint(links_views.bp)
    app.register_blueprint(reports_views.bp)
    app.register_blueprint(public_views.bp)
    app.register_blueprint(ops_views.bp)
    csrf.exempt(public_views.bp)
    api_core.init_app(app)
    api_core.register(app, api_core.api)
    api_core.register(app, campaigns_api.api)
    api_core.register(app, cost_api.api)
    api_core.register(app, prospects_api.api)
    api_core.register(app, mail_api.api)
    api_core.register(app, links_api.api)
    api_core.register(app, reports_api.api)

    from outreach.auth.cli import users_cli
    from outreach.cli import serve
    from outreach.dbcli import db_cli
    from outreach.demo import demo_cli
    from outreach.links.cli import links_cli
    from outreach.mail.cli import mailboxes_cli, outreach_cli
    from outreach.prospects.cli import prospects_cli
    from outreach.reports.cli import reports_cli
    from outreach.scheduler import scheduler

    commands = (
        db_cli,
        users_cli,
        demo_cli,
        prospects_cli,
        outreach_cli,
        mailboxes_cli,
        links_cli,
        reports_cli,
        scheduler,
        serve,
    )
    for command in commands:
        app.cli.add_command(command)
    return app
