"""What the handlers log: on Lambda, Powertools JSON lines; under ``liveinsight up``, access
lines, the ingest handler's EMF metrics, and errors.

On Lambda (``lambda_entry``): each function's Powertools ``Logger`` (service ``ingest``,
``query``, ``views``) writes JSON lines to stdout, and the core's own module loggers
(``liveinsight.*``) go through it, so every record carries the invocation's correlation id: the
API Gateway request id for ingest and query, the Lambda request id for views.

One ``logging.config`` dictionary, built here from the ``up`` flags and handed to uvicorn (which
applies it in every worker process too):

- ``--access-log``: one line per request (uvicorn's access logger);
- ``--metrics``: each EMF document the ingest Lambda emits (the logger ``liveinsight.metrics``),
  on stdout or appended to ``--metrics FILE``;
- ``--log-format text`` (default) is for people: a time, the request line, and metrics as
  ``name=value`` pairs; ``json`` is for machines: one JSON object per line (Powertools' formatter),
  and the metrics as the EMF documents themselves, which CloudWatch would parse.

A metrics file always gets the EMF documents unchanged, one per line.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

LambdaHandler = Callable[[Any, Any], Any]
REQUEST_ID_PATH = "requestContext.requestId"  # API Gateway REST, HTTP API and Function URLs

LOG_FORMATS = ("text", "json")
METRICS_LOGGER = "liveinsight.metrics"
STDOUT = "-"  # --metrics without a file
TIME = "%H:%M:%S"


class MetricsText(logging.Formatter):
    """An EMF document as one readable line: ``12:00:01 metrics ingest EventsProcessed=20 ...``."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        try:
            document = json.loads(message)
            names = [
                m["Name"]
                for directive in document["_aws"]["CloudWatchMetrics"]
                for m in directive["Metrics"]
            ]
        except (ValueError, KeyError, TypeError):
            return f"{self.formatTime(record, TIME)} metrics {message}"
        pairs = " ".join(f"{name}={_value(document.get(name))}" for name in names)
        return f"{self.formatTime(record, TIME)} metrics {document.get('service', '-')} {pairs}"


class Verbatim(logging.Formatter):
    """The message alone: an EMF document, unchanged."""

    def format(self, record: logging.LogRecord) -> str:
        return record.getMessage()


def _value(value: Any) -> str:
    if isinstance(value, list):  # EMF keeps repeated values of one metric as a list
        return "+".join(_value(v) for v in value)
    if isinstance(value, float):  # counts as integers, times to a tenth of a millisecond
        return f"{value:.0f}" if value.is_integer() else f"{value:.1f}"
    return str(value)


def logging_config(
    *, access_log: bool = False, metrics: str | None = None, log_format: str = "text"
) -> dict[str, Any]:
    """The ``logging.config.dictConfig`` of ``up`` for these flags (pure: no I/O)."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}; got {log_format!r}")
    text = log_format == "text"
    json_formatter = {"()": "aws_lambda_powertools.logging.formatter.LambdaPowertoolsFormatter"}
    formatters: dict[str, Any] = {
        # uvicorn looks these two names up; "default" is its error logger's
        "default": (
            {"()": "uvicorn.logging.DefaultFormatter", "fmt": "%(levelprefix)s %(message)s"}
            if text
            else json_formatter
        ),
        "access": (
            {
                "()": "uvicorn.logging.AccessFormatter",
                "fmt": '%(asctime)s access  %(client_addr)s "%(request_line)s" %(status_code)s',
                "datefmt": TIME,
                "use_colors": False,
            }
            if text
            else json_formatter
        ),
        "metrics": {"()": "liveinsight.logs.MetricsText"}
        if text
        else {"()": "liveinsight.logs.Verbatim"},
        "emf": {"()": "liveinsight.logs.Verbatim"},
    }
    handlers: dict[str, Any] = {
        "default": {
            "formatter": "default",
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stderr",
        },
        "access": {
            "formatter": "access",
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
        },
    }
    loggers: dict[str, Any] = {
        "uvicorn": {"handlers": ["default"], "level": "WARNING", "propagate": False},
        "uvicorn.error": {"level": "WARNING"},
        "uvicorn.access": {
            "handlers": ["access"] if access_log else [],
            "level": "INFO" if access_log else "WARNING",
            "propagate": False,
        },
    }
    if metrics == STDOUT:
        handlers["metrics"] = {
            "formatter": "metrics",
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
        }
    elif metrics:
        handlers["metrics"] = {
            "formatter": "emf",
            "class": "logging.FileHandler",
            "filename": metrics,
            "mode": "a",
            "encoding": "utf-8",
        }
    loggers[METRICS_LOGGER] = {
        "handlers": ["metrics"] if metrics else [],
        "level": "INFO" if metrics else "WARNING",
        "propagate": False,
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": formatters,
        "handlers": handlers,
        "loggers": loggers,
    }


def lambda_entry(
    service: str,
    build: Callable[..., LambdaHandler],
    correlation_id_path: str | None = None,
) -> LambdaHandler:
    """A function's AWS Lambda entry point. At the first invocation (the cold start) it makes
    the Powertools ``Logger``, then the handler: ``build(Settings.from_env(),
    emit_metrics=emf.print_line)``, once per container. Importing a handler module, as
    ``liveinsight up`` does, builds nothing and changes no logging. ``correlation_id_path``:
    where the event holds the id (None: the Lambda request id)."""
    built: list[LambdaHandler] = []

    def invoke(event: Any, context: Any) -> Any:
        if not built:
            from liveinsight import emf
            from liveinsight.settings import Settings

            built.append(build(Settings.from_env(), emit_metrics=emf.print_line))
        return built[0](event, context)

    entry: list[LambdaHandler] = []

    def handler(event: Any, context: Any) -> Any:
        if not entry:
            entry.append(_with_logger(invoke, service, correlation_id_path))
        return entry[0](event, context)

    return handler


def _with_logger(fn: LambdaHandler, service: str, path: str | None) -> LambdaHandler:
    from aws_lambda_powertools import Logger
    from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

    logger = Logger(service=service)
    logging.getLogger("liveinsight")  # registered, so its children's records go through it
    copy_config_to_registered_loggers(source_logger=logger, include={"liveinsight"})

    def invoke(event: Any, context: Any) -> Any:
        if path is None:
            logger.set_correlation_id(getattr(context, "aws_request_id", None))
        return fn(event, context)

    wrapped: LambdaHandler = logger.inject_lambda_context(correlation_id_path=path)(invoke)
    return wrapped
