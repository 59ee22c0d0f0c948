"""Benchmark 1: one engine lane against a hand-written eager PyTorch loop.

Model: MLP 784-256-256-10; data: the teacher set, 60k x 784 training rows on the
device; SGD lr 0.1. The engine lane is built exactly as `run.prepare` builds it
and trained with `Lane.train_slice` (samples/s from the lane's own clock); the
plain loop slices the same tensors with a randperm per epoch. Measurements
alternate engine, plain, engine, plain ... (ABAB) so that drift on a shared
machine hits both alike; the table gives medians and the ratio engine/plain.

    python bench/engine_vs_plain.py [--quick] [--device cpu|cuda] [--reps N] [--seconds S]

The last line is always `engine/plain min ratio: X`.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from _common import machine, median, table  # noqa: E402

from tuilab.engine.lanes import sync  # noqa: E402
from tuilab.engine.models import build_model  # noqa: E402
from tuilab.engine.run import Control, prepare  # noqa: E402
from tuilab.presets import experiment_from_dict  # noqa: E402

FULL = [1, 8, 32, 128, 512, 2048, 8192]
QUICK = [1, 32, 512]
N_TRAIN = 60_000


def experiment(sizes: list[int], device: str):
    """The issue's set-up as a preset: teacher 784 -> 10 classes, MLP 256x256, SGD lr 0.1."""
    return experiment_from_dict({
        "name": "engine-vs-plain", "device": device, "seed": 0, "batch_sizes": sizes,
        "dataset": {"name": "teacher", "n": 75_000, "test_fraction": 0.2, "dim": 784, "classes": 10},
        "model": {"kind": "mlp", "hidden": [256, 256]},
        "optimizer": {"kind": "sgd", "lr": 0.1},
        "budget": {"unit": "steps", "amount": 1e9},
    })


class PlainLoop:
    """The loop a person would write: index slicing, randperm per epoch, nothing else."""

    def __init__(self, exp, data, batch_size: int):
        torch.manual_seed(exp.seed)
        self.model = build_model(exp.model, data).to(data.x_train.device)
        self.opt = torch.optim.SGD(self.model.parameters(), lr=exp.optimizer.lr)
        self.x, self.y, self.b = data.x_train, data.y_train, batch_size
        self.n = len(self.x)
        self.gen = torch.Generator().manual_seed(1)
        self.perm = torch.randperm(self.n, generator=self.gen).to(self.x.device)
        self.pos = 0

    def steps(self, k: int) -> float:
        """Run k steps; samples/s between two device syncs."""
        model, opt, x, y, b = self.model, self.opt, self.x, self.y, self.b
        sync(x.device)
        t0 = time.perf_counter()
        for _ in range(k):
            if self.pos + b > self.n:
                self.perm = torch.randperm(self.n, generator=self.gen).to(x.device)
                self.pos = 0
            idx = self.perm[self.pos:self.pos + b]
            self.pos += b
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        sync(x.device)
        return k * b / (time.perf_counter() - t0)


def engine_steps(lane, k: int, control: Control) -> float:
    """Run k steps of the lane through train_slice; samples/s from the lane's own clock."""
    ex0, s0 = lane.examples, lane.seconds
    lane.train_slice("steps", lane.step + k, float("inf"), control.interrupted)
    return (lane.examples - ex0) / (lane.seconds - s0)


def calibrate(plain: PlainLoop, seconds: float) -> int:
    """Steps that take about `seconds` at this batch size (after a warm-up)."""
    plain.steps(3)
    k = 4
    while True:
        t0 = time.perf_counter()
        plain.steps(k)
        dt = time.perf_counter() - t0
        if dt >= seconds / 4 or k >= 1 << 20:
            return max(4, int(k * seconds / dt))
        k *= 4


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help=f"B in {QUICK}, fewer and shorter runs")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--reps", type=int, help="measurements per side and batch size (default 5, quick 3)")
    ap.add_argument("--seconds", type=float, help="wall time of one measurement (default 0.6, quick 0.4)")
    ap.add_argument("--sizes", help="comma-separated batch sizes")
    ap.add_argument("--threads", type=int, default=1,
                    help="CPU threads of torch, both sides (default 1: on a shared machine two threads "
                         "stall each other whenever another process takes a core; 0 = torch's default)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else (QUICK if args.quick else FULL)
    reps = args.reps or (3 if args.quick else 5)
    seconds = args.seconds or (0.4 if args.quick else 0.6)

    plan = prepare(experiment(sizes, args.device))
    assert plan.data.n_train == N_TRAIN
    print(f"# engine vs plain: mlp 784-256-256-10, teacher {N_TRAIN} rows on {plan.device}, "
          f"{reps} reps x {seconds}s, ABAB, {torch.get_num_threads()} CPU thread(s)")
    print(f"# {machine()}")
    control = Control()
    rows, ratios = [], []
    for lane in plan.lanes:
        b = lane.batch_size0
        plain = PlainLoop(plan.exp, plan.data, b)
        k = calibrate(plain, seconds)
        engine_steps(lane, 3, control)  # warm-up
        eng, pl = [], []
        for _ in range(reps):
            eng.append(engine_steps(lane, k, control))
            pl.append(plain.steps(k))
        ratio = median(eng) / median(pl)
        ratios.append(ratio)
        steps_s = median(pl) / b
        rows.append([b, k, f"{median(eng):,.0f}", f"{median(pl):,.0f}", f"{steps_s:,.0f}", f"{ratio:.3f}"])
        print(f"#   B={b}: engine {[round(v) for v in eng]} plain {[round(v) for v in pl]}", flush=True)
    print(table(["B", "steps/run", "engine samples/s", "plain samples/s", "plain steps/s", "engine/plain"],
                rows))
    print(f"engine/plain min ratio: {min(ratios):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
