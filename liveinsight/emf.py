"""CloudWatch Embedded Metric Format from every function: one EMF document per request (ingest,
query) or per stream batch (views), through Powertools' ``EphemeralMetrics``.

On Lambda the documents go to stdout, where CloudWatch turns them into metrics; under
``liveinsight up`` to the ``liveinsight.metrics`` logger, which ``up --metrics`` prints, and
into a ``Tally`` whose running sums ``/health`` serves as the gateway's own counters. A
metric that cannot be emitted never fails the request it measures.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Callable

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from liveinsight.logs import METRICS_LOGGER

NAMESPACE = "LiveInsight"
Emit = Callable[[str], None]
Count, Milliseconds = MetricUnit.Count, MetricUnit.Milliseconds

log = logging.getLogger(__name__)


def print_line(line: str) -> None:
    """Lambda's way: one line on stdout (what the ``lambda_handler`` entrypoints use)."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def log_line(line: str) -> None:
    """Every other way (a handler built in a local process: the gateway, the stream poller,
    an in-process simulator target, bench): the ``liveinsight.metrics`` logger, silent unless
    ``up --metrics`` gives it a handler. Never stdout, where a command's own output goes."""
    logging.getLogger(METRICS_LOGGER).info(line)


def metric_set(service: str) -> EphemeralMetrics:
    """An empty set of metrics for one request or batch of ``service``."""
    return EphemeralMetrics(namespace=NAMESPACE, service=service)


def emit(metrics: EphemeralMetrics, to: Emit) -> None:
    """Send the set as one EMF document; a failure is logged at debug level only."""
    try:
        to(json.dumps(metrics.serialize_metric_set(), separators=(",", ":")))
    except Exception:  # metrics must never fail a request
        log.debug("metrics not emitted", exc_info=True)


class Tally:
    """Running sums of the metrics in the EMF documents one process emitted (``record`` is an
    ``Emit``), with the time (epoch ms) counting started. What CloudWatch would sum, for a
    server that has no CloudWatch: the local gateway serves it at ``/health``."""

    def __init__(self, since_ms: int) -> None:
        self.since_ms = since_ms
        self._sums: dict[str, float] = {}
        self._lock = threading.Lock()

    def record(self, line: str) -> None:
        document = json.loads(line)
        names = {
            metric["Name"]
            for directive in document["_aws"]["CloudWatchMetrics"]
            for metric in directive["Metrics"]
        }
        added = {}
        for name in names:  # all read before any is added: a bad document adds nothing
            value = document.get(name, 0)
            added[name] = float(sum(value) if isinstance(value, list) else value)
        with self._lock:
            for name, value in added.items():
                self._sums[name] = self._sums.get(name, 0) + value

    def snapshot(self) -> dict[str, float]:
        """Every sum, as of one moment."""
        with self._lock:
            return dict(self._sums)


def tee(*sinks: Emit) -> Emit:
    """One ``Emit`` that hands each document to every sink in turn."""

    def emit_all(line: str) -> None:
        for sink in sinks:
            sink(line)

    return emit_all
