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


def _save(plt: Any, fig: Any, path: Path) -> Path:
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def _log_x(ax: Any, xs: Sequence[float]) -> None:
    """A log x axis labelled at the measured points only, in plain numbers."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    ax.set_xscale("log")
    ax.set_xticks(list(xs))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.0f}"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def throughput_plot(results: Sequence[Mapping[str, Any]], path: Path) -> Path:
    """One worker count: :func:`peers_plot`; several (``--sweep``): each peer's nodes/s
    against the number of worker processes (log scale)."""
    if len({r["config"]["workers"] for r in results}) == 1:
        return peers_plot(results[-1], path)
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
    return _save(plt, fig, path)


def peers_plot(report: Mapping[str, Any], path: Path) -> Path:
    """The peers of one run side by side: nodes/s, and CPU ms per node (workers plus
    the database), each bar labelled with its value."""
    plt = _pyplot()
    peers = [p for p in ("dagq", "celery", "rq", "dramatiq", "dbos") if p in report]
    if not peers:
        raise BenchError("nothing to plot: no peer was measured")
    colors = ["tab:blue" if p == "dagq" else "tab:grey" for p in peers]
    fig, (rate, cpu) = plt.subplots(1, 2, figsize=(9.6, 3.8), dpi=120)
    panels = (
        (rate, "nodes_per_s", "nodes / s (higher is better)", "{:,.0f}"),
        (cpu, "cpu_ms_per_node", "CPU ms per node (lower is better)", "{:.2f}"),
    )
    for ax, key, title, fmt in panels:
        values = [float(report[p][key]) for p in peers]
        bars = ax.bar(peers, values, color=colors)
        ax.bar_label(bars, labels=[fmt.format(v) for v in values], fontsize=8)
        ax.set_title(title, fontsize=10)
        ax.margins(y=0.15)
        ax.grid(True, axis="y", alpha=0.3)
    ceiling = report.get("ceiling", {}).get("completions_per_s")
    note = f"; Redis ceiling {ceiling:,.0f} completions/s" if ceiling else ""
    c = report["config"]
    fig.suptitle(f"10-task DAG, {c['workers']} worker processes each, one Redis{note}", fontsize=10)
    return _save(plt, fig, path)


def memory_plot(report: Mapping[str, Any], path: Path) -> Path:
    """Redis memory against finished runs kept, and the bytes each run holds."""
    plt = _pyplot()
    from matplotlib.ticker import FuncFormatter, NullFormatter

    rows = report["by_finished_runs"]
    xs = [r["finished_runs"] for r in rows]
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=120)
    ax.plot(xs, [r["used_mb"] for r in rows], marker="o", color="tab:blue", label="Redis used")
    ax.set_xlabel("finished runs kept (10-task DAG)")
    ax.set_ylabel("Redis used_memory (MB, inbox excluded)", color="tab:blue")
    _log_x(ax, xs)
    ax.set_yscale("log")
    ax.grid(True, which="both", alpha=0.3)
    right = ax.twinx()
    right.plot(xs, [r["bytes_per_run"] for r in rows], marker="s", color="tab:red")
    right.set_ylabel("bytes per finished run", color="tab:red")
    right.axhline(4096, color="tab:red", linestyle=":", linewidth=1)
    right.text(xs[-1], 4096, "4 KB target ", color="tab:red", fontsize=8, va="bottom", ha="right")
    right.set_ylim(0, max(r["bytes_per_run"] for r in rows) * 1.3)
    hours = report["retention_s"] / 3600
    per_day = rows[-1]["bytes_per_run"] * 100_000 / 2**20
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.0f}"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.text(
        0.98,
        0.03,
        f"retention is by time: kept = runs finished in {hours:g} h\n"
        f"e.g. 100,000 runs a day keep {per_day:,.0f} MB",
        transform=ax.transAxes,
        fontsize=8,
        va="bottom",
        ha="right",
    )
    ax.set_title(
        f"Redis memory of finished runs (kept {hours:g} h: workflow.storage.ttl)", fontsize=10
    )
    return _save(plt, fig, path)


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
    return _save(plt, fig, path)


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
        _log_x(ax, xs)
        ax.set_ylim(bottom=0, top=max(p["nodes_per_s"] for p in points) * 1.15)
        ax.set_xlabel(name.replace("_", " "))
        ax.set_ylabel("nodes / s", color="tab:blue")
        ax.grid(True, which="both", alpha=0.3)
        right = ax.twinx()
        if name == "active_runs":  # drained together: the run time is the queueing
            rss = [p["orchestrator_peak_rss_mb"] for p in points]
            right.plot(xs, rss, marker="s", color="tab:red")
            right.set_ylabel("orchestrator peak RSS (MB)", color="tab:red")
            right.set_ylim(0, max(rss) * 1.3)
            ax.set_xlabel("runs active at once (drained)")
            continue
        right.plot(xs, [p["run_ms_p50"] for p in points], marker="s", color="tab:red")
        right.set_yscale("log")
        right.set_ylabel("run time p50 (ms)", color="tab:red")
    workers = report.get("config", {}).get("workers", 2)
    fig.suptitle(f"dagq as the work grows (no-op tasks, {workers} workers, one Redis)")
    return _save(plt, fig, path)
