"""What ``dagq redis status`` learns from a Redis: one server or a cluster.

For a cluster: every node (role, slots served, the master a replica follows, whether it
is connected), and for both: dagq's keys per shard (``<prefix>{s<k>}:*``, counted with
SCAN on the node serving the shard's slot) plus the keys outside the shards.
"""

from __future__ import annotations

from typing import Any

import redis
from redis.exceptions import RedisClusterException

from orchestrator.keys import Keys
from orchestrator.scripts import slot_of
from orchestrator.store.connection import (
    describe_error,
    is_cluster_url,
    make_sync_client,
    redact_url,
)

_TIMEOUTS = {"socket_connect_timeout": 5, "socket_timeout": 5}


def _count(client: redis.Redis, pattern: str) -> int:
    return sum(1 for _ in client.scan_iter(match=pattern, count=1000))


def _shards(client: Any, keys: Keys, cluster: bool) -> list[dict[str, Any]]:
    rows = []
    for shard in keys.all_shards():
        tag = keys.tag(shard)
        row: dict[str, Any] = {"shard": shard, "slot": slot_of(tag)}
        node_client = client
        if cluster:
            node = client.get_node_from_key(tag)
            row["node"] = node.name
            node_client = client.get_redis_connection(node)
        row["keys"] = _count(node_client, f"{_glob_escape(tag)}*")
        rows.append(row)
    return rows


def _glob_escape(text: str) -> str:
    """``text`` as a literal in a SCAN MATCH pattern."""
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in text)


def _nodes(client: Any) -> list[dict[str, Any]]:
    raw: dict[str, dict[str, Any]] = client.cluster_nodes()
    by_id = {info["node_id"]: name for name, info in raw.items()}
    out = []
    for name, info in sorted(raw.items()):
        flags = set(str(info.get("flags", "")).split(","))
        role = "master" if "master" in flags else "replica" if "slave" in flags else "other"
        slots = [[int(a), int(b)] for a, b in (s if len(s) == 2 else (s[0], s[0])
                                              for s in info.get("slots", []))]  # fmt: skip
        out.append(
            {
                "node": name,
                "role": role,
                "failed": bool(flags & {"fail", "fail?"}),
                "connected": bool(info.get("connected")),
                "slots": slots,
                "slotCount": sum(b - a + 1 for a, b in slots),
                "follows": by_id.get(info.get("master_id", "-")),
            }
        )
    return out


def probe(url: str, keys: Keys) -> dict[str, Any]:
    """Reachability, version, memory, layout and dagq's keys per shard of the Redis at ``url``."""
    cluster = is_cluster_url(url)
    try:
        client: Any = make_sync_client(url, **_TIMEOUTS)
    except (ValueError, RedisClusterException) as exc:
        if isinstance(exc, RedisClusterException):
            return {"reachable": False, "error": describe_error(url, exc).message}
        return {"reachable": False, "error": f"invalid Redis URL {redact_url(url)}: {exc}"}
    try:
        if cluster:
            infos: dict[str, dict[str, Any]] = client.info(target_nodes=client.PRIMARIES)
            info = next(iter(infos.values()))
            total = sum(
                v.get("keys", 0) for i in infos.values() for k, v in i.items() if k == "db0"
            )
        else:
            info = client.info()
            total = sum(v.get("keys", 0) for k, v in info.items() if k.startswith("db"))
        out: dict[str, Any] = {
            "reachable": True,
            "version": info.get("redis_version"),
            "usedMemory": info.get("used_memory_human"),
            "peakMemory": info.get("used_memory_peak_human"),
            "keys": total,
            "uptimeSeconds": info.get("uptime_in_seconds"),
        }
        if cluster:
            out["nodes"] = _nodes(client)
        out["prefix"] = keys.prefix
        out["shards"] = _shards(client, keys, cluster)
        return out
    except (redis.RedisError, RedisClusterException, OSError) as exc:
        return {"reachable": False, "error": describe_error(url, exc).message}
    finally:
        client.close()


def render(info: dict[str, Any]) -> list[str]:
    """The cluster and shard lines of the text status (after the common ones)."""
    lines: list[str] = []
    nodes = info.get("nodes")
    if nodes:
        masters = [n for n in nodes if n["role"] == "master" and not n["failed"]]
        replicas = [n for n in nodes if n["role"] == "replica" and not n["failed"]]
        down = [n for n in nodes if n["failed"] or not n["connected"]]
        summary = f"{len(masters)} masters, {len(replicas)} replicas"
        lines.append(f"Cluster:    {summary}" + (f", {len(down)} down" if down else ""))
        for n in nodes:
            state = "DOWN " if n in down else ""
            if n["role"] == "master":
                ranges = ", ".join(f"{a}-{b}" if a != b else str(a) for a, b in n["slots"])
                lines.append(
                    f"  {n['node']:<22} {state}master   {n['slotCount']:>5} slots ({ranges})"
                )
            else:
                lines.append(f"  {n['node']:<22} {state}{n['role']:<8} of {n['follows']}")
    shards = info.get("shards") or []
    if shards:
        lines.append(f"Shards:     {len(shards)} under prefix {info['prefix']!r}")
        for row in shards:
            where = f" on {row['node']}" if "node" in row else ""
            lines.append(f"  s{row['shard']:<3} slot {row['slot']:>5}{where}: {row['keys']} key(s)")
    return lines
