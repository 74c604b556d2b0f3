"""The `buddycheck` command: demo, run, migrate, check-config."""

from __future__ import annotations

import logging
import os
import sys

import click

from bot.config import ConfigError, Settings, load_config
from checkins.i18n import _
from storage.db import Database


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
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@main.command()
@click.option("--script", is_flag=True, help="Play a full escalation by itself and exit.")
def demo(script: bool) -> None:
    """Run everything locally in this terminal, with no tokens and a throwaway database."""
    from bot.demo import main as demo_main

    sys.exit(demo_main(script))


@main.command(name="check-config")
@click.argument("path", type=click.Path(dir_okay=False))
def check_config(path: str) -> None:
    """Validate a configuration file and print each jurisdiction's escalation ladder."""
    settings = _settings(path)
    for key, section in sorted(settings.jurisdictions.items()):
        click.echo(f"[{key}] legal_model={section.legal_model.value} timezone={section.timezone}")
        for stage in section.ladder:
            click.echo(f"  +{stage.after} → {stage.notify.value}")
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
