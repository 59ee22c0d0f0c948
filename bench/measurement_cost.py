"""Benchmark 3: the share of a run's wall time spent measuring (evaluation, noise, slope).

Runs the engine headless (run_plan, no UI, no store) on a preset and times every
measurement call by wrapping the functions the run loop calls: evaluate (train
loss on R and test loss), measure_noise at reports, and the noise slope at the
start and the end. Training time is the lanes' own clocks. `--compare` runs the
default cadence (noise at every 4th report and the last) against the old one
(noise at every report, `noise_every = 1`) side by side (alternating, median of
--reps runs each); `--with KEY=VALUE,...` adds a configuration of the
`[measure]` table (for example `--with noise_every=8 --with every=1`).

    python bench/measurement_cost.py [--preset quickstart|big] [--reps N] [--compare]
        [--with KEY=VALUE,...] [--budget AMOUNT] [--parts] [--readability]

`--readability` measures how readable the noise estimates stay: at fixed
parameters, the relative spread (std / mean) of tr_sigma, |G|^2 and noise(B)
over repeated estimates with fresh random probe and reference sets.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from _common import machine, median, table  # noqa: E402

import tuilab.engine.run as run_module  # noqa: E402
from tuilab.engine import noise  # noqa: E402
from tuilab.engine.evaluate import evaluate  # noqa: E402
from tuilab.engine.noise import measure_noise  # noqa: E402
from tuilab.presets import experiment_from_dict, load_preset, resolve_preset  # noqa: E402


def big_preset(device: str) -> dict:
    """A heavier problem than quickstart: 20k x 64 teacher, 10 classes, MLP 256x256 (85k parameters)."""
    return {"name": "big", "device": device, "seed": 0, "batch_sizes": [16, 64, 256, 1024],
            "dataset": {"name": "teacher", "n": 25_000, "dim": 64, "classes": 10, "test_fraction": 0.2},
            "model": {"kind": "mlp", "hidden": [256, 256]}, "optimizer": {"lr": 0.05},
            "budget": {"unit": "epochs", "amount": 3}}


def experiment(name: str, device: str, measure: dict, budget: float | None = None):
    """The preset with the default measurement cadence, then `measure` overrides (and the budget's amount)."""
    if name == "big":
        data = big_preset(device)
    else:
        data = load_preset(resolve_preset(name)).model_dump(exclude_none=True)
        data["device"] = device
        data["measure"].pop("every", None)  # the default cadence: budget / 40
    data["measure"] = {**data.get("measure", {}), **measure}
    if budget:
        data["budget"] = {**data["budget"], "amount": budget}
    return experiment_from_dict(data)


@contextmanager
def timed_engine(times: dict):
    """Wrap the run loop's measurement calls; attribute each to reports, or the slope at init or end."""
    originals = {n: getattr(run_module, n) for n in ("evaluate", "measure_noise", "measure_noise_slope")}
    runner_report, final_slope = run_module._Runner.report, run_module._final_slope
    phase = ["init"]

    def timer(name, fn):
        def wrapped(*a, **k):
            t0 = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                key = name if phase[0] == "report" else f"slope ({phase[0]})"
                times[key] += time.perf_counter() - t0
        return wrapped

    def in_phase(name, fn):
        def wrapped(*a, **k):
            phase[0] = name
            try:
                return fn(*a, **k)
            finally:
                phase[0] = "init" if name == "report" else name
        return wrapped

    for n, fn in originals.items():
        setattr(run_module, n, timer(n, fn))
    run_module._Runner.report = in_phase("report", runner_report)
    run_module._final_slope = in_phase("end", final_slope)
    try:
        yield
    finally:
        for n, fn in originals.items():
            setattr(run_module, n, fn)
        run_module._Runner.report, run_module._final_slope = runner_report, final_slope


def one_run(exp) -> dict:
    """Seconds of each part of one run (prepare excluded)."""
    plan = run_module.prepare(exp)
    times: dict = defaultdict(float)
    with timed_engine(times):
        t0 = time.perf_counter()
        for _ in run_module.run_plan(plan):
            pass
        times["wall"] = time.perf_counter() - t0
    times["training"] = sum(ln.seconds for ln in plan.lanes)
    times["reports"] = len(plan.lanes) * (round(exp.budget.amount / exp.report_every()) + 1)
    return dict(times)


PARTS = ["training", "evaluate", "measure_noise", "slope (init)", "slope (end)"]


def cost_table(label: str, runs: list[dict]) -> tuple[str, float]:
    wall = median([r["wall"] for r in runs])
    rows = []
    for part in PARTS:
        s = median([r.get(part, 0.0) for r in runs])
        rows.append([part, f"{s:.3f}", f"{100 * s / wall:.1f}%"])
    measuring = median([sum(r.get(p, 0.0) for p in PARTS[1:]) / r["wall"] for r in runs])
    other = median([1 - sum(r.get(p, 0.0) for p in PARTS) / r["wall"] for r in runs])
    rows.append(["other (loop, events)", "", f"{100 * other:.1f}%"])
    rows.append(["wall", f"{wall:.3f}", "100%"])
    text = f"{label} ({runs[0]['reports']} reports)\n" + table(["part", "seconds", "share"], rows)
    return text + f"\nmeasurement share: {100 * measuring:.1f}%", measuring


def readability(exp, repeats: int = 12) -> list[list]:
    """Relative spread of noise estimates over fresh probe/reference sets, at the trained parameters."""
    plan = run_module.prepare(exp)
    lane = plan.lanes[len(plan.lanes) // 2]
    lane.train_slice("epochs", exp.budget.amount / 4, 1e9, lambda: False)
    x, y, n = plan.data.x_train, plan.data.y_train, plan.data.n_train
    g = torch.Generator().manual_seed(123)
    rows = []
    for probe, ref in [(256, 8192), (128, 8192), (256, 2048), (128, 2048), (64, 1024)]:
        est = []
        for _ in range(repeats):
            r = torch.randperm(n, generator=g)[:min(ref, n)]
            p = torch.randperm(n, generator=g)[:min(probe, n)]
            t0 = time.perf_counter()
            s = measure_noise(lane.model, plan.loss_fn, x[r], y[r], x[p], y[p], n)
            est.append((s.tr_sigma, s.g_norm2, s.noise(lane.batch_size0) or float("nan"),
                        time.perf_counter() - t0))
        cols = list(zip(*est, strict=True))
        rel = [statistics.stdev(c) / abs(statistics.mean(c)) for c in cols[:3]]
        rows.append([probe, min(ref, n), *(f"{100 * v:.1f}%" for v in rel), f"{1000 * median(cols[3]):.1f}"])
    print(f"\nreadability at B={lane.batch_size0} after {exp.budget.amount / 4:g} epochs, {repeats} "
          "fresh probe/reference draws each (relative std):")
    print(table(["probe M", "ref |R|", "tr_sigma", "|G|^2", f"noise(B={lane.batch_size0})", "ms/call"], rows))
    return rows


def best_ms(fn, n: int = 5) -> float:
    """Fastest of n calls, in ms of this thread's CPU time (robust on a shared machine)."""
    best = float("inf")
    for _ in range(n):
        t0 = time.thread_time()
        fn()
        best = min(best, time.thread_time() - t0)
    return 1000 * best


def parts(exp) -> None:
    """What one report's measurements cost, piece by piece, at the initial parameters."""
    plan = run_module.prepare(exp)
    m, f, n = plan.lanes[0].model, plan.loss_fn, plan.data.n_train
    xp, yp, xr, yr = plan.x_probe, plan.y_probe, plan.x_ref, plan.y_ref
    cls = plan.data.task == "classification"
    pe = best_ms(lambda: noise.per_example_grads(m, f, xp, yp))
    rows = [
        ["evaluate(R) (train loss)", len(xr), f"{best_ms(lambda: evaluate(m, f, xr, yr, cls)):.2f}"],
        ["evaluate(test)", plan.data.n_test,
         f"{best_ms(lambda: evaluate(m, f, plan.data.x_test, plan.data.y_test, cls)):.2f}"],
        ["per_example_grads(probe)", len(xp), f"{pe:.2f}"],
        ["probe variance arithmetic (in place)", len(xp),
         f"{best_ms(lambda: noise._probe_sum_sq_dev(m, f, xp, yp, 256)) - pe:.2f}"],
        ["mean_gradient(R)", len(xr), f"{best_ms(lambda: noise.mean_gradient(m, f, xr, yr)):.2f}"],
        ["measure_noise (all of it)", "",
         f"{best_ms(lambda: measure_noise(m, f, xr, yr, xp, yp, n)):.2f}"],
    ]
    for lane in plan.lanes:
        rows.append([f"one training step, B={lane.batch_size0}", lane.batch_size0,
                     f"{best_ms(lane.train_step, 20):.3f}"])
    print(f"\nparts of a report at the initial model ({sum(p.numel() for p in m.parameters()):,} "
          "parameters; fastest of 5, CPU ms):")
    print(table(["part", "examples", "ms"], rows))


DEFAULT = {}  # the shipped cadence: every budget/40, noise at every 4th report and the last
OLD = {"noise_every": 1}  # the cadence before 2f72b79: noise at every report


def parse_with(text: str) -> tuple[str, dict]:
    """'noise_every=8,every=1' -> ('noise_every=8,every=1', {'noise_every': 8, 'every': 1.0})."""
    out = {}
    for item in text.split(","):
        key, _, value = item.partition("=")
        out[key.strip()] = float(value) if key.strip() == "every" else int(value)
    return text, out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="quickstart", help="a preset name or file, or 'big'")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (0 = torch's default)")
    ap.add_argument("--compare", action="store_true", help=f"also run the old cadence {OLD}")
    ap.add_argument("--with", dest="extra", action="append", default=[], metavar="KEY=VALUE,...",
                    help="also run with these [measure] settings (every, noise_every, probe_examples, ...)")
    ap.add_argument("--budget", type=float, help="override the preset's budget amount (its own unit)")
    ap.add_argument("--readability", action="store_true")
    ap.add_argument("--parts", action="store_true", help="time each part of one report")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"# measurement cost: preset {args.preset}, {args.reps} runs, {torch.get_num_threads()} thread(s)")
    print(f"# {machine()}")
    configs = {"default": DEFAULT, **({"noise_every=1 (old)": OLD} if args.compare else {}),
               **dict(parse_with(t) for t in args.extra)}
    exps = {k: experiment(args.preset, args.device, m, args.budget) for k, m in configs.items()}
    runs: dict = {k: [] for k in configs}
    for _ in range(args.reps):  # alternate the configurations: drift hits both alike
        for k, exp in exps.items():
            runs[k].append(one_run(exp))
    shares = {}
    for k, exp in exps.items() if args.reps else ():
        m = exp.measure
        text, shares[k] = cost_table(f"{k}: every {exp.report_every():g} {exp.budget.unit}, noise_every "
                                     f"{m.noise_every}, probe {m.probe_examples}, reference "
                                     f"{m.reference_examples}", runs[k])
        print("\n" + text)
    if args.parts:
        parts(exps["default"])
    if args.readability:
        readability(exps["default"])
    if shares:
        print("\n" + ", ".join(f"{k} measurement share: {100 * v:.1f}%" for k, v in shares.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
