"""A workflow's ``notify`` hook: signed POSTs on approval_requested, retried with backoff,
never holding the run up (a real receiver on a socket, the real API and orchestrator)."""

from __future__ import annotations

import hashlib
import hmac
from ipaddress import ip_network
from pathlib import Path
from typing import Any

import orjson
import pytest

from orchestrator.settings import Settings
from tests.api.conftest import Api, make_settings
from tests.cli.conftest import Cli, Receiver
from tests.cli.test_approvals import _decide, _ends, _node_is, _push, _start, approval_spec
from tests.conftest import until

pytestmark = pytest.mark.usefixtures("worker")


@pytest.fixture
def settings(redis_url: str, key_prefix: str, tmp_path: Path) -> Settings:
    """The receivers here listen on loopback, which an admin must allow explicitly."""
    base = make_settings(redis_url, key_prefix, tmp_path / "data")
    allow = {"notify_allowed_networks": [ip_network("127.0.0.1/32")]}
    return base.model_copy(update={"triggers": base.triggers.model_copy(update=allow)})


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
