"""The template store: versioned, immutable templates in Redis, laid out like workflows.

``P{tpl}:tpl:<id>`` holds ``meta`` (the list row plus who created and changed it, JSON)
and ``v:<n>`` (one :class:`TemplateVersion`, never rewritten); ``P{tpl}:index`` orders ids
by last update. A new version is a compare-and-set on the exact ``meta`` read before it,
so of two concurrent pushes neither is lost (the second becomes the next version).
"""

from __future__ import annotations

from typing import Any

import orjson
import redis.asyncio as aioredis
from pydantic import ValidationError

from orchestrator.errors import BadRequest, Conflict, DagqError, NotFound
from orchestrator.keys import Keys
from orchestrator.scripts import Script
from orchestrator.spec.template import TemplateSpec
from orchestrator.store.records import to_ms, utc_now
from orchestrator.store.workflows import CAS_LUA, CREATE_LUA

_MAX_CAS_ATTEMPTS = 200

# KEYS: hash, index, seeded set. ARGV: meta, version json, score, id.
# A shipped template is stored once per deployment: deleted, it stays deleted.
_SEED = """
if redis.call('SADD', KEYS[3], ARGV[4]) == 0 then return 0 end
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'meta', ARGV[1], 'v:1', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
return 1
"""


def _now_iso() -> str:
    return utc_now().isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _dump(template: TemplateSpec) -> dict[str, Any]:
    return template.model_dump(mode="json", exclude_none=True)


class TemplateStore:
    """Create, version, read, list and delete templates."""

    def __init__(self, redis: aioredis.Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys
        self._create = Script(redis, CREATE_LUA, "templates.create")
        self._seed = Script(redis, _SEED, "templates.seed")
        self._cas = Script(redis, CAS_LUA, "templates.cas")

    def _records(
        self, template: TemplateSpec, version: int, user: str | None, change_log: str | None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        now = _now_iso()
        spec = template.model_copy(update={"version": version})
        meta = {**spec.summary(), "createdAt": now, "updatedAt": now}
        if user:
            meta["createdBy"] = meta["updatedBy"] = user
        record: dict[str, Any] = {
            "version": version,
            "templateId": spec.id,
            "template": _dump(spec),
            "createdAt": now,
        }
        if user:
            record["createdBy"] = user
        if change_log:
            record["changeLog"] = change_log
        return meta, record

    async def create(
        self, template: TemplateSpec, *, user: str | None = None, change_log: str | None = None
    ) -> dict[str, Any]:
        """Store a new template as version 1; :class:`Conflict` if its id is taken."""
        meta, record = self._records(template, 1, user, change_log)
        created = await self._create(
            keys=[self.keys.template(template.id), self.keys.template_index()],
            args=[orjson.dumps(meta), orjson.dumps(record), to_ms(utc_now()), template.id],
        )
        if not created:
            raise Conflict(
                f"template '{template.id}' already exists: push a new version instead",
                details={"templateId": template.id},
            )
        return record

    async def seed(self, template: TemplateSpec) -> bool:
        """Store a shipped template unless this deployment ever had it; True if stored."""
        meta, record = self._records(template, 1, "dagq", "shipped with dagq")
        return bool(
            await self._seed(
                keys=[
                    self.keys.template(template.id),
                    self.keys.template_index(),
                    self.keys.template_seeded(),
                ],
                args=[orjson.dumps(meta), orjson.dumps(record), to_ms(utc_now()), template.id],
            )
        )

    async def add_version(
        self,
        template: TemplateSpec,
        *,
        user: str | None = None,
        change_log: str | None = None,
        expected_version: int | None = None,
    ) -> dict[str, Any]:
        """Store ``template`` as the next version of its id; the new version's record."""
        key = self.keys.template(template.id)
        for _ in range(_MAX_CAS_ATTEMPTS):
            raw = await self.redis.hget(key, "meta")
            if raw is None:
                raise self._not_found(template.id)
            old = self._meta(template.id, raw)
            current = int(old["version"])
            if expected_version is not None and current != expected_version:
                raise Conflict(
                    f"template '{template.id}' is at version {current}, not "
                    f"{expected_version}: reload it and apply your change again",
                    details={"templateId": template.id, "currentVersion": current},
                )
            meta, record = self._records(template, current + 1, user, change_log)
            meta["createdAt"] = old.get("createdAt", meta["createdAt"])
            if old.get("createdBy"):
                meta["createdBy"] = old["createdBy"]
            written = await self._cas(
                keys=[key, self.keys.template_index()],
                args=[
                    raw,
                    orjson.dumps(meta),
                    to_ms(utc_now()),
                    template.id,
                    f"v:{current + 1}",
                    orjson.dumps(record),
                ],
            )
            if written == 1:
                return record
            if written == -1:
                raise self._not_found(template.id)
        raise Conflict(f"template '{template.id}' is being changed by too many writers at once")

    async def delete(self, template_id: str) -> None:
        """Remove a template and every version; :class:`NotFound` when there is none."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(self.keys.template(template_id))
            pipe.zrem(self.keys.template_index(), template_id)
            deleted, _ = await pipe.execute()
        if not deleted:
            raise self._not_found(template_id)

    async def meta(self, template_id: str) -> dict[str, Any]:
        """The template's list row with who made and changed it."""
        raw = await self.redis.hget(self.keys.template(template_id), "meta")
        if raw is None:
            raise self._not_found(template_id)
        return self._meta(template_id, raw)

    async def version(self, template_id: str, version: int | None = None) -> dict[str, Any]:
        """One version's record (the current one by default)."""
        if version is None:
            version = int((await self.meta(template_id))["version"])
        if version < 1:
            raise BadRequest(f"a version is a positive integer, got {version}")
        meta_raw, raw = await self.redis.hmget(
            self.keys.template(template_id), ["meta", f"v:{version}"]
        )
        if meta_raw is None:
            raise self._not_found(template_id)
        if raw is None:
            raise NotFound(
                f"template '{template_id}' has no version {version}",
                details={"templateId": template_id, "version": version},
            )
        record: dict[str, Any] = self._meta(template_id, raw)
        return record

    async def versions(self, template_id: str, *, limit: int = 20) -> list[dict[str, Any]]:
        """The newest ``limit`` versions' records (without their templates), newest first."""
        current = int((await self.meta(template_id))["version"])
        numbers = list(range(current, max(0, current - limit), -1))
        raws = await self.redis.hmget(self.keys.template(template_id), [f"v:{n}" for n in numbers])
        out: list[dict[str, Any]] = []
        for raw in raws:
            if raw is not None:
                record = self._meta(template_id, raw)
                record.pop("template", None)
                out.append(record)
        return out

    async def list_all(self) -> list[dict[str, Any]]:
        """Every template's list row, most recently updated first."""
        ids = await self.redis.zrevrange(self.keys.template_index(), 0, -1)
        if not ids:
            return []
        keys = [self.keys.template(i.decode() if isinstance(i, bytes) else str(i)) for i in ids]
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.hget(key, "meta")
            raws = await pipe.execute()
        rows: list[dict[str, Any]] = []
        for raw in raws:
            if raw is None:
                continue
            try:
                rows.append(orjson.loads(raw))
            except orjson.JSONDecodeError:
                continue  # one corrupt meta must not hide the others
        return rows

    @staticmethod
    def _meta(template_id: str, raw: bytes | str) -> dict[str, Any]:
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise DagqError(
                f"stored template '{template_id}' is unreadable: {exc}", code="STORE_CORRUPT"
            ) from None
        if not isinstance(value, dict):
            raise DagqError(f"stored template '{template_id}' is unreadable", code="STORE_CORRUPT")
        return value

    @staticmethod
    def parse(template_id: str, record: dict[str, Any]) -> TemplateSpec:
        """The :class:`TemplateSpec` of a version record."""
        try:
            return TemplateSpec.model_validate(record["template"])
        except (KeyError, ValidationError) as exc:
            raise DagqError(
                f"stored template '{template_id}' is unreadable: {exc}", code="STORE_CORRUPT"
            ) from None

    @staticmethod
    def _not_found(template_id: str) -> NotFound:
        return NotFound(f"template '{template_id}' not found", details={"templateId": template_id})
