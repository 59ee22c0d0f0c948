"""The Run screen: every lane side by side, drawn from the app's RunState.

The app bumps `revision` after folding a batch of events into the state; the
watchers below redraw from the state. Nothing here runs on the worker thread.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer, Label, ProgressBar, Static

from tuilab.format import fmt_duration, fmt_float
from tuilab.ui.state import AXES, RunState
from tuilab.ui.widgets.lane_row import ColumnHeads, LaneRow


def y_range(series: dict[int, list]) -> tuple[float, float]:
    vals = [v for data in series.values() for v in data if v is not None]
    return (min(vals), max(vals)) if vals else (0.0, 1.0)


class RunScreen(Screen):
    """Lanes, overall progress and the answer at the end. `watching`: the run is another process's."""

    BINDINGS = [
        Binding("space", "pause", "Pause/resume"),
        Binding("c", "cancel", "Cancel"),
        Binding("x", "cycle_axis", "X axis"),
        Binding("l", "toggle_log", "Log"),
        Binding("p", "plots", "Plots"),
        Binding("question_mark", "app.help", "Help"),
        Binding("escape,q", "leave", "Back"),
    ]

    x_axis: reactive[str] = reactive("epochs")
    log_scale: reactive[bool] = reactive(False)
    revision: reactive[int] = reactive(0)
    paused: reactive[bool] = reactive(False)

    def __init__(self, state: RunState, title: str, watching: bool = False) -> None:
        super().__init__()
        self.state = state
        self.title_text = title
        self.watching = watching
        self.rows = {i: LaneRow(i) for i in state.record.lanes}

    def compose(self) -> ComposeResult:
        with Horizontal(id="run-header"):
            yield Label(self.title_text, id="run-title")
            yield ProgressBar(total=1.0, show_eta=False, id="overall")
            yield Label("", id="time-left")
        yield ColumnHeads(id="columns")
        with VerticalScroll(id="lanes"):
            yield from self.rows.values()
        yield Static("", id="slope-line")
        yield Static("", id="notes")
        yield Static("", id="result")
        yield Footer()

    def on_mount(self) -> None:
        self.redraw()
        self.set_interval(1.0, self._tick)  # time left moves even between reports

    def _tick(self) -> None:
        self.query_one("#time-left", Label).update(self._time_left_text())

    def watch_revision(self) -> None:
        self.redraw()

    def watch_x_axis(self) -> None:
        self.redraw()

    def watch_log_scale(self) -> None:
        self.redraw()

    def watch_paused(self) -> None:
        self.redraw()

    def action_cycle_axis(self) -> None:
        self.x_axis = AXES[(AXES.index(self.x_axis) + 1) % len(AXES)]

    def action_toggle_log(self) -> None:
        self.log_scale = not self.log_scale

    def action_plots(self) -> None:
        from tuilab.ui.screens.plots import PlotsScreen

        self.app.push_screen(PlotsScreen(self.state, self.x_axis))

    def action_pause(self) -> None:
        self.app.toggle_pause()

    def action_cancel(self) -> None:
        self.app.cancel_run()

    def action_leave(self) -> None:
        self.app.leave_run()

    def check_action(self, action: str, parameters) -> bool | None:
        # Pause and cancel belong to the process that trains; a watcher only looks.
        if action in ("pause", "cancel"):
            return not self.watching and not self.state.finished
        return True

    def _time_left_text(self) -> str:
        fin = self.state.finished
        if fin:
            return f"{'stopped' if fin.interrupted else 'done'} in {fmt_duration(fin.wall_seconds)}"
        if self.paused:
            return "paused"
        left = self.state.time_left()
        return f"{fmt_duration(left)} left" if left is not None else "estimating…"

    def redraw(self) -> None:
        if not self.is_mounted:
            return
        st = self.state
        self.query_one("#overall", ProgressBar).update(progress=st.progress())
        self.query_one("#time-left", Label).update(self._time_left_text())
        self.query_one(ColumnHeads).set_axis(self.x_axis, self.log_scale)
        losses = st.sparklines(self.x_axis, "train_loss", self.log_scale)
        noises = st.sparklines(self.x_axis, "noise", self.log_scale)
        loss_range, noise_range = y_range(losses), y_range(noises)
        for i, row in self.rows.items():
            row.show(st.record.lanes[i], st.lane_progress(i))
            row.loss.data, row.loss.y_range = losses.get(i, []), loss_range
            row.noise.data, row.noise.y_range = noises.get(i, []), noise_range
        self.query_one("#slope-line", Static).update(self._slope_text())
        self.query_one("#notes", Static).update(self._notes_text())
        self.query_one("#result", Static).update(self._result_text())
        self.set_class(st.finished is not None, "-finished")
        self.refresh_bindings()

    def _slope_text(self) -> str:
        parts = []
        for sl in self.state.record.slopes:
            if sl.slope is not None:
                parts.append(f"noise ∝ B^{sl.slope:.2f} ± {sl.stderr or 0:.2f} ({sl.at})")
        init = next((sl for sl in self.state.record.slopes if sl.at == "init"), None)
        if init and init.b_simple is not None:
            parts.append(f"b_simple ≈ {fmt_float(init.b_simple)}")
        parts.append(f"x: {self.x_axis}{' · log' if self.log_scale else ''}")
        return " · ".join(parts)

    def _notes_text(self) -> str:
        st = self.state
        lines = list(st.started.notices) if st.started else []
        lines += [f"B={r.info.batch_size}: {r.reason}" for r in st.record.lanes.values() if r.reason]
        lines += st.warnings
        return "\n".join(lines)

    def _result_text(self) -> str:
        fin = self.state.finished
        if fin is None:
            return ""
        head = "Cancelled: what was measured is kept" if fin.interrupted else "Finished"
        text = fin.summary.get("recommendation", {}).get("text") or ""
        return f"{head} · run dir {self.state.run_dir}\n{text}".rstrip()
