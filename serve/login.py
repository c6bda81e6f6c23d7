"""Signing in and out of the web front end: the form, the one-time URL, the session cookie.

Sign-outs, the one-time links and the failed-attempt windows live in Redis
(``serve.web_store``), so they hold on every replica and across restarts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace

from aiohttp import web
from multidict import MultiDictProxy

from orchestrator.errors import DagqError, RateLimited
from serve.pages import SESSION, PublicUrls, render, see_other
from serve.web_auth import CsrfGuard, Session, SessionCodec, UserDirectory, client_address
from serve.web_store import WebStore

log = logging.getLogger("dagq.web")

SESSION_COOKIE = "dagq_session"
CSRF_COOKIE = "dagq_csrf"
WRONG_LOGIN = "Wrong username or password."
NOTICES = {
    "signed-out": "You have signed out.",
    "link-used": (
        "That sign-in link was used already, or has expired: each link signs in once. "
        "Sign in with your username and password, or get a new link by running "
        "`dagq login-link` on the machine where `dagq up` runs."
    ),
}
_MAX_NAME = 128
_MAX_PASSWORD = 1024


async def read_form(
    request: web.Request,
) -> MultiDictProxy[str | bytes | bytearray | web.FileField]:
    """The posted form; 400 when a stranger's body cannot be one (a multipart body without
    its boundary, bytes that are not UTF-8, an unknown charset, a lying Content-Encoding)."""
    try:
        return await request.post()
    except (ValueError, LookupError, web.RequestPayloadError):
        raise web.HTTPBadRequest(text="The form could not be read.") from None


def _text(value: object) -> str:
    """A form field as text: an uploaded file where text belongs counts as empty."""
    return value if isinstance(value, str) else ""


class LoginFlow:
    """The routes and checks of signing in and out.

    ``on_logout`` is called with the session being ended so the server can close its apps.
    """

    def __init__(
        self,
        *,
        users: UserDirectory,
        urls: PublicUrls,
        sessions: SessionCodec,
        csrf: CsrfGuard,
        store: WebStore,
        on_logout: Callable[[Session], Awaitable[None]],
    ) -> None:
        self.users = users
        self.urls = urls
        self.sessions = sessions
        self.csrf = csrf
        self.store = store
        self.on_logout = on_logout

    async def current(self, cookie: str | None) -> Session | None:
        """The session of a cookie, checked against sign-outs and the users file as it is now.

        A signed-out session is refused on every replica; a removed or disabled user loses the
        session at once, and a role change applies to the next app the user opens (the API
        also asks the live policy on every call).  :class:`Unavailable` when Redis cannot say
        whether the session was signed out (refused rather than guessed).
        """
        session = self.sessions.read(cookie)
        if session is None or await self.store.revocations.is_revoked(session.sid):
            return None
        try:
            user = self.users.get(session.user)
        except DagqError as exc:
            log.error("cannot read the users file: %s", exc)
            return None
        if user is None or user.disabled:
            return None
        return session if user.role == session.role else replace(session, role=user.role)

    def _who(self, username: str) -> str:
        """The name for the log: people type passwords into the user name field, so a name
        that is not a user is logged only by its length."""
        try:
            known = self.users.get(username) is not None
        except DagqError:
            known = False
        return repr(username) if known else f"an unknown user name ({len(username)} characters)"

    def message(
        self, request: web.Request, title: str, message: str, *, status: int, retry: bool = True
    ) -> web.Response:
        """A small page with a message, a retry link and (when signed in) a sign-out button."""
        session = request[SESSION]
        base = self.urls.base(request)
        return render(
            request,
            "message.html",
            status=status,
            title=title,
            message=message,
            retry_url=base + "/" if retry else None,
            logout_url=base + "/logout" if session else None,
            csrf=self.csrf.session_token(session) if session else "",
        )

    def start_session(self, request: web.Request, user: str, role: str) -> web.Response:
        """Set a fresh session cookie and send the browser to the app."""
        cookie, _ = self.sessions.issue(user, role)
        response = see_other(self.urls.base(request) + "/")
        response.set_cookie(
            SESSION_COOKIE,
            cookie,
            max_age=int(self.sessions.ttl_s),
            path=self.urls.cookie_path(request),
            secure=self.urls.secure(request),
            httponly=True,
            samesite="Strict",
        )
        response.del_cookie(CSRF_COOKIE, path=self.urls.cookie_path(request, "/login"))
        return response

    async def token_login(self, request: web.Request) -> web.Response:
        """``GET /?token=...``: a one-time URL (printed by any replica) signs its user in, once."""
        try:
            name = await self.store.link.consume(request.query["token"])
        except DagqError as exc:
            log.error("cannot check a sign-in link: %s", exc)
            return self.message(request, "Sign-in unavailable", exc.message, status=503)
        admin = self.users.get(name) if name else None
        if admin is None or admin.disabled:
            log.warning("refused a one-time sign-in link from %s", request.remote)
            raise web.HTTPSeeOther(self.urls.base(request) + "/login?m=link-used")
        log.info("local admin %s signed in with the one-time link", admin.name)
        return self.start_session(request, admin.name, admin.role)

    def form(
        self, request: web.Request, *, status: int = 200, error: str = "", username: str = ""
    ) -> web.Response:
        """The sign-in form with a fresh double-submit CSRF token (hidden field + cookie)."""
        token = self.csrf.new_token()
        response = render(
            request,
            "login.html",
            status=status,
            title="Sign in",
            login_url=self.urls.base(request) + "/login",
            csrf=token,
            error=error,
            notice=NOTICES.get(request.query.get("m", ""), ""),
            username=username,
        )
        response.set_cookie(
            CSRF_COOKIE,
            self.csrf.cookie_value(token),
            max_age=3600,
            path=self.urls.cookie_path(request, "/login"),
            secure=self.urls.secure(request),
            httponly=True,
            samesite="Strict",
        )
        return response

    async def handle_form(self, request: web.Request) -> web.StreamResponse:
        """``GET /login``: the sign-in form (or straight to the app when signed in)."""
        if request[SESSION] is not None:
            raise web.HTTPSeeOther(self.urls.base(request) + "/")
        return self.form(request)

    async def handle_login(self, request: web.Request) -> web.StreamResponse:
        """``POST /login``: check the CSRF token, the throttle, then the password."""
        if not self.urls.origin_ok(request, required=False):
            raise web.HTTPForbidden(text="Cross-site sign-in refused.")
        form = await read_form(request)
        username = _text(form.get("username")).strip()[:_MAX_NAME]
        password = _text(form.get("password"))
        field = form.get("csrf")
        cookie = request.cookies.get(CSRF_COOKIE)
        if not self.csrf.check(cookie, field if isinstance(field, str) else None):
            return self.form(
                request,
                status=403,
                error="This sign-in form has expired. Please try again.",
                username=username,
            )
        if not username or not password or len(password) > _MAX_PASSWORD:
            return self.form(request, status=400, error=WRONG_LOGIN, username=username)
        address = client_address(request.remote, request.headers.get("X-Forwarded-For"))
        throttle = self.store.throttle
        try:
            # Counted before the check, per user name and per address: parallel guesses
            # cannot slip past, and neither can one address trying many names.
            attempt = await throttle.reserve(username, address)
            # Password hashing is slow on purpose: keep it off the event loop.
            user = await asyncio.to_thread(self.users.verify_password, username, password)
        except RateLimited as exc:
            page = self.message(request, "Too many attempts", exc.message, status=429, retry=False)
            page.headers["Retry-After"] = str(exc.retry_after_s)
            return page
        except DagqError as exc:
            log.error("sign-in unavailable: %s", exc)
            return self.message(request, "Sign-in unavailable", exc.message, status=503)
        if user is None:
            log.warning("failed sign-in for %s from %s", self._who(username), address)
            return self.form(request, status=401, error=WRONG_LOGIN, username=username)
        await throttle.succeeded(username, address, attempt)
        log.info("%s (%s) signed in from %s", user.name, user.role, request.remote)
        return self.start_session(request, user.name, user.role)

    async def handle_logout(self, request: web.Request) -> web.StreamResponse:
        """``POST /logout``: void the session, close its apps, clear the cookie."""
        session = request[SESSION]
        login = self.urls.base(request) + "/login"
        if session is None:
            raise web.HTTPSeeOther(login)
        form = await read_form(request)
        field = form.get("csrf")
        if not self.urls.origin_ok(request, required=False) or not self.csrf.check_session(
            session, field if isinstance(field, str) else None
        ):
            raise web.HTTPForbidden(text="Sign-out refused: the form did not come from this site.")
        try:
            await self.store.revocations.revoke(session.sid, session.expires_at)
        except DagqError as exc:
            # Never say "signed out" while the cookie would still open the designer.
            log.error("sign-out not recorded: %s", exc)
            return self.message(
                request, "Sign-out failed", f"{exc.message}. Please try again.", status=503
            )
        await self.on_logout(session)
        response = see_other(login + "?m=signed-out")
        response.del_cookie(SESSION_COOKIE, path=self.urls.cookie_path(request))
        log.info("%s signed out", session.user)
        return response
