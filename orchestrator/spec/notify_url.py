"""What a workflow's ``notify.url`` may be: ``http``/``https`` to a host, no credentials.

The save-time half of dagq's guard against server-side request forgery through notify
hooks; the delivery-time half (which addresses may be connected to) is
:mod:`orchestrator.service.notify_guard`.
"""

from __future__ import annotations

from urllib.parse import urlsplit

SCHEMES = ("http", "https")


def notify_url_problem(url: str) -> str | None:
    """Why ``url`` cannot be a notify URL, or ``None`` when it can."""
    if any(c.isspace() for c in url):
        return "the notify URL must not contain spaces"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"the notify URL is malformed ({exc})"
    if parts.scheme.lower() not in SCHEMES:
        shown = f"'{parts.scheme}'" if parts.scheme else "none"
        return f"the notify URL must use http or https (the scheme is {shown})"
    if parts.username is not None or parts.password is not None:
        return (
            "the notify URL must not carry credentials (user:password@); "
            "receivers verify the X-Dagq-Signature header instead"
        )
    if not parts.hostname:
        return "the notify URL has no host"
    if port == 0:
        return "the notify URL's port must be 1-65535"
    return None
