"""deploy/SCALING.md is true to the chart: its values file renders into valid objects whose Secret
the app accepts, every value it sets exists in the chart, the files it names exist, and its
connection budget is the one the chart's and the settings' defaults give."""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.kubernetes.chart import CHART, crd_models_available, problems, render
from tests.requirements import require_available
from wapang.config import ConfigError, Settings

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "deploy" / "SCALING.md"


def fenced_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", GUIDE.read_text(), flags=re.DOTALL)


def guide_values() -> dict[str, Any]:
    """The guide's values.prod.yaml."""
    (block,) = [text for text in fenced_blocks("yaml") if text.startswith("# values.prod.yaml")]
    values: dict[str, Any] = yaml.safe_load(block)
    return values


def chart_defaults() -> dict[str, Any]:
    defaults: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text())
    return defaults


def secret_settings(objects: list[dict[str, Any]], env_file: Path) -> Settings:
    """The settings the app reads from the rendered Secret."""
    (secret,) = [obj for obj in objects if obj["kind"] == "Secret"]
    env_file.write_text("".join(f"{k}={v}\n" for k, v in secret["stringData"].items()))
    return Settings.load(env_file=env_file)


def test_the_guides_values_file_renders_valid_objects() -> None:
    require_available(
        crd_models_available(), "node and the CRD model packages (.ci/run installs them)"
    )
    objects = render(guide_values())
    assert problems(objects) == []
    (deployment,) = [obj for obj in objects if obj["kind"] == "Deployment"]
    assert f"deploy/{deployment['metadata']['name']}" in GUIDE.read_text()


def test_the_guides_placeholder_secrets_are_refused_and_generated_ones_accepted(
    tmp_path: Path,
) -> None:
    with pytest.raises(ConfigError) as refused:
        secret_settings(render(guide_values()), tmp_path / "copied.env")
    assert [problem.split()[0] for problem in refused.value.problems] == [
        "ACCESS_TOKEN_SECRET",
        "REFRESH_TOKEN_SECRET",
        "ACCESS_TOKEN_SECRET",  # ... and REFRESH_TOKEN_SECRET are equal
    ]
    values = guide_values()
    for name in ("ACCESS_TOKEN_SECRET", "REFRESH_TOKEN_SECRET"):
        values["settings"][name] = secrets.token_hex(32)  # what `openssl rand -hex 32` gives
    assert secret_settings(render(values), tmp_path / "edited.env").ENV.value == "prod"


def test_every_value_the_guide_sets_exists_in_the_chart() -> None:
    defaults = chart_defaults()
    paths = re.findall(r"--set ([\w.]+)=", GUIDE.read_text())
    assert paths, "the guide shows no --set: update this test"
    for path in paths:
        node: Any = defaults
        for key in path.split("."):
            assert isinstance(node, dict), f"--set {path}: {key} is below a plain value"
            assert key in node, f"--set {path}: not in values.yaml"
            node = node[key]
    assert set(guide_values()) <= set(defaults)


@pytest.mark.parametrize(
    "path", sorted(set(re.findall(r"`((?:wapang|tests|deploy)/[\w/.]+)`", GUIDE.read_text())))
)
def test_every_file_the_guide_names_exists(path: str) -> None:
    assert (ROOT / path).exists(), path


def test_the_connection_budget_is_the_charts() -> None:
    defaults = chart_defaults()
    processes = defaults["autoscaling"]["maxReplicas"] * defaults["workers"]
    pool_size = Settings.model_fields["DB_POOL_SIZE"].default
    needed = processes * 2 * pool_size
    assert f"need {needed}." in GUIDE.read_text()
