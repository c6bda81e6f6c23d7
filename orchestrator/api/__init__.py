"""The orchestrator's HTTP API: ``create_app(settings, conn)`` builds the aiohttp app."""

from orchestrator.api.app import create_app

__all__ = ["create_app"]
