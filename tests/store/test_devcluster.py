"""The test cluster itself: 3 masters and 3 replicas, every slot served, torn down cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from orchestrator.errors import Unavailable
from orchestrator.store.connection import make_sync_client, parse_cluster_url
from orchestrator.store.devcluster import SLOTS, DevCluster


def test_fixture_cluster_is_complete(redis_cluster: DevCluster) -> None:
    roles = redis_cluster.roles()
    assert sorted(role for role, _ in roles.values()) == ["master"] * 3 + ["slave"] * 3
    assert all(up for role, up in roles.values() if role == "slave")
    with redis_cluster.nodes[0].client() as node:
        ranges = node.execute_command("CLUSTER SLOTS")
    assert sum(int(end) - int(start) + 1 for start, end, *_ in ranges) == SLOTS
    assert all(len(nodes) == 2 for _, _, *nodes in ranges)  # a master and its replica
    client = make_sync_client(redis_cluster.url)
    try:
        for shard in range(8):  # keys of every shard tag land somewhere and answer
            client.set(f"devcluster:{{s{shard}}}:k", shard)
            assert int(client.get(f"devcluster:{{s{shard}}}:k") or -1) == shard
    finally:
        client.close()


def test_cluster_dev_command_starts_and_stops(tmp_path: Path) -> None:
    folder = tmp_path / "nodes"
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("dagq")), "redis", "cluster-dev", "--dir", str(folder)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = ""
        for line in proc.stdout:
            if line.startswith("DAGQ_REDIS_URL="):
                url = line.strip().split("=", 1)[1]
                break
        assert url.startswith("redis+cluster://"), proc.stderr.read() if proc.stderr else ""
        _, seeds = parse_cluster_url(url)
        assert len(seeds) == 6
        client = make_sync_client(url)
        assert client.ping()
        client.close()
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
    assert not folder.exists()
    for host, port in seeds:
        node = redis.Redis(host=host, port=port, socket_connect_timeout=1)
        try:
            node.ping()
            raise AssertionError(f"node {port} still answers")
        except redis.ConnectionError:
            pass
        finally:
            node.close()


def test_too_few_masters_is_refused(tmp_path: Path) -> None:
    with pytest.raises(Unavailable, match="at least 3 masters"):
        DevCluster(tmp_path, masters=2)
    assert os.listdir(tmp_path) == []
