"""The Compare tab of the Plots screen: two runs' answers and lanes side by side, preset differences marked.

Rows that differ are marked with '≠' ('!' in ASCII) and in bold: the mark reads without colour.
"""

from __future__ import annotations

from dataclasses import replace

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from tuilab.compare import Row, preset_differences, summary_rows
from tuilab.ui.state import RunState
from tuilab.ui.terminal import ascii_only

DIFFERS = "≠"


def run_title(state: RunState) -> str:
    """'quickstart (runs/20261126-101500-quickstart)': the run's name and where it is."""
    name = state.started.name if state.started else "?"
    return f"{name} ({state.run_dir})"


def _cells(row: Row) -> tuple[Text, Text, Text]:
    style = "bold" if row.differs else ""
    mark = ("! " if ascii_only() else f"{DIFFERS} ") if row.differs else "  "
    return Text(mark + row.what, style), Text(row.first, style), Text(row.second, style)


class CompareView(Vertical):
    """What differs in the two presets, then the two summaries row by row."""

    def __init__(self, first: RunState, second: RunState) -> None:
        super().__init__(id="compare-view")
        self.first, self.second = first, second

    def compose(self) -> ComposeResult:
        diffs = preset_differences(self.first.experiment, self.second.experiment)
        head = Text.assemble(("run 1: ", "bold"), run_title(self.first), "   ", ("run 2: ", "bold"),
                             run_title(self.second))
        if diffs:
            head.append("\npresets differ in: ", style="bold")
            head.append(", ".join(f"{r.what} {r.first} → {r.second}" for r in diffs), style="bold")
        else:
            head.append("\nsame preset" if self.first.experiment else "\npresets unreadable", style="dim")
        yield Static(head, id="compare-head")
        yield DataTable(id="compare-table", zebra_stripes=True, cursor_type="row")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("", "run 1", "run 2")
        # The final summary (with the run's wall time, which RunFinished carries), or what came so far.
        live = [replace(s.finished.summary, wall_seconds=s.finished.wall_seconds)
                if s.finished and s.finished.summary else s.record.summary(s.experiment)
                for s in (self.first, self.second)]
        rows = [Row(f"preset {r.what}", r.first, r.second)
                for r in preset_differences(self.first.experiment, self.second.experiment)]
        table.add_rows(_cells(r) for r in rows + summary_rows(*live))
