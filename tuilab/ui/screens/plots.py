"""The Plots screen: loss curves, noise against B, samples/s against B, and a summary table.

plotext redraws a whole chart on every refresh (~10 KB at 120x20), so a chart is
redrawn only when its tab is shown, on `r`, on a resize, or at most once a second
while the run is still moving, and only if the state changed since it was drawn.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, TabbedContent, TabPane
from textual_plotext import PlotextPlot

from tuilab.engine.summary import RunSummary
from tuilab.format import SUMMARY_COLUMNS, lane_name, prediction_words, summary_rows
from tuilab.ui.state import AXES, RunState
from tuilab.ui.terminal import ascii_only


def markers() -> tuple[str, str]:
    return ("*", "+") if ascii_only() else ("braille", "dot")


LANE_COLOURS = ("cyan+", "orange+", "green+", "magenta+", "yellow+", "blue+", "red+", "white")


def headroom(plt, ys: list[float], log: bool, legend_rows: int) -> None:
    """Raise the y limit so the legend, which plotext draws over the top-left of the
    plot, covers empty space instead of the curves' first (highest) points."""
    ys = [y for y in ys if y is not None and math.isfinite(y) and (y > 0 or not log)]
    if not ys:
        return
    share = min(0.6, (legend_rows + 1) / 24)  # of the plot's height, on a ~24-row chart
    lo, hi = min(ys), max(ys)
    if log:
        top = hi * (hi / lo) ** (share / (1 - share)) if hi > lo else hi * 10
        plt.ylim(math.log10(lo / 1.05), math.log10(top))  # on a log axis plotext takes log10 limits
    else:
        span = (hi - lo) or abs(hi) or 1.0
        plt.ylim(lo - 0.02 * span, hi + span * share / (1 - share))


class Chart(PlotextPlot):
    """A plotext chart whose data are laid down afresh at every render, and that never raises.

    plotext's build() takes log10 of the data *in place*: a second build of the same
    data (any resize) took the log of the logs, drew nonsense, then raised a math
    domain error that ended the app. So `show(draw)` keeps the function that lays
    the data down, and each render clears the figure and calls it again.
    """

    MIN_SIZE = (16, 6)  # columns, rows: below this there is no room for axes and a curve

    def __init__(self, id: str) -> None:
        super().__init__(id=id)
        self._draw: Callable | None = None

    def show(self, draw: Callable) -> None:
        """Draw with `draw(plt)` now and at every later render (a resize)."""
        self._draw = draw
        self.refresh()

    def render(self) -> Text:
        return self.canvas(self.size.width, self.size.height)

    def canvas(self, width: int, height: int) -> Text:
        """The chart at width x height, or one line saying why there is none."""
        if width < self.MIN_SIZE[0] or height < self.MIN_SIZE[1]:
            return Text("(too small for a chart)", style="dim")
        plt = self.plt
        plt.clear_figure()
        if self._draw is not None:
            self._draw(plt)
        try:
            return super().render()
        except Exception as e:  # plotext fails in many ways at its limits: a chart must not end the app
            return Text(f"(cannot draw this chart at {width}x{height}: {e})", style="dim")


def drawable(xs: list[float], ys: list[float], log: bool) -> tuple[list[float], list[float]]:
    """The points an axis can show: finite, and y > 0 on a log axis."""
    kept = [(x, y) for x, y in zip(xs, ys, strict=True)
            if math.isfinite(x) and math.isfinite(y) and (y > 0 or not log)]
    return [x for x, _ in kept], [y for _, y in kept]


def fitted_line(points, slope: float) -> list[float]:
    """noise = c * B^slope with c fitted by least squares in log space, at the points' B."""
    logs = [math.log(p.measured) - slope * math.log(p.batch_size) for p in points if p.measured > 0]
    c = math.exp(sum(logs) / len(logs)) if logs else 1.0
    return [c * p.batch_size ** slope for p in points]


class PlotsScreen(Screen):
    BINDINGS = [
        Binding("x", "cycle_axis", "X axis"),
        Binding("l", "toggle_log", "Log"),
        Binding("r", "redraw", "Redraw"),
        Binding("escape", "app.pop_screen", "Back"),
    ]

    def __init__(self, state: RunState, x_axis: str = "epochs") -> None:
        super().__init__()
        self.state = state
        self.x_axis = x_axis
        self.log_scale = False
        self.drawn: dict[str, tuple] = {}  # tab id -> (revision, axis, log) it was drawn at

    def compose(self) -> ComposeResult:
        with TabbedContent(id="plot-tabs"):
            with TabPane("Loss", id="loss"):
                yield Chart(id="loss-plot")
            with TabPane("Noise vs B", id="noise"):
                yield Chart(id="noise-plot")
            with TabPane("Noise scale", id="bsimple"):
                yield Chart(id="bsimple-plot")
            with TabPane("Samples/s", id="speed"):
                yield Chart(id="speed-plot")
            with TabPane("Summary", id="summary"):
                yield DataTable(id="summary-table", zebra_stripes=True, cursor_type="row")
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
        draw = {"loss": self.draw_loss, "noise": self.draw_noise, "bsimple": self.draw_b_simple,
                "speed": self.draw_speed}[tab]
        self.query_one(f"#{tab}-plot", Chart).show(draw)

    def draw_loss(self, plt) -> None:
        train_marker, test_marker = markers()
        all_ys, labels = [], 0
        for i, series in self.state.series.items():
            name = lane_name(self.state.record.lanes[i].info)
            colour = LANE_COLOURS[i % len(LANE_COLOURS)]  # one colour a lane: train line, test dots
            for field, marker, label in (("train_loss", train_marker, name), ("test_loss", test_marker, f"{name} test")):
                xs, ys = drawable(*series.curve(self.x_axis, field), self.log_scale)
                if xs:
                    plt.plot(xs, ys, marker=marker, label=label, color=colour)
                    all_ys += ys
                    labels += 1
        plt.xscale("linear")
        plt.yscale("log" if self.log_scale and all_ys else "linear")  # plotext cannot scale an empty log axis
        headroom(plt, all_ys, self.log_scale, labels)
        plt.title(f"train and test loss against {self.x_axis}  (x: axis · l: log)")
        plt.xlabel(self.x_axis)

    def draw_noise(self, plt) -> None:
        marker, _ = markers()
        titles, all_ys, labels, measured = [], [], 0, []
        for sl in self.state.record.slopes:
            pts = [p for p in sl.points if p.measured > 0 and math.isfinite(p.measured)]
            if not pts:
                continue
            bs = [p.batch_size for p in pts]
            pred = [(p.batch_size, p.predicted) for p in pts if p.predicted and p.predicted > 0]
            if pred:
                plt.plot([b for b, _ in pred], [v for _, v in pred], marker=marker, label=f"formula ({sl.at})")
                all_ys += [v for _, v in pred]
                labels += 1
            fit = drawable(bs, fitted_line(pts, sl.slope), True) if sl.slope is not None else ([], [])
            if fit[0]:
                plt.plot(*fit, marker=marker, label=f"fit B^{sl.slope:.2f} ({sl.at})")
                titles.append(f"{sl.at}: B^{sl.slope:.2f} ± {sl.stderr or 0:.2f}")
                labels += 1
            measured.append((sl.at, bs, [p.measured for p in pts]))
            all_ys += [p.measured for p in pts]
        for at, bs, ys in measured:  # last, so the lines never hide the measured points
            plt.scatter(bs, ys, marker="O" if ascii_only() else "●", label=f"measured ({at})")
            labels += 1
        plt.xscale("log" if all_ys else "linear")
        plt.yscale("log" if all_ys else "linear")
        headroom(plt, all_ys, True, labels)
        plt.title("noise ‖g_B−G‖/‖G‖ against B (log-log; theory slope −0.5)  " + " · ".join(titles))
        plt.xlabel("batch size B")

    def draw_b_simple(self, plt) -> None:
        """b_simple = tr_sigma/|G|^2 of each lane over training (McCandlish et al.'s critical batch size estimate)."""
        marker, _ = markers()
        all_ys, labels = [], 0
        for i, series in self.state.series.items():
            xs, ys = drawable(*series.curve(self.x_axis, "b_simple"), True)
            if xs:
                plt.plot(xs, ys, marker=marker,
                         label=lane_name(self.state.record.lanes[i].info), color=LANE_COLOURS[i % len(LANE_COLOURS)])
                all_ys += ys
                labels += 1
        plt.xscale("linear")
        plt.yscale("log" if all_ys else "linear")
        headroom(plt, all_ys, True, labels)
        b_crit = self.summary().b_crit
        fitted = f" · fitted from steps to target: B_crit ≈ {b_crit:.3g}" if b_crit else ""
        plt.title(f"gradient noise scale b_simple = tr(Σ)/|G|² against {self.x_axis} (log){fitted}")
        plt.xlabel(self.x_axis)

    def draw_speed(self, plt) -> None:
        lanes = [r for r in self.state.record.lanes.values() if r.samples_per_s() and math.isfinite(r.samples_per_s())]
        if lanes:
            plt.bar([lane_name(r.info)[2:] for r in lanes], [r.samples_per_s() for r in lanes],
                    marker="#" if ascii_only() else "sd")
        plt.xscale("linear")
        plt.yscale("linear")
        predicted = prediction_words(self.summary())
        plt.title("samples/s against batch size (each lane's own training clock)" + (f" · {predicted}" if predicted else ""))
        plt.xlabel("batch size B")

    def summary(self) -> RunSummary:
        """The run's summary: the final one, or while live the same computation on what came so far."""
        fin = self.state.finished
        # While live, the same target as the final summary: the preset's target_loss if it has one.
        return fin.summary if fin and fin.summary else self.state.record.summary(self.state.experiment)

    def draw_table(self) -> None:
        table = self.query_one(DataTable)
        table.clear()
        table.add_rows(summary_rows(self.summary()))
