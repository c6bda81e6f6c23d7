"""The workflow definition store: versioned, immutable specs in Redis.

Layout (``orchestrator/keys.py``): one hash per workflow with ``meta`` (compact JSON:
the list row plus who created and updated it) and ``v:<n>`` (a :class:`WorkflowVersion`
as JSON, never rewritten); a sorted set of ids scored by last update (ms).

Writes are atomic Lua scripts on the ``{wf}`` slot.  An update is a compare-and-set on
the exact ``meta`` string read before it: of two concurrent updates one wins and the
other re-reads and becomes the next version, so none is lost.  Listing reads the index
and then every needed meta in one script call, never a spec.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
import redis.asyncio as aioredis
from pydantic import ValidationError

from orchestrator.errors import BadRequest, Conflict, DagqError, NotFound, SpecInvalid
from orchestrator.keys import Keys
from orchestrator.scripts import Script
from orchestrator.spec.model import WorkflowSpec
from orchestrator.store.jobs import JOB_PREFIX
from orchestrator.store.records import (
    STATUSES,
    WorkflowMeta,
    WorkflowRecord,
    WorkflowStatus,
    WorkflowSummary,
    WorkflowVersion,
    to_ms,
    utc_now,
)

# Enough for hundreds of writers racing on one workflow; past it something is wrong.
_MAX_CAS_ATTEMPTS = 200
MAX_PAGE = 1000

# KEYS: hash, index. ARGV: meta, version json, score, id.  (Templates use it too.)
CREATE_LUA = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'meta', ARGV[1], 'v:1', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
return 1
"""

# KEYS: hash, index. ARGV: old meta, new meta, score, id, [version field, version json].
# Returns -1 gone, 0 lost the race, 1 written.  (Templates use it too.)
CAS_LUA = """
local cur = redis.call('HGET', KEYS[1], 'meta')
if not cur then return -1 end
if cur ~= ARGV[1] then return 0 end
if ARGV[5] then
  if redis.call('HEXISTS', KEYS[1], ARGV[5]) == 1 then return 0 end
  redis.call('HSET', KEYS[1], 'meta', ARGV[2], ARGV[5], ARGV[6])
else
  redis.call('HSET', KEYS[1], 'meta', ARGV[2])
end
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
return 1
"""

# KEYS: hash. ARGV: how many versions (0 = just the current one).
# Returns false when missing, else {meta, newest version json, older ones...}.
_READ = """
local meta = redis.call('HGET', KEYS[1], 'meta')
if not meta then return false end
local n = tonumber(cjson.decode(meta)['version'])
local out = {meta}
local last = math.max(1, n - math.max(1, tonumber(ARGV[1])) + 1)
for i = n, last, -1 do
  out[#out + 1] = redis.call('HGET', KEYS[1], 'v:' .. i) or ''
end
return out
"""

# KEYS: workflow hashes. Returns their metas in order (false for a missing one).
_READ_METAS = """
local out = {}
for i, key in ipairs(KEYS) do
  out[i] = redis.call('HGET', key, 'meta')
end
return out
"""


def _decode_error(workflow_id: str, what: str, exc: Exception) -> DagqError:
    return DagqError(
        f"stored workflow '{workflow_id}' has an unreadable {what}: {exc}",
        code="STORE_CORRUPT",
        details={"workflowId": workflow_id},
    )


def _as_spec(spec: WorkflowSpec | Mapping[str, Any], workflow_id: str | None) -> WorkflowSpec:
    """The spec as a model; a mapping without an id takes ``workflow_id``."""
    if isinstance(spec, WorkflowSpec):
        return spec
    data = dict(spec)
    if workflow_id is not None and not data.get("id"):
        data["id"] = workflow_id
    try:
        return WorkflowSpec.model_validate(data)
    except ValidationError as exc:
        errors = [
            {
                "loc": ".".join(str(p) for p in err["loc"]),
                "message": err["msg"],
                "type": err["type"],
            }
            for err in exc.errors()
        ]
        raise SpecInvalid(
            f"the workflow specification is invalid: {errors[0]['loc']}: {errors[0]['message']}",
            details={"errors": errors},
        ) from None


def _not_reserved(workflow_id: str) -> None:
    if workflow_id.startswith(JOB_PREFIX):
        raise BadRequest(
            f"workflow ids starting with {JOB_PREFIX!r} are reserved for plain jobs and "
            f"chains (POST /api/v1/jobs); choose another id than '{workflow_id}'",
            details={"workflowId": workflow_id},
        )


class WorkflowStore:
    """Create, read, version, list and delete workflow definitions in Redis."""

    def __init__(self, redis: aioredis.Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys
        self._create = Script(redis, CREATE_LUA, "workflows.create")
        self._cas = Script(redis, CAS_LUA, "workflows.cas")
        self._read = Script(redis, _READ, "workflows.read")
        self._read_metas = Script(redis, _READ_METAS, "workflows.read_metas")

    # -- writes -----------------------------------------------------------------------
    async def create(
        self,
        spec: WorkflowSpec | Mapping[str, Any],
        *,
        user: str | None = None,
        change_log: str | None = None,
    ) -> WorkflowRecord:
        """Store a new workflow as version 1; :class:`Conflict` if its id is taken."""
        model = _as_spec(spec, None).model_copy(update={"version": 1})
        _not_reserved(model.id)
        now = utc_now()
        record = WorkflowRecord(
            spec=model, created_at=now, updated_at=now, created_by=user, updated_by=user
        )
        version = WorkflowVersion(
            version=1,
            workflow_id=model.id,
            spec=model,
            created_at=now,
            created_by=user,
            change_log=change_log,
        )
        created = await self._create(
            keys=[self.keys.workflow(model.id), self.keys.workflow_index()],
            args=[
                record.meta().model_dump_json(),
                version.model_dump_json(),
                to_ms(now),
                model.id,
            ],
        )
        if not created and not await self._is_own_create(model.id, record, version):
            raise Conflict(
                f"workflow '{model.id}' already exists", details={"workflowId": model.id}
            )
        return record

    async def _is_own_create(
        self, workflow_id: str, record: WorkflowRecord, version: WorkflowVersion
    ) -> bool:
        """Whether the stored workflow is this very create: the call was resent after its
        reply was lost (a Redis failover) and its first send had written it."""
        meta_raw, raw = await self.redis.hmget(self.keys.workflow(workflow_id), ["meta", "v:1"])
        if meta_raw is None or raw is None:
            return False
        stored = self._parse_meta(workflow_id, meta_raw)
        first = self._parse_version(workflow_id, raw)
        mine = record.meta()
        return (stored.created_at, stored.created_by, first.spec, first.change_log) == (
            mine.created_at,
            mine.created_by,
            version.spec,
            version.change_log,
        )

    async def create_version(
        self,
        workflow_id: str,
        spec: WorkflowSpec | Mapping[str, Any],
        *,
        user: str | None = None,
        change_log: str | None = None,
        expected_version: int | None = None,
    ) -> WorkflowVersion:
        """Store ``spec`` as the next version of ``workflow_id`` and return that version.

        The spec's id must be ``workflow_id`` (a mapping may leave it out).  With
        ``expected_version``, :class:`Conflict` when the current version is another one.
        """
        _, version = await self._new_version(
            workflow_id, spec, user=user, change_log=change_log, expected_version=expected_version
        )
        return version

    async def update(
        self,
        workflow_id: str,
        spec: WorkflowSpec | Mapping[str, Any],
        *,
        user: str | None = None,
        change_log: str | None = None,
        expected_version: int | None = None,
    ) -> WorkflowRecord:
        """Store ``spec`` as version n+1 and return the record as that write left it.

        See :meth:`create_version` for the id rule and ``expected_version``.
        """
        record, _ = await self._new_version(
            workflow_id, spec, user=user, change_log=change_log, expected_version=expected_version
        )
        return record

    async def _new_version(
        self,
        workflow_id: str,
        spec: WorkflowSpec | Mapping[str, Any],
        *,
        user: str | None,
        change_log: str | None,
        expected_version: int | None,
    ) -> tuple[WorkflowRecord, WorkflowVersion]:
        model = _as_spec(spec, workflow_id)
        _not_reserved(workflow_id)
        if model.id != workflow_id:
            raise BadRequest(
                f"the spec's id '{model.id}' does not match workflow '{workflow_id}'",
                details={"workflowId": workflow_id, "specId": model.id},
            )
        key = self.keys.workflow(workflow_id)
        for _ in range(_MAX_CAS_ATTEMPTS):
            raw = await self.redis.hget(key, "meta")
            if raw is None:
                raise self._not_found(workflow_id)
            meta = self._parse_meta(workflow_id, raw)
            if expected_version is not None and meta.version != expected_version:
                raise Conflict(
                    f"workflow '{workflow_id}' is at version {meta.version}, "
                    f"not {expected_version}: reload it and apply your change again",
                    details={"workflowId": workflow_id, "currentVersion": meta.version},
                )
            number = meta.version + 1
            now = utc_now()
            versioned = model.model_copy(update={"version": number})
            version = WorkflowVersion(
                version=number,
                workflow_id=workflow_id,
                spec=versioned,
                created_at=now,
                created_by=user,
                change_log=change_log,
            )
            record = WorkflowRecord(
                spec=versioned,
                status=meta.status,
                created_at=meta.created_at,
                updated_at=now,
                created_by=meta.created_by,
                updated_by=user,
            )
            written = await self._cas(
                keys=[key, self.keys.workflow_index()],
                args=[
                    raw,
                    record.meta().model_dump_json(),
                    to_ms(now),
                    workflow_id,
                    f"v:{number}",
                    version.model_dump_json(),
                ],
            )
            if written == 1:
                return record, version
            if written == -1:
                raise self._not_found(workflow_id)
        raise Conflict(f"workflow '{workflow_id}' is being updated by too many writers at once")

    async def set_status(
        self, workflow_id: str, status: WorkflowStatus, *, user: str | None = None
    ) -> WorkflowSummary:
        """Mark a workflow ``draft``, ``published`` or ``deprecated`` (no new version)."""
        if status not in STATUSES:
            raise BadRequest(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
        _not_reserved(workflow_id)
        key = self.keys.workflow(workflow_id)
        for _ in range(_MAX_CAS_ATTEMPTS):
            raw = await self.redis.hget(key, "meta")
            if raw is None:
                raise self._not_found(workflow_id)
            meta = self._parse_meta(workflow_id, raw)
            now = utc_now()
            changed = meta.model_copy(
                update={"status": status, "updated_at": now, "updated_by": user or meta.updated_by}
            )
            written = await self._cas(
                keys=[key, self.keys.workflow_index()],
                args=[raw, changed.model_dump_json(), to_ms(now), workflow_id],
            )
            if written == 1:
                return changed.summary()
            if written == -1:
                raise self._not_found(workflow_id)
        raise Conflict(f"workflow '{workflow_id}' is being updated by too many writers at once")

    async def delete(self, workflow_id: str) -> None:
        """Remove a workflow and every version; :class:`NotFound` when there is none."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(self.keys.workflow(workflow_id))
            pipe.zrem(self.keys.workflow_index(), workflow_id)
            deleted, _ = await pipe.execute()
        if not deleted:
            raise self._not_found(workflow_id)

    # -- reads ------------------------------------------------------------------------
    async def get(self, workflow_id: str) -> WorkflowRecord:
        """The workflow's current record; :class:`NotFound` when there is none."""
        meta, versions = await self._read_versions(workflow_id, 0)
        spec = versions[0].spec
        return WorkflowRecord(
            spec=spec,
            status=meta.status,
            created_at=meta.created_at,
            updated_at=meta.updated_at,
            created_by=meta.created_by,
            updated_by=meta.updated_by,
        )

    async def current_version(self, workflow_id: str) -> int:
        """The number of the workflow's current version, read from its meta alone (a run
        start needs no more: the graph of that version is cached); :class:`NotFound`."""
        raw = await self.redis.hget(self.keys.workflow(workflow_id), "meta")
        if raw is None:
            raise self._not_found(workflow_id)
        try:
            version = orjson.loads(raw)["version"]
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            raise _decode_error(workflow_id, "meta", exc) from None
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise _decode_error(workflow_id, "meta", ValueError(f"version {version!r}"))
        return version

    async def get_version(self, workflow_id: str, version: int) -> WorkflowVersion:
        """One version, as stored when it was made; :class:`NotFound` when missing."""
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise BadRequest(f"a version is a positive integer, got {version!r}")
        meta_raw, raw = await self.redis.hmget(
            self.keys.workflow(workflow_id), ["meta", f"v:{version}"]
        )
        if meta_raw is None:
            raise self._not_found(workflow_id)
        if raw is None:
            raise NotFound(
                f"workflow '{workflow_id}' has no version {version}",
                details={"workflowId": workflow_id, "version": version},
            )
        return self._parse_version(workflow_id, raw)

    async def list_versions(self, workflow_id: str, *, limit: int = 10) -> list[WorkflowVersion]:
        """The newest ``limit`` versions, newest first."""
        _check_page(limit, 0)
        _, versions = await self._read_versions(workflow_id, limit)
        return versions

    async def exists(self, workflow_id: str) -> bool:
        """Whether the workflow exists."""
        return bool(await self.redis.exists(self.keys.workflow(workflow_id)))

    # -- helpers ----------------------------------------------------------------------
    async def _metas(self, ids: Sequence[Any]) -> list[dict[str, Any]]:
        """The metas of ``ids`` in one script call, skipping ids deleted meanwhile.

        One EVALSHA with every key beats a pipeline of HGETs threefold for 1,000s of
        ids (the client packs one command, not thousands); the keys all share ``{wf}``.
        """
        if not ids:
            return []
        workflow_keys = [
            self.keys.workflow(raw.decode() if isinstance(raw, bytes) else str(raw)) for raw in ids
        ]
        raws = await self._read_metas(keys=workflow_keys)
        out: list[dict[str, Any]] = []
        for raw in raws:
            if not raw:
                continue
            try:
                out.append(orjson.loads(raw))
            except orjson.JSONDecodeError:
                continue  # one corrupt meta must not hide every other workflow
        return out

    async def _read_versions(
        self, workflow_id: str, count: int
    ) -> tuple[WorkflowMeta, list[WorkflowVersion]]:
        reply = await self._read(keys=[self.keys.workflow(workflow_id)], args=[count])
        if not reply:
            raise self._not_found(workflow_id)
        meta = self._parse_meta(workflow_id, reply[0])
        versions = [self._parse_version(workflow_id, raw) for raw in reply[1:] if raw]
        if not versions:
            raise _decode_error(workflow_id, "current version", ValueError("missing"))
        return meta, versions

    @staticmethod
    def _parse_meta(workflow_id: str, raw: bytes | str) -> WorkflowMeta:
        try:
            return WorkflowMeta.model_validate_json(raw)
        except ValidationError as exc:
            raise _decode_error(workflow_id, "meta", exc) from None

    @staticmethod
    def _parse_version(workflow_id: str, raw: bytes | str) -> WorkflowVersion:
        try:
            return WorkflowVersion.model_validate_json(raw)
        except ValidationError as exc:
            raise _decode_error(workflow_id, "version", exc) from None

    @staticmethod
    def _not_found(workflow_id: str) -> NotFound:
        return NotFound(f"workflow '{workflow_id}' not found", details={"workflowId": workflow_id})

    # Last in the class: a method named ``list`` shadows the builtin for what follows.
    async def list(
        self,
        *,
        name: str | None = None,
        tags: Sequence[str] | None = None,
        status: str | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> tuple[list[WorkflowSummary], int]:
        """A page of summaries, most recently updated first, and the total that matched.

        ``name`` matches a case-insensitive substring of the name (or the id), ``tags``
        must all be present, ``status`` is exact.
        """
        _check_page(limit, offset)
        if status is not None and status not in STATUSES:
            raise BadRequest(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
        index = self.keys.workflow_index()
        filtered = bool(name or tags or status)
        if not filtered:
            # No filter: page straight off the index, reading only this page's metas.
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.zcard(index)
                pipe.zrevrange(index, offset, offset + limit - 1)
                total, ids = await pipe.execute()
            metas = await self._metas(ids)
            return [_summary(m) for m in metas], int(total)
        ids = await self.redis.zrevrange(index, 0, -1)
        needle = name.casefold() if name else None
        wanted = set(tags or ())
        matched: list[dict[str, Any]] = []
        for meta in await self._metas(ids):
            if status is not None and meta.get("status") != status:
                continue
            if wanted and not wanted.issubset(meta.get("tags") or ()):
                continue
            if needle is not None and not (
                needle in str(meta.get("name", "")).casefold()
                or needle in str(meta.get("id", "")).casefold()
            ):
                continue
            matched.append(meta)
        page = matched[offset : offset + limit]
        return [_summary(m) for m in page], len(matched)


def _check_page(limit: int, offset: int) -> None:
    if not 1 <= limit <= MAX_PAGE:
        raise BadRequest(f"limit must be between 1 and {MAX_PAGE}, got {limit}")
    if offset < 0:
        raise BadRequest(f"offset must be 0 or more, got {offset}")


def _summary(meta: dict[str, Any]) -> WorkflowSummary:
    return WorkflowSummary.model_validate(meta)
