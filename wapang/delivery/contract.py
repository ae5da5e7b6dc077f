"""The configuration contract: which variables a production host's `.env` holds, derived from the
settings models (`wapang.config.Settings` for the API, `wapang.edge.settings.EdgeSettings` for the
HTTPS edge), never listed by hand.

Everything downstream is generated from or checked against `deploy_variables()`:
`deploy/.env.example`, the GitHub secrets list in deploy/DEPLOY.md, the `.env` that CD writes, and
the compose file's `env_file`/`environment` entries, and the Kubernetes chart's Secret
(`chart_settings()`, written to deploy/kubernetes/wapang/files/settings.json) — all checked by
tests/delivery/test_contract.py and tests/kubernetes/.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Any

from pydantic import SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from wapang.config import Settings
from wapang.edge.settings import EdgeSettings


class Consumer(StrEnum):
    """Which containers read a variable (compose passes it to exactly those)."""

    API = "app, migrate"
    EDGE = "nginx, certbot"
    NGINX = "nginx"


@dataclass(frozen=True)
class DeployVariable:
    name: str
    description: str
    consumer: Consumer
    required_in_prod: bool
    default: str | None  # as it would be written in .env; None = no default
    sensitive: bool
    # A value CD always writes in production instead of reading a secret (ENV=prod).
    production_value: str | None = None

    @property
    def from_secret(self) -> bool:
        """CD writes this variable from the repository secret of the same name."""
        return self.production_value is None


@dataclass(frozen=True)
class DeliverySecret:
    """A repository secret the workflows use themselves, never written to `.env`."""

    name: str
    description: str
    required: bool


# Production values CD writes itself: they are not choices a deployer should get wrong.
# BACKUP_DIR: where compose mounts the backups volume (the backup service and the app image).
PRODUCTION_VALUES = {
    "ENV": "prod",
    "DB_DIALECT": "mysql",
    "BACKUP_DIR": "/var/lib/wapang/backups",
}

# EdgeSettings is mostly knobs for tests (ports, paths, pebble URLs). A production host sets only
# its required fields plus these; the rest keep the defaults baked into the images.
EDGE_PRODUCTION_FIELDS = (
    "domains",
    "cert_email",
    "auth_rate_limit",
    "auth_rate_burst",
    "alert_webhook_url",
)
# Read by nginx alone (its throttling); the others by the certificate manager too.
NGINX_FIELDS = ("auth_rate_limit", "auth_rate_burst")

DELIVERY_SECRETS = (
    DeliverySecret("DEPLOY_HOST", "public DNS name or IP of the EC2 instance (SSH target)", True),
    DeliverySecret("DEPLOY_USER", "SSH user on the instance (e.g. ubuntu or ec2-user)", True),
    DeliverySecret(
        "DEPLOY_SSH_KEY", "private key (PEM/OpenSSH) of a key pair allowed to log in", True
    ),
    DeliverySecret(
        "DEPLOY_KNOWN_HOSTS",
        "the host's SSH key line(s) as printed by `ssh-keyscan HOST` run from a trusted network",
        True,
    ),
    DeliverySecret(
        "GHCR_PULL_TOKEN",
        "token with read:packages so the host can pull private images; unset when they are public",
        False,
    ),
)


def deploy_variables() -> list[DeployVariable]:
    """Every variable of a production `.env`, API first, in model order."""
    return [*_api_variables(), *_edge_variables()]


def required_variables() -> list[DeployVariable]:
    return [variable for variable in deploy_variables() if variable.required_in_prod]


def secret_names() -> list[str]:
    """The repository secrets CD reads, `.env` values first, then the workflow's own."""
    names = [variable.name for variable in deploy_variables() if variable.from_secret]
    return names + [secret.name for secret in DELIVERY_SECRETS]


def chart_settings() -> list[dict[str, str | bool | None]]:
    """What the Helm chart's Secret holds: every API variable, in model order. The chart reads
    this list (files/settings.json) instead of naming the keys itself. The edge's variables are
    not there: on Kubernetes cert-manager and the Gateway replace nginx and certbot."""
    return [
        {
            "name": variable.name,
            "required": variable.required_in_prod and variable.production_value is None,
            "production_value": variable.production_value,
            "description": variable.description,
        }
        for variable in deploy_variables()
        if variable.consumer is Consumer.API
    ]


def _api_variables() -> list[DeployVariable]:
    required = {"ENV", *Settings.REQUIRED_IN_PROD}
    return [
        DeployVariable(
            name=name,
            description=field.description or name,
            consumer=Consumer.API,
            required_in_prod=name in required,
            default=_default_text(field),
            sensitive=_is_sensitive(field),
            production_value=PRODUCTION_VALUES.get(name),
        )
        for name, field in Settings.model_fields.items()
    ]


def _edge_variables() -> list[DeployVariable]:
    fields = EdgeSettings.model_fields
    chosen = [name for name, field in fields.items() if field.is_required()]
    chosen += [name for name in EDGE_PRODUCTION_FIELDS if name not in chosen]
    return [
        DeployVariable(
            name=name.upper(),
            description=fields[name].description or name,
            consumer=Consumer.NGINX if name in NGINX_FIELDS else Consumer.EDGE,
            required_in_prod=fields[name].is_required(),
            default=_default_text(fields[name]),
            sensitive=_is_sensitive(fields[name]),
        )
        for name in chosen
    ]


def _default_text(field: FieldInfo) -> str | None:
    if field.is_required():
        return None
    value: Any = field.get_default(call_default_factory=True)
    if value is PydanticUndefined or value is None:
        return None
    if isinstance(value, SecretStr):
        return value.get_secret_value() or None
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    return str(value)


def _is_sensitive(field: FieldInfo) -> bool:
    annotation = str(field.annotation)
    return "SecretStr" in annotation
