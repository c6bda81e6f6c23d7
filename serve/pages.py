"""What every page of the web front end shares: request keys, URLs as the browser sees them,
templates and security headers."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
from aiohttp import web

from serve.web_auth import Session, base_url, normalise_origin

SESSION: web.RequestKey[Session | None] = web.RequestKey("dagq_session")
"""The request's checked session (``None`` when anonymous), set by the guard middleware."""
NONCE: web.RequestKey[str] = web.RequestKey("dagq_nonce")
"""The request's CSP nonce for inline ``<script>``/``<style>``."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


def new_nonce() -> str:
    """A fresh CSP nonce."""
    return secrets.token_urlsafe(16)


def render(
    request: web.Request, template: str, *, status: int = 200, **context: Any
) -> web.Response:
    """An HTML response from ``serve/templates/<template>`` (autoescaped, with the CSP nonce)."""
    html = _TEMPLATES.get_template(template).render(nonce=request[NONCE], **context)
    return web.Response(text=html, content_type="text/html", status=status)


def see_other(location: str) -> web.Response:
    """A 303 redirect that cookies can be set on."""
    # A plain response: returning an HTTPException from a handler is deprecated in aiohttp.
    return web.Response(status=303, headers={"Location": location})


def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """CSP (nothing from other hosts, scripts by nonce), no framing, no sniffing, no referrer."""
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; "
        f"script-src 'self' 'nonce-{request[NONCE]}'; "
        # xterm.js injects <style> elements and style attributes at run time.
        "style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; font-src 'self'; connect-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    )
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    # The one-time sign-in URL carries a token: never let it leak to other sites through
    # Referer.  Not "no-referrer": with it browsers send `Origin: null` on our own form posts.
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if response.content_type == "text/html":
        response.headers.setdefault("Cache-Control", "no-store")


class PublicUrls:
    """URLs and origin as the browser sees them, behind a reverse proxy or not.

    ``public_url`` (configured) wins; else ``X-Forwarded-Proto``/``X-Forwarded-Host``; else the
    request's own scheme and ``Host``.  A path in ``public_url`` (``https://x.org/dagq``) is
    the prefix of every link and cookie path.
    """

    def __init__(self, public_url: str | None) -> None:
        self.public_url = public_url.rstrip("/") if public_url else None

    def base(self, request: web.Request) -> str:
        """The base URL of this request, without a trailing slash (400 for a Host header
        that is not a host name)."""
        try:
            return base_url(
                self.public_url,
                scheme=request.scheme,
                host=request.host,
                forwarded_proto=request.headers.get("X-Forwarded-Proto"),
                forwarded_host=request.headers.get("X-Forwarded-Host"),
            )
        except ValueError:
            raise web.HTTPBadRequest(text="The Host header is not a host name.") from None

    def origin_ok(self, request: web.Request, *, required: bool) -> bool:
        """Whether the request's ``Origin`` is our own (a missing one passes unless required)."""
        origin = request.headers.get("Origin")
        if origin is None:
            # Browsers always send Origin on websockets and cross-site POSTs; only /ws insists.
            return not required
        own = normalise_origin(self.base(request))
        return own is not None and normalise_origin(origin) == own

    def cookie_path(self, request: web.Request, suffix: str = "/") -> str:
        """``suffix`` under the public URL's path prefix."""
        return urlsplit(self.base(request)).path.rstrip("/") + suffix

    def secure(self, request: web.Request) -> bool:
        """Whether the browser talks to us over https (cookies get ``Secure``)."""
        return self.base(request).startswith("https://")
