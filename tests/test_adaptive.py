"""The adaptive lane's batch size follows its stated rule on a synthetic noise-scale sequence."""

from __future__ import annotations

import math

from tuilab.engine.adaptive import MEMORY_SHARE, memory_cap, next_batch_size
from tuilab.engine.lanes import scaled_lr


def follow(start, b_simples, n_train, cap=None):
    sizes, b = [], start
    for s in b_simples:
        b = next_batch_size(b, s, n_train, cap)
        sizes.append(b)
    return sizes


def test_rounds_down_to_a_power_of_two_at_most_doubles_never_shrinks_and_stops_at_n():
    seq = [None, 3.2, 9.9, 16.0, 7.0, 40.0, float("nan"), 150.0, 90.0, 3000.0, 1e9, 1e9]
    assert follow(8, seq, n_train=1000) == [8, 8, 8, 16, 16, 32, 32, 64, 64, 128, 256, 512]
    assert follow(512, [1e9, 1e9], n_train=1000) == [1000, 1000]


def test_follows_the_rule_written_in_its_docstring_on_a_long_random_sequence():
    # The rule restated independently: max(B, min(2^floor(log2 s), 2B, N, cap)), s unmeasured keeps B.
    import random
    rnd = random.Random(0)
    b, n, cap = 4, 5000, 700
    for _ in range(500):
        s = rnd.choice([None, rnd.lognormvariate(4, 2)])
        new = next_batch_size(b, s, n, cap)
        if s is None or s < 1:
            assert new == b
        else:
            p = 1
            while p * 2 <= s:
                p *= 2
            assert new == max(b, min(p, 2 * b, n, cap))
        b = new
    assert b == cap  # a binding cap is taken as it is, not rounded


def test_lr_follows_the_scaling_rule_at_each_batch_size_used():
    sizes = follow(8, [20.0, 70.0, 300.0], n_train=4000)
    assert sizes == [16, 32, 64]
    assert [scaled_lr(0.1, "linear", b, 32) for b in sizes] == [0.05, 0.1, 0.2]
    assert math.isclose(scaled_lr(0.1, "sqrt", 128, 32), 0.2)


def test_memory_cap_is_where_activations_fill_the_device():
    # 1 GB persistent, 3 GB at B=256 (2 GB of activations), a 10 GB device: 7 GB of room -> B=896.
    cap = memory_cap(10**9, 3 * 10**9, 256, 10 * 10**9)
    assert cap == math.floor(256 * (MEMORY_SHARE * 10 - 1) / 2)
    assert memory_cap(10**9, 10**9, 256, 10**10) is None  # nothing measured beyond the weights
    assert next_batch_size(512, 5000.0, 10**6, cap) == cap


def test_the_adaptive_lane_of_a_run_follows_the_rule_on_its_measured_noise_scale():
    from tuilab.engine.events import LaneProgress, RunFinished
    from tuilab.engine.run import run
    from tuilab.engine.summary import RunSummary
    from tuilab.presets import experiment_from_dict

    exp = experiment_from_dict({
        "name": "adaptive", "device": "cpu", "seed": 1, "batch_sizes": [16, 4, "adaptive"],
        "dataset": {"name": "moons", "n": 500}, "model": {"kind": "mlp", "hidden": [16]},
        "optimizer": {"lr": 0.05, "lr_scaling": "sqrt", "base_batch_size": 4}, "budget": {"amount": 3.0},
        "measure": {"every": 0.25, "noise_every": 1, "probe_examples": 32, "slope_draws": 2},
    })
    events = list(run(exp))
    reports = [e for e in events if isinstance(e, LaneProgress) and e.lane == 2]
    b = 4  # starts at the smallest fixed batch size
    for rep in reports:
        assert rep.batch_size == b
        assert math.isclose(rep.lr, scaled_lr(0.05, "sqrt", b, 4))
        b = next_batch_size(b, rep.b_simple, 400)
    summary = events[-1].summary
    assert isinstance(events[-1], RunFinished)
    lane = summary.lane(2)
    assert lane.adaptive and lane.batch_sizes_used == tuple(dict.fromkeys(r.batch_size for r in reports))
    assert len(lane.batch_sizes_used) > 1  # it grew: the run shows the rule, not a fixed lane
    assert {p.batch_size for p in summary.per_batch_size} == {4, 16}  # kept out of the per-B answers
    js = summary.to_json()
    assert js["lanes"][2]["batch_size"] == "adaptive" and js["lanes"][0]["batch_size"] == 16
    assert RunSummary.from_json(js).lane(2) == lane
