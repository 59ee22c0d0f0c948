"""Benchmark 2: training samples/s with the TUI attached against `tuilab run`, same preset.

Both run a six-lane preset with a budget of --seconds of training per lane (so
both train equally long) and a sparse report cadence. Headless: `tuilab run
PRESET`. With the screen: `tuilab PRESET --run` in a 120x40 pty, its output
drained as a terminal would, ended with ctrl+q once its run directory has a
summary. Samples/s is the sum of every lane's examples over the sum of their own
clocks, read back from each run's metrics.jsonl. Runs alternate (ABAB), --reps each.

    python bench/ui_overhead.py [--reps 2] [--seconds 2]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import CHILD_ENV, TUILAB, PtyProcess, machine, median, table, tiny_preset  # noqa: E402


def samples_per_s(run_parent: Path) -> tuple[float, float]:
    """(sum of examples / sum of lane seconds, run wall seconds) of the one run under run_parent."""
    run_dir = next(p.parent for p in run_parent.glob("*/metrics.jsonl"))
    last: dict[int, dict] = {}
    for line in (run_dir / "metrics.jsonl").read_text().splitlines():
        ev = json.loads(line)
        if ev["type"] in ("LaneProgress", "LaneFinished"):
            last[ev["lane"]] = ev
    examples = sum(ev["examples"] for ev in last.values())
    seconds = sum(ev["seconds"] for ev in last.values())
    summary = json.loads((run_dir / "summary.json").read_text())
    return examples / seconds, summary.get("wall_seconds", float("nan"))


def headless(preset: Path, out: Path) -> tuple[float, float]:
    subprocess.run([TUILAB, "run", str(preset), "--out", str(out)], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=True, env=CHILD_ENV)
    return samples_per_s(out)


def with_tui(preset: Path, cwd: Path, timeout: float = 600) -> tuple[float, float]:
    p = PtyProcess([TUILAB, str(preset), "--run"], cols=120, rows=40, cwd=str(cwd))
    done = p.read_for(timeout, until=lambda _: any(cwd.glob("runs/*/summary.json")))
    time.sleep(0.2)
    p.close()
    if not done:
        raise RuntimeError("the TUI's run did not finish")
    return samples_per_s(cwd / "runs")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=2.0, help="training seconds per lane")
    args = ap.parse_args(argv)
    tui, plain = [], []
    with tempfile.TemporaryDirectory() as d:
        preset = tiny_preset(Path(d) / "six.toml", epochs=args.seconds, unit="seconds",
                             measure=f"every = {args.seconds / 4}")
        for r in range(args.reps):
            a, b = Path(d) / f"h{r}", Path(d) / f"t{r}"
            a.mkdir()
            b.mkdir()
            plain.append(headless(preset, a))
            tui.append(with_tui(preset, b))
    print(f"# UI overhead: six lanes, {args.seconds:g} s of training each, {args.reps} runs each, ABAB")
    print(f"# {machine(with_torch=False)}")
    rows = [["tuilab run (headless)", f"{median([s for s, _ in plain]):,.0f}", f"{median([w for _, w in plain]):.1f}"],
            ["tuilab --run (TUI, 120x40 pty)", f"{median([s for s, _ in tui]):,.0f}", f"{median([w for _, w in tui]):.1f}"]]
    print(table(["", "samples/s (lane clocks)", "run wall s"], rows))
    ratio = median([s for s, _ in tui]) / median([s for s, _ in plain])
    print(f"# runs: headless {[round(s) for s, _ in plain]}, TUI {[round(s) for s, _ in tui]}")
    print(f"TUI/headless samples/s ratio: {ratio:.3f} (goal >= 0.90)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
