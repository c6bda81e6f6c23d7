"""Fixtures of the Workflows/Designer tests: the API fixtures of ``tests/api`` (a real
API on the test Redis, one key per role), a real worker serving ``examples/handlers.py``,
and apps built by the one factory, signed in as a role."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from textual import events
from textual.app import App
from textual.keys import _character_to_key
from textual.pilot import Pilot

from app.app import DagqApp
from app.factory import create_app
from orchestrator.client import DagqClient
from orchestrator.worker.registry import Registry
from orchestrator.worker.worker import Worker
from tests.api import conftest as api_fixtures

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

# The API tests' fixtures, bound here so every test of this folder can ask for them.
policies = api_fixtures.policies
role_keys = api_fixtures.role_keys
settings = api_fixtures.settings
make_api = api_fixtures.make_api
api = api_fixtures.api


@dataclass
class Tui:
    """A running API and how to build apps and clients against it."""

    api: api_fixtures.Api

    def client(self, role: str = "admin") -> DagqClient:
        """A client signed in as ``role`` (designer, operator, admin)."""
        return DagqClient(self.api.base_url, api_key=self.api.keys[role])

    def app(self, role: str = "admin", **kwargs: Any) -> DagqApp:
        """The app, built by the factory, signed in as ``role``."""
        return create_app(client=self.client(role), settings=self.api.settings, **kwargs)


@pytest.fixture
async def tui(api: api_fixtures.Api) -> Tui:
    """The API with generous limits, and apps against it."""
    return Tui(api)


@pytest.fixture
async def worker(api: api_fixtures.Api) -> AsyncIterator[Worker]:
    """A real worker offering the example handlers, for as long as the test runs."""
    registry = Registry()
    registry.load(str(EXAMPLES / "handlers.py"))
    stop = asyncio.Event()
    w = Worker(api.conn.redis, api.conn.keys, api.settings, registry, concurrency=4)
    task = asyncio.create_task(w.run(stop))
    yield w
    stop.set()
    await task


async def wait_for(
    pilot: Pilot[Any], condition: Callable[[], bool], *, timeout_s: float = 15.0, what: str = ""
) -> None:
    """Let the app run until ``condition()`` holds (a deadline, not a timed assertion)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        await pilot.pause(0.02)


async def type_text(pilot: Pilot[Any], text: str) -> None:
    """Type ``text`` into the focused widget: one real key event per character, as
    ``pilot.press`` sends them, but waiting for the app once at the end rather than after
    every key (the keys stay in order; only use it where no key moves the focus)."""
    driver = pilot.app._driver
    assert driver is not None
    for char in text:
        key = char if char.isalnum() else _character_to_key(char)
        event = events.Key(key, char)
        event.set_sender(pilot.app)
        driver.send_message(event)
    await pilot.pause()


def notifications(app: App[Any]) -> list[str]:
    """``title: message`` of every notification shown so far."""
    return [f"{n.title}: {n.message}" if n.title else n.message for n in app._notifications]
