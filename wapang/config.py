"""The one settings model of the API process, read from the environment and an optional `.env`.

The variable names are the ones the seminar's `.env` files already use, so those files work
unchanged. `Settings.load()` is called once at start-up; every problem is collected and reported
together (`ConfigError`), never one pydantic traceback at a time.
"""

from __future__ import annotations

import json
import os
import re
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
MAX_PROD_ACCESS_MINUTES = 60
MAX_PROD_SESSION_MINUTES = 90 * 24 * 60
LOCAL_STATE_DIR = Path(".wapang")
# A placeholder is a value made of nothing but these words (and digits and separators), like
# `changeme`, `your-secret-here` or `xxxx-0001`. The whole value is compared, never a substring:
# random secrets contain "xxx" or "todo" often enough (0.2% of `secrets.token_urlsafe(48)`).
PLACEHOLDER_WORDS = (
    *("changeme", "change", "me", "placeholder", "example", "secret", "your", "here", "todo"),
    *("replace", "with", "this", "x", "key", "token", "access", "refresh", "jwt", "insert"),
    "value",
)
_PLACEHOLDER = re.compile(f"(?:{'|'.join(sorted(PLACEHOLDER_WORDS, key=len, reverse=True))})+")


def is_placeholder(secret: str) -> bool:
    letters = "".join(character for character in secret.lower() if character.isalpha())
    return _PLACEHOLDER.fullmatch(letters) is not None


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
    DB_MIGRATION_USER: str | None = Field(
        None,
        description=(
            "database user that `wapang db upgrade` runs migrations as (mysql), so DB_USER "
            "needs no DDL; unset: DB_USER"
        ),
    )
    DB_MIGRATION_PASSWORD: SecretStr = Field(
        SecretStr(""), description="DB_MIGRATION_USER's password (mysql)"
    )
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
    ACCESS_TOKEN_SECRETS_PREVIOUS: SecretStr | None = Field(
        None,
        description="comma-separated earlier ACCESS_TOKEN_SECRET values still accepted while "
        "their tokens run out (rotation without signing everyone out)",
    )
    REFRESH_TOKEN_SECRETS_PREVIOUS: SecretStr | None = Field(
        None,
        description="comma-separated earlier REFRESH_TOKEN_SECRET values still accepted while "
        "their tokens run out",
    )
    TOKEN_ISSUER: str = Field(
        "wapang", min_length=1, max_length=200, description="`iss` of the tokens, verified"
    )
    TOKEN_AUDIENCE: str = Field(
        "wapang-api", min_length=1, max_length=200, description="`aud` of the tokens, verified"
    )
    SHORT_SESSION_LIFESPAN: int = Field(
        15, ge=1, le=525_600, description="access token lifetime, minutes (prod: at most 60)"
    )
    LONG_SESSION_LIFESPAN: int = Field(
        1440,
        ge=1,
        le=525_600,
        description="refresh token lifetime, minutes (prod: at most SESSION_MAX_AGE)",
    )
    SESSION_MAX_AGE: int = Field(
        43_200,
        ge=1,
        le=525_600,
        description="minutes a session lasts at most from its sign-in, however often it is "
        "refreshed (default 30 days; prod: at most 90 days)",
    )
    SIGN_IN_BACKOFF_SECONDS: int = Field(
        30,
        ge=1,
        le=3600,
        description="first back-off after 5 failed sign-ins for one e-mail, doubling after each "
        "further failure",
    )
    SIGN_IN_BACKOFF_MAX_SECONDS: int = Field(
        900, ge=1, le=86_400, description="longest sign-in back-off, seconds"
    )
    DOCS_ENABLED: bool = Field(
        False, description="true: serve /docs, /redoc and /openapi.json when ENV=prod too"
    )

    BACKUP_DIR: Path = Field(
        LOCAL_STATE_DIR / "backups",
        description="directory of `wapang db backup`'s files (compose: the backups volume)",
    )
    BACKUP_KEEP_DAILY: int = Field(
        7, ge=1, le=366, description="backups kept: the newest of each of the last N days"
    )
    BACKUP_KEEP_WEEKLY: int = Field(
        4, ge=0, le=520, description="backups kept as well: the newest of each of the last N weeks"
    )
    BACKUP_INTERVAL_HOURS: float = Field(
        24, gt=0, le=168, description="hours between scheduled backups (the backup service)"
    )
    BACKUP_S3_ENDPOINT: str | None = Field(
        None, description="S3-compatible endpoint URL for off-host copies (empty: AWS S3)"
    )
    BACKUP_S3_BUCKET: str | None = Field(
        None, description="bucket for off-host copies of each backup (empty: no off-host copy)"
    )
    BACKUP_S3_PREFIX: str = Field("wapang/", description="key prefix of the off-host copies")
    BACKUP_S3_REGION: str = Field("us-east-1", description="region of the off-host bucket")
    BACKUP_S3_ACCESS_KEY_ID: str | None = Field(
        None, description="access key id for the off-host bucket (empty: the instance's role)"
    )
    BACKUP_S3_SECRET_ACCESS_KEY: SecretStr | None = Field(
        None, description="secret access key for the off-host bucket"
    )
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
        "DB_MIGRATION_USER",
        "DB_DATABASE",
        "ACCESS_TOKEN_SECRET",
        "REFRESH_TOKEN_SECRET",
        "ACCESS_TOKEN_SECRETS_PREVIOUS",
        "REFRESH_TOKEN_SECRETS_PREVIOUS",
        "BACKUP_S3_ENDPOINT",
        "BACKUP_S3_BUCKET",
        "BACKUP_S3_ACCESS_KEY_ID",
        "BACKUP_S3_SECRET_ACCESS_KEY",
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
        problems = self._driver_problems() + self._backup_problems()
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

    def _backup_problems(self) -> list[str]:
        key, secret = self.BACKUP_S3_ACCESS_KEY_ID, self.BACKUP_S3_SECRET_ACCESS_KEY
        if (key is None) != (secret is None):
            return [
                "BACKUP_S3_ACCESS_KEY_ID and BACKUP_S3_SECRET_ACCESS_KEY go together: set both "
                "(or neither, to use the instance's role)."
            ]
        if self.BACKUP_S3_BUCKET is None and (key is not None or self.BACKUP_S3_ENDPOINT):
            return ["BACKUP_S3_BUCKET is missing: set it to the bucket of the off-host copies."]
        return []

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
        problems += self._migration_user_problems()
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
        for name in ("ACCESS_TOKEN_SECRETS_PREVIOUS", "REFRESH_TOKEN_SECRETS_PREVIOUS"):
            for secret in _split_secrets(getattr(self, name)):
                problems += _secret_problems(f"each value of {name}", SecretStr(secret))
        problems += self._lifespan_problems()
        return problems

    def _lifespan_problems(self) -> list[str]:
        """A stolen token is worth as much as it lives: production keeps lifetimes bounded."""
        problems = []
        if self.SHORT_SESSION_LIFESPAN > MAX_PROD_ACCESS_MINUTES:
            problems.append(
                f"SHORT_SESSION_LIFESPAN={self.SHORT_SESSION_LIFESPAN} is too long for prod: "
                f"set at most {MAX_PROD_ACCESS_MINUTES} minutes (default 15)."
            )
        if self.SESSION_MAX_AGE > MAX_PROD_SESSION_MINUTES:
            problems.append(
                f"SESSION_MAX_AGE={self.SESSION_MAX_AGE} is too long for prod: set at most "
                f"{MAX_PROD_SESSION_MINUTES} minutes (default 43200, 30 days)."
            )
        if self.LONG_SESSION_LIFESPAN > self.SESSION_MAX_AGE:
            problems.append(
                f"LONG_SESSION_LIFESPAN={self.LONG_SESSION_LIFESPAN} exceeds SESSION_MAX_AGE="
                f"{self.SESSION_MAX_AGE}: set it to at most SESSION_MAX_AGE (default 1440)."
            )
        return problems

    def _migration_user_problems(self) -> list[str]:
        has_user = self.DB_MIGRATION_USER is not None
        has_password = bool(self.DB_MIGRATION_PASSWORD.get_secret_value())
        if has_user and not has_password:
            return [
                "DB_MIGRATION_PASSWORD is missing: set it to DB_MIGRATION_USER's password, or "
                "unset DB_MIGRATION_USER to migrate as DB_USER."
            ]
        if has_password and not has_user:
            return [
                "DB_MIGRATION_PASSWORD is set without DB_MIGRATION_USER: set the user too, or "
                "unset the password."
            ]
        return []

    def for_migrations(self) -> Self:
        """These settings with the migration user, when one is configured: the app's own user
        then needs only SELECT, INSERT, UPDATE and DELETE."""
        if self.DB_MIGRATION_USER is None:
            return self
        return self.model_copy(
            update={"DB_USER": self.DB_MIGRATION_USER, "DB_PASSWORD": self.DB_MIGRATION_PASSWORD}
        )

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
    def serves_documentation(self) -> bool:
        """The API's documentation is public outside production, and in it only on request."""
        return self.ENV is not Environment.PROD or self.DOCS_ENABLED

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
    def previous_access_secrets(self) -> list[str]:
        return _split_secrets(self.ACCESS_TOKEN_SECRETS_PREVIOUS)

    @property
    def previous_refresh_secrets(self) -> list[str]:
        return _split_secrets(self.REFRESH_TOKEN_SECRETS_PREVIOUS)

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
            "migrations as": self.DB_MIGRATION_USER or self.DB_USER or "-",
            "token secrets": secrets_state,
            "access token lifetime": f"{self.SHORT_SESSION_LIFESPAN} min",
            "refresh token lifetime": f"{self.LONG_SESSION_LIFESPAN} min",
            "session max age": f"{self.SESSION_MAX_AGE} min",
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


def _split_secrets(value: SecretStr | None) -> list[str]:
    if value is None:
        return []
    return [part.strip() for part in value.get_secret_value().split(",") if part.strip()]


def _secret_problems(name: str, value: SecretStr | None) -> list[str]:
    fix = 'generate one with: python -c "import secrets; print(secrets.token_urlsafe(48))"'
    if value is None:
        return [f"{name} is missing: {fix}."]
    secret = value.get_secret_value()
    if is_placeholder(secret):
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
