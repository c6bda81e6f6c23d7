"""``python -m app``: the app as the web front end runs it, one process per browser tab.

The web server hands over who is logged in through the environment: ``DAGQ_API_URL``,
``DAGQ_API_TOKEN`` (a bearer JWT; ``DAGQ_API_KEY`` works too), ``DAGQ_USER`` and
``DAGQ_ROLE``.  A bad environment prints one sentence and exits with status 2.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from orchestrator.errors import DagqError

EXIT_BAD_ENVIRONMENT = 2


def _fail(message: str) -> int:
    print(f"dagq app: {message}", file=sys.stderr)  # noqa: T201 - the one line a user sees
    return EXIT_BAD_ENVIRONMENT


def main(environ: Mapping[str, str] | None = None) -> int:
    """Run the app from the environment; the process's exit status."""
    env = os.environ if environ is None else environ
    url = env.get("DAGQ_API_URL")
    token, key = env.get("DAGQ_API_TOKEN"), env.get("DAGQ_API_KEY")
    if url and not url.startswith(("http://", "https://")):
        return _fail(f"DAGQ_API_URL must be an http(s) URL, got {url!r}")
    if url and not (token or key):
        return _fail("DAGQ_API_URL is set but neither DAGQ_API_TOKEN nor DAGQ_API_KEY is")
    try:
        from app.factory import create_app

        app = create_app(
            api_url=url,
            api_key=key,
            token=token,
            user=env.get("DAGQ_USER"),
            role=env.get("DAGQ_ROLE"),
        )
    except DagqError as exc:
        return _fail(exc.message)
    app.run()
    return int(app.return_code or 0)


if __name__ == "__main__":
    sys.exit(main())
