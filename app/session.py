"""The app's connection to the dagq API: who we are, what we may do, whether it answers.

Every screen receives the one :class:`Session` of the app.  It holds the
:class:`~orchestrator.client.DagqClient`, the identity the API reported on
``GET /whoami`` (user, role, permissions) and the connection state.  Screens ask
:meth:`Session.can` before offering an action and show :meth:`Session.reason` when
they cannot ("operators cannot save workflows (workflow:update)").

API calls go through :meth:`Session.call`, which keeps the connection state honest:
a call that cannot reach the API marks the session ``lost`` (and re-raises the
:class:`~orchestrator.errors.Unavailable`), the next call that works marks it
``connected`` again.  :meth:`Session.reconnect` probes until the API answers; the app
runs it in a worker while the state is ``lost``.  Listeners registered with
:meth:`Session.subscribe` hear every state change (the status line uses it).

:func:`describe_error` turns anything a worker may catch (a DagqError, an aiohttp or
OS error the client did not map) into one sentence for a notification.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

import aiohttp

from orchestrator.client import DagqClient
from orchestrator.errors import DagqError, Forbidden, SpecInvalid, Unauthorized, Unavailable
from orchestrator.settings import Settings

T = TypeVar("T")

PERMISSION_ACTIONS: dict[str, str] = {
    "workflow:create": "create workflows",
    "workflow:read": "see workflows",
    "workflow:update": "save workflows",
    "workflow:delete": "delete workflows",
    "workflow:validate": "validate workflows on the server",
    "workflow:execute": "run workflows",
    "run:read": "see runs",
    "run:cancel": "cancel or retry runs",
    "run:approve": "decide approvals",
    "run:signal": "send signals to runs",
    "schedule:read": "see schedules",
    "schedule:write": "change schedules",
    "hook:read": "see webhooks",
    "hook:write": "change webhooks",
    "job:enqueue": "enqueue jobs",
    "template:read": "see templates",
    "template:write": "change templates",
    "system:configure": "administer the system",
}
"""What each permission lets a person do, in words for "<role>s cannot <action>"."""


class ConnectionState(StrEnum):
    """Where the session stands with the API."""

    CONNECTING = "connecting"
    """Not yet heard from the API (before the first whoami)."""
    CONNECTED = "connected"
    """The last call reached the API."""
    LOST = "lost"
    """The last call could not reach the API; reconnecting."""
    DENIED = "denied"
    """The API refused our identity (bad key, expired token): reconnecting will not help."""


@dataclass(frozen=True, slots=True)
class StateChange:
    """What listeners receive: the new state and, when not connected, why."""

    state: ConnectionState
    detail: str | None = None


Listener = Callable[[StateChange], None]


def role_plural(role: str | None) -> str:
    """``workflow_operator`` -> ``operators``; the people of a role, for messages."""
    if not role:
        return "users without a role"
    short = role.removeprefix("workflow_").replace("_", " ")
    return short if short.endswith("s") else f"{short}s"


def describe_error(exc: BaseException) -> str:
    """One sentence for a notification about ``exc`` (never a traceback).

    A :class:`SpecInvalid` with details lists its first problems, so a 422 from the
    server reads like the local validator's message.
    """
    if isinstance(exc, SpecInvalid):
        errors = exc.details.get("errors")
        if isinstance(errors, list) and errors:
            lines = [
                str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors[:3]
            ]
            more = f" (+{len(errors) - 3} more)" if len(errors) > 3 else ""
            return "; ".join(lines) + more
        return exc.message
    if isinstance(exc, DagqError):
        return exc.message
    if isinstance(exc, aiohttp.ClientError):
        return f"API connection problem: {exc or type(exc).__name__}"
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else "")
    if isinstance(exc, TimeoutError):
        return "the API did not answer in time"
    return f"{type(exc).__name__}: {exc}"


class Session:
    """The app's identity and connection; shared by every screen.

    ``user`` and ``role`` start from what the caller knows (the web server passes
    ``DAGQ_USER``/``DAGQ_ROLE``) and are replaced by the API's answer in
    :meth:`refresh`.  ``permissions`` is empty until then, so nothing is offered
    that the API has not confirmed.
    """

    def __init__(
        self,
        client: DagqClient,
        settings: Settings,
        *,
        user: str | None = None,
        role: str | None = None,
        permissions: frozenset[str] | None = None,
    ) -> None:
        self.client = client
        self.settings = settings
        self.user: str = user or "?"
        self.role: str | None = role
        self.permissions: frozenset[str] = permissions or frozenset()
        self.auth: str | None = None
        self.state = ConnectionState.CONNECTED if permissions else ConnectionState.CONNECTING
        self.detail: str | None = None
        self._listeners: list[Listener] = []

    @property
    def api_url(self) -> str:
        """Base URL of the API this session talks to."""
        return self.client.base_url

    @property
    def connected(self) -> bool:
        """True when the last call reached the API."""
        return self.state is ConnectionState.CONNECTED

    # -- permissions -----------------------------------------------------------------
    def can(self, perm: str) -> bool:
        """True when the API said this identity holds ``perm`` (``workflow:update``...)."""
        return perm in self.permissions

    def reason(self, perm: str) -> str:
        """Why ``perm`` is not available, as a sentence; empty when it is."""
        if self.can(perm):
            return ""
        action = PERMISSION_ACTIONS.get(perm, perm)
        if self.state is ConnectionState.CONNECTING and not self.permissions:
            return f"cannot {action} yet: still connecting to {self.api_url}"
        return f"{role_plural(self.role)} cannot {action} ({perm})"

    async def confirm_refusal(self, perm: str, action: str, resource: str = "*") -> str | None:
        """Ask the server about an action refused from the cached permissions.

        The server is the authority: it answers from the policy in force and audits a
        denial (who, ``perm``, ``resource``, ``action``).  When it says ``perm`` is held
        after all (the cache was stale), the permissions are refreshed and a sentence
        asking the user to try again is returned; the action itself is never performed.
        None when the server confirms the refusal.
        """
        answer = await self.call(self.client.check_permission(perm, action, resource))
        if not answer.allowed:
            return None
        await self.refresh()
        what = PERMISSION_ACTIONS.get(perm, perm)
        return f"You may {what} now ({perm}): your permissions had changed. Try again."

    # -- connection state --------------------------------------------------------------
    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` on every state change; returns a function that unsubscribes."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def _set_state(self, state: ConnectionState, detail: str | None = None) -> None:
        if state is self.state and detail == self.detail:
            return
        self.state, self.detail = state, detail
        change = StateChange(state, detail)
        for listener in list(self._listeners):
            listener(change)

    def mark_lost(self, exc: BaseException) -> None:
        """Record that the API could not be reached (listeners hear ``lost``)."""
        self._set_state(ConnectionState.LOST, describe_error(exc))

    def mark_connected(self) -> None:
        """Record that a call reached the API."""
        self._set_state(ConnectionState.CONNECTED)

    def note_error(self, exc: DagqError) -> None:
        """Record what an error of a call says about the connection: ``Unavailable`` lost,
        a 401 denied; any other answer from the server means the connection works."""
        if isinstance(exc, Unavailable):
            self.mark_lost(exc)
        elif isinstance(exc, Unauthorized):
            self._set_state(ConnectionState.DENIED, exc.message)
        else:
            self.mark_connected()

    async def call(self, awaitable: Awaitable[T]) -> T:
        """Await one client call, keeping the connection state up to date.

        ``Unavailable`` (and aiohttp/OS errors the client did not map) mark the
        session lost and are re-raised as :class:`Unavailable`; a 401 marks it denied.
        Any answer from the server, even an error, means the connection works.
        """
        try:
            result = await awaitable
        except DagqError as exc:
            self.note_error(exc)
            raise
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            self.mark_lost(exc)
            raise Unavailable(describe_error(exc)) from None
        self.mark_connected()
        return result

    async def refresh(self) -> None:
        """Ask the API who we are (``GET /whoami``) and take its user, role and permissions."""
        me = await self.call(self.client.whoami())
        self.user = me.user or self.user
        self.role = me.role or self.role
        self.permissions = frozenset(me.permissions)
        self.auth = me.auth

    async def reconnect(self, *, max_wait_s: float = 5.0) -> None:
        """Probe the API until it answers again, backing off up to ``max_wait_s``.

        Returns once :meth:`refresh` succeeds (the state is then ``connected``);
        stops early when the API refuses our identity (``denied``).  Cancel the task
        to give up.
        """
        delay = 0.2
        while True:
            try:
                await self.refresh()
                return
            except Unauthorized:
                return
            except Forbidden:
                # whoami is open to every known identity; a 403 still proves the API is up.
                self.mark_connected()
                return
            except DagqError:
                pass
            await asyncio.sleep(delay)
            delay = min(max_wait_s, delay * 2)

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self.client.aclose()
