"""The Helm chart renders offline and every object it renders is valid against its schema; the
Secret carries exactly the settings the model requires; the pods match the app image."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.kubernetes.chart import CHART, PRODUCTION_VALUES, crd_models_available, problems, render
from tests.requirements import require
from wapang.config import Settings
from wapang.delivery.contract import chart_settings, required_variables
from wapang.delivery.envfile import CHART_SETTINGS_PATH, render_chart_settings

EXPECTED_KINDS = {
    "Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler", "Job", "Secret",
    "HTTPRoute", "Gateway", "Issuer", "Certificate",
}  # fmt: skip


@pytest.fixture(scope="module")
def rendered() -> list[dict[str, Any]]:
    return render()


@pytest.fixture
def validators() -> None:
    require(crd_models_available(), "node and the CRD model packages (.ci/run installs them)")


def one(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    matches = [obj for obj in objects if obj["kind"] == kind]
    assert len(matches) == 1, f"expected one {kind}, got {len(matches)}"
    return matches[0]


def with_values(**changes: Any) -> dict[str, Any]:
    values = copy.deepcopy(PRODUCTION_VALUES)
    values.update(changes)
    return values


# ---- renders and validates ---------------------------------------------------------------------


def test_chart_renders_every_part(rendered: list[dict[str, Any]]) -> None:
    assert {obj["kind"] for obj in rendered} == EXPECTED_KINDS
    issuers = [obj["spec"]["acme"]["server"] for obj in rendered if obj["kind"] == "Issuer"]
    assert any("staging" in server for server in issuers)
    assert len(issuers) == 2


def test_every_rendered_object_matches_its_schema(
    validators: None, rendered: list[dict[str, Any]]
) -> None:
    assert problems(rendered) == []


def test_without_a_gateway_of_its_own_the_route_attaches_to_an_existing_one(
    validators: None,
) -> None:
    values = with_values(gateway={"create": False, "name": "shared", "namespace": "infra"})
    objects = render(values)
    assert "Gateway" not in {obj["kind"] for obj in objects}
    refs = [
        ref for obj in objects if obj["kind"] == "HTTPRoute" for ref in obj["spec"]["parentRefs"]
    ]
    assert {(ref["name"], ref["namespace"]) for ref in refs} == {("shared", "infra")}
    assert problems(objects) == []


# ---- the validation catches what it must (negative tests) --------------------------------------


def test_a_missing_required_field_is_reported(
    validators: None, rendered: list[dict[str, Any]]
) -> None:
    broken = copy.deepcopy(rendered)
    del one(broken, "Deployment")["spec"]["template"]["spec"]["containers"][0]["name"]
    assert any(
        "Deployment/" in p and "'name' is a required property" in p for p in problems(broken)
    )


def test_a_missing_required_crd_field_is_reported(
    validators: None, rendered: list[dict[str, Any]]
) -> None:
    broken = copy.deepcopy(rendered)
    issuer = next(obj for obj in broken if obj["kind"] == "Issuer")
    del issuer["spec"]["acme"]["privateKeySecretRef"]
    assert any("Issuer/" in p and "privateKeySecretRef" in p for p in problems(broken))


@pytest.mark.parametrize(
    ("kind", "api_version"),
    [("Deployment", "apps/v2"), ("HTTPRoute", "gateway.networking.k8s.io/v9"),
     ("Certificate", "cert-manager.io/v1alpha1"), ("PodDisruptionBudget", "policy/v1beta1")],
)  # fmt: skip
def test_a_wrong_api_version_is_reported(
    validators: None, rendered: list[dict[str, Any]], kind: str, api_version: str
) -> None:
    broken = copy.deepcopy(rendered)
    next(obj for obj in broken if obj["kind"] == kind)["apiVersion"] = api_version
    assert any(p.startswith(f"{kind}/") and api_version in p for p in problems(broken))


def test_a_wrong_type_is_reported(validators: None, rendered: list[dict[str, Any]]) -> None:
    broken = copy.deepcopy(rendered)
    next(obj for obj in broken if obj["kind"] == "HTTPRoute")["spec"]["rules"][0]["backendRefs"][0][
        "port"
    ] = "eight-thousand"
    assert any("HTTPRoute/" in p and "port" in p for p in problems(broken))


# ---- the Secret: exactly the settings the model requires (drift) -------------------------------


def secret_gaps(objects: list[dict[str, Any]]) -> list[str]:
    """Required settings (contract) the rendered Secret does not pass to the app."""
    data = one(objects, "Secret")["stringData"]
    return [v.name for v in required_variables() if v.consumer.name == "API" and v.name not in data]


def test_chart_settings_file_is_generated_from_the_models() -> None:
    assert CHART_SETTINGS_PATH.read_text() == render_chart_settings(), (
        "files/settings.json is stale: run `uv run wapang config chart-settings`"
    )


def test_the_secret_passes_every_required_setting(rendered: list[dict[str, Any]]) -> None:
    assert secret_gaps(rendered) == []
    data = one(rendered, "Secret")["stringData"]
    assert set(data) <= {entry["name"] for entry in chart_settings()}
    assert data["ENV"] == "prod"
    assert data["DB_DIALECT"] == "mysql"


def test_the_rendered_secret_passes_check_config(
    rendered: list[dict[str, Any]], tmp_path: Path
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        "".join(f"{k}={v}\n" for k, v in one(rendered, "Secret")["stringData"].items())
    )
    assert Settings.load(env_file=env_file).ENV.value == "prod"


def test_a_chart_that_drops_a_setting_fails_the_drift_check(tmp_path: Path) -> None:
    chart = tmp_path / "wapang"
    shutil.copytree(CHART, chart)
    entries = [e for e in json.loads(CHART_SETTINGS_PATH.read_text()) if e["name"] != "DB_HOST"]
    (chart / "files" / "settings.json").write_text(json.dumps(entries))
    assert secret_gaps(render(chart=chart)) == ["DB_HOST"]


def test_rendering_without_required_settings_names_each() -> None:
    from helm_python import HelmError

    settings = {
        k: v
        for k, v in PRODUCTION_VALUES["settings"].items()
        if k not in ("DB_PASSWORD", "DB_HOST")
    }
    with pytest.raises(HelmError) as error:
        render(with_values(settings=settings))
    assert "DB_HOST, DB_PASSWORD" in str(error.value)
    assert PRODUCTION_VALUES["settings"]["ACCESS_TOKEN_SECRET"] not in str(error.value)


@pytest.mark.parametrize("missing", ["image", "hostnames", "certManager"])
def test_rendering_without_a_required_value_says_which(missing: str) -> None:
    from helm_python import HelmError

    values = with_values()
    values[missing] = {"image": {"tag": ""}, "hostnames": [], "certManager": {"email": ""}}[missing]
    with pytest.raises(HelmError) as error:
        render(values)
    assert {"image": "image.tag", "hostnames": "hostnames", "certManager": "certManager.email"}[
        missing
    ] in str(error.value)


def test_an_existing_secret_replaces_the_charts(validators: None) -> None:
    objects = render(with_values(settings={}, existingSecret="wapang-managed"))
    assert "Secret" not in {obj["kind"] for obj in objects}
    pod = one(objects, "Deployment")["spec"]["template"]["spec"]
    assert pod["containers"][0]["envFrom"] == [{"secretRef": {"name": "wapang-managed"}}]
    assert problems(objects) == []


# ---- the pods match the image ------------------------------------------------------------------


def test_pods_run_the_cd_image_as_its_user_read_only(rendered: list[dict[str, Any]]) -> None:
    image_dockerfile = (CHART.parents[1] / "app.Dockerfile").read_text()
    assert "USER 10001:10001" in image_dockerfile
    assert "EXPOSE 8000" in image_dockerfile
    for kind in ("Deployment", "Job"):
        pod = one(rendered, kind)["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsUser"] == 10001
        assert pod["securityContext"]["runAsNonRoot"] is True
        container = pod["containers"][0]
        assert (
            container["image"] == f"ghcr.io/example/wapang-app:{PRODUCTION_VALUES['image']['tag']}"
        )
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert "resources" in container


def test_probes_use_the_apps_health_endpoints(rendered: list[dict[str, Any]]) -> None:
    from wapang.api import health

    paths = {getattr(route, "path", None) for route in health.router.routes}
    container = one(rendered, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz" in paths
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz" in paths
    assert container["ports"][0]["containerPort"] == 8000


def test_termination_grace_covers_the_drain(rendered: list[dict[str, Any]]) -> None:
    """preStop pause, then uvicorn waits for in-flight requests, which end by REQUEST_TIMEOUT."""
    pod = one(rendered, "Deployment")["spec"]["template"]["spec"]
    pause = pod["containers"][0]["lifecycle"]["preStop"]["sleep"]["seconds"]
    request_timeout = Settings.model_fields["REQUEST_TIMEOUT"].default
    assert pod["terminationGracePeriodSeconds"] > pause + request_timeout


def test_migration_runs_as_a_hook_before_new_pods(rendered: list[dict[str, Any]]) -> None:
    job = one(rendered, "Job")
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["wapang", "db", "upgrade"]
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    secret_weight = one(rendered, "Secret")["metadata"]["annotations"]["helm.sh/hook-weight"]
    assert int(secret_weight) < int(job["metadata"]["annotations"]["helm.sh/hook-weight"])


def test_certificate_covers_the_route_hostnames_through_the_gateway(
    rendered: list[dict[str, Any]],
) -> None:
    certificate = one(rendered, "Certificate")
    route = next(obj for obj in rendered if obj["kind"] == "HTTPRoute")
    assert certificate["spec"]["dnsNames"] == route["spec"]["hostnames"]
    assert certificate["spec"]["issuerRef"]["name"].endswith("letsencrypt-staging")
    listener = one(rendered, "Gateway")["spec"]["listeners"][1]
    assert listener["tls"]["certificateRefs"][0]["name"] == certificate["spec"]["secretName"]
    solver = next(obj for obj in rendered if obj["kind"] == "Issuer")["spec"]["acme"]["solvers"][0]
    assert solver["http01"]["gatewayHTTPRoute"]["parentRefs"][0]["sectionName"] == "http"
