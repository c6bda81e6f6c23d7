"""Plots of the benchmark results as PNG files (matplotlib, Agg backend: no display).

matplotlib comes with the ``bench`` extra; without it :class:`BenchError` says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from orchestrator.bench.procs import BenchError


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:  # pragma: no cover - depends on the installed extras
        raise BenchError("plots need matplotlib: pip install 'dagq[bench]'") from None
    matplotlib.use("Agg")  # files only: never open a window
    import matplotlib.pyplot as plt

    return plt


def throughput_plot(results: Sequence[Mapping[str, Any]], path: Path) -> Path:
    """Nodes/s of each peer against the number of worker processes (log scale)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=120)
    peers = [
        p for p in ("dagq", "celery", "rq", "dramatiq", "dbos") if any(p in r for r in results)
    ]
    for peer in peers:
        points = sorted(
            (r["config"]["workers"], r[peer]["nodes_per_s"]) for r in results if peer in r
        )
        ax.plot([x for x, _ in points], [y for _, y in points], marker="o", label=peer)
    ceilings = [r["ceiling"]["completions_per_s"] for r in results if "ceiling" in r]
    if ceilings:
        ax.axhline(max(ceilings), color="grey", linestyle="--", label="Redis ceiling")
    ax.set_xlabel("worker processes")
    ax.set_ylabel("nodes / s (10-task diamond, no-op)")
    ax.set_yscale("log")
    ax.set_xticks(sorted({r["config"]["workers"] for r in results}))
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    ax.set_title("Throughput against worker processes (one Redis, 2 cores)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def latency_cdf(samples_ms: Mapping[str, Sequence[float]], path: Path) -> Path:
    """Cumulative distribution of each operation's latency (log x)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=120)
    for name, samples in samples_ms.items():
        if not samples:
            continue
        xs = sorted(max(s, 1e-3) for s in samples)
        ys = [(i + 1) / len(xs) for i in range(len(xs))]
        ax.step(xs, ys, where="post", label=name)
    ax.set_xscale("log")
    ax.set_xlabel("latency (ms)")
    ax.set_ylabel("fraction of requests")
    ax.axhline(0.5, color="grey", lw=0.5)
    ax.axhline(0.99, color="grey", lw=0.5)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    ax.set_title("dagq latency CDF under load")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def sweep_plot(report: Mapping[str, Any], path: Path) -> Path:
    """nodes/s and run time p50 against width, depth and runs active at once."""
    plt = _pyplot()
    axes_names = [a for a in ("width", "depth", "active_runs") if report.get(a)]
    if not axes_names:
        raise BenchError("nothing to plot: the sweep measured no point")
    fig, axes = plt.subplots(1, len(axes_names), figsize=(4.2 * len(axes_names), 3.6), dpi=120)
    axes = axes if len(axes_names) > 1 else [axes]
    for ax, name in zip(axes, axes_names, strict=True):
        points = report[name]
        xs = [p[name] for p in points]
        ax.plot(xs, [p["nodes_per_s"] for p in points], marker="o", color="tab:blue")
        ax.set_xscale("log")
        ax.set_xlabel(name.replace("_", " "))
        ax.set_ylabel("nodes / s", color="tab:blue")
        ax.grid(True, which="both", alpha=0.3)
        right = ax.twinx()
        right.plot(xs, [p["run_ms_p50"] for p in points], marker="s", color="tab:red")
        right.set_yscale("log")
        right.set_ylabel("run time p50 (ms)", color="tab:red")
    fig.suptitle("dagq as the work grows (no-op tasks, 2 workers, one Redis)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
