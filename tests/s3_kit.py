"""An S3 service for tests: moto's server on a free loopback port, buckets made with boto3,
and the settings that point a node at one bucket."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import boto3
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

from tests.kit import free_port

REGION = "eu-central-1"
KEYS = {"aws_access_key_id": "flurfunk-test", "aws_secret_access_key": "flurfunk-secret"}


@contextlib.contextmanager
def moto_server(*buckets: str) -> Iterator[str]:
    """Run moto's S3 server on 127.0.0.1 with `buckets`; yields its endpoint URL."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for bucket in buckets:
            bucket_client(endpoint).create_bucket(
                Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION}
            )
        yield endpoint
    finally:
        server.stop()


def bucket_client(endpoint: str) -> Any:
    """boto3 itself, to look into a bucket past the node."""
    return boto3.client("s3", endpoint_url=endpoint, region_name=REGION, **KEYS)


def s3_env(endpoint: str, bucket: str) -> dict[str, str]:
    return {
        "FLURFUNK_MEDIA_S3_ENDPOINT": endpoint,
        "FLURFUNK_MEDIA_S3_BUCKET": bucket,
        "FLURFUNK_MEDIA_S3_REGION": REGION,
        "FLURFUNK_MEDIA_S3_ACCESS_KEY": KEYS["aws_access_key_id"],
        "FLURFUNK_MEDIA_S3_SECRET_KEY": KEYS["aws_secret_access_key"],
    }


def stored(client: Any, bucket: str, key: str) -> bytes | None:
    """The object's bytes, or None when there is none."""
    try:
        return bytes(client.get_object(Bucket=bucket, Key=key)["Body"].read())
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("NoSuchKey", "404"):
            return None
        raise


def names(client: Any, bucket: str, prefix: str = "") -> list[str]:
    found = client.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return [str(item["Key"]) for item in found]
