"""The typed async client against the real app (and a proxy that drops event streams)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from pydantic import BaseModel

from orchestrator.api import schemas
from orchestrator.client import (
    DagqClient,
    Link,
    LinkChange,
    backoff_s,
    client_for,
    follow_run,
    local_config,
)
from orchestrator.errors import (
    ConfigError,
    Conflict,
    Forbidden,
    NotFound,
    ParameterError,
    RateLimited,
    SpecInvalid,
    Unauthorized,
    Unavailable,
)
from orchestrator.wire.runs import RunEvent, VersionRecord, WorkflowRecord
from orchestrator.worker.registry import Registry
from orchestrator.worker.worker import Worker
from tests.api.conftest import Api, AppFactory, make_settings, pipeline_spec


def _registry() -> Registry:
    reg = Registry()
    reg.register("fetch", lambda data, ctx: {"records": ctx.params.get("records", 0)})
    reg.register("transform", lambda data, ctx: {"doubled": data["records"] * 2})
    reg.register("store", lambda data, ctx: {"stored": data["doubled"]})
    return reg


@pytest.fixture
async def running_worker(api: Api) -> AsyncIterator[None]:
    stop = asyncio.Event()
    worker = Worker(api.conn.redis, api.conn.keys, api.settings, _registry(), concurrency=2)
    task = asyncio.create_task(worker.run(stop))
    yield
    stop.set()
    await task


async def test_workflow_operations(api: Api) -> None:
    async with DagqClient(api.base_url, api_key=api.keys["designer"]) as c:
        created = await c.create_workflow(pipeline_spec())
        assert created.version == 1
        assert (await c.get_workflow("pipeline")).name == "Pipeline"
        updated = await c.update_workflow("pipeline", pipeline_spec(description="v2"))
        assert updated.version == 2
        with pytest.raises(Conflict):
            await c.update_workflow("pipeline", pipeline_spec(), expected_version=1)
        version = await c.create_version("pipeline", pipeline_spec(), change_log="third")
        assert version.version == 3
        assert (await c.get_version("pipeline", 2)).spec["description"] == "v2"
        assert [v.version for v in await c.list_versions("pipeline")] == [3, 2, 1]
        page = await c.list_workflows(tags=["demo"], limit=5)
        assert (page.total, page.has_more, page.items[0].id) == (1, False, "pipeline")
        assert (await c.validate_workflow("pipeline")).valid is True
        verdict = await c.validate_spec({"name": "x", "nodes": []})
        assert verdict.valid is False
        with pytest.raises(SpecInvalid) as invalid:
            await c.create_workflow({"name": "broken", "nodes": [{"id": "a", "type": "task"}]})
        assert invalid.value.details["errors"]
        with pytest.raises(Forbidden):
            await c.start_run("pipeline")
        me = await c.whoami()
        assert (me.user, me.role) == ("dee", "workflow_designer")
        await c.delete_workflow("pipeline")
        with pytest.raises(NotFound) as missing:
            await c.get_workflow("pipeline")
        assert missing.value.code == "NOT_FOUND"
        assert "pipeline" in missing.value.message


async def test_runs_and_live_events(api: Api, running_worker: None) -> None:
    async with DagqClient(api.base_url, api_key=api.keys["admin"]) as c:
        await c.create_workflow(pipeline_spec())
        with pytest.raises(ParameterError):
            await c.start_run("pipeline", {"records": "lots"})
        run = await c.start_run("pipeline", {"records": 4}, tags=["x"], priority=9)
        events = [e async for e in c.stream_run_events(run.runId)]
        assert events[0].type == "run_started"
        assert events[-1].type == "run_completed"
        status = await c.get_run_status(run.runId)
        assert status.is_complete
        assert status.nodes == {
            "fetch": "completed",
            "transform": "completed",
            "store": "completed",
        }
        assert (await c.get_node_status(run.runId, "store")).output == {"stored": 8}
        assert len(await c.list_nodes(run.runId)) == 3
        listed = await c.run_events(run.runId, since=events[0].id)
        assert [e.id for e in listed] == [e.id for e in events[1:]]
        resumed = [e async for e in c.stream_run_events(run.runId, last_event_id=events[2].id)]
        assert resumed == events[3:]
        runs = await c.list_runs("pipeline")
        assert runs.items[0].id == run.runId
        assert (await c.list_runs(status="completed")).total == 1
        with pytest.raises(Conflict):
            await c.cancel_run(run.runId)
        assert (await c.queues()).deadLetters == 0
        assert {h.name for h in await c.handlers()} == {"fetch", "transform", "store"}
        assert await c.dead_letters() == []
        assert await c.requeue_dead(["1-0"]) == 0
        assert await c.purge_dead(["1-0"]) == 0
        assert any(e.action == "startWorkflowRun" for e in await c.audit(limit=50))
        assert (await c.policy_status()).inError is False
        assert {u.name for u in await c.users()} == {"ada", "dee", "otto"}
        assert await c.ready()


async def _dropping_proxy(upstream: str) -> tuple[TestServer, list[bool], list[bool]]:
    """Forwards requests; the first event stream is cut after two events, without its end.

    Returns the server, ``cut`` (one entry once the cut happened) and ``opened`` (one
    entry per event stream the proxy began to forward).
    """
    cut: list[bool] = []
    opened: list[bool] = []

    async def forward(request: web.Request) -> web.StreamResponse:
        headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                request.method,
                upstream + request.path_qs,
                headers=headers,
                data=await request.read(),
            ) as up,
        ):
            if "text/event-stream" not in up.headers.get("Content-Type", ""):
                return web.Response(
                    body=await up.read(),
                    status=up.status,
                    headers={"Content-Type": up.headers.get("Content-Type", "application/json")},
                )
            resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await resp.prepare(request)
            opened.append(True)
            frames = 0
            async for line in up.content:
                await resp.write(line)
                frames += line.startswith(b"id: ")
                if frames == 2 and not cut and line == b"\n":
                    cut.append(True)
                    break
            return resp  # fmt: skip

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", forward)
    server = TestServer(app)
    await server.start_server()
    return server, cut, opened


async def test_follow_run_reconnects_with_last_event_id(api: Api) -> None:
    async with DagqClient(api.base_url, api_key=api.keys["admin"]) as direct:
        await direct.create_workflow(pipeline_spec())
        run = await direct.start_run("pipeline")  # no worker yet: it waits at its first node
    proxy, cut, _opened = await _dropping_proxy(api.base_url)
    stop, followed, worker = asyncio.Event(), [], None
    try:
        url = str(proxy.make_url("")).rstrip("/")
        async with DagqClient(url, api_key=api.keys["admin"]) as c:
            async for item in follow_run(c, run.runId):
                followed.append(item)
                if worker is None and isinstance(item, LinkChange) and item.state is Link.LIVE:
                    # Live on the stream: now the run moves, and its events come over it.
                    w = Worker(api.conn.redis, api.conn.keys, api.settings, _registry())
                    worker = asyncio.create_task(w.run(stop))
    finally:
        stop.set()
        if worker is not None:
            await worker
        await proxy.close()
    async with DagqClient(api.base_url, api_key=api.keys["admin"]) as direct:
        expected = await direct.run_events(run.runId)
    assert cut == [True]  # the first stream really was cut short
    seen = [item for item in followed if not isinstance(item, LinkChange)]
    assert seen == expected  # nothing lost, nothing repeated across the reconnect
    links = [item for item in followed if isinstance(item, LinkChange)]
    assert [(c.state, c.attempt) for c in links] == [
        (Link.CONNECTING, 0),
        (Link.LIVE, 0),
        (Link.RECONNECTING, 1),
        (Link.LIVE, 0),
        (Link.ENDED, 0),
    ]
    assert isinstance(links[2].error, Unavailable)
    assert links[-1].run is not None and links[-1].run.status == "completed"


async def test_one_stream_ends_at_its_cut_not_silently(api: Api, running_worker: None) -> None:
    async with DagqClient(api.base_url, api_key=api.keys["admin"]) as direct:
        await direct.create_workflow(pipeline_spec())
        run = await direct.start_run("pipeline")
        await _ended(direct, run.runId)
    proxy, _cut, _opened = await _dropping_proxy(api.base_url)
    try:
        url = str(proxy.make_url("")).rstrip("/")
        async with DagqClient(url, api_key=api.keys["admin"]) as c:
            got: list[RunEvent] = []
            with pytest.raises(Unavailable, match="closed before the run's end"):
                async for event in c.stream_run_events(run.runId):
                    got.append(event)
    finally:
        await proxy.close()
    assert len(got) == 2  # one connection: what came before the cut, then the error


async def _ended(client: DagqClient, run_id: str) -> None:
    """Wait for the run's end by following it."""
    async for item in follow_run(client, run_id):
        if isinstance(item, LinkChange) and item.state is Link.ENDED:
            return


async def test_follow_gives_up_after_its_attempts_and_raises_real_errors(api: Api) -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    nowhere_url = f"http://127.0.0.1:{_closed_port()}"
    async with DagqClient(nowhere_url, api_key=api.keys["admin"]) as nowhere:
        with pytest.raises(Unavailable, match="cannot reach"):
            async for _ in follow_run(nowhere, "r", max_attempts=3, sleep=sleep):
                pass
    assert slept == [backoff_s(1), backoff_s(2), backoff_s(3)]
    async with DagqClient(api.base_url, api_key=api.keys["admin"]) as c:
        with pytest.raises(NotFound):
            async for _ in follow_run(c, "no-such-run", sleep=sleep):
                pass


async def test_errors_by_status(
    api: Api, make_api: AppFactory, redis_url: str, key_prefix: str, tmp_path: Path
) -> None:
    async with DagqClient(api.base_url, api_key="dagq_AAAAAAAA_" + "c" * 43) as c:
        with pytest.raises(Unauthorized):
            await c.whoami()
    async with DagqClient(api.base_url) as anonymous:
        with pytest.raises(Unauthorized):
            await anonymous.list_workflows()
    limited = await make_api(
        make_settings(
            redis_url, key_prefix + "x", tmp_path / "d2",
            security={"rate_limiting": {"create_workflow": "1/min"}},
        )
    )  # fmt: skip
    async with DagqClient(limited.base_url, api_key=limited.keys["admin"]) as c:
        await c.create_workflow(pipeline_spec("one"))
        with pytest.raises(RateLimited) as too_many:
            await c.create_workflow(pipeline_spec("two"))
        assert too_many.value.retry_after_s >= 1


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


async def test_unreachable_api_is_unavailable() -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    async with DagqClient(url, api_key="k") as c:
        with pytest.raises(Unavailable) as exc:
            await c.get_run("r")
    assert str(exc.value) == f"cannot reach the dagq API at {url}: connection refused"


@pytest.mark.parametrize("blank", [" ", "\t", "\n", "\u00a0"])
async def test_a_key_with_blanks_around_it_is_refused_before_sending(api: Api, blank: str) -> None:
    # HTTP drops spaces and tabs around a header value: the server would see the bare key.
    key = api.keys["operator"]
    for given in (blank + key, key + blank):
        with pytest.raises(ConfigError, match="blanks around it"):
            DagqClient(api.base_url, api_key=given)
    async with DagqClient(api.base_url, api_key=key) as exact:
        assert (await exact.whoami()).user == "otto"


async def test_local_config_and_client_for(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DAGQ_API_URL", "DAGQ_API_KEY", "DAGQ_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    settings = api.settings
    assert local_config(settings) is None
    with pytest.raises(ConfigError):
        client_for(settings)
    path = settings.data_dir / "local.json"
    path.write_bytes(orjson.dumps({"api_url": api.base_url, "api_key": api.keys["operator"]}))
    path.chmod(0o600)
    assert local_config(settings) == (api.base_url, api.keys["operator"])
    async with client_for(settings) as c:
        assert (await c.whoami()).user == "otto"
    path.write_text("{not json")
    with pytest.raises(ConfigError):
        local_config(settings)
    monkeypatch.setenv("DAGQ_API_URL", api.base_url)
    monkeypatch.setenv("DAGQ_API_KEY", api.keys["designer"])
    async with client_for(settings) as c:
        me = await c.whoami()
        assert me.user == "dee"


async def test_the_clients_models_give_back_what_the_server_sent(
    api: Api, running_worker: None
) -> None:
    # Every answer parses with the API's own model and prints (`--json`) as the server wrote
    # it, byte for byte.
    async with DagqClient(api.base_url, api_key=api.keys["admin"]) as c:
        await c.create_workflow(pipeline_spec())
        run = await c.start_run("pipeline", {"records": 4})
        [*_, end] = [e async for e in c.stream_run_events(run.runId)]
        assert end.type == "run_completed"
        answers = {
            f"/runs/{run.runId}": await c.get_run(run.runId),
            "/workflows/pipeline": await c.get_workflow("pipeline"),
            "/workflows/pipeline/versions/1": await c.get_version("pipeline", 1),
            f"/runs/{run.runId}/nodes/store": await c.get_node_status(run.runId, "store"),
            "/whoami": await c.whoami(),
        }
        raw_events = await api.client.get(
            f"/api/v1/runs/{run.runId}/events", headers=api.auth("admin")
        )
        sent = (await raw_events.json())["events"]
        printed = [e.as_json() for e in await c.run_events(run.runId)]
        assert orjson.dumps(printed) == orjson.dumps(sent)  # the same keys, in the same order
    for path, model in answers.items():
        resp = await api.client.get("/api/v1" + path, headers=api.auth("admin"))
        assert orjson.dumps(model.as_json()) == orjson.dumps(await resp.json()), path


@pytest.mark.parametrize(
    ("client_model", "api_model"),
    [(WorkflowRecord, schemas.Workflow), (VersionRecord, schemas.WorkflowVersion)],
)
def test_the_clients_own_models_agree_with_the_apis(
    client_model: type[BaseModel], api_model: type[BaseModel]
) -> None:
    # The two answers the client reads without parsing the spec: the same fields, each
    # required on both sides or on neither (a stored workflow always has its version; the
    # spec's is optional only as input).
    for name, info in client_model.model_fields.items():
        assert name in api_model.model_fields, name
        if name != "version":
            assert info.is_required() == api_model.model_fields[name].is_required(), name
