"""The settings model: every problem at once, with the fix; local defaults; driver names."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.examples import PRODUCTION_APP
from wapang.config import ConfigError, Settings, write_development_secrets

PRODUCTION = PRODUCTION_APP
STRONG_ACCESS = PRODUCTION["ACCESS_TOKEN_SECRET"]
STRONG_REFRESH = PRODUCTION["REFRESH_TOKEN_SECRET"]


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No variable of the developer's shell or .env leaks into these tests."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def load(**values: object) -> Settings:
    return Settings.load(env_file=None, **values)


def problems_of(**values: object) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        load(**values)
    return raised.value.problems


def test_complete_production_settings_load() -> None:
    settings = load(**PRODUCTION)
    assert settings.async_driver == "asyncmy"
    assert not settings.uses_generated_secrets


def test_empty_production_config_names_every_missing_setting_at_once() -> None:
    problems = problems_of(ENV="prod", DB_DIALECT="mysql")
    text = "\n".join(problems)
    for name in ("DB_HOST", "DB_USER", "DB_PASSWORD", "DB_DATABASE"):
        assert f"{name} is missing" in text
    assert "ACCESS_TOKEN_SECRET is missing" in text
    assert "REFRESH_TOKEN_SECRET is missing" in text
    assert "secrets.token_urlsafe" in text, "the message says how to fix it"


def test_the_seeds_missing_variables_are_reported_together() -> None:
    """The seed's 502: DB_DIALECT, DB_DRIVER and DB_DATABASE never reached the container."""
    values = {**PRODUCTION}
    del values["DB_DATABASE"], values["ACCESS_TOKEN_SECRET"], values["REFRESH_TOKEN_SECRET"]
    problems = problems_of(**values)
    assert len(problems) == 3


@pytest.mark.parametrize(
    ("secret", "reason"),
    [
        ("short-but-random-Xq9", "too weak"),
        ("changeme-changeme-changeme-changeme-0001", "placeholder"),
        ("your-secret-here-your-secret-here-your-secret", "placeholder"),
    ],
)
def test_weak_or_placeholder_secret_is_refused_in_production(secret: str, reason: str) -> None:
    problems = problems_of(**{**PRODUCTION, "ACCESS_TOKEN_SECRET": secret})
    assert len(problems) == 1
    assert "ACCESS_TOKEN_SECRET" in problems[0]
    assert reason in problems[0]
    assert secret not in problems[0], "a secret value never appears in an error"


def test_equal_secrets_are_refused_in_production() -> None:
    problems = problems_of(
        **{**PRODUCTION, "REFRESH_TOKEN_SECRET": PRODUCTION["ACCESS_TOKEN_SECRET"]}
    )
    assert len(problems) == 1
    assert "are equal" in problems[0]


def test_sqlite_is_refused_in_production() -> None:
    problems = problems_of(**{**PRODUCTION, "DB_DIALECT": "sqlite"})
    assert any("DB_DIALECT must be mysql" in problem for problem in problems)


def test_invalid_values_are_listed_with_what_is_expected() -> None:
    problems = problems_of(ENV="staging", DB_DIALECT="postgres", DB_PORT="eighty")
    names = sorted(problem.split(":")[0] for problem in problems)
    assert names == ["DB_DIALECT", "DB_PORT", "ENV"]
    assert any("mysql | sqlite" in problem for problem in problems)


def test_message_lists_each_problem_on_its_own_line() -> None:
    with pytest.raises(ConfigError) as raised:
        load(ENV="prod", DB_DIALECT="mysql")
    rendered = raised.value.render()
    assert rendered.startswith("wapang cannot start: 6 configuration problem(s)")
    assert rendered.count("\n  - ") == 6


@pytest.mark.parametrize(
    ("driver", "expected"),
    [("pymysql", "aiomysql"), ("aiomysql", "aiomysql"), ("asyncmy", "asyncmy")],
)
def test_mysql_driver_names_map_to_async_drivers(driver: str, expected: str) -> None:
    assert load(**{**PRODUCTION, "DB_DRIVER": driver}).async_driver == expected


def test_unknown_driver_is_a_problem() -> None:
    problems = problems_of(**{**PRODUCTION, "DB_DRIVER": "mysqlclient"})
    assert len(problems) == 1
    assert "DB_DRIVER='mysqlclient'" in problems[0]


def test_loading_settings_writes_no_secrets(tmp_path: Path) -> None:
    settings = load()
    assert settings.missing_secrets
    assert not (tmp_path / ".wapang").exists()
    with pytest.raises(ConfigError, match="wapang serve"):
        settings.require_secrets()


def test_no_configuration_runs_locally_on_sqlite_with_persisted_dev_secrets(tmp_path: Path) -> None:
    write_development_secrets()  # what `wapang serve` does on a fresh checkout
    write_development_secrets()
    first = load()
    second = load()
    assert first.DB_DATABASE == ".wapang/wapang.db"
    assert first.uses_generated_secrets
    assert first.access_secret == second.access_secret, "tokens survive a restart"
    assert first.access_secret != first.refresh_secret
    secrets_file = tmp_path / ".wapang" / "dev-secrets.json"
    assert secrets_file.stat().st_mode & 0o777 == 0o600


def test_env_file_values_are_read(tmp_path: Path) -> None:
    env_file = tmp_path / "prod.env"
    env_file.write_text("\n".join(f"{name}={value}" for name, value in PRODUCTION.items()))
    settings = Settings.load(env_file=env_file)
    assert settings.DB_HOST == "db.internal"


def test_summary_never_contains_secret_values() -> None:
    summary = str(load(**PRODUCTION).summary())
    assert PRODUCTION["ACCESS_TOKEN_SECRET"] not in summary
    assert PRODUCTION["DB_PASSWORD"] not in summary


def test_a_migration_user_needs_its_password_and_the_reverse() -> None:
    assert any(
        p.startswith("DB_MIGRATION_PASSWORD is missing")
        for p in problems_of(**PRODUCTION, DB_MIGRATION_USER="wapang_ddl")
    )
    assert any(
        p.startswith("DB_MIGRATION_PASSWORD is set without DB_MIGRATION_USER")
        for p in problems_of(**PRODUCTION, DB_MIGRATION_PASSWORD="ddl-password")
    )


def test_migrations_run_as_the_migration_user_when_one_is_set() -> None:
    app = load(**PRODUCTION)
    assert app.for_migrations() is app  # RDS as before: DB_USER does both
    split = load(**PRODUCTION, DB_MIGRATION_USER="wapang_ddl", DB_MIGRATION_PASSWORD="ddl-pass")
    migrations = split.for_migrations()
    assert migrations.DB_USER == "wapang_ddl"
    assert migrations.DB_PASSWORD.get_secret_value() == "ddl-pass"
    assert split.DB_USER == "wapang"  # the app's own settings are unchanged
    assert "ddl-pass" not in str(split.summary())


def test_generated_secrets_are_never_taken_for_placeholders() -> None:
    """Review finding 13: the old substring check refused about 0.2% of the values the error
    message itself recommends (`secrets.token_urlsafe(48)`)."""
    import secrets

    from wapang.config import is_placeholder

    refused = [
        value
        for value in (secrets.token_urlsafe(48) for _ in range(20_000))
        if is_placeholder(value)
    ]
    assert refused == []
    for lookalike in ("xxxTODOsecret" + secrets.token_urlsafe(40), "a-example-" + "Q" * 40):
        assert not is_placeholder(lookalike)
    for placeholder in ("changeme", "CHANGE_ME_0001", "xxxxxxxx", "your-secret-here", "TODO"):
        assert is_placeholder(placeholder)


def test_production_caps_token_lifetimes_and_names_each_at_once() -> None:
    problems = problems_of(
        **PRODUCTION,
        SHORT_SESSION_LIFESPAN=61,
        LONG_SESSION_LIFESPAN=50_000,
        SESSION_MAX_AGE=200_000,
    )
    text = "\n".join(problems)
    assert "SHORT_SESSION_LIFESPAN=61 is too long for prod" in text
    assert "SESSION_MAX_AGE=200000 is too long for prod" in text
    assert "LONG_SESSION_LIFESPAN=50000 exceeds SESSION_MAX_AGE" not in text  # 50000 < 200000
    problems = problems_of(**PRODUCTION, LONG_SESSION_LIFESPAN=50_000)
    assert any("LONG_SESSION_LIFESPAN=50000 exceeds SESSION_MAX_AGE=43200" in p for p in problems)
    # Outside prod the same values load (tests use short and long ones).
    assert load(SHORT_SESSION_LIFESPAN=61, LONG_SESSION_LIFESPAN=50_000).SESSION_MAX_AGE == 43_200


def test_previous_token_secrets_are_checked_like_the_current_ones() -> None:
    problems = problems_of(**PRODUCTION, ACCESS_TOKEN_SECRETS_PREVIOUS=f"{STRONG_REFRESH},short")
    assert problems == [
        "each value of ACCESS_TOKEN_SECRETS_PREVIOUS is too weak (5 bytes, HS256 needs >= 32): "
        'generate one with: python -c "import secrets; print(secrets.token_urlsafe(48))".'
    ]
    settings = load(**PRODUCTION, REFRESH_TOKEN_SECRETS_PREVIOUS=f"{STRONG_ACCESS}, ")
    assert settings.previous_refresh_secrets == [STRONG_ACCESS]
    assert STRONG_ACCESS not in str(settings.summary())
