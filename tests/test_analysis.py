"""analysis.py, curves.py and goodput.py: time to target, the fit, curve verdicts, each batch size's best
lane, the default target and goodput, on numbers whose answer is known by construction."""

from __future__ import annotations

import math
import random

import pytest

from tuilab.engine import curves, goodput
from tuilab.engine.analysis import best_per_batch_size, first_crossing, fit_steps_examples, pick
from tuilab.engine.summary import LaneStatus, LaneSummary, ToTarget


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


def decay(n=21, start=2.3, floor=0.05, tau=3.0):
    return [floor + (start - floor) * math.exp(-k / tau) for k in range(n)]


def test_progress_needs_train_and_test_loss_clearly_below_their_start():
    assert curves.progressed(decay(), decay())
    flat = [2.30 - 0.002 * k for k in range(21)]  # random labels: memorising a little ...
    assert not curves.progressed(flat)
    memorised = decay(start=2.3, floor=1.0)  # ... or a lot, while the test loss rises
    assert not curves.progressed(memorised, [2.3 + 0.01 * k for k in range(21)])
    assert not curves.progressed([2.3])


def test_instability_rose_and_stayed_or_oscillated():
    assert curves.instability(decay()) is None
    rose = decay(n=8) + [0.3, 0.6, 0.8, 0.8, 0.8]
    why = curves.instability(rose)
    assert why.startswith("loss rose from its best") and "0.8" in why
    # A wiggle near zero loss is not instability: 1.5x the best but a sliver of the descent.
    assert curves.instability(decay(floor=0.001) + [0.002]) is None
    zigzag = [2.3, 1.0, 1.6, 0.8, 1.4, 0.6, 1.2, 0.5, 0.55]
    why = curves.instability(zigzag)
    assert why.startswith("loss oscillated: 3 jumps up, 1.8 in all, 100% of its descent")


def test_still_falling_at_the_end():
    assert curves.still_falling(decay()) is None
    line = [2.3 - 0.075 * k for k in range(21)]  # straight down to 0.8: the last fifth fell 0.3 of 1.5
    why = curves.still_falling(line)
    assert why == "still falling: 1.1 to 0.8 over its last fifth"
    assert curves.still_falling(line[:4]) is None


def test_default_target_is_what_the_better_half_reached_but_far_below_the_start():
    # Four batch sizes, best losses 0.05, 0.06, 0.3, 0.9: the better half reached 0.06.
    target, rule = curves.default_target(2.3, [0.9, 0.05, 0.3, 0.06])
    assert target == pytest.approx(0.06 * 1.05)
    assert "better half" in rule
    # The better half barely learned: the target is half way (log) from the start to the best.
    target, rule = curves.default_target(2.3, [0.1, 2.0, 2.1, 2.2])
    assert target == pytest.approx(math.sqrt(2.3 * 0.1))
    assert "half way" in rule
    assert curves.default_target(2.3, []) is None


def summary_lane(lane, b, acc, seconds=None, status=LaneStatus.FINISHED, **kw):
    tt = ToTarget(seconds * b / 100, seconds * 1000, seconds) if seconds is not None else None
    return LaneSummary(lane=lane, label="", batch_size=b, lr=0.1, status=status, final_test_accuracy=acc,
                       to_target=tt, progressed=True, **kw)


def test_pick_prefers_clearly_better_quality_even_when_slowest():
    slow_best = summary_lane(0, 8, 0.99, seconds=9.0)
    fast = summary_lane(1, 128, 0.95, seconds=1.0)
    assert pick([slow_best, fast]) is slow_best


def test_pick_takes_the_fastest_of_equally_good_lanes():
    slow_best = summary_lane(0, 8, 0.990, seconds=9.0)
    fast = summary_lane(1, 128, 0.985, seconds=1.0)  # within 1 point
    never = summary_lane(2, 32, 0.989)  # as good, but never reached the target
    assert pick([slow_best, fast, never]) is fast


def test_best_per_batch_size_skips_unstable_and_failed_lanes():
    lanes = [summary_lane(0, 8, 0.99, seconds=1.0, unstable="loss rose"),
             summary_lane(1, 8, 0.97, seconds=2.0),
             summary_lane(2, 32, 0.98, seconds=2.0, status=LaneStatus.DIVERGED),
             summary_lane(3, 32, 0.90, seconds=3.0, undertrained="still falling")]
    best = best_per_batch_size(lanes)
    assert best[8].lane == 1  # the unstable lane had the better accuracy
    assert best[32].lane == 3  # undertrained beats diverged when nothing better is there


def test_goodput_against_a_hand_computation():
    # phi = 100, B0 = 8. E(8) = 1, E(64) = 108/164, E(512) = 108/612.
    # 1/(T E): 8 -> 1/1000 = 1e-3; 64 -> 164/(108*6000) = 2.531e-4; 512 -> 612/(108*20000) = 2.833e-4.
    points = goodput.predict({8: 1000.0, 64: 6000.0, 512: 20000.0}, 100.0)
    assert [p.batch_size for p in points] == [8, 64, 512]
    assert [p.efficiency for p in points] == pytest.approx([1.0, 108 / 164, 108 / 612])
    fastest = 164 / (108 * 6000)
    assert [p.relative_time for p in points] == pytest.approx(
        [1e-3 / fastest, 1.0, 612 / (108 * 20000) / fastest])
    assert goodput.predicted_batch_size(points) == 64
    # A huge noise scale: E barely falls, so throughput decides.
    assert goodput.predicted_batch_size(goodput.predict({8: 1000.0, 64: 6000.0, 512: 20000.0}, 1e9)) == 512
    assert goodput.predict({8: 1000.0}, 0.0) == ()


def test_prediction_held_within_twenty_percent_of_the_measured_fastest():
    assert goodput.prediction_held(64, {8: 3.0, 64: 1.1, 512: 1.0})
    assert not goodput.prediction_held(64, {8: 3.0, 64: 1.3, 512: 1.0})
    assert not goodput.prediction_held(64, {8: 3.0, 512: 1.0})  # it never reached the target
    assert goodput.prediction_held(64, {}) is None


def test_pick_treats_losses_near_zero_as_equal():
    # Regression without noise: 1e-21 and 1e-14 are both zero next to a start of 1.8.
    def reg(lane, b, loss, seconds):
        return LaneSummary(lane=lane, label="", batch_size=b, lr=0.1, status=LaneStatus.FINISHED,
                           final_test_loss=loss, start_train_loss=1.8, to_target=ToTarget(1, b, seconds),
                           progressed=True)
    exact, fast = reg(0, 256, 1e-21, 2.7), reg(1, 4, 1e-14, 0.2)
    assert pick([exact, fast]) is fast
    assert pick([exact, reg(2, 4, 0.01, 0.2)]) is exact  # 0.01 is not zero beside 1.8
