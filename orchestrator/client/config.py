"""Which API a client talks to: explicit values, the environment, or the local stack."""

from __future__ import annotations

import os
from pathlib import Path

import orjson

from orchestrator.client.http import DagqClient
from orchestrator.errors import ConfigError
from orchestrator.settings import Settings

LOCAL_CONFIG = "local.json"


def local_config(settings: Settings) -> tuple[str, str] | None:
    """``(api_url, api_key)`` of the local stack ``dagq up`` started, from
    ``<data dir>/local.json``; None when there is none.  ConfigError if it is unreadable."""
    path = Path(settings.data_dir) / LOCAL_CONFIG
    try:
        data = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, orjson.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    url, key = (data.get("api_url"), data.get("api_key")) if isinstance(data, dict) else (0, 0)
    if not isinstance(url, str) or not isinstance(key, str) or not url or not key:
        raise ConfigError(f"{path} must hold {{'api_url': ..., 'api_key': ...}}")
    return url, key


def client_for(
    settings: Settings,
    *,
    api_url: str | None = None,
    api_key: str | None = None,
    token: str | None = None,
    timeout_s: float = 30.0,
) -> DagqClient:
    """A client from explicit values, else ``DAGQ_API_URL`` with ``DAGQ_API_TOKEN`` or
    ``DAGQ_API_KEY`` (what the web server hands its app processes), else the local stack."""
    url = api_url or os.environ.get("DAGQ_API_URL")
    key = api_key or os.environ.get("DAGQ_API_KEY")
    bearer = token or os.environ.get("DAGQ_API_TOKEN")
    if url is None or (key is None and bearer is None):
        local = local_config(settings)
        if local is None:
            raise ConfigError(
                "no dagq API configured: pass --api URL and --key KEY, set DAGQ_API_URL and "
                "DAGQ_API_KEY, or start a local stack with `dagq up`"
            )
        url = url or local[0]
        if key is None and bearer is None:
            key = local[1]
    return DagqClient(url, api_key=key, token=bearer, timeout_s=timeout_s)
