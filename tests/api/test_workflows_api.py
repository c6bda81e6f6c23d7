"""Workflow CRUD, versions, validation and the API's error shapes."""

from __future__ import annotations

from tests.api.conftest import Api, pipeline_spec


async def test_create_get_list_update_delete(api: Api) -> None:
    c, h = api.client, api.auth("designer")
    resp = await c.post("/api/v1/workflows", json=pipeline_spec(), headers=h)
    assert resp.status == 201, await resp.text()
    created = await resp.json()
    assert created["id"] == "pipeline"
    assert created["version"] == 1
    assert created["createdBy"] == "dee"
    assert resp.headers["Location"].endswith("/workflows/pipeline")
    assert resp.headers["X-Request-Id"]

    again = await c.post("/api/v1/workflows", json=pipeline_spec(), headers=h)
    assert again.status == 409
    assert (await again.json())["error"] == "CONFLICT"

    got = await (await c.get("/api/v1/workflows/pipeline", headers=h)).json()
    assert [n["id"] for n in got["nodes"]] == ["fetch", "transform", "store"]

    listing = await (await c.get("/api/v1/workflows?tag=demo&limit=1", headers=h)).json()
    assert listing["total"] == 1
    assert listing["hasMore"] is False
    assert listing["workflows"][0]["nodeCount"] == 3
    none = await (await c.get("/api/v1/workflows?tag=demo&tag=other", headers=h)).json()
    assert none["total"] == 0

    changed = pipeline_spec(description="second")
    del changed["id"]  # the path names the workflow
    upd = await c.put("/api/v1/workflows/pipeline?changeLog=desc", json=changed, headers=h)
    assert upd.status == 200, await upd.text()
    assert (await upd.json())["version"] == 2
    stale = await c.put("/api/v1/workflows/pipeline?expectedVersion=1", json=changed, headers=h)
    assert stale.status == 409

    versions = await (await c.get("/api/v1/workflows/pipeline/versions", headers=h)).json()
    assert [v["version"] for v in versions["versions"]] == [2, 1]
    assert versions["versions"][0]["changeLog"] == "desc"
    v1 = await (await c.get("/api/v1/workflows/pipeline/versions/1", headers=h)).json()
    assert v1["spec"]["description"] == ""
    missing = await c.get("/api/v1/workflows/pipeline/versions/9", headers=h)
    assert missing.status == 404

    new = await c.post("/api/v1/workflows/pipeline/versions", json=changed, headers=h)
    assert new.status == 201
    assert (await new.json())["version"] == 3

    assert (await c.delete("/api/v1/workflows/pipeline", headers=h)).status == 204
    gone = await c.get("/api/v1/workflows/pipeline", headers=h)
    assert gone.status == 404
    body = await gone.json()
    assert body["error"] == "NOT_FOUND"
    assert set(body) == {"error", "message", "details"}


async def test_invalid_spec_is_422_with_codes(api: Api) -> None:
    spec = pipeline_spec()
    spec["edges"].append({"source": "store", "target": "fetch"})  # a cycle
    spec["nodes"].append({"id": "lonely", "type": "task", "handler": "x", "retries": 99})
    resp = await api.client.post("/api/v1/workflows", json=spec, headers=api.auth("admin"))
    assert resp.status == 422
    body = await resp.json()
    assert body["error"] == "SPEC_INVALID"
    codes = {e["code"] for e in body["details"]["errors"]}
    # Every problem at once: the graph's and the deployment's limits.
    assert {"CYCLE", "TOO_MANY_RETRIES"} <= codes


async def test_retry_limit_is_enforced(api: Api) -> None:
    spec = pipeline_spec()
    spec["nodes"][1]["retries"] = api.settings.limits.max_retry_attempts + 1
    resp = await api.client.post("/api/v1/workflows", json=spec, headers=api.auth("admin"))
    assert resp.status == 422
    errors = (await resp.json())["details"]["errors"]
    assert errors[0]["code"] == "TOO_MANY_RETRIES"
    assert errors[0]["nodeId"] == "transform"
    assert "at most 5" in errors[0]["message"]


async def test_validate_unsaved_and_stored(api: Api) -> None:
    c, h = api.client, api.auth("designer")
    ok = await (await c.post("/api/v1/validate", json=pipeline_spec(), headers=h)).json()
    assert ok == {"valid": True, "errors": [], "warnings": []}
    bad = await (await c.post("/api/v1/validate", json={"name": "x"}, headers=h)).json()
    assert bad["valid"] is False
    assert bad["errors"]
    await c.post("/api/v1/workflows", json=pipeline_spec(), headers=h)
    stored = await c.post("/api/v1/workflows/pipeline/validate", headers=h)
    assert (await stored.json())["valid"] is True
    unknown = await c.post("/api/v1/workflows/nope/validate", headers=h)
    assert unknown.status == 404


async def test_malformed_input_is_400_never_500(api: Api) -> None:
    c, h = api.client, api.auth("admin")
    bad_json = await c.post(
        "/api/v1/workflows", data=b"{not json", headers={**h, "Content-Type": "application/json"}
    )
    assert bad_json.status == 400
    assert (await bad_json.json())["error"] == "BAD_REQUEST"
    bad_query = await c.get("/api/v1/workflows?limit=abc", headers=h)
    assert bad_query.status == 400
    assert (await bad_query.json())["details"]["errors"][0]["loc"] == "limit"
    too_many = await c.get("/api/v1/workflows?limit=1000", headers=h)
    assert too_many.status == 400
    not_object = await c.post("/api/v1/workflows/w/runs", json=[1, 2], headers=h)
    assert not_object.status == 400
    wrong_field = await c.post("/api/v1/runs/r/retry", json={"fromNode": 5}, headers=h)
    assert wrong_field.status == 400
    no_route = await c.get("/api/v1/nothing-here", headers=h)
    assert no_route.status == 404
    assert (await no_route.json())["error"] == "NOT_FOUND"
    method = await c.patch("/api/v1/workflows", headers=h)
    assert method.status == 405
    assert (await method.json())["error"] == "METHOD_NOT_ALLOWED"
    empty = await c.post("/api/v1/workflows", headers=h)
    assert empty.status == 400
    deep = b"[" * 5000 + b"]" * 5000
    nested = await c.post(
        "/api/v1/validate", data=deep, headers={**h, "Content-Type": "application/json"}
    )
    assert nested.status == 413  # over resource_limits.max_json_depth before anything else
    assert (await nested.json())["error"] == "NESTING_TOO_DEEP"


async def test_body_too_large_is_413(api: Api) -> None:
    limit = api.settings.limits.max_body_bytes
    big = {"name": "big", "nodes": [], "description": "x" * (limit + 10)}
    resp = await api.client.post("/api/v1/validate", json=big, headers=api.auth("admin"))
    assert resp.status == 413
    body = await resp.json()
    assert body["error"] == "PAYLOAD_TOO_LARGE"
    assert body["details"]["limit"] == limit


async def test_delete_with_active_runs_needs_force(api: Api) -> None:
    c = api.client
    await c.post("/api/v1/workflows", json=pipeline_spec(), headers=api.auth("admin"))
    run = await c.post("/api/v1/workflows/pipeline/runs", json={}, headers=api.auth("operator"))
    assert run.status == 201, await run.text()
    run_id = (await run.json())["runId"]
    refused = await c.delete("/api/v1/workflows/pipeline", headers=api.auth("designer"))
    assert refused.status == 409
    assert run_id in (await refused.json())["details"]["activeRuns"]
    forced = await c.delete("/api/v1/workflows/pipeline?force=true", headers=api.auth("designer"))
    assert forced.status == 204
    after = await (await c.get(f"/api/v1/runs/{run_id}", headers=api.auth("admin"))).json()
    assert after["status"] == "cancelled"
