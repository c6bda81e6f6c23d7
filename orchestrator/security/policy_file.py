"""The policies directory on disk: defaults, parsing, comment-preserving edits, upgrades.

Casbin's own ``save_policy`` rewrites ``policy.csv`` from memory and drops every
comment an admin wrote, so user-role lines (``g, <user>, <role>``) are edited
here as text: only the affected lines change, everything else stays as written.

``policy.csv`` is the admin's file, so a new release never replaces it. When dagq gains
a permission family (``schedule:*`` and ``hook:*`` in policy version 2, ``handler:*`` in
version 3), the built-in
roles of an older file would lack it, and even admins would be refused. The file records
the version it is at (``# dagq-policy-version: N``; none means 1); each upgrade above it
appends its lines once, in a commented block, and moves the marker. Lines already there
are not added twice, and a line an admin removes after the upgrade stays removed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from orchestrator.errors import ConfigError

MODEL_FILE = "model.conf"
POLICY_FILE = "policy.csv"
USERS_FILE = "users.yaml"
DEFAULT_FILES: tuple[str, ...] = (MODEL_FILE, POLICY_FILE)

log = logging.getLogger("dagq.policy")


@dataclass(frozen=True, slots=True)
class PolicyLine:
    """One rule of ``policy.csv``: its type (``p``, ``g``) and fields, with its 1-based line."""

    ptype: str
    fields: tuple[str, ...]
    lineno: int


def default_text(name: str) -> str:
    """The text of a default file shipped in the package (``model.conf``, ``policy.csv``)."""
    if name not in DEFAULT_FILES:
        raise ValueError(f"no default policies file called {name!r}")
    return resources.files("orchestrator.security").joinpath("defaults", name).read_text("utf-8")


def ensure_policies_dir(path: Path) -> Path:
    """Create ``path`` if needed and copy in the default model and policy when absent.

    Existing files are never overwritten: they are the admin's. An older ``policy.csv``
    gains the permissions later releases gave the built-in roles (:func:`upgrade_policy_file`).
    """
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create the policies directory {path}: {exc}") from None
    for name in DEFAULT_FILES:
        target = path / name
        if not target.exists():
            atomic_write(target, default_text(name), mode=0o644)
    upgrade_policy_file(path)
    return path


def split_fields(line: str) -> list[str]:
    """Split one CSV policy line into stripped fields, as Casbin does (brackets group)."""
    fields: list[str] = [""]
    depth = 0
    for char in line:
        if char in "[(":
            depth += 1
        elif char in "])":
            depth = max(0, depth - 1)
        if char == "," and depth == 0:
            fields.append("")
        else:
            fields[-1] += char
    return [f.strip() for f in fields]


def parse_policy(text: str) -> list[PolicyLine]:
    """Every rule line of a policy file's text; comments and blank lines are skipped."""
    rules: list[PolicyLine] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = split_fields(line)
        rules.append(PolicyLine(fields[0], tuple(fields[1:]), lineno))
    return rules


def user_roles(text: str) -> dict[str, list[str]]:
    """Roles given to each subject by ``g`` lines, in file order."""
    roles: dict[str, list[str]] = {}
    for rule in parse_policy(text):
        if rule.ptype == "g" and len(rule.fields) == 2:
            roles.setdefault(rule.fields[0], []).append(rule.fields[1])
    return roles


def _is_user_line(raw: str, user: str) -> bool:
    line = raw.strip()
    if not line or line.startswith("#"):
        return False
    fields = split_fields(line)
    return len(fields) >= 2 and fields[0] == "g" and fields[1] == user


def with_user_role(text: str, user: str, role: str | None) -> str:
    """``text`` with ``user``'s ``g`` lines replaced by ``g, user, role`` (none if role is None).

    The new line goes where the user's first line was, else at the end; comments stay.
    """
    lines = text.splitlines()
    out: list[str] = []
    placed = False
    for raw in lines:
        if _is_user_line(raw, user):
            if role is not None and not placed:
                out.append(f"g, {user}, {role}")
                placed = True
            continue
        out.append(raw)
    if role is not None and not placed:
        while out and not out[-1].strip():
            out.pop()
        out.append(f"g, {user}, {role}")
    return "\n".join(out) + "\n"


def set_user_role(policy_path: Path, user: str, role: str | None) -> bool:
    """Rewrite ``policy_path`` so ``user`` has exactly ``role`` (or no role); True if it changed."""
    try:
        text = policy_path.read_text("utf-8")
    except FileNotFoundError:
        text = default_text(POLICY_FILE)
    except OSError as exc:
        raise ConfigError(f"cannot read {policy_path}: {exc}") from None
    updated = with_user_role(text, user, role)
    if updated == text:
        return False
    atomic_write(policy_path, updated, mode=_mode_of(policy_path, 0o644))
    return True


def _mode_of(path: Path, default: int) -> int:
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        return default


def atomic_write(path: Path, text: str, *, mode: int) -> None:
    """Write ``text`` to ``path`` through a temp file and ``os.replace``, with file mode ``mode``.

    Readers (the policy watcher, another process) see the old file or the new one, never half.
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise ConfigError(f"cannot write {path}: {exc}") from None


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock on ``path`` (created if missing) for read-modify-write cycles."""
    import fcntl

    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise ConfigError(f"cannot lock {path}: {exc}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


MARKER = "# dagq-policy-version:"
_MARKER_LINE = re.compile(r"^#\s*dagq-policy-version:\s*(\d+)\s*$")


@dataclass(frozen=True, slots=True)
class PolicyUpgrade:
    """The permissions one policy version adds to the built-in roles."""

    version: int
    what: str
    lines: tuple[str, ...]


UPGRADES: tuple[PolicyUpgrade, ...] = (
    PolicyUpgrade(
        2,
        "schedules and webhooks",
        (
            "p, workflow_designer, schedule:read",
            "p, workflow_designer, schedule:write",
            "p, workflow_designer, hook:read",
            "p, workflow_designer, hook:write",
            "p, workflow_operator, schedule:read",
            "p, workflow_operator, hook:read",
            "p, workflow_admin, schedule:*",
            "p, workflow_admin, hook:*",
        ),
    ),
    PolicyUpgrade(
        3,
        "handler permissions (handler:*: every handler, as before)",
        (
            "p, workflow_designer, handler:*",
            "p, workflow_operator, handler:*",
            "p, workflow_admin, handler:*",
        ),
    ),
    PolicyUpgrade(
        4,
        "templates and plain jobs",
        (
            "p, workflow_designer, template:read",
            "p, workflow_designer, template:write",
            "p, workflow_operator, template:read",
            "p, workflow_operator, job:enqueue",
            "p, workflow_admin, template:*",
            "p, workflow_admin, job:*",
        ),
    ),
    PolicyUpgrade(
        5,
        "deciding approvals and sending signals",
        ("p, workflow_operator, run:approve", "p, workflow_operator, run:signal"),
    ),
)
CURRENT_VERSION = max(u.version for u in UPGRADES)


def policy_version(text: str) -> int:
    """The version a policy file records (1 when it records none)."""
    for line in text.splitlines():
        if match := _MARKER_LINE.match(line.strip()):
            return int(match.group(1))
    return 1


def upgraded(text: str) -> tuple[str, list[PolicyUpgrade]]:
    """``text`` with every upgrade above its version applied, and the upgrades applied."""
    version = policy_version(text)
    due = [u for u in UPGRADES if u.version > version]
    if not due:
        return text, []
    present = {_rule(line) for line in text.splitlines()}
    kept = [line for line in text.splitlines() if not _MARKER_LINE.match(line.strip())]
    while kept and not kept[-1].strip():
        kept.pop()
    for upgrade in due:
        new = [line for line in upgrade.lines if _rule(line) not in present]
        if new:
            note = f"# Added by dagq (policy version {upgrade.version}): {upgrade.what}."
            kept += ["", note, *new]
    kept += ["", f"{MARKER} {due[-1].version}"]
    return "\n".join(kept) + "\n", due


def _rule(line: str) -> tuple[str, tuple[str, ...]] | None:
    rules = parse_policy(line)
    return (rules[0].ptype, rules[0].fields) if rules else None


def upgrade_policy_file(directory: Path) -> list[PolicyUpgrade]:
    """Bring ``directory``'s policy file up to :data:`CURRENT_VERSION`; the upgrades applied."""
    path = directory / POLICY_FILE
    # The lock ``dagq user`` holds while it edits the users' role lines in the same file.
    with file_lock(directory / f".{USERS_FILE}.lock"):
        try:
            text = path.read_text("utf-8")
        except FileNotFoundError:
            return []
        new_text, applied = upgraded(text)
        if applied:
            atomic_write(path, new_text, mode=path.stat().st_mode & 0o777)
    for upgrade in applied:
        log.warning(
            "%s upgraded to policy version %d: the built-in roles gained %s",
            path,
            upgrade.version,
            upgrade.what,
        )
    return applied
