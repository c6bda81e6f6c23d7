"""``DagqServer``: textual-serve behind a login.

textual-serve streams one app process per websocket to xterm.js in the browser, with no
authentication, no Origin check, no process cap and the server's whole environment handed to
the app.  This subclass adds, as aiohttp middleware and routes: a CSRF-safe login page, a signed
HttpOnly SameSite=Strict session cookie, a one-time login URL for the local admin, an Origin check
on ``/ws``, per-user and overall process caps, an idle timeout, a scrubbed app environment, links
that are right behind a reverse proxy, and a page that loads nothing from outside hosts.
Sign-outs, one-time links and sign-in throttling are kept in Redis (``serve.web_store``), so
replicas share them and restarts keep them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import shlex
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from aiohttp import WSMsgType, web
from textual_serve.server import Server

from orchestrator.errors import DagqError, Unavailable
from serve.app_process import DagqAppService, LiveApp, app_environment
from serve.hook_proxy import hook_relay
from serve.login import SESSION_COOKIE, LoginFlow
from serve.pages import (
    NONCE,
    SESSION,
    Handler,
    PublicUrls,
    add_security_headers,
    new_nonce,
    render,
)
from serve.web_auth import CsrfGuard, Session, SessionCodec, TokenMinter, UserDirectory
from serve.web_store import WebStore

log = logging.getLogger("dagq.web")

CLOSE_IDLE = 4000
CLOSE_SESSION_EXPIRED = 4001
CLOSE_SIGNED_OUT = 4002
CLOSE_SHUTDOWN = 1001
_PROTECTED_ROUTES = {"index", "websocket", "download"}
_SIGN_OUT_CHECK_S = 5.0  # how soon an app closes after its session is signed out elsewhere


def stop_on_signals() -> asyncio.Event:
    """An event that SIGINT or SIGTERM sets (call it inside the running loop)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    return stop


def default_command() -> str:
    """The designer app, run by this Python: ``<sys.executable> -m app``."""
    return f"{shlex.quote(sys.executable)} -m app"


def _clamp(value: object, default: int, low: int, high: int) -> int:
    try:
        return max(low, min(high, int(str(value)) if value is not None else default))
    except ValueError:
        return default


LINK_CHECK_S = 5.0
"""How often a server checks whether its one-time link was used (and keeps it alive)."""


class DagqServer(Server):
    """textual-serve's ``Server`` with a login, caps, an idle timeout and a scrubbed environment.

    ``command`` starts one app (a shell command; default ``<python> -m app``).  ``users`` is
    the users file (``orchestrator.security.users.UserStore``); ``token_minter`` turns
    ``(user, role)`` into the short-lived API token the user's app receives; ``secret`` signs
    session and CSRF cookies (share it between replicas; ``None`` means a random one per
    process, so sessions end with the process).  ``admin_user`` (a user of the users file) is
    who the one-time URL signs in.  ``store`` is the Redis-backed state replicas share.
    """

    def __init__(
        self,
        command: str | None = None,
        *,
        users: UserDirectory,
        token_minter: TokenMinter,
        api_url: str,
        store: WebStore,
        secret: str | bytes | None = None,
        host: str = "127.0.0.1",
        port: int = 8000,
        public_url: str | None = None,
        title: str = "dagq",
        admin_user: str | None = None,
        session_ttl_s: float = 43200.0,
        max_apps_per_user: int = 3,
        max_apps: int = 32,
        idle_timeout_s: float = 1800.0,
        data_dir: Path | None = None,
    ) -> None:
        super().__init__(command or default_command(), host=host, port=port, title=title)
        self.urls = PublicUrls(public_url)
        self.users = users
        self.token_minter = token_minter
        self.api_url = api_url
        self.admin_user = admin_user
        self.max_apps_per_user = max_apps_per_user
        self.max_apps = max_apps
        self.idle_timeout_s = idle_timeout_s
        self.data_dir = data_dir
        key = secret if secret is not None else secrets.token_bytes(32)
        self.csrf = CsrfGuard(key)
        self.store = store
        self.one_time = store.link
        self.login = LoginFlow(
            users=users,
            urls=self.urls,
            sessions=SessionCodec(key, ttl_s=session_ttl_s),
            csrf=self.csrf,
            store=store,
            on_logout=self._close_session_apps,
        )
        self.live: set[LiveApp] = set()
        self._cleanups: set[asyncio.Task[None]] = set()
        self._runner: web.AppRunner | None = None
        self._stop_link = asyncio.Event()
        self.on_link_used: Callable[[], None] | None = None
        """Called once when the printed one-time link has been used (``dagq up`` says how to
        get a new one)."""
        self._link_keeper: asyncio.Task[None] | None = None

    @property
    def listen_url(self) -> str:
        """The URL printed at start: ``public_url``, else ``http://host:port``."""
        if self.urls.public_url:
            return self.urls.public_url
        host = "127.0.0.1" if self.host in {"", "0.0.0.0", "::"} else self.host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    @property
    def login_url(self) -> str:
        """The one-time sign-in URL when there is a local admin, else the login page."""
        if self.admin_user is None:
            return f"{self.listen_url}/login"
        return f"{self.listen_url}/?token={self.one_time.token}"

    async def _make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._guard], client_max_size=64 * 1024)
        app.add_routes(
            [
                web.get("/", self.handle_index, name="index"),
                web.get("/ws", self.handle_websocket, name="websocket"),
                web.get("/download/{key}", self.handle_download, name="download"),
                web.get("/login", self.login.handle_form, name="login"),
                web.post("/login", self.login.handle_login, name="login_post"),
                web.post("/logout", self.login.handle_logout, name="logout"),
                web.get("/healthz", self.handle_healthz, name="healthz"),
                web.post("/hooks/{hookId}", hook_relay(self.api_url), name="hook"),
                web.static("/static", self.statics_path, name="static"),
            ]
        )
        app.on_shutdown.append(self.on_shutdown)
        return app

    async def make_app(self) -> web.Application:
        """The aiohttp application (for tests and for embedding in another runner)."""
        return await self._make_app()

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Read the session, refuse protected routes without one, add security headers."""
        request[SESSION] = None
        request[NONCE] = new_nonce()
        try:
            session = await self.login.current(request.cookies.get(SESSION_COOKIE))
        except Unavailable as exc:
            log.error("cannot check the session: %s", exc)
            page = self.login.message(
                request, "Sign-in unavailable", exc.message, status=503, retry=True
            )
            add_security_headers(request, page)
            return page
        request[SESSION] = session
        route = request.match_info.route.name
        try:
            if route == "index" and "token" in request.query:
                response: web.StreamResponse = await self.login.token_login(request)
            elif route in _PROTECTED_ROUTES and session is None:
                if route == "index":
                    raise web.HTTPSeeOther(self.urls.base(request) + "/login")
                raise web.HTTPUnauthorized(text="Sign in first.")
            else:
                response = await handler(request)
        except web.HTTPException as exc:
            add_security_headers(request, exc)
            raise
        if not response.prepared:
            add_security_headers(request, response)
        return response

    async def _close_session_apps(self, session: Session) -> None:
        for live in [live for live in self.live if live.session.sid == session.sid]:
            await live.close(CLOSE_SIGNED_OUT, "signed out")

    async def handle_healthz(self, request: web.Request) -> web.StreamResponse:
        """``GET /healthz``: liveness for the container's health check."""
        return web.json_response({"status": "ok", "apps": len(self.live)})

    def _cap_refusal(self, session: Session) -> str | None:
        mine = sum(1 for live in self.live if live.session.user == session.user)
        if mine >= self.max_apps_per_user:
            return (
                f"You already have {mine} dagq window(s) open, the most allowed. "
                "Close one (or wait for it to time out) and try again."
            )
        if len(self.live) >= self.max_apps:
            return "dagq is serving as many windows as it can right now. Please try again shortly."
        return None

    async def handle_index(self, request: web.Request) -> web.StreamResponse:
        """``GET /``: the terminal page, or a polite refusal when a process cap is reached."""
        session = request[SESSION]
        assert session is not None  # the guard middleware refuses anonymous requests
        refusal = self._cap_refusal(session)
        if refusal is not None:
            return self.login.message(request, "Too many windows", refusal, status=429)
        base = self.urls.base(request)
        ws_base = ("wss:" if base.startswith("https:") else "ws:") + base.split(":", 1)[1]
        return render(
            request,
            "app_index.html",
            title=self.title,
            static_url=base + "/static/",
            ws_url=ws_base + "/ws",
            font_size=_clamp(request.query.get("fontsize"), 16, 8, 48),
            user=session.user,
            role=session.role,
            logout_url=base + "/logout",
            csrf=self.csrf.session_token(session),
        )

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        """``GET /ws``: check Origin and caps before the upgrade, then run one app process."""
        session = request[SESSION]
        assert session is not None
        if not self.urls.origin_ok(request, required=True):
            log.warning("refused /ws from origin %r", request.headers.get("Origin"))
            raise web.HTTPForbidden(text="Cross-origin websocket refused.")
        refusal = self._cap_refusal(session)
        if refusal is not None:
            raise web.HTTPTooManyRequests(text=refusal)
        websocket = web.WebSocketResponse(heartbeat=15, max_msg_size=1 << 20)
        # Registered before the first await so concurrent upgrades cannot overshoot the caps.
        live = LiveApp(session=session, websocket=websocket)
        self.live.add(live)
        home = Path(tempfile.mkdtemp(prefix="dagq-web-"))
        watcher: asyncio.Task[None] | None = None
        try:
            await websocket.prepare(request)
            width = _clamp(request.query.get("width"), 80, 10, 500)
            height = _clamp(request.query.get("height"), 24, 5, 300)
            try:
                token = self.token_minter(session.user, session.role)
            except DagqError as exc:
                log.error("cannot mint an API token for %s: %s", session.user, exc)
                await websocket.close(code=1011, message=b"cannot mint an API token")
                return websocket
            environment = app_environment(
                user=session.user,
                role=session.role,
                api_url=self.api_url,
                api_token=token,
                home=home,
                width=width,
                height=height,
                data_dir=self.data_dir,
                debug=self.debug,
            )
            live.service = DagqAppService(
                self.command,
                environment=environment,
                write_bytes=websocket.send_bytes,
                write_str=websocket.send_str,
                close=websocket.close,
                download_manager=self.download_manager,
                debug=self.debug,
            )
            await live.service.start(width, height)
            watcher = asyncio.create_task(self._watch(live))
            await self._relay(live, live.service)
        except Exception:
            log.exception("app session of %s failed", session.user)
        finally:
            # aiohttp cancels this handler when the connection drops (even mid-cleanup), so
            # the cleanup runs as its own task: the app process is always stopped and reaped.
            cleanup = asyncio.create_task(self._end_session(live, watcher, home))
            self._cleanups.add(cleanup)
            cleanup.add_done_callback(self._cleanups.discard)
            await asyncio.shield(cleanup)
        return websocket

    async def _end_session(
        self, live: LiveApp, watcher: asyncio.Task[None] | None, home: Path
    ) -> None:
        try:
            if watcher is not None:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
            if not live.websocket.closed:
                with contextlib.suppress(Exception):
                    await live.close(CLOSE_SHUTDOWN, "app ended")
            if live.service is not None:
                await live.service.stop()
        finally:
            self.live.discard(live)
            shutil.rmtree(home, ignore_errors=True)

    async def _relay(self, live: LiveApp, service: DagqAppService) -> None:
        """Forward the browser's messages to the app; malformed ones are ignored, not fatal."""
        async for message in live.websocket:
            if message.type != WSMsgType.TEXT:
                continue
            try:
                envelope = json.loads(message.data)
            except ValueError:
                continue
            if not isinstance(envelope, list) or not envelope:
                continue
            kind, data = envelope[0], envelope[1] if len(envelope) > 1 else None
            if kind == "stdin" and isinstance(data, str):
                live.touch()
                await service.send_bytes(data.encode("utf-8"))
            elif kind == "resize" and isinstance(data, dict):
                live.touch()
                width = _clamp(data.get("width"), 80, 10, 500)
                height = _clamp(data.get("height"), 24, 5, 300)
                await service.set_terminal_size(width, height)
            elif kind == "ping" and isinstance(data, str):
                await live.websocket.send_json(["pong", data[:64]])
            elif kind == "focus":
                await service.focus()
            elif kind == "blur":
                await service.blur()

    async def _watch(self, live: LiveApp) -> None:
        """Close the tab's app after ``idle_timeout_s`` without input, when the session ends,
        or when it is signed out (on any replica: checked every few seconds)."""
        session_left_s = live.session.expires_at - time.time()
        session_end = time.monotonic() + session_left_s
        next_check = time.monotonic() + _SIGN_OUT_CHECK_S
        while True:
            now = time.monotonic()
            idle_end = live.last_input + self.idle_timeout_s
            if now >= session_end:
                await live.close(CLOSE_SESSION_EXPIRED, "session expired")
                return
            if now >= idle_end:
                log.info("closing an idle app of %s", live.session.user)
                await live.close(CLOSE_IDLE, "idle timeout")
                return
            if now >= next_check:
                next_check = now + _SIGN_OUT_CHECK_S
                with contextlib.suppress(Unavailable):  # Redis down: keep the app, ask again
                    if await self.store.revocations.is_revoked(live.session.sid):
                        await live.close(CLOSE_SIGNED_OUT, "signed out")
                        return
            live.activity.clear()
            with contextlib.suppress(TimeoutError):
                wake = min(idle_end, session_end, next_check) - now
                await asyncio.wait_for(live.activity.wait(), max(wake, 0.0))

    async def handle_download(self, request: web.Request) -> web.StreamResponse:
        """``GET /download/{key}``: only the owner of the app that offered the file may fetch it."""
        session = request[SESSION]
        assert session is not None
        try:
            meta = await self.download_manager.get_download_metadata(request.match_info["key"])
        except KeyError:
            raise web.HTTPNotFound(text="No such download.") from None
        owners = {live.session.user for live in self.live if live.service is meta.app_service}
        if session.user not in owners:
            raise web.HTTPNotFound(text="No such download.")
        response: web.StreamResponse = await super().handle_download(request)
        return response

    # ----- running ----------------------------------------------------------------------

    async def on_shutdown(self, app: web.Application) -> None:
        """Close every browser socket so each handler stops its app process."""
        for live in list(self.live):
            with contextlib.suppress(Exception):
                await live.close(CLOSE_SHUTDOWN, "server shutting down")

    async def start(self) -> None:
        """Bind and start serving (``port=0`` picks a free port, reflected in ``self.port``)."""
        # No inflating of gzip bodies on the loop: no form here is compressed, and a 0.5 MB
        # gzip bomb would hold the loop for seconds.
        runner = web.AppRunner(await self._make_app(), shutdown_timeout=10.0, auto_decompress=False)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        self._runner = runner
        if self.port == 0 and runner.addresses:
            self.port = int(runner.addresses[0][1])
        await self.publish_link()

    async def publish_link(self) -> None:
        """Make the one-time link live (in Redis, for every replica) while this server runs."""
        if self.admin_user is None or self._link_keeper is not None:
            return
        await self.one_time.publish(self.admin_user)
        self._stop_link.clear()
        self._link_keeper = asyncio.create_task(self._keep_link())

    async def _keep_link(self) -> None:
        # Stopped by an event, not a cancel: redis-py can swallow a cancellation.
        # Checked often, so that whoever started the server hears soon that it was used.
        interval_s = min(self.one_time.ttl_s / 3, LINK_CHECK_S)
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop_link.wait(), interval_s)
            if self._stop_link.is_set():
                return
            if not await self.one_time.keep_alive():
                if self.on_link_used is not None:
                    self.on_link_used()
                return

    async def shutdown(self) -> None:
        """Close every app, withdraw the unused sign-in link, and stop listening."""
        if self._link_keeper is not None:
            self._stop_link.set()
            await self._link_keeper
            self._link_keeper = None
            await self.one_time.withdraw()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._cleanups:
            await asyncio.gather(*self._cleanups, return_exceptions=True)

    async def run_until_stopped(
        self, stop: asyncio.Event, on_ready: Callable[[DagqServer], None] | None = None
    ) -> None:
        """Serve until ``stop`` is set; ``on_ready`` runs once the port is bound."""
        await self.start()
        try:
            if on_ready is not None:
                on_ready(self)
            await stop.wait()
        finally:
            await self.shutdown()

    def serve(
        self, debug: bool = False, on_ready: Callable[[DagqServer], None] | None = None
    ) -> None:
        """Serve until SIGINT/SIGTERM (blocking), then stop every app cleanly."""
        self.debug = debug

        async def main() -> None:
            await self.run_until_stopped(stop_on_signals(), on_ready)

        asyncio.run(main())
