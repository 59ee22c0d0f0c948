"""Batch sizes that do not fit (accumulated micro-batches) and data that does not fit (host memory)."""

from __future__ import annotations

import textwrap

import pytest
import torch

from tuilab.engine.data import keep_on_device
from tuilab.engine.events import LaneProgress
from tuilab.engine.run import prepare, run_plan
from tuilab.presets import experiment_from_dict


def _exp(**over):
    base = {"name": "mb", "device": "cpu", "seed": 2, "batch_sizes": [64, 16],
            "dataset": {"name": "moons", "n": 800}, "model": {"kind": "mlp", "hidden": [16]},
            "optimizer": {"lr": 0.1, "momentum": 0.9}, "budget": {"unit": "epochs", "amount": 1},
            "measure": {"every": 0.5, "probe_examples": 16, "reference_examples": 128, "slope_draws": 2,
                        "noise_every": 100}}
    return experiment_from_dict(base | over)


def _losses(plan):
    events = list(run_plan(plan))
    return [(e.lane, e.step, e.train_loss, e.test_loss) for e in events if isinstance(e, LaneProgress)], plan


def _weights(plan):
    return [torch.cat([p.detach().reshape(-1) for p in ln.model.parameters()]) for ln in plan.lanes]


def test_an_accumulated_lane_takes_the_same_sgd_steps_as_the_plain_one():
    plain, plain_plan = _losses(prepare(_exp()))
    accumulated, acc_plan = _losses(prepare(_exp(budget={"unit": "epochs", "amount": 1, "micro_batch": 16})))
    assert [li.micro_batch for li in acc_plan.started.lanes] == [16, None]  # B=16 needs no accumulation
    assert [li.micro_batch for li in plain_plan.started.lanes] == [None, None]
    assert len(plain) == len(accumulated) >= 4
    for (lane, step, train, test), (lane2, step2, train2, test2) in zip(plain, accumulated, strict=True):
        assert (lane, step) == (lane2, step2)
        assert train2 == pytest.approx(train, abs=1e-5) and test2 == pytest.approx(test, abs=1e-5)
    for w, w2 in zip(_weights(plain_plan), _weights(acc_plan), strict=True):
        assert torch.allclose(w, w2, atol=1e-5)


OOM_MODEL = """
import torch
from torch import nn
def build(input_shape, out_dim):
    return Small(input_shape[0], out_dim)
class Small(nn.Module):
    def __init__(self, n_in, out_dim):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(n_in, 16), nn.ReLU(), nn.Linear(16, out_dim))
    def forward(self, x):
        if self.training and torch.is_grad_enabled() and x.shape[0] > 20:  # "device memory" for 20 rows
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (injected)")
        return self.net(x)
"""


def test_auto_micro_batch_halves_on_out_of_memory_until_it_fits(tmp_path):
    (tmp_path / "oom.py").write_text(textwrap.dedent(OOM_MODEL))
    model = {"kind": "custom", "factory": f"{tmp_path}/oom.py:build"}
    # Evaluation is no-grad and the noise probe takes 16 rows: training alone hits the limit.
    measure = {"every": 0.5, "probe_examples": 16, "reference_examples": 16, "noise_every": 100, "slope_draws": 2}
    auto = prepare(_exp(model=model, budget={"unit": "epochs", "amount": 1, "micro_batch": "auto"},
                        measure=measure))
    assert [li.micro_batch for li in auto.started.lanes] == [16, None]  # 64 -> 32 -> 16 fits
    events = list(run_plan(auto, slopes=False))
    assert not [e for e in events if type(e).__name__ == "LaneFailed"]
    fixed = [e for e in run_plan(prepare(_exp(budget={"unit": "epochs", "amount": 1, "micro_batch": 16},
                                              measure=measure)), slopes=False) if isinstance(e, LaneProgress)]
    auto_losses = [(e.lane, e.step, e.train_loss, e.test_loss) for e in events if isinstance(e, LaneProgress)]
    assert auto_losses == [(e.lane, e.step, e.train_loss, e.test_loss) for e in fixed]


def test_data_kept_in_host_memory_gives_the_same_losses():
    on, on_plan = _losses(prepare(_exp(dataset={"name": "moons", "n": 800, "on_device": True})))
    off, off_plan = _losses(prepare(_exp(dataset={"name": "moons", "n": 800, "on_device": False})))
    assert on_plan.data.on_device and not off_plan.data.on_device
    assert on == off


def test_auto_keeps_data_on_a_gpu_only_under_half_its_free_memory(monkeypatch):
    cuda = torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (1000, 4000))
    assert keep_on_device("auto", cuda, 500) and not keep_on_device("auto", cuda, 501)
    assert keep_on_device("auto", torch.device("cpu"), 10**15)  # on the CPU the host is the device
    assert not keep_on_device(False, torch.device("cpu"), 1) and keep_on_device(True, cuda, 10**15)
