"""Everything before training: check the experiment, load its data, build its lanes and measurement sets.

`prepare` does everything that can fail because of the user's input (device,
data, user code, batch sizes, model) before any training starts, raising
UserError; the run loop (run.py) then only trains and measures.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import torch

from tuilab.engine.backends import check_resources
from tuilab.engine.data import Data, load_dataset
from tuilab.engine.devices import resolve_device
from tuilab.engine.events import (
    LaneInfo,
    RunStarted,
)
from tuilab.engine.graphs import check_compile
from tuilab.engine.lanes import Lane
from tuilab.engine.models import (
    build_model,
    check_model,
    count_parameters,
    describe_model,
    make_loss,
)
from tuilab.engine.settings import lane_settings, pilot_experiment
from tuilab.engine.twobatch import two_batch_sizes
from tuilab.engine.usercode import UserCode
from tuilab.errors import UserError
from tuilab.presets import Experiment


@dataclass
class Plan:
    """A validated experiment with its data, lanes and measurement sets ready on the device."""

    exp: Experiment
    device: torch.device
    data: Data
    lanes: list[Lane]
    loss_fn: Callable
    x_ref: torch.Tensor
    y_ref: torch.Tensor
    x_probe: torch.Tensor
    y_probe: torch.Tensor
    started: RunStarted
    noise_method: str = "per-example"  # or "two-batch" (at noise_batches = (b, B))
    noise_batches: tuple[int, int] = (0, 0)

    def set_run_dir(self, run_dir) -> None:
        """Name the run directory in RunStarted (it is made only after every input check passed)."""
        self.started = replace(self.started, run_dir=str(run_dir))


def resolve_batch_sizes(exp: Experiment, n_train: int, what: str) -> list[int]:
    """Concrete batch sizes ('full' = N), refusing any larger than the training set.

    'adaptive' starts at the smallest fixed batch size (the optimizer's base batch size
    when there is none, within N).
    """
    fixed = [n_train if b == "full" else b for b in exp.batch_sizes if b != "adaptive"]
    out = []
    for b in exp.batch_sizes:
        if b == "adaptive":
            out.append(min(fixed) if fixed else min(exp.optimizer.base_batch_size, n_train))
        elif b == "full":
            out.append(n_train)
        elif b > n_train:
            raise UserError(f"batch size {b} is larger than the training set ({n_train} examples of {what}); "
                            f"valid: 1..{n_train} or 'full'")
        else:
            out.append(b)
    return out


def measurement_indices(exp: Experiment, n_train: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Fixed random subsets shared by all lanes: R for G and the train loss, the probe for tr_sigma."""
    g = torch.Generator().manual_seed(exp.seed + 7919)
    ref = torch.randperm(n_train, generator=g)[: min(exp.measure.reference_examples, n_train)]
    probe = torch.randperm(n_train, generator=g)[: min(exp.measure.probe_examples, n_train)]
    return ref, probe


def prepare(exp: Experiment, run_dir: str | None = None) -> Plan:
    """Resolve device, load data, build one model per lane (identical initial weights)."""
    check_resources(exp)
    device = resolve_device(exp.device)
    code = UserCode()  # the user's files: each imported once per run
    data = load_dataset(exp.dataset, exp.seed, device, code)
    sizes = resolve_batch_sizes(exp, data.n_train, exp.dataset.name)  # the description repeats the count
    check_compile(exp, device, data.on_device)
    loss_fn = make_loss(exp.model, data.task, code)
    method, why = check_model(exp.model, exp.measure.noise_method, exp.seed, data, loss_fn, code)
    exp = pilot_experiment(exp)  # unchanged unless exp.pilot: then a tenth of the budget
    lanes: list[Lane] = []
    adaptive_at = exp.batch_sizes.index("adaptive") if "adaptive" in exp.batch_sizes else None
    all_settings = lane_settings(exp, sizes, adaptive_at)
    for i, br in enumerate(exp.branches):
        if br.lane >= len(all_settings):
            raise UserError(f"branches.{i}.lane: {br.lane} is not a lane of this run; valid: 0..{len(all_settings) - 1}")
    for settings in all_settings:
        torch.manual_seed(settings.init_seed)  # lanes of one seed start from the same weights
        model = build_model(exp.model, data, code).to(device)
        lanes.append(Lane(settings, exp, data, model, loss_fn))
        if lanes[-1].auto_micro:
            lanes[-1].fit_micro_batch()
    ref, probe = measurement_indices(exp, data.n_train)
    x_ref, y_ref = data.batch(ref)
    x_probe, y_probe = data.batch(probe)
    noise_batches = two_batch_sizes(data.n_train, min(sizes), exp.measure.noise_batches,
                                    exp.measure.noise_draws)
    notices = []
    if method == "two-batch":
        notices.append(f"noise measured from minibatch gradients at B={noise_batches[0]} and "
                       f"{noise_batches[1]} (two-batch): {why}")
    if device.type == "cpu" and exp.device == "auto":
        notices.append("no GPU found: running on cpu")
    started = RunStarted(
        name=exp.name, device=str(device), device_name=device_name(device), dataset=data.description,
        model=describe_model(exp.model, data), n_train=data.n_train, n_test=data.n_test,
        n_params=count_parameters(lanes[0].model), budget_unit=exp.budget.unit,
        budget_amount=exp.budget.amount,
        lanes=tuple(LaneInfo(ln.index, ln.label, ln.batch_size0, ln.lr0, lr_index=ln.settings.lr_index, adaptive=ln.settings.adaptive,
                             micro_batch=ln.micro_batch(), compile=exp.optimizer.compile)
                    for ln in lanes), noise_method=method, user_code=tuple(exp.user_code()),
        run_dir=run_dir, notices=tuple(notices), pilot=exp.pilot)
    return Plan(exp, device, data, lanes, loss_fn, x_ref, y_ref, x_probe, y_probe, started,
                method, noise_batches)


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return {"cpu": "CPU", "mps": "Apple GPU (mps)"}.get(device.type, device.type)
