"""Benchmark 6: peak RSS of a six-lane CPU run (`tuilab run`), and per-lane device memory on CUDA.

The run is a child process; its peak resident set comes from wait4's rusage
(ru_maxrss, the kernel's own high-water mark), with /proc/PID/status polled
beside it as a check. For scale, the same figure for `python -c "import torch"`.
On CUDA (--device cuda), the engine's own per-lane memory_bytes (parameters,
gradients, optimizer state and the slice's activation peak) is printed per lane.

    python bench/memory.py [--device cuda]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import CHILD_ENV, PY, TUILAB, machine, table, tiny_preset  # noqa: E402


def peak_rss(argv: list[str], cwd: str) -> tuple[float, float, float]:
    """(peak RSS MiB from rusage, peak MiB seen polling /proc, wall seconds)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=CHILD_ENV)
    polled = 0
    status = Path(f"/proc/{proc.pid}/status")
    while True:
        pid, _, usage = os.wait4(proc.pid, os.WNOHANG)  # rusage of this child alone, once it ends
        if pid:
            proc.returncode = 0
            break
        try:
            for line in status.read_text().splitlines():
                if line.startswith("VmRSS:"):
                    polled = max(polled, int(line.split()[1]))
        except OSError:
            pass
        time.sleep(0.05)
    return usage.ru_maxrss / 1024, polled / 1024, time.perf_counter() - t0


def lane_memory(device: str = "cuda", epochs: float = 0.5) -> None:
    """The engine's own per-lane memory_bytes (None on a CPU) for the same six lanes."""
    from tuilab.engine.events import LaneProgress
    from tuilab.engine.run import prepare, run_plan
    from tuilab.presets import experiment_from_dict, load_preset

    with tempfile.TemporaryDirectory() as d:
        data = load_preset(tiny_preset(Path(d) / "six.toml", epochs=epochs)).model_dump(exclude_none=True)
    exp = experiment_from_dict({**data, "device": device})
    last = {}
    for ev in run_plan(prepare(exp)):
        if isinstance(ev, LaneProgress):
            last[ev.lane] = ev
    rows = [[i, ev.batch_size, f"{(ev.memory_bytes or 0) / 2**20:.2f}"] for i, ev in sorted(last.items())]
    print(f"\nper-lane device memory on {device} (engine's memory_bytes):")
    print(table(["lane", "B", "MiB"], rows))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--epochs", type=float, default=1)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as cwd:
        preset = tiny_preset(Path(cwd) / "six.toml", epochs=args.epochs)
        torch_rss, torch_poll, _ = peak_rss([PY, "-c", "import torch"], cwd)
        run_rss, run_poll, wall = peak_rss([TUILAB, "run", str(preset), "--out", cwd, "--json"], cwd)
        summary = next(Path(cwd).glob("*/summary.json"), None)
        ok = summary is not None and not json.loads(summary.read_text()).get("interrupted", True)
    print(f"# memory: six-lane CPU run (teacher 8k x 16, mlp 64x64, B 8..256, {args.epochs:g} epochs)")
    print(f"# {machine()}")
    print(table(["process", "peak RSS MiB (rusage)", "peak RSS MiB (/proc poll)", "wall s"], [
        ["python -c 'import torch'", f"{torch_rss:.0f}", f"{torch_poll:.0f}", ""],
        [f"tuilab run six lanes{'' if ok else ' (did not finish!)'}", f"{run_rss:.0f}", f"{run_poll:.0f}",
         f"{wall:.1f}"],
    ]))
    if args.device.startswith("cuda"):
        lane_memory(args.device)
    print(f"six-lane run peak RSS: {run_rss:.0f} MiB ({run_rss - torch_rss:+.0f} MiB over import torch)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
