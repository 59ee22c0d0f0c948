"""Shared helpers of the benchmarks: the machine's description and small statistics."""

from __future__ import annotations

import datetime
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
TUILAB = str(Path(PY).with_name("tuilab"))


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (or platform's guess elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine(with_torch: bool = True) -> str:
    """One line: CPU, cores, torch version and GPU (if any), date."""
    parts = [cpu_model(), f"{os.cpu_count()} cores"]
    if with_torch:
        import torch

        parts.append(f"torch {torch.__version__}")
        if torch.cuda.is_available():
            parts.append(torch.cuda.get_device_name(0))
    parts.append(datetime.datetime.now().strftime("%Y-%m-%d %H:%M"))
    return ", ".join(parts)


def median(xs) -> float:
    return statistics.median(xs)


def spread(xs) -> float:
    """Relative spread: (max - min) / median."""
    m = statistics.median(xs)
    return (max(xs) - min(xs)) / m if m else float("nan")


def table(headers: list[str], rows: list[list]) -> str:
    """A plain, aligned text table."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def tiny_preset(path: Path, lanes: int = 6, epochs: float = 3, n: int = 20000) -> Path:
    """A six-lane preset file for the process-level benchmarks (startup, traffic, memory, UI)."""
    sizes = [8, 16, 32, 64, 128, 256, 512, 1024][:lanes]
    path.write_text(f'''name = "bench-six"
description = "six lanes for the benchmarks"
device = "cpu"
seed = 0
batch_sizes = {sizes}

[dataset]
name = "teacher"
n = {n}
dim = 32
classes = 4
noise = 0.05

[model]
kind = "mlp"
hidden = [128, 128]

[optimizer]
kind = "sgd"
lr = 0.05

[budget]
unit = "epochs"
amount = {epochs}
''')
    return path


def git_rev() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True).stdout.strip()
    except OSError:
        return "?"
