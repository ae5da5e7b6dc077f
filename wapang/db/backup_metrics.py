"""The backup service's Prometheus exporter (`wapang db backup --repeat --metrics-port`).

It lives in the backup service because that is the one container holding the backups volume:
the app never mounts it (it has no business reading whole-database dumps), and on an RDS host,
where there is no backup service, there is nothing to report either. The newest backup is read
from BACKUP_DIR at each scrape, not remembered by the loop, so a backup taken by hand
(`docker compose run --rm backup wapang db backup`, or before a migration by deploy.sh) counts
as soon as its manifest is written, and a restarted service reports the old one at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from wapang.db.backup import manifests

LAST_SUCCESS = "wapang_backup_last_success_timestamp_seconds"


def newest_good_backup_time(directory: Path) -> float:
    """When the newest complete backup was taken, as a Unix time; 0 when there is none.

    Complete: its manifest is written last (backup.py), and its data file is still there.
    0 rather than no sample, so "no backup at all" fires BackupTooOld instead of silencing it."""
    for _, manifest in reversed(manifests(directory) if directory.is_dir() else []):
        if (directory / manifest.file).is_file():
            return manifest.created.timestamp()
    return 0.0


class BackupCollector(Collector):
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily(
            LAST_SUCCESS,
            "When the newest complete backup in BACKUP_DIR was taken, as a Unix time (0: none).",
            value=newest_good_backup_time(self.directory),
        )


def serve_backup_metrics(directory: Path, port: int) -> None:
    """The exporter in a daemon thread, on every interface (the compose network only: no port
    is published)."""
    registry = CollectorRegistry()
    registry.register(BackupCollector(directory))
    start_http_server(port, registry=registry)
