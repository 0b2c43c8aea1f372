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


# The hot write path skips botocore's client-side parameter validation (measured about +20%
# on bulk writes); the requests are built by this code, and DynamoDB validates them anyway.
FAST_CONFIG = CLIENT_CONFIG.merge(Config(parameter_validation=False))


def dynamodb_client(settings: Settings, *, config: Config | None = None) -> Any:
    return _client("dynamodb", settings, config)


def streams_client(settings: Settings) -> Any:
    """The ``dynamodbstreams`` client for the Events log's stream."""
    return _client("dynamodbstreams", settings, None)


def _client(service: str, settings: Settings, config: Config | None) -> Any:
    kwargs: dict[str, Any] = {"region_name": settings.region, "config": config or CLIENT_CONFIG}
    if settings.endpoint_url:
        kwargs["endpoint_url"] = settings.endpoint_url
    if settings.uses_local_credentials:
        kwargs["aws_access_key_id"] = LOCAL_ACCESS_KEY
        kwargs["aws_secret_access_key"] = LOCAL_SECRET_KEY
    # A private session: boto3's default session is not thread-safe to create clients from.
    return boto3.session.Session().client(service, **kwargs)  # type: ignore[call-overload]
