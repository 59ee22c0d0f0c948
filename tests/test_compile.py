"""optimizer.compile: torch.compile matches the eager lane; a captured CUDA graph matches it and is faster."""

from __future__ import annotations

import time

import pytest
import torch

from tuilab.engine.run import prepare
from tuilab.errors import UserError
from tuilab.presets import experiment_from_dict

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def _exp(mode: str, device: str = "cpu", sizes=(8,), **optimizer):
    return experiment_from_dict({
        "name": "compile", "device": device, "seed": 0, "batch_sizes": list(sizes),
        "dataset": {"name": "teacher", "n": 2048, "dim": 16, "classes": 4},
        "model": {"kind": "mlp", "hidden": [32, 32]},
        "optimizer": {"lr": 0.05, "momentum": 0.9, "compile": mode, **optimizer},
        "budget": {"unit": "epochs", "amount": 1}})


def _train(exp, steps: int) -> tuple[list[torch.Tensor], float, object]:
    plan = prepare(exp)
    lane = plan.lanes[0]
    for _ in range(steps):
        lane.train_step()
    return [p.detach().cpu() for p in lane.model.parameters()], lane.take_running_loss(), plan


def _close(a: list[torch.Tensor], b: list[torch.Tensor], tol: float = 1e-5) -> bool:
    return all(torch.allclose(x, y, rtol=tol, atol=tol) for x, y in zip(a, b, strict=True))


def test_compiled_lane_matches_the_eager_lane_and_is_labelled():
    eager, eager_loss, _ = _train(_exp("none"), 30)
    compiled, compiled_loss, plan = _train(_exp("compile"), 30)
    assert _close(eager, compiled) and abs(eager_loss - compiled_loss) < 1e-5
    assert plan.started.lanes[0].compile == "compile" and plan.started.lanes[0].label == "compile"
    assert not _close(eager, _train(_exp("none"), 31)[0])  # guards the comparison: one more step differs


def test_cuda_graphs_without_cuda_is_one_line_naming_the_option():
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(UserError, match=r'optimizer.compile = "cuda-graphs" needs a CUDA device.*valid here'):
        prepare(_exp("cuda-graphs"))


def test_compile_is_refused_with_ddp_lanes():
    exp = _exp("compile").model_copy(deep=True)
    exp.resources.workers_per_lane = 2
    with pytest.raises(UserError, match="workers_per_lane"):
        prepare(exp)


@cuda
@pytest.mark.parametrize("kind", ["sgd", "adam"])
def test_cuda_graph_lane_matches_eager_across_an_lr_change(kind):
    # warmup makes the lr change every step: each change captures a new graph
    common = {"kind": kind, "warmup_epochs": 0.05} if kind == "adam" else {"kind": kind}
    eager, eager_loss, _ = _train(_exp("none", "cuda", **common), 200)
    graphed, graphed_loss, plan = _train(_exp("cuda-graphs", "cuda", **common), 200)
    assert _close(eager, graphed) and abs(eager_loss - graphed_loss) < 1e-5
    assert plan.started.lanes[0].compile == "cuda-graphs"


def _steps_per_s(exp, steps: int = 300) -> float:
    lane = prepare(exp).lanes[0]
    for _ in range(20):
        lane.train_step()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        lane.train_step()
    torch.cuda.synchronize()
    return steps / (time.perf_counter() - t0)


@cuda
def test_cuda_graph_lane_is_faster_than_eager_at_batch_size_1():
    eager = _steps_per_s(_exp("none", "cuda", sizes=(1,)))
    graphed = _steps_per_s(_exp("cuda-graphs", "cuda", sizes=(1,)))
    print(f"B=1 steps/s: eager {eager:,.0f}, cuda-graphs {graphed:,.0f} ({graphed / eager:.1f}x)")
    assert graphed > 1.5 * eager
