"""schemathesis against the served OpenAPI document: no 5xx, every response fits its schema.

The schema is the one the app serves (generated from the route table); the app runs
in-process on a real socket in a background thread (schemathesis calls are
synchronous) with an admin key, so every operation is reachable.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, settings

from orchestrator.api.app import create_app, runner
from orchestrator.api.openapi import build_document
from orchestrator.api.routes import ROUTES
from orchestrator.security.policy_file import ensure_policies_dir
from orchestrator.security.users import UserStore
from orchestrator.store.connection import connect
from tests.api.conftest import make_settings

schema = schemathesis.openapi.from_dict(build_document(ROUTES))


class ServedApp:
    """The API served on 127.0.0.1 from a thread with its own event loop."""

    def __init__(self, redis_url: str, root: Path) -> None:
        policies = ensure_policies_dir(root / "policies")
        _, self.admin_key = UserStore.in_dir(policies).add("fuzz-admin", "admin")
        self.settings = make_settings(redis_url, f"t{uuid.uuid4().hex[:10]}:", root / "data")
        self.policies = policies
        self.url = ""
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self._loop.run_until_complete(self._serve())
        except BaseException as exc:  # surfaced to the test by start()
            self._error = exc
            self._ready.set()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        conn = await connect(self.settings)
        app = create_app(self.settings, conn, policies_dir=self.policies)
        app_runner = runner(app, access_log=None)
        await app_runner.setup()
        site = web.TCPSite(app_runner, "127.0.0.1", 0)
        await site.start()
        port = app_runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        self._ready.set()
        await self._stop.wait()
        await app_runner.cleanup()
        await conn.aclose()

    def start(self) -> None:
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise self._error

    def close(self) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)


@pytest.fixture(scope="module")
def served(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedApp]:
    app = ServedApp(redis_url, tmp_path_factory.mktemp("fuzz"))
    app.start()
    try:
        yield app
    finally:
        app.close()


def test_served_document_is_the_generated_one(served: ServedApp) -> None:
    served_doc = requests.get(f"{served.url}/api/v1/openapi.json", timeout=10).json()
    assert served_doc == build_document(ROUTES)


@schema.parametrize()
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_api_conforms_to_its_schema(case: schemathesis.Case[Any], served: ServedApp) -> None:
    case.call_and_validate(
        base_url=served.url,
        headers={"X-API-Key": served.admin_key},
        timeout=30,
        # A JSON Schema cannot say "no cycles" or "the handler of this edge exists": a
        # schema-valid spec may rightly be refused with 422 and the validator's codes.
        excluded_checks=[schemathesis.checks.positive_data_acceptance],
    )
