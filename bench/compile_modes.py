"""Steps/s of an engine lane in each `[optimizer] compile` mode: none (eager), compile, cuda-graphs.

The set-up of benchmark 1 (MLP 784-256-256-10, teacher data on the device, SGD lr 0.1),
one lane per mode and batch size, built by `run.prepare` and trained with
`Lane.train_slice` (the lane's own clock). A warm-up slice first (torch.compile compiles,
the CUDA graph is captured there), then --reps timed slices, alternating the modes; medians.
cuda-graphs runs only where CUDA exists. How much of a small batch's time is launch
overhead shows as the captured step's speed-up over eager.

    python bench/compile_modes.py [--device cpu|cuda] [--sizes 1,32,512] [--reps 5] [--seconds 0.5]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from _common import machine, median, table  # noqa: E402
from engine_vs_plain import experiment  # noqa: E402

from tuilab.engine.run import prepare  # noqa: E402


def lane(mode: str, b: int, device: str):
    exp = experiment([b], device)
    exp = exp.model_copy(update={"optimizer": exp.optimizer.model_copy(update={"compile": mode})})
    ln = prepare(exp).lanes[0]
    ln.train_slice("steps", 50, 60.0, lambda: False)  # warm-up: compile or capture
    return ln


def steps_per_s(ln, seconds: float) -> float:
    s0, t0 = ln.step, ln.seconds
    ln.train_slice("steps", 1e12, seconds, lambda: False)
    return (ln.step - s0) / (ln.seconds - t0)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--sizes", default="1,32,512")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=0.5)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    if args.device == "cpu" and args.threads:
        torch.set_num_threads(args.threads)
    modes = ["none", "compile"] + (["cuda-graphs"] if args.device.startswith("cuda") else [])
    print(f"# compile modes, device {args.device}, {args.reps} x {args.seconds:g} s per mode and B")
    print(f"# {machine()}")
    rows = []
    for b in [int(x) for x in args.sizes.split(",")]:
        lanes = {m: lane(m, b, args.device) for m in modes}
        rates: dict[str, list[float]] = {m: [] for m in modes}
        for _ in range(args.reps):
            for m in modes:
                rates[m].append(steps_per_s(lanes[m], args.seconds))
        eager = median(rates["none"])
        rows.append([b, *(f"{median(rates[m]):,.0f} ({median(rates[m]) / eager:.1f}x)" for m in modes)])
        print(f"B={b}: " + ", ".join(f"{m} {median(rates[m]):,.0f} steps/s" for m in modes), flush=True)
    print("\n" + table(["B", *(f"{m} steps/s" for m in modes)], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
