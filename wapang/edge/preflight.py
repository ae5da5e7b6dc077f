"""Preflight: before any order, prove for each name what the CA is about to check.

A failed validation counts toward Let's Encrypt's failed-validation limit (and its pause after
1,152 failures); a failed preflight costs nothing. For each name: its A/AAAA records resolve
(system resolver, or DNS_RESOLVER), a token written into the webroot is served at
http://NAME/.well-known/acme-challenge/TOKEN through every address the name resolves to (which
proves the name points at this host), and CAA, if any, allows the CA (CAA_IDENTITIES).
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import dns.exception
import dns.name
import dns.resolver
import httpx

from wapang.edge.errors import EdgeConfigError
from wapang.edge.settings import EdgeSettings

CHALLENGE_PATH = ".well-known/acme-challenge"


@dataclass
class PreflightReport:
    problems: list[dict[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, name: str, kind: str, detail: str) -> None:
        self.problems.append({"name": name, "type": kind, "detail": detail})


def make_resolver(settings: EdgeSettings) -> dns.resolver.Resolver:
    if not settings.resolver_addresses:
        resolver = dns.resolver.Resolver()
    else:
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [address for address, _ in settings.resolver_addresses]
        resolver.port = settings.resolver_addresses[0][1]
    resolver.lifetime = settings.preflight_timeout_seconds
    return resolver


def _addresses(resolver: dns.resolver.Resolver, name: str, report: PreflightReport) -> list[str]:
    found: list[str] = []
    for record_type in ("A", "AAAA"):
        try:
            answer = resolver.resolve(name, record_type)
        except dns.resolver.NXDOMAIN:
            report.add(name, "dns", f"{name} does not exist in DNS (NXDOMAIN): create its A record")
            return []
        except (dns.resolver.NoAnswer, dns.resolver.NoNameservers):
            continue
        except dns.exception.DNSException as exc:
            report.add(name, "dns", f"looking up {record_type} {name} failed: {exc}")
            return []
        found += [record.to_text() for record in answer]
    if not found:
        report.add(name, "dns", f"{name} has no A or AAAA record: point it at this host")
    return found


def _caa_records(resolver: dns.resolver.Resolver, name: str) -> tuple[str, list[str]] | None:
    """The CAA RRset that governs `name` (RFC 8659: the closest ancestor that has one)."""
    node = dns.name.from_text(name)
    while node != dns.name.root:
        try:
            answer = resolver.resolve(node, "CAA")
        except (dns.resolver.NoAnswer, dns.resolver.NXDOMAIN, dns.resolver.NoNameservers):
            node = node.parent()
            continue
        issuers = [
            record.value.decode().split(";", 1)[0].strip().lower()
            for record in answer
            if record.tag.decode().lower() == "issue"
        ]
        return node.to_text(omit_final_dot=True), issuers
    return None


def _check_caa(
    resolver: dns.resolver.Resolver, name: str, allowed: list[str], report: PreflightReport
) -> None:
    try:
        governing = _caa_records(resolver, name)
    except dns.exception.DNSException as exc:
        report.add(name, "caa", f"looking up CAA for {name} failed: {exc}")
        return
    if governing is None:
        return
    where, issuers = governing
    if issuers and not set(issuers) & set(allowed):
        report.add(
            name,
            "caa",
            f"CAA at {where} allows only {', '.join(sorted(set(issuers)) or ['nobody'])}, "
            f'not {", ".join(allowed)}: add `{where}. CAA 0 issue "{allowed[0]}"`',
        )


def _url(address: str, port: int, token: str) -> str:
    host = f"[{address}]" if ipaddress.ip_address(address).version == 6 else address
    suffix = "" if port == 80 else f":{port}"
    return f"http://{host}{suffix}/{CHALLENGE_PATH}/{token}"


def _check_http(
    settings: EdgeSettings,
    name: str,
    addresses: list[str],
    token: str,
    content: str,
    report: PreflightReport,
) -> None:
    for address in addresses:
        url = _url(address, settings.http_port, token)
        where = f"http://{name}/{CHALLENGE_PATH}/{token} via {address}"
        try:
            response = httpx.get(
                url,
                headers={"Host": name},
                timeout=settings.preflight_timeout_seconds,
                follow_redirects=False,
            )
        except httpx.HTTPError as exc:
            report.add(
                name,
                "http",
                f"{where}: {exc or type(exc).__name__} — {name} resolves to {address}, which "
                "does not serve this host's webroot: point the name at this host and open "
                f"port {settings.http_port}",
            )
            continue
        if response.status_code != 200 or response.text.strip() != content:
            report.add(
                name,
                "http",
                f"{where}: HTTP {response.status_code}, not the token written into "
                f"{settings.webroot}: nginx must serve WEBROOT at /{CHALLENGE_PATH}/ on port "
                f"{settings.http_port}",
            )


def run_preflight(settings: EdgeSettings) -> PreflightReport:
    report = PreflightReport()
    resolver = make_resolver(settings)
    token = "wapang-preflight-" + secrets.token_urlsafe(16)
    content = secrets.token_urlsafe(32)
    token_file = Path(settings.webroot) / CHALLENGE_PATH / token
    try:
        token_file.parent.mkdir(parents=True, exist_ok=True)
        token_file.write_text(content)
        token_file.chmod(0o644)  # nginx's workers read it
    except OSError as exc:
        report.add("", "webroot", f"cannot write into WEBROOT {settings.webroot}: {exc}")
        return report
    try:
        for name in settings.domains:
            addresses = _addresses(resolver, name, report)
            if addresses:
                _check_http(settings, name, addresses, token, content, report)
            _check_caa(resolver, name, settings.caa_identities, report)
    finally:
        token_file.unlink(missing_ok=True)
    return report


def check_directories(settings: EdgeSettings) -> None:
    """Every directory an order writes to, checked before any ACME request and reported
    together (a read-only volume, a webroot under a file…)."""
    targets = [
        ("WEBROOT", settings.webroot / CHALLENGE_PATH, "the webroot nginx serves for HTTP-01"),
        ("CERTBOT_CONFIG_DIR", settings.certbot_config_dir, "certbot's certificates and accounts"),
        ("CERTBOT_WORK_DIR", settings.certbot_work_dir, "certbot's work directory"),
        ("CERTBOT_LOGS_DIR", settings.certbot_logs_dir, "certbot's logs"),
        ("EDGE_STATE_DIR", settings.state_dir, "ledger mirror, placeholder and nginx's link"),
        ("LEDGER_DIR", settings.ledger_dir, "the ledger's main copy (a host directory)"),
    ]
    problems = []
    for name, directory, role in targets:
        problem = _writable_problem(directory)
        if problem:
            problems.append(
                f"{name}: {directory} is not usable ({problem}); it holds {role}: "
                f"make it a writable directory"
            )
    if problems:
        raise EdgeConfigError(problems)


def _writable_problem(directory: Path) -> str | None:
    """Why files cannot be created in `directory` (made if missing), or None."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe = directory / f".wapang-probe-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    return None


def profile_problems(settings: EdgeSettings) -> list[dict[str, str]]:
    """CERT_PROFILE must be one both directories offer (asked of the CAs, not assumed)."""
    from wapang.edge import ari_client  # acme: installed with the edge group only

    profile = settings.cert_profile
    if not profile:
        return []
    problems = []
    for label, server in (
        ("ACME_SERVER", settings.acme_server),
        ("ACME_STAGING_SERVER", settings.acme_staging_server),
    ):
        try:
            offered = ari_client.offered_profiles(ari_client.directory(settings, server))
        except Exception as exc:  # reported, not raised
            problems.append({"name": "", "type": "ca", "detail": f"{label}: {exc}"})
            continue
        if profile not in offered:
            problems.append(
                {
                    "name": "",
                    "type": "profile",
                    "detail": f"{label} does not offer CERT_PROFILE={profile} (it "
                    f"offers {', '.join(sorted(offered)) or 'no profiles'}): unset "
                    "CERT_PROFILE or pick one it offers",
                }
            )
    return problems
