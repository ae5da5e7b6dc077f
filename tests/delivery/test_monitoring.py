"""The monitoring profile's Prometheus configuration and alert rules (deploy/monitoring/), checked
and unit-tested by the real promtool: each alert fires on the series that mean it, after its
`for`, and stays quiet otherwise."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

from tests.requirements import require

MONITORING = Path(__file__).resolve().parents[2] / "deploy" / "monitoring"
EXPECTED_ALERTS = {
    "CertificateExpiresSoon",
    "CertificateRenewalFailed",
    "CertificateManagerDown",
    "HighErrorRatio",
    "NotReady",
    "BackupTooOld",
}


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    require(binary is not None, "promtool (Debian's prometheus package)")
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
    assert alerts - tested <= {"CertificateManagerDown"}  # `up` of a real scrape: the stack
    guide = (MONITORING.parents[0] / "DEPLOY.md").read_text()
    assert {alert for alert in alerts if f"`{alert}`" not in guide} == set()
