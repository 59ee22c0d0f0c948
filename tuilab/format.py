"""Number formatting shared by the headless printer and the TUI: short, honest, no NaN."""

from __future__ import annotations

import math
from typing import Any


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


def lane_name(lane: Any) -> str:
    """'B=32' or 'B=32 linear' from a LaneInfo or a summary lane dict."""
    get = lane.get if isinstance(lane, dict) else lambda k: getattr(lane, k)
    label = get("label")
    return f"B={get('batch_size')}" + (f" {label}" if label else "")


SUMMARY_COLUMNS = ("B", "lr", "status", "train loss", "test loss", "acc", "noise", "b_simple", "samples/s",
                   "steps", "target: steps", "examples", "seconds")


def summary_rows(summary: dict) -> list[tuple[str, ...]]:
    """One row of SUMMARY_COLUMNS per lane of a run summary: the headless table and the Plots table."""
    rows = []
    for ln in summary.get("lanes", []):
        tt = ln.get("to_target") or {}
        acc = ln.get("final_test_accuracy")
        rows.append((lane_name(ln), fmt_float(ln["lr"]), ln["status"], fmt_float(ln["final_train_loss"]),
                     fmt_float(ln["final_test_loss"]), "—" if acc is None else f"{acc:.1%}",
                     fmt_float(ln["noise"]), fmt_float(ln["b_simple"]), fmt_count(ln["samples_per_s"]),
                     fmt_count(ln["steps"]), fmt_count(tt.get("steps")), fmt_count(tt.get("examples")),
                     fmt_float(tt.get("seconds"))))
    return rows
