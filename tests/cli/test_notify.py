"""A workflow's ``notify`` hook: signed POSTs on approval_requested, retried with backoff,
never holding the run up (a real receiver on a socket, the real API and orchestrator)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.api.conftest import Api
from tests.cli.conftest import Cli
from tests.cli.test_approvals import _decide, _ends, _node_is, _push, _start, approval_spec
from tests.conftest import until

pytestmark = pytest.mark.usefixtures("worker")


@dataclass
class Receiver:
    """Answers 500 to the first ``fail_first`` POSTs, then 200; keeps every request."""

    fail_first: int = 0
    seen: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        self.seen.append((dict(request.headers), await request.read()))
        return web.Response(status=500 if len(self.seen) <= self.fail_first else 200)


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    rec = Receiver(fail_first=2)
    app = web.Application()
    app.router.add_post("/hook", rec.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield rec, str(server.make_url("/hook"))
    await server.close()


async def test_approval_requested_is_posted_signed_and_retried(
    api: Api, cli: Cli, receiver: tuple[Receiver, str]
) -> None:
    rec, url = receiver
    spec = approval_spec("noti")
    spec["notify"] = {"url": url, "on": ["approval_requested"]}
    await _push(api, spec)
    run_id = await _start(api, "noti")
    await _node_is(api, run_id, "ok", "waiting")

    async def delivered() -> bool:
        return len(rec.seen) >= 3

    await until(delivered, "the notification delivered after two failures", timeout_s=60)
    secret = (await cli("hooks", "notify-secret", role="admin")).stdout.strip()
    assert (await cli("hooks", "notify-secret", role="operator")).exit_code == 3
    deliveries = {h["X-Dagq-Delivery"] for h, _ in rec.seen}
    assert len(deliveries) == 1  # the same notification, retried
    headers, body = rec.seen[-1]
    stamp = headers["X-Dagq-Timestamp"]
    want = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    assert headers["X-Dagq-Signature"] == f"sha256={want}"
    assert headers["X-Dagq-Event"] == "approval_requested"
    data: dict[str, Any] = orjson.loads(body)
    assert (data["runId"], data["nodeId"], data["message"]) == (run_id, "ok", "Refund 40?")
    assert (await _decide(api, run_id, "ok", True))[0] == 200
    assert (await _ends(api, run_id))["status"] == "completed"


async def test_a_dead_receiver_never_holds_the_run_up(api: Api) -> None:
    spec = approval_spec("noti-dead")
    spec["notify"] = {"url": "http://127.0.0.1:9/nowhere"}
    await _push(api, spec)
    run_id = await _start(api, "noti-dead")
    await _node_is(api, run_id, "ok", "waiting")
    assert (await _decide(api, run_id, "ok", False))[0] == 200
    assert (await _ends(api, run_id))["status"] == "completed"
