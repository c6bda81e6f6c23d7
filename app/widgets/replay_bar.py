"""The replay's timeline bar: where each event happened on the run's time axis, and the cursor.

Line 1: the track (``·`` a moment with events, ``●`` the cursor, ``━`` the time before
it).  Line 2: the event shown, its time after the start, the playback state and speed.
"""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from app.replay_model import ReplayModel, speed_label
from app.text import safe


def _seconds(ms: int) -> str:
    return f"{ms / 1000:.3f}s"


class ReplayBar(Widget):
    """Draws a :class:`ReplayModel`'s position; the screen moves it."""

    DEFAULT_CSS = """
    ReplayBar {
        height: 2;
        padding: 0 1;
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.model: ReplayModel | None = None
        self.playing = False
        self.note: str | None = None

    def show(self, model: ReplayModel | None, *, playing: bool = False) -> None:
        """Draw ``model`` at its position."""
        self.model, self.playing = model, playing
        self.refresh()

    def track(self, width: int) -> Text:
        """The time axis, ``width`` cells, with the events and the cursor."""
        model = self.model
        width = max(4, width)
        if model is None or model.count == 0:
            return Text("─" * width, style="dim")
        total = max(1, model.total_ms())

        def col(ms: int) -> int:
            return min(width - 1, ms * (width - 1) // total)

        cells = ["─"] * width
        for i in range(model.count):
            cells[col(model.offset_ms(i))] = "·"
        cursor = col(model.offset_ms()) if model.position >= 0 else 0
        text = Text()
        text.append("━" * cursor, style="bold #7dcfff")
        text.append("●" if model.position >= 0 else "○", style="bold #ffffff")
        text.append("".join(cells[cursor + 1 :]), style="#8a8f98")
        return text

    def caption(self) -> Text:
        """What the cursor is on, and how playback goes."""
        model = self.model
        if model is None:
            return Text("loading the replay…", style="dim")
        text = Text()
        text.append("▶ " if self.playing else "‖ ", style="bold")
        text.append(f"{speed_label(model.speed)}  ", style="bold #e0af68")
        step = model.step()
        text.append(f"event {model.position + 1}/{model.count}  ")
        text.append(f"+{_seconds(model.offset_ms())}  ", style="#7dcfff")
        if step is None:
            text.append("before the first event", style="dim")
        else:
            text.append_text(safe(str(step.get("type")), width=24))
            if step.get("nodeId"):
                text.append(" ")
                node = safe(str(step["nodeId"]), width=30)
                node.stylize("bold")
                text.append_text(node)
        if self.note:
            text.append("  ")
            note = safe(self.note, width=80)
            note.stylize("italic #e0af68")
            text.append_text(note)
        return text

    def render(self) -> Text:
        """Track over caption."""
        width = self.content_region.width or self.size.width
        out = self.track(width)
        out.append("\n")
        out.append_text(self.caption())
        out.no_wrap = True
        out.overflow = "ellipsis"
        return out
