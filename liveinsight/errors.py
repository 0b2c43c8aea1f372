"""Every error LiveInsight raises on purpose, each with the HTTP status it maps to.

    LiveInsightError                 (500: never expected to reach a client)
    ├── ConfigError                  bad settings or CLI arguments
    ├── RuntimeStartError            DynamoDB Local / moto could not be started
    ├── RequestError                 the client's fault, answered 4xx
    │   ├── ValidationFailed         400 validation_error, with per-field details
    │   │   └── BadEncoding          a proxy event's body that cannot be decoded
    │   ├── BadQueryParameter        400 bad_parameter
    │   ├── PayloadTooLarge          413 payload_too_large
    │   ├── UnsupportedMediaType     415 unsupported_media_type
    │   ├── MethodNotAllowed         405 method_not_allowed
    │   ├── NotFound                 404 not_found
    │   └── Unauthorized             401 unauthorized
    └── BackendUnavailable           503 backend_unavailable (+ Retry-After)

``liveinsight.proxy.error_response`` is the one place that turns them into HTTP answers.
"""

from __future__ import annotations

from typing import Any


class LiveInsightError(Exception):
    status = 500
    code = "internal_error"

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message

    def body(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.message}


class ConfigError(LiveInsightError):
    code = "config_error"


class RuntimeStartError(LiveInsightError):
    code = "runtime_start_error"


class RequestError(LiveInsightError):
    status = 400
    code = "bad_request"


class ValidationFailed(RequestError):
    status = 400
    code = "validation_error"

    def __init__(self, message: str, details: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.details = details

    def body(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.message, "details": self.details}


class BadQueryParameter(RequestError):
    code = "bad_parameter"


class PayloadTooLarge(RequestError):
    status = 413
    code = "payload_too_large"


class BadEncoding(ValidationFailed):
    """A proxy event whose body cannot be decoded (bad base64, not text): the body's fault."""

    def __init__(self, message: str) -> None:
        super().__init__(message, [{"index": None, "field": "body", "problem": message}])


class UnsupportedMediaType(RequestError):
    status = 415
    code = "unsupported_media_type"


class MethodNotAllowed(RequestError):
    """405; ``allow`` is what the route accepts, for the ``Allow`` header (RFC 9110)."""

    status = 405
    code = "method_not_allowed"

    def __init__(self, message: str, allow: tuple[str, ...]) -> None:
        super().__init__(message)
        self.allow = allow


class NotFound(RequestError):
    status = 404
    code = "not_found"


class Unauthorized(RequestError):
    status = 401
    code = "unauthorized"


class BackendUnavailable(LiveInsightError):
    status = 503
    code = "backend_unavailable"
    retry_after_s = 2
