"""Every Redis key dagq uses is built here, and nowhere else.

Layout (``P`` is the configured prefix, default ``dagq:``):

Workflow definitions, hash tag ``{wf}`` (one slot; they are few and small):
    P{wf}:wf:<id>            hash  meta (JSON of the current record), v:<n> (JSON of version n)
    P{wf}:wfindex            zset  workflow ids scored by last update (ms); not under ``wf:``
                             so that a workflow named ``index`` cannot collide with it

Runs and their queues live in shards, hash tag ``{s<k>}`` (``k = crc32(run id) % shards``),
so that every multi-key script of a run touches one slot:
    P{s<k>}:run:<run id>     hash  v (int version), meta (JSON), n:<node id> (JSON per node)
    P{s<k>}:runs:<wf id>     zset  run ids of a workflow by start time (ms)
    P{s<k>}:runs             zset  all run ids by start time (ms)
    P{s<k>}:active           zset  active run ids by start time (ms)
    P{s<k>}:ev:<run id>      stream  the run's events (node_queued, node_completed, ...)
    P{s<k>}:logs:<run id>    stream  what handlers logged and printed, one entry per attempt
    P{s<k>}:q:<lane>:<handler>  stream  jobs, consumer group ``workers``
    P{s<k>}:inbox            stream  results and signals for orchestrators, group ``orch``
    P{s<k>}:timers           zset  due-ms scored JSON entries (delayed jobs, timer events)
    P{s<k>}:dlq              stream  dead-lettered jobs
    P{s<k>}:jobs             zset  run ids of plain jobs and chains by start time (ms)
    P{s<k>}:notify           stream  outgoing workflow notifications (``notify:``), group notify

Templates, hash tag ``{tpl}`` (like workflow definitions):
    P{tpl}:tpl:<id>          hash  meta (JSON: the list row), v:<n> (JSON of version n)
    P{tpl}:index             zset  template ids scored by last update (ms)
    P{tpl}:seeded            set   ids of the shipped gallery ever stored (a deleted one stays gone)

Cluster-wide, never touched by multi-key scripts:
    P{w}:workers             zset  worker id -> last heartbeat (ms)
    P{w}:worker:<id>         hash  worker info (handlers, host, pid, concurrency)
    P{rl}:<user>:<action>    rate-limit windows (the ``limits`` library adds its own suffix)
    P{audit}:log             stream  audit entries
    P{audit}:inflight        hash  request id -> JSON of an audited change under way
    P{audit}:owner:<id>      string  a live process that may hold in-flight entries (TTL)
    P{audit}:strangers:<min> hash  address -> unauthenticated requests refused in that minute
    P{audit}:files           hash  the policies files as last audited (digests, texts)
    P{cfg}:policy            hash  policy status published by API replicas
    P{cfg}:policy-in-force   hash  the policy an API last accepted (digest, model, policy text)
    P{idem}:<sha256>         string  an Idempotency-Key's first run (JSON: run, fingerprint)

Schedules, webhooks and backfills, hash tag ``{sched}`` (one slot: the scheduler's
claim-and-advance script touches a schedule, the due set and its outcomes at once):
    P{sched}:defs            hash  schedule id -> JSON definition
    P{sched}:state:<id>      hash  next fire, last run, buffered fire, pause note, lease
    P{sched}:due             zset  schedule id -> due ms (next fire + jitter)
    P{sched}:out:<id>        list  the last outcomes, newest first (JSON)
    P{sched}:tick            string  ms of the last scheduler pass (outage detection)
    P{sched}:outage          string  "<from ms>,<to ms>": the last time no scheduler ran
    P{sched}:lease:<id>      string  the process working on a schedule (token, TTL)
    P{sched}:bf:<id>         hash  a schedule's backfill (range, cursor, max parallel)
    P{sched}:backfills       set   schedule ids with a backfill under way
    P{hook}:defs             hash  hook id -> JSON (workflow, mapping, secret digest)
    P{hook}:seen:<sha256>    string  a used webhook signature (TTL: the allowed skew x2)
    P{hook}:notify-secret    string  the key signing outgoing notifications (when not configured)
    P{web}:revoked:<sid>     string  a signed-out web session id (TTL: its remaining life)
    P{web}:link:<sha256>     string  an unused one-time sign-in link -> the user it signs in
    P{login}:user:<sha256>   zset  a user name's failed sign-ins in the window (ms scores)
    P{login}:addr:<address>  zset  an address's failed sign-ins in the window (ms scores)
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

LANES: tuple[str, ...] = ("high", "normal", "low")
WORKER_GROUP = "workers"
ORCH_GROUP = "orch"


def lane_for_priority(priority: int) -> str:
    """Priority 0-10 to a lane: 7-10 high, 4-6 normal, 0-3 low."""
    if priority >= 7:
        return "high"
    if priority >= 4:
        return "normal"
    return "low"


@dataclass(frozen=True, slots=True)
class Keys:
    """Key builder for one deployment (prefix and shard count)."""

    prefix: str = "dagq:"
    shards: int = 1

    # -- workflow definitions -------------------------------------------------
    def workflow(self, workflow_id: str) -> str:
        """Hash of one workflow: its meta record and every version."""
        return f"{self.prefix}{{wf}}:wf:{workflow_id}"

    def workflow_index(self) -> str:
        """Sorted set of workflow ids by last update."""
        return f"{self.prefix}{{wf}}:wfindex"

    # -- templates ----------------------------------------------------------------
    def template(self, template_id: str) -> str:
        """Hash of one template: its meta record and every version."""
        return f"{self.prefix}{{tpl}}:tpl:{template_id}"

    def template_index(self) -> str:
        """Sorted set of template ids by last update."""
        return f"{self.prefix}{{tpl}}:index"

    def template_seeded(self) -> str:
        """Set of the shipped templates' ids ever stored here."""
        return f"{self.prefix}{{tpl}}:seeded"

    # -- shards -----------------------------------------------------------------
    def shard_of(self, run_id: str) -> int:
        """The shard a run lives in."""
        if self.shards == 1:
            return 0
        return zlib.crc32(run_id.encode()) % self.shards

    def tag(self, shard: int) -> str:
        """The key prefix with the shard's hash tag."""
        return f"{self.prefix}{{s{shard}}}:"

    def all_shards(self) -> range:
        """Every shard number."""
        return range(self.shards)

    # -- runs -------------------------------------------------------------------
    def run(self, run_id: str) -> str:
        """Hash holding a run's state."""
        return f"{self.tag(self.shard_of(run_id))}run:{run_id}"

    def run_events(self, run_id: str) -> str:
        """Stream of a run's events."""
        return f"{self.tag(self.shard_of(run_id))}ev:{run_id}"

    def run_logs(self, run_id: str) -> str:
        """Stream of a run's handler logs, one entry per attempt."""
        return f"{self.tag(self.shard_of(run_id))}logs:{run_id}"

    def runs_of(self, shard: int, workflow_id: str) -> str:
        """Sorted set of one workflow's runs in a shard."""
        return f"{self.tag(shard)}runs:{workflow_id}"

    def runs_all(self, shard: int) -> str:
        """Sorted set of every run in a shard."""
        return f"{self.tag(shard)}runs"

    def jobs(self, shard: int) -> str:
        """Sorted set of a shard's plain jobs and chains (their run ids) by start time."""
        return f"{self.tag(shard)}jobs"

    def active(self, shard: int) -> str:
        """Sorted set of a shard's active (not finished) runs."""
        return f"{self.tag(shard)}active"

    def approvals(self, shard: int) -> str:
        """Sorted set of a shard's approvals waiting for a decision (``<run id> <node id>``,
        scored by request time), written in the same step as the run's state."""
        return f"{self.tag(shard)}approvals"

    def approvals_built(self, shard: int) -> str:
        """Set once the shard's approvals index also holds the approvals of runs written
        before the index existed (the first listing rebuilds it from the active runs)."""
        return f"{self.tag(shard)}approvals:built"

    # -- queues -----------------------------------------------------------------
    def queue(self, shard: int, lane: str, handler: str) -> str:
        """Job stream of one handler in one priority lane."""
        return f"{self.tag(shard)}q:{lane}:{handler}"

    def queue_pattern(self, shard: int) -> str:
        """SCAN pattern matching every job stream of a shard."""
        return f"{self.tag(shard)}q:*"

    def inbox(self, shard: int) -> str:
        """Stream of results and signals the orchestrators consume."""
        return f"{self.tag(shard)}inbox"

    def timers(self, shard: int) -> str:
        """Sorted set of delayed jobs and timer events, scored by due time (ms)."""
        return f"{self.tag(shard)}timers"

    def dead_letters(self, shard: int) -> str:
        """Stream of dead-lettered jobs."""
        return f"{self.tag(shard)}dlq"

    def notify(self, shard: int) -> str:
        """Stream of outgoing notifications (a workflow's ``notify`` hook)."""
        return f"{self.tag(shard)}notify"

    # -- workers, limits, audit ---------------------------------------------------
    def workers(self) -> str:
        """Sorted set of worker ids by last heartbeat (ms)."""
        return f"{self.prefix}{{w}}:workers"

    def worker(self, worker_id: str) -> str:
        """Hash describing one worker."""
        return f"{self.prefix}{{w}}:worker:{worker_id}"

    def rate_limit_prefix(self) -> str:
        """Prefix handed to the rate limiter's storage."""
        return f"{self.prefix}{{rl}}"

    def audit_log(self) -> str:
        """Stream of audit entries."""
        return f"{self.prefix}{{audit}}:log"

    def audit_inflight(self) -> str:
        """Hash of audited changes under way (written before the change, removed after)."""
        return f"{self.prefix}{{audit}}:inflight"

    def audit_owner(self, owner: str) -> str:
        """Liveness key of a process that writes in-flight audit entries."""
        return f"{self.prefix}{{audit}}:owner:{owner}"

    def audit_strangers(self, minute: int) -> str:
        """Hash of refused unauthenticated requests per address in one minute (epoch min)."""
        return f"{self.prefix}{{audit}}:strangers:{minute}"

    def audit_files(self) -> str:
        """Hash holding the policies files as the audit trail last recorded them."""
        return f"{self.prefix}{{audit}}:files"

    def web_revoked(self, session_id: str) -> str:
        """Marker of a signed-out web session, kept until the session would have expired."""
        return f"{self.prefix}{{web}}:revoked:{session_id}"

    def web_link(self, token_sha256: str) -> str:
        """An unused one-time sign-in link (by the sha256 of its token)."""
        return f"{self.prefix}{{web}}:link:{token_sha256}"

    def login_user(self, name_sha256: str) -> str:
        """Failed sign-ins for one user name (by hash: a password typed as a name stays out)."""
        return f"{self.prefix}{{login}}:user:{name_sha256}"

    def login_address(self, address: str) -> str:
        """Failed sign-ins from one client address."""
        return f"{self.prefix}{{login}}:addr:{address}"

    # -- triggers -----------------------------------------------------------------
    def idempotency(self, key_sha256: str) -> str:
        """An Idempotency-Key's record (by the sha256 of the key)."""
        return f"{self.prefix}{{idem}}:{key_sha256}"

    def schedules(self) -> str:
        """Hash of schedule definitions."""
        return f"{self.prefix}{{sched}}:defs"

    def schedule_state(self, schedule_id: str) -> str:
        """Hash of one schedule's moving parts (next fire, last run, lease...)."""
        return f"{self.prefix}{{sched}}:state:{schedule_id}"

    def schedules_due(self) -> str:
        """Sorted set of schedule ids by due time (ms)."""
        return f"{self.prefix}{{sched}}:due"

    def schedule_outcomes(self, schedule_id: str) -> str:
        """List of a schedule's last outcomes, newest first."""
        return f"{self.prefix}{{sched}}:out:{schedule_id}"

    def scheduler_tick(self) -> str:
        """Time (ms) of the last scheduler pass of any process."""
        return f"{self.prefix}{{sched}}:tick"

    def scheduler_outage(self) -> str:
        """The last span with no scheduler pass (``<from ms>,<to ms>``)."""
        return f"{self.prefix}{{sched}}:outage"

    def schedule_lease(self, schedule_id: str) -> str:
        """Token of the process working on a schedule (with a TTL)."""
        return f"{self.prefix}{{sched}}:lease:{schedule_id}"

    def backfill(self, schedule_id: str) -> str:
        """Hash of a schedule's backfill."""
        return f"{self.prefix}{{sched}}:bf:{schedule_id}"

    def backfills(self) -> str:
        """Set of schedule ids with a backfill under way."""
        return f"{self.prefix}{{sched}}:backfills"

    def hooks(self) -> str:
        """Hash of webhook definitions."""
        return f"{self.prefix}{{hook}}:defs"

    def notify_secret(self) -> str:
        """The key signing outgoing notifications, unless ``triggers.notify_secret`` is set."""
        return f"{self.prefix}{{hook}}:notify-secret"

    def hook_seen(self, signature_sha256: str) -> str:
        """A webhook signature already used (refused when seen again)."""
        return f"{self.prefix}{{hook}}:seen:{signature_sha256}"

    def policy_status(self) -> str:
        """Hash where API replicas publish their policy reload status."""
        return f"{self.prefix}{{cfg}}:policy"

    def policy_in_force(self) -> str:
        """Hash where API processes publish the policy they accepted (for workers' checks)."""
        return f"{self.prefix}{{cfg}}:policy-in-force"
