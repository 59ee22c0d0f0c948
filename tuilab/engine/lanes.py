"""One lane = one batch size: its model, optimizer, sampler, schedule and clock.

The training step reads top to bottom like a hand-written PyTorch loop: slice a
minibatch out of tensors already on the device, forward, backward, step. Losses
stay on the device; the host reads them once per report, never per step.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import torch

from tuilab.engine.data import Data
from tuilab.presets import Experiment, Variant

LOSS_FOLD = 64  # minibatch losses kept on the device before they are summed into loss_sum


def scaled_lr(lr: float, rule: str, batch_size: int, base: int) -> float:
    """Learning rate for batch size B under a scaling rule (Goyal et al. 2017; Hoffer et al. 2017)."""
    if rule == "linear":
        return lr * batch_size / base
    if rule == "sqrt":
        return lr * math.sqrt(batch_size / base)
    return lr


def sampler_seed(seed: int, lane_index: int) -> int:
    """Seed of lane k's minibatch-order generator (an exported script reuses it)."""
    return seed * 1009 + lane_index


def build_optimizer(exp: Experiment, params, lr: float) -> torch.optim.Optimizer:
    o = exp.optimizer
    if o.kind == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=o.weight_decay)
    return torch.optim.SGD(params, lr=lr, momentum=o.momentum, nesterov=o.nesterov,
                           weight_decay=o.weight_decay)


def sync(device: torch.device) -> None:
    """Wait for queued device work: a CPU-GPU sync point, used only at slice/report boundaries."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


class Lane:
    """Trains one model at one batch size (schedule permitting) on the shared data."""

    def __init__(self, index: int, label: str, batch_size: int, exp: Experiment, variant: Variant | None,
                 data: Data, model: torch.nn.Module, loss_fn: Callable):
        self.index = index
        self.label = label
        self.batch_size0 = batch_size
        self.exp = exp
        self.data = data
        self.model = model
        self.loss_fn = loss_fn
        self.n = data.n_train
        self.device = data.x_train.device
        rule = (variant.lr_scaling if variant and variant.lr_scaling else exp.optimizer.lr_scaling)
        base_lr = variant.lr if variant and variant.lr else exp.optimizer.lr
        self.lr0 = scaled_lr(base_lr, rule, batch_size, exp.optimizer.base_batch_size)
        self.decay_epochs = sorted(variant.decay_epochs) if variant else []
        self.decay_factor = variant.decay_factor if variant else 1.0
        self.grow_epochs = sorted(variant.grow_epochs) if variant else []
        self.grow_factor = variant.grow_factor if variant else 1
        self.optimizer = build_optimizer(exp, model.parameters(), self.lr0)
        # Minibatch order: a CPU generator per lane, so a plain loop can replay it exactly.
        self.generator = torch.Generator().manual_seed(sampler_seed(exp.seed, index))
        self.perm = torch.empty(0, dtype=torch.long, device=self.device)
        self.pos = 0
        self.step = 0
        self.examples = 0
        self.seconds = 0.0
        self.status = "running"
        self.reason = ""
        self.loss_sum = torch.zeros((), device=self.device)  # device-side: no sync per step
        self.losses: list[torch.Tensor] = []  # the latest minibatch losses, on the device
        self.loss_count = 0
        self.memory_bytes: int | None = None
        # The schedule, cached: recomputed only from the example count `_recheck` on
        # (a decay/grow boundary; every step during warmup), so a step costs no more
        # Python than a hand-written loop's.
        self._b = batch_size
        self._lr: float | None = None
        self._recheck = 0.0

    # -- schedule -------------------------------------------------------------
    @property
    def epoch(self) -> float:
        return self.examples / self.n

    def batch_size(self) -> int:
        """Current batch size: grows by grow_factor at each grow epoch, capped at N."""
        grown = sum(1 for e in self.grow_epochs if self.epoch >= e)
        return min(self.n, self.batch_size0 * self.grow_factor ** grown)

    def lr(self) -> float:
        """Current lr: scaled base, times decay at passed epochs, times linear warmup."""
        lr = self.lr0 * self.decay_factor ** sum(1 for e in self.decay_epochs if self.epoch >= e)
        warm = self.exp.optimizer.warmup_epochs
        if warm > 0 and self.epoch < warm:
            lr *= (self.examples + self.batch_size()) / (warm * self.n)
        return lr

    def _refresh_schedule(self) -> None:
        """Cache batch_size() and lr(), set the optimizer's lr, and find the next boundary."""
        self._b = self.batch_size()
        lr = self.lr()
        if lr != self._lr:
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            self._lr = lr
        warm = self.exp.optimizer.warmup_epochs
        if warm > 0 and self.epoch < warm:
            self._recheck = self.examples  # warmup: lr changes every step
            return
        ahead = [e for e in self.decay_epochs + self.grow_epochs if self.epoch < e]
        # One example early, so float rounding of e * n can never make us late;
        # a recheck before the boundary recomputes the same values.
        self._recheck = min(math.floor(e * self.n) - 1 for e in ahead) if ahead else math.inf

    # -- training -------------------------------------------------------------
    def _next_indices(self, b: int) -> torch.Tensor:
        # Without replacement within an epoch; a remainder smaller than B is dropped.
        if self.pos + b > self.perm.numel():
            perm = torch.randperm(self.n, generator=self.generator)
            if self.device.type == "cuda":
                # A copy from pageable memory synchronises the GPU; from pinned memory it does not.
                perm = perm.pin_memory().to(self.device, non_blocking=True)
            self.perm = perm.to(self.device)
            self.pos = 0
        idx = self.perm[self.pos:self.pos + b]
        self.pos += b
        return idx

    def train_step(self) -> None:
        """One SGD/Adam step on the next minibatch. No host-device sync in here."""
        if self.examples >= self._recheck:
            self._refresh_schedule()
        b = self._b
        idx = self._next_indices(b)
        xb, yb = self.data.x_train[idx], self.data.y_train[idx]
        loss = self.loss_fn(self.model(xb), yb)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        # Keep the loss on the device; summing every LOSS_FOLD steps costs a third of
        # an add per step (this is not a sync: nothing is read back).
        self.losses.append(loss.detach())
        if len(self.losses) == LOSS_FOLD:
            self._fold_losses()
        self.loss_count += 1
        self.step += 1
        self.examples += b

    def units(self, unit: str) -> float:
        """How much of the budget this lane has used, in the budget's unit."""
        if unit == "epochs":
            return self.examples / self.n
        if unit == "steps":
            return self.step
        if unit == "seconds":
            return self.seconds
        raise KeyError(unit)

    def train_slice(self, unit: str, until: float, max_wall: float, should_break: Callable[[], bool]) -> None:
        """Train until `until` budget units, `max_wall` seconds of wall time, or should_break().

        The lane's clock covers only this loop, between two sync points, so other
        lanes, evaluation and noise probes never count as its training time.
        """
        cuda = self.device.type == "cuda"
        sync(self.device)
        if cuda:
            torch.cuda.reset_peak_memory_stats(self.device)
            base = torch.cuda.memory_allocated(self.device)
        t0 = time.perf_counter()
        deadline = t0 + max_wall
        limit = until - 1e-9
        while True:
            if unit == "epochs":  # units() inlined: this check runs every step
                used = self.examples / self.n
            elif unit == "steps":
                used = self.step
            else:
                used = self.seconds + (time.perf_counter() - t0)
            if used >= limit or should_break():
                break
            self.train_step()
            if self.step % 8 == 0 and time.perf_counter() >= deadline:
                break
        sync(self.device)
        self.seconds += time.perf_counter() - t0
        if cuda:  # what this lane holds, plus its activations' peak during the slice
            peak = torch.cuda.max_memory_allocated(self.device) - base
            self.memory_bytes = self.persistent_bytes() + max(0, peak)

    def _fold_losses(self) -> None:
        if self.losses:
            self.loss_sum += torch.stack(self.losses).sum()
            self.losses.clear()

    def take_running_loss(self) -> float:
        """Mean minibatch loss since the last call (one device read)."""
        if self.loss_count == 0:
            return float("nan")
        self._fold_losses()
        value = float(self.loss_sum) / self.loss_count
        self.loss_sum.zero_()
        self.loss_count = 0
        return value

    def persistent_bytes(self) -> int:
        """Bytes held by parameters, gradients and optimizer state."""
        tensors = [p for p in self.model.parameters()]
        tensors += [p.grad for p in self.model.parameters() if p.grad is not None]
        for state in self.optimizer.state.values():
            tensors += [v for v in state.values() if torch.is_tensor(v)]
        return sum(t.numel() * t.element_size() for t in tensors)

    def release(self) -> None:
        """Drop the model and optimizer (after a failure) so memory goes back to the device."""
        self.optimizer.state.clear()
        self.losses.clear()
        self.model.zero_grad(set_to_none=True)
