"""A branch asked for while the run goes (Control.request_branch) is taken as a preset's [[branches]] entry."""

from __future__ import annotations

from dataclasses import replace

from tuilab.engine.control import BRANCH_FACTORS, Control
from tuilab.engine.events import BranchMeasured
from tuilab.engine.run import prepare, run_plan
from tuilab.presets import experiment_from_dict

SPEC = {"name": "asked", "device": "cpu", "seed": 3, "batch_sizes": [8, 16],
        "dataset": {"name": "moons", "n": 250}, "model": {"kind": "mlp", "hidden": [16]},
        "budget": {"unit": "epochs", "amount": 0.5}, "measure": {"every": 0.25, "probe_examples": 16}}


def _branches(spec: dict, control: Control) -> list[BranchMeasured]:
    return [ev for ev in run_plan(prepare(experiment_from_dict(spec)), control, slopes=False)
            if isinstance(ev, BranchMeasured)]


def test_control_queues_branch_requests_per_lane():
    control = Control()
    control.request_branch(1)
    control.request_branch(0, (2,))
    control.request_branch(1, (4, 16))
    assert control.take_branch_requests(1) == [BRANCH_FACTORS, (4, 16)]
    assert control.take_branch_requests(1) == []  # taken once
    assert control.take_branch_requests(0) == [(2,)]


def test_a_requested_branch_is_measured_at_the_lanes_next_report_like_a_preset_one():
    control = Control()
    control.request_branch(1)  # lane 1 (B=16): its first report after training is at 0.25 epochs
    asked = _branches(SPEC, control)
    assert [(b.lane, b.batch_size) for b in asked] == [(1, 16)]
    assert 0.25 <= asked[0].at < 0.25 + 16 / 200  # the first report mark, passed by less than a step
    assert [a.factor for a in asked[0].arms] == [1, *BRANCH_FACTORS]
    # The same branch from a preset, at the same report: the very same measurement.
    preset = _branches(SPEC | {"branches": [{"lane": 1, "at": 0.25}]}, Control())
    assert [replace(b, seconds=0.0) for b in asked] == [replace(b, seconds=0.0) for b in preset]
    assert asked[0].critical_batch_size is not None and asked[0].critical_batch_size >= 16
