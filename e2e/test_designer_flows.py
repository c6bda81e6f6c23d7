"""The designer and the operator in real Chromium, against a real API, worker and ``dagq web``.

One story, as the issue tells it: a designer builds a three-node workflow by keyboard in the
browser and saves it; an operator, in another browser context, opens it, runs it, watches it
complete in the monitor, and is refused (with a message, the app still running) when trying to
save it.  Every claim on screen is checked through the API as well.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from playwright.sync_api import BrowserContext, Page

from e2e.conftest import E2E_USERS, OutsideRequests
from e2e.helpers import (
    screen_text,
    sign_in,
    type_keys,
    wait_for_app,
    wait_for_no_text,
    wait_for_text,
)
from e2e.stack import Stack, redis_url, stack, wait_until

__all__ = ["redis_url", "stack"]  # fixtures, imported so pytest finds them here

NAME = "E2E Chain"
WORKFLOW_ID = "e2e-chain"
CHAIN = [("a", "fetchData"), ("b", "validateData"), ("c", "transformData")]


SIDE_PANELS = ("Properties", "Node Palette", "Problems")

# The colour of the top-left corner of each titled panel.  The text of the screen does not say
# which widget has the focus, but the designer draws the side panel holding it in the accent
# colour: that is what a person sees, and what tells the test its next keys will land there.
_BORDER_COLOURS_JS = """
(titles) => { const t = (window.__xterms || [])[0]; if (!t) return {};
  const b = t.buffer.active, found = {};
  for (let y = 0; y < t.rows; y++) {
    const line = b.getLine(b.viewportY + y); if (!line) continue;
    const text = line.translateToString(true);
    for (const title of titles) {
      const at = text.indexOf('╭─ ' + title);
      if (at >= 0) found[title] = line.getCell(at).getFgColor();
    } }
  return found; }
"""

# In the Properties panel, each field is a label line and a value line below it (the value
# indented one more column); the focused field's value is drawn on a background of its own.
_FIELD_BACKGROUNDS_JS = """
() => { const t = (window.__xterms || [])[0]; if (!t) return {};
  const b = t.buffer.active, lines = [];
  for (let y = 0; y < t.rows; y++) {
    const line = b.getLine(b.viewportY + y); lines.push(line);
  }
  const texts = lines.map((l) => l ? l.translateToString(true) : '');
  const top = texts.findIndex((s) => s.includes('╭─ Properties'));
  if (top < 0) return {};
  const x = texts[top].indexOf('╭─ Properties'), found = {};
  for (let y = top + 1; y + 1 < texts.length && texts[y][x] !== '╰'; y++) {
    const here = texts[y][x + 2], next = texts[y + 1][x + 2];
    if (here && here !== ' ' && next === ' ' && texts[y + 1][x] !== '╰') {
      const label = texts[y].slice(x + 2).replace(/│.*$/, '').trim();
      found[label] = lines[y + 1].getCell(x + 3).getBgColor();
    }
  }
  return found; }
"""


def _status(nodes: int, edges: int) -> re.Pattern[str]:
    return re.compile(rf"Status: Valid ✓\s+Nodes: {nodes}\s+Edges: {edges}\b")


def focused_side_panel(page: Page) -> str | None:
    """The side panel drawn in a colour of its own (it holds the focus), or None when all three
    look alike (the focus is on the canvas)."""
    colours: dict[str, int] = page.evaluate(_BORDER_COLOURS_JS, list(SIDE_PANELS))
    assert set(colours) == set(SIDE_PANELS), f"side panels not all on screen: {colours}"
    for title, colour in colours.items():
        if list(colours.values()).count(colour) == 1:
            return title
    return None


def focused_field(page: Page) -> str | None:
    """The label of the Properties field drawn on a background of its own (it has the focus)."""
    backgrounds: dict[str, int] = page.evaluate(_FIELD_BACKGROUNDS_JS)
    values = list(backgrounds.values())
    unique = [label for label, bg in backgrounds.items() if values.count(bg) == 1]
    return unique[0] if len(values) >= 3 and len(unique) == 1 else None


def wait_for_field(page: Page, label: str) -> None:
    """Wait until the Properties field ``label`` has the focus (typing goes there)."""
    wait_until(lambda: focused_field(page) == label or None, f"the focus on {label}", timeout_s=10)


def wait_for_focus(page: Page, panel: str | None) -> None:
    """Wait until ``panel`` (None: the canvas) has the focus."""
    wait_until(
        lambda: focused_side_panel(page) == panel or None,
        f"the focus on {panel or 'the canvas'}",
        timeout_s=10,
    )


def add_task(page: Page, node_id: str, handler: str) -> None:
    """``n`` then ``t`` (the palette's Task), then type the id, skip the name, type the handler."""
    wait_for_focus(page, None)
    type_keys(page, "n")
    wait_for_focus(page, "Node Palette")
    type_keys(page, "t")
    wait_for_text(page, re.compile(r"Node: task_\d+\s+Type: Task"))
    wait_for_focus(page, "Properties")
    wait_for_field(page, "Id")
    # The new node's Id field has the focus, its text selected: typing replaces it.
    type_keys(page, node_id, press=["Enter"])
    wait_for_text(page, re.compile(rf"Node: {node_id}\s+Type: Task"))
    wait_for_field(page, "Name")
    type_keys(page, press=["Enter"])  # left empty: the canvas shows the id
    wait_for_field(page, "Handler")
    type_keys(page, handler, press=["Enter"])
    wait_for_field(page, "Timeout")
    type_keys(page, press=["Escape"])
    wait_for_focus(page, None)


def goto(page: Page, node_id: str) -> None:
    """``g``, the node's id, Enter: select it by keyboard."""
    type_keys(page, "g")
    wait_for_text(page, "Go to node")
    type_keys(page, node_id, press=["Enter"])
    # The dialog covers the designer, whose text still shows through: wait for it to close.
    wait_for_no_text(page, "Go to node")
    wait_for_text(page, re.compile(rf"Node: {node_id}\s+Type:"))
    wait_for_focus(page, None)


def connect(page: Page, source: str, target: str) -> None:
    """Select the source, ``c``, select the target, ``c``."""
    goto(page, source)
    type_keys(page, "c")
    wait_for_text(page, f"connect {source} →")
    goto(page, target)
    type_keys(page, "c")


def designer_builds_and_saves(page: Page, stack: Stack) -> None:
    """Alice (designer) signs in through the form, builds a → b → c, and saves with F10."""
    sign_in(page, stack.web.base_url, "alice", E2E_USERS["alice"][1])
    wait_for_app(page)
    wait_for_text(page, "alice (workflow_designer)")
    wait_for_text(page, "0 workflows")
    # Before any key: the screens bar on top and the footer's keys at the bottom are drawn.
    rows = screen_text(page).rstrip("\n").split("\n")
    assert rows[0].startswith(" 1 Workflows ") and "F1 help  q quit" in rows[0], rows[0]
    assert re.search(r"n New .*i Import", rows[-1]), f"no footer on the first paint: {rows[-1]!r}"
    type_keys(page, "n")
    wait_for_text(page, "New workflow")
    type_keys(page, NAME, press=["Enter"])
    wait_for_text(page, f"Workflow Designer — {NAME}")
    wait_for_text(page, re.compile(r"Nodes: 0\s+Edges: 0"))

    for count, (node_id, handler) in enumerate(CHAIN, start=1):
        add_task(page, node_id, handler)
        # Nodes without edges run in list order: the canvas draws that implicit chain.
        wait_for_text(page, _status(count, count - 1))
    # Explicit edges replace the implicit order: one, then both.
    connect(page, "a", "b")
    wait_for_text(page, _status(3, 1))
    connect(page, "b", "c")
    wait_for_text(page, _status(3, 2))
    wait_for_text(page, "● modified")

    type_keys(page, press=["F10"])
    wait_for_text(page, f"Saved {WORKFLOW_ID} v1")
    wait_for_text(page, re.compile(r"Nodes: 3\s+Edges: 2\s*│"))  # no longer "● modified"

    stored = stack.get(f"/workflows/{WORKFLOW_ID}", "alice")
    assert stored["name"] == NAME
    assert stored["version"] == 1
    assert [(n["id"], n["handler"]) for n in stored["nodes"]] == CHAIN
    assert [(e["source"], e["target"]) for e in stored["edges"]] == [("a", "b"), ("b", "c")]
    listed = stack.get("/workflows", "alice")["workflows"]
    assert [w["id"] for w in listed] == [WORKFLOW_ID]


def operator_runs_and_cannot_save(page: Page, stack: Stack) -> None:
    """Bob (operator) opens the workflow, runs it to completion, and is refused saving it."""
    sign_in(page, stack.web.base_url, "bob", E2E_USERS["bob"][1])
    wait_for_app(page)
    wait_for_text(page, "bob (workflow_operator)")
    wait_for_text(page, NAME)
    type_keys(page, press=["Enter"])
    wait_for_text(page, f"Workflow Designer — {NAME}")
    wait_for_text(page, _status(3, 2))

    type_keys(page, press=["F5"])
    wait_for_text(page, f"Run {NAME}")
    wait_for_text(page, "This workflow declares no parameters: give any as a JSON object.")
    type_keys(page, press=["Control+r"])  # the run dialog's Run
    wait_for_text(page, "dagq — Monitor")
    wait_for_text(page, re.compile(rf"✓ completed\s+{NAME} v1"))
    for node_id, _ in CHAIN:
        wait_for_text(page, re.compile(rf"▣ {node_id}\s+✓"))
    wait_for_text(page, "run_completed")

    runs = stack.get(f"/workflows/{WORKFLOW_ID}/runs", "bob")["runs"]
    assert len(runs) == 1
    run = stack.get(f"/runs/{runs[0]['runId']}", "bob")
    assert run["status"] == "completed"
    assert {nid: n["status"] for nid, n in run["nodes"].items()} == dict.fromkeys(
        ("a", "b", "c"), "completed"
    )

    # Back to the designer (screen 1 keeps it open): read-only, and it says so; no Save.
    type_keys(page, "1")
    wait_for_text(page, f"Workflow Designer — {NAME}")
    wait_for_text(page, "read-only: your role cannot change workflows")
    assert "F10" not in screen_text(page).rstrip("\n").split("\n")[-1]
    type_keys(page, "l", press=["Shift+ArrowDown"])  # try to move a node: refused, said why
    wait_for_text(page, re.compile(r"Read-only: operators\s+cannot\s+save\s+workflows"))
    # Still running: the page's session is open, and the app answers the next key.
    assert "-closed" not in (page.get_attribute("body", "class") or "")
    type_keys(page, press=["F2"])
    wait_for_text(page, re.compile(r"▌ Validate\s"))  # the validation's own message
    assert stack.get(f"/workflows/{WORKFLOW_ID}", "bob")["version"] == 1


def test_designer_builds_and_saves_then_operator_runs_it(
    page: Page,
    stack: Stack,
    new_context: Callable[[], BrowserContext],
    outside_requests: OutsideRequests,
) -> None:
    designer_builds_and_saves(page, stack)
    operator = new_context().new_page()
    operator_runs_and_cannot_save(operator, stack)
    # Both pages worked offline: nothing was asked of any other host.
    assert outside_requests == []
