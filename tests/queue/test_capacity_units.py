"""A worker's capacity as written on the command line, and its reservations."""

from __future__ import annotations

import pytest

from orchestrator.errors import ConfigError
from orchestrator.protocol import Job
from orchestrator.worker.capacity import Capacity, Reservations

GIB = 1024**3
MACHINE = Capacity(16 * GIB, 4.0)


def job(memory: int | None = None, cpu: float | None = None) -> Job:
    return Job(run="r", node="n", attempt=1, token="t", handler="h", memory=memory, cpu=cpu)


def test_capacity_parses_and_defaults_to_the_machine() -> None:
    assert Capacity.parse("memory=4GiB,cpu=2", MACHINE) == Capacity(4 * GIB, 2.0)
    assert Capacity.parse("cpu=0.5", MACHINE) == Capacity(16 * GIB, 0.5)
    assert Capacity.parse("", MACHINE) == MACHINE
    assert Capacity.parse(" memory = 1GiB ", MACHINE).describe() == "memory=1GiB,cpu=4"
    machine = Capacity.of_machine()
    assert machine.memory > 0 and machine.cpu >= 1


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("memory", "name=value"),
        ("memory=lots", "is not a size"),
        ("memory=10KiB", "at least 1MiB"),
        ("cpu=none", "not a number"),
        ("cpu=0", "above 0"),
        ("disk=1GiB", "unknown capacity 'disk'"),
    ],
)
def test_bad_capacities_say_why(text: str, why: str) -> None:
    with pytest.raises(ConfigError, match=why):
        Capacity.parse(text, MACHINE)


def test_reservations_hold_and_give_back() -> None:
    held = Reservations(Capacity(GIB, 2.0))
    big, other = job(768 * 1024**2, 1.0), job(768 * 1024**2)
    assert held.reserve("a", big)
    assert held.reserve("a", big)  # the same attempt twice is held once
    assert not held.reserve("b", other)
    held.release("a")
    assert held.reserve("b", other) and held.memory == 768 * 1024**2 and held.cpu == 0
    held.release("b")
    held.release("never-held")
    assert (held.memory, held.cpu) == (0, 0.0)
    assert held.never_fits(job(2 * GIB)) == "needs memory 2 GiB, more than this worker's 1 GiB"
    assert held.never_fits(job(cpu=3)) == "needs cpu 3, more than this worker's 2"
    assert held.never_fits(job()) is None


def test_undeclared_memory_counts_at_the_per_job_limit() -> None:
    held = Reservations(Capacity(GIB, 2.0), default_memory=512 * 1024**2)
    assert held.reserve("a", job()) and held.reserve("b", job())
    assert not held.reserve("c", job())
    with pytest.raises(ConfigError, match="more than the worker's memory capacity"):
        Reservations(Capacity(GIB, 2.0), default_memory=2 * GIB)
