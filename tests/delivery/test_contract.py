"""The configuration contract: every setting the models require in production reaches the
containers (compose), is written by CD (cd.yml), and is documented (.env.example, DEPLOY.md).
Each check is parametrised by variable, so removing one anywhere fails by name."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.examples import PRODUCTION_ENV
from wapang.config import Settings
from wapang.delivery.contract import (
    Consumer,
    DeployVariable,
    deploy_variables,
    required_variables,
    secret_names,
)
from wapang.delivery.envfile import (
    ENV_EXAMPLE_PATH,
    EnvFileError,
    render_env_example,
    render_env_file,
    render_secrets_markdown,
    write_private_file,
)
from wapang.edge.settings import EdgeSettings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "deploy" / "compose.yaml"
CD = ROOT / ".github" / "workflows" / "cd.yml"
DEPLOY_GUIDE = ROOT / "deploy" / "DEPLOY.md"

API = [v for v in deploy_variables() if v.consumer is Consumer.API]
EDGE = [v for v in deploy_variables() if v.consumer is Consumer.EDGE]
NGINX = [v for v in deploy_variables() if v.consumer is Consumer.NGINX]
FROM_SECRETS = [v for v in deploy_variables() if v.from_secret]


def by_name(variables: list[DeployVariable]) -> dict[str, Any]:
    return {"argvalues": variables, "ids": [v.name for v in variables]}


def load_yaml(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text())
    return loaded


# ---- the contract is derived from the models ---------------------------------------------------


def test_every_api_setting_is_in_the_contract() -> None:
    assert [v.name for v in API] == list(Settings.model_fields)


def test_every_required_edge_setting_is_in_the_contract() -> None:
    required = {name.upper() for name, f in EdgeSettings.model_fields.items() if f.is_required()}
    assert required <= {v.name for v in EDGE}


def test_required_in_prod_matches_the_model() -> None:
    assert {v.name for v in API if v.required_in_prod} == {"ENV", *Settings.REQUIRED_IN_PROD}


@pytest.mark.parametrize("variable", **by_name(deploy_variables()))
def test_every_variable_is_described(variable: DeployVariable) -> None:
    assert variable.description.strip(), f"{variable.name} needs a description in its model"


# ---- .env.example ------------------------------------------------------------------------------


def test_env_example_is_generated_from_the_models() -> None:
    assert ENV_EXAMPLE_PATH.read_text() == render_env_example(), (
        "deploy/.env.example is stale: run `uv run wapang config env-example`"
    )


@pytest.mark.parametrize("variable", **by_name(required_variables()))
def test_env_example_lists_required_variable_uncommented(variable: DeployVariable) -> None:
    assert re.search(rf"^{variable.name}=", ENV_EXAMPLE_PATH.read_text(), re.MULTILINE)


def test_env_example_as_is_fails_check_config_naming_each_required_secret() -> None:
    """A copied, unfilled example must not pass: every empty required value is reported."""
    from wapang.config import ConfigError

    with pytest.raises(ConfigError) as error:
        Settings.load(env_file=ENV_EXAMPLE_PATH)
    reported = " ".join(error.value.problems)
    for variable in API:
        if variable.required_in_prod and variable.from_secret:
            assert variable.name in reported


# ---- compose: what reaches the containers ------------------------------------------------------


def compose_services() -> dict[str, Any]:
    services: dict[str, Any] = load_yaml(COMPOSE)["services"]
    return services


@pytest.mark.parametrize("service", ["app", "migrate"])
def test_api_containers_receive_the_whole_env_file(service: str) -> None:
    definition = compose_services()[service]
    env_files = definition.get("env_file")
    env_files = [env_files] if isinstance(env_files, str) else env_files
    paths = [item["path"] if isinstance(item, dict) else item for item in env_files or []]
    assert ".env" in paths, f"{service} must have env_file: .env"
    # An `environment:` entry would override .env, with an empty value when interpolation fails.
    # The one exception: the app is kept from the migration user's credentials.
    environment = definition.get("environment") or {}
    overridden = set(environment) & {v.name for v in API} - set(MIGRATION_ONLY)
    assert not overridden, f"{service} overrides {overridden} instead of reading .env"


MIGRATION_ONLY = ("DB_MIGRATION_USER", "DB_MIGRATION_PASSWORD")


def test_only_migrate_gets_the_migration_users_credentials() -> None:
    services = compose_services()
    assert {name: services["app"]["environment"][name] for name in MIGRATION_ONLY} == {
        name: "" for name in MIGRATION_ONLY
    }
    assert not set(services["migrate"].get("environment") or {}) & set(MIGRATION_ONLY)


@pytest.mark.parametrize("service", ["nginx", "certbot"])
@pytest.mark.parametrize("variable", **by_name(EDGE))
def test_edge_containers_receive_edge_variables(service: str, variable: DeployVariable) -> None:
    environment = compose_services()[service].get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    if service == "nginx" and not variable.required_in_prod:
        return  # nginx needs the names only; the e-mail is the certificate manager's
    value = str(environment.get(variable.name, ""))
    assert f"${{{variable.name}" in value, f"{service} must get {variable.name} from .env"
    if variable.required_in_prod:
        assert f"${{{variable.name}:?" in value, (
            f"{service}: a missing {variable.name} must stop compose"
        )


@pytest.mark.parametrize("variable", **by_name(NGINX))
def test_nginx_receives_its_own_variables(variable: DeployVariable) -> None:
    environment = compose_services()["nginx"].get("environment") or {}
    assert f"${{{variable.name}:-}}" == str(environment.get(variable.name, "")), (
        f"nginx must get {variable.name} from .env (empty: the image's default)"
    )


def test_nginx_refuses_bodies_by_the_apps_own_limit() -> None:
    """One setting: the edge's client_max_body_size is the app's MAX_REQUEST_BODY_BYTES."""
    environment = compose_services()["nginx"]["environment"]
    assert environment["MAX_REQUEST_BODY_BYTES"] == "${MAX_REQUEST_BODY_BYTES:-}"
    assert "MAX_REQUEST_BODY_BYTES" in {v.name for v in API}


def test_services_use_the_release_images() -> None:
    services = compose_services()
    for service, image in (
        ("app", "app"),
        ("migrate", "app"),
        ("nginx", "nginx"),
        ("certbot", "certbot"),
    ):
        pattern = rf"\$\{{REGISTRY:\?[^}}]*\}}/wapang-{image}:\$\{{TAG:\?[^}}]*\}}"
        assert re.fullmatch(pattern, services[service]["image"]), service


def test_app_waits_for_migrate_and_db_is_optional() -> None:
    services = compose_services()
    assert services["app"]["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully"
    )
    assert services["db"]["profiles"] == ["selfhost"]
    assert services["migrate"]["command"] == ["wapang", "db", "upgrade"]
    for name in ("app", "nginx", "certbot", "db"):
        assert services[name]["restart"] == "unless-stopped", name
    for name in ("app", "nginx", "db"):
        assert "healthcheck" in services[name], name


def test_named_volumes_hold_certificates_webroot_and_ledger() -> None:
    compose = load_yaml(COMPOSE)
    assert {"certs", "webroot"} <= set(compose["volumes"])
    certbot_mounts = compose["services"]["certbot"]["volumes"]
    assert "certs:/etc/letsencrypt" in certbot_mounts  # the ledger is /etc/letsencrypt/wapang/
    assert "webroot:/var/www/certbot" in certbot_mounts


# ---- cd.yml: what CD writes --------------------------------------------------------------------


def env_writer_step() -> dict[str, Any]:
    steps = load_yaml(CD)["jobs"]["deploy"]["steps"]
    writers = [step for step in steps if "wapang config write-env" in step.get("run", "")]
    assert len(writers) == 1, "cd.yml must write .env with `wapang config write-env` once"
    step: dict[str, Any] = writers[0]
    return step


@pytest.mark.parametrize("variable", **by_name(FROM_SECRETS))
def test_cd_writes_each_variable_from_its_secret(variable: DeployVariable) -> None:
    value = str(env_writer_step().get("env", {}).get(variable.name, ""))
    assert re.fullmatch(rf"\$\{{\{{\s*secrets\.{variable.name}\s*\}}\}}", value), (
        f"cd.yml's .env step must map {variable.name}: ${{{{ secrets.{variable.name} }}}}"
    )


def test_cd_writes_env_privately_and_ships_it_with_the_bundle() -> None:
    step = env_writer_step()
    assert "umask 077" in step["run"]
    deploy_steps = " ".join(s.get("run", "") for s in load_yaml(CD)["jobs"]["deploy"]["steps"])
    assert "deploy.sh" in deploy_steps
    assert "compose.yaml" in deploy_steps


def test_cd_needs_ci_and_never_cancels_a_deploy() -> None:
    cd = load_yaml(CD)
    assert cd["jobs"]["ci"]["uses"] == "./.github/workflows/ci.yml"
    # The images are pushed only after CI and the stack tests on the runner (tests/stack).
    assert cd["jobs"]["images"]["needs"] == ["ci", "stack"]
    assert cd["jobs"]["stack"]["needs"] == "ci"
    assert cd["jobs"]["deploy"]["needs"] == "images"
    assert cd["concurrency"]["cancel-in-progress"] is False


def test_cd_never_orders_certificates() -> None:
    text = CD.read_text() + (ROOT / "deploy" / "deploy.sh").read_text()
    for forbidden in ("certbot certonly", "certs ensure", "--force"):
        assert forbidden not in text


# ---- the CD .env writer ------------------------------------------------------------------------


def complete_environment() -> dict[str, str]:
    return {
        **PRODUCTION_ENV,
        "DOMAINS": "shop.example.com",
        "DB_PORT": "",  # an unset GitHub secret arrives as an empty string
    }


def test_writer_writes_required_fixed_and_set_values_only() -> None:
    text = render_env_file(complete_environment())
    lines = dict(line.split("=", 1) for line in text.splitlines())
    assert lines["ENV"] == "prod"
    assert lines["DB_DIALECT"] == "mysql"
    assert lines["DB_HOST"] == "db.internal"
    assert "DB_PORT" not in lines  # empty: the model's default applies


def test_written_env_passes_check_config(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(render_env_file(complete_environment()))
    settings = Settings.load(env_file=env_file)
    assert settings.ENV.value == "prod"


def test_writer_names_every_missing_required_secret() -> None:
    environment = complete_environment()
    del environment["DB_PASSWORD"], environment["DOMAINS"]
    with pytest.raises(EnvFileError) as error:
        render_env_file(environment)
    assert [p.split()[0] for p in error.value.problems] == ["DB_PASSWORD", "DOMAINS"]


@pytest.mark.parametrize("bad", ["pa$$word", 'with"quote', "hash#tag", " padded", "two\nlines"])
def test_writer_rejects_values_compose_would_alter_without_printing_them(bad: str) -> None:
    environment = complete_environment() | {"DB_PASSWORD": bad}
    with pytest.raises(EnvFileError) as error:
        render_env_file(environment)
    assert "DB_PASSWORD" in str(error.value)
    assert bad.strip() not in str(error.value)


def test_private_file_is_0600_even_under_a_loose_umask(tmp_path: Path) -> None:
    target = tmp_path / ".env"
    previous = os.umask(0o000)
    try:
        write_private_file(target, "A=1\n")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_write_env_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from wapang.cli import app

    for name, value in complete_environment().items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(app, ["config", "write-env", str(tmp_path / ".env")])
    assert result.exit_code == 0, result.output
    monkeypatch.delenv("DB_HOST")
    result = CliRunner().invoke(app, ["config", "write-env", str(tmp_path / "other.env")])
    assert result.exit_code == 2
    assert "DB_HOST is required" in result.output
    assert not (tmp_path / "other.env").exists()


# ---- the deploy guide lists every secret -------------------------------------------------------


def test_deploy_guide_lists_every_secret() -> None:
    guide = DEPLOY_GUIDE.read_text()
    assert render_secrets_markdown() in guide, (
        "deploy/DEPLOY.md's secrets table is stale: paste `uv run wapang config secrets`"
    )
    for name in secret_names():
        assert f"`{name}`" in guide


def test_cd_logs_the_host_out_of_the_registry_after_the_deploy() -> None:
    """The pull token must not stay in the deploy user's ~/.docker/config.json (security review
    finding 10): logged out whatever deploy.sh's outcome, which is then the step's."""
    steps = load_yaml(CD)["jobs"]["deploy"]["steps"]
    run = next(s["run"] for s in steps if "deploy.sh' --registry" in s.get("run", ""))
    login, deploy, logout = (
        run.index("docker login ghcr.io"),
        run.index("deploy.sh' --registry"),
        run.index("docker logout ghcr.io"),
    )
    assert login < deploy < logout
    assert "status=$?" in run[deploy:logout]
    assert run.rstrip().endswith('exit "$status"')
