"""CloudWatch Embedded Metric Format from every function: one EMF document per request (ingest,
query) or per stream batch (views), through Powertools' ``EphemeralMetrics``.

On Lambda the documents go to stdout, where CloudWatch turns them into metrics; under
``liveinsight up`` to the ``liveinsight.metrics`` logger, which ``up --metrics`` prints. A
metric that cannot be emitted never fails the request it measures.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

NAMESPACE = "LiveInsight"
Emit = Callable[[str], None]
Count, Milliseconds = MetricUnit.Count, MetricUnit.Milliseconds

log = logging.getLogger(__name__)


def print_line(line: str) -> None:
    """Lambda's way: one line on stdout."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def metric_set(service: str) -> EphemeralMetrics:
    """An empty set of metrics for one request or batch of ``service``."""
    return EphemeralMetrics(namespace=NAMESPACE, service=service)


def emit(metrics: EphemeralMetrics, to: Emit) -> None:
    """Send the set as one EMF document; a failure is logged at debug level only."""
    try:
        to(json.dumps(metrics.serialize_metric_set(), separators=(",", ":")))
    except Exception:  # metrics must never fail a request
        log.debug("metrics not emitted", exc_info=True)
