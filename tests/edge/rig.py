"""Loopback test rig for the edge: pebble and challtestsrv, the edge under test, its CLI
(processes, nginx and binaries: harness/).

Follows /work/shared/notes/acme-loopback.md (gotchas G1-G14 referenced where they apply).
"""

from __future__ import annotations

import json
import os
import re
import ssl
import subprocess
import sys
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID

from harness.apps import clean_env
from harness.processes import LOOPBACK, Service, free_port, wait_for_port
from wapang.delivery.pki import write_tls_pair
from wapang.edge.settings import EdgeSettings

# ---- TLS for pebble's own HTTPS listeners (the Debian package ships none) -----------------


def make_pebble_tls(directory: Path) -> Path:
    """CA + leaf for 127.0.0.1; returns the CA file certbot must trust (REQUESTS_CA_BUNDLE)."""
    files = ("ca.pem", "pebble.pem", "pebble.key")
    name = "wapang test pebble TLS CA"
    return write_tls_pair(directory, name, ["localhost"], addresses=[LOOPBACK], files=files)


# ---- pebble -------------------------------------------------------------------------------


BLOCKED_DOMAIN = "blocked.wapang.test"  # pebble refuses orders for it (rejectedIdentifier)


@dataclass(frozen=True)
class CaCounts:
    """What a pebble did, read from its own log: the CA's view, not the manager's."""

    orders: int  # newOrder requests that created an order
    validations: int  # challenge validations its VA ran
    issued: int  # certificates issued

    def __sub__(self, other: CaCounts) -> CaCounts:
        return CaCounts(
            self.orders - other.orders,
            self.validations - other.validations,
            self.issued - other.issued,
        )


@dataclass
class Pebble:
    service: Service
    directory_url: str
    management_port: int
    ca_file: Path
    root_pem: str = ""
    intermediate_cn: str = ""

    def fetch(self, path: str) -> str:
        context = ssl.create_default_context(cafile=str(self.ca_file))
        url = f"https://{LOOPBACK}:{self.management_port}{path}"
        with urllib.request.urlopen(url, context=context, timeout=5) as response:
            return str(response.read().decode())

    def post(self, path: str, body: dict[str, object]) -> str:
        context = ssl.create_default_context(cafile=str(self.ca_file))
        request = urllib.request.Request(
            f"https://{LOOPBACK}:{self.management_port}{path}",
            data=json.dumps(body).encode(),
            method="POST",
        )
        with urllib.request.urlopen(request, context=context, timeout=5) as response:
            return str(response.read().decode())

    def set_renewal_info(self, cert_pem: str, start: datetime, end: datetime) -> None:
        """Make the CA's renewal info for this certificate say: renew in [start, end]."""
        window = {"start": _rfc3339(start), "end": _rfc3339(end)}
        self.post(
            "/set-renewal-info/",
            {"certificate": cert_pem, "ariResponse": json.dumps({"suggestedWindow": window})},
        )

    def replacements(self) -> int:
        """Orders pebble accepted as replacements (RFC 9773 `replaces`)."""
        return len(re.findall(r"is a replacement of", self.service.log.read_text(errors="replace")))

    def counts(self) -> CaCounts:
        text = self.service.log.read_text(errors="replace")
        return CaCounts(
            orders=len(re.findall(r"Added order \"", text)),
            validations=len(re.findall(r"Pulled a task from the Tasks queue", text)),
            issued=len(re.findall(r"Issued certificate serial", text)),
        )


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class ChallTestSrv:
    """pebble-challtestsrv's management API: DNS answers the tests change per name."""

    port: int

    def post(self, path: str, body: dict[str, object]) -> None:
        request = urllib.request.Request(
            f"http://{LOOPBACK}:{self.port}{path}", data=json.dumps(body).encode(), method="POST"
        )
        with urllib.request.urlopen(request, timeout=5):
            pass

    def add_a(self, host: str, *addresses: str) -> None:
        self.post("/add-a", {"host": host + ".", "addresses": list(addresses)})

    def clear_a(self, host: str) -> None:
        self.post("/clear-a", {"host": host + "."})

    def add_caa(self, host: str, issuer: str) -> None:
        policy = {"tag": "issue", "value": issuer}
        self.post("/add-caa", {"host": host + ".", "policies": [policy]})

    def clear_caa(self, host: str) -> None:
        self.post("/clear-caa", {"host": host + "."})


REPO = Path(__file__).resolve().parents[2]
# pebble 2.10 from Debian sid (renewal info, profiles, replacement orders), fetched by
# .ci/fetch-pebble-sid into this directory; bookworm's pebble 2.4 has none of these.
PEBBLE_SID_DIR = Path(os.environ.get("PEBBLE_SID_DIR", REPO / ".ci" / "cache" / "pebble-sid"))
# Let's Encrypt's profiles and lifetimes: classic 90 days, tlsserver 45 days, shortlived 160 h.
PROFILE_SECONDS = {"classic": 90 * 86400, "tlsserver": 45 * 86400, "shortlived": 160 * 3600}


def pebble_profiles() -> dict[str, object]:
    profiles: dict[str, object] = {
        name: {"description": f"like Let's Encrypt's {name}", "validityPeriod": seconds}
        for name, seconds in PROFILE_SECONDS.items()
    }
    profiles["default"] = profiles["classic"]
    return {"profiles": profiles}


def start_pebble(
    name: str,
    work: Path,
    tls_dir: Path,
    ca_file: Path,
    http_port: int,
    dns_port: int,
    binary: str = "pebble",
    extra: dict[str, object] | None = None,
) -> Pebble:
    acme_port, mgmt_port = free_port(), free_port()
    config = {
        "pebble": {
            "listenAddress": f"{LOOPBACK}:{acme_port}",
            "managementListenAddress": f"{LOOPBACK}:{mgmt_port}",
            "certificate": str(tls_dir / "pebble.pem"),
            "privateKey": str(tls_dir / "pebble.key"),
            "httpPort": http_port,  # == nginx's HTTP port: where HTTP-01 is validated
            "tlsPort": free_port(),
            "ocspResponderURL": "",
            "externalAccountBindingRequired": False,
            "certificateValidityPeriod": 7776000,  # 90 days like Let's Encrypt (G8)
            "domainBlocklist": [BLOCKED_DOMAIN],
            **(extra or {}),
        }
    }
    config_file = work / f"{name}-config.json"
    config_file.write_text(json.dumps(config))
    env = dict(os.environ)
    env.update({"PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0", "PEBBLE_AUTHZREUSE": "0"})
    service = Service.start(
        name,
        [binary, "-config", str(config_file), "-dnsserver", f"{LOOPBACK}:{dns_port}"],
        work / f"{name}.log",
        env=env,
    )
    wait_for_port(acme_port, service.process, name)
    wait_for_port(mgmt_port, service.process, name)
    pebble = Pebble(service, f"https://{LOOPBACK}:{acme_port}/dir", mgmt_port, ca_file)
    pebble.root_pem = pebble.fetch("/roots/0")
    intermediate = x509.load_pem_x509_certificate(pebble.fetch("/intermediates/0").encode())
    cn = intermediate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    pebble.intermediate_cn = str(cn)
    return pebble


# ---- per-test edge (nginx + settings) -----------------------------------------------------


@dataclass
class Edge:
    settings: EdgeSettings
    prefix: Path
    nginx: Service
    root_ca: Path  # trust anchor for clients: pebble's issuing root
    extra: dict[str, object] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        """The settings as environment variables, for manager subprocesses."""
        return settings_env(self.settings)


EXIT_FAILED, EXIT_CONFIG, EXIT_REFUSED = 1, 2, 3


def run_cli(edge: Edge, *args: str, **env_overrides: str) -> subprocess.CompletedProcess[str]:
    """`python -m wapang.edge ARGS` as a fresh process (a container restart), with the edge's
    settings as environment variables."""
    return subprocess.run(
        [sys.executable, "-m", "wapang.edge", *args],
        env=edge.env() | env_overrides,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def settings_env(settings: EdgeSettings) -> dict[str, str]:
    values = {
        name.upper(): ",".join(value) if isinstance(value, list) else value
        for name, value in settings.model_dump().items()
        if value is not None
    }
    return clean_env(**values)


ENTRYPOINT_D = REPO / "deploy" / "nginx" / "entrypoint.d"


def shell_edge_variables(env: dict[str, str]) -> dict[str, str]:
    """The EDGE_* values 05-wapang-edge-env.envsh exports for this environment."""
    script = ENTRYPOINT_D / "05-wapang-edge-env.envsh"
    result = subprocess.run(
        ["sh", "-c", f'. "{script}" && env'],
        env=env,
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    )
    pairs = (line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    return {key: value for key, value in pairs if key.startswith("EDGE_")}


def run_entrypoint_scripts(settings: EdgeSettings) -> None:
    """05 (env) then 40 (certificate check), as the image's entrypoint would; the watcher is started
    separately by the test so that it can be stopped by PID."""
    script = f'. "{ENTRYPOINT_D}/05-wapang-edge-env.envsh" && "{ENTRYPOINT_D}/40-wapang-certs.sh"'
    env = settings_env(settings) | {"EDGE_START_WATCHER": "0"}
    subprocess.run(["sh", "-c", script], env=env, check=True, timeout=30, capture_output=True)
