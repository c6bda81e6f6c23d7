"""The workflow definition store against a real Redis."""

from __future__ import annotations

import asyncio
from datetime import UTC

import pytest
import redis.asyncio as aioredis

from orchestrator.errors import BadRequest, Conflict, DagqError, NotFound, SpecInvalid
from orchestrator.keys import Keys
from orchestrator.spec.model import TaskNode, WorkflowSpec
from orchestrator.store.workflows import WorkflowStore


def make_spec(
    workflow_id: str = "wf", name: str = "Pipeline", tags: list[str] | None = None, nodes: int = 2
) -> WorkflowSpec:
    return WorkflowSpec.model_validate(
        {
            "id": workflow_id,
            "name": name,
            "description": f"{name} description",
            "tags": tags or [],
            "nodes": [
                {"id": f"n{i}", "type": "task", "handler": "h", "timeout": "90s"}
                for i in range(nodes)
            ],
            "edges": [{"source": f"n{i}", "target": f"n{i + 1}"} for i in range(nodes - 1)],
            "parameters": {"limit": {"type": "integer", "default": 5}},
        }
    )


@pytest.fixture
def store(redis_client: aioredis.Redis, keys: Keys) -> WorkflowStore:
    return WorkflowStore(redis_client, keys)


async def test_create_and_get(store: WorkflowStore) -> None:
    record = await store.create(make_spec(), user="alice", change_log="first")
    assert record.id == "wf" and record.version == 1 and record.status == "draft"
    assert record.spec.version == 1
    assert record.created_by == "alice" and record.updated_by == "alice"
    assert record.created_at.tzinfo is UTC and record.created_at == record.updated_at

    got = await store.get("wf")
    assert got == record
    node = got.spec.node("n0")
    assert isinstance(node, TaskNode) and node.timeout == 90.0  # durations round-trip


async def test_to_api_shape(store: WorkflowStore) -> None:
    record = await store.create(make_spec(), user="alice")
    api = record.to_api()
    assert api["id"] == "wf" and api["version"] == 1 and api["status"] == "draft"
    assert api["createdBy"] == "alice" and api["updatedBy"] == "alice"
    assert api["createdAt"].endswith("Z") and "T" in api["createdAt"]
    # The spec part stays snake_case, exactly the spec's own JSON dump.
    assert api["compensation_strategy"] == "none"
    assert api["nodes"][0]["timeout"] == "1m30s"
    spec_json = record.spec.model_dump(mode="json", exclude_none=True)
    assert {k: api[k] for k in spec_json} == spec_json

    summary = record.summary().to_api()
    assert summary["nodeCount"] == 2 and summary["edgeCount"] == 1
    assert set(summary) == {
        "id",
        "name",
        "description",
        "status",
        "version",
        "nodeCount",
        "edgeCount",
        "tags",
        "createdAt",
        "updatedAt",
    }

    version = (await store.get_version("wf", 1)).to_api()
    assert version["workflowId"] == "wf" and version["version"] == 1
    assert version["spec"]["id"] == "wf" and version["spec"]["version"] == 1
    assert "changeLog" not in version  # none given


async def test_create_conflict(store: WorkflowStore) -> None:
    await store.create(make_spec())
    with pytest.raises(Conflict, match="already exists"):
        await store.create(make_spec(name="Other"))
    assert (await store.get("wf")).spec.name == "Pipeline"


async def test_create_from_a_mapping_reports_spec_errors(store: WorkflowStore) -> None:
    record = await store.create(
        {"name": "From Dict", "nodes": [{"id": "a", "type": "delay", "duration": "5s"}]}
    )
    assert record.id == "from-dict"
    with pytest.raises(SpecInvalid) as caught:
        await store.create({"id": "bad", "name": "Bad", "nodes": []})
    assert caught.value.details["errors"][0]["loc"] == "nodes"


async def test_a_workflow_may_be_called_index(store: WorkflowStore) -> None:
    await store.create(make_spec("index"))
    await store.create(make_spec("other"))
    rows, total = await store.list()
    assert total == 2 and {r.id for r in rows} == {"index", "other"}


async def test_update_makes_new_immutable_versions(store: WorkflowStore) -> None:
    created = await store.create(make_spec(), user="alice", change_log="v1")
    v1_stored = await store.get_version("wf", 1)

    updated = await store.update(
        "wf", make_spec(name="Renamed", nodes=3), user="bob", change_log="v2"
    )
    assert updated.version == 2 and updated.spec.version == 2 and updated.spec.name == "Renamed"
    assert updated.created_at == created.created_at and updated.created_by == "alice"
    assert updated.updated_by == "bob" and updated.updated_at >= created.updated_at
    assert await store.get("wf") == updated

    # Version 1 is pinned: unchanged by the update.
    assert await store.get_version("wf", 1) == v1_stored
    assert v1_stored.spec.name == "Pipeline" and v1_stored.change_log == "v1"
    v2 = await store.get_version("wf", 2)
    assert v2.created_by == "bob" and v2.change_log == "v2" and len(v2.spec.nodes) == 3

    version = await store.create_version("wf", make_spec(nodes=4), change_log="v3")
    assert version.version == 3 and version.workflow_id == "wf"
    assert [v.version for v in await store.list_versions("wf")] == [3, 2, 1]
    assert [v.version for v in await store.list_versions("wf", limit=2)] == [3, 2]


async def test_update_with_expected_version(store: WorkflowStore) -> None:
    await store.create(make_spec())
    await store.update("wf", make_spec(name="Two"), expected_version=1)
    with pytest.raises(Conflict) as caught:
        await store.update("wf", make_spec(name="Stale"), expected_version=1)
    assert caught.value.details["currentVersion"] == 2
    assert (await store.get("wf")).spec.name == "Two"


async def test_update_id_rules(store: WorkflowStore) -> None:
    await store.create(make_spec())
    with pytest.raises(BadRequest, match="does not match"):
        await store.update("wf", make_spec("elsewhere"))
    # A mapping without an id takes the workflow's id (its name would slug otherwise).
    record = await store.update(
        "wf", {"name": "Brand New Name", "nodes": [{"id": "x", "type": "task", "handler": "h"}]}
    )
    assert record.id == "wf" and record.version == 2
    with pytest.raises(NotFound):
        await store.update("missing", make_spec("missing"))


async def test_concurrent_updates_never_lose_a_version(store: WorkflowStore) -> None:
    await store.create(make_spec())
    results = await asyncio.gather(
        *(
            store.create_version("wf", make_spec(name=f"writer {i}"), user=f"u{i}")
            for i in range(20)
        )
    )
    numbers = sorted(v.version for v in results)
    assert numbers == list(range(2, 22))
    # Each writer's spec landed in exactly the version it was told.
    for version in results:
        stored = await store.get_version("wf", version.version)
        assert stored.spec.name == version.spec.name and stored.created_by == version.created_by
    current = await store.get("wf")
    assert current.version == 21
    assert len(await store.list_versions("wf", limit=100)) == 21


async def test_concurrent_expected_version_only_one_wins(store: WorkflowStore) -> None:
    await store.create(make_spec())
    outcomes = await asyncio.gather(
        *(store.update("wf", make_spec(name=f"w{i}"), expected_version=1) for i in range(5)),
        return_exceptions=True,
    )
    wins = [o for o in outcomes if not isinstance(o, BaseException)]
    assert len(wins) == 1
    assert all(isinstance(o, Conflict) for o in outcomes if isinstance(o, BaseException))


async def test_not_found_and_bad_arguments(store: WorkflowStore) -> None:
    with pytest.raises(NotFound):
        await store.get("nope")
    with pytest.raises(NotFound):
        await store.get_version("nope", 1)
    with pytest.raises(NotFound):
        await store.list_versions("nope")
    with pytest.raises(NotFound):
        await store.delete("nope")
    with pytest.raises(NotFound):
        await store.set_status("nope", "published")
    await store.create(make_spec())
    with pytest.raises(NotFound, match="no version 7"):
        await store.get_version("wf", 7)
    with pytest.raises(BadRequest):
        await store.get_version("wf", 0)
    with pytest.raises(BadRequest):
        await store.list(limit=0)
    with pytest.raises(BadRequest):
        await store.list(offset=-1)
    with pytest.raises(BadRequest):
        await store.list(status="archived")
    with pytest.raises(BadRequest):
        await store.set_status("wf", "archived")  # type: ignore[arg-type]


async def test_delete(store: WorkflowStore, redis_client: aioredis.Redis, keys: Keys) -> None:
    await store.create(make_spec())
    await store.update("wf", make_spec(name="Two"))
    await store.delete("wf")
    assert not await store.exists("wf")
    assert await redis_client.exists(keys.workflow("wf")) == 0
    assert await redis_client.zscore(keys.workflow_index(), "wf") is None
    # The id is free again, starting over at version 1.
    assert (await store.create(make_spec())).version == 1


async def test_set_status(store: WorkflowStore) -> None:
    created = await store.create(make_spec(), user="alice")
    summary = await store.set_status("wf", "published", user="bob")
    assert summary.status == "published" and summary.version == 1
    record = await store.get("wf")
    assert record.status == "published" and record.updated_by == "bob"
    assert record.version == 1 and record.created_by == "alice"
    assert record.updated_at >= created.updated_at
    # Status survives a new version.
    assert (await store.update("wf", make_spec(name="Next"))).status == "published"


async def test_unreadable_record_is_a_dagq_error(
    store: WorkflowStore, redis_client: aioredis.Redis, keys: Keys
) -> None:
    await store.create(make_spec())
    await redis_client.hset(keys.workflow("wf"), "v:1", b"{not json")
    with pytest.raises(DagqError, match="unreadable version"):
        await store.get("wf")


async def _seed(store: WorkflowStore, redis_client: aioredis.Redis, keys: Keys, n: int) -> None:
    """Create ``n`` workflows fast (pipelined), with known names, tags and statuses."""
    for start in range(0, n, 50):
        await asyncio.gather(
            *(
                store.create(
                    make_spec(
                        f"wf-{i:04d}",
                        name=("Billing " if i % 3 == 0 else "Shipping ") + f"Flow {i}",
                        tags=[
                            "team-a" if i % 2 == 0 else "team-b",
                            *(["nightly"] if i % 5 == 0 else []),
                        ],
                    )
                )
                for i in range(start, min(n, start + 50))
            )
        )
    # Deterministic "last update" order: wf-1199 newest.
    await redis_client.zadd(keys.workflow_index(), {f"wf-{i:04d}": 1_000_000 + i for i in range(n)})


async def test_list_filters_and_pages_1200(
    store: WorkflowStore, redis_client: aioredis.Redis, keys: Keys
) -> None:
    n = 1200
    await _seed(store, redis_client, keys, n)
    for i in range(0, n, 7):
        await store.set_status(f"wf-{i:04d}", "published")
    # set_status moves a workflow to the top; restore the deterministic order.
    await redis_client.zadd(keys.workflow_index(), {f"wf-{i:04d}": 1_000_000 + i for i in range(n)})

    rows, total = await store.list()
    assert total == n and [r.id for r in rows] == [f"wf-{i:04d}" for i in range(1199, 1179, -1)]

    rows, total = await store.list(limit=50, offset=1190)
    assert total == n and [r.id for r in rows] == [f"wf-{i:04d}" for i in range(9, -1, -1)]
    rows, total = await store.list(offset=5000)
    assert rows == [] and total == n

    rows, total = await store.list(name="billing", limit=1000)
    expected = [i for i in range(n - 1, -1, -1) if i % 3 == 0]
    assert total == len(expected) and [r.id for r in rows] == [f"wf-{i:04d}" for i in expected]

    rows, total = await store.list(tags=["team-a", "nightly"], limit=5, offset=2)
    expected = [i for i in range(n - 1, -1, -1) if i % 10 == 0]
    assert total == len(expected) and [r.id for r in rows] == [f"wf-{i:04d}" for i in expected[2:7]]

    rows, total = await store.list(status="published", name="SHIPPING", limit=1000)
    expected = [i for i in range(n - 1, -1, -1) if i % 7 == 0 and i % 3 != 0]
    assert total == len(expected) and [r.id for r in rows] == [f"wf-{i:04d}" for i in expected]
    assert all(r.status == "published" and r.node_count == 2 for r in rows)

    rows, total = await store.list(name="no such thing")
    assert rows == [] and total == 0


async def test_list_orders_by_last_update(
    store: WorkflowStore, redis_client: aioredis.Redis, keys: Keys
) -> None:
    for name in ("a", "b", "c"):
        await store.create(make_spec(name, name=name.upper()))
    # Pretend they were made long ago (all three may share one millisecond).
    await redis_client.zadd(keys.workflow_index(), {"a": 1, "b": 2, "c": 3})
    rows, _ = await store.list()
    assert [r.id for r in rows] == ["c", "b", "a"]
    await store.update("a", make_spec("a", name="A2"))
    rows, _ = await store.list()
    assert [r.id for r in rows] == ["a", "c", "b"]
    assert rows[0].version == 2 and rows[0].name == "A2"


async def test_list_reads_no_specs(
    store: WorkflowStore, redis_client: aioredis.Redis, keys: Keys
) -> None:
    # A version that cannot be parsed must not matter to the list: only metas are read.
    await store.create(make_spec())
    await redis_client.hset(keys.workflow("wf"), "v:1", b"corrupt")
    rows, total = await store.list(name="pipe")
    assert total == 1 and rows[0].id == "wf"
