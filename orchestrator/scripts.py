"""Lua scripts that run the same on one Redis server and on a Redis Cluster.

Every dagq script is a :class:`Script`, never ``redis.register_script`` directly (this module
sits on the ground floor, beside ``keys``, so the store and security both use it), so
every call passes one check and one routing rule:

- **One slot.** Before a call is sent, the slots of all its KEYS are computed (CRC16,
  as Redis does, hash tags included) and a call whose keys span slots raises
  :class:`CrossSlotError`, on a single server too: the test suite, which runs every
  script, proves the layout fits a cluster, and a mistake can never reach a cluster as
  a CROSSSLOT error (or, worse, silently work until a reshard moves a slot).
- **Pipelines.** redis-py's cluster pipeline refuses EVALSHA, so in a cluster pipeline a
  script is sent with EVAL (its text; Redis caches the compiled script by its SHA1).
  Everywhere else EVALSHA is used and, on NOSCRIPT (a replica promoted after a failover
  never saw SCRIPT LOAD), the script is loaded again.  A pipeline that carries a script
  makes redis-py ask ``SCRIPT EXISTS`` (one more round trip) before it runs: a script
  asks that at most once per :data:`RECHECK_S`, and queues its bare EVALSHA otherwise
  (a server that lost its scripts meanwhile fails those pipelines with NOSCRIPT, which
  the callers handle as any Redis error, until the next check loads them again).

Scripts that write to a key they compute themselves (the timer promoter, whose targets
come from its entries) must check that key carries the same hash tag as a declared key.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

from redis.asyncio.client import Pipeline
from redis.asyncio.cluster import ClusterPipeline, RedisCluster
from redis.crc import key_slot

RECHECK_S = 1.0
"""How often a script in a pipeline lets redis-py check that the server has it."""


class CrossSlotError(RuntimeError):
    """A script call whose keys do not share one hash slot (a dagq bug)."""


def slot_of(key: str | bytes) -> int:
    """The cluster hash slot of ``key`` (hash tags honoured)."""
    return key_slot(key.encode() if isinstance(key, str) else key)


def check_one_slot(keys: Sequence[str | bytes], what: str = "a script") -> None:
    """Raise :class:`CrossSlotError` unless every key of ``keys`` maps to one slot."""
    if len(keys) < 2:
        return
    first = slot_of(keys[0])
    for key in keys[1:]:
        if slot_of(key) != first:
            raise CrossSlotError(
                f"{what} was called with keys in different hash slots: {keys[0]!r} "
                f"(slot {first}) and {key!r} (slot {slot_of(key)})"
            )


def is_cluster(client: object) -> bool:
    """Whether ``client`` is a Redis Cluster client."""
    return isinstance(client, RedisCluster)


class Script:
    """A Lua script of dagq: ``await script(keys=[...], args=[...], client=pipe_or_None)``.

    The call signature is redis-py's ``AsyncScript``; with a pipeline as ``client`` the
    call is queued on it and returns at once.
    """

    def __init__(self, redis: Any, text: str, name: str = "") -> None:
        self.text = text
        self.name = name or text.strip().splitlines()[0][:60]
        self._script = redis.register_script(text)
        self._recheck_at = 0.0

    async def __call__(
        self,
        keys: Sequence[str | bytes] = (),
        args: Iterable[Any] = (),
        client: Any = None,
    ) -> Any:
        key_list = list(keys)
        check_one_slot(key_list, f"the script {self.name!r}")
        if isinstance(client, ClusterPipeline):
            return client.eval(self.text, len(key_list), *key_list, *args)
        if isinstance(client, Pipeline):
            now = time.monotonic()
            if now < self._recheck_at:  # the server had it a moment ago
                return await client.evalsha(self._script.sha, len(key_list), *key_list, *args)
            self._recheck_at = now + RECHECK_S
        return await self._script(keys=key_list, args=list(args), client=client)
