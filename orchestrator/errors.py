"""One error hierarchy for dagq.

The validator, the engine, the HTTP API, the client and the TUI all speak in these
errors.  Each carries a stable ``code`` (machine readable), a ``message`` a person
understands, an optional ``node_id`` and free-form ``details``; the API maps
``http_status`` straight onto its JSON error body ``{"error", "message", "details"}``.
"""

from __future__ import annotations

from typing import Any


class DagqError(Exception):
    """Base class of every error dagq raises on purpose."""

    code: str = "ERROR"
    http_status: int = 500

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        node_id: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.node_id = node_id
        self.details: dict[str, Any] = dict(details or {})

    def to_dict(self) -> dict[str, Any]:
        """The JSON error body used by the API: ``{"error", "message", "details"}``."""
        details = dict(self.details)
        if self.node_id is not None:
            details.setdefault("nodeId", self.node_id)
        return {"error": self.code, "message": self.message, "details": details}

    def __str__(self) -> str:
        return self.message


class BadRequest(DagqError):
    """The request or input could not be understood (malformed JSON, bad query)."""

    code = "BAD_REQUEST"
    http_status = 400


class SpecInvalid(DagqError):
    """A workflow specification failed validation; ``details["errors"]`` lists why."""

    code = "SPEC_INVALID"
    http_status = 422


class ParameterError(DagqError):
    """Run parameters do not match the workflow's declared parameters."""

    code = "BAD_PARAMETERS"
    http_status = 400


class Unauthorized(DagqError):
    """No identity, or an identity that does not check out (wrong key, expired token)."""

    code = "UNAUTHORIZED"
    http_status = 401


class Forbidden(DagqError):
    """The caller is known but its role does not grant the permission."""

    code = "FORBIDDEN"
    http_status = 403


class NotFound(DagqError):
    """The workflow, version, run or node does not exist."""

    code = "NOT_FOUND"
    http_status = 404


class Conflict(DagqError):
    """The request conflicts with the current state (exists already, run finished...)."""

    code = "CONFLICT"
    http_status = 409


class PayloadTooLarge(DagqError):
    """The request body is over the configured size limit."""

    code = "PAYLOAD_TOO_LARGE"
    http_status = 413


class LimitExceeded(DagqError):
    """A configured resource limit would be exceeded (concurrent runs, nodes, retries)."""

    code = "LIMIT_EXCEEDED"
    http_status = 429


class QueueFull(LimitExceeded):
    """The queues are as deep as ``max_queued_nodes`` allows: retry after a while."""

    code = "QUEUE_FULL"

    def __init__(self, message: str, *, retry_after_s: int, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after_s = retry_after_s
        self.details.setdefault("retryAfter", retry_after_s)


class RateLimited(DagqError):
    """The caller sent more requests than its rate limit allows."""

    code = "RATE_LIMITED"
    http_status = 429

    def __init__(self, message: str, *, retry_after_s: int, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after_s = retry_after_s
        self.details.setdefault("retryAfter", retry_after_s)


class Unavailable(DagqError):
    """A backing service (Redis, the API) cannot be reached right now."""

    code = "UNAVAILABLE"
    http_status = 503


class ConfigError(DagqError):
    """The configuration file or environment is invalid."""

    code = "CONFIG"
    http_status = 500
