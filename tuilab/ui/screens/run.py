"""The Run screen: every lane side by side, drawn from the app's RunState, and live charts below.

The app bumps `revision` after folding a batch of events into the state (at
most ~4 times a second, see worker.Batcher); the screen then redraws, at most
every MIN_REDRAW seconds, and only the cells whose text changed. Training shares
the GIL with this thread, so every millisecond spent here is taken from it.
Nothing here runs on the worker thread.
"""

from __future__ import annotations

import time

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.reactive import var
from textual.screen import Screen
from textual.widgets import Footer, Static

from tuilab.engine.record import RunRecord
from tuilab.engine.summary import LaneStatus
from tuilab.format import fmt_duration, fmt_float, lane_name
from tuilab.ui.state import AXES, RunState
from tuilab.ui.widgets.lane_row import Cell, ColumnHeads, LaneRow, text_bar
from tuilab.ui.widgets.live_charts import LiveCharts
from tuilab.ui.widgets.title import TitleCell

WIDE = 100  # columns from which the footer has room for b Branch
MIN_REDRAW = 0.25  # seconds between redraws, however often events arrive
UNIT_TEXT = {"epochs": "epoch {x:.1f}/{amount:g}", "steps": "step {x:.0f}/{amount:g}",
             "seconds": "{x:.0f}/{amount:g} s"}


def y_range(series: dict[int, list]) -> tuple[float, float]:
    vals = [v for data in series.values() for v in data if v is not None]
    return (min(vals), max(vals)) if vals else (0.0, 1.0)


def row_order(record: RunRecord) -> list[int]:
    """Lanes in their order; with an lr grid, each batch size's lanes together under it."""
    lanes = record.lanes
    if any(r.info.lr_index is not None for r in lanes.values()):
        return sorted(lanes, key=lambda i: (lanes[i].info.batch_size, i))
    return list(lanes)


class RunScreen(Screen):
    """Lanes, overall progress and the answer at the end. `watching`: the run is another process's."""

    # The selected lane (↑/↓, only while this process trains the run) is the one `b` branches.
    DEFAULT_CSS = """
    RunScreen .lane.-selected { background: $boost; }
    RunScreen .lane.-selected > .b { text-style: reverse; }
    """

    # Short words: every key, esc and ^q included, fits the footer at 80 columns.
    BINDINGS = [
        Binding("space", "pause", "Pause"),
        Binding("c", "cancel", "Cancel"),
        Binding("b", "branch", "Branch"),  # in the footer from WIDE columns: at 80 every other key fills it
        Binding("b", "branch_narrow", "Branch", show=False),
        Binding("up", "select(-1)", "Lane up", show=False, priority=True),
        Binding("down", "select(1)", "Lane down", show=False, priority=True),
        Binding("x", "cycle_axis", "Axis"),
        Binding("l", "toggle_log", "Log"),
        Binding("p", "plots", "Plots"),
        Binding("v", "switch_chart", "Chart"),  # only while the live charts are folded into one
        Binding("e", "export_csv", "CSV"),
        Binding("question_mark", "app.help", "Help"),
        Binding("escape", "leave", "Back"),
        Binding("escape", "leave_watch", "Quit"),  # in `tuilab watch` escape quits: the footer says so
    ]

    # `var`, not `reactive`: a reactive on a Screen repaints the whole screen when it
    # changes (~10 KB at 120x40); redraw() repaints only the cells that changed.
    x_axis: var[str] = var("epochs")
    log_scale: var[bool] = var(False)
    revision: var[int] = var(0)
    paused: var[bool] = var(False)

    def __init__(self, state: RunState, title: str | tuple[str, ...], watching: bool = False) -> None:
        """`title`: its parts (name, data set, model, ..., device), fitted to the width with the device kept."""
        super().__init__()
        self.state = state
        self.title_parts = (title,) if isinstance(title, str) else tuple(title)
        self.watching = watching
        order = row_order(state.record)
        self.rows = {i: LaneRow(i) for i in order}
        self.selected = order[0] if order else None  # the lane `b` branches
        size = {i: r.info.batch_size for i, r in state.record.lanes.items()}
        self.first_of_group = {i: k == 0 or size[order[k - 1]] != size[i] for k, i in enumerate(order)}
        # Kept here, not queried: a redraw while the screen is torn down finds nothing missing.
        self.header = TitleCell(self.title_parts, id="run-title")
        self.budget, self.overall, self.time_left = Cell(id="budget"), Cell(id="overall"), Cell(id="time-left")
        self.columns = ColumnHeads(id="columns")
        self.slope_line, self.notes, self.result = Static(id="slope-line"), Static(id="notes"), Static(id="result")
        self.result.border_title = "Recommendation"
        self.charts = LiveCharts(state)
        self._last_redraw = 0.0
        self._redraw_due = False
        self._drawn: tuple | None = None
        self._was_finished: bool | None = None
        self._texts: dict[str | None, str] = {}

    def compose(self) -> ComposeResult:
        with Horizontal(id="run-header"):
            yield from (self.header, self.budget, self.overall, self.time_left)
        yield self.columns
        with VerticalScroll(id="lanes"):
            yield from self.rows.values()
        yield from (self.slope_line, self.notes, self.result, self.charts)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.redraw()
        self.set_interval(1.0, self._tick)  # time left moves even between reports

    def _tick(self) -> None:
        if self._alive():
            self.time_left.show(self._time_left_text())

    def watch_revision(self) -> None:
        self.schedule_redraw()

    def watch_x_axis(self) -> None:
        self.redraw()

    def watch_log_scale(self) -> None:
        self.redraw()

    def watch_paused(self) -> None:
        self.redraw()

    def schedule_redraw(self) -> None:
        """Redraw now, or once MIN_REDRAW has passed since the last redraw (never more often)."""
        wait = self._last_redraw + MIN_REDRAW - time.monotonic()
        if wait <= 0 or self.state.finished:
            self.redraw()
        elif not self._redraw_due:
            self._redraw_due = True
            self.set_timer(wait, self.redraw)

    def action_cycle_axis(self) -> None:
        self.x_axis = AXES[(AXES.index(self.x_axis) + 1) % len(AXES)]

    def action_toggle_log(self) -> None:
        self.log_scale = not self.log_scale

    def action_plots(self) -> None:
        from tuilab.ui.screens.plots import PlotsScreen

        self.app.push_screen(PlotsScreen(self.state, self.x_axis))

    def action_switch_chart(self) -> None:
        self.charts.switch()

    def action_export_csv(self) -> None:
        self.app.export_csv()

    def action_pause(self) -> None:
        self.app.toggle_pause()

    def action_select(self, step: int) -> None:
        """Move the selection to the lane row `step` rows down (up when negative)."""
        order = list(self.rows)
        if self.selected is None or not self.branchable():
            return
        self.selected = order[max(0, min(len(order) - 1, order.index(self.selected) + step))]
        self._show_selection()
        self.rows[self.selected].scroll_visible()

    def action_branch(self) -> None:
        """Fork the selected lane at 2B, 4B and 8B at its next report (engine/branch.py)."""
        if self.selected is None:
            return
        rec = self.state.record.lanes[self.selected]
        if rec.status != LaneStatus.RUNNING:
            self.app.notify(f"{lane_name(rec.info)} is {LaneStatus(rec.status).text}: only a training lane "
                            f"can be branched (↑/↓ select a lane)", severity="warning")
            return
        self.app.request_branch(self.selected)

    action_branch_narrow = action_branch

    def branchable(self) -> bool:
        """This process trains the run and it has not ended: lanes can be selected and branched."""
        return not self.watching and not self.state.finished

    def _show_selection(self) -> None:
        on = self.branchable()
        for i, row in self.rows.items():
            row.set_class(on and i == self.selected, "-selected")

    def action_cancel(self) -> None:
        self.app.cancel_run()

    def action_leave(self) -> None:
        self.app.leave_run()

    action_leave_watch = action_leave  # app.leave_run quits a watcher

    def check_action(self, action: str, parameters) -> bool | None:
        # Pause and cancel belong to the process that trains; a watcher only looks.
        if action in ("pause", "cancel", "select"):
            return self.branchable()
        if action in ("branch", "branch_narrow"):  # one of the two b bindings, by the width
            return self.branchable() and (self.app.size.width >= WIDE) == (action == "branch")
        if action == "switch_chart":
            return self.charts.folded
        if action in ("leave", "leave_watch"):  # one of the two escape bindings, so the footer is true
            return self.watching == (action == "leave_watch")
        return True

    def _alive(self) -> bool:
        """Mounted and not being torn down (quit, leave, a new run): only then draw."""
        return self.is_mounted and self.is_attached and not (self._closing or self._closed)

    def _time_left_text(self) -> str:
        fin = self.state.finished
        if fin:
            return f"{'stopped' if fin.interrupted else 'done'} in {fmt_duration(fin.wall_seconds)}"
        if self.paused:
            return "paused"
        left = self.state.time_left()
        return f"{fmt_duration(left)} left" if left is not None else "estimating…"

    def redraw(self) -> None:
        self._redraw_due = False
        if not self._alive():
            return
        st = self.state
        key = (st.revision, self.x_axis, self.log_scale, self.paused)
        if key == self._drawn:
            return
        self._drawn = key
        self._last_redraw = time.monotonic()
        p = st.progress()
        bar_width = 12 if self.app.size.width < 100 else 20
        self.overall.show(f"{text_bar(p, bar_width)} {p:4.0%}")
        self.budget.show(self._budget_text(p))
        self.time_left.show(self._time_left_text())
        self.columns.set_axis(self.x_axis, self.log_scale)
        losses = st.sparklines(self.x_axis, "train_loss", self.log_scale)
        noises = st.sparklines(self.x_axis, "noise", self.log_scale)
        loss_range, noise_range = y_range(losses), y_range(noises)
        best = self._best_lanes()
        for i, row in self.rows.items():
            row.show(st.record.lanes[i], st.lane_progress(i), self.paused, i in best, self.first_of_group[i])
            row.loss.data, row.loss.y_range = losses.get(i, []), loss_range
            row.noise.data, row.noise.y_range = noises.get(i, []), noise_range
        self.charts.update_view(self.x_axis, self.log_scale)
        self._update(self.slope_line, self._slope_text())
        self._update(self.notes, self._notes_text())
        finished = st.finished is not None
        if finished != self._was_finished:  # bindings (pause, cancel) change only when the run ends
            self._was_finished = finished
            self.result.update(self._result_text())
            self.set_class(finished, "-finished")
            self._show_selection()
            self.refresh_bindings()

    def _best_lanes(self) -> set[int]:
        """With an lr grid, once the run is over: the lane that stands for each batch size."""
        fin = self.state.finished
        if fin is None or fin.summary is None or not fin.summary.lr_tuned:
            return set()
        return {ln.lane for ln in fin.summary.lanes if ln.best_of_batch_size}

    def _update(self, widget: Static, text: str) -> None:
        """Update a multi-line Static only when its text changed (an update costs a layout pass)."""
        if self._texts.get(widget.id) != text:
            self._texts[widget.id] = text
            widget.update(text)

    def on_resize(self) -> None:
        self._drawn = None  # the bar's width follows the terminal's
        self.redraw()
        self.refresh_bindings()  # b Branch joins the footer from WIDE columns

    def _budget_text(self, progress: float) -> str:
        s = self.state.started
        if s is None:
            return ""
        return UNIT_TEXT[s.budget_unit].format(x=progress * s.budget_amount, amount=s.budget_amount)

    def _slope_text(self) -> str:
        fits = [f"B^{sl.slope:.2f} ± {sl.stderr or 0:.2f} at {sl.at}" for sl in self.state.record.slopes
                if sl.slope is not None]
        parts = [f"noise ∝ {', '.join(fits)} (theory B^−0.5)"] if fits else []
        init = next((sl for sl in self.state.record.slopes if sl.at == "init"), None)
        if init and init.b_simple is not None:
            parts.append(f"b_simple ≈ {fmt_float(init.b_simple)}")
        measuring = self.state.record.measure_seconds()  # what the lab's instruments cost
        if measuring > 0:
            trained = sum(r.seconds for r in self.state.record.lanes.values())
            parts.append(f"measuring {measuring / (measuring + trained):.0%} ({fmt_duration(measuring)})")
        parts.append(f"x: {self.x_axis}{' · log' if self.log_scale else ''}")
        return " · ".join(parts)

    def _notes_text(self) -> str:
        st = self.state
        lines = list(st.started.notices) if st.started else []
        lines += [f"{lane_name(r.info)}: {r.reason}" for r in st.record.lanes.values() if r.reason]
        lines += st.warnings
        return "\n".join(lines)

    def _result_text(self) -> Text:
        fin = self.state.finished
        if fin is None:
            return Text("")
        rec = fin.summary.recommendation if fin.summary else None
        text = rec.text if rec else ""
        took = fmt_duration(fin.wall_seconds)
        head = f"Cancelled after {took}: what was measured is kept" if fin.interrupted else f"Finished in {took}"
        return Text.assemble((text, "bold"), "\n" if text else "",
                             (f"{head} · run dir {self.state.run_dir} · p: plots and summary table", "dim"))
