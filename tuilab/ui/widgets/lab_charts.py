"""Charts of what a run measured beyond its curves: each lane's loss slice at its final weights,
the adaptive lane's batch size over training, and a branch point's arms beside their parent.

Draw functions for a Chart (widgets/chart.py), as in run_charts.py.
"""

from __future__ import annotations

from tuilab.engine.events import BranchMeasured
from tuilab.engine.summary import RunSummary
from tuilab.format import fmt_float, lane_name
from tuilab.ui.state import RunState
from tuilab.ui.widgets.chart import Draw, Line, Style, lane_colour, lay_out


def sharpness_words(summary: RunSummary, lane: int) -> str:
    """'λmax 12.3 · gap 0.004' for a lane of the summary ('λmax ≈' where power iteration did not converge)."""
    ln = next((x for x in summary.lanes if x.lane == lane), None)
    if ln is None:
        return ""
    parts = []
    if ln.sharpness is not None:
        parts.append(f"λmax {'' if ln.sharpness_converged else '≈'}{fmt_float(ln.sharpness)}")
    if ln.generalization_gap is not None:
        parts.append(f"gap {fmt_float(ln.generalization_gap)}")
    return " · ".join(parts)


def slice_chart(state: RunState, summary: RunSummary, log: bool) -> Draw:
    """Each finished lane's train loss along its random filter-normalised direction (α = 0: its final
    weights); the legend gives its sharpness and generalization gap."""
    def draw(plt, style: Style, size: tuple[int, int]) -> list[Line]:
        lines = []
        for k, (i, rec) in enumerate(state.record.lanes.items()):
            land = rec.landscape
            if land is None or not land.slice_alphas:
                continue
            words = sharpness_words(summary, i)
            lines.append(Line(land.slice_alphas, land.slice_losses, lane_colour(k),
                              lane_name(rec.info) + (f": {words}" if words else ""), style.marker(k)))
        title = ("train loss along a random filter-normalised direction, α = 0 at each lane's final weights"
                 if lines else "no loss slice yet: each lane's is measured when it finishes")
        return lay_out(plt, lines, False, log, title, "α (filter-normalised step)", size)

    return draw


def has_adaptive(state: RunState) -> bool:
    """Whether the run has a lane whose batch size grows with the noise scale."""
    return state.started is not None and any(li.adaptive for li in state.started.lanes)


def batch_size_chart(state: RunState, axis: str) -> Draw:
    """Each adaptive lane's batch size against `axis` (log y), with the noise scale it follows as dots."""
    def draw(plt, style: Style, size: tuple[int, int]) -> list[Line]:
        lines = []
        for k, (i, series) in enumerate(state.series.items()):
            info = state.record.lanes[i].info
            if not info.adaptive:
                continue
            lines.append(Line(*series.curve(axis, "batch_size"), lane_colour(k), f"{lane_name(info)} batch size",
                              style.marker(k)))
            lines.append(Line(*series.curve(axis, "b_simple"), lane_colour(k), "noise scale b_simple",
                              "." if style.plain or style.ascii else "dot", scatter=True))
        return lay_out(plt, lines, False, True, "adaptive lane: batch size over training (log)", axis, size)

    return draw


def branch_title(br: BranchMeasured) -> str:
    """'critical batch size 64 (B=128 fell behind) · b_simple 80' for one branch point."""
    if br.critical_batch_size is None:
        words = br.note or "no critical batch size measured"
    else:
        words = f"critical batch size {br.critical_batch_size}" + (
            f" (B={br.first_behind} fell behind)" if br.first_behind else " (every branch kept pace)")
    return words + (f" · b_simple {fmt_float(br.b_simple)}" if br.b_simple else "")


def branch_chart(state: RunState, log: bool) -> Draw:
    """The latest branch point: each arm's train loss against examples since the fork, the parent's
    own continuation (factor 1) among them; an arm keeps pace while its loss stays near the parent's."""
    def draw(plt, style: Style, size: tuple[int, int]) -> list[Line]:
        branches = state.record.branches
        if not branches:
            return lay_out(plt, [], False, log, "no branches yet: select a lane on the Run screen and press b",
                           "examples since the branch point", size)
        br = branches[-1]
        lines = []
        for k, arm in enumerate(br.arms):
            verdict = "parent" if arm.keeps_pace is None else "kept pace" if arm.keeps_pace else "fell behind"
            lines.append(Line(arm.examples, arm.losses, lane_colour(k), f"B={arm.batch_size} {verdict}",
                              style.marker(k)))
        info = state.record.lanes[br.lane].info
        unit = state.started.budget_unit if state.started else ""
        more = f" (latest of {len(branches)})" if len(branches) > 1 else ""
        head = f"branch of {lane_name(info)} at {br.at:.3g} {unit}{more}: {branch_title(br)}"
        return lay_out(plt, lines, False, log, head, "examples since the branch point", size)

    return draw
