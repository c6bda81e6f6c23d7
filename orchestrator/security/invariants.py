"""What any policy dagq accepts must still say, checked on the new enforcer before it is used.

A model or policy edit can parse, load and decide, and still open everything: a matcher
whose ``&&`` became ``||``, an effect that allows whatever is not denied, a designer made to
inherit the admin role.  Before a new policy replaces the old one (at start-up and on every
reload) the candidate enforcer is asked about probe users, one per role plus one with no
role and one with a role no line defines; a single wrong answer refuses the whole edit,
naming the invariant.  Admins may narrow the roles further; these are the floor.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from orchestrator.errors import ConfigError
from orchestrator.security.roles import PERMISSIONS

PROBE = "\x00dagq-probe:"
"""Prefix of probe subjects; a NUL never appears in a user name or a policy line."""
NO_ROLE = None
UNKNOWN_ROLE = "\x00dagq-no-such-role"
ADMIN_ROLE = "workflow_admin"


@dataclass(frozen=True, slots=True)
class Invariant:
    """A rule about what a subject with ``role`` may (``allowed``) or may not do."""

    name: str
    role: str | None
    """The probe's role: a role name, :data:`UNKNOWN_ROLE`, or ``None`` for no role."""
    perms: tuple[str, ...]
    allowed: bool
    says: str


INVARIANTS: tuple[Invariant, ...] = (
    Invariant("no-role-no-access", NO_ROLE, PERMISSIONS, False,
              "a user without a role may do nothing"),
    Invariant("unknown-role-no-access", UNKNOWN_ROLE, PERMISSIONS, False,
              "a role that no p line defines grants nothing"),
    Invariant("designer-cannot-configure", "workflow_designer", ("system:configure",), False,
              "a designer may not use system:configure"),
    Invariant("designer-cannot-execute", "workflow_designer",
              ("workflow:execute", "run:cancel", "run:approve", "run:signal"), False,
              "a designer may not start, cancel, approve or signal runs"),
    Invariant("operator-cannot-change-workflows", "workflow_operator",
              ("workflow:create", "workflow:update", "workflow:delete"), False,
              "an operator may not create, update or delete workflows"),
    Invariant("operator-cannot-configure", "workflow_operator", ("system:configure",), False,
              "an operator may not use system:configure"),
    Invariant("admin-can-configure", ADMIN_ROLE, ("system:configure",), True,
              "an admin keeps system:configure"),
)  # fmt: skip


def probe_subject(role: str | None) -> str:
    """The probe user standing for ``role`` (``None``: the one without a role)."""
    return f"{PROBE}{'none' if role is None else role}"


def probe_lines() -> list[str]:
    """``g`` lines giving each probe its role (the no-role probe gets none)."""
    roles = {inv.role for inv in INVARIANTS if inv.role is not None}
    return [f"g, {probe_subject(role)}, {role}" for role in sorted(roles)]


def check(decide: Callable[[str, str], bool]) -> None:
    """Raise :class:`ConfigError` naming the first invariant that ``decide`` breaks.

    ``decide(subject, perm)`` asks the candidate enforcer, which must already hold
    :func:`probe_lines`.
    """
    for inv in INVARIANTS:
        subject = probe_subject(inv.role)
        for perm in inv.perms:
            if decide(subject, perm) != inv.allowed:
                who = _who(inv.role)
                verdict = "allowed" if not inv.allowed else "denied"
                raise ConfigError(
                    f"refused: invariant '{inv.name}' fails ({inv.says}): with this policy "
                    f"{who} would be {verdict} {perm}"
                )


def _who(role: str | None) -> str:
    if role is None:
        return "a user without a role"
    if role == UNKNOWN_ROLE:
        return "a user whose role no p line defines"
    return f"a {role}"


def check_keeps_admin(old_admins: tuple[str, ...], new_admins: tuple[str, ...]) -> None:
    """Refuse an edit that takes ``workflow_admin`` from the last user holding it."""
    if old_admins and not new_admins:
        raise ConfigError(
            "refused: invariant 'keeps-an-admin' fails (someone must be able to administer "
            f"dagq): no user would hold {ADMIN_ROLE} any more (now: {', '.join(old_admins[:5])})"
        )
