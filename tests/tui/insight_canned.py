"""Canned replay, Gantt, diff and stats answers, computed by the real code over driven runs.

Two runs of the fan-out workflow of ``tests/engine/test_timeline.py`` are driven through
the engine's transitions with fixed times; the answers are what the service would send
for them (:mod:`orchestrator.service.insight`), so the pictures hold no clock.
"""

from __future__ import annotations

from orchestrator.api import insight_schemas as si
from orchestrator.api import schemas
from orchestrator.engine import timeline as tl
from orchestrator.engine.compare import compare_runs, node_stats
from orchestrator.engine.config import EngineConfig
from orchestrator.engine.events import NodeStarted, NodeSucceeded, TimerFired
from orchestrator.service.insight import History, _frames, _gantt
from orchestrator.spec.export import spec_to_data
from orchestrator.store.event_codec import StoredEvent
from orchestrator.wire.ops import Gantt, HandlerInfo, ReplayFrames, RunDiff, WorkflowStats
from orchestrator.wire.runs import VersionRecord
from tests.engine.helpers import T0
from tests.engine.test_replay import RecordedRun
from tests.engine.test_timeline import SPEC, _run
from tests.tui.ops_canned import CannedClient

WORKFLOW = "wf"
RUN_A, RUN_B = "run-00000000fan0001", "run-00000000fan0002"


def _drive(run_id: str, slow_ms: int, rows: int) -> RecordedRun:
    run = RecordedRun(SPEC, run_id=run_id)
    _run(run, "prep", 10, 100)
    run.now = T0 + 110
    _run(run, "slow", 5, slow_ms, fail=True)
    run.now = T0 + 110
    _run(run, "fast", 20, 300)
    due = run.node("slow").due_ms or 0
    run.now = due
    run.send(TimerFired("slow", run.token("slow"), due))
    _run(run, "slow", 15, slow_ms + 200)
    token = run.token("report")
    run.send(NodeStarted("report", token, run.now + 10, "w1"))
    run.send(NodeSucceeded("report", token, run.now + 40, {"rows": rows, "report": "ok"}))
    assert run.run_status() == "completed"
    return run


def history(run: RecordedRun) -> History:
    """The run as the service reads it back from Redis."""
    events = [
        StoredEvent(f"{e.at_ms}-{i}", e.type, e.at_ms, e.node, dict(e.data))
        for i, e in enumerate(run.rec.events)
    ]
    return History(run.state, run.graph, events)


A, B = history(_drive(RUN_A, 300, 120)), history(_drive(RUN_B, 600, 95))
CFG = EngineConfig()
STEPS = {RUN_A: _frames(A, CFG), RUN_B: _frames(B, CFG)}
GANTT = {
    rid: {**_gantt(h), "runId": rid, "workflowId": WORKFLOW, "workflowVersion": 1,
          "status": h.state.status, "startTime": "2023-11-14T22:13:20Z", "completeFrom": None}
    for rid, h in ((RUN_A, A), (RUN_B, B))
}  # fmt: skip


def _timeline(h: History) -> tl.Timeline:
    return tl.build(h.graph, h.events, h.state.start_ms)


DIFF = compare_runs(
    A.state, B.state,
    tl.node_durations(_timeline(A)), tl.node_durations(_timeline(B)),
    execution=(tl.node_execution(_timeline(A)), tl.node_execution(_timeline(B))),
)  # fmt: skip
STATS = {
    "workflowId": WORKFLOW,
    "runs": 2,
    "runIds": [RUN_B, RUN_A],
    "nodes": node_stats(
        [tl.node_durations(_timeline(h)) for h in (A, B)],
        [tl.node_execution(_timeline(h)) for h in (A, B)],
    ),
}
VERSION = {
    "version": 1, "workflowId": WORKFLOW, "spec": spec_to_data(A.graph.spec),
    "createdAt": "2026-01-15T08:00:00.000Z", "createdBy": "ada", "changeLog": "first version",
}  # fmt: skip


def check_shapes() -> None:
    """Every canned answer validates with the API's response models."""
    for steps in STEPS.values():
        si.ReplayFrames.model_validate(steps)
    for gantt in GANTT.values():
        si.Gantt.model_validate(gantt)
    si.RunDiff.model_validate(DIFF)
    si.WorkflowStats.model_validate(STATS)
    schemas.WorkflowVersion.model_validate(VERSION)


class InsightClient(CannedClient):
    """The ops screens' canned client plus the insight answers."""

    async def get_version(self, workflow_id: str, version: int) -> VersionRecord:
        """The fan-out workflow for its runs, Example 2 for the saga."""
        if workflow_id == WORKFLOW:
            return VersionRecord.model_validate(VERSION)
        return await super().get_version(workflow_id, version)

    async def handlers(self) -> list[HandlerInfo]:
        """A live worker for each handler of the fan-out workflow (so the designer's
        Problems shows no handler warnings)."""
        names = {n.handler for n in A.graph.spec.nodes if n.type == "task"}
        return [HandlerInfo(name=str(name), workers=["w-1"]) for name in sorted(names)]

    async def replay_steps(self, run_id: str) -> ReplayFrames:
        """Run A's or B's replay."""
        return ReplayFrames.model_validate(STEPS.get(run_id, STEPS[RUN_A]))

    async def run_gantt(self, run_id: str) -> Gantt:
        """Run A's or B's Gantt chart."""
        return Gantt.model_validate(GANTT.get(run_id, GANTT[RUN_A]))

    async def diff_runs(self, run_a: str, run_b: str) -> RunDiff:
        """A against B."""
        return RunDiff.model_validate(DIFF)

    async def workflow_stats(self, workflow_id: str, *, last: int = 20) -> WorkflowStats:
        """Both runs' percentiles."""
        return WorkflowStats.model_validate(STATS)
