"""The benchmark's pure parts: workloads, hop arithmetic, percentiles, peers' shapes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from orchestrator.bench import workloads
from orchestrator.bench.latency import node_hops
from orchestrator.bench.procs import BenchError, Procs, percentile, redis_server_binary, summary_ms
from orchestrator.bench.window import poll_ends, timed_submit
from orchestrator.errors import BadRequest
from orchestrator.spec.validator import validate_data


def test_diamond_is_ten_tasks_with_a_join() -> None:
    spec = workloads.diamond()
    assert len(spec["nodes"]) == workloads.DIAMOND_NODES
    assert {n["type"] for n in spec["nodes"]} == {"task"}
    targets = [e["target"] for e in spec["edges"]]
    join = max(set(targets), key=targets.count)
    assert targets.count(join) == 4
    assert validate_data(spec).valid


@pytest.mark.parametrize("nodes", [*workloads.APPENDIX_C, 1, 3, 7, 333])
def test_appendix_c_workflows_are_valid_with_exact_sizes(nodes: int) -> None:
    spec = workloads.appendix_c(nodes)
    assert len(spec["nodes"]) == nodes
    result = validate_data(spec, max_nodes=1000)
    assert result.valid, result.to_dict()["errors"]


def test_appendix_c_refuses_sizes_out_of_range() -> None:
    with pytest.raises(BadRequest):
        workloads.appendix_c(0)
    with pytest.raises(BadRequest):
        workloads.appendix_c(1001)


def test_node_hops_use_the_latest_predecessor() -> None:
    edges = [{"source": "a", "target": "c"}, {"source": "b", "target": "c"}]
    events = [
        ("node_started", "a", 0),
        ("node_completed", "a", 5),
        ("node_started", "b", 0),
        ("node_completed", "b", 9),
        ("node_started", "c", 12),
        ("run_completed", None, 20),
    ]
    assert node_hops(events, edges) == [3.0]


def test_node_hops_skip_nodes_without_every_predecessor_done() -> None:
    edges = [{"source": "a", "target": "c"}, {"source": "b", "target": "c"}]
    events = [("node_completed", "a", 5), ("node_started", "c", 6)]
    assert node_hops(events, edges) == []


def test_percentiles_are_nearest_rank() -> None:
    samples = [float(i) for i in range(1, 101)]
    assert percentile(samples, 0.5) == 50.0
    assert percentile(samples, 0.99) == 99.0
    assert percentile([], 0.5) == 0.0
    assert summary_ms([2.0, 1.0])["p50_ms"] == 1.0


def test_a_redis_server_binary_is_found() -> None:
    assert redis_server_binary()


def test_celery_canvas_and_rq_chain_have_the_diamond_shape() -> None:
    peers = pytest.importorskip("orchestrator.bench.peers")
    canvas = peers.celery_diamond(peers.make_celery(None))

    def leaves(sig: Any) -> int:
        body = getattr(sig, "body", None)
        inner = getattr(sig, "tasks", None)
        if inner is None:
            return 1
        return sum(leaves(t) for t in inner) + (leaves(body) if body is not None else 0)

    assert leaves(canvas) == 10
    # Celery turns the group followed by the join into a chord of the 4 branches.
    chord = canvas.tasks[1]
    assert len(chord.tasks) == 4


def test_poll_ends_waits_for_every_run_and_gives_the_latest_end(tmp_path: Path) -> None:
    polls: list[int] = []
    asked: Counter[int] = Counter()

    def ends(chunk: Sequence[int]) -> list[int | None]:
        polls.append(len(chunk))
        asked.update(chunk)
        # Run h ends (at 100 + h) the (h % 3 + 1)th time it is asked about.
        return [100 + h if asked[h] > h % 3 else None for h in chunk]

    last = poll_ends(list(range(2500)), ends, timeout_s=60, what="runs", procs=Procs(tmp_path))
    assert last == 100 + 2499
    assert polls[:3] == [1000, 1000, 500], "chunks of at most 1,000"
    assert max(asked.values()) == 3, "each run asked about until it ended, no more"


def test_poll_ends_gives_up_with_a_sentence(tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="stuck runs did not finish in time"):
        poll_ends([1], lambda c: [None], timeout_s=0, what="stuck runs", procs=Procs(tmp_path))


def test_timed_submit_returns_each_handle() -> None:
    with ThreadPoolExecutor(4) as pool:
        handles, seconds = timed_submit(pool, lambda: "id", 7)
    assert handles == ["id"] * 7 and seconds >= 0
