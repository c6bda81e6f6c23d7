"""A tiny real Textual app for the web tests: writes its environment to a file, then shows it.

Run as ``python envdump_app.py OUTFILE``; the web server spawns it like the designer.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from textual.app import App, ComposeResult
from textual.widgets import Static


class EnvDumpApp(App[None]):
    """Shows who it runs for; the test reads the environment from the file."""

    def compose(self) -> ComposeResult:
        yield Static(f"envdump app for {os.environ.get('DAGQ_USER', '?')}", id="who")


def main() -> None:
    """Write the environment atomically (the test polls for the file), then run the app."""
    target = Path(sys.argv[1])
    partial = target.with_suffix(".partial")
    partial.write_text(json.dumps(dict(os.environ)), encoding="utf-8")
    partial.replace(target)
    EnvDumpApp().run()


if __name__ == "__main__":
    main()
