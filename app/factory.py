"""The one way to build the app: ``dagq tui``, ``python -m app`` (the web front end) and
the tests all call :func:`create_app`."""

from __future__ import annotations

from app.app import DagqApp
from app.session import Session
from orchestrator.client import DagqClient, client_for
from orchestrator.settings import Settings, load_settings


def create_app(
    *,
    client: DagqClient | None = None,
    settings: Settings | None = None,
    api_url: str | None = None,
    api_key: str | None = None,
    token: str | None = None,
    user: str | None = None,
    role: str | None = None,
    start_mode: str = "workflows",
) -> DagqApp:
    """A :class:`DagqApp` talking to one API.

    ``client`` wins; else one is made from ``api_url`` with ``api_key`` or ``token``,
    else from ``DAGQ_API_URL``/``DAGQ_API_KEY``/``DAGQ_API_TOKEN``, else from the local
    stack's ``local.json`` (ConfigError when there is none).  ``user`` and ``role`` are
    shown until the API's ``/whoami`` answers with the real ones.
    """
    settings = settings or load_settings()
    if client is None:
        client = client_for(settings, api_url=api_url, api_key=api_key, token=token)
    return DagqApp(Session(client, settings, user=user, role=role), start_mode=start_mode)
