"""S1-S9 through the real EventLog and Views on moto, many steps: fast and thorough."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import HealthCheck, settings

from liveinsight.aws import dynamodb_client
from liveinsight.settings import Settings
from liveinsight.tables import create_tables
from tests.store_machine import LogMachine


class MotoLogMachine(LogMachine):
    settings_for_run: Settings

    def make_store(self):
        client = dynamodb_client(self.settings_for_run)
        prefix = f"m{uuid.uuid4().hex[:8]}_"
        create_tables(client, prefix)
        return client, prefix


MotoLogMachine.TestCase.settings = settings(
    max_examples=15,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@pytest.fixture
def machine_settings(moto_settings: Settings) -> Settings:
    MotoLogMachine.settings_for_run = moto_settings
    return moto_settings


def test_log_and_views_against_the_reference_on_moto(machine_settings: Settings) -> None:
    MotoLogMachine.TestCase("runTest").runTest()
