"""The one settings model of the API process, read from the environment and an optional `.env`.

The variable names are the ones the seminar's `.env` files already use, so those files work
unchanged. `Settings.load()` is called once at start-up; every problem is collected and reported
together (`ConfigError`), never one pydantic traceback at a time.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar, Self

from pydantic import Field, PrivateAttr, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, SettingsConfigDict

from wapang.logs import LogFormat

MIN_SECRET_BYTES = 32
LOCAL_STATE_DIR = Path(".wapang")
PLACEHOLDER_MARKERS = (
    "changeme",
    "change-me",
    "change_me",
    "placeholder",
    "example",
    "secret",
    "xxx",
    "todo",
)


class Environment(StrEnum):
    LOCAL = "local"
    TEST = "test"
    PROD = "prod"


class Dialect(StrEnum):
    MYSQL = "mysql"
    SQLITE = "sqlite"


# DB_DRIVER names a driver; the service talks to the database asynchronously, so a sync
# driver name from an existing `.env` (the seminar's `pymysql`) maps to its async twin.
ASYNC_DRIVERS: dict[Dialect, dict[str, str]] = {
    Dialect.MYSQL: {"asyncmy": "asyncmy", "aiomysql": "aiomysql", "pymysql": "aiomysql"},
    Dialect.SQLITE: {"aiosqlite": "aiosqlite", "pysqlite": "aiosqlite", "sqlite3": "aiosqlite"},
}
DEFAULT_DRIVER = {Dialect.MYSQL: "asyncmy", Dialect.SQLITE: "aiosqlite"}


class ConfigError(Exception):
    """Every configuration problem at once, each with how to fix it."""

    def __init__(self, problems: list[str], source: str = "the environment") -> None:
        self.problems = problems
        self.source = source
        super().__init__(self.render())

    def render(self) -> str:
        lines = [
            f"wapang cannot start: {len(self.problems)} configuration problem(s) in {self.source}:"
        ]
        lines += [f"  - {problem}" for problem in self.problems]
        return "\n".join(lines)


class Settings(BaseSettings):
    """Settings of the API process. Field names are the environment variable names."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=True
    )

    ENV: Environment = Field(Environment.LOCAL, description="local | test | prod")
    DB_DIALECT: Dialect = Field(Dialect.SQLITE, description="mysql | sqlite")
    DB_DRIVER: str | None = Field(None, description="asyncmy (default), aiomysql or pymysql")
    DB_HOST: str | None = Field(None, description="database host (mysql)")
    DB_PORT: int = Field(3306, ge=1, le=65535, description="database port (mysql)")
    DB_USER: str | None = Field(None, description="database user (mysql)")
    DB_PASSWORD: SecretStr = Field(SecretStr(""), description="database password (mysql)")
    DB_DATABASE: str | None = Field(
        None, description="database name (mysql) or file path (sqlite, default .wapang/wapang.db)"
    )
    DB_POOL_SIZE: int = Field(
        10, ge=1, le=200, description="connections per process for reads, as many for writes"
    )
    DB_CONNECT_TIMEOUT: int = Field(5, ge=1, le=60, description="seconds before a DB call is 503")
    REQUEST_TIMEOUT: float = Field(
        30, gt=0, le=600, description="seconds before a request still waiting is answered 503"
    )
    MAX_REQUEST_BODY_BYTES: int = Field(
        1_048_576, ge=1024, le=1_073_741_824, description="largest request body accepted, bytes"
    )
    ACCESS_TOKEN_SECRET: SecretStr | None = Field(None, description="HS256 key, >= 32 bytes")
    REFRESH_TOKEN_SECRET: SecretStr | None = Field(
        None, description="HS256 key, >= 32 bytes, differs from ACCESS_TOKEN_SECRET"
    )
    SHORT_SESSION_LIFESPAN: int = Field(15, ge=1, description="access token lifetime, minutes")
    LONG_SESSION_LIFESPAN: int = Field(1440, ge=1, description="refresh token lifetime, minutes")
    LOG_FORMAT: LogFormat | None = Field(
        None, description="json | text: one JSON object per log line (default json when ENV=prod)"
    )

    _generated_secrets: bool = PrivateAttr(False)

    REQUIRED_IN_PROD: ClassVar[tuple[str, ...]] = (
        "DB_DIALECT",
        "DB_HOST",
        "DB_USER",
        "DB_PASSWORD",
        "DB_DATABASE",
        "ACCESS_TOKEN_SECRET",
        "REFRESH_TOKEN_SECRET",
    )

    @field_validator(
        "DB_DRIVER",
        "DB_HOST",
        "DB_USER",
        "DB_DATABASE",
        "ACCESS_TOKEN_SECRET",
        "REFRESH_TOKEN_SECRET",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return None if value == "" else value

    @classmethod
    def load(cls, env_file: str | Path | None = ".env", **overrides: Any) -> Self:
        """Read, validate and complete the settings, or raise one `ConfigError` naming all."""
        source = f"the environment and {env_file}" if env_file else "the environment"
        try:
            settings = cls(_env_file=env_file, **overrides)
        except ValidationError as error:
            raise ConfigError(describe_validation_error(error, cls.model_fields), source) from None
        problems = settings.problems()
        if problems:
            raise ConfigError(problems, source)
        return settings.with_local_defaults()

    def problems(self) -> list[str]:
        """Problems that single fields cannot see: missing, placeholder or weak values."""
        problems = self._driver_problems()
        if self.ENV is Environment.PROD:
            problems += self._production_problems()
        return problems

    def _driver_problems(self) -> list[str]:
        if self.DB_DRIVER is None or self.DB_DRIVER in ASYNC_DRIVERS[self.DB_DIALECT]:
            return []
        known = ", ".join(ASYNC_DRIVERS[self.DB_DIALECT])
        return [
            f"DB_DRIVER={self.DB_DRIVER!r} is not a {self.DB_DIALECT} driver: use one of {known}."
        ]

    def _production_problems(self) -> list[str]:
        problems: list[str] = []
        if self.DB_DIALECT is not Dialect.MYSQL:
            problems.append(
                "DB_DIALECT must be mysql when ENV=prod: SQLite is the local default only."
            )
        for name in ("DB_HOST", "DB_USER", "DB_DATABASE"):
            if getattr(self, name) is None:
                problems.append(f"{name} is missing: set it to the database's {name[3:].lower()}.")
        if not self.DB_PASSWORD.get_secret_value():
            problems.append("DB_PASSWORD is missing: set it to the database user's password.")
        problems += _secret_problems("ACCESS_TOKEN_SECRET", self.ACCESS_TOKEN_SECRET)
        problems += _secret_problems("REFRESH_TOKEN_SECRET", self.REFRESH_TOKEN_SECRET)
        if (
            self.ACCESS_TOKEN_SECRET is not None
            and self.ACCESS_TOKEN_SECRET == self.REFRESH_TOKEN_SECRET
        ):
            problems.append(
                "ACCESS_TOKEN_SECRET and REFRESH_TOKEN_SECRET are equal: a refresh token would "
                "then pass as an access token. Generate two different values."
            )
        return problems

    def with_local_defaults(self) -> Self:
        """Fill what a local run may leave out: the SQLite file, and the development secrets
        that `wapang serve` generated (reading them only: loading settings writes nothing)."""
        updates: dict[str, Any] = {}
        if self.DB_DIALECT is Dialect.SQLITE and self.DB_DATABASE is None:
            updates["DB_DATABASE"] = str(LOCAL_STATE_DIR / "wapang.db")
        stored = _stored_development_secrets()
        if self.missing_secrets and stored is not None:
            updates["ACCESS_TOKEN_SECRET"] = self.ACCESS_TOKEN_SECRET or SecretStr(stored["access"])
            updates["REFRESH_TOKEN_SECRET"] = self.REFRESH_TOKEN_SECRET or SecretStr(
                stored["refresh"]
            )
        if not updates:
            return self
        completed = self.model_copy(update=updates)
        completed._generated_secrets = "ACCESS_TOKEN_SECRET" in updates
        return completed

    @property
    def log_format(self) -> LogFormat:
        if self.LOG_FORMAT is not None:
            return self.LOG_FORMAT
        return LogFormat.JSON if self.ENV is Environment.PROD else LogFormat.TEXT

    @property
    def missing_secrets(self) -> bool:
        """A local run without token secrets: `wapang serve` generates development ones."""
        return self.ACCESS_TOKEN_SECRET is None or self.REFRESH_TOKEN_SECRET is None

    def require_secrets(self) -> None:
        """The app cannot sign tokens without secrets: say how to get them (local runs)."""
        if self.missing_secrets:
            raise ConfigError(
                [
                    "ACCESS_TOKEN_SECRET and REFRESH_TOKEN_SECRET are not set: set both, or "
                    "start the service once with `wapang serve`, which generates development "
                    f"secrets into {_DEV_SECRETS_FILE}."
                ]
            )

    @property
    def uses_generated_secrets(self) -> bool:
        return self._generated_secrets

    @property
    def access_secret(self) -> str:
        assert self.ACCESS_TOKEN_SECRET is not None, "Settings.load() fills the secrets"
        return self.ACCESS_TOKEN_SECRET.get_secret_value()

    @property
    def refresh_secret(self) -> str:
        assert self.REFRESH_TOKEN_SECRET is not None, "Settings.load() fills the secrets"
        return self.REFRESH_TOKEN_SECRET.get_secret_value()

    @property
    def async_driver(self) -> str:
        if self.DB_DRIVER is None:
            return DEFAULT_DRIVER[self.DB_DIALECT]
        return ASYNC_DRIVERS[self.DB_DIALECT][self.DB_DRIVER]

    def summary(self) -> dict[str, str]:
        """What `check-config` and the start-up log show: no secret values, only their state."""
        if self.DB_DIALECT is Dialect.SQLITE:
            database = f"sqlite file {self.DB_DATABASE}"
        else:
            server = f"{self.DB_USER}@{self.DB_HOST}:{self.DB_PORT}"
            database = f"mysql+{self.async_driver} {server}/{self.DB_DATABASE}"
        secrets_state = "generated for development" if self.uses_generated_secrets else "set"
        return {
            "environment": self.ENV.value,
            "database": database,
            "token secrets": secrets_state,
            "access token lifetime": f"{self.SHORT_SESSION_LIFESPAN} min",
            "refresh token lifetime": f"{self.LONG_SESSION_LIFESPAN} min",
        }


_DEV_SECRETS_FILE = LOCAL_STATE_DIR / "dev-secrets.json"


def _stored_development_secrets() -> dict[str, str] | None:
    if not _DEV_SECRETS_FILE.exists():
        return None
    stored: dict[str, str] = json.loads(_DEV_SECRETS_FILE.read_text())
    return stored


def write_development_secrets() -> None:
    """Secrets for local runs (`wapang serve` only), kept on disk so tokens survive restarts
    and work across workers; an existing file is kept."""
    if _DEV_SECRETS_FILE.exists():
        return
    LOCAL_STATE_DIR.mkdir(mode=0o700, exist_ok=True)
    generated = {"access": secrets.token_urlsafe(48), "refresh": secrets.token_urlsafe(48)}
    descriptor = os.open(_DEV_SECRETS_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(generated, handle)


def _secret_problems(name: str, value: SecretStr | None) -> list[str]:
    fix = 'generate one with: python -c "import secrets; print(secrets.token_urlsafe(48))"'
    if value is None:
        return [f"{name} is missing: {fix}."]
    secret = value.get_secret_value()
    if any(marker in secret.lower() for marker in PLACEHOLDER_MARKERS):
        return [f"{name} looks like a placeholder: {fix}."]
    if len(secret.encode()) < MIN_SECRET_BYTES:
        size = len(secret.encode())
        return [f"{name} is too weak ({size} bytes, HS256 needs >= {MIN_SECRET_BYTES}): {fix}."]
    return []


def describe_validation_error(error: ValidationError, fields: Mapping[str, FieldInfo]) -> list[str]:
    """Each invalid setting as `NAME: what is wrong (expected DESCRIPTION).` The field's
    description is its fix, in every settings model of the project."""
    problems = []
    for detail in error.errors():
        location = detail["loc"]
        field_name = str(location[0]) if location else ""
        field = fields.get(field_name)
        message = "missing" if detail["type"] == "missing" else detail["msg"]
        expected = f" (expected {field.description})" if field and field.description else ""
        problems.append(f"{field_name.upper() or 'settings'}: {message}{expected}.")
    return problems
