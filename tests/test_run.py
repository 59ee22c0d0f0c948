"""The run loop against a plain PyTorch loop and against its own contract."""

import threading
import time

import pytest
import torch

from tuilab.engine.data import load_dataset
from tuilab.engine.evaluate import evaluate
from tuilab.engine.events import LaneFinished, LaneProgress, NoiseSlope, RunFinished, RunStarted
from tuilab.engine.lanes import scaled_lr
from tuilab.engine.models import build_model, loss_function
from tuilab.engine.run import Control, prepare, run, run_plan
from tuilab.errors import UserError
from tuilab.presets import experiment_from_dict


def tiny(**over):
    d = {"name": "t", "device": "cpu", "seed": 3, "batch_sizes": [4, 32],
         "dataset": {"name": "moons", "n": 300}, "model": {"hidden": [16]},
         "budget": {"unit": "epochs", "amount": 2}, "measure": {"every": 0.5, "probe_examples": 32}}
    for k, v in over.items():
        d[k] = v if not isinstance(v, dict) else {**d.get(k, {}), **v}
    return experiment_from_dict(d)


def progress(events, lane):
    return [e for e in events if isinstance(e, LaneProgress) and e.lane == lane]


def test_lane_matches_a_plain_pytorch_loop():
    """Lane 0 must train exactly like the loop a person would write by hand."""
    exp = tiny(batch_sizes=[8], optimizer={"momentum": 0.9, "lr": 0.05})
    events = list(run(exp))
    reports = progress(events, 0)

    data = load_dataset(exp.dataset, exp.seed, "cpu")
    torch.manual_seed(exp.seed)
    model = build_model(exp.model, data)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loss_fn = loss_function(data.task)
    gen = torch.Generator().manual_seed(exp.seed * 1009 + 0)
    n, b = data.n_train, 8
    steps = reports[-1].step
    perm, pos = torch.empty(0, dtype=torch.long), 0
    for _ in range(steps):
        if pos + b > perm.numel():
            perm, pos = torch.randperm(n, generator=gen), 0
        idx = perm[pos:pos + b]
        pos += b
        loss = loss_fn(model(data.x_train[idx]), data.y_train[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    test_loss, acc = evaluate(model, loss_fn, data.x_test, data.y_test, True)
    assert reports[-1].test_loss == pytest.approx(test_loss, abs=1e-6)
    assert reports[-1].test_accuracy == pytest.approx(acc)


def test_every_lane_gets_the_same_budget_and_starts_from_the_same_weights():
    exp = tiny(batch_sizes=[4, 16, 64], measure={"share": 1.0})  # every report (tests/test_cadence.py: fewer)
    events = list(run(exp))
    assert isinstance(events[0], RunStarted) and isinstance(events[-1], RunFinished)
    assert isinstance(events[1], NoiseSlope) and events[1].at == "init"
    firsts = [progress(events, i)[0] for i in range(3)]
    assert len({f.train_loss for f in firsts}) == 1  # identical initial weights
    for i in range(3):
        p = progress(events, i)
        assert p[-1].epoch >= 2.0 and p[-1].progress == 1.0
        assert p[-1].train_loss < p[0].train_loss
        assert len(p) == 5  # the start and every 0.5 epoch
    finished = [e for e in events if isinstance(e, LaneFinished)]
    assert sorted(e.status for e in finished) == ["finished"] * 3
    summary = events[-1].summary
    assert [ln.steps for ln in summary.lanes] == [p.step for p in (progress(events, i)[-1] for i in range(3))]


def test_lanes_are_interleaved():
    """All lanes move at once: no lane finishes before every lane has reported mid-run."""
    events = list(run(tiny(batch_sizes=[2, 64], budget={"amount": 3})))
    order = [e.lane for e in events if isinstance(e, LaneProgress)]
    first_done = min(max(i for i, lane in enumerate(order) if lane == k) for k in (0, 1))
    assert {0, 1} <= set(order[: first_done])
    assert order.count(0) == order.count(1)


@pytest.mark.parametrize("unit, amount", [("steps", 30), ("seconds", 0.3)])
def test_steps_and_seconds_budgets(unit, amount):
    events = list(run(tiny(budget={"unit": unit, "amount": amount}, measure={"every": amount / 3})))
    for lane in (0, 1):
        last = progress(events, lane)[-1]
        if unit == "steps":
            assert last.step == amount
        else:
            assert amount <= last.seconds < amount + 0.5


def test_lr_scaling_and_full_batch():
    exp = tiny(batch_sizes=[8, "full"], optimizer={"lr_scaling": "linear", "base_batch_size": 8, "lr": 0.01})
    started = next(iter(run(exp)))
    n = started.n_train
    assert [li.batch_size for li in started.lanes] == [8, n]
    assert started.lanes[1].lr == pytest.approx(0.01 * n / 8)
    assert scaled_lr(0.1, "sqrt", 128, 32) == pytest.approx(0.2)


def test_batch_size_above_training_set_is_refused_before_training():
    with pytest.raises(UserError, match=r"batch size 5000 is larger than the training set \(240 examples"):
        prepare(tiny(batch_sizes=[8, 5000]))


def test_stop_ends_the_run_within_a_second_and_marks_lanes_cancelled():
    exp = tiny(batch_sizes=[1, 2], dataset={"n": 4000}, budget={"amount": 500})
    control = Control()
    events, t_stop = [], []

    def stopper():
        time.sleep(1.0)
        t_stop.append(time.perf_counter())
        control.stop.set()

    threading.Thread(target=stopper, daemon=True).start()
    for ev in run_plan(prepare(exp), control):
        events.append(ev)
    assert time.perf_counter() - t_stop[0] < 1.0
    done = events[-1]
    assert isinstance(done, RunFinished) and done.interrupted
    assert [ln.status for ln in done.summary.lanes] == ["cancelled", "cancelled"]


def test_pause_holds_every_lane_still():
    exp = tiny(batch_sizes=[1], dataset={"n": 4000}, budget={"amount": 500}, measure={"every": 0.01})
    control = Control()
    it = run_plan(prepare(exp), control)
    seen = [next(it) for _ in range(4)]  # started, slope, first report, one more report
    control.pause()
    holder = {}

    def consume():
        holder["ev"] = next(it)

    t = threading.Thread(target=consume, daemon=True)
    t.start()
    t.join(0.5)
    assert t.is_alive(), "a paused run must not produce reports"
    control.resume()
    t.join(5)
    assert isinstance(holder["ev"], LaneProgress) and holder["ev"].step > seen[-1].step
    control.stop.set()
    assert isinstance(list(it)[-1], RunFinished)


def test_noise_is_measured_every_nth_report_and_always_at_the_last():
    events = list(run(tiny(batch_sizes=[8], measure={"noise_every": 3, "share": 1.0})))
    has_noise = [p.noise is not None for p in progress(events, 0)]
    assert has_noise == [True, False, False, True, True]  # reports 0 and 3, and the last (4)


def test_a_stop_during_the_initial_noise_slope_ends_it_early():
    exp = tiny(batch_sizes=[1, 2, 4, 8], measure={"slope_draws": 4000})
    control = Control()
    plan = prepare(exp)
    threading.Timer(0.3, control.stop.set).start()
    t0 = time.perf_counter()
    events = list(run_plan(plan, control))
    assert time.perf_counter() - t0 < 3.0
    slope = next(e for e in events if isinstance(e, NoiseSlope))
    assert slope.slope is None and "stopped" in slope.note
    assert events[-1].interrupted
