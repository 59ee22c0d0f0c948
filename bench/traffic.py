"""Benchmark 5: bytes per second the TUI writes to its terminal while six lanes run, at 120x40.

`tuilab PRESET --run` runs under a 120x40 pty (TIOCSWINSZ); every byte it writes is
counted. Once every lane has reported twice (start-up, first frames and the
initial noise slope are over) the bytes of each whole second of a --seconds window are counted; the
mean (what a link must carry), median and max are reported. The app draws only
when data changes, so idle seconds (0 bytes) are normal. Then ctrl+q ends the app. This is the terminal
stream itself; bench/ssh_traffic.py measures the same over a real ssh link.

    python bench/traffic.py [--seconds 20] [--every EPOCHS] [--preset FILE]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import TUILAB, PtyProcess, lanes_reported, machine, median, table, tiny_preset  # noqa: E402

GOAL = 25_000


def per_second(chunks: list[tuple[float, bytes]], start: float, seconds: int) -> list[int]:
    bins = [0] * seconds
    for t, data in chunks:
        i = int(t - start)
        if 0 <= i < seconds:
            bins[i] += len(data)
    return bins


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--warmup", type=float, default=120.0, help="longest wait for every lane's reports")
    ap.add_argument("--every", type=float, default=1.0,
                    help="epochs between a lane's reports in the default preset (the report rate drives the traffic)")
    ap.add_argument("--preset", help="preset file (default: six lanes, teacher 8k, mlp 64x64, 200 epochs: it "
                                     "outlasts the window on a quiet machine; ctrl+q ends it)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as cwd:
        preset = args.preset or str(tiny_preset(Path(cwd) / "six.toml", epochs=200,
                                                     measure=f"every = {args.every}"))
        p = PtyProcess([TUILAB, preset, "--run"], cols=120, rows=40, cwd=cwd)
        # The window opens once every lane has reported twice (or after --warmup at the latest).
        ready = p.read_for(args.warmup, until=lambda _: lanes_reported(Path(cwd) / "runs"))
        start = p.chunks[-1][0] if p.chunks else 0.0
        p.read_for(args.seconds + 0.5)
        alive = p.proc.poll() is None
        finished = any((Path(cwd) / "runs").glob("*/summary.json"))
        p.close()
    bins = per_second(p.chunks, start, args.seconds)
    print(f"# terminal traffic: `tuilab PRESET --run`, six lanes, 120x40 pty, {args.seconds} s window "
          f"from {start:.1f} s" + ("" if ready else " (WARNING: not every lane had reported yet)"))
    print(f"# {machine(with_torch=False)}")
    print(f"# bytes per second: {bins}")
    if not alive or finished:
        print("# WARNING: the run ended before the window closed: idle seconds are in the figure")
    mean = statistics.mean(bins)
    rows = [["mean", f"{mean / 1000:.1f}"], ["median", f"{median(bins) / 1000:.1f}"],
            ["max", f"{max(bins) / 1000:.1f}"], ["start-up (before window)",
                                                 f"{sum(len(c) for t, c in p.chunks if t < start) / 1000:.1f} KB"]]
    print(table(["", "KB/s"], rows))
    verdict = "meets" if mean < GOAL else "misses"
    print(f"terminal traffic mean: {mean / 1000:.1f} KB/s ({verdict} the goal < {GOAL / 1000:g} KB/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
