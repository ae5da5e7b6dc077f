"""Settings of the HTTPS edge: one model, read from the environment once per command.

Every ACME URL, port and path is a setting so the tests can point the manager at pebble on
loopback; production only sets DOMAINS, CERT_EMAIL and UPSTREAM.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    EmailStr,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from wapang.config import Settings, describe_validation_error
from wapang.edge.errors import EdgeConfigError
from wapang.logs import LogFormat

LETSENCRYPT_PRODUCTION = "https://acme-v02.api.letsencrypt.org/directory"
LETSENCRYPT_STAGING = "https://acme-staging-v02.api.letsencrypt.org/directory"
# Let's Encrypt staging issuers are named "(STAGING) ..." (older ones "Fake LE ...").
DEFAULT_STAGING_ISSUER_PATTERN = r"\(STAGING\)|Fake LE"

_DOMAIN_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$")

# Let's Encrypt's profiles (https://letsencrypt.org/docs/profiles/): names per certificate.
# Unset CERT_PROFILE means the CA's default, which at Let's Encrypt is classic.
PROFILE_MAX_NAMES: dict[str, int] = {"classic": 100, "tlsserver": 25, "shortlived": 25}
DEFAULT_MAX_NAMES = PROFILE_MAX_NAMES["classic"]
Profile = Literal["classic", "tlsserver", "shortlived"]

# Sign-in and sign-up per client address at the edge (contract 14.2): 10 a minute, a burst of 20.
DEFAULT_AUTH_RATE_LIMIT = "10r/m"
DEFAULT_AUTH_RATE_BURST = 20
AUTH_RATE_PATTERN = r"^(off|[1-9][0-9]{0,5}r/[sm])$"


class EdgeSettings(BaseSettings):
    """Everything the nginx renderer and the certificate manager need."""

    # env_ignore_empty: compose passes an unset optional variable (CERT_EMAIL: ${CERT_EMAIL:-}) as
    # "", which means "not set", not an invalid value.
    model_config = SettingsConfigDict(
        case_sensitive=False, extra="ignore", frozen=True, env_ignore_empty=True
    )

    # Before DOMAINS: the profile decides how many names one certificate may carry.
    cert_profile: Profile | None = Field(
        None, description="classic, tlsserver or shortlived, or unset for the CA's default"
    )
    domains: Annotated[list[str], NoDecode] = Field(
        min_length=1,
        description=(
            "comma-separated DNS names of the site, e.g. api.example.com,www.example.com "
            "(no wildcards or IP addresses: HTTP-01 validates neither); the first is the one "
            "`wapang verify` checks"
        ),
    )
    cert_email: EmailStr | None = Field(
        None,
        description=(
            "the address Let's Encrypt writes to about expiring certificates, e.g. "
            "ops@example.com, or unset"
        ),
    )
    cert_name: str | None = None  # certbot lineage name; default: the first domain

    acme_server: str = Field(
        LETSENCRYPT_PRODUCTION,
        description="an https:// ACME directory URL (default Let's Encrypt production)",
    )
    acme_staging_server: str = Field(
        LETSENCRYPT_STAGING,
        description="an https:// ACME directory URL for dry runs (default Let's Encrypt staging)",
    )
    acme_staging_issuer_pattern: str = Field(
        DEFAULT_STAGING_ISSUER_PATTERN,
        description="a Python regex matching the staging CA's issuer names",
    )
    acme_ca_bundle: Path | None = None  # CA that signs the ACME server's TLS cert (pebble)
    key_type: Literal["ecdsa", "rsa"] = "ecdsa"

    certbot_bin: str | None = None
    certbot_config_dir: Path = Path("/etc/letsencrypt")
    certbot_work_dir: Path = Path("/var/lib/letsencrypt")
    certbot_logs_dir: Path = Path("/var/log/letsencrypt")
    certbot_timeout_seconds: float = Field(default=300, gt=0)
    edge_state_dir: Path | None = None  # ledger mirror, placeholder, current link; in the volume
    # The ledger's main copy: a host directory bind-mounted into the certbot container, so that
    # losing the certificate volume (or `compose down -v`) cannot reset the budget.
    ledger_dir: Path = Path("/var/lib/wapang-edge")

    # Preflight before every order: DNS, the webroot served through each name, CAA.
    preflight: bool = True
    dns_resolver: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="IP[:port],... of the resolver the preflight asks, or unset for the system's",
    )
    caa_identities: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["letsencrypt.org"],
        description="the CA's CAA domain(s), e.g. letsencrypt.org",
    )
    preflight_timeout_seconds: float = Field(default=5, gt=0)

    webroot: Path = Path("/var/www/certbot")
    upstream: str = Field("app:8000", description="host:port of the app, e.g. app:8000")
    listen_address: str = ""  # "" = all interfaces; tests use 127.0.0.1
    http_port: int = Field(default=80, ge=1, le=65535, description="a port number 1-65535")
    https_port: int = Field(default=443, ge=1, le=65535, description="a port number 1-65535")
    # The app's own setting (the same variable in .env): the edge refuses exactly what the app
    # would refuse, so a too-large body is a JSON 413 from the edge and never reaches the app.
    max_request_body_bytes: int = Field(
        default=Settings.model_fields["MAX_REQUEST_BODY_BYTES"].default,
        ge=1024,
        le=1_073_741_824,
        description="the app's MAX_REQUEST_BODY_BYTES: largest request body accepted, bytes",
    )
    auth_rate_limit: str = Field(
        DEFAULT_AUTH_RATE_LIMIT,
        pattern=AUTH_RATE_PATTERN,
        description=(
            "sign-ins and sign-ups per client address at the edge, e.g. 10r/m or 1r/s, or off"
        ),
    )
    auth_rate_burst: int = Field(
        DEFAULT_AUTH_RATE_BURST,
        ge=0,
        le=10_000,
        description="requests over AUTH_RATE_LIMIT an address may send at once, e.g. 20",
    )
    proxy_connect_timeout: str = "5s"
    proxy_read_timeout: str = "60s"

    nginx_template_dir: Path | None = None  # default: the package's wapang/edge/nginx_templates
    nginx_reload: Literal["marker", "command"] = Field(
        "marker", description="marker (the nginx container watches a file) or command"
    )
    nginx_bin: str = "nginx"
    nginx_conf: Path | None = None
    nginx_prefix: Path | None = None
    verify_host: str = "nginx"  # where the served certificate is checked: compose's service
    verify_port: int | None = None  # default: https_port
    verify_timeout_seconds: float = Field(default=10, gt=0)

    # Observability (wapang/edge/observe.py): the loop's exporter, alerts, the log's format.
    metrics_port: int | None = Field(default=None, ge=1, le=65535)  # compose: 9102
    alert_webhook_url: SecretStr | None = Field(
        None,
        description=(
            "an https:// URL (e.g. a Slack incoming webhook) that gets a JSON POST when a "
            "renewal pass fails, a certificate has under 14 days left, or a deploy rolls back; "
            "or unset"
        ),
    )
    log_format: LogFormat = LogFormat.TEXT  # compose: json

    budget_max_orders: int = Field(default=3, ge=1)
    budget_window_hours: float = Field(default=168, gt=0)
    backoff_base_seconds: float = Field(default=300, gt=0)
    backoff_max_seconds: float = Field(default=6 * 3600, gt=0)
    loop_interval_seconds: float = Field(default=12 * 3600, gt=0)

    @field_validator("domains", "dns_resolver", "caa_identities", mode="before")
    @classmethod
    def _split_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip().lower() for part in value.split(",") if part.strip()]
        return value

    @field_validator("domains")
    @classmethod
    def _check_domains(cls, value: list[str], info: ValidationInfo) -> list[str]:
        problems = [problem for name in value if (problem := _domain_problem(name))]
        profile = info.data.get("cert_profile")
        allowed = PROFILE_MAX_NAMES.get(profile or "", DEFAULT_MAX_NAMES)
        if len(set(value)) > allowed:
            problems.append(
                f"{len(set(value))} names, but the {profile or 'default (classic)'} profile "
                f"allows {allowed} per certificate: drop some or split them over several edges"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return list(dict.fromkeys(value))  # keep order, drop duplicates

    @field_validator("dns_resolver")
    @classmethod
    def _check_resolvers(cls, value: list[str]) -> list[str]:
        for entry in value:
            host, _, port = entry.rpartition(":") if entry.count(":") == 1 else (entry, "", "")
            try:
                ipaddress.ip_address(host or entry)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address[:port]") from None
            if port and not (port.isdigit() and 0 < int(port) < 65536):
                raise ValueError(f"{entry!r} has an invalid port")
        return value

    @field_validator("acme_server", "acme_staging_server")
    @classmethod
    def _check_url(cls, value: str) -> str:
        if not value.startswith("https://"):
            raise ValueError("must start with https://")
        return value

    @field_validator("acme_staging_issuer_pattern")
    @classmethod
    def _check_pattern(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"invalid regex: {exc}") from None
        return value

    @field_validator("upstream")
    @classmethod
    def _check_upstream(cls, value: str) -> str:
        if not re.match(r"^[A-Za-z0-9_.\[\]:-]+:\d+$", value):
            raise ValueError("must be host:port")
        return value

    @model_validator(mode="after")
    def _check_servers_differ(self) -> EdgeSettings:
        if self.acme_server == self.acme_staging_server:
            raise ValueError("ACME_SERVER and ACME_STAGING_SERVER must differ")
        return self

    # Derived values: one place, so the renderer, the manager and the docs agree.
    @property
    def lineage(self) -> str:
        return self.cert_name or self.domains[0]

    @property
    def state_dir(self) -> Path:
        return self.edge_state_dir or self.certbot_config_dir / "wapang"

    @property
    def max_names(self) -> int:
        return PROFILE_MAX_NAMES.get(self.cert_profile or "", DEFAULT_MAX_NAMES)

    @property
    def ledger_path(self) -> Path:
        """The main copy (host directory)."""
        return self.ledger_dir / "ledger.jsonl"

    @property
    def ledger_mirror_path(self) -> Path:
        """The copy in the certificate volume, beside the certificates it describes."""
        return self.state_dir / "ledger.jsonl"

    @property
    def ledger_paths(self) -> list[Path]:
        return list(dict.fromkeys([self.ledger_path, self.ledger_mirror_path]))

    @property
    def resolver_addresses(self) -> list[tuple[str, int]]:
        """DNS_RESOLVER as (address, port) pairs."""
        pairs = []
        for entry in self.dns_resolver:
            host, sep, port = entry.rpartition(":") if entry.count(":") == 1 else ("", "", "")
            pairs.append((host, int(port)) if sep else (entry, 53))
        return pairs

    @property
    def tls_dir(self) -> Path:
        """The symlink nginx reads: placeholder first, then certbot's live dir."""
        return self.state_dir / "current"

    @property
    def placeholder_dir(self) -> Path:
        return self.state_dir / "placeholder"

    @property
    def reload_marker(self) -> Path:
        return self.state_dir / "reload-nginx"

    @property
    def live_dir(self) -> Path:
        return self.certbot_config_dir / "live" / self.lineage

    @property
    def renewal_conf(self) -> Path:
        return self.certbot_config_dir / "renewal" / f"{self.lineage}.conf"

    @property
    def auth_rate_limited(self) -> bool:
        return self.auth_rate_limit != "off"

    @property
    def auth_retry_after_seconds(self) -> int:
        """Retry-After of the edge's 429: the time until the limit admits one more request."""
        if not self.auth_rate_limited:
            return 1
        count, unit = self.auth_rate_limit.split("r/")
        period = 60 if unit == "m" else 1
        return max(1, -(-period // int(count)))  # rounded up

    @property
    def effective_verify_port(self) -> int:
        return self.verify_port or self.https_port


def _domain_problem(name: str) -> str | None:
    """Why a DOMAINS entry cannot be validated with HTTP-01 on this edge, or None."""
    if name.startswith("*."):
        return (
            f"{name} is a wildcard: HTTP-01 cannot validate wildcards (DNS-01 only); list each name"
        )
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        pass
    else:
        return f"{name} is an IP address: use a DNS name that points at this host"
    if not _DOMAIN_RE.match(name) or name.rsplit(".", 1)[-1].isdigit():
        return f"{name} is not a DNS name"
    return None


def load_settings(**overrides: object) -> EdgeSettings:
    """Read the environment once; every problem is reported together, with its fix."""
    try:
        return EdgeSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise EdgeConfigError(describe_validation_error(exc, EdgeSettings.model_fields)) from None
