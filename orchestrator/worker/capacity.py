"""A worker's capacity and what its running attempts hold of it (the design's
ResourceMonitor: check limits, reserve and release).

A task may request ``resources: {memory: 512MiB, cpu: 1}``; a worker has a capacity
(``dagq worker --capacity memory=4GiB,cpu=2``, by default the machine's memory and the CPUs
it may run on).  An attempt starts only once its request fits in what the worker has
free, and gives it back when it ends, so the attempts a worker runs at once never ask for
more than it has.  A task that declares no memory is counted at ``--max-memory-per-job``
when the worker has one (the limit it would run under), else at nothing; one that declares
no CPU at nothing.  A request larger than the whole capacity never fits here: the worker
hands such a job back for a bigger worker.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from orchestrator.errors import ConfigError
from orchestrator.protocol import Job
from orchestrator.sizes import SizeError, compact_bytes, format_bytes, parse_bytes
from orchestrator.store.queue import Delivery

log = logging.getLogger("dagq.worker")


@dataclass(frozen=True, slots=True)
class Capacity:
    """Memory (bytes) and CPU (cores)."""

    memory: int
    cpu: float

    @classmethod
    def of_machine(cls) -> Capacity:
        """This machine's physical memory and the CPUs this process may run on."""
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        return cls(memory, float(len(os.sched_getaffinity(0))))

    @classmethod
    def parse(cls, text: str, default: Capacity | None = None) -> Capacity:
        """``memory=4GiB,cpu=2`` (either part may be left out: the machine's)."""
        base = default if default is not None else cls.of_machine()
        memory, cpu = base.memory, base.cpu
        for part in filter(None, (p.strip() for p in text.split(","))):
            name, sep, value = part.partition("=")
            name = name.strip().lower()
            if not sep or not value.strip():
                raise ConfigError(f"capacity {part!r}: write name=value, e.g. memory=4GiB,cpu=2")
            if name == "memory":
                try:
                    memory = parse_bytes(value)
                except SizeError as exc:
                    raise ConfigError(f"capacity memory: {exc}") from None
                if memory < 1024**2:
                    raise ConfigError("capacity memory must be at least 1MiB")
            elif name == "cpu":
                try:
                    cpu = float(value)
                except ValueError:
                    raise ConfigError(f"capacity cpu {value!r} is not a number") from None
                if not 0 < cpu <= 4096:
                    raise ConfigError("capacity cpu must be above 0 and at most 4096")
            else:
                raise ConfigError(f"unknown capacity {name!r}: use memory and cpu")
        return cls(memory, cpu)

    def describe(self) -> str:
        """``memory=4GiB,cpu=2``."""
        return f"memory={compact_bytes(self.memory)},cpu={self.cpu:g}"


class Reservations:
    """What the attempts a worker runs hold of its capacity."""

    def __init__(self, capacity: Capacity, default_memory: int | None = None) -> None:
        if default_memory is not None and default_memory > capacity.memory:
            raise ConfigError(
                f"the memory limit per job ({format_bytes(default_memory)}) is more than "
                f"the worker's memory capacity ({format_bytes(capacity.memory)})"
            )
        self.capacity = capacity
        self.default_memory = default_memory
        self.memory = 0
        self.cpu = 0.0
        self._held: dict[Hashable, tuple[int, float]] = {}

    def request(self, job: Job) -> tuple[int, float]:
        """The memory and CPU ``job`` is counted at."""
        return job.memory or self.default_memory or 0, job.cpu or 0.0

    def never_fits(self, job: Job) -> str | None:
        """Why ``job`` can never run on this worker (its request exceeds the capacity)."""
        memory, cpu = self.request(job)
        if memory > self.capacity.memory:
            return (
                f"needs memory {format_bytes(memory)}, more than this worker's "
                f"{format_bytes(self.capacity.memory)}"
            )
        if cpu > self.capacity.cpu + 1e-9:
            return f"needs cpu {cpu:g}, more than this worker's {self.capacity.cpu:g}"
        return None

    def reserve(self, key: Hashable, job: Job) -> bool:
        """Hold ``job``'s request under ``key`` if it fits in what is free now."""
        if key in self._held:  # reclaimed by this worker while it still runs: held once
            return True
        memory, cpu = self.request(job)
        if self.memory + memory > self.capacity.memory or (
            self.cpu + cpu > self.capacity.cpu + 1e-9
        ):
            return False
        self.memory += memory
        self.cpu += cpu
        self._held[key] = (memory, cpu)
        return True

    def release(self, key: Hashable) -> None:
        """Give back what ``key`` held (nothing if it held nothing)."""
        memory, cpu = self._held.pop(key, (0, 0.0))
        self.memory -= memory
        self.cpu = max(0.0, self.cpu - cpu)

    def to_dict(self) -> dict[str, Any]:
        """Capacity and reservations, as the worker announces them."""
        return {
            "capacity": {"memory": self.capacity.memory, "cpu": self.capacity.cpu},
            "reserved": {"memory": self.memory, "cpu": round(self.cpu, 3)},
        }


class Admission:
    """Which read jobs start now, which wait for room (oldest first), which go back."""

    def __init__(self, reservations: Reservations) -> None:
        self.reservations = reservations
        self.waiting: list[Delivery] = []
        """Read and leased, waiting for their request to fit in what is free."""

    def sort(self, batch: list[Delivery]) -> tuple[list[Delivery], list[Delivery], list[Delivery]]:
        """``batch`` as (start now, now waiting, hand back: never fits here).

        Nothing starts ahead of a waiting job: a big request is not starved by small ones.
        """
        now: list[Delivery] = []
        later: list[Delivery] = []
        back: list[Delivery] = []
        for d in batch:
            why = self.reservations.never_fits(d.job)
            if why is not None:
                log.info("handing back %s/%s: it %s", d.job.run, d.job.node, why)
                back.append(d)
            elif not self.waiting and self.reservations.reserve(d, d.job):
                now.append(d)
            else:
                self.waiting.append(d)
                later.append(d)
        return now, later, back

    def ready(self) -> list[Delivery]:
        """Waiting jobs whose requests fit now (reserved), oldest first."""
        started: list[Delivery] = []
        while self.waiting and self.reservations.reserve(self.waiting[0], self.waiting[0].job):
            started.append(self.waiting.pop(0))
        return started

    def to_dict(self) -> dict[str, Any]:
        """Capacity, reservations and the number waiting, as the worker announces them."""
        return {**self.reservations.to_dict(), "waitingForRoom": len(self.waiting)}
