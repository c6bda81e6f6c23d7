"""One settings object for every dagq process.

Sources, strongest first: explicit keyword arguments, ``DAGQ_*`` environment
variables (nested with ``__``: ``DAGQ_WORKFLOW__EXECUTION__DEFAULT_TIMEOUT=60``),
the YAML config file, defaults.  The config file is ``$DAGQ_CONFIG``, else
``./dagq.yaml``, else ``<data dir>/config.yaml``.  The design's "Configuration
Example" (a top-level ``workflow:`` section) loads as it stands.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    IPvAnyNetwork,
    field_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from orchestrator.durations import parse_duration

Seconds = Annotated[float, BeforeValidator(parse_duration)]
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(s|sec|second|m|min|minute|h|hour|d|day)\s*$")


def default_data_dir() -> Path:
    """The per-user data folder: ``$XDG_DATA_HOME/dagq`` or ``~/.local/share/dagq``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "dagq"


class _Section(BaseModel):
    model_config = ConfigDict(extra="ignore")


class RetryDefaults(_Section):
    """Retry behaviour of a task that does not set its own."""

    max_attempts: int = Field(default=3, ge=1, le=101)
    """Attempts in all (first try plus retries)."""
    backoff: Literal["fixed", "linear", "exponential"] = "exponential"
    """How the delay between attempts grows."""
    initial_interval: Seconds = 1.0
    """Delay before the second attempt."""
    max_interval: Seconds = 60.0
    """Upper bound of any delay between attempts."""
    multiplier: float = Field(default=2.0, ge=1.0)
    """Growth factor of exponential backoff."""
    jitter: bool = False
    """Randomise each delay by up to +-20% to spread retries out."""


class StorageSection(_Section):
    """Where workflow definitions and runtime state live."""

    backend: Literal["redis"] = "redis"
    """Only Redis is supported."""
    prefix: str = "dagq:"
    """Prefix of every Redis key dagq writes."""
    ttl: Seconds = 86400.0
    """How long a finished run's state and events are kept."""


class ExecutionSection(_Section):
    """Engine limits and defaults."""

    max_concurrent_runs: int = Field(default=100, ge=1)
    """Runs that may be active at once (all workflows); more are refused."""
    max_queued_nodes: int | None = Field(default=None, ge=1)
    """Jobs that may wait in the queues (all workflows): a start is refused (429 with
    Retry-After) while the queues are this deep. None: no limit."""
    queue_full_retry_after: Seconds = Field(default=5.0, gt=0)
    """The Retry-After of a start refused because the queues are full."""
    max_nodes_per_workflow: int = Field(default=500, ge=1)
    """Largest workflow the validator accepts (TOO_MANY_NODES)."""
    default_timeout: Seconds = Field(default=300.0, gt=0)
    """Timeout of a task attempt that does not set its own (above 0: there is no unlimited)."""
    retry_policy: RetryDefaults = Field(default_factory=RetryDefaults)
    """Retry defaults for tasks."""


class ResourceLimits(_Section):
    """The design's resource limits (Access Control Model)."""

    max_workflow_duration: Seconds = 3600.0
    """A run still active after this long fails."""
    max_parallel_executions: int = Field(default=10, ge=1)
    """Nodes of one workflow's runs that may execute at once."""
    max_retry_attempts: int = Field(default=5, ge=0)
    """Highest ``retries`` a task may ask for."""
    max_map_items: int = Field(default=10_000, ge=0)
    """Most items a map node may fan out to (a node's own ``max_items`` may lower it)."""
    max_subworkflow_depth: int = Field(default=5, ge=0, le=100)
    """How deep sub-workflows may nest (a run started by a run started by a run...)."""
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    """Largest HTTP request body the API reads."""
    max_json_depth: int = Field(default=64, ge=8, le=200)
    """Deepest nesting of objects and lists the API accepts in a request body (run
    parameters, a task's ``input``, ``metadata``); deeper bodies get 413 before any model
    is built."""


class TuiSection(_Section):
    """The designer's look and keys."""

    canvas_size: str = "120x40"
    """Preferred canvas size, COLSxROWS."""
    auto_layout: bool = True
    """Lay out nodes without positions automatically."""
    theme: str = "dark"
    """``dark`` or ``light`` (or any Textual theme name)."""
    shortcuts: dict[str, str] = Field(
        default_factory=lambda: {
            "add_node": "n",
            "delete_node": "d",
            "connect_nodes": "c",
            "validate": "v",
            "execute": "r",
        }
    )
    """Key bound to each designer action."""


class SecuritySection(_Section):
    """Authentication, authorization, audit and rate limits."""

    auth_required: bool = True
    """Refuse requests without a valid key or token."""
    rbac_enabled: bool = True
    """Check every request against the Casbin policy."""
    audit_logging: bool = True
    """Audit every mutation and every denial."""
    rate_limiting: dict[str, str] = Field(
        default_factory=lambda: {
            "create_workflow": "10/min",
            "start_run": "100/min",
            "check_permission": "60/min",
        }
    )
    """Per-user limits by action, ``N/sec|min|hour|day``."""

    @field_validator("rate_limiting")
    @classmethod
    def _check_rates(cls, value: dict[str, str]) -> dict[str, str]:
        for action, rate in value.items():
            if not _RATE.match(str(rate)):
                raise ValueError(f"rate for {action!r} must look like 10/min, got {rate!r}")
        return value


class WorkflowSection(_Section):
    """The design's ``workflow:`` configuration block."""

    enabled: bool = True
    """Master switch (kept for compatibility with the design's example)."""
    storage: StorageSection = Field(default_factory=StorageSection)
    execution: ExecutionSection = Field(default_factory=ExecutionSection)
    resource_limits: ResourceLimits = Field(default_factory=ResourceLimits)
    tui: TuiSection = Field(default_factory=TuiSection)
    security: SecuritySection = Field(default_factory=SecuritySection)


class QueueSection(_Section):
    """Job queue tuning."""

    shards: int = Field(default=1, ge=1, le=1024)
    """Hash-tag shards of run and queue keys; raise it on Redis Cluster. Fixed per deployment."""
    visibility_timeout: Seconds = 30.0
    """A delivery not acknowledged or extended for this long is reclaimed."""
    max_deliveries: int = Field(default=5, ge=1)
    """Deliveries of one job before it goes to the dead-letter stream."""
    event_retention: int = Field(default=10_000, ge=10)
    """Events kept per run stream (approximate trim)."""
    heartbeat_interval: Seconds = 2.0
    """How often workers announce themselves and extend their leases."""
    worker_ttl: Seconds = 10.0
    """A worker silent for this long is considered gone."""
    orchestrator_batch: int = Field(default=1000, ge=1, le=100_000)
    """Inbox entries an orchestrator reads at once from a shard."""
    orchestrator_cache: int = Field(default=4096, ge=1, le=10_000_000)
    """Run states an orchestrator keeps decoded between batches (the least recently used
    go first); runs beyond it are reloaded when their results arrive."""


class RedisSection(_Section):
    """Redis: the embedded server (used when ``redis_url`` is unset), replica waits."""

    wait_replicas: int = Field(default=0, ge=0, le=16)
    """Replicas that must hold a run's creation and a node's result before dagq goes on
    (Redis ``WAIT`` after those writes); 0 does not wait.  Redis replicates
    asynchronously, so without it a failover can lose writes acknowledged just before
    the master died (see docs/benchmarks.md, "Failover")."""
    wait_timeout: Seconds = 2.0
    """How long one ``WAIT`` may take; when fewer replicas confirm in time, a warning is
    logged and dagq goes on (the write is on the master)."""

    embedded_fsync: Literal["always", "everysec", "no"] = "everysec"
    """When its append-only file is fsynced: ``everysec`` can lose up to about 1 s of
    acknowledged runs on a machine crash or power loss (not on a process crash);
    ``always`` loses none and costs throughput (see docs/benchmarks.md); ``no`` leaves it
    to the kernel (up to ~30 s).  Set by the process that starts the server."""


class ApiSection(_Section):
    """The HTTP API."""

    host: str = "127.0.0.1"
    """Interface to listen on."""
    port: int = Field(default=8080, ge=0, le=65535)
    """Port to listen on (0 picks a free one)."""
    url: str | None = None
    """Base URL clients use (``http://host:port``); derived from host and port when unset."""
    jwt_ttl: Seconds = 900.0
    """Lifetime of bearer tokens minted for web sessions."""
    jwt_secret: str | None = None
    """HS256 key for bearer tokens (32+ bytes), shared by API replicas; unset means a random
    one kept in ``<data dir>/jwt.secret``."""


class WebSection(_Section):
    """The browser front end."""

    host: str = "127.0.0.1"
    """Interface to listen on."""
    port: int = Field(default=8000, ge=0, le=65535)
    """Port to listen on."""
    public_url: str | None = None
    """URL the browser sees when behind a reverse proxy."""
    session_ttl: Seconds = 43200.0
    """Lifetime of a login session."""
    max_apps_per_user: int = Field(default=3, ge=1)
    """Concurrent app processes one user may hold."""
    max_apps: int = Field(default=32, ge=1)
    """Concurrent app processes in all."""
    idle_timeout: Seconds = 1800.0
    """An app with no input for this long is closed."""


class TriggersSection(_Section):
    """Idempotent starts, schedules and webhooks."""

    idempotency_retention: Seconds = Field(default=86400.0, gt=0)
    """How long an ``Idempotency-Key`` keeps answering with its first run."""
    outage_after: Seconds = Field(default=10.0, ge=2.0)
    """No scheduler pass for this long means every orchestrator was down: fires that fell
    due meanwhile are *missed* and handled by each schedule's ``catchup``."""
    hook_max_skew: Seconds = Field(default=300.0, gt=0)
    """A webhook's ``X-Dagq-Timestamp`` may be this far from the server's clock."""
    hook_rate_limit: str = "60/minute"
    """Deliveries one webhook accepts (``N/second|minute|hour``)."""
    notify_secret: str | None = None
    """HMAC-SHA256 key signing a workflow's outgoing ``notify`` POSTs (``X-Dagq-Signature``);
    unset means a random one kept in Redis (``dagq hooks notify-secret`` shows it)."""
    notify_max_attempts: int = Field(default=10, ge=1, le=100)
    """Deliveries of one notification before it is given up (backoff 1 s doubling, capped
    at 5 minutes)."""
    notify_allowed_networks: list[IPvAnyNetwork] = Field(default_factory=list)
    """Networks a ``notify`` POST may reach although they are loopback, private, link-local,
    reserved... (e.g. ``["10.1.0.0/16", "127.0.0.1/32"]``); every such address is refused by
    default, checked on the addresses a host name resolves to at connect time."""


class Settings(BaseSettings):
    """Every setting of a dagq process."""

    model_config = SettingsConfigDict(
        env_prefix="DAGQ_",
        env_nested_delimiter="__",
        extra="ignore",
        validate_default=True,
    )

    redis_url: str | None = None
    """Redis to use; unset means the embedded server in the data dir."""
    data_dir: Path = Field(default_factory=default_data_dir)
    """Folder for the embedded Redis, local credentials and logs."""
    policies_dir: Path | None = None
    """Casbin model, policy and users file; default ``./policies`` or the data dir's."""
    config_file: Path | None = Field(default=None, exclude=True)
    """The YAML file these settings were read from, if any."""
    workflow: WorkflowSection = Field(default_factory=WorkflowSection)
    queue: QueueSection = Field(default_factory=QueueSection)
    redis: RedisSection = Field(default_factory=RedisSection)
    api: ApiSection = Field(default_factory=ApiSection)
    web: WebSection = Field(default_factory=WebSection)
    triggers: TriggersSection = Field(default_factory=TriggersSection)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = config_path()
        if path is not None:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=path))
        return tuple(sources)

    @property
    def execution(self) -> ExecutionSection:
        """Shortcut to ``workflow.execution``."""
        return self.workflow.execution

    @property
    def limits(self) -> ResourceLimits:
        """Shortcut to ``workflow.resource_limits``."""
        return self.workflow.resource_limits

    def resolved_policies_dir(self) -> Path:
        """``policies_dir``, else ``./policies`` when present, else ``<data dir>/policies``."""
        if self.policies_dir is not None:
            return self.policies_dir
        local = Path.cwd() / "policies"
        if (local / "model.conf").exists():
            return local
        return self.data_dir / "policies"


def config_path() -> Path | None:
    """The config file in force: ``$DAGQ_CONFIG``, ``./dagq.yaml``, ``<data dir>/config.yaml``."""
    explicit = os.environ.get("DAGQ_CONFIG")
    if explicit:
        return Path(explicit)
    local = Path.cwd() / "dagq.yaml"
    if local.exists():
        return local
    data_dir = Path(os.environ.get("DAGQ_DATA_DIR") or default_data_dir())
    candidate = data_dir / "config.yaml"
    return candidate if candidate.exists() else None


def rate_per_window(rate: str) -> tuple[int, int]:
    """``"10/min"`` -> ``(10, 60)``: the count and the window in seconds."""
    match = _RATE.match(rate)
    if not match:
        raise ValueError(f"bad rate {rate!r}")
    window = {"s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)[0]]
    return int(match.group(1)), window


def load_settings(**overrides: Any) -> Settings:
    """Build the settings; a broken config file raises :class:`~orchestrator.errors.ConfigError`."""
    from pydantic import ValidationError

    from orchestrator.errors import ConfigError

    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"configuration error at {where}: {first['msg']}") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the configuration: {exc}") from None
    object.__setattr__(settings, "config_file", config_path())
    return settings
