"""No host-device synchronisation in the training step (docs/measurements.md, "Throughput").

On CUDA, torch.cuda.set_sync_debug_mode("error") turns any synchronising call
during Lane.train_step into an error. On the CPU there is nothing to wait for, so a
counting check stands in: every Python-level way of reading a tensor's value on
the host (item, float, bool, tolist, cpu, nonzero, repr, ...) and every explicit
synchronize is counted while the step runs; the count must be zero. Calls made
by torch's own code (e.g. Adam reading its CPU step counter) are not counted:
they are not ours and the CUDA check covers what they do on a GPU.
"""

import contextlib
import os
import sys

import pytest
import torch

import tuilab.engine.lanes as lanes_module
from tuilab.engine.lanes import Lane
from tuilab.engine.run import prepare
from tuilab.presets import experiment_from_dict

TORCH_DIR = os.path.dirname(torch.__file__)
TENSOR_READS = ("item", "tolist", "cpu", "numpy", "nonzero", "__float__", "__int__", "__bool__",
                "__index__", "__repr__", "__format__", "__array__")
FUNCTIONS = [(torch, "nonzero"), (torch, "masked_select"), (torch, "unique"), (torch.cuda, "synchronize"),
             (lanes_module, "sync")]


@contextlib.contextmanager
def counting_host_reads():
    """Count host reads of tensor values and explicit syncs made outside torch's own code."""
    calls: list[str] = []

    def wrap(owner, name):
        original = getattr(owner, name)

        def counted(*args, **kwargs):
            caller = sys._getframe(1).f_code.co_filename
            if not caller.startswith(TORCH_DIR):
                calls.append(f"{getattr(owner, '__name__', owner)}.{name} from {caller}")
            return original(*args, **kwargs)

        return owner, name, original, counted

    patches = [wrap(torch.Tensor, n) for n in TENSOR_READS] + [wrap(o, n) for o, n in FUNCTIONS]
    for owner, name, _, counted in patches:
        setattr(owner, name, counted)
    try:
        yield calls
    finally:
        for owner, name, original, _ in patches:
            setattr(owner, name, original)


def lanes(device="cpu", optimizer=None, variants=None):
    """Lanes whose 20 steps cross several epoch boundaries (a new randperm each) and schedule marks."""
    exp = experiment_from_dict({
        "name": "sync", "device": device, "seed": 1, "batch_sizes": [8, 24],
        "dataset": {"name": "teacher", "n": 60, "dim": 6, "classes": 3, "test_fraction": 0.2},
        "model": {"hidden": [16]}, "optimizer": {"lr": 0.05, **(optimizer or {})},
        "variants": variants or [], "budget": {"unit": "steps", "amount": 100},
    })
    return prepare(exp).lanes


CASES = {
    "sgd": {},
    "sgd momentum nesterov, warmup": {"optimizer": {"momentum": 0.9, "nesterov": True, "warmup_epochs": 1.5}},
    "adam, decay and grow": {"optimizer": {"kind": "adam", "weight_decay": 1e-4},
                             "variants": [{"label": "v", "decay_epochs": [1, 2], "decay_factor": 0.5,
                                           "grow_epochs": [2], "grow_factor": 2}]},
}


@pytest.mark.parametrize("case", CASES)
def test_train_step_reads_nothing_back_on_cpu(case):
    steps = lanes(**CASES[case])
    with counting_host_reads() as calls:
        for lane in steps:
            for _ in range(20):
                lane.train_step()
    assert calls == []
    assert all(lane.epoch > 2 for lane in steps)  # epoch boundaries were crossed


class SyncingLane(Lane):
    """A step with the classic mistake: reading the loss every step."""

    def train_step(self) -> None:
        super().train_step()
        if float(self.loss_sum) > 1e9:
            raise RuntimeError("diverged")


@pytest.mark.parametrize("mistake", ["float", "item", "bool", "print", "sync"])
def test_the_counting_check_catches_a_syncing_step(mistake, capsys):
    lane = lanes()[0]
    reads = {
        "float": lambda: float(lane.loss_sum),
        "item": lambda: lane.loss_sum.item(),
        "bool": lambda: bool(lane.loss_sum > 1e9),
        "print": lambda: print(lane.loss_sum),
        "sync": lambda: lanes_module.sync(lane.device),
    }
    with counting_host_reads() as calls:
        lane.train_step()
        reads[mistake]()
    assert len(calls) == 1, calls


def test_the_counting_check_catches_a_syncing_lane_subclass():
    lane = lanes()[0]
    lane.__class__ = SyncingLane
    with counting_host_reads() as calls:
        for _ in range(3):
            lane.train_step()
    assert len(calls) == 3


def test_counting_patches_are_removed_afterwards():
    with counting_host_reads():
        pass
    t = torch.tensor([1.5])
    assert t.item() == 1.5 and float(t) == 1.5 and torch.Tensor.item.__name__ == "item"


cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


@contextlib.contextmanager
def cuda_sync_mode_error():
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        yield
    finally:
        torch.cuda.set_sync_debug_mode("default")


@cuda
@pytest.mark.parametrize("case", CASES)
def test_train_step_never_synchronises_the_gpu(case):
    steps = lanes("cuda", **CASES[case])
    for lane in steps:  # first step outside: lazy CUDA initialisation may sync once
        lane.train_step()
    with cuda_sync_mode_error():
        for lane in steps:
            for _ in range(20):
                lane.train_step()
    assert all(lane.epoch > 2 for lane in steps)


@cuda
def test_cuda_sync_mode_catches_a_syncing_step():
    lane = lanes("cuda")[0]
    lane.train_step()
    lane.__class__ = SyncingLane
    with cuda_sync_mode_error(), pytest.raises(RuntimeError, match="synchroniz"):
        lane.train_step()
