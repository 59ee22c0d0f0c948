"""Branching a lane: an exact fork, and the critical batch size bounded from the branches' losses."""

from __future__ import annotations

import math

import pytest
import torch

from tuilab.engine.branch import POINTS, bound_critical, fork, measure_branch
from tuilab.engine.evaluate import evaluate
from tuilab.engine.run import prepare
from tuilab.presets import experiment_from_dict


def _plan(optimizer: dict, **over):
    return prepare(experiment_from_dict({
        "name": "branch", "device": "cpu", "seed": 2, "batch_sizes": [8],
        "dataset": {"name": "moons", "n": 250}, "model": {"kind": "mlp", "hidden": [16]},
        "optimizer": optimizer, "budget": {"unit": "epochs", "amount": 2.0},
        "measure": {"probe_examples": 16, "reference_examples": 200},
    } | over))


def _state(lane):
    return ([p.detach().clone() for p in lane.model.parameters()],
            [v.clone() for s in lane.optimizer.state.values() for v in s.values() if torch.is_tensor(v)])


@pytest.mark.parametrize("optimizer", [
    {"kind": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 1e-3},
    {"kind": "adam", "lr": 0.01, "warmup_epochs": 0.5},
])
def test_a_branch_at_factor_1_reproduces_its_parents_next_steps_exactly(optimizer):
    parent = _plan(optimizer).lanes[0]
    for _ in range(17):  # mid-epoch (200 train examples, 25 steps of 8), with optimizer state built up
        parent.train_step()
    child = fork(parent, 1, 1)
    assert child.lr0 == parent.lr0 and child.batch_size() == parent.batch_size()
    assert child.settings.index == 1 and child.settings.lr_rule == parent.settings.lr_rule
    for _ in range(20):  # crosses an epoch boundary: a new permutation from the copied generator
        parent.train_step()
        child.train_step()
        params_p, opt_p = _state(parent)
        params_c, opt_c = _state(child)
        assert all(torch.equal(a, b) for a, b in zip(params_p, params_c, strict=True))
        assert all(torch.equal(a, b) for a, b in zip(opt_p, opt_c, strict=True))
    assert (child.examples, child.step, child.pos, child.lr()) == (parent.examples, parent.step, parent.pos,
                                                                   parent.lr())
    assert parent.take_running_loss() != child.take_running_loss()  # the child's running loss began at the fork


def test_a_fork_shares_no_state_with_its_parent():
    parent = _plan({"kind": "sgd", "lr": 0.1, "momentum": 0.9, "lr_scaling": "linear"}).lanes[0]
    for _ in range(3):
        parent.train_step()
    before = _state(parent)
    child = fork(parent, 4, 1)
    assert child.batch_size() == 32 and math.isclose(child.lr(), parent.lr() * 4)
    assert child.data is parent.data and child.exp is parent.exp
    for _ in range(5):
        child.train_step()
    after = _state(parent)
    assert all(torch.equal(a, b) for a, b in zip(before[0] + before[1], after[0] + after[1], strict=True))
    assert parent.pos == 24 and torch.equal(parent.perm, child.perm)  # same epoch order: parent's untouched


def test_bound_critical_walks_the_factors_in_order():
    # Parent's window loss 0.5, tolerance 0.1: a branch keeps pace at a window loss <= 0.55.
    keeps, crit, behind, note = bound_critical(16, [2, 4, 8], 0.5, [0.52, 0.55, 0.7], 0.1)
    assert keeps == [True, True, False] and (crit, behind) == (64, 128) and note == ""
    keeps, crit, behind, _ = bound_critical(16, [8, 2, 4], 0.5, [0.51, 0.6, 0.5], 0.1)
    assert keeps == [True, False, True] and (crit, behind) == (16, 32)  # 2x fell behind: 4x, 8x don't count
    _, crit, behind, note = bound_critical(16, [2, 4], 0.5, [0.4, 0.52], 0.1)
    assert (crit, behind) == (64, None) and "at least 64" in note
    _, crit, behind, _ = bound_critical(16, [2], 0.5, [math.nan], 0.1)
    assert (crit, behind) == (16, 32)  # a diverged branch falls behind
    _, crit, behind, note = bound_critical(16, [2], math.inf, [0.4], 0.1)
    assert (crit, behind) == (None, None) and "not finite" in note


def test_measure_branch_compares_arms_at_equal_examples_and_leaves_the_parent_alone():
    plan = _plan({"kind": "sgd", "lr": 0.2})
    parent = plan.lanes[0]
    for _ in range(5):
        parent.train_step()
    res = measure_branch(parent, [2, 4, 64], 100, plan.x_ref, plan.y_ref, at=0.2, b_simple=12.0)
    assert [a.factor for a in res.arms] == [1, 2, 4] and "factor 64 left out" in res.note
    assert all(a.examples == res.arms[0].examples for a in res.arms)
    # 100 examples, raised to POINTS steps of the 4x branch (32 examples a step), read at every step.
    assert res.arms[0].examples == tuple(32 * j for j in range(1, POINTS + 1))
    assert [a.batch_size for a in res.arms] == [8, 16, 32]
    # The factor-1 arm is the parent's continuation: train the parent itself and read the same loss.
    for _ in range(32 * POINTS // 8):
        parent.train_step()
    assert evaluate(parent.model, parent.loss_fn, plan.x_ref, plan.y_ref, False)[0] == res.arms[0].losses[-1]
    assert res.b_simple == 12.0 and res.loss0 > res.arms[0].losses[-1]
    assert res.arms[0].window_loss == sum(res.arms[0].losses[POINTS // 2:]) / (POINTS - POINTS // 2)
    keeps = [a.keeps_pace for a in res.arms[1:]]
    assert keeps == [a.window_loss <= 1.1 * res.arms[0].window_loss for a in res.arms[1:]]
    assert res.critical_batch_size == 8 * 2 ** (keeps + [False]).index(False)


def test_a_preset_branch_is_taken_in_the_run_and_summarised():
    from tuilab.engine.events import BranchMeasured, LaneProgress
    from tuilab.engine.run import run

    exp = experiment_from_dict({
        "name": "branches", "device": "cpu", "seed": 0, "batch_sizes": [8, 32],
        "branches": [{"lane": 0, "at": 0.6, "factors": [2, 4], "span": 0.3}],
        "dataset": {"name": "moons", "n": 500}, "model": {"kind": "mlp", "hidden": [16]},
        "optimizer": {"lr": 0.1, "lr_scaling": "linear", "base_batch_size": 8}, "budget": {"amount": 1.0},
        "measure": {"every": 0.25, "probe_examples": 32, "slope_draws": 2, "share": 1.0},  # every report
    })
    events = list(run(exp))
    (br,) = [e for e in events if isinstance(e, BranchMeasured)]
    before = [e for e in events[:events.index(br)] if isinstance(e, LaneProgress) and e.lane == 0]
    assert before[-1].epoch == br.at == 0.76  # the report at the 0.75 mark (38 steps of 8 of 400), after 0.6
    assert [a.batch_size for a in br.arms] == [8, 16, 32] and [a.lr for a in br.arms] == [0.1, 0.2, 0.4]
    assert br.arms[0].examples[-1] >= 0.3 * 400 and br.b_simple is not None
    (s,) = events[-1].summary.branches
    assert (s.lane, s.at, s.factors, s.critical_batch_size, s.b_simple) == (0, 0.76, (2, 4), br.critical_batch_size,
                                                                          br.b_simple)
    # The parent went on as if nothing happened: its reports match a run without the branch.
    plain = list(run(exp.model_copy(update={"branches": []})))
    mine = [(e.step, e.train_loss) for e in events if isinstance(e, LaneProgress) and e.lane == 0]
    assert mine == [(e.step, e.train_loss) for e in plain if isinstance(e, LaneProgress) and e.lane == 0]


def test_a_branch_of_a_lane_that_does_not_exist_is_refused():
    from tuilab.errors import UserError

    with pytest.raises(UserError, match=r"branches.0.lane: 5 is not a lane of this run; valid: 0..0"):
        _plan({"kind": "sgd"}, branches=[{"lane": 5, "at": 1.0}])
