"""analysis.py: time to target, the steps/examples fit and the recommendation."""

from __future__ import annotations

import math
import random

import pytest

from tuilab.engine.analysis import (
    ScalingFit,
    default_target_loss,
    first_crossing,
    fit_steps_examples,
    recommend,
)


def test_first_crossing_interpolates_between_reports():
    # Loss 1.0 at x=10, 0.2 at x=20: 0.6 is crossed half way.
    assert first_crossing([0, 10, 20, 30], [2.0, 1.0, 0.2, 0.1], 0.6) == pytest.approx(15.0)
    # A quarter of the way: (1.0 - 0.8) / (1.0 - 0.2) = 0.25.
    assert first_crossing([0, 10, 20], [2.0, 1.0, 0.2], 0.8) == pytest.approx(12.5)


def test_first_crossing_first_report_never_and_nan():
    assert first_crossing([5, 10], [0.1, 0.05], 0.5) == 5.0
    assert first_crossing([0, 1, 2], [3.0, 2.0, 1.5], 1.0) is None
    # The first crossing counts, not a later one; a NaN never crosses.
    assert first_crossing([0, 1, 2, 3], [1.0, 0.4, 0.9, 0.1], 0.5) == pytest.approx(0.5 / 0.6)
    assert first_crossing([0, 1, 2], [1.0, math.nan, 0.1], 0.5) == 2.0


def test_default_target_is_reached_by_every_lane():
    curves = [[1.0, 0.5, 0.2], [1.0, 0.8, 0.4], [1.2, math.nan, 0.3]]
    target = default_target_loss(curves)
    assert target == pytest.approx(0.4 * 1.05)
    assert all(first_crossing(range(len(c)), c, target) is not None for c in curves)
    assert default_target_loss([]) is None
    assert default_target_loss([[math.nan]]) is None


def law(s_min, b_crit, bs):
    return [s_min * (1 + b_crit / b) for b in bs]


def test_fit_recovers_exact_law():
    bs = [8, 16, 32, 64, 128, 256, 512]
    fit = fit_steps_examples(bs, law(200.0, 96.0, bs))
    assert fit.s_min == pytest.approx(200.0, rel=1e-8)
    assert fit.b_crit == pytest.approx(96.0, rel=1e-8)
    assert fit.e_min == pytest.approx(200.0 * 96.0, rel=1e-8)
    assert fit.residual == pytest.approx(0.0, abs=1e-8)
    assert fit.n_points == 7


@pytest.mark.parametrize("seed", range(5))
def test_fit_with_five_percent_noise(seed):
    rng = random.Random(seed)
    bs = [8, 16, 32, 64, 128, 256, 512, 1024]
    steps = [s * math.exp(rng.gauss(0, 0.05)) for s in law(300.0, 100.0, bs)]
    fit = fit_steps_examples(bs, steps)
    assert fit.s_min == pytest.approx(300.0, rel=0.15)
    assert fit.b_crit == pytest.approx(100.0, rel=0.15)
    assert 0.01 < fit.residual < 0.1


def test_fit_minimises_squared_log_residuals():
    # The documented criterion: no nearby (S_min, B_crit) has a smaller log-space residual.
    rng = random.Random(7)
    bs = [8, 16, 32, 64, 128, 256, 512, 1024]
    steps = [s * math.exp(rng.gauss(0, 0.1)) for s in law(300.0, 100.0, bs)]
    fit = fit_steps_examples(bs, steps)

    def rms(s_min, b_crit):
        r = [math.log(s / (s_min * (1 + b_crit / b))) for b, s in zip(bs, steps, strict=True)]
        return math.sqrt(sum(x * x for x in r) / len(r))

    assert fit.residual == pytest.approx(rms(fit.s_min, fit.b_crit))
    for ds in (0.99, 1.0, 1.01):
        for db in (0.99, 1.0, 1.01):
            assert rms(fit.s_min * ds, fit.b_crit * db) >= fit.residual - 1e-12


def test_fit_refuses_too_few_points_or_no_positive_b_crit():
    bs = [8, 32, 128, 512]
    # Two lanes never reached the target: only 2 points left.
    assert fit_steps_examples(bs, [900.0, None, 300.0, None]) is None
    # Steps grow with B: no positive critical batch size.
    assert fit_steps_examples(bs, [100.0, 200.0, 400.0, 800.0]) is None


def lane(b, status="finished", seconds=None, examples=None, steps=None, sps=1000.0):
    to_target = None
    if seconds is not None:
        to_target = {
            "seconds": seconds,
            "examples": examples,
            "steps": steps if steps is not None else examples / b,
        }
    return {"batch_size": b, "status": status, "to_target": to_target, "samples_per_s": sps}


def test_recommend_names_fastest_and_fewest_examples():
    lanes = [
        lane(8, seconds=9.0, examples=3000),
        lane(32, seconds=5.0, examples=5000),
        lane(128, seconds=4.1, examples=12000),
        lane(512, seconds=6.0, examples=40000),
    ]
    fit = ScalingFit(s_min=100, e_min=9600, b_crit=96.0, residual=0.02, n_points=4)
    rec = recommend(lanes, 80.0, fit, target=0.3, device="cpu")
    assert rec.fastest_batch_size == 128
    assert rec.fewest_examples_batch_size == 8
    assert rec.critical_batch_size == 96.0
    assert rec.confidence == "high"
    assert "B=128 reached loss 0.3 fastest (4.1 s on cpu)" in rec.text
    assert "B=8 needed the fewest examples" in rec.text
    assert "96" in rec.text and "80" in rec.text


def test_recommend_falls_back_to_b_simple_and_flags_disagreement():
    lanes = [lane(b, seconds=10.0 / b + 1, examples=100 * b) for b in (8, 32, 128)]
    assert recommend(lanes, 80.0, None).critical_batch_size == 80.0
    far = ScalingFit(s_min=100, e_min=100 * 250, b_crit=250.0, residual=0.02, n_points=3)
    rec = recommend(lanes, 80.0, far)
    assert rec.confidence == "medium"
    assert "differ 3x" in rec.text


def test_recommend_does_not_quote_an_extrapolated_critical_batch_size_as_measured():
    lanes = [lane(b, seconds=10.0 / b + 1, examples=100 * b) for b in (8, 32, 128)]
    above = ScalingFit(s_min=1, e_min=121_000, b_crit=121_000.0, residual=0.02, n_points=3)
    rec = recommend(lanes, 80.0, above)
    assert "above the tested range" in rec.text and "B=128" in rec.text
    assert "Past B≈" not in rec.text and rec.confidence == "medium"
    below = ScalingFit(s_min=100, e_min=100, b_crit=1.0, residual=0.02, n_points=3)
    assert "below the tested range: even B=8" in recommend(lanes, None, below).text


def test_recommend_low_confidence_when_one_lane_reached():
    lanes = [lane(8, seconds=9.0, examples=3000), lane(32), lane(128)]
    rec = recommend(lanes, None, None)
    assert rec.fastest_batch_size == rec.fewest_examples_batch_size == 8
    assert rec.confidence == "low"
    assert "only 1 of 3 lanes reached the target" in rec.text


def test_recommend_low_confidence_when_a_lane_failed():
    lanes = [
        lane(8, seconds=9.0, examples=3000),
        lane(32, seconds=5.0, examples=5000),
        lane(128, seconds=4.0, examples=12000),
        lane(512, status="diverged"),
    ]
    rec = recommend(lanes, 50.0, None)
    assert rec.fastest_batch_size == 128
    assert rec.confidence == "low"
    assert "B=512 diverged" in rec.text


def test_recommend_when_no_lane_reached():
    rec = recommend([lane(8), lane(32)], None, None, target=0.1)
    assert rec.fastest_batch_size is None and rec.fewest_examples_batch_size is None
    assert rec.critical_batch_size is None
    assert rec.confidence == "low"
    assert "No lane reached loss 0.1" in rec.text
