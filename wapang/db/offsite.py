"""The off-host copy of each backup: S3 or any S3-compatible storage (BACKUP_S3_*), with boto3.

Retention there is the bucket's own lifecycle rule (DEPLOY.md): a host's credentials only need
to put objects, never to delete them, so a compromised host cannot erase its off-host copies.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import boto3
from boto3.exceptions import Boto3Error
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from wapang.config import Settings
from wapang.db.backup import BackupError, sha256_of

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def s3_client(settings: Settings) -> S3Client:
    secret = settings.BACKUP_S3_SECRET_ACCESS_KEY
    return boto3.client(
        "s3",
        endpoint_url=settings.BACKUP_S3_ENDPOINT,
        region_name=settings.BACKUP_S3_REGION,
        aws_access_key_id=settings.BACKUP_S3_ACCESS_KEY_ID,
        aws_secret_access_key=secret.get_secret_value() if secret else None,
        config=Config(retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=10),
    )


def object_key(settings: Settings, path: Path) -> str:
    return f"{settings.BACKUP_S3_PREFIX}{path.name}"


def upload(settings: Settings, paths: list[Path]) -> list[str]:
    """Put each file into the bucket (its sha256 in the object's metadata); returns the keys."""
    assert settings.BACKUP_S3_BUCKET is not None
    client, bucket = s3_client(settings), settings.BACKUP_S3_BUCKET
    keys = []
    for path in paths:
        key = object_key(settings, path)
        try:
            client.upload_file(
                str(path), bucket, key, ExtraArgs={"Metadata": {"sha256": sha256_of(path)}}
            )
        except (Boto3Error, BotoCoreError, ClientError) as error:
            raise BackupError(
                f"the off-host copy to s3://{bucket}/{key} failed: {error} (the local backup "
                f"{path.name} is complete; check BACKUP_S3_* and the bucket's permissions)"
            ) from None
        keys.append(key)
    return keys


def download(settings: Settings, key: str, target: Path) -> Path:
    """Fetch one off-host object (a restore from another host's copy)."""
    assert settings.BACKUP_S3_BUCKET is not None
    try:
        s3_client(settings).download_file(settings.BACKUP_S3_BUCKET, key, str(target))
    except (Boto3Error, BotoCoreError, ClientError) as error:
        raise BackupError(f"cannot fetch s3://{settings.BACKUP_S3_BUCKET}/{key}: {error}") from None
    target.chmod(0o600)
    return target
