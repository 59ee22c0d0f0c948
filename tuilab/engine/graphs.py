"""A lane's whole training step captured as one CUDA graph (`[optimizer] compile = "cuda-graphs"`).

Small batches waste a GPU on launch overhead: a step of a small MLP is dozens of kernel
launches of microseconds each. Captured once, the step replays as one launch. What is
captured: gathering the minibatch rows from a static index buffer, forward, loss,
backward, the optimizer's step and adding the loss to the lane's device-side sum. The
lr and batch size are baked into a graph, so a new (batch size, lr) captures a new one.

The first capture warms up on a side stream (cuBLAS workspaces, the optimizer's state)
and then puts back everything the warm-up touched: parameters, buffers, optimizer state
(state created by the warm-up is zeroed, which is what a first step starts from for SGD's
momentum and Adam's moments and step) and the running loss. Training is the eager
lane's, to float rounding (tests/test_compile.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from tuilab.errors import UserError

WARMUP_STEPS = 3  # eager steps on a side stream before the first capture


@dataclass
class CapturedStep:
    """One captured step: what it was captured for, the graph and its static index buffer."""

    key: tuple[int, float]  # (batch size, lr)
    graph: torch.cuda.CUDAGraph
    idx: torch.Tensor


def _snapshot(lane) -> tuple[list, dict, torch.Tensor]:
    tensors = [t for t in [*lane.model.parameters(), *lane.model.buffers()]]
    saved = [(t, t.detach().clone()) for t in tensors]
    state = {id(v): (v, v.detach().clone()) for s in lane.optimizer.state.values() for v in s.values()
             if torch.is_tensor(v)}
    return saved, state, lane.loss_sum.clone()


def _restore(lane, snap) -> None:
    saved, state, loss_sum = snap
    with torch.no_grad():
        for t, value in saved:
            t.copy_(value)
        for s in lane.optimizer.state.values():
            for v in s.values():
                if torch.is_tensor(v):
                    if id(v) in state:
                        v.copy_(state[id(v)][1])
                    else:  # created by the warm-up: a first step starts from zeros
                        v.zero_()
        lane.loss_sum.copy_(loss_sum)


def capture_step(lane, b: int, previous: CapturedStep | None) -> CapturedStep:
    """Capture `lane`'s step at batch size b and its current lr (warming up first if `previous` is None)."""
    idx = torch.zeros(b, dtype=torch.long, device=lane.data.x_train.device)

    def step() -> None:
        xb, yb = lane.data.batch(idx)
        loss = lane.loss_fn(lane.model(xb), yb)
        loss.backward()
        lane.optimizer.step()
        lane.loss_sum.add_(loss.detach())

    if previous is None:
        snap = _snapshot(lane)
        side = torch.cuda.Stream(lane.device)
        side.wait_stream(torch.cuda.current_stream(lane.device))
        with torch.random.fork_rng(devices=[lane.device]), torch.cuda.stream(side):
            for _ in range(WARMUP_STEPS):
                lane.optimizer.zero_grad(set_to_none=True)
                step()
        torch.cuda.current_stream(lane.device).wait_stream(side)
        _restore(lane, snap)
    graph = torch.cuda.CUDAGraph()
    lane.optimizer.zero_grad(set_to_none=True)  # the graph's backward allocates the grads it writes
    with torch.cuda.graph(graph):
        step()
    return CapturedStep((b, lane._lr), graph, idx)


def check_compile(exp, device: torch.device, on_device: bool) -> None:
    """Refuse an `[optimizer] compile` mode where it cannot run, with one line naming the option."""
    mode = exp.optimizer.compile
    if mode == "none":
        return
    if exp.resources.workers_per_lane > 1:
        raise UserError(f"optimizer.compile = {mode!r} does not combine with resources.workers_per_lane > 1 "
                        "(DDP lanes); valid there: \"none\"")
    if mode != "cuda-graphs":
        return
    if device.type != "cuda":
        raise UserError(f"optimizer.compile = \"cuda-graphs\" needs a CUDA device, and this run is on {device}; "
                        "valid here: \"none\" or \"compile\"")
    if exp.budget.micro_batch is not None:
        raise UserError("optimizer.compile = \"cuda-graphs\" captures whole batches: leave budget.micro_batch "
                        "unset, or use compile = \"none\" or \"compile\"")
    if not on_device:
        raise UserError("optimizer.compile = \"cuda-graphs\" needs the data on the GPU (dataset.on_device); "
                        "valid with data in host memory: \"none\" or \"compile\"")
