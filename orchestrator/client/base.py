"""What every group of the client's calls shares: one request, its answer parsed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar
from urllib.parse import quote

from pydantic import ValidationError

from orchestrator.errors import DagqError
from orchestrator.wire.base import Wire

PREFIX = "/api/v1"
M = TypeVar("M", bound=Wire)
Params = Mapping[str, Any] | Iterable[tuple[str, Any]] | None


def q(value: str) -> str:
    """One path segment, quoted."""
    return quote(value, safe="")


def wf(workflow_id: str) -> str:
    """A workflow's path."""
    return f"{PREFIX}/workflows/{q(workflow_id)}"


def run_path(run_id: str) -> str:
    """A run's path."""
    return f"{PREFIX}/runs/{q(run_id)}"


class Calls:
    """A group of calls mixed into :class:`~orchestrator.client.DagqClient`, which
    provides :meth:`_call`; :meth:`_as` parses an answer with the API's model."""

    async def _call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Params = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        raise NotImplementedError

    async def _as(
        self,
        model: type[M],
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Params = None,
        headers: Mapping[str, str] | None = None,
    ) -> M:
        """:meth:`_call`, its answer as ``model`` (an answer that is not one: DagqError)."""
        data = await self._call(method, path, body=body, params=params, headers=headers)
        return parse(model, data, path)


def parse(model: type[M], data: Any, where: str) -> M:
    """``data`` as ``model``; a DagqError naming ``where`` when it is not one."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        at = ".".join(str(p) for p in first["loc"]) or "answer"
        raise DagqError(
            f"unexpected answer from {where}: {at}: {first['msg']} ({str(data)[:100]})"
        ) from None
