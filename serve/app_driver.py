"""The Textual driver of a browser tab's app process: the app ends when its server is gone.

textual-serve talks to each app over its stdin and stdout.  Textual's ``WebDriver`` stops
reading when stdin reaches end-of-file but leaves the app running, so an app whose web
server was killed (``kill -9`` of ``dagq up``) lived on with nobody to talk to.  Here
end-of-file means the server has gone: the app is asked to exit, and if it has not within
a few seconds (a write to the dead pipe failing mid-shutdown, a wedged handler), the
process ends anyway.  The server selects this driver through ``TEXTUAL_DRIVER``
(:func:`serve.app_process.app_environment`); it lives in ``serve`` because it is part of
how the web server runs apps, and it imports only Textual.
"""

from __future__ import annotations

import asyncio
import os
import threading

from textual import events, messages
from textual.drivers.web_driver import WebDriver

EXIT_GRACE_S = 5.0
"""How long the app gets to exit cleanly after its server went away."""


class DagqWebDriver(WebDriver):
    """``WebDriver`` that ends the app when its stdin closes, and starts it focused."""

    def start_application_mode(self) -> None:
        """Start as ``WebDriver`` does, then as focused.

        ``WebDriver`` starts the app blurred until the page reports the terminal's focus,
        which xterm.js does on the first key or click; while blurred, Textual's footer
        does not draw its keys, so a page just opened showed an empty footer.  A page just
        opened is the one being looked at: the app starts focused (the page's own blur
        and focus reports still follow)."""
        super().start_application_mode()
        self._app.call_later(self._app.post_message, events.AppFocus())

    def run_input_thread(self) -> None:
        """Read input until stdin closes; then, unless the app is stopping, make it exit."""
        try:
            super().run_input_thread()
        finally:
            if not self.exit_event.is_set():
                self._server_gone()

    def _server_gone(self) -> None:
        watchdog = threading.Timer(EXIT_GRACE_S, os._exit, args=(1,))
        watchdog.daemon = True  # a clean exit does not wait for it
        watchdog.start()
        if self._loop.is_closed():
            os._exit(1)
        try:
            exit_app = self._app._post_message(messages.ExitApp())
            asyncio.run_coroutine_threadsafe(exit_app, self._loop)
        except RuntimeError:  # the loop stopped meanwhile
            os._exit(1)
