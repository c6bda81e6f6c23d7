"""The upstream API reference (``f003-openapi.yaml``), read at test time, as a schema checker.

CI has ``shared/reference/`` beside the clone, so it is looked for at ``../shared/reference``
from the repository root (or, in a git worktree, from the main checkout's root), or where
``DAGQ_REFERENCE_DIR`` says.  A missing file fails loudly: it is never a skip.

Checking follows OpenAPI 3.0 (JSON Schema draft 4 keywords) with two documented
relaxations, each because the reference cannot be met as written:

- ``Node.config`` is a ``oneOf`` of five objects with no required fields and no
  discriminator, so any config matches several of them and no instance can pass a strict
  ``oneOf``: it is checked as ``anyOf``;
- dagq's run and node statuses and event types are a superset of the reference's enums
  (queued, waiting, cancelled, compensating...): those enums get our extra values.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import Any

import jsonschema_rs
import yaml

from orchestrator.vocab import NODE_STATUSES, RUN_STATUSES

ROOT = Path(__file__).resolve().parents[2]
OPENAPI = "f003-openapi.yaml"


def reference_dir() -> Path:
    """Where the reference lives; raises (never skips) when it cannot be found."""
    tried: list[Path] = []
    given = os.environ.get("DAGQ_REFERENCE_DIR")
    candidates = [Path(given)] if given else []
    candidates.append(ROOT.parent / "shared" / "reference")
    git = ROOT / ".git"
    if git.is_file():  # a worktree: `.git` names <main>/.git/worktrees/<name>
        gitdir = Path(git.read_text().split(":", 1)[1].strip())
        candidates.append(gitdir.parents[2].parent / "shared" / "reference")
    for folder in candidates:
        tried.append(folder)
        if (folder / OPENAPI).is_file():
            return folder
    raise AssertionError(
        f"the upstream reference {OPENAPI} is missing; looked in: "
        + ", ".join(str(t) for t in tried)
        + " (CI keeps it in shared/reference beside the clone; DAGQ_REFERENCE_DIR overrides)"
    )


class Reference:
    """The reference document, its operations and validators for its schemas."""

    def __init__(self, folder: Path) -> None:
        self.doc: dict[str, Any] = yaml.safe_load((folder / OPENAPI).read_text())
        self.components = self._relaxed(self.doc["components"])

    @staticmethod
    def _relaxed(components: dict[str, Any]) -> dict[str, Any]:
        out = copy.deepcopy(components)
        schemas = out["schemas"]
        config = schemas["Node"]["properties"]["config"]
        config["anyOf"] = config.pop("oneOf")
        for name, extra in (
            ("WorkflowRun", RUN_STATUSES),
            ("WorkflowRunSummary", RUN_STATUSES),
            ("NodeStatus", NODE_STATUSES),
        ):
            status = schemas[name]["properties"]["status"]
            status["enum"] = sorted({*status["enum"], *extra})
        schemas["RunEvent"]["properties"]["type"].pop("enum")
        return out

    @cached_property
    def operations(self) -> dict[str, tuple[str, str, dict[str, Any]]]:
        """operationId -> (method, path, operation)."""
        found: dict[str, tuple[str, str, dict[str, Any]]] = {}
        for path, item in self.doc["paths"].items():
            for method, op in item.items():
                found[op["operationId"]] = (method.upper(), path, op)
        return found

    def validator(self, schema: dict[str, Any]) -> jsonschema_rs.Draft4Validator:
        """A validator of ``schema`` with the (relaxed) components resolvable."""
        root = {**schema, "components": self.components}
        return jsonschema_rs.Draft4Validator(root, validate_formats=True)

    def schema_ref(self, name: str) -> dict[str, Any]:
        """``{"$ref": "#/components/schemas/<name>"}``."""
        return {"$ref": f"#/components/schemas/{name}"}

    def response_schema(self, operation_id: str, status: int) -> dict[str, Any] | None:
        """The JSON schema of an operation's answer with ``status`` (None: no body)."""
        _, _, op = self.operations[operation_id]
        response = op["responses"][str(status)]
        if "$ref" in response:
            response = self.doc["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
        content = response.get("content")
        if not content:
            return None
        schema: dict[str, Any] = content["application/json"]["schema"]
        return schema

    def request_schema(self, operation_id: str) -> dict[str, Any]:
        """The JSON schema of an operation's request body."""
        _, _, op = self.operations[operation_id]
        schema: dict[str, Any] = op["requestBody"]["content"]["application/json"]["schema"]
        return schema

    def errors(self, schema: dict[str, Any], instance: Any) -> list[str]:
        """Every violation of ``schema`` by ``instance``, as ``path: message``."""
        return [
            f"{'/'.join(map(str, e.instance_path)) or '<root>'}: {e.message}"
            for e in self.validator(schema).iter_errors(instance)
        ]

    # -- which documented properties an instance uses -------------------------------
    def _resolve(self, schema: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
        ref = schema.get("$ref")
        if ref is None:
            return None, schema
        name = ref.rsplit("/", 1)[1]
        return name, self.components["schemas"][name]

    def used_properties(
        self, schema: dict[str, Any], instance: Any, owner: str = "<inline>"
    ) -> Iterator[tuple[str, str]]:
        """``(schema name, property)`` for every documented property ``instance`` sets."""
        name, schema = self._resolve(schema)
        owner = name or owner
        for part in schema.get("allOf", []):
            yield from self.used_properties(part, instance, owner)
        for part in schema.get("anyOf", []) + schema.get("oneOf", []):
            yield from self.used_properties(part, instance, owner)
        if isinstance(instance, dict):
            for key, sub in schema.get("properties", {}).items():
                if key in instance:
                    yield owner, key
                    yield from self.used_properties(sub, instance[key], f"{owner}.{key}")
            extra = schema.get("additionalProperties")
            if isinstance(extra, dict):
                for value in instance.values():
                    yield from self.used_properties(extra, value, owner)
        elif isinstance(instance, list) and "items" in schema:
            for item in instance:
                yield from self.used_properties(schema["items"], item, owner)

    def documented_properties(self, schema: dict[str, Any]) -> set[tuple[str, str]]:
        """Every ``(schema name, property)`` reachable from ``schema``."""
        out: set[tuple[str, str]] = set()
        todo: list[tuple[dict[str, Any], str]] = [(schema, "<inline>")]
        seen: set[str] = set()
        while todo:
            current, owner = todo.pop()
            name, current = self._resolve(current)
            if name is not None:
                if name in seen:
                    continue
                seen.add(name)
                owner = name
            parts = current.get("allOf", []) + current.get("anyOf", []) + current.get("oneOf", [])
            todo += [(p, owner) for p in parts]
            for key, sub in current.get("properties", {}).items():
                out.add((owner, key))
                todo.append((sub, f"{owner}.{key}"))
            for key in ("items", "additionalProperties"):
                if isinstance(current.get(key), dict):
                    todo.append((current[key], owner))
        return out
