"""Prometheus metrics of one API process, in its own registry.

Request counts and latencies are recorded by the middleware as requests pass; the
gauges (runs and nodes by status, queue depths, live workers) are refreshed from
Redis when ``/metrics`` is scraped, so they cost nothing between scrapes.  A
registry per application (not the global one) lets tests build many apps.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

# Fine buckets at the low end: the API's targets are single-digit milliseconds.
_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ApiMetrics:
    """The API's metrics; ``render()`` is the text ``/metrics`` serves."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        r = self.registry
        self.requests = Counter(
            "dagq_http_requests",
            "HTTP requests answered, by route template and status",
            ["method", "route", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "dagq_http_request_duration_seconds",
            "Time to answer an HTTP request (streams: time to the first byte)",
            ["method", "route"],
            buckets=_BUCKETS,
            registry=r,
        )
        self.runs_started = Counter(
            "dagq_runs_started", "Runs started through this API process", registry=r
        )
        self.runs_active = Gauge(
            "dagq_runs_active", "Active runs by status (all shards)", ["status"], registry=r
        )
        self.nodes_active = Gauge(
            "dagq_nodes",
            "Nodes of active runs by status (a sample of up to 1000 runs)",
            ["status"],
            registry=r,
        )
        self.queue_length = Gauge(
            "dagq_queue_length", "Jobs in a job stream", ["handler", "lane"], registry=r
        )
        self.queue_pending = Gauge(
            "dagq_queue_pending",
            "Jobs delivered to a worker and not yet acknowledged",
            ["handler", "lane"],
            registry=r,
        )
        self.inbox_length = Gauge(
            "dagq_inbox_length", "Messages waiting for an orchestrator", registry=r
        )
        self.timers = Gauge("dagq_timers", "Scheduled timers (retries, delays)", registry=r)
        self.dead_letters = Gauge("dagq_dead_letters", "Dead-lettered jobs", registry=r)
        self.workers_live = Gauge("dagq_workers_live", "Workers heard from recently", registry=r)
        self.worker_capacity = Gauge(
            "dagq_worker_capacity",
            "What a live worker offers: memory (bytes) and cpu (cores)",
            ["worker", "resource"],
            registry=r,
        )
        self.worker_reserved = Gauge(
            "dagq_worker_reserved",
            "What a live worker's running attempts requested: memory (bytes) and cpu (cores)",
            ["worker", "resource"],
            registry=r,
        )
        self.worker_children_rss = Gauge(
            "dagq_worker_children_rss_bytes",
            "Resident memory of a live worker's isolated handlers' child processes",
            ["worker"],
            registry=r,
        )
        self.worker_children_cpu = Gauge(
            "dagq_worker_children_cpu_seconds",
            "CPU time used by a live worker's current isolated child processes",
            ["worker"],
            registry=r,
        )
        self.policy_in_error = Gauge(
            "dagq_policy_in_error",
            "1 while the policy files on disk are rejected (the last good policy is in force)",
            registry=r,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request (each label set's children looked up once: the
        lookup cost more than the counting)."""
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            children = (
                self.requests.labels(method, route, str(status)),
                self.latency.labels(method, route),
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def set_runs(self, by_status: Mapping[str, int], statuses: Iterable[str]) -> None:
        """Active runs per status; statuses without runs read 0, not absent."""
        for status in statuses:
            self.runs_active.labels(status).set(by_status.get(status, 0))

    def set_nodes(self, by_status: Mapping[str, int], statuses: Iterable[str]) -> None:
        """Nodes of active runs per status."""
        for status in statuses:
            self.nodes_active.labels(status).set(by_status.get(status, 0))

    def set_queues(self, depths: Mapping[str, Any]) -> None:
        """Queue gauges from :meth:`QueueAdmin.depths`."""
        self.queue_length.clear()
        self.queue_pending.clear()
        for handler, lanes in depths.get("handlers", {}).items():
            for lane, row in lanes.items():
                self.queue_length.labels(handler, lane).set(row["length"])
                self.queue_pending.labels(handler, lane).set(row["pending"])
        shards = depths.get("shards", [])
        self.inbox_length.set(sum(s["inbox"] for s in shards))
        self.timers.set(sum(s["timers"] for s in shards))
        self.dead_letters.set(sum(s["dlq"] for s in shards))

    def set_workers(self, workers: Iterable[Mapping[str, Any]]) -> None:
        """Per-worker capacity, reservations and children's usage (``WorkerInfo.to_dict``)."""
        gauges = (
            self.worker_capacity,
            self.worker_reserved,
            self.worker_children_rss,
            self.worker_children_cpu,
        )
        for gauge in gauges:
            gauge.clear()
        count = 0
        for w in workers:
            count += 1
            wid = str(w["id"])
            for resource in ("memory", "cpu"):
                if resource in (w.get("capacity") or {}):
                    self.worker_capacity.labels(wid, resource).set(w["capacity"][resource])
                if resource in (w.get("reserved") or {}):
                    self.worker_reserved.labels(wid, resource).set(w["reserved"][resource])
            usage = w.get("usage") or {}
            if usage:
                self.worker_children_rss.labels(wid).set(usage.get("rss", 0))
                self.worker_children_cpu.labels(wid).set(usage.get("cpu", 0))
        self.workers_live.set(count)

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)
