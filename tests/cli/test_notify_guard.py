"""The notify hook cannot be aimed inside the network (server-side request forgery):
bad URLs are refused at save, loopback/private destinations at delivery unless an admin
allows them (a real receiver on 127.0.0.1, the real API and orchestrator)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tests.api.conftest import Api
from tests.cli.conftest import Receiver
from tests.cli.test_approvals import _decide, _ends, _node_is, _push, _start, approval_spec
from tests.conftest import until

pytestmark = pytest.mark.usefixtures("worker")


async def test_loopback_is_refused_logged_once_and_dropped(
    api: Api,
    receiver: tuple[Receiver, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    rec, url = receiver
    spec = approval_spec("noti-ssrf")
    spec["notify"] = {"url": url.replace("127.0.0.1", "localhost")}
    await _push(api, spec)
    caplog.set_level(logging.INFO, logger="dagq.notify")
    run_id = await _start(api, "noti-ssrf")
    await _node_is(api, run_id, "ok", "waiting")

    def refusals() -> list[logging.LogRecord]:
        return [r for r in caplog.records if "refused" in r.getMessage()]

    async def dropped() -> bool:
        streams = [api.conn.keys.notify(s) for s in api.conn.keys.all_shards()]
        lengths = [await api.conn.redis.xlen(s) for s in streams]
        return bool(refusals()) and not any(lengths)

    await until(dropped, "the refused notification logged and dropped", timeout_s=30)
    (record,) = refusals()
    assert record.levelno == logging.ERROR
    assert "loopback address" in record.getMessage()
    assert "dropped as undeliverable" in record.getMessage()
    assert rec.seen == []
    assert (await _decide(api, run_id, "ok", True))[0] == 200
    assert (await _ends(api, run_id))["status"] == "completed"
    assert rec.seen == [] and len(refusals()) == 1


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("ftp://hooks.example.com/x", "must use http or https"),
        ("file:///etc/passwd", "must use http or https"),
        ("https://user:secret@hooks.example.com/x", "must not carry credentials"),
        ("https:///nohost", "has no host"),
    ],
)
async def test_a_bad_notify_url_is_refused_at_save(api: Api, url: str, words: str) -> None:
    spec = approval_spec("noti-bad")
    spec["notify"] = {"url": url}
    resp = await api.client.post("/api/v1/workflows", json=spec, headers=api.auth("designer"))
    assert resp.status == 422, await resp.text()
    body: dict[str, Any] = await resp.json()
    (issue,) = [e for e in body["details"]["errors"] if e["code"] == "BAD_NOTIFY_URL"]
    assert words in issue["message"] and issue["path"] == "notify.url"
