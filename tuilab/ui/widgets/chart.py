"""A plotext chart that never raises, with axes that read at a glance and its legend below the plot.

Every chart of the lab (the Run screen's live charts and the Plots screen's tabs)
is a Chart fed a list of Lines by a function. `lay_out` is the one place that
decides the axes: limits that end near the data (a log axis too), ticks on round
numbers in the tables' short form ("385k", "0.05"), and a legend as lines of
text under the plot, never over the curves. Without colour (NO_COLOR, the Linux
console, --ascii) each lane gets its own marker character, named in the legend.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rich.text import Text
from textual.geometry import Region
from textual_plotext import PlotextPlot

from tuilab.format import fmt_count
from tuilab.ui.terminal import ascii_only

# 256-colour codes: plotext takes them as they are, rich as color(N) for the legend.
LANE_COLOURS = (14, 214, 10, 13, 11, 12, 9, 15)
PLAIN_MARKERS = "ox*+#%@&"  # one a lane when colour cannot tell lanes apart
OTHER_MARKERS = "OX.=~$^?"  # a compared run's lanes, without colour


@dataclass(frozen=True)
class Line:
    """One series: points (drawn as a curve, or as separate points with `scatter`), its colour and label."""

    xs: Sequence[float]
    ys: Sequence[float]
    colour: int
    label: str
    marker: str = "braille"  # plotext's marker name, or one character
    scatter: bool = False


@dataclass(frozen=True)
class Style:
    """How a chart may draw: `plain` when colour cannot tell series apart (each then gets a character)."""

    plain: bool = False
    ascii: bool = False

    def marker(self, index: int, other_run: bool = False) -> str:
        """The marker of the index-th series; a compared run's lanes are drawn in another one."""
        if self.plain or self.ascii:
            chars = OTHER_MARKERS if other_run else PLAIN_MARKERS
            return chars[index % len(chars)]
        return "dot" if other_run else "braille"

    def point(self) -> str:
        return "O" if self.ascii else "●"


def lane_colour(index: int) -> int:
    return LANE_COLOURS[index % len(LANE_COLOURS)]


def drawable(xs: Sequence[float], ys: Sequence[float], xlog: bool, ylog: bool) -> tuple[list[float], list[float]]:
    """The points an axis can show: finite, and > 0 on a log axis."""
    kept = [(float(x), float(y)) for x, y in zip(xs, ys, strict=True)
            if math.isfinite(x) and math.isfinite(y) and (x > 0 or not xlog) and (y > 0 or not ylog)]
    return [x for x, _ in kept], [y for _, y in kept]


def nice_step(span: float, count: int) -> float:
    """A round step (1, 2, 2.5 or 5 times a power of ten) giving about `count` intervals over span."""
    raw = span / max(1, count)
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)


def ticks(lo: float, hi: float, log: bool, count: int) -> list[float]:
    """Round tick values within [lo, hi]: 1-2-5 per decade on a log axis that spans one, else evenly stepped."""
    count = max(2, count)
    if log and hi / lo >= 3:
        decades = range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)
        for mantissas in ((1, 2, 3, 5), (1, 2, 5), (1, 3), (1,)):
            found = [m * 10.0**d for d in decades for m in mantissas if lo <= m * 10.0**d <= hi * (1 + 1e-9)]
            if len(found) <= count:
                break
        if len(found) > count:  # many decades: every k-th power of ten
            found = found[:: math.ceil(len(found) / count)]
        if len(found) >= 2:
            return found
    if hi <= lo:
        return [lo]
    step = nice_step(hi - lo, count)
    first = math.ceil(lo / step - 1e-9)
    return [k * step for k in range(first, math.floor(hi / step + 1e-9) + 1)]


def round_limits(lo: float, hi: float, log: bool, count: int) -> tuple[float, float]:
    """The axis ends: the data's range widened to round numbers (a 1-2-5 value on a log axis, half a tick
    step on a linear one), so the axis ends near the data and stays put while new points arrive within it."""
    if log:
        if hi <= lo:
            lo, hi = lo / 1.5, hi * 1.5
        steps = [m * 10.0**d for d in range(math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 2)
                 for m in (1, 2, 5)]
        return max(v for v in steps if v <= lo * (1 + 1e-9)), min(v for v in steps if v >= hi * (1 - 1e-9))
    if hi <= lo:
        half = abs(lo) * 0.5 or 1.0
        lo, hi = lo - half, hi + half
    step = nice_step(hi - lo, 2 * count)
    return math.floor(lo / step + 1e-9) * step, math.ceil(hi / step - 1e-9) * step


def tick_label(v: float) -> str:
    """Short like the tables: 385k, 1.5, 0.05 (no float noise such as 0.30000000000000004)."""
    return fmt_count(round(v, 12) if v != int(v) else int(v))


def set_axis(plt, side: str, values: list[float], log: bool, count: int, at: Sequence[float] = ()) -> None:
    """Scale, limits and ticks of one axis ('x' or 'y') from the values drawn on it.

    Ticks go on round numbers, or on the values `at` (batch sizes, say) that fall in range;
    with `at`, the axis ends a sliver beyond the data instead of on round numbers.
    """
    getattr(plt, f"{side}scale")("log" if log and values else "linear")
    if not values:
        return
    found = [v for v in at if min(values) <= v <= max(values)]
    if found:
        pad = (max(values) / min(values)) ** 0.03 if log else (max(values) - min(values)) * 0.03
        lo, hi = (min(values) / pad, max(values) * pad) if log else (min(values) - pad, max(values) + pad)
        found = found[:: math.ceil(len(found) / count)]
    else:
        lo, hi = round_limits(min(values), max(values), log, count)
        found = ticks(lo, hi, log, count)
    # On a log axis plotext takes its limits as log10, its ticks as data values.
    getattr(plt, f"{side}lim")(*((math.log10(lo), math.log10(hi)) if log else (lo, hi)))
    getattr(plt, f"{side}ticks")(found, [tick_label(v) for v in found])


def lay_out(plt, lines: Sequence[Line], xlog: bool, ylog: bool, title: str = "", xlabel: str = "",
            size: tuple[int, int] = (80, 24), x_at: Sequence[float] = (), x_span: Sequence[float] = ()) -> list[Line]:
    """Draw `lines` on plt with the axes this module promises; returns the lines drawn (the legend's).

    `x_at`: x values to put the ticks on (e.g. the batch sizes) instead of round numbers;
    `x_span`: x values the axis must reach beyond the data (a live run's projected end).
    """
    drawn, all_x, all_y = [], [], []
    for line in lines:
        xs, ys = drawable(line.xs, line.ys, xlog, ylog)
        if not xs:
            continue
        if line.scatter:
            plt.scatter(xs, ys, marker=line.marker, color=line.colour)
        else:
            plt.plot(xs, ys, marker=line.marker, color=line.colour)
        drawn.append(line)
        all_x += xs
        all_y += ys
    width, height = size
    # About a tick every 14 columns and every 3 rows of the plot (title, axis, labels and legend take ~6):
    # closer, plotext rounds ticks onto rows unevenly.
    set_axis(plt, "x", all_x + list(x_span) if all_x else [], xlog, max(2, width // 14), x_at)
    set_axis(plt, "y", all_y, ylog, max(2, (height - 6) // 3))
    if title:
        plt.title(title)
    if xlabel:
        plt.xlabel(xlabel)
    return drawn


def legend_lines(lines: Sequence[Line], width: int) -> list[Text]:
    """The legend as rows of '<marker> label' entries that fit `width`, in each line's colour."""
    rows: list[Text] = []
    row = Text()
    for line in (ln for ln in lines if ln.label):  # unlabelled lines are named by the title
        sample = line.marker if len(line.marker) == 1 else ("●" if line.scatter else "━━")
        entry = Text.assemble((sample, f"color({line.colour})"), " ", line.label)
        if row.plain and len(row.plain) + 3 + len(entry.plain) > width:
            rows.append(row)
            row = Text()
        if row.plain:
            row.append("   ")
        row.append_text(entry)
    if row.plain:
        rows.append(row)
    return rows


Draw = Callable[[object, Style, tuple[int, int]], list[Line]]


class Chart(PlotextPlot):
    """A chart whose data are laid down afresh at every render, that never raises.

    plotext's build() takes log10 of the data *in place*: a second build of the same
    data (any resize) took the log of the logs, drew nonsense, then raised a math
    domain error that ended the app. So `show(draw)` keeps the function that lays
    the data down, and each render clears the figure and calls it again:
    `draw(plt, style, (width, height))` returns the lines it drew, for the legend.
    """

    MIN_SIZE = (16, 6)  # columns, rows: below this there is no room for axes and a curve

    def __init__(self, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._draw: Draw | None = None
        self._shown: tuple[tuple[int, int], list[Text]] | None = None  # the size and rows last drawn

    def show(self, draw: Draw) -> None:
        """Draw with `draw` now and at every later render (a resize).

        Only the rows that differ from what is on the terminal are repainted: a whole
        chart is a few KB, a new point at the end of the curves changes a few rows.
        """
        self._draw = draw
        size = (self.size.width, self.size.height)
        if not self.is_mounted or self._shown is None or self._shown[0] != size:
            self._shown = None
            self.refresh()
            return
        rows, old = self.canvas(*size).split("\n"), self._shown[1]
        self._shown = (size, rows)
        changed = [y for y in range(size[1]) if (rows[y] if y < len(rows) else None) != (old[y] if y < len(old) else None)]
        if changed:
            self.refresh(*(Region(0, y, size[0], 1) for y in changed))

    def render(self) -> Text:
        size = (self.size.width, self.size.height)
        if self._shown is None or self._shown[0] != size:  # first draw, or a resize
            self._shown = (size, self.canvas(*size).split("\n"))
        return Text("\n").join(self._shown[1])

    def style_now(self) -> Style:
        return Style(plain=bool(self.app.no_color) or ascii_only(), ascii=ascii_only())

    def canvas(self, width: int, height: int) -> Text:
        """The chart at width x height with its legend below, or one line saying why there is none."""
        if width < self.MIN_SIZE[0] or height < self.MIN_SIZE[1]:
            return Text("(too small for a chart)", style="dim")
        plt = self.plt
        plt.clear_figure()
        try:
            drawn = self._draw(plt, self.style_now(), (width, height)) if self._draw is not None else []
            legend = legend_lines(drawn, width)[: max(0, height - self.MIN_SIZE[1])]
            plt.plotsize(width, height - len(legend))
            plt._set_size(width, height - len(legend))  # textual-plotext does both: resizes need it
            plt.theme(self._get_plotext_theme_name(self.app.theme))
            text = Text.from_ansi(plt.build().rstrip("\n"), no_wrap=True)
        except Exception as e:  # plotext fails in many ways at its limits: a chart must not end the app
            return Text(f"(cannot draw this chart at {width}x{height}: {e})", style="dim")
        for row in legend:
            text.append("\n")
            text.append_text(row)
        return text
