"""The recommendation on runs whose right answer is known by construction.

Each run is a made-up event sequence (the events the engine would yield) folded
into a RunRecord, so each case takes milliseconds and says exactly what it sets up.
"""

from __future__ import annotations

import json
import math

import pytest

from tuilab.engine.events import (
    LaneFinished,
    LaneInfo,
    LaneProgress,
    RunFinished,
    RunStarted,
    event_from_dict,
    event_to_dict,
)
from tuilab.engine.record import RunRecord
from tuilab.engine.summary import LaneStatus, RunSummary

N = 1600  # training examples
REPORTS = 20  # reports per lane over 10 epochs


def healthy(start=2.3, floor=0.05, tau=3.0):
    return [floor + (start - floor) * math.exp(-k / tau) for k in range(REPORTS + 1)]


def run(lanes, b_simple=None):
    """lanes: (batch_size, lr, train losses per report, final test accuracy, samples/s[, label, lr_index]).

    Test accuracy climbs linearly to its final value; test loss follows the train loss
    (scaled by 1.1), so every lane that learned is clearly below its start on both.
    """
    infos = tuple(LaneInfo(i, ln[5] if len(ln) > 5 else "", ln[0], ln[1], lr_index=ln[6] if len(ln) > 6 else None)
                  for i, ln in enumerate(lanes))
    record = RunRecord()
    record.apply(RunStarted(name="known", device="cpu", device_name="CPU", dataset="d", model="m", n_train=N,
                            n_test=400, n_params=10, budget_unit="epochs", budget_amount=10.0, lanes=infos))
    for i, (b, lr, losses, acc, rate, *_rest) in enumerate(lanes):
        for k, loss in enumerate(losses):
            examples = k * N * 10 // REPORTS
            record.apply(LaneProgress(
                lane=i, step=examples // b, examples=examples, epoch=examples / N, seconds=examples / rate,
                progress=k / REPORTS, batch_size=b, lr=lr, train_loss=loss, running_loss=loss,
                test_loss=1.1 * loss, test_accuracy=0.1 + (acc - 0.1) * k / REPORTS, samples_per_s=rate,
                b_simple=b_simple if k and k % 4 == 0 else None))
        record.apply(LaneFinished(i, LaneStatus.FINISHED, examples // b, examples, examples / rate))
    return record.summary()


def test_an_unstable_lane_is_marked_and_never_recommended_even_when_fastest():
    rose = healthy(tau=1.0)[:8] + [0.4, 0.7, 0.9] + [0.9] * 10  # fastest down, then up for good
    s = run([(8, 0.1, rose, 0.80, 4000.0), (32, 0.1, healthy(), 0.98, 6000.0), (128, 0.1, healthy(tau=5), 0.97, 9000.0)])
    unstable = s.lane(0)
    assert unstable.unstable.startswith("loss rose from its best") and unstable.to_target is not None
    assert unstable.to_target.seconds < s.lane(1).to_target.seconds  # it was the fastest to the target
    assert s.recommendation.batch_size == 32
    assert "Unstable, never recommended: B=8 (loss rose" in s.recommendation.text


def test_an_undertrained_lane_is_listed_with_its_best_loss_and_never_recommended():
    line = [2.3 - 0.08 * k for k in range(REPORTS + 1)]  # still falling steeply at its last report
    s = run([(8, 0.1, healthy(), 0.97, 3000.0), (32, 0.1, healthy(tau=2.5), 0.975, 7000.0),
             (512, 0.1, line, 0.99, 40000.0)])  # its test accuracy is (contrived to be) the best
    under = s.lane(2)
    assert under.to_target is None and under.undertrained.startswith("still falling: ")
    assert under.best_train_loss == pytest.approx(0.7)
    assert s.recommendation.batch_size in (8, 32)
    assert "Undertrained (train longer), never recommended: B=512 (still falling" in s.recommendation.text


def test_the_best_quality_wins_even_when_slowest_but_equal_quality_goes_to_the_fastest():
    slow = (8, 0.1, healthy(tau=4.0), 0.99, 2000.0)
    s = run([slow, (128, 0.1, healthy(tau=4.0), 0.95, 20000.0)])
    assert s.recommendation.batch_size == 8
    assert s.recommendation.fastest_batch_size == 128
    assert "Final test accuracy 99.0% at B=8, the best within the budget" in s.recommendation.text
    s = run([slow, (128, 0.1, healthy(tau=4.0), 0.985, 20000.0)])
    assert s.recommendation.batch_size == 128
    assert "within tolerance" in s.recommendation.text


def test_no_lane_below_its_start_recommends_nothing():
    flat = [2.30 - 0.003 * k for k in range(REPORTS + 1)]  # random labels: the loss barely moves
    s = run([(8, 0.1, flat, 0.11, 3000.0), (32, 0.1, flat, 0.10, 8000.0)])
    assert s.recommendation.batch_size is None and s.recommendation.lr is None
    assert s.target_loss is None
    assert s.recommendation.text.startswith("No lane got clearly below where it started (best train loss 2.24 "
                                            "against 2.3 at the start)")
    assert s.recommendation.confidence == "low"


def test_default_target_is_set_by_the_better_half_and_named_in_the_answer():
    s = run([(8, 0.1, healthy(floor=0.05), 0.98, 3000.0), (32, 0.1, healthy(floor=0.07), 0.98, 6000.0),
             (128, 0.1, healthy(floor=0.3), 0.9, 9000.0), (512, 0.1, healthy(floor=0.9), 0.7, 20000.0)])
    best_losses = sorted(ln.best_train_loss for ln in s.lanes)
    assert s.target_loss == pytest.approx(best_losses[1] * 1.05)
    assert [ln.to_target is not None for ln in s.lanes] == [True, True, False, False]
    assert "Never reached the target: B=128 (best 0.3" in s.recommendation.text
    assert "better half" in s.recommendation.text


def test_lr_grid_uses_each_batch_sizes_best_lr():
    lanes = []
    for b, accs in ((8, (0.95, 0.98, 0.90)), (64, (0.90, 0.96, 0.985))):
        for k, (lr, acc) in enumerate(zip((0.01, 0.03, 0.1), accs, strict=True)):
            lanes.append((b, lr, healthy(tau=3 + k), acc, 1000.0 * b, f"lr {lr:g}", k))
    s = run(lanes)
    assert s.lr_tuned
    assert {p.batch_size: p.best_lr for p in s.per_batch_size} == {8: 0.03, 64: 0.1}
    assert [ln.lane for ln in s.lanes if ln.best_of_batch_size] == [1, 5]
    assert (s.recommendation.batch_size, s.recommendation.lr) == (64, 0.1)
    assert "tuned per batch size over 3 values" in s.recommendation.text
    assert s.to_json()["per_batch_size"][0]["best_lr"] == 0.03


def test_without_a_grid_the_answer_says_one_lr_was_shared():
    s = run([(8, 0.1, healthy(), 0.98, 3000.0), (32, 0.1, healthy(), 0.98, 6000.0)])
    assert not s.lr_tuned
    assert "One lr (0.1) was shared by every batch size" in s.recommendation.text
    assert "one lr was shared" in s.recommendation.text.split("Confidence")[1]


def test_goodput_prediction_and_whether_it_held():
    # phi = 64: relative 1/(T E) at B = 8, 32, 128 with T = 2000, 6000, 12000 and B0 = 8:
    # (64+8)/2000 = 0.036, (64+32)/6000 = 0.016, (64+128)/12000 = 0.016: a tie, the smaller B wins.
    s = run([(8, 0.1, healthy(tau=3.0), 0.98, 2000.0), (32, 0.1, healthy(tau=3.0), 0.98, 6000.0),
             (128, 0.1, healthy(tau=3.0), 0.98, 12000.0)], b_simple=64.0)
    assert s.noise_scale == 64.0
    assert [p.relative_time for p in s.goodput] == pytest.approx([0.036 / 0.016, 1.0, 1.0])
    assert s.predicted_batch_size == 32
    # Same curves per epoch: B=128 is fastest in seconds; B=32 takes 2x as long, so it did not hold.
    assert s.recommendation.fastest_batch_size == 128 and s.prediction_held is False
    assert "predicts B=32 fastest" in s.recommendation.text and "did not hold" in s.recommendation.text


def test_summary_round_trips_through_json_and_the_event_file():
    s = run([(8, 0.1, healthy(), 0.98, 3000.0), (32, 0.1, healthy(), 0.97, 6000.0)], b_simple=50.0)
    data = json.loads(json.dumps(s.to_json()))
    assert RunSummary.from_json(data) == s
    # Old keys stay: an older reader of summary.json still finds them.
    for key in ("fastest_batch_size", "fewest_examples_batch_size", "critical_batch_size", "confidence", "text"):
        assert key in data["recommendation"]
    assert data["lanes"][0]["status"] == "finished" and data["lanes"][0]["to_target"]["steps"] > 0
    ev = RunFinished(False, 1.0, s)
    assert event_from_dict(json.loads(json.dumps(event_to_dict(ev)))) == ev
    # A summary from before the typed one reads, with the new fields at their defaults.
    old = RunSummary.from_json({"name": "x", "recommendation": {"fastest_batch_size": 8, "confidence": "high",
                                                               "text": "B=8"},
                                "lanes": [{"lane": 0, "label": "", "batch_size": 8, "lr": 0.1, "status": "finished",
                                           "to_target": None, "unknown_key": 1}]})
    assert old.recommendation.batch_size is None and old.lanes[0].status is LaneStatus.FINISHED
