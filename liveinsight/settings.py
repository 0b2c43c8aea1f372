"""Settings, read once by an entrypoint (CLI, Lambda module) and passed down.

Every field has a ``LIVEINSIGHT_*`` environment variable; CLI flags override it via
``dataclasses.replace``. Nothing below the entrypoints reads the environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from liveinsight.errors import ConfigError

DEFAULT_REGION = "us-east-1"
DEFAULT_SESSION_TIMEOUT_S = 1800
DEFAULT_ACTIVE_CACHE_S = 30
DEFAULT_DB_PORT = 8000
DEFAULT_HTTP_PORT = 8080
DEFAULT_HOST = "127.0.0.1"
DEFAULT_ROLLUP_SHARDS = 4
# Dummy credentials for local endpoints: DynamoDB Local wants letters and digits only.
LOCAL_ACCESS_KEY = "liveinsightlocal"
LOCAL_SECRET_KEY = "liveinsightlocal"

BACKENDS = ("dynamodb-local", "moto", "endpoint", "aws")


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything configurable. Times in seconds unless the name says ``_ms``."""

    backend: str = "dynamodb-local"
    endpoint_url: str | None = None
    region: str = DEFAULT_REGION
    table_prefix: str = ""
    session_timeout_s: int = DEFAULT_SESSION_TIMEOUT_S
    active_cache_s: float = DEFAULT_ACTIVE_CACHE_S
    # Write shards of the funnel index's partitions (Sessions ``start_hour``); the rollup
    # items themselves are per stream shard (``rollup_items``). The name is kept for the
    # LIVEINSIGHT_ROLLUP_SHARDS variable.
    rollup_shards: int = DEFAULT_ROLLUP_SHARDS
    timezone: str = "UTC"
    raw_ip: bool = False
    cors_origins: tuple[str, ...] = ("*",)
    api_token: str | None = None
    host: str = DEFAULT_HOST
    port: int = DEFAULT_HTTP_PORT
    db_port: int = DEFAULT_DB_PORT
    db_path: str | None = None
    workers: int = 1
    max_write_attempts: int = 40

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ConfigError(
                f"unknown backend {self.backend!r}; choose one of {', '.join(BACKENDS)}"
            )
        if self.session_timeout_s <= 0:
            raise ConfigError("session timeout must be a positive number of seconds")
        if self.active_cache_s < 0:
            raise ConfigError("active-sessions cache must be >= 0 seconds (0 turns it off)")
        if not 1 <= self.rollup_shards <= 64:
            raise ConfigError("rollup shards must be between 1 and 64")
        if self.workers < 1:
            raise ConfigError("workers must be >= 1")

    @property
    def session_timeout_ms(self) -> int:
        return self.session_timeout_s * 1000

    @property
    def uses_local_credentials(self) -> bool:
        return self.backend != "aws"

    @property
    def confirms_transactions(self) -> bool:
        """Read a transaction's item back before answering (``dynamo.Dynamo.transact``):
        DynamoDB Local acknowledges a transaction before committing it. AWS commits first."""
        return self.backend != "aws"

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with the given fields changed; ``None`` values are ignored (unset flags)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        kwargs: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(f"LIVEINSIGHT_{f.name.upper()}")
            if raw is None or raw == "":
                continue
            kwargs[f.name] = _parse(f.name, str(f.type), raw)
        return cls(**kwargs)


def check_endpoint(endpoint: str) -> str:
    """``endpoint`` as given when it names DynamoDB: a URL, or ``aws``; ValueError else."""
    if endpoint.lower() == "aws" or endpoint.startswith(("http://", "https://")):
        return endpoint
    raise ValueError(
        f"expected a DynamoDB URL such as http://127.0.0.1:8000, or 'aws'; got {endpoint!r}"
    )


def pointed_at(settings: Settings, endpoint: str | None, prefix: str | None = None) -> Settings:
    """The one way a ``--endpoint`` becomes Settings: a URL (DynamoDB Local or any endpoint),
    ``aws``, or nothing, which means the configured endpoint, else the local DynamoDB port."""
    if endpoint is None or endpoint == "":
        if not settings.endpoint_url and settings.backend != "aws":
            settings = replace(settings, endpoint_url=f"http://127.0.0.1:{settings.db_port}")
    else:
        try:
            check_endpoint(endpoint)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        if endpoint.lower() == "aws":
            settings = replace(settings, backend="aws", endpoint_url=None)
        else:
            settings = replace(settings, backend="endpoint", endpoint_url=endpoint)
    return settings.with_overrides(table_prefix=prefix)


def _parse(name: str, type_name: str, raw: str) -> Any:
    try:
        if "tuple" in type_name:
            return tuple(part.strip() for part in raw.split(",") if part.strip())
        if type_name.startswith("bool"):
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if type_name.startswith("int"):
            return int(raw)
        if type_name.startswith("float"):
            return float(raw)
        return raw
    except ValueError:
        raise ConfigError(
            f"LIVEINSIGHT_{name.upper()}={raw!r} is not a valid {type_name}"
        ) from None
