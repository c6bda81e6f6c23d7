"""``redis.wait_replicas``: Redis ``WAIT`` after the writes dagq must not lose.

Redis replicates asynchronously: a write the master acknowledged can be missing from the
replica promoted when that master dies.  With ``redis.wait_replicas: N`` the writes that
must survive — a run's creation, a node's result (inbox message + job ack) — are
followed by ``WAIT N timeout`` *on the same connection* (the same pipeline; on a
cluster, pinned to the node that took the write), so the call returns only once N
replicas hold it, or the timeout passed (then a warning names what is unconfirmed).
Every later write of a run is derived from these two again after a failover: the
orchestrator re-applies an inbox message whose application was lost, and a lost
dispatch is dispatched again.
"""

from __future__ import annotations

import logging
from typing import Any

from orchestrator.scripts import is_cluster
from orchestrator.settings import Settings

log = logging.getLogger("dagq.replicas")

RIDE_THROUGH_S = 10.0
"""How long a must-not-lose write is sent again while Redis fails over (a promotion takes
``cluster-node-timeout`` + ~2 s)."""


class ReplicaWait:
    """Queues ``WAIT`` on pipelines and checks its answers."""

    def __init__(self, redis: Any, replicas: int = 0, timeout_s: float = 2.0) -> None:
        self.redis = redis
        self.replicas = max(0, replicas)
        self.timeout_ms = max(1, int(timeout_s * 1000))
        self.unconfirmed = 0
        """Writes whose WAIT ended with fewer replicas than asked (since start)."""

    @classmethod
    def from_settings(cls, redis: Any, settings: Settings) -> ReplicaWait:
        """The configured ``redis.wait_replicas`` and ``redis.wait_timeout``."""
        return cls(redis, settings.redis.wait_replicas, settings.redis.wait_timeout)

    @property
    def enabled(self) -> bool:
        """Whether writes wait for replicas at all."""
        return self.replicas > 0

    def queue(self, pipe: Any, key: str) -> None:
        """Queue ``WAIT`` on ``pipe`` after the writes to ``key``'s node queued before it."""
        if is_cluster(self.redis):
            node = self.redis.get_node_from_key(key)
            pipe.execute_command("WAIT", self.replicas, self.timeout_ms, target_nodes=node)
        else:
            pipe.execute_command("WAIT", self.replicas, self.timeout_ms)

    def check(self, acked: Any, what: str) -> bool:
        """Whether ``acked`` (WAIT's answer) reaches the wanted count; warn when not."""
        count = int(acked) if isinstance(acked, (int, bytes, str)) else -1
        if count >= self.replicas:
            return True
        self.unconfirmed += 1
        log.warning(
            "%s: only %d of %d replica(s) confirmed within %d ms; it is lost if its master "
            "fails before replicating it",
            what,
            max(count, 0),
            self.replicas,
            self.timeout_ms,
        )
        return False
