"""kill -9 of every process (API, orchestrator, worker) while a run waits for people and
signals: the waiting run is only Redis state, so new processes pick it up and it completes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import aiohttp

from orchestrator.security.policy_file import ensure_policies_dir
from orchestrator.security.users import UserStore
from tests.integration.conftest import Stack, StackFactory
from tests.integration.test_faults import HANDLERS, Processes, processes

__all__ = ["processes"]

WAITS: dict[str, Any] = {
    "name": "waits",
    "nodes": [
        {"id": "first", "type": "task", "handler": "quick"},
        {"id": "ok", "type": "approval", "message": "go?", "timeout": "1h"},
        {"id": "paid", "type": "signal", "signal": "paid", "timeout": "1h"},
        {"id": "tmo", "type": "signal", "signal": "never", "timeout": "1500ms",
         "on_timeout": "continue"},
        {"id": "last", "type": "task", "handler": "quick"},
    ],
    "edges": [
        {"source": "first", "target": "ok"},
        {"source": "ok", "target": "paid", "condition": True},
        {"source": "paid", "target": "tmo"},
        {"source": "tmo", "target": "last"},
    ],
}  # fmt: skip
_LISTENING = re.compile(r"dagq api listening on (http://\S+)")


class Everything:
    """An API, an orchestrator and a worker, all real processes."""

    def __init__(self, stack: Stack, processes: Processes, policies: Path, logs: Path) -> None:
        self.stack = stack
        self.processes = processes
        self.policies = policies
        self.logs = logs
        self.url = ""

    async def start(self) -> None:
        p = self.processes
        p.start("worker", "--handlers", HANDLERS, "--no-orchestrator")
        p.start("orchestrator")
        p.start("api", "--host", "127.0.0.1", "--port", "0", "--policies", str(self.policies),
                "--no-orchestrator")  # fmt: skip
        log = self.logs / f"api-{len(p.procs) - 1}.log"

        async def listening() -> bool:
            found = _LISTENING.search(log.read_text(errors="replace")) if log.exists() else None
            if found:
                self.url = found.group(1)
            return found is not None

        await self.stack.until(listening, timeout_s=60)

    def kill_all(self) -> None:
        for proc in self.processes.procs:
            if proc.poll() is None:
                self.processes.kill9(proc)


async def _status(stack: Stack, run_id: str, node: str) -> str:
    return (await stack.service.get(run_id)).nodes[node].status


async def test_kill_9_of_every_process_while_a_run_waits(
    make_stack: StackFactory, processes: Processes, tmp_path: Path
) -> None:
    stack = await make_stack(visibility_timeout=1)
    policies = ensure_policies_dir(tmp_path / "policies")
    _, key = UserStore.in_dir(policies).add("ada", "operator")
    marks = tmp_path / "marks"
    marks.mkdir()
    spec = await stack.workflow(WAITS)
    procs = Everything(stack, processes, policies, tmp_path)
    await procs.start()
    run = await stack.service.start(spec.id, {"marker_dir": str(marks)})

    async def status_is(node: str, status: str) -> bool:
        return await _status(stack, run.run_id, node) == status

    await stack.until(lambda: status_is("ok", "waiting"), timeout_s=60)
    procs.kill_all()
    await procs.start()
    headers = {"X-API-Key": key}
    async with aiohttp.ClientSession(procs.url, headers=headers) as http:
        resp = await http.post(
            f"/api/v1/runs/{run.run_id}/nodes/ok/decision", json={"approve": True}
        )
        assert resp.status == 200, await resp.text()
    await stack.until(lambda: status_is("paid", "waiting"), timeout_s=60)
    procs.kill_all()
    await procs.start()
    async with aiohttp.ClientSession(procs.url, headers=headers) as http:
        resp = await http.post(f"/api/v1/runs/{run.run_id}/signals/paid", json={"at": 1})
        assert resp.status == 202, await resp.text()
    # the timeout of "tmo" is a Redis timer: it fires for the processes started after it
    await stack.until(lambda: status_is("tmo", "waiting"), timeout_s=60)
    procs.kill_all()
    await procs.start()
    final = await stack.wait(run.run_id, timeout_s=90)
    assert final.status == "completed", final.error
    assert final.nodes["tmo"].output == {"timed_out": True}
    assert final.nodes["paid"].output == {"at": 1}
    assert [d["by"] for d in (final.nodes["ok"].output or {})["decisions"]] == ["ada"]
