"""Workflow files in and out: YAML or JSON text -> :class:`WorkflowSpec`, and back.

Reading is defensive because specs arrive from users and over HTTP: documents over
2 MiB are refused before parsing, YAML goes through the *safe* loader only, and the
parsed data is copied into plain JSON values with a budget, so an alias bomb
("billion laughs") or a self-referencing anchor becomes a ``PARSE`` error instead of
an exponential walk in pydantic.  Every failure is a :class:`SpecInvalid` whose
``details["errors"]`` are issue dicts of the validator's result shape.

Writing (:func:`dump_spec`) gives clean snake_case in a readable key order, leaves
defaults out, writes durations as ``1m30s`` and loads back to an equal model.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import ValidationError

from orchestrator.errors import BadRequest, NotFound, SpecInvalid
from orchestrator.spec.model import NODE_TYPES, WorkflowSpec
from orchestrator.spec.schedule import ScheduleSpec, parse_schedules

Format = Literal["yaml", "json"]
MAX_DOCUMENT_BYTES = 2 * 1024 * 1024
MAX_NESTING = 64
"""Deepest nesting of lists/mappings accepted in a document (the API's default too)."""
_ALIAS_SLACK = 10_000
"""Values allowed beyond one per character (YAML merge keys legitimately reuse a little)."""

# libyaml's loader is ~10x faster than the pure-Python one; both are the *safe* loaders.
_SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True, slots=True)
class SpecIssue:
    """One validation error or warning, as reported by the loader and the validator."""

    code: str
    message: str
    node_id: str | None = None
    edge_id: str | None = None
    path: str | None = None
    suggestion: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """``{"code", "message", "nodeId"?, "edgeId"?, "path"?, "suggestion"?}``."""
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.node_id is not None:
            out["nodeId"] = self.node_id
        if self.edge_id is not None:
            out["edgeId"] = self.edge_id
        if self.path is not None:
            out["path"] = self.path
        if self.suggestion is not None:
            out["suggestion"] = self.suggestion
        return out


def spec_invalid(issues: list[SpecIssue], filename: str = "<input>") -> SpecInvalid:
    """A :class:`SpecInvalid` carrying ``issues`` as ``details["errors"]``."""
    first = issues[0].message if issues else "invalid workflow"
    extra = len(issues) - 1
    more = f" (and {extra} more problem{'s' if extra > 1 else ''})" if extra else ""
    return SpecInvalid(
        f"{filename}: {first}{more}",
        node_id=issues[0].node_id if issues else None,
        details={"errors": [i.to_dict() for i in issues]},
    )


def _parse_error(message: str, filename: str) -> SpecInvalid:
    return spec_invalid([SpecIssue("PARSE", message)], filename)


# --- parsing ----------------------------------------------------------------------------


def detect_format(filename: str, text: str) -> Format:
    """``json`` for ``*.json`` or text that starts with ``{``; otherwise ``yaml``."""
    suffix = Path(filename).suffix.lower()
    if suffix == ".json":
        return "json"
    if suffix in (".yaml", ".yml"):
        return "yaml"
    return "json" if text.lstrip().startswith("{") else "yaml"


def parse_document(text: str, filename: str = "<input>", fmt: Format | None = None) -> Any:
    """Parse ``text`` as YAML or JSON into plain JSON data; ``SpecInvalid`` (PARSE) if not.

    With ``fmt=None`` the format is guessed (:func:`detect_format`); a guessed JSON
    document that fails to parse is retried as YAML (a YAML flow mapping also starts
    with ``{``), and the JSON error is reported when both fail.
    """
    if not isinstance(text, str):
        raise _parse_error(f"expected text, got {type(text).__name__}", filename)
    if len(text) > MAX_DOCUMENT_BYTES or len(text.encode("utf-8", "surrogatepass")) > (
        MAX_DOCUMENT_BYTES
    ):
        raise _parse_error(
            f"the document is larger than the {MAX_DOCUMENT_BYTES // (1024 * 1024)} MiB limit",
            filename,
        )
    chosen = fmt or detect_format(filename, text)
    if chosen == "json":
        try:
            return _load_json(text)
        except _ParseFailure as json_failure:
            if fmt is None:
                try:
                    return _load_yaml(text)
                except _ParseFailure:
                    pass
            raise _parse_error(str(json_failure), filename) from None
    try:
        return _load_yaml(text)
    except _ParseFailure as failure:
        raise _parse_error(str(failure), filename) from None


class _ParseFailure(Exception):
    """Internal: why a document did not parse (message already human)."""


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _load_json(text: str) -> Any:
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise _ParseFailure(f"line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except ValueError as exc:
        raise _ParseFailure(f"invalid JSON: {exc}") from None
    except RecursionError:
        raise _ParseFailure(f"the document is nested more than {MAX_NESTING} levels deep") from None
    if nested_deeper_than(data, MAX_NESTING):
        raise _ParseFailure(f"the document is nested more than {MAX_NESTING} levels deep")
    return data


def nested_deeper_than(data: Any, limit: int) -> bool:
    """Whether ``data`` holds objects/lists more than ``limit`` levels deep (a scalar or an
    empty top-level container is level 0).  Iterative, and stops at the first offender."""
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if not isinstance(value, dict | list):
            continue
        children: Iterable[Any] = value.values() if isinstance(value, dict) else value
        if depth >= limit:
            return True
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return False


def _load_yaml(text: str) -> Any:
    # What yaml.safe_load does, with libyaml when available: never yaml.load/full_load.
    loader = _SafeLoader(text)
    try:
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        context = f"{exc.context}; " if exc.context else ""
        raise _ParseFailure(f"{where}{context}{exc.problem or 'invalid YAML'}") from None
    except yaml.YAMLError as exc:
        raise _ParseFailure(f"invalid YAML: {exc}") from None
    except RecursionError:
        raise _ParseFailure(f"the document is nested more than {MAX_NESTING} levels deep") from None
    finally:
        loader.dispose()
    budget = [len(text) + _ALIAS_SLACK]
    try:
        return _plain(data, budget, 0)
    except _NotJson as exc:
        parts = list(reversed(exc.path))
        if len(parts) > 6:  # a 100-deep path helps nobody
            parts = [*parts[:3], "...", *parts[-2:]]
        where = "".join(parts).lstrip(".") or "the top level"
        raise _ParseFailure(f"{where}: {exc.reason}") from None


class _NotJson(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.path: list[str] = []


def _key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    if isinstance(key, int | float):
        return str(key)
    if isinstance(key, dt.date):
        return key.isoformat()
    raise _NotJson(f"a mapping key of type {type(key).__name__} cannot be held in JSON")


def _plain(value: Any, budget: list[int], depth: int) -> Any:
    """Copy YAML data into JSON values, refusing alias bombs, cycles and exotic types."""
    budget[0] -= 1
    if budget[0] < 0:
        raise _NotJson(
            "the document expands to far more values than it has characters; "
            "YAML aliases (*name) used this way are refused"
        )
    if isinstance(value, str | bool | int) or value is None:
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _NotJson(f"{value} is not a number JSON can hold")
        return value
    if depth >= MAX_NESTING:
        raise _NotJson(f"nested more than {MAX_NESTING} levels deep (or a self-referencing alias)")
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            name = _key(k)
            try:
                out[name] = _plain(v, budget, depth + 1)
            except _NotJson as exc:
                exc.path.append(f".{name}")
                raise
        return out
    if isinstance(value, list):
        items: list[Any] = []
        for i, v in enumerate(value):
            try:
                items.append(_plain(v, budget, depth + 1))
            except _NotJson as exc:
                exc.path.append(f"[{i}]")
                raise
        return items
    if isinstance(value, dt.date):  # datetime is a date too; YAML timestamps become text
        return value.isoformat()
    if isinstance(value, bytes):
        raise _NotJson("binary data (!!binary) cannot be held in JSON")
    raise _NotJson(f"a {type(value).__name__} value cannot be held in JSON")


# --- model errors -----------------------------------------------------------------------

_CODE_OF_TYPE = {
    "bad_duration": "BAD_DURATION",
    "bad_cron": "BAD_CRON",
    "delay_spec": "DELAY_SPEC",
    "map_target": "MAP_TARGET",
    "approvers": "APPROVERS",
    "bad_pattern": "BAD_PATTERN",
    "decision_branches": "DECISION_BRANCHES",
}
_UNION_MEMBERS = frozenset({"bool", "constrained-str", "str"})


def _short(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _json_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return "nothing" if value is None else type(value).__name__


def _item(raw: dict[str, Any], key: str, index: int) -> dict[str, Any] | None:
    items = raw.get(key)
    if isinstance(items, list) and 0 <= index < len(items) and isinstance(items[index], dict):
        item: dict[str, Any] = items[index]
        return item
    return None


def _text_for(err: Any, field: str) -> str:
    kind, msg, value = err["type"], err["msg"], err.get("input")
    ctx = err.get("ctx") or {}
    if kind == "missing":
        return f"missing required field '{field}'"
    if kind == "extra_forbidden":
        return f"unknown field '{field}'"
    if kind == "union_tag_invalid":
        return f"unknown node type {_short(ctx.get('tag'))}; use one of {', '.join(NODE_TYPES)}"
    if kind == "union_tag_not_found":
        return f"the node has no 'type'; use one of {', '.join(NODE_TYPES)}"
    if kind in ("model_attributes_type", "model_type", "dict_type"):
        return f"expected a mapping, got {_json_kind(value)}"
    if kind == "list_type":
        return f"expected a list, got {_json_kind(value)}"
    if kind == "string_pattern_mismatch" and field in ("id", "source", "target", "compensation"):
        return f"{_short(value)} is not a valid id: use letters, digits, '_' and '-'"
    if kind == "string_pattern_mismatch" and field == "handler":
        return (
            f"{_short(value)} is not a valid handler name: start with a letter or '_', "
            "then letters, digits, '_', '.', ':' or '-'"
        )
    if kind in _CODE_OF_TYPE:
        return str(msg)
    got = f" (got {_short(value)})" if value is not None and not isinstance(value, dict) else ""
    return f"{msg[:1].lower()}{msg[1:]}{got}"


def _format_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out.lstrip(".")


def schema_issues(exc: ValidationError, raw: Any) -> list[SpecIssue]:
    """Turn pydantic's errors into SCHEMA / BAD_DURATION / BAD_CRON / DELAY_SPEC issues.

    Paths are snake_case-ish as written (``nodes[2].retry_policy.initial_interval``);
    an error inside ``nodes[i]`` names the node when the raw node has an id.
    """
    data: dict[str, Any] = raw if isinstance(raw, dict) else {}
    issues: list[SpecIssue] = []
    seen: set[tuple[str, str]] = set()
    name_broken = not isinstance(data.get("name"), str) or not data["name"].strip()
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        node: dict[str, Any] | None = None
        edge: dict[str, Any] | None = None
        if len(loc) >= 2 and loc[0] == "nodes" and isinstance(loc[1], int):
            node = _item(data, "nodes", loc[1])
            # pydantic puts the discriminator's tag after the index: drop it from the path
            if len(loc) >= 3 and node is not None and loc[2] == node.get("type"):
                loc = loc[:2] + loc[3:]
        elif len(loc) >= 2 and loc[0] == "edges" and isinstance(loc[1], int):
            edge = _item(data, "edges", loc[1])
        if loc and loc[-1] in _UNION_MEMBERS and len(loc) >= 2 and loc[-2] == "condition":
            loc = loc[:-1]  # one message for "bool or expression", not one per member
        if loc == ("id",) and err["type"] == "missing" and name_broken:
            continue  # the id derives from the name; the missing name says it all
        field = str(loc[-1]) if loc else ""
        path = _format_path(loc)
        code = _CODE_OF_TYPE.get(err["type"], "SCHEMA")
        text = _text_for(err, field)
        if field == "condition" and err["type"] == "string_too_long":
            code, text = (
                "BAD_EXPRESSION",
                "the expression is longer than its limit of 1024 characters",
            )
        elif field == "condition" and loc[0] == "edges":
            got = _short(err.get("input"))
            text = f"condition must be true, false or a non-empty expression (got {got})"
        elif loc == ("nodes",) and err["type"] == "too_short":
            text = "a workflow needs at least one node"
        if (path, text) in seen:
            continue
        seen.add((path, text))
        node_id = node.get("id") if node is not None else None
        node_id = node_id if isinstance(node_id, str) else None
        edge_id = _edge_label(edge) if edge is not None else None
        issues.append(
            SpecIssue(
                code,
                _locate(node_id, edge_id, loc, text, err["type"]),
                node_id=node_id,
                edge_id=edge_id,
                path=path or None,
            )
        )
    return issues


def _edge_label(edge: dict[str, Any]) -> str | None:
    if isinstance(edge.get("id"), str) and edge["id"]:
        return str(edge["id"])
    source, target = edge.get("source"), edge.get("target")
    if isinstance(source, str) and isinstance(target, str):
        return f"{source}->{target}"
    return None


def _locate(
    node_id: str | None, edge_id: str | None, loc: tuple[Any, ...], text: str, kind: str
) -> str:
    # the text of "missing" and "unknown field" errors names the field already
    parent = loc[:-1] if kind in ("missing", "extra_forbidden") and loc else loc
    if node_id is not None or edge_id is not None:
        where = f"node '{node_id}'" if node_id is not None else f"edge '{edge_id}'"
        rest = _format_path(parent[2:])
        if not rest and node_id is not None and f"'{node_id}'" in text:
            return text  # e.g. DELAY_SPEC names the node itself
        where += f", {rest}" if rest else ""
    else:
        where = _format_path(parent)
    if not where:
        return text[:1].upper() + text[1:]
    return f"{where}: {text}"


def build_spec(raw: Any) -> tuple[WorkflowSpec | None, list[SpecIssue]]:
    """Build the model from parsed data: ``(spec, [])`` or ``(None, issues)``."""
    if not isinstance(raw, dict):
        got = "an empty document" if raw is None else _json_kind(raw)
        return None, [
            SpecIssue("SCHEMA", f"a workflow must be a mapping with 'name' and 'nodes', got {got}")
        ]
    try:
        return WorkflowSpec.model_validate(raw), []
    except ValidationError as exc:
        return None, schema_issues(exc, raw)
    except RecursionError:
        return None, [SpecIssue("SCHEMA", "the document is nested too deeply")]


# --- public entry points ----------------------------------------------------------------


def load_text(text: str, *, filename: str = "<input>", fmt: Format | None = None) -> WorkflowSpec:
    """Parse and build a :class:`WorkflowSpec` (graph checks are the validator's business).

    Raises :class:`SpecInvalid` with PARSE or SCHEMA-family issues in ``details["errors"]``.
    """
    spec, issues = build_spec(parse_document(text, filename, fmt))
    if spec is None:
        raise spec_invalid(issues, filename)
    return spec


def read_document(path: str | os.PathLike[str]) -> str:
    """The text of a spec file; ``NotFound``/``BadRequest`` when unreadable, PARSE when too big."""
    file = Path(path)
    try:
        if file.stat().st_size > MAX_DOCUMENT_BYTES:
            raise _parse_error(
                f"the file is larger than the {MAX_DOCUMENT_BYTES // (1024 * 1024)} MiB limit",
                str(path),
            )
        data = file.read_bytes()
    except FileNotFoundError:
        raise NotFound(f"{path}: no such file") from None
    except IsADirectoryError:
        raise BadRequest(f"{path}: is a directory, not a workflow file") from None
    except OSError as exc:
        raise BadRequest(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _parse_error(f"byte {exc.start}: the file is not UTF-8 text", str(path)) from None


def load_file(path: str | os.PathLike[str]) -> WorkflowSpec:
    """Read and load a ``.yaml``/``.yml``/``.json`` spec file (format from its name).

    A file's ``schedules:`` list is checked and left out (see :func:`load_file_schedules`).
    """
    return load_file_schedules(path)[0]


def load_file_schedules(
    path: str | os.PathLike[str],
) -> tuple[WorkflowSpec, list[ScheduleSpec]]:
    """A spec file's workflow and the :class:`ScheduleSpec` list of its ``schedules:``."""
    raw = parse_document(read_document(path), str(path))
    items = raw.pop("schedules", None) if isinstance(raw, dict) else None
    spec, issues = build_spec(raw)
    if spec is None:
        raise spec_invalid(issues, str(path))
    if items is None:
        return spec, []
    try:
        return spec, parse_schedules(spec.id, items)
    except (ValidationError, ValueError) as exc:
        message = str(exc).splitlines()
        why = "; ".join(line.strip() for line in message[:3])
        raise spec_invalid([SpecIssue("SCHEMA", f"schedules: {why}")], str(path)) from None


# --- export -----------------------------------------------------------------------------
