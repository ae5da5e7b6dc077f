"""The off-host copy of a backup, against a real S3-compatible HTTP server on loopback (moto's
standalone server: Debian's rclone is built without `serve s3`): the objects land in the bucket
byte for byte, and a wrong secret fails the command with the reason, never the secret."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from harness.processes import LOOPBACK, Service, free_port, wait_for_port
from tests.databases import sqlite_settings
from tests.requirements import require_available
from wapang.config import ConfigError, Settings
from wapang.db.backup import BackupError, backup
from wapang.db.migrate import upgrade

MOTO_SERVER = Path(sys.executable).with_name("moto_server")
KEY_ID, SECRET = "wapang-test-key", "wapang-test-secret-0123456789"
BUCKET = "wapang-backups"


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    require_available(MOTO_SERVER.exists(), "moto's S3 server (moto[server], dev group)")
    port = free_port()
    log = tmp_path_factory.mktemp("s3") / "moto.log"
    server = Service.start("moto_server", [str(MOTO_SERVER), "-H", LOOPBACK, "-p", str(port)], log)
    try:
        wait_for_port(port, server.process, "moto_server", timeout=30)
        endpoint = f"http://{LOOPBACK}:{port}"
        bucket_owner = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id=KEY_ID,
            aws_secret_access_key=SECRET,
        )
        bucket_owner.create_bucket(Bucket=BUCKET)
        yield endpoint
    finally:
        server.stop()


def offsite_settings(tmp_path: Path, endpoint: str, **more: object) -> Settings:
    settings = sqlite_settings(
        tmp_path,
        BACKUP_DIR=str(tmp_path / "backups"),
        BACKUP_S3_ENDPOINT=endpoint,
        BACKUP_S3_BUCKET=BUCKET,
        BACKUP_S3_PREFIX="host-a/",
        BACKUP_S3_ACCESS_KEY_ID=KEY_ID,
        BACKUP_S3_SECRET_ACCESS_KEY=SECRET,
        **more,
    )
    upgrade(settings)
    return settings


def test_each_backup_is_copied_off_host_byte_for_byte(tmp_path: Path, s3_endpoint: str) -> None:
    settings = offsite_settings(tmp_path, s3_endpoint)
    taken = backup(settings, "sha-offsite")
    assert taken.uploaded == [f"host-a/{taken.data.name}", f"host-a/{taken.manifest_path.name}"]
    reader = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
    )
    for key, local in zip(taken.uploaded, (taken.data, taken.manifest_path), strict=True):
        stored = reader.get_object(Bucket=BUCKET, Key=key)
        body = stored["Body"].read()
        assert body == local.read_bytes()
        assert stored["Metadata"]["sha256"] == hashlib.sha256(body).hexdigest()
    assert hashlib.sha256(taken.data.read_bytes()).hexdigest() == taken.manifest.sha256


def test_a_refused_upload_names_the_bucket_and_keeps_the_local_backup(
    tmp_path: Path, s3_endpoint: str
) -> None:
    settings = offsite_settings(tmp_path, s3_endpoint).model_copy(
        update={"BACKUP_S3_BUCKET": "no-such-bucket"}
    )
    with pytest.raises(BackupError) as failed:
        backup(settings)
    message = str(failed.value)
    assert "s3://no-such-bucket/host-a/" in message
    assert "NoSuchBucket" in message
    assert SECRET not in message
    assert len(list((tmp_path / "backups").glob("*.sqlite.gz"))) == 1, "the local copy stays"


def test_half_the_credentials_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="BACKUP_S3_ACCESS_KEY_ID and BACKUP_S3_SECRET_ACCESS"):
        sqlite_settings(tmp_path, BACKUP_S3_BUCKET=BUCKET, BACKUP_S3_ACCESS_KEY_ID=KEY_ID)
