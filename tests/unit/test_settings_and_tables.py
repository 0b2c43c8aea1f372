"""Settings from the environment, table definitions created once and idempotently."""

from __future__ import annotations

import pytest

from liveinsight.aws import dynamodb_client
from liveinsight.errors import ConfigError
from liveinsight.settings import Settings
from liveinsight.tables import TABLE_SPECS, create_tables, describe_tables, drop_tables


def test_settings_are_read_from_liveinsight_variables() -> None:
    settings = Settings.from_env(
        {
            "LIVEINSIGHT_TABLE_PREFIX": "dev_",
            "LIVEINSIGHT_SESSION_TIMEOUT_S": "600",
            "LIVEINSIGHT_RAW_IP": "true",
            "LIVEINSIGHT_CORS_ORIGINS": "https://a.example, https://b.example",
            "LIVEINSIGHT_ACTIVE_CACHE_S": "0",
            "UNRELATED": "x",
        }
    )
    assert settings.table_prefix == "dev_"
    assert settings.session_timeout_ms == 600_000
    assert settings.raw_ip is True
    assert settings.cors_origins == ("https://a.example", "https://b.example")
    assert settings.active_cache_s == 0.0


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"LIVEINSIGHT_SESSION_TIMEOUT_S": "abc"}, "not a valid int"),
        ({"LIVEINSIGHT_SESSION_TIMEOUT_S": "0"}, "positive"),
        ({"LIVEINSIGHT_BACKEND": "sqlite"}, "unknown backend"),
        ({"LIVEINSIGHT_RAW_IP": "maybe"}, "not a valid bool"),
        ({"LIVEINSIGHT_ROLLUP_SHARDS": "0"}, "shards"),
    ],
)
def test_bad_settings_are_a_clear_config_error(env, message) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env)


def test_flags_override_only_what_is_given() -> None:
    settings = Settings(port=1).with_overrides(port=None, host="0.0.0.0")
    assert (settings.port, settings.host) == (1, "0.0.0.0")


def test_tables_are_created_idempotently_with_ttl_and_indexes(moto_settings) -> None:
    client = dynamodb_client(moto_settings)
    assert create_tables(client, "") == []  # the fixture created them already
    created = create_tables(client, "x_")
    assert sorted(created) == sorted(f"x_{spec.name}" for spec in TABLE_SPECS)
    rows = {row["name"]: row for row in describe_tables(client, "x_")}
    assert rows["x_ActiveSessions"]["ttl"] == "expires_at"
    assert rows["x_Events"]["indexes"] == []  # no index: each would bill every event again
    assert set(rows["x_Sessions"]["indexes"]) == {
        "user_id-start_time-index",
        "start_hour-start_time-index",
    }
    assert rows["x_Events"]["key"] == "session_id + event_id"  # one session, one stream shard
    assert sorted(drop_tables(client, "x_")) == sorted(created)
    assert all(row["status"] == "MISSING" for row in describe_tables(client, "x_"))
