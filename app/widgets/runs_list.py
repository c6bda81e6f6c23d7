"""The monitor's list of runs: a status filter, newest first, a page at a time.

The list shows what the screen hands it (:meth:`RunsList.show_page`) and reports
what the user asks for as messages: ``FilterChanged``, ``PageRequested`` and
``RunHighlighted``; the screen does the fetching.  Refreshing a page keeps the
highlighted run highlighted (and says nothing about it: only the user's moves post).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Select, Static
from textual.widgets.data_table import CellDoesNotExist

from app.text import safe
from app.widgets.ops_format import clock, status_text
from orchestrator.store.jobs import is_job_workflow
from orchestrator.vocab import RUN_STATUSES, RunStatus
from orchestrator.wire.runs import WorkflowRunSummary

PAGE_SIZE = 20
MIN_WORKFLOW_WIDTH = 6
MESSAGE_WIDTH = 300
FIXED_COLUMNS_WIDTH = 3 + 10 + 2 + 2
"""The status and started columns and the workflow's padding, and a scrollbar."""


STARTED_WIDTH = 8
"""``12:00:01``: every start time takes as many cells."""


def _add_columns(table: DataTable[Any], name_width: int) -> None:
    # Fixed widths: a column sized by its content is measured only when the table is
    # next idle, so a frame drawn just after a page was put in shows it at the width of
    # its label ("started", a cell short), and a snapshot taken then differs.
    table.add_column(" ", key="status", width=1)
    table.add_column("workflow", key="workflow", width=max(name_width, len("workflow")))
    table.add_column("started", key="started", width=STARTED_WIDTH)


JOBS = "kind:job"
"""The filter's choice showing only plain jobs and chains."""


def _workflow_label(run: WorkflowRunSummary) -> str:
    """A run's workflow id; a job's words (``job: sendEmail``) rather than its hidden id."""
    if is_job_workflow(run.workflowId) and run.workflowName:
        return run.workflowName
    return run.workflowId


class RunsList(Vertical):
    """Runs newest first with a status filter and paging (``[`` / ``]``)."""

    DEFAULT_CSS = """
    RunsList { height: 1fr; }
    RunsList > Select { margin: 0 0 1 0; width: 1fr; }
    RunsList > DataTable { height: 1fr; }
    RunsList > #pager { height: 1; color: $text-muted; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("left_square_bracket", "page(-1)", "Newer", show=False),
        Binding("right_square_bracket", "page(1)", "Older", show=False),
    ]

    @dataclass
    class FilterChanged(Message):
        """The user chose a status (None: every status)."""

        runs_list: RunsList
        status: str | None

        @property
        def control(self) -> RunsList:
            """The list that sent the message."""
            return self.runs_list

    @dataclass
    class PageRequested(Message):
        """The user asked for the page starting at ``offset``."""

        runs_list: RunsList
        offset: int

        @property
        def control(self) -> RunsList:
            """The list that sent the message."""
            return self.runs_list

    @dataclass
    class RunHighlighted(Message):
        """The user moved to a run."""

        runs_list: RunsList
        run_id: str

        @property
        def control(self) -> RunsList:
            """The list that sent the message."""
            return self.runs_list

    def __init__(
        self,
        *,
        page_size: int = PAGE_SIZE,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        """An empty list; ``page_size`` runs per page."""
        super().__init__(id=id, classes=classes)
        self.page_size = page_size
        self.page_offset = 0
        self.total = 0
        self.has_more = False
        self.status_filter: str | None = None
        self.kind_filter: str | None = None
        """``job``: only plain jobs and chains (``GET /runs?kind=job``)."""
        self._runs: dict[str, WorkflowRunSummary] = {}
        self._name_width = 14

    def compose(self) -> ComposeResult:
        """Filter, table, pager."""
        options: list[tuple[str, str]] = [
            (f"{status_text(s, word=False).plain} {s}", str(s)) for s in RUN_STATUSES
        ]
        options.append(("▸ plain jobs and chains", JOBS))
        yield Select(
            options, prompt="every status", allow_blank=True, compact=True, id="status-filter"
        )
        table: DataTable[Any] = DataTable(cursor_type="row", zebra_stripes=True, id="runs")
        _add_columns(table, self._name_width)
        yield table
        yield Static("no runs", id="pager")

    @property
    def table(self) -> DataTable[Any]:
        """The runs table."""
        return self.query_one("#runs", DataTable)

    @property
    def highlighted(self) -> str | None:
        """The run under the cursor."""
        table = self.table
        if not table.row_count:
            return None
        try:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        except CellDoesNotExist:  # an out-of-range cursor: nothing is highlighted
            return None
        return str(key.value) if key.value is not None else None

    def run(self, run_id: str) -> WorkflowRunSummary | None:
        """The listed summary of ``run_id``, if it is on this page."""
        return self._runs.get(run_id)

    def show_page(
        self, items: Sequence[WorkflowRunSummary], *, total: int, offset: int, has_more: bool
    ) -> None:
        """Show one page of run summaries."""
        keep = self.highlighted
        table = self.table
        self.page_offset, self.total, self.has_more = offset, total, has_more
        self._runs = {r.runId or r.id: r for r in items}
        with self.prevent(DataTable.RowHighlighted):
            # Columns too: an auto-width column never shrinks on its own.
            table.clear(columns=True)
            _add_columns(table, self._name_width)
            for run_id, run in self._runs.items():
                table.add_row(*self._cells(run), key=run_id)
            if keep in self._runs:
                table.move_cursor(row=table.get_row_index(keep), animate=False)
        self._update_pager()

    def _cells(self, run: WorkflowRunSummary) -> tuple[Text, Text, str]:
        return (
            status_text(run.status, word=False),
            safe(_workflow_label(run), width=self._name_width),
            clock(run.startTime),
        )

    def on_resize(self) -> None:
        """Fit the workflow names to the width (no sideways scrolling in a narrow list)."""
        width = max(MIN_WORKFLOW_WIDTH, self.size.width - FIXED_COLUMNS_WIDTH - 1)
        if width != self._name_width:
            self._name_width = width
            if self._runs:
                self._redraw()

    def _update_pager(self) -> None:
        pager = self.query_one("#pager", Static)
        if not self.total:
            which = self.status_filter or ("jobs" if self.kind_filter else "")
            pager.update(safe("no runs" + (f" {which}" if which else "")))
            return
        first, last = self.page_offset + 1, self.page_offset + len(self._runs)
        hints = []
        if self.page_offset:
            hints.append("[ newer")
        if self.has_more:
            hints.append("] older")
        pager.update(safe(f"{first}-{last} of {self.total}  " + "  ".join(hints)))

    def show_message(self, text: str) -> None:
        """Show ``text`` instead of runs (the role may not see them, the API is away...)."""
        self._runs = {}
        self.total = 0
        self.table.clear()
        self.query_one("#pager", Static).update(safe(text, width=MESSAGE_WIDTH))

    def select_run(self, run_id: str) -> bool:
        """Put the cursor on ``run_id`` if it is on this page (no message); True if it is."""
        if run_id not in self._runs:
            return False
        with self.prevent(DataTable.RowHighlighted):
            self.table.move_cursor(row=self.table.get_row_index(run_id), animate=False)
        return True

    def set_run_status(self, run_id: str, status: RunStatus) -> None:
        """Show a run's new status (from its live events) without re-listing."""
        run = self._runs.get(run_id)
        if run is None or run.status == status:
            return
        self._runs[run_id] = run.model_copy(update={"status": status})
        self.table.update_cell(run_id, "status", status_text(status, word=False))

    def _redraw(self) -> None:
        self.show_page(
            list(self._runs.values()),
            total=self.total,
            offset=self.page_offset,
            has_more=self.has_more,
        )

    @on(Select.Changed, "#status-filter")
    def _filter_changed(self, event: Select.Changed) -> None:
        event.stop()
        value = event.value
        status = value if isinstance(value, str) and value != JOBS else None
        kind = "job" if value == JOBS else None
        if (status, kind) == (self.status_filter, self.kind_filter):
            return
        self.status_filter, self.kind_filter = status, kind
        self.post_message(self.FilterChanged(self, status))

    @on(DataTable.RowHighlighted, "#runs")
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.post_message(self.RunHighlighted(self, str(event.row_key.value)))

    @on(DataTable.RowSelected, "#runs")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.post_message(self.RunHighlighted(self, str(event.row_key.value)))

    def action_page(self, step: int) -> None:
        """Ask for the newer (-1) or older (+1) page."""
        if step < 0 and self.page_offset > 0:
            self.post_message(self.PageRequested(self, max(0, self.page_offset - self.page_size)))
        elif step > 0 and self.has_more:
            self.post_message(self.PageRequested(self, self.page_offset + self.page_size))
