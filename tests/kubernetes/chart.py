"""Render the Helm chart offline (Helm's own engine, from PyPI's helm-python-sdk) and validate
every object: core ones against the Kubernetes OpenAPI schemas (kubernetes-validate), Gateway API
and cert-manager ones against their CRD schemas (npm's @kubernetes-models packages, via node)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.examples import PRODUCTION_ENV

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "kubernetes" / "wapang"
CRD_VALIDATOR = Path(__file__).with_name("validate_crds.mjs")
KUBERNETES_VERSION = "1.33.0"
CRD_GROUPS = ("gateway.networking.k8s.io", "cert-manager.io", "acme.cert-manager.io")
# Where .ci/run installs the CRD model packages (npm); override with WAPANG_CRD_MODELS.
CRD_MODELS = Path(os.environ.get("WAPANG_CRD_MODELS", ROOT / ".ci" / "crd-models" / "node_modules"))

PRODUCTION_VALUES: dict[str, Any] = {
    "image": {"registry": "ghcr.io/example", "tag": "0123456789abcdef0123456789abcdef01234567"},
    "hostnames": ["shop.example.com", "www.shop.example.com"],
    "gateway": {"className": "example-gateway-class"},
    "certManager": {"email": "ops@example.com"},
    "settings": dict(PRODUCTION_ENV),
}


def crd_models_available() -> bool:
    return shutil.which("node") is not None and (CRD_MODELS / "@kubernetes-models").is_dir()


def render(values: dict[str, Any] | None = None, chart: Path = CHART) -> list[dict[str, Any]]:
    """`helm template` of the chart: every rendered object, in template order."""
    from helm_python import Chart

    manifests = Chart.load(chart).render(
        PRODUCTION_VALUES if values is None else values,
        name="shop",
        namespace="wapang",
        is_install=True,
    )
    objects = []
    for path in sorted(manifests):
        objects += [doc for doc in yaml.safe_load_all(manifests[path]) if doc]
    return objects


def problems(objects: list[dict[str, Any]]) -> list[str]:
    """Every schema violation of `objects`, each prefixed with its kind and name."""
    core = [obj for obj in objects if _group(obj) not in CRD_GROUPS]
    custom = [obj for obj in objects if _group(obj) in CRD_GROUPS]
    found = [f"{_label(obj)}: {reason}" for obj in core if (reason := _core_problem(obj))]
    reasons = _crd_problems(custom) if custom else []
    found += [
        f"{_label(obj)}: {reason}" for obj, reason in zip(custom, reasons, strict=True) if reason
    ]
    return found


def _group(obj: dict[str, Any]) -> str:
    api_version = str(obj.get("apiVersion", ""))
    return api_version.split("/")[0] if "/" in api_version else ""


def _label(obj: dict[str, Any]) -> str:
    return f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')} ({obj.get('apiVersion')})"


def _core_problem(obj: dict[str, Any]) -> str | None:
    import kubernetes_validate

    try:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        path = ".".join(str(part) for part in error.path)
        return f"{path}: {error.message}"
    except kubernetes_validate.SchemaNotFoundError:
        return "no Kubernetes schema for this apiVersion and kind"
    return None


def _crd_problems(objects: list[dict[str, Any]]) -> list[str | None]:
    result = subprocess.run(
        ["node", str(CRD_VALIDATOR), str(CRD_MODELS)],
        input=json.dumps(objects),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    reasons: list[str | None] = json.loads(result.stdout)
    return reasons
