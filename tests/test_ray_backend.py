"""The Ray backend: each lane a Ray actor, the same metrics as in-process, faults and stops."""

from __future__ import annotations

import sys

import pytest

from tuilab.engine.backends import check_resources, lane_events
from tuilab.engine.control import Control
from tuilab.engine.events import (
    LaneFailed,
    LaneFinished,
    LaneProgress,
    NoiseSlope,
    RunFinished,
    RunStarted,
)
from tuilab.engine.run import prepare, run_plan
from tuilab.errors import UserError
from tuilab.presets import experiment_from_dict

ray = pytest.importorskip("ray")

SMALL = {"name": "ray-small", "device": "cpu", "seed": 3, "batch_sizes": [16, 64, 200],
         "dataset": {"name": "moons", "n": 600}, "budget": {"unit": "epochs", "amount": 2},
         "measure": {"slope_draws": 8}}


def _exp(**resources):
    return experiment_from_dict({**SMALL, "resources": {"backend": "ray", **resources}})


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray for the module: RayLanes uses a running Ray and leaves it up."""
    ray.init(num_cpus=3, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _metrics(events):
    """What must not depend on where a lane ran: everything but clocks and throughput."""
    return sorted((e.lane, e.step, e.examples, e.train_loss, e.test_loss, e.test_accuracy, e.noise, e.b_simple)
                  for e in events if isinstance(e, LaneProgress))


def test_ray_lanes_give_the_in_process_metrics(local_ray):
    exp = _exp()
    inproc = list(run_plan(prepare(experiment_from_dict(SMALL)), Control()))
    on_ray = list(lane_events(prepare(exp), Control()))
    assert _metrics(on_ray) == _metrics(inproc)
    assert isinstance(on_ray[0], RunStarted) and isinstance(on_ray[-1], RunFinished)
    slopes = [e for e in on_ray if isinstance(e, NoiseSlope)]
    assert [s.at for s in slopes] == [s.at for s in inproc if isinstance(s, NoiseSlope)]
    assert slopes[-1].slope == pytest.approx([s for s in inproc if isinstance(s, NoiseSlope)][-1].slope)
    ended = {e.lane: e.status for e in on_ray if isinstance(e, LaneFinished)}
    assert ended == {0: "finished", 1: "finished", 2: "finished"}


def test_a_killed_lane_actor_is_a_failed_lane_and_the_others_finish(local_ray):
    from tuilab.engine.raylanes import RayLanes

    exp = experiment_from_dict({**SMALL, "budget": {"unit": "epochs", "amount": 6},
                                "resources": {"backend": "ray"}})
    driver = RayLanes(prepare(exp), Control())
    events = []
    for ev in driver.events():
        events.append(ev)
        if isinstance(ev, RunStarted):
            ray.kill(driver.actors[1])
    failed = [e for e in events if isinstance(e, LaneFailed)]
    assert [(e.lane, e.status) for e in failed] == [(1, "error")]
    assert "Ray actor died" in failed[0].reason
    finished = {e.lane for e in events if isinstance(e, LaneFinished) and e.status == "finished"}
    assert finished == {0, 2}
    summary = events[-1].summary
    lanes = summary["lanes"] if isinstance(summary, dict) else [vars(x) for x in summary.lanes]
    assert [str(ln["status"]) for ln in lanes].count("error") == 1


def test_without_ray_the_backend_says_how_to_get_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(UserError, match=r"pip install 'tuilab\[ray\]'"):
        check_resources(_exp())


def test_settings_that_need_ray_are_refused_in_process():
    with pytest.raises(UserError, match="cuda:all"):
        check_resources(experiment_from_dict({**SMALL, "device": "cuda:all"}))
    with pytest.raises(UserError, match="workers_per_lane"):
        check_resources(experiment_from_dict({**SMALL, "resources": {"workers_per_lane": 2}}))


def test_a_ddp_lane_on_two_gloo_workers_matches_the_single_process_lane(local_ray):
    """workers_per_lane = 2: each worker takes half of every batch; DDP averages the gradients."""
    base = {**SMALL, "batch_sizes": [32, 33], "model": {"kind": "mlp", "hidden": [16]},
            "optimizer": {"lr": 0.2, "momentum": 0.9}}
    single = list(run_plan(prepare(experiment_from_dict(base)), Control()))
    exp = experiment_from_dict({**base, "resources": {"backend": "ray", "workers_per_lane": 2,
                                                      "cpus_per_lane": 0.5}})
    ddp = list(lane_events(prepare(exp), Control()))
    a, b = _metrics(single), _metrics(ddp)
    assert [x[:3] for x in a] == [x[:3] for x in b]  # lane, step, examples
    for x, y in zip(a, b, strict=True):
        assert y[3] == pytest.approx(x[3], rel=1e-5, abs=1e-6)  # train loss over R
        assert y[4] == pytest.approx(x[4], rel=1e-5, abs=1e-6)  # test loss
    ended = {e.lane: e.status for e in ddp if isinstance(e, LaneFinished)}
    assert ended == {0: "finished", 1: "finished"}


def test_ddp_workers_need_a_budget_they_can_share():
    exp = experiment_from_dict({**SMALL, "budget": {"unit": "seconds", "amount": 1},
                                "resources": {"backend": "ray", "workers_per_lane": 2}})
    with pytest.raises(UserError, match="epochs or steps"):
        check_resources(exp)


def test_a_cancelled_ray_run_says_cancelled(local_ray):
    control = Control()
    control.cancel()  # the app's c: cancelled before any lane trained
    events = list(lane_events(prepare(_exp()), control))
    assert events[-1].cancelled and events[-1].interrupted
