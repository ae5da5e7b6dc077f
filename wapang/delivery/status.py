"""`wapang status`: the operator's view on the host, from what deploy.sh keeps in the deploy
directory (the release serving, the previous one, the last deploy's outcome) and from the running
stack through `docker compose exec` (the certificate manager's own status, the app's /readyz,
which answers only when the database does). Exit 1 when anything is unhealthy."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

DEFAULT_DEPLOY_DIR = Path("/opt/wapang")
EXEC_TIMEOUT_SECONDS = 60
READINESS_PROBE = (
    "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=5)"
)

console = Console()


@dataclass
class HostStatus:
    release: str | None
    previous_release: str | None
    last_deploy: str | None
    ready: bool
    certificate: dict[str, Any] | None
    problems: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return not self.problems


def _state(deploy_dir: Path, name: str) -> str | None:
    path = deploy_dir / name
    return path.read_text().strip() or None if path.exists() else None


def _compose(deploy_dir: Path, release: str | None, *args: str) -> subprocess.CompletedProcess[str]:
    """`docker compose` on the stack of the release serving, as deploy.sh runs it."""
    files = ["-f", str(deploy_dir / "compose.yaml")]
    if (deploy_dir / "compose.override.yaml").exists():
        files += ["-f", str(deploy_dir / "compose.override.yaml")]
    env = os.environ | {
        "REGISTRY": _state(deploy_dir, "registry") or "unknown",
        "TAG": release or "unknown",
        "COMPOSE_PROFILES": _state(deploy_dir, "compose-profiles") or "",
    }
    command = ["docker", "compose", "--project-directory", str(deploy_dir), *files, *args]
    return subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=EXEC_TIMEOUT_SECONDS, check=False
    )


def collect(deploy_dir: Path) -> HostStatus:
    release = _state(deploy_dir, "current-tag")
    status = HostStatus(
        release=release,
        previous_release=_state(deploy_dir, "previous-tag"),
        last_deploy=_state(deploy_dir, "last-deploy"),
        ready=False,
        certificate=None,
    )
    if release is None:
        status.problems.append(f"no release recorded in {deploy_dir}/current-tag: never deployed")
        return status
    if status.last_deploy and status.last_deploy.startswith("failed"):
        status.problems.append(f"the last deploy failed: {status.last_deploy}")
    probe = _compose(deploy_dir, release, "exec", "-T", "app", "python", "-c", READINESS_PROBE)
    status.ready = probe.returncode == 0
    if not status.ready:
        status.problems.append("the app is not ready: it is down or its database does not answer")
    certs = _compose(deploy_dir, release, "exec", "-T", "certbot", "wapang", "certs", "status")
    certs_json = _compose(
        deploy_dir, release, "exec", "-T", "certbot", "wapang", "certs", "status", "--json"
    )
    try:
        status.certificate = json.loads(certs_json.stdout)
    except json.JSONDecodeError:
        status.problems.append("the certificate manager did not answer (is certbot running?)")
        return status
    if certs.returncode != 0 or certs_json.returncode != 0:
        reasons = status.certificate.get("problems") if status.certificate else None
        status.problems.append(f"the certificate is unhealthy: {reasons or 'see certs status'}")
    return status


def status_command(
    deploy_dir: Annotated[
        Path, typer.Option("--dir", help="The deploy directory deploy.sh manages.")
    ] = DEFAULT_DEPLOY_DIR,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """The host's view: release serving and previous, last deploy, readiness (and so the
    database), the certificate's days left and next renewal. Exit 1 when anything is unhealthy."""
    report = collect(deploy_dir)
    if as_json:
        console.print_json(json.dumps(asdict(report) | {"healthy": report.healthy}))
    else:
        _print(report)
    raise typer.Exit(0 if report.healthy else 1)


def _print(report: HostStatus) -> None:
    cert = report.certificate or {}
    last = cert.get("last_attempt") or {}
    rows = {
        "release serving": report.release or "—",
        "previous release": report.previous_release or "—",
        "last deploy": report.last_deploy or "—",
        "ready (database answers)": "yes" if report.ready else "NO",
        "certificate days left": cert.get("days_left", "—"),
        "next renewal": cert.get("next_renewal", "—"),
        "last renewal attempt": f"{last.get('at', '—')} ok={last.get('ok', '—')}",
    }
    for name, value in rows.items():
        console.print(f"{name}: {value}", highlight=False)
    for problem in report.problems:
        console.print(f"[bold red]problem[/]: {problem}", highlight=False)
    console.print("[green]healthy[/]" if report.healthy else "[bold red]UNHEALTHY[/]")
