"""`wapang config ...`: the configuration contract's generated files and the CD `.env` writer."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from wapang.delivery.envfile import (
    CHART_SETTINGS_PATH,
    ENV_EXAMPLE_PATH,
    EnvFileError,
    render_chart_settings,
    render_env_example,
    render_env_file,
    render_secrets_markdown,
    write_private_file,
)

config_app = typer.Typer(
    name="config",
    help="The configuration contract: .env.example, the secrets list, the CD .env writer.",
    no_args_is_help=True,
)
errors = Console(stderr=True)
CheckOnly = Annotated[
    bool, typer.Option("--check", help="Exit 1 if the file is stale instead of writing it.")
]


@config_app.command("env-example")
def env_example(
    output: Annotated[Path, typer.Option(help="Where to write it.")] = ENV_EXAMPLE_PATH,
    check: CheckOnly = False,
) -> None:
    """Generate deploy/.env.example from the settings models."""
    _write_or_check(output, render_env_example(), "wapang config env-example", check)


def _write_or_check(output: Path, text: str, command: str, check: bool) -> None:
    if check:
        current = output.read_text(encoding="utf-8") if output.is_file() else ""
        if current != text:
            errors.print(f"{output} is stale: run `{command}`.")
            raise typer.Exit(1)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    errors.print(f"wrote {output}")


@config_app.command("chart-settings")
def chart_settings_file(
    output: Annotated[Path, typer.Option(help="Where to write it.")] = CHART_SETTINGS_PATH,
    check: CheckOnly = False,
) -> None:
    """Generate the Helm chart's list of Secret keys (files/settings.json) from the models."""
    _write_or_check(output, render_chart_settings(), "wapang config chart-settings", check)


@config_app.command("secrets")
def secrets_table() -> None:
    """Print the GitHub repository secrets CD needs, as a Markdown table."""
    typer.echo(render_secrets_markdown(), nl=False)


@config_app.command("write-env")
def write_env(
    output: Annotated[Path, typer.Argument(help="The .env to create (mode 0600).")],
) -> None:
    """Write the production .env from this process's environment (CD maps secrets into it).

    Fails, naming every missing or unusable variable but no value, before writing anything.
    """
    try:
        text = render_env_file(os.environ)
    except EnvFileError as error:
        errors.print("[red]cannot write the production .env:[/red]")
        for problem in error.problems:
            errors.print(f"  - {problem}", highlight=False, markup=False)
        raise typer.Exit(2) from None
    write_private_file(output, text)
    errors.print(f"wrote {output} ({text.count(chr(10))} variables, mode 0600)")
