"""The monitoring profile's Prometheus configuration and alert rules (deploy/monitoring/), checked
and unit-tested by the real promtool: each alert fires on the series that mean it, after its
`for`, and stays quiet otherwise."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from harness.processes import LOOPBACK, Service, free_port
from tests.examples import TEST_SECRETS
from tests.requirements import require_available
from tests.servers import wapang_server

MONITORING = Path(__file__).resolve().parents[2] / "deploy" / "monitoring"
EXPECTED_ALERTS = {
    "CertificateExpiresSoon",
    "CertificateRenewalFailed",
    "CertificateManagerDown",
    "HighErrorRatio",
    "NotReady",
    "BackupTooOld",
    "BackupServiceDown",
}


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    require_available(binary is not None, "promtool (Debian's prometheus package)")
    assert binary is not None
    return subprocess.run(
        [binary, *args], cwd=MONITORING, capture_output=True, text=True, timeout=120, check=False
    )


def test_the_rules_and_the_config_pass_promtool_check() -> None:
    rules = promtool("check", "rules", "alerts.yml")
    assert rules.returncode == 0, rules.stdout + rules.stderr
    config = promtool("check", "config", "prometheus.yml")
    assert config.returncode == 0, config.stdout + config.stderr


def test_the_alert_rules_pass_their_unit_tests() -> None:
    tested = promtool("test", "rules", "alerts.test.yml")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


def test_every_alert_is_unit_tested_and_documented() -> None:
    rules = yaml.safe_load((MONITORING / "alerts.yml").read_text())
    alerts = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}
    assert alerts == EXPECTED_ALERTS
    tests = yaml.safe_load((MONITORING / "alerts.test.yml").read_text())
    tested = {
        case["alertname"] for test in tests["tests"] for case in test.get("alert_rule_test", [])
    }
    assert alerts == tested
    guide = (MONITORING.parents[0] / "DEPLOY.md").read_text()
    assert {alert for alert in alerts if f"`{alert}`" not in guide} == set()


def test_a_real_prometheus_scrapes_the_app_with_the_shipped_rules(tmp_path: Path) -> None:
    """The real prometheus binary, with deploy/monitoring's rules and scrape settings (targets on
    loopback instead of compose's service names), scrapes `wapang serve --workers 2`; a series
    comes back through Prometheus's HTTP API, and the rules loaded."""
    binary = shutil.which("prometheus")
    require_available(binary is not None, "prometheus (Debian's prometheus package)")
    assert binary is not None
    with wapang_server(
        tmp_path, "--workers", "2", ENV="test", DB_DATABASE=str(tmp_path / "app.db"),
        **TEST_SECRETS,
    ) as app:  # fmt: skip
        for _ in range(5):
            assert httpx.get(f"{app.base_url}/healthz", timeout=10).status_code == 200
        config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
        config["global"]["scrape_interval"] = "1s"
        config["rule_files"] = [str(MONITORING / "alerts.yml")]
        app_job = next(job for job in config["scrape_configs"] if job["job_name"] == "app")
        del app_job["dns_sd_configs"]
        app_job["static_configs"] = [{"targets": [app.base_url.removeprefix("http://")]}]
        config["scrape_configs"] = [app_job]
        (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
        port = free_port()
        prometheus = Service.start(
            "prometheus",
            [
                binary,
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address={LOOPBACK}:{port}",
            ],
            tmp_path / "prometheus.log",
        )
        try:
            series = query_until_found(
                f"http://{LOOPBACK}:{port}",
                'http_requests_total{job="app",route="/healthz",status="200"}',
            )
            rules = httpx.get(f"http://{LOOPBACK}:{port}/api/v1/rules", timeout=10).json()
        finally:
            prometheus.stop()
    assert float(series["value"][1]) >= 5
    loaded = {rule["name"] for group in rules["data"]["groups"] for rule in group["rules"]}
    assert loaded == EXPECTED_ALERTS


def query_until_found(base_url: str, query: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            answer = httpx.get(f"{base_url}/api/v1/query", params={"query": query}, timeout=5)
            result = answer.json()["data"]["result"]
            if result:
                found: dict[str, Any] = result[0]
                return found
        except (httpx.TransportError, ValueError, KeyError):
            pass
        time.sleep(1)
    raise AssertionError(f"prometheus never returned {query}")
