"""Two runs side by side: what differs in their presets, and their answers and lanes row by row.

Pure functions over the presets and the typed summaries; the Plots screen's
Compare tab (tuilab/ui/screens/compare.py) shows them.
"""

from __future__ import annotations

from dataclasses import dataclass

from tuilab.engine.summary import LaneSummary, RunSummary
from tuilab.format import fmt_count, fmt_duration, fmt_float, lane_name, lane_verdict
from tuilab.presets import Experiment


@dataclass(frozen=True)
class Row:
    """One line of the comparison: what, run 1's value, run 2's, and whether they differ."""

    what: str
    first: str
    second: str

    @property
    def differs(self) -> bool:
        return self.first != self.second


def _flat(data: object, prefix: str = "") -> dict[str, str]:
    """{'optimizer.lr': '0.1', ...}: every leaf of a preset's fields, as text."""
    if isinstance(data, dict):
        out: dict[str, str] = {}
        for k, v in data.items():
            out.update(_flat(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: str(data)}


def preset_differences(first: Experiment | None, second: Experiment | None) -> list[Row]:
    """Every preset field whose value differs between the two runs ('—' where one lacks it); name and description aside."""
    a = _flat(first.model_dump(mode="json")) if first is not None else {}
    b = _flat(second.model_dump(mode="json")) if second is not None else {}
    keys = [k for k in dict.fromkeys([*a, *b]) if k not in ("name", "description")]
    return [Row(k, a.get(k, "—"), b.get(k, "—")) for k in keys if a.get(k, "—") != b.get(k, "—")]


def _answer(s: RunSummary | None) -> dict[str, str]:
    if s is None:
        return {}
    rec = s.recommendation
    return {
        "recommended B": "—" if rec is None or rec.batch_size is None else f"{rec.batch_size} (lr {fmt_float(rec.lr)})",
        "noise slope": fmt_float(s.noise_slope),
        "b_simple at init": fmt_float(s.b_simple),
        "B_crit (steps to target)": fmt_float(s.b_crit),
        "target train loss": fmt_float(s.target_loss),
        "wall time": fmt_duration(s.wall_seconds),
    }


def _lane(ln: LaneSummary) -> dict[str, str]:
    tt, acc = ln.to_target, ln.final_test_accuracy
    return {"status": lane_verdict(ln), "train loss": fmt_float(ln.final_train_loss),
            "test loss": fmt_float(ln.final_test_loss), "acc": "—" if acc is None else f"{acc:.1%}",
            "samples/s": fmt_count(ln.samples_per_s), "to target": "—" if tt is None else f"{fmt_float(tt.seconds)} s"}


def summary_rows(first: RunSummary | None, second: RunSummary | None) -> list[Row]:
    """The answers, then every lane (by name, in either run) metric by metric: run 1 against run 2."""
    a, b = _answer(first), _answer(second)
    rows = [Row(k, a.get(k, "—"), b.get(k, "—")) for k in dict.fromkeys([*a, *b])]
    lanes_a = {lane_name(ln): _lane(ln) for ln in (first.lanes if first else ())}
    lanes_b = {lane_name(ln): _lane(ln) for ln in (second.lanes if second else ())}
    for name in dict.fromkeys([*lanes_a, *lanes_b]):
        la, lb = lanes_a.get(name, {}), lanes_b.get(name, {})
        rows += [Row(f"{name} {k}", la.get(k, "—"), lb.get(k, "—")) for k in dict.fromkeys([*la, *lb])]
    return rows
