"""What every command shares: a console for its errors, and settings loaded or exit code 2."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from wapang.config import ConfigError, Settings

errors = Console(stderr=True)


def load_settings_or_exit(env_file: Path | None = None) -> Settings:
    """Validated settings from the environment and `env_file` (default `.env`), or every
    problem printed at once and exit code 2. Secret values are never printed."""
    if env_file is not None and not env_file.is_file():
        errors.print(f"[red]--env-file {env_file} does not exist.[/red]")
        raise typer.Exit(2)
    try:
        return Settings.load(env_file=env_file if env_file is not None else ".env")
    except ConfigError as error:
        errors.print(f"[red]{error.render()}[/red]", highlight=False)
        raise typer.Exit(2) from None
