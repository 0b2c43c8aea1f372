"""S1-S9 through the real IngestStore on moto, many steps: fast and thorough."""

from __future__ import annotations

import uuid

from hypothesis import HealthCheck, settings
from moto import mock_aws

from liveinsight.aws import dynamodb_client
from liveinsight.settings import Settings
from liveinsight.tables import create_tables
from tests.store_machine import StoreMachine

_mock = mock_aws()


class MotoStoreMachine(StoreMachine):
    def make_store(self):
        client = dynamodb_client(Settings(backend="moto"))
        prefix = f"m{uuid.uuid4().hex[:8]}_"
        create_tables(client, prefix)
        return client, prefix


MotoStoreMachine.TestCase.settings = settings(
    max_examples=20,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


class TestStoreAgainstReferenceOnMoto(MotoStoreMachine.TestCase):
    def setUp(self) -> None:
        _mock.start()

    def tearDown(self) -> None:
        _mock.stop()
