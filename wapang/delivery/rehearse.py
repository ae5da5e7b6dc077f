"""`wapang rehearse`: the production stack from this repository on the local Docker engine, with a
throwaway ACME server (pebble) in place of Let's Encrypt and a local DNS name, checked by
`wapang verify` with pebble's root trusted. The step before the first real deploy."""

from __future__ import annotations

import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from wapang.delivery.envfile import render_env_file, write_private_file
from wapang.delivery.stack import (
    DEPLOY,
    PEBBLE_IMAGE,
    Docker,
    Rehearsal,
    StackError,
    build_images,
    compose_args,
    compose_env,
    fetch_pebble_root,
    prepare_host,
    prepared_docker,
    wait_for_issued_certificate,
    with_env,
)
from wapang.delivery.verify import Policy, Target, render, run_checks

REPOSITORY, TAG = "wapang-rehearsal", "local"
console = Console()


def throwaway_settings(domain: str) -> dict[str, str]:
    """What the repository secrets would hold for a host serving `domain`, with fresh throwaway
    secrets and the selfhost database (the stack tests map them exactly as cd.yml does)."""
    return {
        "DB_HOST": "db",
        "DB_USER": "wapang",
        "DB_PASSWORD": secrets.token_urlsafe(18),
        # The selfhost database's second user: migrations (DDL); "wapang" gets DML only.
        "DB_MIGRATION_USER": "wapang_ddl",
        "DB_MIGRATION_PASSWORD": secrets.token_urlsafe(18),
        "DB_DATABASE": "wapang",
        "ACCESS_TOKEN_SECRET": secrets.token_urlsafe(48),
        "REFRESH_TOKEN_SECRET": secrets.token_urlsafe(48),
        "DOMAINS": domain,
    }


def rehearsal_env(domain: str) -> str:
    """The .env CD would write, from throwaway secrets (the selfhost database)."""
    return render_env_file(throwaway_settings(domain))


def standin_images(docker: Docker, timeout: float | None = None) -> dict[str, str]:
    """Base images built without a registry (deploy/standins/build.sh: VAR=image lines)."""
    try:
        result = subprocess.run(
            [str(DEPLOY / "standins" / "build.sh")],
            env={**docker.env, "DOCKER": docker.client},
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        raise StackError(f"building the stand-in base images took over {timeout:.0f}s") from None
    if result.returncode != 0:
        raise StackError(f"building the stand-in base images failed: {result.stderr.strip()}")
    return dict(line.split("=", 1) for line in result.stdout.split())


def rehearse_command(
    keep: Annotated[bool, typer.Option(help="Leave the stack running afterwards.")] = False,
    standins: Annotated[
        bool,
        typer.Option(help="No Docker Hub/ghcr.io: build the base images locally (debootstrap)."),
    ] = False,
    domain: Annotated[str, typer.Option(help="The local DNS name of the site.")] = (
        "shop.wapang.example"
    ),
    http_port: Annotated[int, typer.Option(help="Loopback port for http.")] = 21080,
    https_port: Annotated[int, typer.Option(help="Loopback port for https.")] = 21443,
    acme_port: Annotated[int, typer.Option(help="Loopback port of pebble's management API.")] = (
        21015
    ),
    directory: Annotated[
        Path | None, typer.Option("--dir", help="The host directory (default: a temporary one).")
    ] = None,
    ca_bundle: Annotated[
        Path | None,
        typer.Option(help="CA bundle for PyPI inside the builds (a TLS-inspecting proxy's)."),
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the certificate.")] = 300,
) -> None:
    """Bring up the production stack locally with a throwaway CA, verify it, tear it down."""
    work = directory or Path(tempfile.mkdtemp(prefix="wapang-rehearsal-"))
    work.mkdir(parents=True, exist_ok=True)
    work.chmod(0o755)  # bind-mounted pebble files are read by the containers' own users
    docker = _checked_docker(work, remove=directory is None)
    base = standin_images(docker) if standins else {}
    rehearsal = Rehearsal(
        work,
        domain,
        http_port,
        https_port,
        acme_port,
        pebble_image=base.get("PEBBLE_IMAGE", PEBBLE_IMAGE),
        db_image=base.get("DB_IMAGE"),
        project="wapang-rehearsal",
        # Its own ledger: a rehearsal's orders never count against a real host's budget.
        ledger_dir=work / "edge-ledger",
    )
    prepare_host(rehearsal)  # first: it chooses the selfhost profile compose_env reads
    stack = with_env(docker, compose_env(rehearsal, REPOSITORY, TAG))
    compose = [*compose_args(rehearsal)]
    ok = False
    try:
        ok = _rehearse(docker, stack, compose, rehearsal, base, ca_bundle, timeout)
    except StackError as error:
        console.print(f"[bold red]FAIL[/bold red] {error}", highlight=False)
    finally:
        if keep:
            console.print(f"kept running: {' '.join(['docker', *compose])} ps", highlight=False)
        else:
            stack.run(*compose, "down", "--volumes", "--timeout", "5", check=False)
            if directory is None:
                shutil.rmtree(work, ignore_errors=True)
    raise typer.Exit(0 if ok else 1)


def _checked_docker(work: Path, remove: bool) -> Docker:
    """Before anything starts: the daemon, BuildKit and compose v2, or exit 1 naming the fixes."""
    try:
        docker, found = prepared_docker(work)
    except StackError as error:
        console.print(f"[bold red]FAIL[/bold red] {error}", highlight=False, soft_wrap=True)
        if remove:
            shutil.rmtree(work, ignore_errors=True)
        raise typer.Exit(1) from None
    for line in found:
        console.print(f"prerequisite: {line}", highlight=False, soft_wrap=True)
    return docker


def _rehearse(
    docker: Docker,
    stack: Docker,
    compose: list[str],
    rehearsal: Rehearsal,
    base: dict[str, str],
    ca_bundle: Path | None,
    timeout: float,
) -> bool:
    console.print("building the images from deploy/*.Dockerfile ...")
    for build in build_images(docker, REPOSITORY, TAG, base, ca_bundle):
        console.print(f"  {build.image}: {build.size_bytes / 1e6:.0f} MB in {build.seconds:.0f} s")
    shutil.copy(DEPLOY / "compose.yaml", rehearsal.deploy_dir / "compose.yaml")
    write_private_file(rehearsal.deploy_dir / ".env", rehearsal_env(rehearsal.domain))
    stack.run(*compose, "up", "-d", "pebble", "pebble-staging")
    fetch_pebble_root(rehearsal)
    started = time.monotonic()
    console.print("docker compose up (first start on an empty host) ...")
    stack.run(*compose, "up", "-d", timeout=900)
    wait_for_issued_certificate(rehearsal, timeout)
    console.print(f"certificate from pebble after {time.monotonic() - started:.0f} s")
    target = Target.from_url(rehearsal.url, "127.0.0.1", rehearsal.http_port, rehearsal.root_file)
    report = run_checks(target, Policy())
    render(report, console)
    return report.ok
