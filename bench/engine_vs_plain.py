"""Benchmark 1: one engine lane against a hand-written eager PyTorch loop.

Model: MLP 784-256-256-10; data: the teacher set, 60k x 784 training rows on the
device; SGD lr 0.1. The engine lane is built exactly as `run.prepare` builds it
and trained with `Lane.train_slice` (samples/s from the lane's own clock); the
plain loop slices the same tensors with a randperm per epoch. Measurements
alternate engine, plain, engine, plain ... (ABAB) so that drift on a shared
machine hits both alike; the table gives medians of samples/s and the median of
the paired ratios engine/plain (wall clock; the CPU-time ratio beside it is
steadier when other processes share the cores).

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

    def steps(self, k: int) -> tuple[float, float]:
        """Run k steps; samples/s of wall time between two device syncs, and of CPU time."""
        model, opt, x, y, b = self.model, self.opt, self.x, self.y, self.b
        sync(x.device)
        t0, c0 = time.perf_counter(), time.thread_time()
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
        return k * b / (time.perf_counter() - t0), k * b / (time.thread_time() - c0)


def engine_steps(lane, k: int, control: Control) -> tuple[float, float]:
    """Run k steps of the lane through train_slice; samples/s from the lane's own clock, and of CPU time."""
    ex0, s0, c0 = lane.examples, lane.seconds, time.thread_time()
    lane.train_slice("steps", lane.step + k, float("inf"), control.interrupted)
    c1 = time.thread_time()
    return (lane.examples - ex0) / (lane.seconds - s0), (lane.examples - ex0) / (c1 - c0)


def calibrate(plain: PlainLoop, seconds: float) -> int:
    """Steps that take about `seconds` at this batch size (after a warm-up)."""
    plain.steps(3)
    k = 4
    while True:
        t0 = time.perf_counter()
        plain.steps(k)
        dt = time.perf_counter() - t0
        if dt >= seconds / 4 or k >= 1 << 20:
            return max(2, int(k * seconds / dt))
        k *= 4


def step_overhead(lane, plain: PlainLoop, control: Control, rounds: int = 15, k: int = 200) -> str:
    """The engine's extra CPU time per step, from the fastest of many short ABAB rounds.

    The minimum of the thread's CPU time is what a step costs when nothing else
    runs: it resolves Python overhead of a few microseconds that the wall-clock
    medians cannot on a shared machine.
    """
    best_e = best_p = float("inf")
    for _ in range(rounds):
        t0 = time.thread_time()
        lane.train_slice("steps", lane.step + k, float("inf"), control.interrupted)
        best_e = min(best_e, (time.thread_time() - t0) / k)
        t0 = time.thread_time()
        plain.steps(k)
        best_p = min(best_p, (time.thread_time() - t0) / k)
    return (f"B={lane.batch_size0} fastest step (CPU time, min of {rounds}x{k}): engine {best_e * 1e6:.1f} us, "
            f"plain {best_p * 1e6:.1f} us, engine overhead {(best_e - best_p) * 1e6:+.1f} us "
            f"({100 * (best_e / best_p - 1):+.1f}%)")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help=f"B in {QUICK}, fewer and shorter runs")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--reps", type=int, help="measurements per side and batch size (default 9, quick 7)")
    ap.add_argument("--seconds", type=float, help="wall time of one measurement (default 0.3, quick 0.2)")
    ap.add_argument("--sizes", help="comma-separated batch sizes")
    ap.add_argument("--threads", type=int, default=1,
                    help="CPU threads of torch, both sides (default 1: on a shared machine two threads "
                         "stall each other whenever another process takes a core; 0 = torch's default)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else (QUICK if args.quick else FULL)
    reps = args.reps or (7 if args.quick else 9)
    seconds = args.seconds or (0.2 if args.quick else 0.3)

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
        # Each engine run is paired with the plain run right after it: the median of the
        # pairs' ratios cancels drift that is slower than one pair.
        ratio = median([e[0] / p[0] for e, p in zip(eng, pl, strict=True)])
        cpu_ratio = median([e[1] / p[1] for e, p in zip(eng, pl, strict=True)])
        ratios.append(ratio)
        e_med, p_med = median([e[0] for e in eng]), median([p[0] for p in pl])
        rows.append([b, k, f"{e_med:,.0f}", f"{p_med:,.0f}", f"{p_med / b:,.0f}", f"{ratio:.3f}",
                     f"{cpu_ratio:.3f}"])
        print(f"#   B={b}: engine {[round(e[0]) for e in eng]} plain {[round(p[0]) for p in pl]}", flush=True)
    small = next((ln for ln in plan.lanes if ln.batch_size0 <= 8), None)
    if small is not None:
        print("# " + step_overhead(small, PlainLoop(plan.exp, plan.data, small.batch_size0), control))
    print(table(["B", "steps/run", "engine samples/s", "plain samples/s", "plain steps/s", "engine/plain",
                 "(CPU time)"], rows))
    print(f"engine/plain min ratio: {min(ratios):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
