"""Benchmark 3: the share of a run's wall time spent measuring, on every shipped preset.

Runs the engine headless (run_plan, no UI, no store) on each preset *at its defaults*
(the preset's own [measure] table and budget; --device and --budget may override) and
times every measurement call by wrapping what the run loop calls: evaluate (train loss
on R and the test set), the noise at reports (per-example or two-batch), the noise slopes
at the start and the end, each finished lane's loss surface (sharpness and slice) and
branches. Training time is the lanes' own clocks; "other" is the loop and its events. The
measurement share is evaluate + noise + slopes + surface over the wall time; branches
(the preset's own experiment: arms trained at k x B) are shown beside it, and in the
engine's measure_seconds.
Prints one line per preset; `--compare` adds the cadence before the measurement budget
(`measure.share = 1`: every report measures, noise at every noise_every-th), alternating
runs, medians of --reps.

    python bench/measurement_cost.py [--preset NAME ...|all] [--reps N] [--compare]
        [--with KEY=VALUE,...] [--budget AMOUNT] [--device cpu] [--parts] [--readability]
        [--calibrate]

`--readability` measures how readable the noise column stays: at fixed parameters, the
relative spread (std / mean) of tr_sigma, |G|^2 and noise(B) over repeated estimates with
fresh probe and reference sets. `--calibrate` times each part the cadence's cost model
(tuilab/engine/cadence.py) predicts, against its prediction.
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
from tuilab.engine.events import LaneProgress  # noqa: E402
from tuilab.engine.noise import measure_noise  # noqa: E402
from tuilab.presets import experiment_from_dict, load_preset, resolve_preset  # noqa: E402

SHIPPED = sorted(p.stem for p in (Path(__file__).resolve().parent.parent / "tuilab" / "shipped_presets").glob("*.toml"))
EXAMPLE = str(Path(__file__).resolve().parent.parent / "examples" / "resnet_bn" / "preset.toml")
WRAPPED = ("evaluate", "measure_noise", "measure_noise_two_batch", "measure_noise_slope", "measure_branch")
PARTS = ["training", "evaluate", "noise", "slopes", "surface", "branches"]


def experiment(name: str, device: str, measure: dict, budget: float | None = None):
    """The preset at its defaults, on `device`, with `measure` overrides (and the budget's amount)."""
    data = load_preset(resolve_preset(name)).model_dump(exclude_none=True)
    data["device"] = device
    data["measure"] = {**data.get("measure", {}), **measure}
    if budget:
        data["budget"] = {**data["budget"], "amount": budget}
    return experiment_from_dict(data)  # load_preset made user code's paths absolute


@contextmanager
def timed_engine(times: dict):
    """Wrap the run loop's measurement calls and add their seconds to `times` by part."""
    runner = run_module._Runner
    saved = {n: getattr(run_module, n) for n in WRAPPED if hasattr(run_module, n)}
    saved_methods = {"report": runner.report, "landscape": getattr(runner, "landscape", None)}
    slope_fn = run_module._final_slope, run_module.initial_slope
    phase = ["report"]  # the slopes' own measure_noise calls count as slopes

    def timer(part, fn):
        def wrapped(*a, **k):
            t0 = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                if phase[0] == "report":  # inside a slope or a surface, the enclosing phase counts it
                    times[part] += time.perf_counter() - t0
        return wrapped

    def in_phase(part, fn):
        def wrapped(*a, **k):
            phase[0] = part
            t0 = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                phase[0] = "report"
                if part != "report":
                    times[part] += time.perf_counter() - t0
        return wrapped

    parts = {"evaluate": "evaluate", "measure_noise": "noise", "measure_noise_two_batch": "noise",
             "measure_noise_slope": "slopes", "measure_branch": "branches"}
    for n, fn in saved.items():
        setattr(run_module, n, timer(parts[n], fn))
    run_module._final_slope = in_phase("slopes", slope_fn[0])
    run_module.initial_slope = in_phase("slopes", slope_fn[1])
    if saved_methods["landscape"]:
        runner.landscape = in_phase("surface", saved_methods["landscape"])
    try:
        yield
    finally:
        for n, fn in saved.items():
            setattr(run_module, n, fn)
        run_module._final_slope, run_module.initial_slope = slope_fn
        if saved_methods["landscape"]:
            runner.landscape = saved_methods["landscape"]


def one_run(exp) -> dict:
    """Seconds of each part of one run (prepare excluded), and the reports each lane made."""
    plan = run_module.prepare(exp)
    times: dict = defaultdict(float)
    reports, noise_points = defaultdict(int), defaultdict(int)
    with timed_engine(times):
        t0 = time.perf_counter()
        for ev in run_module.run_plan(plan):
            if isinstance(ev, LaneProgress):
                reports[ev.lane] += 1
                noise_points[ev.lane] += ev.tr_sigma is not None
            summary = getattr(ev, "summary", None)
        times["wall"] = time.perf_counter() - t0
    times["training"] = sum(ln.seconds for ln in plan.lanes)
    times["engine measure_seconds"] = getattr(summary, "measure_seconds", float("nan"))
    times["reports"] = median(list(reports.values()))
    times["noise points"] = median(list(noise_points.values()))
    return dict(times)


MEASURING = ["evaluate", "noise", "slopes", "surface"]  # the instruments; branches are the preset's experiment


def share(r: dict, parts=MEASURING) -> float:
    return sum(r.get(p, 0.0) for p in parts) / r["wall"]


def line(preset: str, label: str, runs: list[dict]) -> list:
    """One row of the per-preset table: medians over the runs."""
    def med(k):
        return median([r.get(k, 0.0) for r in runs])
    return [preset, label, f"{med('wall'):.2f}", f"{med('training'):.2f}",
            *(f"{med(p):.3f}" for p in PARTS[1:]),
            f"{100 * (1 - median([(r['training'] + sum(r.get(p, 0) for p in PARTS[1:])) / r['wall'] for r in runs])):.1f}%",
            f"{med('reports'):g}", f"{med('noise points'):g}",
            f"{100 * median([share(r) for r in runs]):.1f}%",
            f"{100 * median([share(r, PARTS[1:]) for r in runs]):.1f}%",
            f"{100 * median([r['engine measure_seconds'] / r['wall'] for r in runs]):.1f}%"]


HEADERS = ["preset", "cadence", "wall s", "train s", *(f"{p} s" for p in PARTS[1:]), "other", "reports/lane",
           "noise pts/lane", "measuring", "with branches", "engine's measure_seconds"]


def readability(exp, repeats: int = 12) -> list[list]:
    """Relative spread of noise estimates over fresh probe/reference sets, at the trained parameters."""
    plan = run_module.prepare(exp)
    lane = plan.lanes[len(plan.lanes) // 2]
    lane.train_slice(exp.budget.unit, exp.budget.amount / 4, 1e9, lambda: False)
    x, y, n = plan.data.x_train, plan.data.y_train, plan.data.n_train
    g = torch.Generator().manual_seed(123)
    rows = []
    m, r0 = exp.measure.probe_examples, exp.measure.reference_examples
    for probe, ref in [(m, r0), (m // 2, r0), (m, r0 // 4)]:
        est = []
        for _ in range(repeats):
            r = torch.randperm(n, generator=g)[:min(ref, n)]
            p = torch.randperm(n, generator=g)[:min(probe, n)]
            s = measure_noise(lane.model, plan.loss_fn, x[r], y[r], x[p], y[p], n)
            est.append((s.tr_sigma, s.g_norm2, s.noise(lane.batch_size0) or float("nan")))
        cols = list(zip(*est, strict=True))
        rel = [statistics.stdev(c) / abs(statistics.mean(c)) for c in cols]
        rows.append([probe, min(ref, n), *(f"{100 * v:.1f}%" for v in rel)])
    print(f"\nreadability of {exp.name} at B={lane.batch_size0} after a quarter of the budget, {repeats} "
          "fresh probe/reference draws each (relative std of one estimate):")
    print(table(["probe M", "ref |R|", "tr_sigma", "|G|^2", f"noise(B={lane.batch_size0})"], rows))
    return rows


def best_ms(fn, n: int = 5) -> float:
    """Fastest of n calls, in ms of this thread's CPU time (robust on a shared machine)."""
    best = float("inf")
    for _ in range(n):
        t0 = time.thread_time()
        fn()
        best = min(best, time.thread_time() - t0)
    return 1000 * best


def calibrate(exp) -> list[list]:
    """Each part the cost model predicts, timed (fastest of 5, CPU ms) against its prediction."""
    from tuilab.engine.cadence import cost_model

    plan = run_module.prepare(exp)
    m, f, n = plan.lanes[0].model, plan.loss_fn, plan.data.n_train
    cm = cost_model(m, plan.x_probe[:1])
    xp, yp, xr, yr = plan.x_probe, plan.y_probe, plan.x_ref, plan.y_ref
    cls = plan.data.task == "classification"
    rows = [["evaluate(R)", len(xr), best_ms(lambda: evaluate(m, f, xr, yr, cls)), cm.evaluate(len(xr))],
            ["evaluate(test)", plan.data.n_test,
             best_ms(lambda: evaluate(m, f, plan.data.x_test, plan.data.y_test, cls)), cm.evaluate(plan.data.n_test)],
            ["mean_gradient(R)", len(xr), best_ms(lambda: noise.mean_gradient(m, f, xr, yr)), cm.gradient(len(xr))]]
    if plan.noise_method == "per-example":
        rows.append(["measure_noise", f"{len(xr)}+{len(xp)}",
                     best_ms(lambda: measure_noise(m, f, xr, yr, xp, yp, n)), cm.noise_per_example(len(xr), len(xp))])
    from tuilab.engine.cadence import HVP_STEPS
    from tuilab.engine.sharpness import hessian_vector_product

    v = torch.randn(cm.params)
    rows.append(["Hessian-vector product", min(1024, len(xr)),
                 best_ms(lambda: hessian_vector_product(m, f, xr[:1024], yr[:1024], v)),
                 HVP_STEPS * cm.gradient(min(1024, len(xr)))])
    for lane in plan.lanes:
        if lane.index == 0 or lane.batch_size0 != plan.lanes[lane.index - 1].batch_size0:
            rows.append([f"training step B={lane.batch_size0}", lane.batch_size0,
                         best_ms(lane.train_step, 20), cm.train(1, lane.batch_size0)])
    print(f"\ncost model against the clock, {exp.name} ({cm.params:,} parameters, {1e6 * cm.example:.3f} us per "
          f"forward example, {1e6 * cm.call:.0f} us per step call; fastest of 5, CPU ms):")
    out = [[p, k, f"{ms:.3f}", f"{1000 * mod:.3f}", f"{1000 * mod / ms:.2f}"] for p, k, ms, mod in rows]
    print(table(["part", "examples", "measured ms", "model ms", "model/measured"], out))
    return out


BEFORE = {"share": 1.0}  # the cadence before the measurement budget: every report measures


def parse_with(text: str) -> tuple[str, dict]:
    """'noise_every=8,share=0.05' -> ('noise_every=8,share=0.05', {'noise_every': 8, 'share': 0.05})."""
    out = {}
    for item in text.split(","):
        key, _, value = item.partition("=")
        out[key.strip()] = float(value) if "." in value else int(value)
    return text, out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", nargs="+", default=["all"],
                    help="preset names or files; 'all' = every shipped preset, 'example' = examples/resnet_bn")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (0 = torch's default)")
    ap.add_argument("--compare", action="store_true", help=f"also run the cadence before the budget {BEFORE}")
    ap.add_argument("--with", dest="extra", action="append", default=[], metavar="KEY=VALUE,...",
                    help="also run with these [measure] settings (share, every, noise_every, probe_examples, ...)")
    ap.add_argument("--budget", type=float, help="override the preset's budget amount (its own unit)")
    ap.add_argument("--readability", action="store_true")
    ap.add_argument("--parts", "--calibrate", dest="calibrate", action="store_true",
                    help="time each part of a report against the cost model")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    names = [p for name in args.preset for p in (SHIPPED if name == "all" else [EXAMPLE] if name == "example"
                                                  else [name])]
    print(f"# measurement cost: {len(names)} preset(s), {args.reps} run(s) each, {torch.get_num_threads()} "
          f"thread(s), device {args.device}")
    print(f"# {machine()}")
    configs = {"default": {}, **({"before (share=1)": BEFORE} if args.compare else {}),
               **dict(parse_with(t) for t in args.extra)}
    rows, shares = [], {}
    for name in names:
        exps = {k: experiment(name, args.device, m, args.budget) for k, m in configs.items()}
        runs: dict = {k: [] for k in configs}
        for _ in range(args.reps):  # alternate the configurations: drift hits both alike
            for k, exp in exps.items():
                runs[k].append(one_run(exp))
        for k in configs if args.reps else ():
            rows.append(line(Path(name).stem if name != EXAMPLE else "resnet-bn (example)", k, runs[k]))
            shares[(name, k)] = median([share(r) for r in runs[k]])
            print(" | ".join(rows[-1]), flush=True)
        if args.calibrate:
            calibrate(exps["default"])
        if args.readability:
            readability(exps["default"])
    if rows:
        print("\n" + table(HEADERS, rows))
        worst = max(v for (_, k), v in shares.items() if k == "default")
        print(f"\nhighest measurement share at the defaults: {100 * worst:.1f}% (goal <= 10%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
