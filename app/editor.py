"""The editing model of a workflow under design: no Textual, tested alone.

The designer edits *data*, not a :class:`~orchestrator.spec.model.WorkflowSpec`: a
workflow being drawn is invalid most of the time (a task without its handler yet, an
edge to a node not drawn yet), and the model refuses to exist in those states.  So
:class:`Editor` keeps the spec's plain JSON form (snake_case dicts, what export
writes) and offers the design's builder operations over it: add/remove/move nodes,
connect/disconnect edges, set properties, undo/redo, and whether it differs from what
was loaded or saved (:attr:`Editor.dirty`, by content: undoing back is not a change).
The local
validator judges the data after every edit (:meth:`Editor.validate`); the canvas
draws it even when invalid (:meth:`Editor.canvas_graph`); :meth:`Editor.to_spec`
builds the model when the design is complete.

Every mutation is one undo step.  Snapshots are whole copies of the data: a 500-node
workflow is a few hundred kilobytes and copies in about a millisecond, which keeps
undo trivially correct for renames and cascading deletes.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from app.canvas.model import CanvasEdge, CanvasGraph, CanvasNode, as_canvas_graph, graph_from_spec
from app.kinds import KINDS
from app.simulation import renamed, with_setting
from orchestrator.errors import BadRequest, Conflict, NotFound
from orchestrator.settings import Settings
from orchestrator.spec.diff import edge_key
from orchestrator.spec.export import dump_spec, spec_to_data
from orchestrator.spec.limits import judge_data
from orchestrator.spec.loader import Format, build_spec, spec_invalid
from orchestrator.spec.model import ID_PATTERN, NODE_TYPES, WorkflowSpec, slugify
from orchestrator.spec.validator import DEFAULT_MAX_NODES, ValidationResult, validate_data

UNDO_LIMIT = 200
_ID = re.compile(ID_PATTERN)
_WORKFLOW_KEYS = frozenset(
    {"name", "description", "tags", "parameters", "metadata", "compensation_strategy",
     "transaction_mode", "config"}
)  # fmt: skip
_RECORD_KEYS = ("status", "createdAt", "updatedAt", "createdBy", "updatedBy")


def spec_data_from_api(workflow: Mapping[str, Any]) -> dict[str, Any]:
    """The spec part of the API's ``Workflow`` object (record fields dropped), in its
    clean export form (defaults left out) when it builds."""
    data = {k: v for k, v in workflow.items() if k not in _RECORD_KEYS}
    spec, _ = build_spec(data)
    return spec_to_data(spec) if spec is not None else data


class Editor:
    """A workflow being designed: its data, its undo history, whether it changed.

    ``workflow_id`` is the id the API stores it under (None until first saved);
    ``version`` the stored version this design started from; ``read_only`` is set for
    old versions, which refuse every edit.
    """

    def __init__(
        self,
        data: Mapping[str, Any] | None = None,
        *,
        workflow_id: str | None = None,
        version: int | None = None,
        read_only: bool = False,
    ) -> None:
        base: dict[str, Any] = copy.deepcopy(dict(data)) if data else {}
        base.setdefault("name", "Untitled workflow")
        base.setdefault("nodes", [])
        base.setdefault("edges", [])
        if not isinstance(base["nodes"], list) or not isinstance(base["edges"], list):
            raise BadRequest("a workflow's nodes and edges must be lists")
        self._data: dict[str, Any] = base
        self.workflow_id = workflow_id
        self.version = version
        self.read_only = read_only
        self._undo: list[dict[str, Any]] = []
        self._redo: list[dict[str, Any]] = []
        self._saved: dict[str, Any] | None = copy.deepcopy(base)

    @classmethod
    def from_spec(cls, spec: WorkflowSpec, **kwargs: Any) -> Editor:
        """An editor over ``spec`` (its clean export form)."""
        return cls(spec_to_data(spec), **kwargs)

    # -- reading -----------------------------------------------------------------------
    @property
    def name(self) -> str:
        """The workflow's name."""
        return str(self._data.get("name") or "")

    @property
    def nodes(self) -> list[dict[str, Any]]:
        """The node dicts (a copy; edit through the methods)."""
        return copy.deepcopy(self._data["nodes"])

    @property
    def edges(self) -> list[dict[str, Any]]:
        """The edge dicts (a copy; edit through the methods)."""
        return copy.deepcopy(self._data["edges"])

    def node(self, node_id: str) -> dict[str, Any]:
        """A copy of the node ``node_id``; NotFound when there is none."""
        return copy.deepcopy(self._node(node_id))

    def edge(self, key: str) -> dict[str, Any]:
        """A copy of the edge with this key (see :func:`edge_key`)."""
        return copy.deepcopy(self._edge(key))

    def node_ids(self) -> list[str]:
        """Node ids in listed order."""
        return [str(n.get("id")) for n in self._data["nodes"]]

    def outgoing(self, node_id: str) -> list[dict[str, Any]]:
        """Copies of the edges leaving ``node_id``."""
        return [copy.deepcopy(e) for e in self._data["edges"] if e.get("source") == node_id]

    def to_data(self, positions: Mapping[str, tuple[int, int]] | None = None) -> dict[str, Any]:
        """The workflow as plain data (what the API and the validator take).

        ``positions`` fills in the nodes that have none yet (what the canvas drew), so
        a saved or exported workflow re-opens exactly as it looked.
        """
        data = copy.deepcopy(self._data)
        if not data.get("id"):
            data["id"] = self.workflow_id or slugify(self.name)
        for node in data["nodes"]:
            at = (positions or {}).get(str(node.get("id")))
            if at is not None and not node.get("position"):
                node["position"] = {"x": at[0], "y": at[1]}
        return data

    def validate(self, settings: Settings | None = None) -> ValidationResult:
        """Everything the validator finds (never raises); with ``settings``, judged against
        the deployment's limits too, as the API will judge it when saved."""
        if settings is None:
            return validate_data(self.to_data(), max_nodes=DEFAULT_MAX_NODES)
        return judge_data(self.to_data(), settings)

    def to_spec(self, positions: Mapping[str, tuple[int, int]] | None = None) -> WorkflowSpec:
        """The model of this design; SpecInvalid (with every schema issue) when incomplete."""
        spec, issues = build_spec(self.to_data(positions))
        if spec is None:
            raise spec_invalid(issues, self.name or "workflow")
        return spec

    def export(
        self, fmt: Format = "yaml", positions: Mapping[str, tuple[int, int]] | None = None
    ) -> str:
        """YAML or JSON text of this design (it must build; see :meth:`to_spec`)."""
        return dump_spec(self.to_spec(positions), fmt)

    def canvas_graph(self) -> CanvasGraph:
        """What the canvas draws: the model's graph when it builds, else the raw nodes/edges.

        Duplicate ids and edges to missing nodes are drawn as far as possible; the
        validator's marks tell the user what is wrong.
        """
        spec, _ = build_spec(self.to_data())
        if spec is not None:
            return graph_from_spec(spec)
        nodes: list[CanvasNode] = []
        seen: set[str] = set()
        for raw in self._data["nodes"]:
            nid = raw.get("id")
            if not isinstance(nid, str) or not nid or nid in seen:
                continue
            seen.add(nid)
            pos = raw.get("position")
            at = None
            if isinstance(pos, dict) and _number(pos.get("x")) and _number(pos.get("y")):
                at = (round(pos["x"]), round(pos["y"]))
            kind = raw.get("type") if raw.get("type") in NODE_TYPES else "task"
            label = raw.get("name") if isinstance(raw.get("name"), str) else ""
            nodes.append(CanvasNode(id=nid, label=label or nid, kind=str(kind), position=at))
        edges = [
            CanvasEdge(
                source=str(e["source"]),
                target=str(e["target"]),
                id=edge_key(e),
                label=edge_label(e),
            )
            for e in self._data["edges"]
            if e.get("source") in seen and e.get("target") in seen
        ]
        return as_canvas_graph(CanvasGraph(tuple(nodes), tuple(edges)))

    @property
    def dirty(self) -> bool:
        """True when the design differs from the data it was loaded or last saved from
        (compared by content: editing and undoing back is not a change)."""
        return self._saved is None or self._comparable(self._data) != self._comparable(self._saved)

    def set_baseline(self, data: Mapping[str, Any] | None) -> None:
        """What :attr:`dirty` compares with: the stored design (None: nothing stored yet,
        so the design counts as modified until saved)."""
        self._saved = copy.deepcopy(dict(data)) if data is not None else None

    def _comparable(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """``data`` as saved: its id filled in, the store's version left out."""
        out = {k: v for k, v in data.items() if k != "version"}
        out["id"] = out.get("id") or self.workflow_id or slugify(str(out.get("name") or ""))
        return out

    # -- history -----------------------------------------------------------------------
    @property
    def can_undo(self) -> bool:
        """True when there is an edit to undo."""
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        """True when there is an undone edit to redo."""
        return bool(self._redo)

    def undo(self) -> bool:
        """Undo the last edit; False when there is none."""
        if not self._undo:
            return False
        self._redo.append(self._data)
        self._data = self._undo.pop()
        return True

    def redo(self) -> bool:
        """Redo the last undone edit; False when there is none."""
        if not self._redo:
            return False
        self._undo.append(self._data)
        self._data = self._redo.pop()
        return True

    def mark_saved(
        self, *, workflow_id: str, version: int | None, saved: Mapping[str, Any] | None = None
    ) -> None:
        """Record a successful save of ``saved`` (the data sent; default: the current data):
        the design is now stored under ``workflow_id`` and is modified only where it
        differs from ``saved``."""
        self.workflow_id = workflow_id
        self.version = version
        self._data["id"] = workflow_id
        self.set_baseline({**(saved if saved is not None else self._data), "id": workflow_id})

    def _begin(self) -> dict[str, Any]:
        """Start an edit: refuse on read-only, push the undo snapshot, return the data."""
        if self.read_only:
            raise Conflict("this is an old version, opened read-only; open the current one to edit")
        self._undo.append(copy.deepcopy(self._data))
        del self._undo[:-UNDO_LIMIT]
        self._redo.clear()
        return self._data

    # -- nodes ---------------------------------------------------------------------------
    def new_node_id(self, node_type: str) -> str:
        """A free id for a new node of ``node_type``: ``task_1``, ``task_2``..."""
        taken = set(self.node_ids())
        n = 1
        while f"{node_type}_{n}" in taken:
            n += 1
        return f"{node_type}_{n}"

    def add_node(
        self,
        node_type: str,
        *,
        node_id: str | None = None,
        position: tuple[int, int] | None = None,
        **props: Any,
    ) -> str:
        """Add a node of ``node_type`` (one of the six) and return its id."""
        if node_type not in NODE_TYPES:
            raise BadRequest(
                f"unknown node type '{node_type}'; choose one of {', '.join(NODE_TYPES)}"
            )
        nid = node_id or self.new_node_id(node_type)
        _check_id(nid)
        if nid in self.node_ids():
            raise Conflict(f"there is already a node '{nid}'", node_id=nid)
        node: dict[str, Any] = {"id": nid, "type": node_type, **KINDS[node_type].defaults}
        node.update({k: v for k, v in props.items() if v is not None})
        if position is not None:
            node["position"] = {"x": position[0], "y": position[1]}
        self._begin()["nodes"].append(node)
        return nid

    def remove_node(self, node_id: str) -> None:
        """Delete a node, its edges, and the compensation links that named it."""
        self._node(node_id)
        data = self._begin()
        data["nodes"] = [n for n in data["nodes"] if n.get("id") != node_id]
        data["edges"] = [
            e for e in data["edges"] if node_id not in (e.get("source"), e.get("target"))
        ]
        for node in data["nodes"]:
            for link in ("compensation", "compensates"):
                if node.get(link) == node_id:
                    del node[link]
        _rename_simulated(data, node_id, None)

    def move_node(self, node_id: str, x: int, y: int) -> None:
        """Save where the node is drawn (zoom-1 cells)."""
        node = self._node(node_id)
        if node.get("position") == {"x": x, "y": y}:
            return
        self._begin()
        self._node(node_id)["position"] = {"x": max(0, x), "y": max(0, y)}

    def set_positions(self, positions: Mapping[str, tuple[int, int]]) -> None:
        """Replace every listed node's position at once (a re-layout): one undo step."""
        data = self._begin()
        for node in data["nodes"]:
            at = positions.get(str(node.get("id")))
            if at is not None:
                node["position"] = {"x": max(0, at[0]), "y": max(0, at[1])}

    def set_property(self, node_id: str, key: str, value: Any) -> None:
        """Set one field of a node (None or ``""`` removes it); ``id`` renames everywhere."""
        self._node(node_id)
        if key == "id":
            self.rename_node(node_id, str(value))
            return
        if key == "type":
            raise BadRequest("a node's type cannot change; add a new node instead")
        if self._node(node_id).get(key) == value:
            return
        self._begin()
        node = self._node(node_id)
        if value is None or value == "":
            node.pop(key, None)
        else:
            node[key] = copy.deepcopy(value)

    def rename_node(self, node_id: str, new_id: str) -> None:
        """Change a node's id, updating its edges and compensation links."""
        self._node(node_id)
        if new_id == node_id:
            return
        _check_id(new_id)
        if new_id in self.node_ids():
            raise Conflict(f"there is already a node '{new_id}'", node_id=new_id)
        data = self._begin()
        for node in data["nodes"]:
            if node.get("id") == node_id:
                node["id"] = new_id
            for link in ("compensation", "compensates"):
                if node.get(link) == node_id:
                    node[link] = new_id
        for edge in data["edges"]:
            derived = edge.get("id") in (None, "", f"{edge.get('source')}->{edge.get('target')}")
            for end in ("source", "target"):
                if edge.get(end) == node_id:
                    edge[end] = new_id
            if derived:
                edge.pop("id", None)
        _rename_simulated(data, node_id, new_id)

    def set_simulated(self, node_id: str, key: str, value: Any) -> None:
        """Set what the node does when the design is simulated (``app.simulation``: its
        output, or that it fails); kept in the workflow's metadata."""
        self._node(node_id)
        metadata = with_setting(self._data.get("metadata"), node_id, key, value)
        if metadata == (self._data.get("metadata") or {}):
            return
        data = self._begin()
        if metadata:
            data["metadata"] = metadata
        else:
            data.pop("metadata", None)

    # -- edges ---------------------------------------------------------------------------
    def connect(self, source: str, target: str, *, condition: Any = None) -> str:
        """Add the edge ``source -> target`` and return its key.

        An edge out of a decision node takes the branch not used yet (``true``, then
        ``false``) unless ``condition`` is given, so drawing a decision's two arrows
        gives it both branches.
        """
        src = self._node(source)
        self._node(target)
        if source == target:
            raise BadRequest(f"a node cannot depend on itself ('{source}')", node_id=source)
        if any(
            e.get("source") == source and e.get("target") == target for e in self._data["edges"]
        ):
            raise Conflict(f"{source} -> {target} is connected already", node_id=source)
        if condition is None and src.get("type") == "decision":
            used = {e.get("condition") for e in self._data["edges"] if e.get("source") == source}
            condition = True if True not in used else (False if False not in used else None)
        edge: dict[str, Any] = {"source": source, "target": target}
        if condition is not None:
            edge["condition"] = condition
        self._begin()["edges"].append(edge)
        return edge_key(edge)

    def disconnect(self, key: str) -> None:
        """Remove the edge with this key."""
        self._edge(key)
        data = self._begin()
        data["edges"] = [e for e in data["edges"] if edge_key(e) != key]

    def set_edge_property(self, key: str, name: str, value: Any) -> None:
        """Set an edge's ``condition``, ``default`` or ``label`` (None/"" removes it)."""
        if name not in ("condition", "default", "label"):
            raise BadRequest(f"an edge has no property '{name}' (condition, default, label)")
        if self._edge(key).get(name) == value:
            return
        self._begin()
        edge = self._edge(key)
        if value is None or value == "" or (name == "default" and value is False):
            edge.pop(name, None)
        else:
            edge[name] = value

    # -- workflow ------------------------------------------------------------------------
    def set_workflow_property(self, key: str, value: Any) -> None:
        """Set a workflow-level field (name, description, tags, parameters...)."""
        if key not in _WORKFLOW_KEYS:
            raise BadRequest(
                f"'{key}' is not a workflow property; one of {', '.join(sorted(_WORKFLOW_KEYS))}"
            )
        if self._data.get(key) == value:
            return
        data = self._begin()
        if value is None or value == "":
            data.pop(key, None)
        else:
            data[key] = copy.deepcopy(value)

    # -- lookups -------------------------------------------------------------------------
    def _node(self, node_id: str) -> dict[str, Any]:
        for node in self._data["nodes"]:
            if node.get("id") == node_id:
                return node  # type: ignore[no-any-return]
        raise NotFound(f"no node '{node_id}' in this workflow", node_id=node_id)

    def _edge(self, key: str) -> dict[str, Any]:
        for edge in self._data["edges"]:
            if edge_key(edge) == key:
                return edge  # type: ignore[no-any-return]
        raise NotFound(f"no edge '{key}' in this workflow")


def _rename_simulated(data: dict[str, Any], old: str, new: str | None) -> None:
    """Carry a node's simulated behaviour over a rename (``new``) or a delete (None)."""
    if "metadata" in data:
        data["metadata"] = renamed(data["metadata"], old, new)


def _check_id(node_id: str) -> None:
    if not node_id or len(node_id) > 128 or not _ID.match(node_id):
        raise BadRequest(
            f"'{node_id}' is not a valid node id: use letters, digits, '_' and '-' (1-128)"
        )


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0


def edge_label(edge: Mapping[str, Any]) -> str | None:
    """What the canvas writes on an edge: its label, its condition, or ``default``."""
    if isinstance(edge.get("label"), str) and edge["label"]:
        return str(edge["label"])
    cond = edge.get("condition")
    if cond is True:
        return "true"
    if cond is False:
        return "false"
    if isinstance(cond, str) and cond:
        return cond
    return "default" if edge.get("default") else None
