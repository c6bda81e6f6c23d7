"""F1: the keys of the designer (the configured shortcuts) and how the screens fit together."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

from app.kinds import KINDS
from app.text import clip

SHORTCUT_TITLES = {
    "add_node": "add a node (choose the type in the palette)",
    "delete_node": "delete the selected node",
    "connect_nodes": "connect: press on the source, then select the target and press again",
    "validate": "validate (also F2)",
    "execute": "run (also F5)",
}


CLOSING = (
    "*Escape, F1 or q closes this help. q (on a screen without a text field) or ctrl+q "
    "quits dagq, asking first while a design has unsaved changes.*"
)
SCREENS = (
    "**Screens** (the bar on top): `1` Workflows, `2` Monitor, `3` Queues, `4` Admin, "
    "`5` Schedules, `6` Approvals; `ctrl+p` lists every action of the screen by name."
)
TOPICS: dict[str, tuple[str, str]] = {
    "workflows": (
        "Workflows",
        "`enter` opens the highlighted workflow in the Designer, `n` new, `t` new from a "
        "template (a gallery with a preview, then a form for its parameters), `i` import a "
        "YAML/JSON file, `x` export, `delete` deletes, `v` versions (open an old version "
        "read-only, or compare two: added, removed and changed nodes are highlighted), "
        "`/` filters, `ctrl+r` reloads.",
    ),
    "monitor": (
        "Monitor",
        "`x` cancel, `R` retry, `F` retry from the selected node, `p` replay the run on "
        "its canvas (arrows: one event; shift+arrows: the selected node's previous/next "
        "change; Home/End; space plays; `s` speed 1x, 2x, 10x, as fast as events), `g` "
        "Gantt chart with the critical path, `m` mark a run and `c` compare it with the "
        "selected one, `P` promote a plain job or chain to a workflow (opens it in the "
        'Designer; the runs filter also offers "plain jobs and chains"), `a` approves and '
        "`r` rejects the selected (or only) waiting approval with a comment, `s` sends the "
        "run a signal with a JSON payload, `ctrl+r` refreshes. `Enter` on a map node lists "
        "its items (`f` the failed ones); on a sub-workflow node it opens the child run, "
        "whose header names its parent: `u` goes back to it.",
    ),
    "queues": (
        "Queues",
        "Each lane's waiting jobs and the dead letters. `r` requeues the selected dead "
        "letter, `p` purges it (its attempt fails), `ctrl+r` refreshes.",
    ),
    "admin": (
        "Admin",
        "Users and the audit trail. `a` adds a user, `o` changes the selected user's role, "
        "`D` disables or enables them, `k` issues a new API key, `w` resets the password "
        "(each asks first and is audited); `/` filters the audit by user, `ctrl+r` refreshes.",
    ),
    "approvals": (
        "Approvals",
        "The approvals waiting for you, oldest first, with the highlighted one's message, "
        "who may decide, the decisions so far and the deadline: `a` approves, `r` rejects "
        "(a comment dialog first), `enter` opens its run in the Monitor, `A` shows every "
        "waiting approval, `ctrl+r` refreshes. The footer's `6` counts those waiting for "
        "you on every screen.",
    ),
    "schedules": (
        "Schedules",
        "Next fire, last outcome and state of each schedule: `p` pause, `r` resume, "
        "`t` trigger now, `ctrl+r` refreshes.",
    ),
}
"""Each screen's help: its title and its keys (the designer's is :func:`designer_help`)."""


def help_topic(screen: object, mode: str | None) -> str:
    """The help topic of ``screen``: ``designer`` for a designer, else its mode's."""
    if getattr(screen, "editor", None) is not None:
        return "designer"
    return mode or "workflows"


def unsaved_design(screen: object) -> str | None:
    """The workflow's name when ``screen`` is a designer with unsaved changes."""
    editor = getattr(screen, "editor", None)
    if editor is None or getattr(editor, "read_only", True) or not getattr(editor, "dirty", False):
        return None
    return str(getattr(editor, "name", "") or "a workflow")


def help_text(
    shortcuts: Mapping[str, str],
    topic: str = "designer",
    kind_keys: Mapping[str, str] | None = None,
) -> str:
    """The help of the screen ``topic`` as Markdown (the designer's with the configured
    shortcut keys), how to close it and quit, then the screens."""
    if topic in TOPICS:
        title, body = TOPICS[topic]
        return f"# Help: {title}\n\n{CLOSING}\n\n{body}\n\n{SCREENS}\n\n{ROLES}\n"
    return designer_help(shortcuts, kind_keys or {k: v.letter for k, v in KINDS.items()})


ROLES = "What your role may not do is disabled or hidden; the reason shows when you try."


def designer_help(shortcuts: Mapping[str, str], kind_keys: Mapping[str, str]) -> str:
    """The Designer's help as Markdown, with the configured shortcut keys and the keys
    that add each node kind."""
    adds = "\n".join(
        f"| `{_key(key)}` | add a {KINDS[kind].label.lower()} node |"
        for kind, key in kind_keys.items()
        if kind in KINDS
    )
    rows = "\n".join(
        f"| `{_key(shortcuts.get(name, '?'))}` | {what} |" for name, what in SHORTCUT_TITLES.items()
    )
    return f"""\
# Help: Designer

{CLOSING}

| key | action |
|---|---|
{adds}
{rows}
| `u` | delete one of the selected node's edges (also the inspector's ✕ buttons) |
| `F2` | validate |
| `F5` | run (asks for the run parameters) |
| `F10` | save (create or new version) |
| `e` | jump to the next validation problem |
| `ctrl+z` / `ctrl+y` | undo / redo |
| arrows, `hjkl` | select the nearest node in that direction |
| shift+arrows | move the selected node |
| ctrl+arrows | pan the canvas |
| `+` / `-` | zoom |
| `f` | fit the whole workflow in the view |
| `L` | lay the graph out again |
| `i` | edit the selected node and its edges (Enter: next field, Escape: cancel, back) |
| `g` | go to a node by its id (or the start of it) |
| `s` | simulate in memory, statuses on the canvas (a task's simulated output: `i`) |
| `x` | export the design to a YAML or JSON file |
| `T` | save as template: mark the values that become parameters |
| `H` | heat overlay: each node's p95 duration over the workflow's last runs |
| `ctrl+p` | every action, by name ("Delete edge…" among them) |
| `escape` | cancel a connection, leave a dialog, back to the list |

{SCREENS}

{ROLES}
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

    def __init__(
        self,
        shortcuts: Mapping[str, str],
        topic: str = "designer",
        kind_keys: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.shortcuts = dict(shortcuts)
        self.topic = topic
        self.kind_keys = dict(kind_keys) if kind_keys is not None else None

    def compose(self) -> ComposeResult:
        """The help page in a scrolling panel."""
        with VerticalScroll() as scroll:
            scroll.border_title = "Help (escape closes)"
            yield Markdown(help_text(self.shortcuts, self.topic, self.kind_keys))

    async def action_dismiss(self, result: None = None) -> None:
        """Close the help."""
        self.dismiss(result)
