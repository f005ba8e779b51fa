"""`flask users ...`: accounts and API tokens from the command line."""

from __future__ import annotations

import secrets
import sys

import click
from flask.cli import AppGroup

from outreach.auth.models import Role
from outreach.auth.services import AccountError, create_user, find_user, issue_api_token
from outreach.db import db_session

users_cli = AppGroup("users", help="Manage user accounts and API tokens.")


@users_cli.command("create")
@click.argument("email")
@click.option(
    "--role", type=click.Choice([role.value for role in Role]), default=Role.BUILDER.value
)
@click.option("--password", help="Without it: asked for on a terminal, else generated and printed.")
@click.option("--name", default="", help="The name shown in the app.")
def create(email: str, role: str, password: str | None, name: str) -> None:
    """Create a user who signs in with EMAIL."""
    generated = False
    if password is None:
        if sys.stdin.isatty():
            password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        else:
            password, generated = secrets.token_urlsafe(12), True
    try:
        user = create_user(db_session(), email, password, Role(role), name=name)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Created {user.role.value} {user.email}")
    if generated:
        click.echo(f"Password: {password}")


@users_cli.command("token")
@click.argument("email")
@click.option("--label", default="cli", help="A note on what the token is for.")
def token(email: str, label: str) -> None:
    """Print a new API bearer token for EMAIL."""
    session = db_session()
    user = find_user(session, email)
    if user is None:
        raise click.ClickException(f"No user with the email {email.strip().lower()}.")
    if not user.active:
        raise click.ClickException(f"{user.email} is deactivated.")
    click.echo(issue_api_token(session, user, label=label))
