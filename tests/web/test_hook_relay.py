"""A webhook posted to the web address reaches the API unchanged (``dagq up`` serves both)."""

from __future__ import annotations

import time

import orjson

from orchestrator.client import DagqClient
from orchestrator.service.hooks import sign
from tests.api.conftest import Api, api, make_api, pipeline_spec, policies, role_keys, settings
from tests.web.conftest import ServerFactory

__all__ = ["api", "make_api", "policies", "role_keys", "settings"]


async def test_web_address_relays_signed_deliveries(api: Api, make_server: ServerFactory) -> None:
    async with DagqClient(api.base_url, api_key=api.keys["admin"]) as admin:
        await admin.create_workflow(pipeline_spec())
        hook = await admin.create_hook("pipeline")
    _, web = await make_server(api_url=api.base_url)
    body = orjson.dumps({"records": 4})
    ts = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-Dagq-Timestamp": ts,
        "X-Dagq-Signature": sign(hook.secret, ts, body),
    }
    resp = await web.post(f"/hooks/{hook.id}", data=body, headers=headers)
    assert resp.status == 202, await resp.text()
    accepted = await resp.json()
    run = await (
        await api.client.get(f"/api/v1/runs/{accepted['runId']}", headers=api.auth("operator"))
    ).json()
    assert run["parameters"] == {"records": 4}
    # The relay passes the API's refusals through: a replay, then a bad signature.
    again = await web.post(f"/hooks/{hook.id}", data=body, headers=headers)
    assert again.status == 409
    forged = await web.post(
        f"/hooks/{hook.id}", data=body, headers={**headers, "X-Dagq-Signature": "sha256=00"}
    )
    assert forged.status == 401 and (await forged.json())["error"] == "BAD_SIGNATURE"
