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
from tuilab.engine.graphs import CapturedStep, capture_step
from tuilab.engine.noise import no_trace
from tuilab.engine.settings import LaneSettings
from tuilab.engine.settings import (
    scaled_lr as scaled_lr,  # public here too: branch and adaptive lanes use it
)
from tuilab.engine.summary import LaneStatus
from tuilab.presets import Experiment

LOSS_FOLD = 64  # minibatch losses kept on the device before they are summed into loss_sum


def sampler_seed(seed: int, lane_index: int) -> int:
    """Seed of lane k's minibatch-order generator (an exported script reuses it)."""
    return seed * 1009 + lane_index


def build_optimizer(exp: Experiment, params, lr: float) -> torch.optim.Optimizer:
    o = exp.optimizer
    if o.kind == "adam":  # a captured step needs Adam's step count on the device
        return torch.optim.Adam(params, lr=lr, weight_decay=o.weight_decay, capturable=o.compile == "cuda-graphs")
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

    def __init__(self, settings: LaneSettings, exp: Experiment, data: Data, model: torch.nn.Module,
                 loss_fn: Callable):
        self.settings = settings
        self.index = settings.index
        self.label = settings.label
        self.batch_size0 = batch_size = settings.batch_size
        self.exp = exp
        self.data = data
        self.model = model
        # What a step runs: the model, torch.compile's wrapper of it, or a DDP wrapper (engine/ddp.py).
        # optimizer.compile = cuda-graphs replays a captured step instead (engine/graphs.py).
        self.compile = exp.optimizer.compile
        self.train_model = torch.compile(model) if self.compile == "compile" else model
        self._graph: CapturedStep | None = None
        self.shard: tuple[int, int] | None = None  # (rank, workers) of a DDP worker
        self.loss_fn = loss_fn
        self.n = data.n_train
        self.device = data.device
        # budget.micro_batch: rows per forward/backward (None: the whole batch at once);
        # "auto" starts whole and halves on out-of-memory (fit_micro_batch, train_step).
        micro = exp.budget.micro_batch
        self.auto_micro = micro == "auto"
        self.micro: int | None = None if self.auto_micro else micro
        self.lr0 = settings.lr0
        self.decay_epochs = list(settings.decay_epochs)
        self.decay_factor = settings.decay_factor
        self.grow_epochs = list(settings.grow_epochs)
        self.grow_factor = settings.grow_factor
        self.optimizer = build_optimizer(exp, model.parameters(), self.lr0)
        # Minibatch order: a CPU generator per lane, so a plain loop can replay it exactly.
        self.generator = torch.Generator().manual_seed(sampler_seed(exp.seed, self.index))
        # Indices live with the data: on the device, or on the host for data kept there.
        self.perm = torch.empty(0, dtype=torch.long, device=data.x_train.device)
        self.pos = 0
        self.step = 0
        self.examples = 0
        self.seconds = 0.0
        self.status = LaneStatus.RUNNING
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
        warm = self.settings.warmup_epochs
        if warm > 0 and self.epoch < warm:
            lr *= (self.examples + self.batch_size()) / (warm * self.n)
        return lr

    def resize(self, batch_size: int) -> None:
        """Set the batch size (the adaptive lane grows so); the lr follows the lane's scaling rule.

        Takes effect at the next step. The sampler goes on through the same permutation.
        """
        self.batch_size0 = batch_size
        self.lr0 = scaled_lr(self.settings.base_lr, self.settings.lr_rule, batch_size,
                             self.exp.optimizer.base_batch_size)
        self._recheck = 0.0

    def _refresh_schedule(self) -> None:
        """Cache batch_size() and lr(), set the optimizer's lr, and find the next boundary."""
        self._b = self.batch_size()
        lr = self.lr()
        if lr != self._lr:
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            self._lr = lr
        warm = self.settings.warmup_epochs
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
            if self.device.type == "cuda" and self.data.on_device:
                # A copy from pageable memory synchronises the GPU; from pinned memory it does not.
                perm = perm.pin_memory().to(self.device, non_blocking=True)
            self.perm = perm.to(self.data.x_train.device)
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
        if self.compile == "cuda-graphs":
            self._replay(idx, b)
        else:
            self.optimizer.zero_grad(set_to_none=True)
            loss = self._gradient(idx, b)
            self.optimizer.step()
            # Keep the loss on the device; summing every LOSS_FOLD steps costs a third of
            # an add per step (this is not a sync: nothing is read back).
            self.losses.append(loss.detach())
            if len(self.losses) == LOSS_FOLD:
                self._fold_losses()
        self.loss_count += 1
        self.step += 1
        self.examples += b

    def _replay(self, idx: torch.Tensor, b: int) -> None:
        """The captured step on rows idx (it adds its loss to loss_sum); captured anew when the
        batch size or lr changed."""
        if self._graph is None or self._graph.key != (b, self._lr):
            self._graph = capture_step(self, b, self._graph)
        self._graph.idx.copy_(idx)
        self._graph.graph.replay()

    def _gradient(self, idx: torch.Tensor, b: int) -> torch.Tensor:
        """Backward of the mean loss over the rows idx; returns that loss (detached).

        With a micro-batch m < B the rows go through in slices of m, each slice's mean
        loss weighted by its share of B: the summed gradients are those of the whole
        batch (the same SGD step, BatchNorm aside). micro_batch = auto halves m on
        out-of-memory and tries the same rows again. A DDP worker takes its share of the
        rows, weighted by that share times the workers: DDP's average of the workers'
        gradients is then the batch mean's.
        """
        per_row = 1 / b
        if self.shard is not None:
            rank, workers = self.shard
            idx = idx.tensor_split(workers)[rank]
            per_row = workers / b
        while True:
            try:
                m = self.micro
                if m is None or m >= len(idx):
                    xb, yb = self.data.batch(idx)
                    loss = self.loss_fn(self.train_model(xb), yb)
                    if self.shard is not None:
                        loss = loss * (len(idx) * per_row)
                    loss.backward()
                    return loss.detach()
                total = torch.zeros((), device=self.device)
                for part in idx.split(m):
                    xb, yb = self.data.batch(part)
                    loss = self.loss_fn(self.train_model(xb), yb) * (len(part) * per_row)
                    loss.backward()
                    total += loss.detach()
                return total
            except torch.OutOfMemoryError:
                if not self.auto_micro or (self.micro or b) <= 1:
                    raise
                self.micro = max(1, min(self.micro or b, b) // 2)
                self.optimizer.zero_grad(set_to_none=True)
                if self.device.type == "cuda":
                    torch.cuda.empty_cache()

    def fit_micro_batch(self) -> int | None:
        """micro_batch = auto: one forward and backward at the starting batch size, halving the
        micro-batch on out-of-memory until it fits; leaves no trace. The micro-batch, or None."""
        idx = torch.arange(self.batch_size0, device=self.data.x_train.device)
        with no_trace(self.model):
            self._gradient(idx, self.batch_size0)
        self.model.zero_grad(set_to_none=True)
        return self.micro_batch()

    def micro_batch(self) -> int | None:
        """Rows per forward/backward when the step accumulates, else None."""
        return self.micro if self.micro is not None and self.micro < self.batch_size() else None

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
