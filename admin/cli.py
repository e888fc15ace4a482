"""``praho admin ...``: staff accounts from the command line (the first admin, resets)."""

from __future__ import annotations

import click
from praho.admin.models import StaffRole
from praho.admin.staff import create_staff_user, find_staff, set_password
from praho.core.cli import CLI_ACTOR, database, praho_command


@click.group("admin")
def admin_group() -> None:
    """Back-office staff accounts."""


@admin_group.command("create-user")
@click.option("--email", required=True, help="login e-mail")
@click.option("--name", required=True, help="the person's name")
@click.option(
    "--role",
    type=click.Choice([r.value for r in StaffRole]),
    required=True,
    help="admin: everything; billing: money operations; support: read-only plus notes",
)
@click.option("--language", type=click.Choice(["ro", "en"]), default="ro", show_default=True)
@praho_command
def create_user(email: str, name: str, role: str, language: str) -> None:
    """Create a staff user. The password is asked for (never given on the command line)."""
    password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    with database().transaction() as session:
        user = create_staff_user(
            session,
            email=email,
            name=name,
            role=role,
            password=password,
            language=language,
            actor=CLI_ACTOR,
        )
        click.echo(f"created {user.email} ({user.role})")


@admin_group.command("set-password")
@click.option("--email", required=True)
@praho_command
def set_password_command(email: str) -> None:
    """Replace a staff user's password; the user's open sessions end."""
    password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    with database().transaction() as session:
        user = find_staff(session, email)
        if user is None:
            raise click.ClickException(f"email: no staff user {email!r}")
        set_password(session, user, password, actor=CLI_ACTOR)
        click.echo(f"password changed for {user.email}")
