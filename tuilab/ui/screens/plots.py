"""The Plots screen: loss curves, noise against B, samples/s against B, each lane's loss slice at its
final weights (with its sharpness and generalization gap), the adaptive lane's batch size and the
branch arms when the run has them, and a summary table;
with a second run (`tuilab compare`, Setup's recent runs), its curves overlaid and a Compare tab.

A chart is redrawn only when its tab is shown, on `r`, on a resize, or at most once a
second while the run is still moving, and only if the state changed since it was drawn
(and then only its rows that changed, see widgets/chart.py).
"""

from __future__ import annotations

import math

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static, TabbedContent, TabPane

from tuilab.engine.summary import RunSummary
from tuilab.format import SUMMARY_COLUMNS, fmt_float, lane_name, prediction_words, summary_rows
from tuilab.ui.state import AXES, RunState
from tuilab.ui.widgets.chart import Chart, Line, Style, set_axis
from tuilab.ui.widgets.lab_charts import batch_size_chart, branch_chart, has_adaptive, slice_chart
from tuilab.ui.widgets.run_charts import b_simple_chart, loss_chart, noise_chart

__all__ = ["Chart", "PlotsScreen"]  # Chart lives in widgets/chart.py; tests reach it from here too


class PlotsScreen(Screen):
    BINDINGS = [
        Binding("x", "cycle_axis", "X axis"),
        Binding("l", "toggle_log", "Log"),
        Binding("r", "redraw", "Redraw"),
        Binding("escape", "app.pop_screen", "Back"),
    ]

    def __init__(self, state: RunState, x_axis: str = "epochs", other: RunState | None = None,
                 tab: str | None = None) -> None:
        """`other`: a second run to compare, overlaid on the charts and set beside this one in a Compare tab;
        `tab`: the tab to open on."""
        super().__init__()
        self.first_tab = tab
        self.state = state
        self.other = other
        self.x_axis = x_axis
        self.log_scale = False
        self.drawn: dict[str, tuple] = {}  # tab id -> (revision, axis, log) it was drawn at

    def compose(self) -> ComposeResult:
        with TabbedContent(id="plot-tabs", initial=self.first_tab or ""):
            with TabPane("Loss", id="loss"):
                yield Chart(id="loss-plot")
            with TabPane("Noise vs B", id="noise"):
                yield Chart(id="noise-plot")
            with TabPane("Noise scale", id="bsimple"):
                yield Chart(id="bsimple-plot")
            with TabPane("Samples/s", id="speed"):
                yield Chart(id="speed-plot")
            live = self.state.finished is None  # a live run's lanes can still finish and branch
            if live or any(r.landscape for r in self.state.record.lanes.values()):
                with TabPane("Loss slice", id="slice"):
                    yield Chart(id="slice-plot")
            if has_adaptive(self.state):
                with TabPane("Batch size", id="batch"):
                    yield Chart(id="batch-plot")
            if live or self.state.record.branches:
                with TabPane("Branches", id="branch"):
                    yield Chart(id="branch-plot")
            with TabPane("Summary", id="summary"):
                yield Static(id="summary-caption")
                yield DataTable(id="summary-table", zebra_stripes=True, cursor_type="row")
            if self.other is not None:
                from tuilab.ui.screens.compare import CompareView

                with TabPane("Compare", id="compare"):
                    yield CompareView(self.state, self.other)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns(*SUMMARY_COLUMNS)
        self.redraw()
        self.set_interval(1.0, self.redraw)

    def on_tabbed_content_tab_activated(self) -> None:
        self.redraw()

    def action_cycle_axis(self) -> None:
        self.x_axis = AXES[(AXES.index(self.x_axis) + 1) % len(AXES)]
        self.redraw()

    def action_toggle_log(self) -> None:
        self.log_scale = not self.log_scale
        self.redraw()

    def action_redraw(self) -> None:
        self.drawn.clear()
        self.redraw()

    def redraw(self) -> None:
        """Draw the visible tab if what it shows has changed since it was drawn."""
        tab = self.query_one(TabbedContent).active
        key = (self.state.revision, self.x_axis, self.log_scale)
        if not tab or self.drawn.get(tab) == key:
            return
        self.drawn[tab] = key
        if tab == "summary":
            self.draw_table()
            return
        if tab == "compare":
            return  # two finished runs: drawn once, when mounted
        draw = {"loss": self.draw_loss, "noise": self.draw_noise, "bsimple": self.draw_b_simple,
                "speed": self.draw_speed, "slice": self.draw_slice, "batch": self.draw_batch_size,
                "branch": self.draw_branches}[tab]
        self.query_one(f"#{tab}-plot", Chart).show(draw)

    def draw_loss(self, plt, style: Style, size: tuple[int, int]) -> list[Line]:
        title = f"train loss (lines) and test loss (dots) against {self.x_axis}  (x: axis · l: log)"
        return loss_chart(self.state, self.x_axis, self.log_scale, self.other, title=title)(plt, style, size)

    def draw_noise(self, plt, style: Style, size: tuple[int, int]) -> list[Line]:
        return noise_chart(self.state, self.other, formula=True)(plt, style, size)

    def draw_b_simple(self, plt, style: Style, size: tuple[int, int]) -> list[Line]:
        """b_simple = tr_sigma/|G|^2 of each lane over training (McCandlish et al.'s critical batch size estimate)."""
        return b_simple_chart(self.state, self.x_axis, self.summary().b_crit, self.other)(plt, style, size)

    def draw_slice(self, plt, style: Style, size: tuple[int, int]) -> list[Line]:
        return slice_chart(self.state, self.summary(), self.log_scale)(plt, style, size)

    def draw_batch_size(self, plt, style: Style, size: tuple[int, int]) -> list[Line]:
        return batch_size_chart(self.state, self.x_axis)(plt, style, size)

    def draw_branches(self, plt, style: Style, size: tuple[int, int]) -> list[Line]:
        return branch_chart(self.state, self.log_scale)(plt, style, size)

    def draw_speed(self, plt, style: Style, size: tuple[int, int]) -> list[Line]:
        lanes = [r for r in self.state.record.lanes.values() if r.samples_per_s() and math.isfinite(r.samples_per_s())]
        if lanes:
            plt.bar([lane_name(r.info)[2:] for r in lanes], [r.samples_per_s() for r in lanes],
                    marker="#" if style.ascii else "sd")
            set_axis(plt, "y", [0.0, max(r.samples_per_s() for r in lanes)], False, max(2, size[1] // 4))
        predicted = prediction_words(self.summary())
        plt.title("samples/s against batch size (each lane's own training clock)" + (f" · {predicted}" if predicted else ""))
        plt.xlabel("batch size B")
        return []

    def summary(self) -> RunSummary:
        """The run's summary: the final one, or while live the same computation on what came so far."""
        fin = self.state.finished
        # While live, the same target as the final summary: the preset's target_loss if it has one.
        return fin.summary if fin and fin.summary else self.state.record.summary(self.state.experiment)

    def draw_table(self) -> None:
        summary = self.summary()
        table = self.query_one("#summary-table", DataTable)
        table.clear()
        table.add_rows(summary_rows(summary))
        target = (f"target train loss {fmt_float(summary.target_loss)} ({summary.target_rule})"
                  if summary.target_loss is not None else "no target loss yet: it needs lanes that learned")
        rec = summary.recommendation
        answer = f"{rec.headline} " if rec and rec.headline else ""
        self.call_after_refresh(self._caption, answer + target + "; the target: columns say where each lane reached it")

    def _caption(self, text: str) -> None:
        """The table's caption; at 80 columns the table is wider than the screen, so it says how to see the rest."""
        table = self.query_one("#summary-table", DataTable)
        wide = table.virtual_size.width > table.size.width > 0
        self.query_one("#summary-caption", Static).update(text + (" · ←/→ scroll the columns" if wide else ""))
