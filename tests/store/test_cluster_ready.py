"""What makes dagq fit a Redis Cluster, checked on whichever Redis the session runs on:
cluster URLs, the one-slot check of every script call, calls that survive being resent."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from orchestrator.engine import transitions
from orchestrator.engine.config import EngineConfig
from orchestrator.errors import Conflict, Unavailable
from orchestrator.keys import Keys
from orchestrator.scripts import CrossSlotError, Script, check_one_slot, slot_of
from orchestrator.settings import Settings
from orchestrator.store.connection import connect, is_cluster_url, parse_cluster_url, redact_url
from orchestrator.store.runs import RunStore
from tests.engine.helpers import graph_of, task

ROOT = Path(__file__).resolve().parents[2]


def test_cluster_urls_are_parsed() -> None:
    assert is_cluster_url("redis+cluster://a:1") and is_cluster_url("REDISS+CLUSTER://a:1")
    assert not is_cluster_url("redis://a:1/0")
    first, seeds = parse_cluster_url("redis+cluster://10.0.0.1:7000,10.0.0.2:7001")
    assert first == "redis://10.0.0.1:7000" and seeds == [("10.0.0.1", 7000), ("10.0.0.2", 7001)]
    first, seeds = parse_cluster_url(
        "rediss+cluster://app:p%40ss@[::1]:7000,h:7001/0?ssl_cert_reqs=none"
    )
    assert first == "rediss://app:p%40ss@[::1]:7000/0?ssl_cert_reqs=none"
    assert seeds == [("::1", 7000), ("h", 7001)]
    assert parse_cluster_url("redis+cluster://:pw@h:1?x=1")[0] == "redis://:pw@h:1/?x=1"
    assert "pw" not in redact_url("redis+cluster://:pw@h:1,h:2")


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("redis+cluster://h:1/3", "only database 0"),
        ("redis+cluster://h", "'h' is not HOST:PORT"),
        ("redis+cluster://h:1,,h:2", "'' is not HOST:PORT"),
        ("redis+cluster://h:99999", "'h:99999' is not HOST:PORT"),
    ],
)
async def test_bad_cluster_urls_say_why(url: str, why: str, tmp_path: Path) -> None:
    with pytest.raises(Unavailable, match=re.escape(why)):
        await connect(Settings(redis_url=url, data_dir=tmp_path))


async def test_unreachable_cluster_is_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(Unavailable, match=r"redis\+cluster://:\*\*\*@.*: connection refused"):
        await connect(
            Settings(redis_url="redis+cluster://:pw@127.0.0.1:9,127.0.0.1:10", data_dir=tmp_path)
        )


def test_slots_follow_hash_tags() -> None:
    keys = Keys(prefix="dagq:", shards=8)
    run = "r-42"
    shard = keys.shard_of(run)
    same = [keys.run(run), keys.run_events(run), keys.inbox(shard), keys.timers(shard),
            keys.queue(shard, "high", "h"), keys.dead_letters(shard)]  # fmt: skip
    check_one_slot(same)
    assert len({slot_of(keys.inbox(s)) for s in keys.all_shards()}) == 8
    with pytest.raises(CrossSlotError, match="different hash slots"):
        check_one_slot([keys.inbox(0), keys.inbox(1)])


async def test_a_cross_slot_call_is_refused_before_it_is_sent(
    redis_client: aioredis.Redis, keys: Keys
) -> None:
    script = Script(redis_client, "return redis.call('SET', KEYS[2], '1')", "test.set")
    with pytest.raises(CrossSlotError, match=r"'test\.set'"):
        await script(keys=[keys.inbox(0), f"{keys.prefix}{{elsewhere}}:x"])
    assert await redis_client.exists(f"{keys.prefix}{{elsewhere}}:x") == 0
    async with redis_client.pipeline(transaction=False) as pipe:
        await script(keys=[keys.inbox(0), keys.timers(0)], args=[], client=pipe)
        assert await pipe.execute() == [b"OK"]  # queued, then run with the pipeline
    assert await redis_client.get(keys.timers(0)) == b"1"


def test_no_script_bypasses_the_check() -> None:
    """Every Lua script of dagq is a store.scripts.Script: none calls register_script,
    EVAL or EVALSHA itself."""
    offenders = []
    for path in [*ROOT.glob("orchestrator/**/*.py"), *ROOT.glob("serve/**/*.py"),
                 *ROOT.glob("app/**/*.py")]:  # fmt: skip
        # The ceiling bench sends pre-encoded EVALSHA bytes to measure Redis itself (one
        # hash tag for all its keys): not a dagq script.
        if path.relative_to(ROOT).as_posix() in (
            "orchestrator/scripts.py",
            "orchestrator/bench/ceiling.py",
        ):
            continue
        text = path.read_text()
        if re.search(r"register_script\(|(redis|pipe|client|tx)\.eval(sha)?\(|\"EVAL", text):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


async def test_a_resent_run_creation_is_the_same_run(
    redis_client: aioredis.Redis, keys: Keys
) -> None:
    store = RunStore(redis_client, keys)
    graph = graph_of({"nodes": [task("a")], "edges": []})
    state, commands = transitions.start(
        graph, run_id="r-1", workflow_version=1, params={}, now_ms=1000, config=EngineConfig()
    )
    assert await store.create(state, commands) == 1
    assert await store.create(state, commands) == 1  # the call sent again after a failover
    other, commands = transitions.start(
        graph, run_id="r-1", workflow_version=1, params={}, now_ms=2000, config=EngineConfig()
    )
    with pytest.raises(Conflict, match="exists already"):
        await store.create(other, commands)


async def test_a_resent_workflow_creation_is_the_same_workflow(
    redis_client: aioredis.Redis, keys: Keys
) -> None:
    from orchestrator.errors import Conflict
    from orchestrator.store.workflows import WorkflowStore

    store = WorkflowStore(redis_client, keys)
    sent = store._create

    async def first_send_lost_its_reply(**kwargs: Any) -> Any:
        await sent(**kwargs)  # the first send writes the workflow, its reply is lost
        return await sent(**kwargs)  # the resend finds it there (0)

    store._create = first_send_lost_its_reply  # type: ignore[assignment]
    spec = {"id": "wf", "name": "wf", "nodes": [task("a")]}
    record = await store.create(spec, user="ada")
    assert (await store.get("wf")).created_at == record.created_at
    store._create = sent
    with pytest.raises(Conflict, match="already exists"):
        await store.create({**spec, "name": "other"}, user="ada")  # another create
