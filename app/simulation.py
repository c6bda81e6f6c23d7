"""The designer's simulation: what each node pretends to do, and the result in words.

A node's simulated behaviour is kept in the workflow's ``metadata`` under
``simulation`` (``{node id: {"output": {...}, "fails": "why"}}``), so it travels with
the spec through save, export and import.  A task without one returns its input, as
the engine's simulator does; ``fails`` makes each of its attempts fail, to see the
failure path, the retries and the saga's compensations.  No Textual here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from orchestrator.engine.simulate import Choice, Outcome, Simulation
from orchestrator.vocab import NodeStatus, RunStatus

SIMULATION_KEY = "simulation"
"""The key of ``metadata`` holding each node's simulated behaviour."""
OUTPUT = "sim_output"
FAILS = "sim_fails"
"""The inspector's keys of a node's simulated output and failure."""
SUCCEEDS, FAILS_CHOICE = "succeeds", "fails"
CHOICE = "sim_choice"
"""The inspector's key of what people or senders do to an approval or signal node."""
APPROVAL_CHOICES = ("approve", "reject", "timeout")
SIGNAL_CHOICES = ("arrive", "timeout", "never")
DEFAULT_FAILURE = "simulated failure"


def simulated(metadata: Any) -> dict[str, dict[str, Any]]:
    """``metadata.simulation`` as node id -> settings (anything malformed left out)."""
    table = metadata.get(SIMULATION_KEY) if isinstance(metadata, Mapping) else None
    if not isinstance(table, Mapping):
        return {}
    return {str(k): dict(v) for k, v in table.items() if isinstance(v, Mapping)}


def inspector_values(metadata: Any, node_id: str) -> dict[str, Any]:
    """The node's simulated output (JSON text) and failure choice, as the inspector shows them."""
    entry = simulated(metadata).get(node_id, {})
    output = entry.get("output")
    return {
        OUTPUT: json.dumps(output) if isinstance(output, Mapping) else None,
        FAILS: FAILS_CHOICE if entry.get("fails") else None,
        CHOICE: entry.get("choice") if isinstance(entry.get("choice"), str) else None,
    }


def with_setting(metadata: Any, node_id: str, key: str, value: Any) -> dict[str, Any]:
    """``metadata`` with one of the node's simulated settings changed (None removes it)."""
    out = dict(metadata) if isinstance(metadata, Mapping) else {}
    table = simulated(out)
    entry = table.get(node_id, {})
    if key == OUTPUT:
        entry.pop("output", None)
        if value is not None:
            entry["output"] = json.loads(value) if isinstance(value, str) else dict(value)
    elif key == FAILS:
        entry.pop("fails", None)
        if value == FAILS_CHOICE:
            entry["fails"] = DEFAULT_FAILURE
    elif key == CHOICE:
        entry.pop("choice", None)
        if value:
            entry["choice"] = str(value)
    if entry:
        table[node_id] = entry
    else:
        table.pop(node_id, None)
    if table:
        out[SIMULATION_KEY] = table
    else:
        out.pop(SIMULATION_KEY, None)
    return out


def renamed(metadata: Any, old: str, new: str | None) -> Any:
    """``metadata`` after a node is renamed (``new``) or deleted (None)."""
    table = simulated(metadata)
    if old not in table:
        return metadata
    entry = table.pop(old)
    if new is not None:
        table[new] = entry
    out = dict(metadata)
    if table:
        out[SIMULATION_KEY] = table
    else:
        out.pop(SIMULATION_KEY, None)
    return out


def outcomes(metadata: Any) -> dict[str, Outcome]:
    """What the engine's simulator gives each node: its failure, or its output."""
    out: dict[str, Outcome] = {}
    for node_id, entry in simulated(metadata).items():
        if entry.get("fails"):
            out[node_id] = str(entry["fails"])
        elif isinstance(entry.get("output"), Mapping):
            out[node_id] = dict(entry["output"])
    return out


def choices(metadata: Any) -> dict[str, Choice]:
    """What the simulated approvers and senders do: an approval's choice; a signal's choice,
    or its payload (the node's simulated output) when it arrives."""
    out: dict[str, Choice] = {}
    for node_id, entry in simulated(metadata).items():
        choice = entry.get("choice")
        if isinstance(entry.get("output"), Mapping) and choice in (None, "arrive"):
            out[node_id] = dict(entry["output"])
        elif isinstance(choice, str):
            out[node_id] = choice
    return out


def check_output(text: str) -> str | None:
    """A simulated output must be a JSON object (``{"quality": 0.97}``)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return f'not JSON: {exc.msg} (column {exc.colno}); e.g. {{"quality": 0.97}}'
    return None if isinstance(value, dict) else 'a JSON object, e.g. {"quality": 0.97}'


@dataclass(frozen=True, slots=True)
class Verdict:
    """A simulation's outcome in words."""

    failed: bool
    title: str
    message: str
    statuses: dict[str, str]


def verdict(run: Simulation) -> Verdict:
    """What the simulated run did, as a person would say it."""
    state = run.state
    statuses = {nid: str(node.status) for nid, node in state.nodes.items()}

    def having(status: NodeStatus) -> list[str]:
        return [nid for nid, s in statuses.items() if s == status]

    done = having(NodeStatus.COMPLETED)
    skipped = having(NodeStatus.SKIPPED)
    if state.status == RunStatus.COMPLETED:
        extra = f"; skipped: {', '.join(skipped)}" if skipped else ""
        return Verdict(
            False,
            "Simulation completed ✓",
            f"{len(done)} nodes completed{extra}.",
            statuses,
        )
    if state.status == RunStatus.RUNNING:
        waiting = having(NodeStatus.WAITING)
        return Verdict(
            False,
            "Simulation: still waiting ⏸",
            f"The run would wait at {', '.join(waiting) or 'a node'}: no decision or signal, "
            "and no timeout (choose what happens in its properties, i).",
            statuses,
        )
    reason = _reason(state.error_node, state.error)
    failed_node = state.nodes.get(state.error_node or "")
    attempts = failed_node.attempts if failed_node is not None else 0
    tries = f" ({attempts} attempts)" if attempts > 1 else ""
    parts = [f"The run would fail at {state.error_node or 'a node'}: {reason}{tries}."]
    undone = having(NodeStatus.COMPENSATED)
    if undone:
        parts.append(f"The saga undoes {', '.join(undone)}.")
    if state.status == RunStatus.COMPENSATED:
        parts.append("Every compensation succeeded.")
    if "condition" in reason:
        parts.append("Give the node before it a simulated output with that value (i).")
    compensated = state.status == RunStatus.COMPENSATED
    title = "Simulation: failed, then compensated ✗" if compensated else "Simulation: failed ✗"
    return Verdict(True, title, " ".join(parts), statuses)


def _reason(node: str | None, error: str | None) -> str:
    """The engine's error without its ``node X failed:`` prefix."""
    text = error or "it failed"
    prefix = f"node {node} failed: "
    return text[len(prefix) :] if node and text.startswith(prefix) else text
