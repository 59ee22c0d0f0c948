"""Number formatting shared by the headless printer and the TUI: short, honest, no NaN."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the TUI imports this module before anything of the engine
    from tuilab.engine.events import LaneInfo
    from tuilab.engine.summary import LaneSummary, RunSummary


def fmt_float(x: float | None, digits: int = 3) -> str:
    """3 significant digits; '—' when there is no value."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "—"
    if x != 0 and (abs(x) >= 1e5 or abs(x) < 1e-3):
        return f"{x:.{digits - 1}e}"
    return f"{x:.{digits}g}"


def fmt_count(x: float | None) -> str:
    """12, 3.4k, 1.2M: counts and rates at a glance."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "—"
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= scale:
            v = x / scale
            return f"{v:.3g}{unit}" if v < 100 else f"{v:.0f}{unit}"
    return f"{x:.3g}" if isinstance(x, float) and x != int(x) else f"{int(x)}"


def fmt_duration(seconds: float | None) -> str:
    """0:12, 3:04, 1:02:03."""
    if seconds is None or not math.isfinite(seconds):
        return "—"
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def lane_name(lane: LaneInfo | LaneSummary) -> str:
    """'B=32' or 'B=32 linear' from a LaneInfo or a LaneSummary."""
    return f"B={lane.batch_size}" + (f" {lane.label}" if lane.label else "")


SUMMARY_COLUMNS = ("B", "lr", "status", "train loss", "test loss", "acc", "noise", "b_simple", "samples/s",
                   "steps", "target: steps", "examples", "seconds")
BEST_MARK = " *"  # after the lane that stands for its batch size when several lrs ran


def lane_verdict(ln: LaneSummary) -> str:
    """'finished', 'unstable', 'undertrained', 'out of memory': the status, or what the curve showed."""
    return "unstable" if ln.unstable else "undertrained" if ln.undertrained else ln.status.text


def summary_rows(summary: RunSummary) -> list[tuple[str, ...]]:
    """One row of SUMMARY_COLUMNS per lane of a run summary: the headless table and the Plots table."""
    rows = []
    for ln in summary.lanes:
        tt = ln.to_target
        acc = ln.final_test_accuracy
        mark = BEST_MARK if summary.lr_tuned and ln.best_of_batch_size else ""
        rows.append((lane_name(ln) + mark, fmt_float(ln.lr), lane_verdict(ln), fmt_float(ln.final_train_loss),
                     fmt_float(ln.final_test_loss), "—" if acc is None else f"{acc:.1%}",
                     fmt_float(ln.noise), fmt_float(ln.b_simple), fmt_count(ln.samples_per_s),
                     fmt_count(ln.steps), fmt_count(tt and round(tt.steps)), fmt_count(tt and round(tt.examples)),
                     fmt_float(tt and tt.seconds)))
    return rows


def prediction_words(summary: RunSummary) -> str:
    """'goodput predicts B=128 (φ≈96) · measured fastest B=128: held', or '' without a prediction."""
    if summary.predicted_batch_size is None:
        return ""
    words = f"goodput predicts B={summary.predicted_batch_size} (φ≈{fmt_float(summary.noise_scale)})"
    rec = summary.recommendation
    if summary.pilot or rec is None or rec.fastest_batch_size is None:
        return words + (" · pilot: a full run checks it" if summary.pilot else " · not checked")
    verdict = "held" if summary.prediction_held else "did not hold"
    return f"{words} · measured fastest B={rec.fastest_batch_size}: {verdict}"
