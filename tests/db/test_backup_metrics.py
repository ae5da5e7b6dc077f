"""The backup service's exporter: `wapang db backup --repeat --metrics-port` as compose runs it,
a real SQLite database, real backups; the metric BackupTooOld reads is scraped over HTTP."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from harness.apps import WAPANG, clean_env
from harness.processes import Service, free_port
from wapang.db.backup import manifests
from wapang.db.backup_metrics import LAST_SUCCESS

LOOPBACK = "127.0.0.1"


def scrape(port: int) -> float | None:
    try:
        text = httpx.get(f"http://{LOOPBACK}:{port}/metrics", timeout=2).text
    except httpx.TransportError:
        return None
    values = [
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == LAST_SUCCESS
    ]
    assert len(values) == 1, text
    return values[0]


def scrape_until(port: int, predicate: Callable[[float], bool], timeout: float = 30) -> float:
    deadline = time.monotonic() + timeout
    while True:
        value = scrape(port)
        if value is not None and predicate(value):
            return value
        assert time.monotonic() < deadline, f"{LAST_SUCCESS} stayed {value}"
        time.sleep(0.2)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    env = clean_env(
        DB_DIALECT="sqlite",
        DB_DATABASE=str(tmp_path / "shop.sqlite"),
        BACKUP_DIR=str(tmp_path / "backups"),
        BACKUP_INTERVAL_HOURS="24",
    )
    subprocess.run([WAPANG, "db", "upgrade"], env=env, check=True, capture_output=True)
    return env


@pytest.fixture
def service(env: dict[str, str], tmp_path: Path) -> Iterator[tuple[Service, int]]:
    port = free_port()
    command = [WAPANG, "db", "backup", "--repeat", "--metrics-port", str(port)]
    service = Service.start("backup", command, tmp_path / "backup.log", env=env)
    yield service, port
    service.stop()


def newest_manifest_time(directory: Path) -> float:
    return manifests(directory)[-1][1].created.timestamp()


def test_the_service_exports_the_newest_backups_time_read_at_each_scrape(
    env: dict[str, str], service: tuple[Service, int], tmp_path: Path
) -> None:
    _, port = service
    backups = tmp_path / "backups"
    # An empty volume: the service backs up at once, and the metric is that backup's time.
    first = scrape_until(port, lambda v: v > 0)
    assert first == newest_manifest_time(backups)
    assert abs(time.time() - first) < 60
    # A backup taken by hand beside the service (as deploy.sh does before a migration) counts
    # at the next scrape: the service is not due for 24 h and takes none itself.
    time.sleep(1.1)  # backups are named and timed to the second
    subprocess.run([WAPANG, "db", "backup"], env=env, check=True, capture_output=True)
    second = scrape_until(port, lambda v: v > first)
    assert second == newest_manifest_time(backups)
    # Its data file lost (retention kept only the newest of the day): no good backup is left.
    (backups / manifests(backups)[-1][1].file).unlink()
    assert scrape_until(port, lambda v: v < second) == 0


def test_no_backup_at_all_reads_as_zero_so_the_alert_fires(tmp_path: Path) -> None:
    from wapang.db.backup_metrics import newest_good_backup_time

    assert newest_good_backup_time(tmp_path / "never-created") == 0.0
    (tmp_path / "wapang-20261205T030000Z.json").write_text("not a manifest")
    assert newest_good_backup_time(tmp_path) == 0.0


def test_metrics_port_needs_repeat(env: dict[str, str]) -> None:
    refused = subprocess.run(
        [WAPANG, "db", "backup", "--metrics-port", "1"], env=env, capture_output=True, text=True
    )
    assert refused.returncode != 0
    assert "--metrics-port needs --repeat" in refused.stdout + refused.stderr
