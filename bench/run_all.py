"""Run every benchmark (`make bench`) and print each one's headline figure in one table.

Each benchmark runs as its own process (so start-up and memory figures are clean);
its full output is echoed, and its last line is the headline.

    python bench/run_all.py [--only NAME ...] [--device cuda]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import PY, machine, table  # noqa: E402

BENCHES = {
    "engine_vs_plain": ["engine_vs_plain.py"],
    "measurement_cost": ["measurement_cost.py", "--compare", "--parts"],
    "measurement_cost_big": ["measurement_cost.py", "--preset", "big", "--reps", "1", "--parts"],
    "startup": ["startup.py"],
    "traffic": ["traffic.py"],
    "memory": ["memory.py"],
    "ui_overhead": ["ui_overhead.py"],
    "ray_backend": ["ray_backend.py", "--reps", "1"],
}
CUDA_ARGS = {"engine_vs_plain", "measurement_cost", "measurement_cost_big", "memory"}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", choices=list(BENCHES))
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args(argv)
    rows = []
    for name in args.only or BENCHES:
        cmd = [PY, str(HERE / BENCHES[name][0]), *BENCHES[name][1:]]
        if args.device != "cpu" and name in CUDA_ARGS:
            cmd += ["--device", args.device]
        print(f"\n=== {name}: {' '.join(Path(c).name if c == PY else c for c in cmd)}", flush=True)
        t0 = time.perf_counter()
        r = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
        print(r.stdout, end="", flush=True)
        lines = [ln for ln in r.stdout.splitlines() if ln.strip()]
        rows.append([name, lines[-1] if r.returncode == 0 and lines else f"FAILED (exit {r.returncode})",
                     f"{time.perf_counter() - t0:.0f}"])
    print(f"\n# {machine()}")
    print(table(["benchmark", "headline", "s"], rows))
    return 0 if all(not r[1].startswith("FAILED") for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
