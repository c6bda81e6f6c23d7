"""A run id names one run: writing a second run under it is a conflict (409), not a limit."""

from __future__ import annotations

import pytest

from orchestrator.engine import transitions
from orchestrator.errors import Conflict
from tests.integration.conftest import StackFactory


async def test_a_duplicate_run_id_is_a_conflict(make_stack: StackFactory) -> None:
    stack = await make_stack()
    spec = await stack.workflow(
        {"name": "ids", "nodes": [{"id": "only", "type": "task", "handler": "echo"}]}
    )
    run = await stack.service.start(spec.id)
    graph = await stack.service.specs.graph(spec.id, run.workflow_version)
    again, commands = transitions.start(
        graph,
        run_id=run.run_id,
        workflow_version=run.workflow_version,
        params={},
        now_ms=run.start_ms + 1,
        config=stack.service.config,
    )
    with pytest.raises(Conflict) as caught:
        await stack.service.runs.create(again, commands)
    assert caught.value.http_status == 409
    assert run.run_id in caught.value.message
    assert (await stack.service.get(run.run_id)).start_ms == run.start_ms  # untouched
