"""The approvals index: written with the run's state, read by ``GET /approvals``.

A member ``<run id> <node id>`` appears when an approval starts waiting and goes when it is
decided, times out, is cancelled or its run ends; the listing reads only the runs it names.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api
from tests.cli.test_approvals import _decide, _ends, _node_is, _push, _start, approval_spec
from tests.conftest import until

pytestmark = pytest.mark.usefixtures("worker")


async def _index(api: Api) -> set[str]:
    keys = api.conn.keys
    out: set[str] = set()
    for shard in keys.all_shards():
        members: list[Any] = await api.conn.redis.zrange(keys.approvals(shard), 0, -1)
        out |= {m.decode() if isinstance(m, bytes) else str(m) for m in members}
    return out


async def _listed(api: Api) -> list[tuple[str, str]]:
    resp = await api.client.get("/api/v1/approvals", headers=api.auth("operator"))
    assert resp.status == 200
    return [(a["runId"], a["nodeId"]) for a in (await resp.json())["approvals"]]


async def _waiting(api: Api, spec: dict[str, Any]) -> str:
    await _push(api, spec)
    run_id = await _start(api, spec["id"])
    await _node_is(api, run_id, "ok", "waiting")
    assert await _index(api) == {f"{run_id} ok"}
    assert await _listed(api) == [(run_id, "ok")]
    return run_id


async def _index_empties(api: Api) -> None:
    async def empty() -> bool:
        return not await _index(api)

    await until(empty, "the approvals index empty")
    assert await _listed(api) == []


async def test_a_decision_takes_the_approval_out(api: Api) -> None:
    run_id = await _waiting(api, approval_spec())
    status, _ = await _decide(api, run_id, "ok", True)
    assert status == 200
    await _index_empties(api)
    assert (await _ends(api, run_id))["status"] == "completed"


async def test_a_timeout_takes_the_approval_out(api: Api) -> None:
    run_id = await _waiting(api, approval_spec(timeout="3s", on_timeout="reject"))
    final = await _ends(api, run_id)
    assert final["nodes"]["ok"]["output"]["timed_out"] is True
    await _index_empties(api)


async def test_cancelling_the_run_takes_the_approval_out(api: Api) -> None:
    run_id = await _waiting(api, approval_spec())
    resp = await api.client.delete(f"/api/v1/runs/{run_id}", headers=api.auth("operator"))
    assert resp.status == 204
    await _index_empties(api)


async def test_a_run_that_ends_while_waiting_takes_its_approval_out(api: Api) -> None:
    spec = {**approval_spec(wf="bounded"), "config": {"max_execution_time": "3s"}}
    run_id = await _waiting(api, spec)
    final = await _ends(api, run_id)
    assert final["status"] == "failed" and "maximum duration" in final["error"]
    await _index_empties(api)


async def test_the_listing_reads_the_index_and_rebuilds_it_once(api: Api) -> None:
    run_id = await _waiting(api, approval_spec())
    redis, keys = api.conn.redis, api.conn.keys
    shard = keys.shard_of(run_id)
    # Only what the index names is read: an active run it does not name is not listed,
    # and a member whose run is gone is dropped.
    await redis.zrem(keys.approvals(shard), f"{run_id} ok")
    await redis.zadd(keys.approvals(shard), {"run-gone ok": 1})
    assert await _listed(api) == []
    assert await _index(api) == set()
    # A deployment upgraded with approvals already waiting has no index yet: the first
    # listing builds it from the active runs.
    await redis.delete(keys.approvals_built(shard))
    assert await _listed(api) == [(run_id, "ok")]
    assert await _index(api) == {f"{run_id} ok"}
    assert await redis.exists(keys.approvals_built(shard))
