"""deploy/DEPLOY.md, the deploy guide: every `wapang` command and option it names exists, every
`uv run` tool is installed by the lock, deploy.sh has the flags it shows, and it covers what a
first deploy needs (DNS, security group, secrets, failure messages, a diagram)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import typer
from typer._click import Command  # typer 0.29 runs its own copy of click, not `click`
from typer.core import TyperGroup

from wapang.cli import app

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "deploy" / "DEPLOY.md"
DEPLOY_SH = ROOT / "deploy" / "deploy.sh"
# What the guide quotes from wapang's own messages, not commands.
MESSAGES = ("cannot start",)


def code_text() -> list[str]:
    """Every line of a fenced block, and every inline code span of the other lines."""
    lines: list[str] = []
    fenced = False
    for line in GUIDE.read_text().splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif fenced:
            lines.append(line)
        else:
            lines += re.findall(r"`([^`]+)`", line)
    return lines


def wapang_invocations() -> list[list[str]]:
    found = []
    for text in code_text():
        for match in re.finditer(r"(?<![\w/.-])wapang((?: +[\w:/.=<>+-]+)+)", text):
            words = match.group(1).split()
            if not " ".join(words).startswith(MESSAGES):
                found.append(words)
    return found


def resolve(words: list[str]) -> tuple[Command, list[str]]:
    """The deepest command the words name, and the words left after it."""
    command = typer.main.get_command(app)
    while words:
        lookup = getattr(command, "get_command", None)
        if lookup is None:
            break
        found = lookup(typer.Context(command), words[0])
        if found is None:
            raise AssertionError(f"`wapang {' '.join(words)}`: {words[0]} is not a command")
        command, words = found, words[1:]
    return command, words


def option_names(command: Command) -> set[str]:
    return {name for param in command.params for name in (*param.opts, *param.secondary_opts)}


def test_the_guide_names_wapang_commands() -> None:
    named = {" ".join(words[:2]) for words in wapang_invocations()}
    for expected in ("verify https://shop.example.com", "config secrets", "certs status"):
        assert expected in named


@pytest.mark.parametrize("words", wapang_invocations(), ids=" ".join)
def test_every_wapang_command_in_the_guide_exists(words: list[str]) -> None:
    command, rest = resolve(words)
    assert not isinstance(command, TyperGroup), f"`wapang {' '.join(words)}` names a group"
    for word in rest:
        if word.startswith("--"):
            assert word.split("=")[0] in option_names(command), f"`wapang {' '.join(words)}`"


def test_every_uv_run_tool_is_installed() -> None:
    tools = {m.group(1) for t in code_text() for m in re.finditer(r"\buv run (\S+)", t)}
    assert {"ruff", "mypy", "pytest", "actionlint", "hadolint", "shellcheck", "wapang"} <= tools
    for tool in tools:
        assert shutil.which(tool), f"`uv run {tool}`: not installed by `uv sync`"


def test_deploy_script_flags_shown_in_the_guide_exist() -> None:
    script = DEPLOY_SH.read_text()
    for line in code_text():
        if "deploy.sh" in line:
            for flag in re.findall(r"(?<!\S)(--[a-z-]+)", line):
                assert f"{flag})" in script, f"deploy.sh has no {flag}: {line}"


def test_deploy_script_failures_are_explained() -> None:
    """Each `die` message of deploy.sh appears (up to its first variable) in the guide."""
    guide = GUIDE.read_text()
    for message in re.findall(r'\bdie "([^"]+)"', DEPLOY_SH.read_text()):
        head = message.split("$")[0].split("'")[0].strip()
        if head:
            assert head in guide, f"deploy.sh's `{message}` is not explained in DEPLOY.md"


@pytest.mark.parametrize(
    "needed",
    ["A record", "Security group", "22/tcp", "80/tcp", "443/tcp", "production", "rollback"],
)
def test_the_guide_covers(needed: str) -> None:
    assert needed.lower() in GUIDE.read_text().lower()


def test_the_guide_has_a_diagram_of_the_system() -> None:
    diagram = GUIDE.read_text().split("## The system", 1)[1].split("```")[1]
    for part in ("nginx", "certbot", "app", "migrate", "MySQL", "Let's Encrypt", "SSH"):
        assert part in diagram
