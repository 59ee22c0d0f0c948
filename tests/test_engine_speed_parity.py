"""The lean training step (schedule cached between boundaries) trains exactly as before.

Correctness only: speed is measured by bench/engine_vs_plain.py, never asserted here.
"""

import pytest
import torch

from tuilab.engine.lanes import Lane
from tuilab.engine.run import prepare
from tuilab.presets import experiment_from_dict


class RecomputingLane(Lane):
    """The reference: batch size and lr recomputed and written to the optimizer every step."""

    def train_step(self) -> None:
        b = self.batch_size()
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr()
        idx = self._next_indices(b)
        loss = self.loss_fn(self.model(self.data.x_train[idx]), self.data.y_train[idx])
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.loss_sum += loss.detach()
        self.loss_count += 1
        self.step += 1
        self.examples += b


def plan_with(optimizer=None, variants=None, n=250):
    exp = experiment_from_dict({
        "name": "parity", "device": "cpu", "seed": 5, "batch_sizes": [4, 16],
        "dataset": {"name": "moons", "n": n}, "model": {"hidden": [8]},
        "optimizer": {"lr": 0.1, "momentum": 0.5, **(optimizer or {})},
        "variants": variants or [],
        "budget": {"unit": "epochs", "amount": 4},
    })
    return prepare(exp)


SCHEDULES = {
    "constant": {},
    "warmup": {"optimizer": {"warmup_epochs": 0.7}},
    "decay+grow": {"variants": [{"label": "dg", "decay_epochs": [0.3, 1.0, 1.7], "decay_factor": 0.5,
                                 "grow_epochs": [0.5, 1.5], "grow_factor": 2}]},
    "warmup+decay+grow": {"optimizer": {"warmup_epochs": 0.4, "kind": "adam", "momentum": 0.0},
                          "variants": [{"label": "all", "decay_epochs": [1 / 3, 0.9],
                                        "decay_factor": 0.3, "grow_epochs": [0.6], "grow_factor": 3}]},
}


@pytest.mark.parametrize("name", SCHEDULES)
def test_cached_schedule_matches_the_pure_one_at_every_step(name):
    plan = plan_with(**SCHEDULES[name])
    for lane in plan.lanes:
        for _ in range(150):
            b, lr = lane.batch_size(), lane.lr()
            before = lane.examples
            lane.train_step()
            assert lane.examples - before == b
            assert all(g["lr"] == lr for g in lane.optimizer.param_groups)


@pytest.mark.parametrize("name", SCHEDULES)
def test_lean_lane_trains_bit_for_bit_like_the_recomputing_one(name):
    lean = plan_with(**SCHEDULES[name])
    ref = plan_with(**SCHEDULES[name])
    for lane in ref.lanes:
        lane.__class__ = RecomputingLane
    for a, r in zip(lean.lanes, ref.lanes, strict=True):
        a.train_slice("epochs", 2.5, 60.0, lambda: False)
        r.train_slice("epochs", 2.5, 60.0, lambda: False)
        assert (a.step, a.examples) == (r.step, r.examples)
        for pa, pr in zip(a.model.parameters(), r.model.parameters(), strict=True):
            assert torch.equal(pa, pr)
        # The lean lane sums its losses in blocks: equal up to rounding.
        assert a.take_running_loss() == pytest.approx(r.take_running_loss(), rel=1e-6)


def test_units_in_each_budget_unit():
    lane = plan_with().lanes[0]
    lane.train_slice("steps", 10, 60.0, lambda: False)
    assert lane.units("steps") == 10
    assert lane.units("epochs") == pytest.approx(40 / lane.n)
    assert lane.units("seconds") == lane.seconds > 0
    with pytest.raises(KeyError):
        lane.units("fortnights")
