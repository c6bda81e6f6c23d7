"""Retries: attempt counts, backoff maths, configured defaults, timeouts and caps."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from orchestrator.engine.config import EngineConfig
from orchestrator.engine.retry import RetryRule, delay_s, should_retry
from orchestrator.engine.state import NodeState
from orchestrator.settings import Settings

from .helpers import Run, dispatched, emitted, finished, graph_of, task, timers


@pytest.mark.parametrize(
    ("backoff", "initial", "cap", "mult", "attempt", "expected"),
    [
        ("fixed", 5.0, 60.0, 2.0, 1, 5.0),
        ("fixed", 5.0, 60.0, 2.0, 9, 5.0),
        ("fixed", 90.0, 60.0, 2.0, 1, 60.0),  # capped
        ("linear", 2.0, 60.0, 2.0, 1, 2.0),
        ("linear", 2.0, 60.0, 2.0, 3, 6.0),
        ("linear", 2.0, 7.0, 2.0, 4, 7.0),
        ("exponential", 1.0, 60.0, 2.0, 1, 1.0),
        ("exponential", 1.0, 60.0, 2.0, 2, 2.0),
        ("exponential", 1.0, 60.0, 2.0, 4, 8.0),
        ("exponential", 1.0, 60.0, 2.0, 7, 60.0),  # 64 capped to 60
        ("exponential", 0.5, 100.0, 3.0, 3, 4.5),
        ("exponential", 1.0, 60.0, 2.0, 10_000, 60.0),  # no overflow on huge attempts
        ("exponential", 0.0, 60.0, 2.0, 3, 0.0),
    ],
)
def test_delay_between_attempts(
    backoff: Any, initial: float, cap: float, mult: float, attempt: int, expected: float
) -> None:
    rule = RetryRule(max_attempts=3, backoff=backoff, initial_s=initial, max_s=cap, multiplier=mult)
    assert delay_s(rule, attempt) == pytest.approx(expected)


@pytest.mark.parametrize("backoff", ["fixed", "linear", "exponential"])
@pytest.mark.parametrize("attempt", [1, 2, 3, 5])
def test_jitter_stays_within_twenty_percent_and_the_cap_and_is_deterministic(
    backoff: Any, attempt: int
) -> None:
    plain = RetryRule(max_attempts=9, backoff=backoff, initial_s=2.0, max_s=20.0)
    jittered = RetryRule(max_attempts=9, backoff=backoff, initial_s=2.0, max_s=20.0, jitter=True)
    base = delay_s(plain, attempt)
    values = {delay_s(jittered, attempt, seed=f"run-{i}:node") for i in range(200)}
    assert all(0.8 * base - 1e-9 <= v <= min(1.2 * base, 20.0) + 1e-9 for v in values)
    assert len(values) > 50  # the seeds really spread the delays
    # Pure: the same seed always gives the same delay (replayable in the simulator).
    assert delay_s(jittered, attempt, seed="r:n:0") == delay_s(jittered, attempt, seed="r:n:0")


@pytest.mark.parametrize(
    ("max_attempts", "made", "again"), [(1, 1, False), (3, 1, True), (3, 2, True), (3, 3, False)]
)
def test_should_retry(max_attempts: int, made: int, again: bool) -> None:
    assert should_retry(RetryRule(max_attempts=max_attempts), made) is again


def test_engine_defaults_are_the_designs_retry_policy() -> None:
    graph = graph_of({"nodes": [task("a")]})
    rule = EngineConfig().rule_for(graph.spec, graph.nodes["a"])
    assert rule == RetryRule(max_attempts=3, backoff="exponential", initial_s=1.0, max_s=60.0)


@pytest.fixture
def clean_settings_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No DAGQ_* variables and no config file in reach: the built-in defaults."""
    for name in list(os.environ):
        if name.startswith("DAGQ_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DAGQ_DATA_DIR", str(tmp_path))
    monkeypatch.chdir(tmp_path)


@pytest.mark.usefixtures("clean_settings_env")
def test_config_from_settings_carries_the_retry_policy_and_limits() -> None:
    default = EngineConfig.from_settings(Settings())
    assert default.retry == RetryRule(max_attempts=3, backoff="exponential", initial_s=1, max_s=60)
    assert (default.max_retry_attempts, default.max_parallel, default.max_duration_s) == (
        5,
        10,
        3600,
    )
    custom = EngineConfig.from_settings(
        Settings(
            workflow={
                "execution": {
                    "default_timeout": 30,
                    "retry_policy": {
                        "max_attempts": 4,
                        "backoff": "fixed",
                        "initial_interval": "2s",
                    },
                },
                "resource_limits": {"max_parallel_executions": 3, "max_retry_attempts": 1},
            }
        )
    )
    assert custom.retry.max_attempts == 4
    assert custom.retry.backoff == "fixed"
    assert custom.retry.initial_s == 2.0
    assert (custom.default_timeout_s, custom.max_parallel, custom.max_retry_attempts) == (30, 3, 1)


@pytest.mark.parametrize(
    ("node_retries", "spec_max_retries", "cap", "attempts"),
    [
        (None, None, 5, 3),  # configured default: max_attempts 3
        (0, None, 5, 1),
        (2, None, 5, 3),  # the seed's `retries: 2`
        (4, 1, 5, 5),  # the node wins over the workflow
        (None, 1, 5, 2),  # the workflow's max_retries
        (10, None, 5, 6),  # max_retry_attempts caps retries
        (10, None, 0, 1),
        (None, 9, 2, 3),
    ],
)
def test_attempts_are_retries_plus_one_within_the_cap(
    node_retries: int | None, spec_max_retries: int | None, cap: int, attempts: int
) -> None:
    node = task("a") if node_retries is None else task("a", retries=node_retries)
    spec: dict[str, Any] = {"nodes": [node]}
    if spec_max_retries is not None:
        spec["config"] = {"max_retries": spec_max_retries}
    run = Run(spec, config=EngineConfig(max_retry_attempts=cap))
    run.fail_for_good("a")
    assert run.node("a").attempts == attempts
    assert run.events().count("node_queued") == attempts
    assert run.events().count("node_retrying") == attempts - 1
    assert run.run_status() == "failed"


@pytest.mark.parametrize(
    ("policy", "delays_ms"),
    [
        (None, [1000, 2000, 4000]),  # defaults: exponential from 1s
        ({"backoff": "fixed", "initial_interval": "5s"}, [5000, 5000, 5000]),
        ({"backoff": "linear", "initial_interval": "3s"}, [3000, 6000, 9000]),
        (
            {"backoff": "exponential", "initial_interval": "10s", "max_interval": "25s"},
            [10000, 20000, 25000],
        ),
        ({"type": "fixed", "initial_interval": "250ms"}, [250, 250, 250]),  # reference spelling
    ],
)
def test_each_failed_attempt_starts_a_backoff_timer_then_redispatches_with_a_new_token(
    policy: dict[str, Any] | None, delays_ms: list[int]
) -> None:
    node = task("a", retries=3, input={"k": 1})
    if policy is not None:
        node["retry_policy"] = policy
    run = Run({"nodes": [node]})
    tokens = [run.token("a")]
    for attempt, delay in enumerate(delays_ms, start=1):
        cmds = run.fail("a", f"err {attempt}")
        [timer] = timers(cmds)
        assert timer.node == "a"
        assert timer.token == tokens[-1]
        assert timer.due_ms == run.now + delay
        assert run.status("a") == "waiting"
        assert run.node("a").due_ms == timer.due_ms
        assert run.node("a").last_error == f"err {attempt}"
        assert emitted(cmds) == ["node_retrying"]
        assert dispatched(cmds) == []
        cmds = run.fire("a")
        [job] = dispatched(cmds)
        assert job.attempt == attempt + 1
        assert job.token not in tokens
        assert job.input == {"k": 1}  # the same input every attempt
        tokens.append(job.token)
    cmds = run.succeed("a", {"done": True})
    assert run.node("a").attempts == 4
    assert run.node("a").last_error is None
    assert finished(cmds) == ["completed"]


def test_jittered_policy_gives_the_same_timer_on_replay() -> None:
    spec = {
        "nodes": [
            task(
                "a",
                retries=2,
                retry_policy={"backoff": "fixed", "initial_interval": "10s", "jitter": True},
            )
        ]
    }
    dues = []
    for _ in range(2):
        run = Run(spec)
        [timer] = timers(run.fail("a"))
        dues.append(timer.due_ms - run.now)
    assert dues[0] == dues[1]
    assert 8000 <= dues[0] <= 12000


@pytest.mark.parametrize(
    ("error", "recorded"),
    [
        ("exceeded 30s", "timeout: exceeded 30s"),
        ("handler timed out after 30s", "handler timed out after 30s"),  # already says so
        ("Timeout", "Timeout"),
    ],
)
def test_a_timeout_fails_the_attempt_counts_and_says_timeout(error: str, recorded: str) -> None:
    run = Run({"nodes": [task("a", retries=1, timeout="30s")]})
    cmds = run.fail("a", error, timed_out=True)
    assert run.status("a") == "waiting"
    assert run.node("a").last_error == recorded
    assert "time" in recorded.lower()
    [event] = [c for c in cmds if getattr(c, "type", None) == "node_retrying"]
    assert event.data["timeout"] is True  # type: ignore[union-attr]
    run.fire("a")
    cmds = run.fail("a", error, timed_out=True)
    assert run.node("a").attempts == 2  # the timeout counted as an attempt
    assert run.status("a") == "failed"
    assert run.run_status() == "failed"
    assert "time" in (run.state.error or "").lower()
    assert finished(cmds) == ["failed"]


def test_gateways_and_delays_never_retry() -> None:
    graph = graph_of({"nodes": [{"id": "d", "type": "delay", "duration": "1s"}, task("a")]})
    cfg = EngineConfig()
    assert cfg.rule_for(graph.spec, graph.nodes["d"]).max_attempts == 1


def test_node_state_keeps_attempts_across_a_retry() -> None:
    run = Run({"nodes": [task("a", retries=1)]})
    run.fail("a")
    waiting: NodeState = run.node("a")
    assert (waiting.attempts, waiting.worker) == (1, None)
    run.fire("a")
    assert run.node("a").attempts == 2
    assert run.job("a").attempt == 2
