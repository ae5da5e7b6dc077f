"""Render `deploy/.env.example`, the secrets table of deploy/DEPLOY.md, and the production `.env`
that CD writes on the runner from repository secrets, all from `contract.deploy_variables()`."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path

from wapang.delivery.contract import (
    DELIVERY_SECRETS,
    Consumer,
    DeployVariable,
    chart_settings,
    deploy_variables,
)

DEPLOY_DIR = Path(__file__).resolve().parents[2] / "deploy"
ENV_EXAMPLE_PATH = DEPLOY_DIR / ".env.example"
CHART_SETTINGS_PATH = DEPLOY_DIR / "kubernetes" / "wapang" / "files" / "settings.json"

# docker compose's env_file, `docker run --env-file` and python-dotenv (check-config) disagree on
# quotes, `$` interpolation, `#` comments and surrounding spaces. A value free of those reads the
# same in all three, so the container gets exactly what the secret holds.
_UNSAFE_CHARACTERS = re.compile(r"[\r\n'\"`\\$#]")

_HEADER = """\
# wapang production settings: the host's .env (mode 0600), read by the containers.
# GENERATED from the settings models by `wapang config env-example`. Do not edit by hand:
# tests/delivery fail when this file is stale. CD writes the real .env from the GitHub repository
# secrets of the same names (`wapang config write-env`); `wapang check-config --env-file .env`
# validates it. Values must not contain quotes, backslashes, $, # or surrounding spaces: docker
# compose, `docker run --env-file` and python-dotenv would each read those differently.
"""

_SECTIONS = {
    Consumer.API: "API: the app and migrate containers (compose: env_file: .env)",
    Consumer.EDGE: "HTTPS edge: the nginx and certbot containers (compose: environment:)",
    Consumer.NGINX: "HTTPS edge: the nginx container alone (compose: environment:)",
}


class EnvFileError(Exception):
    """The `.env` cannot be written: every problem at once, never a value."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


def render_env_example(variables: list[DeployVariable] | None = None) -> str:
    variables = deploy_variables() if variables is None else variables
    blocks = [_HEADER]
    for consumer, title in _SECTIONS.items():
        blocks.append(f"# ---- {title} ----\n")
        blocks += [_example_entry(v) for v in variables if v.consumer is consumer]
    return "\n".join(blocks)


def render_chart_settings() -> str:
    """deploy/kubernetes/wapang/files/settings.json: the keys of the chart's Secret."""
    return json.dumps(chart_settings(), indent=2) + "\n"


def _example_entry(variable: DeployVariable) -> str:
    lines = [f"# {variable.description}"]
    lines.append(f"# {_requirement_note(variable)} Default: {variable.default or 'none'}.")
    if variable.production_value is not None:
        lines.append(f"{variable.name}={variable.production_value}")
    elif variable.required_in_prod:
        lines.append(f"{variable.name}=")
    else:
        lines.append(f"# {variable.name}={variable.default or ''}")
    return "\n".join(lines) + "\n"


def _requirement_note(variable: DeployVariable) -> str:
    if variable.production_value is not None:
        return f"Required in prod: yes, CD always writes {variable.production_value}."
    if variable.required_in_prod:
        return "Required in prod: yes, from the repository secret of this name."
    return "Required in prod: no (repository secret of this name, if set)."


def render_env_file(environment: Mapping[str, str]) -> str:
    """The production `.env` from `environment` (the CD step's secrets): every required variable,
    and the optional ones that are set. Raises `EnvFileError` naming every problem."""
    lines, problems = [], []
    for variable in deploy_variables():
        value = _production_value(variable, environment)
        if value is None:
            if variable.required_in_prod:
                problems.append(f"{variable.name} is required: add the repository secret")
            continue
        problem = unsafe_value_problem(variable.name, value)
        if problem:
            problems.append(problem)
        lines.append(f"{variable.name}={value}")
    if problems:
        raise EnvFileError(problems)
    return "\n".join(lines) + "\n"


def _production_value(variable: DeployVariable, environment: Mapping[str, str]) -> str | None:
    if variable.production_value is not None:
        return variable.production_value
    value = environment.get(variable.name, "")
    return value if value != "" else None  # an unset GitHub secret arrives as ""


def unsafe_value_problem(name: str, value: str) -> str | None:
    """Why `value` would reach the container altered, or None. Names the variable, not the value."""
    if value != value.strip():
        return f"{name} has leading or trailing whitespace: remove it"
    if _UNSAFE_CHARACTERS.search(value):
        return (
            f"{name} contains a quote, backslash, $, # or line break, which docker compose and "
            "`docker run --env-file` read differently: choose a value without them"
        )
    return None


def write_private_file(path: Path, text: str) -> None:
    """Create or replace `path` readable by its owner only (0600), even under a loose umask."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)


def render_secrets_markdown() -> str:
    """The repository secrets table of deploy/DEPLOY.md."""
    rows = ["| Secret | Required | Used for |", "|---|---|---|"]
    for variable in deploy_variables():
        if variable.from_secret:
            required = "yes" if variable.required_in_prod else "no"
            used = f"`.env` → {variable.consumer.value}: {variable.description}"
            rows.append(f"| `{variable.name}` | {required} | {_escape(used)} |")
    for secret in DELIVERY_SECRETS:
        required = "yes" if secret.required else "no"
        rows.append(f"| `{secret.name}` | {required} | CD: {_escape(secret.description)} |")
    return "\n".join(rows) + "\n"


def _escape(text: str) -> str:
    return text.replace("|", "\\|")
