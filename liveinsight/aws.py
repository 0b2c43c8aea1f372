"""boto3 client construction: the one place that knows endpoints, credentials and retries."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from liveinsight.settings import LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY, Settings

# Standard retry mode backs off on throttling and transient errors; transaction conflicts are
# retried by the store itself, which must re-read before trying again.
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 4},
    connect_timeout=2,
    read_timeout=10,
    max_pool_connections=64,
)


def dynamodb_client(settings: Settings, *, config: Config | None = None) -> Any:
    kwargs: dict[str, Any] = {"region_name": settings.region, "config": config or CLIENT_CONFIG}
    if settings.endpoint_url:
        kwargs["endpoint_url"] = settings.endpoint_url
    if settings.uses_local_credentials:
        kwargs["aws_access_key_id"] = LOCAL_ACCESS_KEY
        kwargs["aws_secret_access_key"] = LOCAL_SECRET_KEY
    # A private session: boto3's default session is not thread-safe to create clients from.
    return boto3.session.Session().client("dynamodb", **kwargs)
