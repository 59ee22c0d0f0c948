"""What the lab's charts show, drawn from a RunState: the lines of each chart, for a Chart to lay out.

The Run screen's live charts and the Plots screen draw the same functions, and a
compared run (`other`) is overlaid in each lane's colour with another marker.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from tuilab.format import lane_name
from tuilab.ui.state import AXIS_FIELD, RunState
from tuilab.ui.widgets.chart import Draw, Line, Style, lane_colour, lay_out

SLOPE_COLOURS = (201, 45, 118, 220)  # the noise slopes measured at init and later checkpoints
THEORY_COLOUR = 245
FORMULA_COLOUR = 141
OTHER_TAG = "run 2"  # a compared run's lines say so in the legend
PER = {"epochs": "epoch", "steps": "step", "seconds": "second"}


def _runs(state: RunState, other: RunState | None) -> list[tuple[RunState, bool]]:
    return [(state, False)] + ([(other, True)] if other is not None else [])


def loss_lines(state: RunState, axis: str, style: Style, other: RunState | None = None,
               test: bool = True) -> list[Line]:
    """Each lane's train loss (and test loss as dots) against the axis; a compared run's after."""
    lines = []
    for run, is_other in _runs(state, other):
        tag = f" {OTHER_TAG}" if is_other else ""
        for k, (i, series) in enumerate(run.series.items()):
            name, colour = lane_name(run.record.lanes[i].info), lane_colour(k)
            lines.append(Line(*series.curve(axis, "train_loss"), colour, name + tag, style.marker(k, is_other)))
            if test:
                lines.append(Line(*series.curve(axis, "test_loss"), colour, "",  # the title names the dots
                                  "." if style.plain or style.ascii else "dot", scatter=True))
    return lines


def projected_end(state: RunState, axis: str) -> float | None:
    """Where a live run's lanes will end on `axis`: the budget in its own unit, else the furthest
    lane's projection (x / progress). The live chart's x axis reaches there from the start, so it
    does not rescale, and repaint every row, at each report."""
    s = state.started
    if s is None or state.finished is not None:
        return None
    if s.budget_unit == axis:
        return s.budget_amount
    ends = [getattr(p, AXIS_FIELD[axis]) / p.progress
            for series in state.series.values() for p in series.points[-1:] if p.progress > 0.05]
    return max(ends) if ends else None


def loss_chart(state: RunState, axis: str, log: bool, other: RunState | None = None, test: bool = True,
               title: str | None = None, live: bool = False) -> Draw:
    """Draw function of the loss chart (train loss, test loss as dots) against `axis`; `live`: the
    x axis reaches the run's projected end."""
    def draw(plt, style: Style, size: tuple[int, int]) -> list[Line]:
        head = title if title is not None else f"loss against {axis}{' (log)' if log else ''}"
        end = projected_end(state, axis) if live else None
        return lay_out(plt, loss_lines(state, axis, style, other, test), False, log, head, axis, size,
                       x_span=[end] if end else ())

    return draw


def theory_line(bs: Sequence[int], ys: Sequence[float]) -> tuple[list[float], list[float]]:
    """c * B^-1/2 through the geometric mean of the measured points (B, y), over their range of B."""
    logs = [math.log(y) + 0.5 * math.log(b) for b, y in zip(bs, ys, strict=True) if y > 0 and b > 0]
    if not logs:
        return [], []
    c = math.exp(sum(logs) / len(logs))
    return [float(min(bs)), float(max(bs))], [c * min(bs) ** -0.5, c * max(bs) ** -0.5]


def fitted_line(bs: Sequence[int], ys: Sequence[float], slope: float) -> list[float]:
    """noise = c * B^slope with c fitted by least squares in log space, at the points' B."""
    logs = [math.log(y) - slope * math.log(b) for b, y in zip(bs, ys, strict=True) if y > 0]
    c = math.exp(sum(logs) / len(logs)) if logs else 1.0
    return [c * b ** slope for b in bs]


def noise_lines(state: RunState, style: Style, other: RunState | None = None, formula: bool = False) -> list[Line]:
    """Measured noise against B of every slope so far, their fits, the −½ line and each lane's noise now.

    Curves first, points last: a curve drawn later would hide the measured points.
    """
    curves: list[Line] = []
    points: list[Line] = []
    line_marker = "-" if style.plain or style.ascii else "braille"
    for run, is_other in _runs(state, other):
        tag = f" {OTHER_TAG}" if is_other else ""
        last: tuple[list[int], list[float]] = ([], [])
        for k, sl in enumerate(run.record.slopes):
            pts = [p for p in sl.points if math.isfinite(p.measured) and p.measured > 0]
            if not pts:
                continue
            colour = SLOPE_COLOURS[k % len(SLOPE_COLOURS)]
            bs, ys = [p.batch_size for p in pts], [p.measured for p in pts]
            last = (bs, ys)
            if formula:
                pred = [(p.batch_size, p.predicted) for p in pts if p.predicted]
                curves.append(Line([b for b, _ in pred], [v for _, v in pred], FORMULA_COLOUR,
                                   f"formula ({sl.at}){tag}", ":" if style.plain or style.ascii else "dot"))
            if sl.slope is not None and math.isfinite(sl.slope):
                curves.append(Line(bs, fitted_line(bs, ys, sl.slope), colour, f"fit B^{sl.slope:.2f} ({sl.at}){tag}",
                                   line_marker))
            points.append(Line(bs, ys, colour, f"measured ({sl.at}){tag}",
                               "@&$%"[k % 4] if style.plain else style.point(), scatter=True))
        if not is_other and last[0]:
            curves.append(Line(*theory_line(*last), THEORY_COLOUR, "B^-1/2 (theory)",
                               "." if style.plain or style.ascii else "dot"))
        for k, series in enumerate(run.series.values()):  # where each lane is now (unlabelled: its colour says)
            now = next(((p.batch_size, p.noise) for p in reversed(series.points) if p.noise), None)
            if now is not None:
                marker = style.marker(k, is_other) if style.plain or style.ascii else "●" if not is_other else "○"
                points.append(Line([now[0]], [now[1]], lane_colour(k), "", marker, scatter=True))
    return curves + points


def noise_chart(state: RunState, other: RunState | None = None, formula: bool = False, title_hint: str = "") -> Draw:
    """Draw function of noise against B, log-log; ticks on the run's batch sizes; `title_hint` ends the title."""
    def draw(plt, style: Style, size: tuple[int, int]) -> list[Line]:
        lines = noise_lines(state, style, other, formula)
        sizes = sorted({b for ln in lines for b in ln.xs})
        fits = [f"B^{sl.slope:.2f}±{sl.stderr or 0:.2f} ({sl.at})" for sl in state.record.slopes
                if sl.slope is not None and math.isfinite(sl.slope)]
        title = "noise ‖g_B−G‖/‖G‖ against B" + (f": {', '.join(fits)}" if fits else "") + title_hint
        if len(title) > size[0] - 2:  # plotext drops a title that does not fit; the legend has the fits
            title = "noise ‖g_B−G‖/‖G‖ against B (log-log)" + title_hint
        return lay_out(plt, lines, True, True, title, "batch size B (lanes now: dots in their colour)", size, sizes)

    return draw


def b_simple_chart(state: RunState, axis: str, b_crit: float | None, other: RunState | None = None) -> Draw:
    """Draw function of each lane's gradient noise scale b_simple against `axis` (log y)."""
    def draw(plt, style: Style, size: tuple[int, int]) -> list[Line]:
        lines = [Line(*series.curve(axis, "b_simple"), lane_colour(k),
                      lane_name(run.record.lanes[i].info) + (f" {OTHER_TAG}" if is_other else ""),
                      style.marker(k, is_other))
                 for run, is_other in _runs(state, other) for k, (i, series) in enumerate(run.series.items())]
        fitted = f" · from steps to target: B_crit ≈ {b_crit:.3g}" if b_crit else ""
        return lay_out(plt, lines, False, True, f"noise scale b_simple = tr(Σ)/|G|² (log){fitted}", axis, size)

    return draw
