"""The `buddycheck` command: demo, run, status, migrate, check-config, admin, backup,
restore, wipe."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

import click

from bot import logs
from bot.config import (
    ConfigError,
    Settings,
    load_config,
    load_pepper,
    no_pepper,
    pepper_present,
    production_problems,
)
from checkins.admin import AdminService, show_code
from checkins.context import Context, Refusal
from checkins.i18n import _
from checkins.sealing import KDF_COSTS, Sealer
from storage.db import Database
from storage.roles import EVERYWHERE


def _settings(path: str | None) -> Settings:
    path = path or os.environ.get("BUDDYCHECK_CONFIG")
    if not path:
        raise click.UsageError(_("Give the configuration file with --config or BUDDYCHECK_CONFIG."))
    try:
        return load_config(path)
    except ConfigError as error:
        raise click.ClickException(str(error)) from None


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log more (never message content).")
def main(verbose: bool) -> None:
    """buddycheck: buddy-system check-ins for sex workers, over Telegram and Signal."""
    logs.configure(verbose)


@main.command()
@click.option("--script", is_flag=True, help="Play a full escalation by itself and exit.")
def demo(script: bool) -> None:
    """Run everything locally in this terminal, with no tokens and a throwaway database."""
    from bot.demo import main as demo_main

    sys.exit(demo_main(script))


@main.command(name="check-config")
@click.argument("path", type=click.Path(dir_okay=False))
def check_config(path: str) -> None:
    """Validate a configuration file and print each jurisdiction's escalation ladder.

    Crypto that `run` would refuse (the tests' KDF; a weak pepper, or a pepper file others
    can read, when the pepper is here to check) fails the check too. The pepper is never
    printed."""
    settings = _settings(path)
    for key, section in sorted(settings.jurisdictions.items()):
        click.echo(f"[{key}] legal_model={section.legal_model.value} timezone={section.timezone}")
        for stage in section.ladder:
            click.echo(f"  +{stage.after} → {stage.notify.value}")
    problems = production_problems(settings)
    if problems:
        raise click.ClickException(
            _("{path} must not be used for real people yet:").format(path=path)
            + "\n"
            + "\n".join(f"- {problem}" for problem in problems)
        )
    if not pepper_present(settings):
        click.echo(
            _(
                "Note: there is no pepper here to check. `buddycheck run` needs one "
                "(BUDDYCHECK_PEPPER or [crypto] pepper_file)."
            )
        )
    click.echo(_("OK: {path} is valid.").format(path=path))


@main.command()
@click.option("--config", "config_path", help="Configuration file (or BUDDYCHECK_CONFIG).")
def migrate(config_path: str | None) -> None:
    """Create or upgrade the database schema."""
    settings = _settings(config_path)
    Database(settings.database.url).migrate()
    click.echo(_("Database is up to date."))


@main.command()
@click.option("--config", "config_path", help="Configuration file (or BUDDYCHECK_CONFIG).")
def run(config_path: str | None) -> None:
    """Run the bot on the channels the configuration enables (Telegram, Signal)."""
    import asyncio

    from bot.runner import serve

    settings = _settings(config_path)
    try:
        asyncio.run(serve(settings))
    except ConfigError as error:
        raise click.ClickException(str(error)) from None
    except KeyboardInterrupt:
        pass


@main.command()
@click.option("--config", "config_path", help="Configuration file (or BUDDYCHECK_CONFIG).")
def status(config_path: str | None) -> None:
    """Say whether the running bot is healthy (exit 0), not (1), or not answering (2)."""
    from bot.config import loopback_address
    from bot.status import describe, fetch

    settings = _settings(config_path)
    address = loopback_address(settings.health.listen)
    if address is None:
        click.echo(
            _(
                "[health] listen is empty, so there is nothing to ask. "
                "Set it (see config.example.toml)."
            )
        )
        sys.exit(2)
    try:
        report = fetch(*address)
    except (OSError, ValueError) as error:
        click.echo(
            _(
                "Nothing answers on {listen} ({error}). Is `buddycheck run` running with "
                "this configuration?"
            ).format(listen=settings.health.listen, error=type(error).__name__)
        )
        sys.exit(2)
    described = describe(report)
    click.echo("\n".join(described.lines))
    sys.exit(0 if described.healthy else 1)


@main.group()
def admin() -> None:
    """Organisation administration on the server: role codes and the audit log."""


@admin.command(name="invite")
@click.option(
    "--role",
    type=click.Choice(["admin", "responder", "moderator"]),
    default="admin",
    show_default=True,
)
@click.option(
    "--jurisdiction",
    default="*",
    show_default=True,
    help="The place the role is for, or * for every place.",
)
@click.option("--config", "config_path", help="Configuration file (or BUDDYCHECK_CONFIG).")
def admin_invite(role: str, jurisdiction: str, config_path: str | None) -> None:
    """Print a one-time code that grants a role (how the first admin gets in)."""
    service = _admin_service(config_path)
    try:
        made = service.server_invite(role, jurisdiction)
    except Refusal as refusal:
        raise click.ClickException(str(refusal)) from None
    finally:
        service.db.dispose()
    code = show_code(made.code)
    click.echo(
        _(
            "Code: {code}\n"
            "Give it only to the person who should be {role} ({place}). They register with "
            "the bot, then send: /accept {code}\n"
            "It works once, until {time} UTC."
        ).format(
            code=code,
            role=role,
            place=_("every place") if jurisdiction == EVERYWHERE else jurisdiction,
            time=made.expires_at.strftime("%Y-%m-%d %H:%M"),
        )
    )


@admin.command(name="audit")
@click.option("--limit", default=200, show_default=True, help="How many of the newest entries.")
@click.option("--config", "config_path", help="Configuration file (or BUDDYCHECK_CONFIG).")
def admin_audit(limit: int, config_path: str | None) -> None:
    """Print the audit log: who changed which rules or roles, when, from what to what."""
    service = _admin_service(config_path)
    try:
        entries = service.audit_log(limit)
    finally:
        service.db.dispose()
    for entry in entries:
        who = entry.actor if entry.actor_id is None else f"{entry.actor} (#{entry.actor_id})"
        click.echo(
            f"{entry.at:%Y-%m-%d %H:%M} UTC  {who}  {entry.action}  {entry.jurisdiction or '-'}"
            f"  before={json.dumps(entry.before, ensure_ascii=False)}"
            f"  after={json.dumps(entry.after, ensure_ascii=False)}"
        )
    if not entries:
        click.echo(_("The audit log is empty."))


def _admin_service(config_path: str | None) -> AdminService:
    """The admin service on the configured database (migrated), with the server pepper."""
    from bot.app import utc_now

    settings = _settings(config_path)
    try:
        pepper = load_pepper(settings)
    except ConfigError as error:
        raise click.ClickException(str(error)) from None
    if pepper is None:
        raise click.ClickException(no_pepper())
    db = Database(settings.database.url)
    db.migrate()
    sealer = Sealer(pepper, KDF_COSTS[settings.crypto.kdf])
    return AdminService(Context(db, sealer, settings.policy(), utc_now))


@main.command(name="backup")
@click.argument("destination", type=click.Path(dir_okay=False))
@click.option("--config", "config_path", help="Configuration file (or BUDDYCHECK_CONFIG).")
def backup_command(destination: str, config_path: str | None) -> None:
    """Back up the database to a new file while the bot runs (PostgreSQL: prints pg_dump)."""
    from storage import backup

    settings = _settings(config_path)
    source = backup.sqlite_path(settings.database.url)
    if source is None:
        click.echo(
            _("The database is PostgreSQL: back it up with pg_dump (password in PGPASSWORD):")
        )
        click.echo(backup.pg_dump_command(settings.database.url, destination))
    else:
        _backup_step(lambda: backup.copy(source, Path(destination)))
        click.echo(
            _("Backed up {source} to {destination}.").format(source=source, destination=destination)
        )
        _show_contents(f"sqlite:///{Path(destination).resolve()}")
    click.echo(
        _(
            "A backup holds the sealed details of every outcall open when it was taken (as "
            "ciphertext), nicknames, messenger ids, who is whose buddy, and times. Never keep "
            "it with the pepper: together they are all an attacker needs to start guessing "
            'PINs. "I\'m safe" cannot destroy details in a backup, so delete backups soon '
            "(keep days, not months: docs/operating.md)."
        )
    )


@main.command()
@click.argument("backup_file", type=click.Path(dir_okay=False))
@click.option("--config", "config_path", help="Configuration file (or BUDDYCHECK_CONFIG).")
def restore(backup_file: str, config_path: str | None) -> None:
    """Restore a backup into the configured database, which must not exist yet."""
    from storage import backup

    settings = _settings(config_path)
    target = backup.sqlite_path(settings.database.url)
    if target is None:
        raise click.ClickException(
            _(
                "The database is PostgreSQL: restore into a new, empty database with "
                "pg_restore --dbname=URL {backup}, then run `buddycheck migrate`."
            ).format(backup=backup_file)
        )
    _backup_step(lambda: backup.copy(Path(backup_file), target))
    Database(settings.database.url).migrate()
    click.echo(_("Restored {backup} into {target}.").format(backup=backup_file, target=target))
    _show_contents(settings.database.url)
    click.echo(
        _(
            "Start the bot with the same pepper as before: without it nothing sealed in the "
            "backup can be opened. Alerts that were waiting are sent when it starts."
        )
    )


def _backup_step(step: Callable[[], None]) -> None:
    """Run a backup or restore step; its refusal in words."""
    from storage.backup import BackupError

    try:
        step()
    except BackupError as error:
        if error.reason == "exists":
            message = _("{path} already exists. Choose a new path; nothing was overwritten.")
        elif error.reason == "missing":
            message = _("There is nothing at {path}. Check the path.")
        else:
            message = _("Copying {path} failed ({detail}). Nothing was changed.")
        raise click.ClickException(message.format(path=error.path, detail=error.detail)) from None


def _show_contents(url: str) -> None:
    from storage.backup import contents

    db = Database(url)
    try:
        counted = contents(db)
    finally:
        db.dispose()
    click.echo(
        _(
            "In it: members {members}, open outcalls {open}, sealed details {sealed}, "
            "messages waiting to be sent {pending}."
        ).format(
            members=counted.members,
            open=counted.open_outcalls,
            sealed=counted.sealed_details,
            pending=counted.pending_messages,
        )
    )


WIPE_PHRASE = "destroy all sealed data"


@main.command()
@click.option("--config", "config_path", help="Configuration file (or BUDDYCHECK_CONFIG).")
@click.option(
    "--yes-destroy-everything", "confirmed", is_flag=True, help="Skip the typed confirmation."
)
def wipe(config_path: str | None, confirmed: bool) -> None:
    """Panic wipe: destroy every sealed detail and every key now. Cannot be undone."""
    from checkins.wipe import wipe as wipe_all

    settings = _settings(config_path)
    if not confirmed:
        click.echo(
            _(
                "This destroys every sealed detail, every key and every invite code at once. "
                "Nobody will be able to open anything stored now. Members keep their buddies "
                "and choose a new PIN next time."
            )
        )
        typed = click.prompt(_('Type "{phrase}" to go on').format(phrase=WIPE_PHRASE))
        if typed.strip() != WIPE_PHRASE:
            raise click.ClickException(_("Not confirmed. Nothing was destroyed."))
    from bot.app import utc_now

    report = wipe_all(Database(settings.database.url), utc_now())
    click.echo(
        _(
            "Destroyed: {envelopes} sealed details, {sealed_keys} sealed keys, {invites} buddy "
            "invites, {role_invites} role invites, the keys of {members} members, "
            "{messages} pending messages about outcalls."
        ).format(
            envelopes=report.envelopes,
            sealed_keys=report.sealed_keys,
            invites=report.invites,
            role_invites=report.role_invites,
            members=report.member_keys,
            messages=report.messages,
        )
    )
    click.echo(
        _(
            "Also deleted: who sent {n} reports and raid alerts still waiting for a moderator."
        ).format(n=report.reporter_links)
    )
