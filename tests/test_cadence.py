"""The measurement budget: deterministic, within its share by the cost model, and timed in the summary."""

from __future__ import annotations

import time

import pytest

import tuilab.engine.run as run_module
from tuilab.engine.cadence import RATE, CostModel, cost_model
from tuilab.engine.events import LaneLandscape, LaneProgress, NoiseSlope, RunFinished
from tuilab.engine.run import prepare, run, run_plan
from tuilab.presets import experiment_from_dict


def _exp(**measure):
    return experiment_from_dict({
        "name": "cadence", "device": "cpu", "seed": 1, "batch_sizes": [4, 64],
        "dataset": {"name": "moons", "n": 600}, "model": {"kind": "mlp", "hidden": [16]},
        "budget": {"unit": "epochs", "amount": 2},
        "measure": {"every": 0.1, "probe_examples": 32, "slope_draws": 4, **measure}})


def _reports(exp) -> list[tuple]:
    return [(e.lane, e.step, e.tr_sigma is not None) for e in run(exp) if isinstance(e, LaneProgress)]


def test_the_cadence_is_the_same_run_after_run_and_skips_reports_within_the_share():
    first = _reports(_exp())
    assert first == _reports(_exp())  # decided from counts: no timer in it
    every = _reports(_exp(share=1.0))
    assert sum(r[0] == 0 for r in every) == 21  # share = 1: the start and every 0.1 epoch (B=4)
    assert len(first) < len(every)
    for lane in (0, 1):  # every lane keeps its first and last report, with noise
        mine = [r for r in first if r[0] == lane]
        assert mine[0][1] == 0 and mine[0][2] and mine[-1][2]
        assert mine[-1][1] == max(r[1] for r in every if r[0] == lane)


def test_each_lane_stays_within_its_allowance_by_the_cost_model():
    plan = prepare(_exp())
    runner = run_module._Runner(plan, run_module.Control(), None)
    cad = runner.cadence
    share = cad.share(0.5, 0.0)
    assert 0.02 <= share <= 0.07  # the default target less the fixed part, never below the floor
    for lane in plan.lanes:  # walk a lane through its marks as the run loop would
        marks = 20
        for k in range(1, marks):
            f = k / marks
            own = cad.model.train(f * 2 * 480 / lane.batch_size0, f * 2 * 480)
            cad.plan(lane.index, f, own, last=False)
            assert cad.spent.get(lane.index, 0.0) <= share * f * cad.lane_cost_at_end + 1e-12


def test_the_cost_model_counts_an_mlps_matrix_work():
    plan = prepare(_exp())
    m = cost_model(plan.lanes[0].model, plan.x_probe[:1])
    params = 2 * 16 + 16 + 16 * 2 + 2  # moons: 2 inputs, 16 hidden, 2 classes
    assert m.params == params == sum(p.numel() for p in plan.lanes[0].model.parameters())
    # The counter finds 2 (2*16 + 16*2) = 128 FLOPs of products; 2 x parameters (the biases' adds too) is the floor.
    assert m.example == pytest.approx(2 * params / RATE)
    cm = CostModel(example=1e-6, call=1e-4, params=10)
    assert cm.train(10, 320) == pytest.approx(10 * 1e-4 + 3 * 320 * 1e-6)


def test_measure_and_train_seconds_reach_the_summary(monkeypatch):
    timed = {"evaluate": 0.0}
    real = run_module.evaluate

    def clocked(*a, **k):
        t0 = time.perf_counter()
        try:
            return real(*a, **k)
        finally:
            timed["evaluate"] += time.perf_counter() - t0

    monkeypatch.setattr(run_module, "evaluate", clocked)
    plan = prepare(_exp())
    events = list(run_plan(plan))
    summary = events[-1].summary
    assert isinstance(events[-1], RunFinished)
    assert summary.train_seconds == pytest.approx(sum(ln.seconds for ln in plan.lanes))
    lanes = sum(ln.measure_seconds for ln in summary.lanes)
    slopes = sum(e.seconds for e in events if isinstance(e, NoiseSlope))
    assert summary.measure_seconds == pytest.approx(lanes + slopes)
    surfaces = sum(e.seconds for e in events if isinstance(e, LaneLandscape))
    reports = lanes - surfaces
    assert surfaces > 0 and slopes > 0
    assert timed["evaluate"] <= reports  # the reports' own timing covers every evaluation in them
    last = {e.lane: e for e in events if isinstance(e, LaneProgress)}
    for ln in summary.lanes:
        assert ln.compile == "none"
        assert last[ln.lane].measure_seconds <= ln.measure_seconds


def test_noise_is_measured_between_the_first_and_last_reports_of_a_long_run():
    """Regression: evaluations took every bit of the allowance as it grew, so at the default share
    the noise column had only a lane's first and last points."""
    exp = experiment_from_dict({**_exp().model_dump(), "budget": {"unit": "epochs", "amount": 30},
                                "measure": {**_exp().measure.model_dump(), "every": 0.5}})
    for lane in (0, 1):
        noise = [r[2] for r in _reports(exp) if r[0] == lane]
        assert sum(noise[1:-1]) >= 3, noise
