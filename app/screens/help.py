"""F1: the keys of the designer (the configured shortcuts) and how the screens fit together."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

from app.text import clip

SHORTCUT_TITLES = {
    "add_node": "add a node (choose the type in the palette)",
    "delete_node": "delete the selected node",
    "connect_nodes": "connect: press on the source, then select the target and press again",
    "validate": "validate (also F2)",
    "execute": "run (also F5)",
}


def help_text(shortcuts: Mapping[str, str]) -> str:
    """The help page as Markdown, with the configured shortcut keys."""
    rows = "\n".join(
        f"| `{_key(shortcuts.get(name, '?'))}` | {what} |" for name, what in SHORTCUT_TITLES.items()
    )
    return f"""\
# dagq designer

| key | action |
|---|---|
{rows}
| `F2` | validate |
| `F5` | run (asks for the run parameters) |
| `F10` | save (create or new version) |
| `e` | jump to the next validation problem |
| `ctrl+z` / `ctrl+y` | undo / redo |
| arrows, `hjkl` | select the nearest node in that direction |
| shift+arrows | move the selected node |
| ctrl+arrows | pan the canvas |
| `+` / `-` | zoom |
| `L` | lay the graph out again |
| `i` | edit the selected node's properties (Enter: next field, Escape: back) |
| `g` | go to a node by its id (or the start of it) |
| `s` | simulate: replay the design in memory, statuses on the canvas |
| `x` | export the design to a YAML or JSON file |
| `T` | save as template: mark the values that become parameters |
| `H` | heat overlay: each node's p95 duration over the workflow's last runs |
| `ctrl+p` | every action, by name |
| `escape` | cancel a connection, leave a dialog, back to the list |

**Screens**: `1` Workflows, `2` Monitor, `3` Queues, `4` Admin, `5` Schedules
(`p` pause, `r` resume, `t` trigger).

**Workflows**: `enter` opens in the Designer, `n` new, `t` new from a template (a
gallery with a preview, then a form for its parameters), `i` import a YAML/JSON file,
`x` export, `delete` deletes, `v` versions (open an old version read-only, or compare
two: added, removed and changed nodes are highlighted), `/` filters.

**Monitor**: `x` cancel, `R` retry, `F` retry from the selected node, `p` replay the
run on its canvas (arrows: one event; shift+arrows: the selected node's previous/next
change; Home/End; space plays; `s` speed 1x, 2x, 10x, as fast as events), `g` Gantt
chart with the critical path, `m` mark a run and `c` compare it with the selected one,
`P` promote a plain job or chain to a workflow (opens it in the Designer). The runs
filter also offers "plain jobs and chains".

What your role may not do is disabled; the reason shows when you try.
"""


def _key(key: str) -> str:
    """A configured key as safe Markdown in a code span (no backtick or pipe ends it early)."""
    return clip(key, 40).replace("`", "'").replace("|", "¦")


class HelpScreen(ModalScreen[None]):
    """The keys and concepts, over the current screen."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 90; max-width: 95%; height: 90%;
        border: round $accent; background: $panel; padding: 0 1;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,f1,q", "dismiss", "Close"),
    ]

    def __init__(self, shortcuts: Mapping[str, str]) -> None:
        super().__init__()
        self.shortcuts = dict(shortcuts)

    def compose(self) -> ComposeResult:
        """The help page in a scrolling panel."""
        with VerticalScroll() as scroll:
            scroll.border_title = "Help"
            yield Markdown(help_text(self.shortcuts))

    async def action_dismiss(self, result: None = None) -> None:
        """Close the help."""
        self.dismiss(result)
