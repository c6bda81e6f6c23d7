"""Casbin authorization over a policies directory, hot reloaded and never failing open.

The model and policy are read as text, checked line by line (Casbin itself loads a
line with the wrong field count and then raises on *every* decision), built into a
fresh enforcer, probed for every role and permission, checked against the invariants
(``security.invariants``: an edit that parses but opens everything is refused), and
only then swapped in.  A rejected edit leaves the last good policy in force and is
recorded in :meth:`Authorizer.status` for admins; every reload, accepted or refused, is
also queued as a :class:`PolicyChange` for the audit trail.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import casbin
import structlog
from casbin.model import Model
from casbin.persist import Adapter, load_policy_line

from orchestrator.errors import ConfigError
from orchestrator.security import invariants
from orchestrator.security.policy_file import MODEL_FILE, POLICY_FILE, parse_policy
from orchestrator.security.roles import PERMISSIONS as PERMISSIONS
from orchestrator.security.roles import ROLES as ROLES

log = structlog.get_logger(__name__)

_CACHE_MAX = 50_000
_PROBE_STRANGER = "\x00dagq-probe-stranger"
_CHANGES_KEPT = 20


@dataclass(frozen=True, slots=True)
class PolicyStatus:
    """What admins see about the policy in force and the last reload attempt."""

    policies_dir: str
    loaded_at: datetime
    """When the policy now in force was loaded."""
    last_reload_at: datetime | None
    """When the files were last (re)read because they changed, successfully or not."""
    last_error: str | None
    """Why the latest rejected edit was rejected."""
    last_error_at: datetime | None
    in_error: bool
    """True while the files on disk are rejected (the older policy is still in force)."""
    policy_lines: int
    """Rules (``p`` and ``g`` lines) in the policy in force."""
    roles: tuple[str, ...]
    """Roles (subjects of ``p`` lines) in the policy in force."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view with ISO 8601 UTC times."""

        def iso(value: datetime | None) -> str | None:
            return None if value is None else value.isoformat().replace("+00:00", "Z")

        return {
            "policiesDir": self.policies_dir,
            "loadedAt": iso(self.loaded_at),
            "lastReloadAt": iso(self.last_reload_at),
            "lastError": self.last_error,
            "lastErrorAt": iso(self.last_error_at),
            "inError": self.in_error,
            "policyLines": self.policy_lines,
            "roles": list(self.roles),
        }


@dataclass(frozen=True, slots=True)
class PolicyChange:
    """One reload of the policy files as the audit trail records it: accepted or refused."""

    accepted: bool
    error: str | None
    digest: str
    """Content hash of the files judged."""
    model_text: str
    policy_text: str
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


class _LinesAdapter(Adapter):  # type: ignore[misc]
    """Feeds already validated policy lines to Casbin (no second read of the file)."""

    def __init__(self, lines: list[str]) -> None:
        self._lines = lines

    def load_policy(self, model: Model) -> None:
        for line in self._lines:
            load_policy_line(line, model)


@dataclass(frozen=True, slots=True)
class _Loaded:
    enforcer: casbin.Enforcer
    digest: str
    policy_lines: int
    roles: tuple[str, ...]
    role_perms: dict[str, tuple[str, ...]]
    admins: tuple[str, ...]
    """Users the policy gives workflow_admin (the keeps-an-admin invariant)."""
    model_text: str = ""
    policy_text: str = ""
    loaded_at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True, slots=True)
class _Files:
    digest: str
    model: bytes | None
    policy: bytes | None


def _snapshot(policies_dir: Path) -> _Files:
    """Both files' bytes and their content hash (mtimes alone miss same-size edits in one
    tick); a missing or unreadable file counts as a content of its own."""
    h = hashlib.sha256()
    found: list[bytes | None] = []
    for name in (MODEL_FILE, POLICY_FILE):
        try:
            data: bytes | None = (policies_dir / name).read_bytes()
            h.update(data or b"")
        except OSError as exc:
            data = None
            h.update(f"<unreadable {exc.errno}>".encode())
        h.update(b"\x00")
        found.append(data)
    return _Files(h.hexdigest(), found[0], found[1])


def _text(policies_dir: Path, name: str, data: bytes | None) -> str:
    if data is None:
        path = policies_dir / name
        if not path.exists():
            raise ConfigError(f"{name} is missing from {policies_dir}")
        raise ConfigError(f"cannot read {path}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"cannot read {policies_dir / name}: {exc}") from None


def _build_model(text: str) -> Model:
    model = Model()
    try:
        model.load_model_from_text(text)
    except Exception as exc:  # casbin raises bare RuntimeError/KeyError on bad text
        raise ConfigError(f"model.conf does not load: {exc}") from None
    for sec in ("r", "p", "e", "m"):
        if sec not in model.model or sec not in model.model[sec]:
            raise ConfigError(f"model.conf: section [{sec}] with '{sec} = ...' is required")
    if "keymatch2" in str(model.model["m"]["m"].value).lower():
        raise ConfigError(
            "model.conf: keyMatch2 is not allowed; it reads ':create' as a parameter, "
            "so workflow:execute would match workflow:create. Use keyMatch."
        )
    if len(model.model["r"]["r"].tokens) != 2:
        raise ConfigError("model.conf: the request must be 'r = sub, perm' (two fields)")
    grouping = model.model.get("g", {}).get("g")
    if grouping is None or len(grouping.tokens) != 2:
        raise ConfigError(
            "model.conf: the role definition must be 'g = _, _' (users get roles by g lines)"
        )
    return model


def _check_lines(model: Model, policy_text: str) -> tuple[list[str], int]:
    """Valid policy lines for Casbin, and how many are ``p`` lines; errors name the line."""
    lines: list[str] = []
    p_lines = 0
    for rule in parse_policy(policy_text):
        sec = rule.ptype[:1]
        assertion = model.model.get(sec, {}).get(rule.ptype) if sec in ("p", "g") else None
        if assertion is None:
            raise ConfigError(
                f"policy.csv line {rule.lineno}: unknown line type {rule.ptype!r} "
                "(expected 'p' or 'g')"
            )
        want = len(assertion.tokens)
        if len(rule.fields) != want or not all(rule.fields):
            raise ConfigError(
                f"policy.csv line {rule.lineno}: {rule.ptype!r} needs {want} non-empty "
                f"fields ({', '.join(assertion.tokens)}), found {len(rule.fields)}"
            )
        if sec == "p":
            p_lines += 1
        lines.append(", ".join((rule.ptype, *rule.fields)))
    if p_lines == 0:
        raise ConfigError("policy.csv has no 'p' lines: it would deny everything")
    return lines, len(lines)


def _decider(enforcer: casbin.Enforcer) -> Callable[[str, str], bool]:
    def decide(subject: str, perm: str) -> bool:
        return bool(enforcer.enforce(subject, perm))

    return decide


def build_policies(model_text: str, policy_text: str, digest: str = "") -> _Loaded:
    """Check, build, probe and hold to the invariants one model and policy; ConfigError if
    unusable or unsafe."""
    model = _build_model(model_text)
    lines, count = _check_lines(model, policy_text)
    try:
        enforcer = casbin.Enforcer(model, _LinesAdapter(lines))
        roles = tuple(sorted({str(rule[0]) for rule in enforcer.get_policy()}))
        users = [str(rule[0]) for rule in enforcer.get_grouping_policy()]
        granted = {str(rule[1]) for rule in enforcer.get_policy()}
        role_perms = {
            role: tuple(str(rule[1]) for rule in enforcer.get_filtered_policy(0, role))
            for role in roles
        }
        # Probe every decision the API can ask for: a file that loads but cannot decide
        # (Casbin's "invalid policy size") must be rejected here, not at request time.
        for subject in (*roles, *users[:100], _PROBE_STRANGER):
            for perm in (*PERMISSIONS, *granted):
                enforcer.enforce(subject, perm)
        # The invariants ask a twin enforcer that also holds the probe users' g lines,
        # so the enforcer that goes into service never contains them.
        probe_model = _build_model(model_text)
        twin = casbin.Enforcer(probe_model, _LinesAdapter(lines + invariants.probe_lines()))
        invariants.check(_decider(twin))
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(f"policy cannot decide: {type(exc).__name__}: {exc}") from None
    admins = tuple(
        sorted(
            user
            for user in set(users)
            if user not in role_perms
            and invariants.ADMIN_ROLE in enforcer.get_implicit_roles_for_user(user)
        )
    )
    return _Loaded(enforcer, digest, count, roles, role_perms, admins, model_text, policy_text)


def read_policy_files(policies_dir: Path) -> PolicyChange:
    """The policy files as they are on disk, unjudged (what ``dagq user`` hands the audit)."""
    files = _snapshot(policies_dir)
    model_text = (files.model or b"").decode("utf-8", "replace")
    policy_text = (files.policy or b"").decode("utf-8", "replace")
    return PolicyChange(True, None, files.digest, model_text, policy_text)


def load_policies(policies_dir: Path) -> _Loaded:
    """Read, check, build and probe the policy in ``policies_dir``; ConfigError if unusable."""
    files = _snapshot(policies_dir)
    return build_policies(
        _text(policies_dir, MODEL_FILE, files.model),
        _text(policies_dir, POLICY_FILE, files.policy),
        files.digest,
    )


class Authorizer:
    """Answers "may this user use this permission?" from a hot-reloaded Casbin policy."""

    def __init__(self, policies_dir: Path, loaded: _Loaded) -> None:
        self.policies_dir = policies_dir
        self._loaded = loaded
        self._cache: dict[tuple[str, str], bool] = {}
        self._seen_digest = loaded.digest
        self._pending_digest: str | None = None
        self._last_reload_at: datetime | None = None
        self._last_error: str | None = None
        self._last_error_at: datetime | None = None
        self._in_error = False
        self._changes: list[PolicyChange] = []

    @classmethod
    def from_dir(cls, path: Path) -> Authorizer:
        """Load the policies in ``path``; raises :class:`ConfigError` (never fails open)."""
        path = Path(path)
        return cls(path, load_policies(path))

    # -- decisions -------------------------------------------------------------------
    def allowed(self, user: str, perm: str) -> bool:
        """True if ``user`` holds ``perm`` through its roles; cached until the next reload."""
        key = (user, perm)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        loaded = self._loaded
        # A user literally named like a role would match that role's lines (g(x, x) holds).
        if not user or not perm or user in loaded.role_perms:
            decision = False
        else:
            try:
                decision = bool(loaded.enforcer.enforce(user, perm))
            except Exception as exc:  # probed at load time; deny rather than fail open
                log.error("policy_enforce_failed", user=user, perm=perm, error=str(exc))
                decision = False
        if len(self._cache) >= _CACHE_MAX:
            self._cache.clear()
        self._cache[key] = decision
        return decision

    def roles_of(self, user: str) -> list[str]:
        """The roles the policy gives ``user`` directly (``g`` lines)."""
        if user in self._loaded.role_perms:
            return []
        return [str(r) for r in self._loaded.enforcer.get_roles_for_user(user)]

    def role_of(self, user: str) -> str | None:
        """The user's role (the first one if the policy gives several), or None."""
        roles = self.roles_of(user)
        return roles[0] if roles else None

    def permissions_of(self, role: str) -> list[str]:
        """The permissions ``p`` lines grant ``role`` (patterns like ``workflow:*`` as written)."""
        return list(self._loaded.role_perms.get(role, ()))

    # -- reloading -------------------------------------------------------------------
    def reload_now(self) -> bool:
        """Reload from disk at once; True if the new policy is in force, False if rejected."""
        self._pending_digest = None
        return self._reload(_snapshot(self.policies_dir))

    def poll(self) -> bool:
        """One watcher tick: reload when the files changed and held still for a tick.

        Waiting one tick for the content to settle keeps a half-written file (an
        editor writing in place) from being read. Returns True when a reload happened.
        """
        files = _snapshot(self.policies_dir)
        if files.digest == self._seen_digest:
            self._pending_digest = None
            return False
        if files.digest != self._pending_digest:
            self._pending_digest = files.digest
            return False
        self._pending_digest = None
        return self._reload(files)

    async def watch(self, interval_s: float = 0.5) -> None:
        """Poll the files forever (run as a task; cancel to stop). Edits apply within ~2 ticks."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                self.poll()
            except Exception as exc:  # the watcher must outlive any surprise
                log.exception("policy_watch_failed", error=str(exc))

    def _reload(self, files: _Files) -> bool:
        self._seen_digest = files.digest
        self._last_reload_at = datetime.now(UTC)
        model_text = (files.model or b"").decode("utf-8", "replace")
        policy_text = (files.policy or b"").decode("utf-8", "replace")
        try:
            loaded = build_policies(
                _text(self.policies_dir, MODEL_FILE, files.model),
                _text(self.policies_dir, POLICY_FILE, files.policy),
                files.digest,
            )
            invariants.check_keeps_admin(self._loaded.admins, loaded.admins)
        except ConfigError as exc:
            self._last_error = f"{exc.message}; the previous policy stays in force"
            self._last_error_at = self._last_reload_at
            self._in_error = True
            self._note(PolicyChange(False, exc.message, files.digest, model_text, policy_text))
            log.error("policy_rejected", policies_dir=str(self.policies_dir), error=exc.message)
            return False
        self._loaded = loaded
        self._cache = {}
        self._in_error = False
        self._note(PolicyChange(True, None, files.digest, model_text, policy_text))
        log.info(
            "policy_reloaded",
            policies_dir=str(self.policies_dir),
            policy_lines=loaded.policy_lines,
            roles=list(loaded.roles),
        )
        return True

    def _note(self, change: PolicyChange) -> None:
        self._changes.append(change)
        del self._changes[:-_CHANGES_KEPT]

    def in_force(self) -> PolicyChange:
        """The policy in force, as a change record (what start-up hands the audit trail)."""
        loaded = self._loaded
        return PolicyChange(
            True, None, loaded.digest, loaded.model_text, loaded.policy_text, loaded.loaded_at
        )

    def take_changes(self) -> list[PolicyChange]:
        """Reloads since the last call, oldest first (the caller audits them)."""
        changes, self._changes = self._changes, []
        return changes

    def status(self) -> PolicyStatus:
        """The policy in force and the outcome of the latest reload attempt."""
        return PolicyStatus(
            policies_dir=str(self.policies_dir),
            loaded_at=self._loaded.loaded_at,
            last_reload_at=self._last_reload_at,
            last_error=self._last_error,
            last_error_at=self._last_error_at,
            in_error=self._in_error,
            policy_lines=self._loaded.policy_lines,
            roles=self._loaded.roles,
        )
