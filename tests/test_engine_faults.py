"""Faults inside the engine: an exception in a lane fails that lane, one outside any lane fails the run.

Either way the run ends with RunFinished, the reason is the exception's last line,
and the traceback lands in the run directory's errors.log; nothing propagates.
Also: a stop during the final noise slope, and a loss of exactly 0.0 picking the best lane.
"""

from __future__ import annotations

from tuilab.engine import run as run_module
from tuilab.engine.control import Control
from tuilab.engine.events import LaneFailed, LaneFinished, LaneProgress, NoiseSlope, RunFinished
from tuilab.engine.faults import fail_safe
from tuilab.engine.record import RunRecord
from tuilab.engine.run import prepare, run_plan
from tuilab.engine.store import ERRORS, RunStore, read_summary, run_status
from tuilab.presets import Experiment, experiment_from_dict


def _exp(**over) -> Experiment:
    base = {"name": "fault", "device": "cpu", "seed": 0, "batch_sizes": [8, 32],
            "dataset": {"name": "linreg", "n": 400, "dim": 4},
            "optimizer": {"lr": 0.02}, "budget": {"unit": "epochs", "amount": 0.5},
            "measure": {"every": 0.25, "probe_examples": 16, "reference_examples": 64, "slope_draws": 4}}
    return experiment_from_dict(base | over)


def _run(tmp_path, exp, control=None, fault_hook=None, safe=False):
    """Run through the store as the drivers do (`safe`: behind fail_safe, as `tuilab run` and the app)."""
    store = RunStore.create(tmp_path, exp)
    plan = prepare(exp)
    plan.set_run_dir(store.path)
    events = []
    stream = run_plan(plan, control, fault_hook=fault_hook)
    for ev in fail_safe(stream, exp) if safe else stream:
        store.write(ev)
        events.append(ev)
    store.close()
    return events, store.path


def test_an_exception_while_training_fails_only_that_lane(tmp_path):
    def hook(lane):
        if lane.batch_size0 == 32 and lane.step >= 2:
            raise ValueError("bad shape")

    events, run_dir = _run(tmp_path, _exp(), fault_hook=hook)
    failed = [e for e in events if isinstance(e, LaneFailed)]
    assert [(e.lane, e.status, e.reason) for e in failed] == [(1, "error", "ValueError: bad shape")]
    assert "Traceback" in failed[0].traceback and "bad shape" in failed[0].traceback
    summary = read_summary(run_dir)
    assert [ln["status"] for ln in summary["lanes"]] == ["finished", "error"]
    assert summary["status"] == "finished" and run_status(run_dir) == "finished"
    log = (run_dir / ERRORS).read_text()
    assert "lane 1 (B=32)" in log and "raise ValueError" in log


def test_an_exception_while_measuring_fails_only_that_lane(monkeypatch):
    plan = prepare(_exp())
    real = run_module.evaluate
    lane0 = plan.lanes[0]

    def flaky(model, *a, **kw):
        if model is lane0.model and lane0.step > 0:
            raise RuntimeError("mat1 and mat2 shapes cannot be multiplied (4x3 and 4x1)")
        return real(model, *a, **kw)

    monkeypatch.setattr(run_module, "evaluate", flaky)
    events = list(run_plan(plan))
    failed = [e for e in events if isinstance(e, LaneFailed)]
    assert [(e.lane, e.status) for e in failed] == [(0, "error")]
    assert failed[0].reason == "RuntimeError: mat1 and mat2 shapes cannot be multiplied (4x3 and 4x1)"
    assert [ln.status for ln in events[-1].summary.lanes] == ["error", "finished"]


def test_an_exception_outside_any_lane_fails_the_run(monkeypatch, tmp_path):
    def broken(*a, **kw):
        raise KeyError("points")

    monkeypatch.setattr(run_module, "measure_noise_slope", broken)
    events, run_dir = _run(tmp_path, _exp(), safe=True)
    assert [e.status for e in events if isinstance(e, LaneFinished)] == ["cancelled", "cancelled"]
    end = events[-1]
    assert isinstance(end, RunFinished) and end.error == "KeyError: 'points'"
    assert "Traceback" in end.traceback
    assert read_summary(run_dir)["status"] == "failed" and run_status(run_dir) == "failed"
    assert read_summary(run_dir)["error"] == "KeyError: 'points'"
    assert "the run" in (run_dir / ERRORS).read_text()


def test_a_stop_during_the_final_noise_slope_ends_it_and_the_run_reads_interrupted(monkeypatch):
    control = Control()
    real = run_module.measure_noise_slope

    def final_slope_with_quit(*a, at="init", **kw):
        if at.startswith("end of"):
            control.stop.set()  # the user quits while the final slope is being measured
        return real(*a, at=at, **kw)

    monkeypatch.setattr(run_module, "measure_noise_slope", final_slope_with_quit)
    events = list(run_plan(prepare(_exp()), control))
    end_slope = [e for e in events if isinstance(e, NoiseSlope) and e.at.startswith("end of")]
    assert end_slope and end_slope[0].slope is None and "stopped" in end_slope[0].note
    assert events[-1].interrupted, "a quit during the final slope is an interrupted run"


def test_a_loss_of_exactly_zero_is_the_best_not_the_worst(monkeypatch):
    plan = prepare(_exp(batch_sizes=[8, 32, 64]))
    record = RunRecord()
    record.apply(plan.started)
    for lane, loss in ((0, 0.25), (1, 0.0), (2, 0.5)):
        plan.lanes[lane].status = "finished"
        record.apply(LaneProgress(lane, 1, 8, 0.1, 0.1, 1.0, 8, 0.1, loss, loss, None, None, 1.0))
        record.apply(LaneFinished(lane, "finished", 1, 8, 0.1))
    picked = []

    def slope(p, lane, at, seed, noise_stats, should_stop=None):
        picked.append((lane.index, at))

    monkeypatch.setattr(run_module, "measure_slope", slope)
    run_module._final_slope(plan, record, lambda ln: None)
    assert picked == [(1, "end of B=32")]
