"""Replay's node logs as of the cursor, and compare's differing outputs, against a real
API, a real worker and the test Redis (Pilot)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from app.screens.compare import OUTPUT_DIFFERS, CompareScreen
from app.screens.monitor import MonitorScreen
from app.screens.replay import LOG_PAGE, ReplayScreen
from orchestrator.wire.runs import RunLogs
from orchestrator.worker.registry import HandlerContext, Registry
from tests.tui import ops_fixtures
from tests.tui.ops_fixtures import OpsStack, running_worker, wait_for

ops = ops_fixtures.ops

SIZE = (120, 40)
CHATTY = "chatty"


def chatty_spec() -> dict[str, Any]:
    """talk (fails its first attempt, retried after 200 ms) -> echo (outputs param n)."""
    return {
        "id": CHATTY,
        "name": "Chatty",
        "parameters": {"n": {"type": "integer", "default": 1}},
        "nodes": [
            {
                "id": "talk",
                "type": "task",
                "handler": "chattyStep",
                "retries": 1,
                "retry_policy": {"backoff": "fixed", "initial_interval": 0.2},
            },
            {"id": "echo", "type": "task", "handler": "echoParam"},
        ],
        "edges": [{"source": "talk", "target": "echo"}],
    }


def _registry() -> Registry:
    registry = Registry()

    def chatty(data: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
        ctx.logger.info("attempt %d begins", ctx.attempt)
        if ctx.attempt == 1:
            raise RuntimeError("the first try fails")
        ctx.logger.info("the second try worked")
        return {"said": "hello"}

    def echo(data: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
        return {"n": ctx.params.get("n")}

    registry.register("chattyStep", chatty)
    registry.register("echoParam", echo)
    return registry


async def _runs(ops: OpsStack, *params: int) -> list[str]:
    """Runs of the chatty workflow, one per ``n``, each ended."""
    async with ops.client() as client:
        await client.create_workflow(chatty_spec())
    ids = []
    async with running_worker(ops.settings, _registry(), concurrency=2):
        for n in params:
            run_id = await ops.start_run(CHATTY, {"n": n})
            assert (await ops.wait_run(run_id)).status == "completed"
            ids.append(run_id)
    return ids


async def _monitor(pilot: Any) -> MonitorScreen:
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, MonitorScreen), what="monitor")
    screen = pilot.app.screen
    assert isinstance(screen, MonitorScreen)
    await wait_for(pilot, lambda: screen.runs_list.total > 0, what="the runs list")
    return screen


def _count_log_reads(screen: MonitorScreen) -> list[tuple[str | None, str | None]]:
    """Record each ``run_logs`` call of the replay: (node, since) (the monitor under it
    reads its selected node's logs through the same client, a page of 100 at a time)."""
    client = screen.session.client
    real: Callable[..., Awaitable[RunLogs]] = client.run_logs
    calls: list[tuple[str | None, str | None]] = []

    async def counted(run_id: str, node_id: str | None = None, **kw: Any) -> RunLogs:
        if kw.get("limit") == LOG_PAGE:
            calls.append((node_id, kw.get("since")))
        return await real(run_id, node_id, **kw)

    client.run_logs = counted  # type: ignore[method-assign]
    return calls


async def test_replay_shows_the_node_logs_as_of_the_cursor(ops: OpsStack) -> None:
    (run_id,) = await _runs(ops, 1)
    async with ops.app("operator").run_test(size=SIZE) as pilot:
        monitor = await _monitor(pilot)
        calls = _count_log_reads(monitor)
        screen = ReplayScreen(monitor.session, run_id)
        await pilot.app.push_screen(screen)
        await wait_for(pilot, lambda: screen.model is not None, what="the replay")
        model = screen.model
        assert model is not None
        details = screen.query_one("#replay-node")

        def text() -> str:
            return str(details.text)  # type: ignore[attr-defined]

        # The first attempt has failed (its error recorded); the retry has not started.
        failed = next(p for p in range(model.count) if model.nodes(p)["talk"].get("error"))
        screen.canvas.select("talk")
        screen.show_position(failed)
        await wait_for(pilot, lambda: "attempt 1 begins" in text(), what=f"attempt 1: {text()}")
        assert "attempt 1 · ✗ failed" in text()
        assert "attempt 2" not in text() and "second try" not in text()
        assert "more lines written after this moment" in text()  # attempt 2's

        await pilot.press("end")  # the run's end: both attempts, every line
        await wait_for(pilot, lambda: "second try worked" in text(), what=f"the end: {text()}")
        assert "attempt 1 · ✗ failed" in text() and "attempt 2 · ✓ completed" in text()
        assert "INFO    attempt 2 begins" in text()
        assert "after this moment" not in text()

        await pilot.press("home")  # before the first event: no attempt had started
        await wait_for(pilot, lambda: "attempt 1" not in text(), what=f"the start: {text()}")
        assert "more lines written after this moment" in text()

        for _ in range(model.count):  # every step: the logs were read once, not per step
            await pilot.press("right")
        assert "second try worked" in text()
        assert [c for c in calls if c[0] == "talk" and c[1] is None] == [("talk", None)]
        assert {node for node, _ in calls} == {"talk"}


async def test_compare_marks_the_one_node_whose_output_differs(ops: OpsStack) -> None:
    run_a, run_b = await _runs(ops, 1, 2)
    async with ops.app("operator").run_test(size=SIZE) as pilot:
        monitor = await _monitor(pilot)
        screen = CompareScreen(monitor.session, run_a, run_b)
        await pilot.app.push_screen(screen)
        await wait_for(pilot, lambda: screen.diff is not None, what="the comparison")
        await pilot.pause()
        text = str(screen.query_one("#compare-text").render())
        assert "≠ 1 node differs" in text
        assert "≠ echo  DIFFERS" in text and "/n changed  A 1  B 2" in text
        assert "= same: talk" in text and "≠ talk" not in text
        canvas = screen.query_one("#compare-canvas")
        assert canvas._heat == {"echo": ("#f7768e", OUTPUT_DIFFERS)}  # type: ignore[attr-defined]
        assert "1 output differs" in str(canvas.border_title)
