"""``dagq redis status`` on a cluster and on one server: layout and dagq's keys per shard."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from orchestrator.cli.redis_cmd import redis_group
from orchestrator.keys import Keys
from orchestrator.store.connection import make_sync_client
from orchestrator.store.devcluster import SLOTS, DevCluster


def _seed(url: str, keys: Keys) -> None:
    client = make_sync_client(url)
    try:
        for shard in keys.all_shards():
            for i in range(shard + 1):  # shard k holds k+1 keys
                client.set(f"{keys.tag(shard)}run:r{i}", 1)
        client.set(f"{keys.prefix}{{wf}}:wfindex", 1)  # not in a shard
    finally:
        client.close()


def _status(url: str, keys: Keys, monkeypatch: pytest.MonkeyPatch, *args: str) -> str:
    monkeypatch.setenv("DAGQ_REDIS_URL", url)
    monkeypatch.setenv("DAGQ_WORKFLOW__STORAGE__PREFIX", keys.prefix)
    monkeypatch.setenv("DAGQ_QUEUE__SHARDS", str(keys.shards))
    monkeypatch.delenv("DAGQ_CONFIG", raising=False)
    result = CliRunner().invoke(redis_group, ["status", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_cluster_status_shows_masters_replicas_slots_and_shards(
    redis_cluster: DevCluster, key_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = Keys(prefix=key_prefix, shards=4)
    _seed(redis_cluster.url, keys)
    info = json.loads(_status(redis_cluster.url, keys, monkeypatch, "--json"))
    masters = [n for n in info["nodes"] if n["role"] == "master"]
    replicas = [n for n in info["nodes"] if n["role"] == "replica"]
    assert len(masters) == 3 and len(replicas) == 3
    assert sum(m["slotCount"] for m in masters) == SLOTS
    assert {r["follows"] for r in replicas} == {m["node"] for m in masters}
    assert [s["keys"] for s in info["shards"]] == [1, 2, 3, 4]
    for row in info["shards"]:
        owner = next(m for m in masters if any(a <= row["slot"] <= b for a, b in m["slots"]))
        assert row["node"] == owner["node"]
    assert "***" not in info["url"] and info["keys"] >= 11

    text = _status(redis_cluster.url, keys, monkeypatch)
    assert "Cluster:    3 masters, 3 replicas" in text
    assert f"Shards:     4 under prefix '{key_prefix}'" in text
    assert " master    " in text and "replica  of 127.0.0.1:" in text


def test_single_server_status_shows_keys_per_shard(
    redis_url: str, key_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = Keys(prefix=key_prefix, shards=3)
    _seed(redis_url, keys)
    info = json.loads(_status(redis_url, keys, monkeypatch, "--json"))
    assert [s["keys"] for s in info["shards"]] == [1, 2, 3]
    text = _status(redis_url, keys, monkeypatch)
    assert "s2   slot" in text and ": 3 key(s)" in text
