"""Replay a run in memory with the real transitions: the designer's "simulate".

Every dispatched job succeeds at once with its input as output, unless
``outcomes`` says otherwise: a dict (the output), or an exception message
string (the attempt fails). Timers fire immediately.  No Redis, no workers.
A map's items take the outcome given for their key (``per_record[3]``), else the
one given for the map node; the list a map reads comes from the simulated output
of the node before it (``outcomes["load"] = {"records": [...]}``).  A sub-workflow
(a node's, or a map item's) is simulated as one node: its outcome, else its parameters.

People and events are played by ``choices`` (node id -> choice): an approval is
``approve``d (the default: by as many people as it requires), ``reject``ed or left to
``timeout``; a signal ``arrive``s (the default, with an empty payload, or the payload
given as a dict), is left to ``timeout`` or ``never`` comes.  A signal that arrives for
a node a cancelling join already cancelled is refused, as in a real run, and ignored.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from orchestrator.engine.commands import Command, Dispatch, Emit, PostInbox, StartTimer
from orchestrator.engine.config import EngineConfig
from orchestrator.engine.events import (
    ChildStarted,
    Decided,
    Event,
    NodeFailed,
    NodeStarted,
    NodeSucceeded,
    SignalSent,
    TimerFired,
)
from orchestrator.engine.state import RunState, split_item
from orchestrator.engine.transitions import apply, start
from orchestrator.errors import DagqError
from orchestrator.spec.graph import Graph
from orchestrator.spec.model import ApprovalNode, SignalNode
from orchestrator.vocab import EventType

Outcome = Mapping[str, Any] | str
Choice = str | Mapping[str, Any]
"""``approve``/``reject``/``timeout`` for an approval; ``arrive``/``timeout``/``never`` or a
payload (it arrives) for a signal."""


@dataclass(frozen=True, slots=True)
class Simulation:
    """The final state and every event the run emitted, in order."""

    state: RunState
    events: list[Emit]


def simulate(
    graph: Graph,
    params: Mapping[str, Any] | None = None,
    outcomes: Mapping[str, Outcome | list[Outcome]] | None = None,
    *,
    config: EngineConfig | None = None,
    max_steps: int = 100_000,
    choices: Mapping[str, Choice] | None = None,
) -> Simulation:
    """Run ``graph`` to its end in memory.

    ``outcomes[node_id]`` is one outcome for every attempt, or a list consumed
    attempt by attempt (the last one repeats).
    """
    cfg = config or EngineConfig()
    clock = 0
    state, commands = start(
        graph,
        run_id="simulation",
        workflow_version=1,
        params=params or {},
        now_ms=clock,
        config=cfg,
    )
    events: list[Emit] = []
    pending: deque[Event] = deque()

    chosen = dict(choices or {})

    def waits(node_id: str) -> bool:
        """A waiting node whose timer only fires when the choice is to let it time out."""
        node = graph.nodes.get(node_id)
        return isinstance(node, ApprovalNode | SignalNode) and chosen.get(node_id) != "timeout"

    def people_and_events(cmd: Emit) -> None:
        node = graph.nodes.get(cmd.node or "")
        choice = chosen.get(cmd.node or "")
        if isinstance(node, ApprovalNode) and cmd.type == EventType.APPROVAL_REQUESTED:
            # Simulated people the node's approvers allow: its users, then its first role.
            users = list(node.approvers.users) if node.approvers else []
            role = node.approvers.roles[0] if node.approvers and node.approvers.roles else None
            people = [(u, None) for u in users] + [
                (f"simulated-{i + 1}", role) for i in range(node.required)
            ]
            if choice in (None, "approve"):
                for by, as_role in people[: node.required]:
                    pending.append(Decided(node.id, clock, by, as_role, True))
            elif choice == "reject":
                by, as_role = people[0]
                pending.append(Decided(node.id, clock, by, as_role, False))
        elif (
            isinstance(node, SignalNode)
            and cmd.type == EventType.NODE_WAITING
            and (choice is None or choice == "arrive" or isinstance(choice, Mapping))
        ):
            payload = dict(choice) if isinstance(choice, Mapping) else {}
            pending.append(SignalSent(node.signal, clock, payload, "simulation"))

    def absorb(cmds: list[Command]) -> None:
        for cmd in cmds:
            if isinstance(cmd, Emit):
                events.append(cmd)
                people_and_events(cmd)
            elif isinstance(cmd, Dispatch):
                job = cmd.job
                pending.append(NodeStarted(job.node, job.token, clock))
                outcome = _outcome(outcomes, job.node, job.attempt)
                item = split_item(job.node)
                if outcome is None and item is not None:
                    outcome = _outcome(outcomes, item[0], job.attempt)
                if isinstance(outcome, str):
                    pending.append(NodeFailed(job.node, job.token, clock, outcome))
                else:
                    out = dict(job.input) if outcome is None else dict(outcome)
                    pending.append(NodeSucceeded(job.node, job.token, clock, out))
            elif isinstance(cmd, PostInbox) and cmd.message.type == "child":
                # A sub-workflow is simulated as one node: its outcome, else success.
                msg = cmd.message
                assert msg.node is not None and msg.token is not None
                pending.append(ChildStarted(msg.node, msg.token, clock, f"child-{msg.node}"))
                item = split_item(msg.node)
                outcome = _outcome(outcomes, msg.node, 1)
                if outcome is None and item is not None:
                    outcome = _outcome(outcomes, item[0], 1)
                if isinstance(outcome, str):
                    pending.append(NodeFailed(msg.node, msg.token, clock, outcome))
                else:
                    request = msg.output or {}
                    out = (
                        dict(outcome) if outcome is not None else dict(request.get("params") or {})
                    )
                    pending.append(NodeSucceeded(msg.node, msg.token, clock, out))
            elif isinstance(cmd, StartTimer) and not waits(cmd.node):
                pending.append(TimerFired(cmd.node, cmd.token, max(clock, cmd.due_ms)))

    absorb(commands)
    steps = 0
    while pending and not state.terminal and steps < max_steps:
        event = pending.popleft()
        clock = max(clock, event.at_ms)
        try:
            state, commands = apply(graph, state, event, cfg)
        except DagqError:
            if not isinstance(event, Decided | SignalSent):
                raise
            continue  # refused, as it would be in a real run (the step no longer waits)
        absorb(commands)
        steps += 1
    return Simulation(state=state, events=events)


def _outcome(
    outcomes: Mapping[str, Outcome | list[Outcome]] | None, node: str, attempt: int
) -> Outcome | None:
    if not outcomes or node not in outcomes:
        return None
    chosen = outcomes[node]
    if isinstance(chosen, list):
        return chosen[min(attempt, len(chosen)) - 1] if chosen else None
    return chosen
