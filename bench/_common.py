"""Shared helpers of the benchmarks: the machine's description and small statistics."""

from __future__ import annotations

import datetime
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
TUILAB = str(Path(PY).with_name("tuilab"))
# Child processes of the process-level benchmarks train with one torch thread: on a
# small machine shared with other work, two threads stall each other at every op.
CHILD_ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


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
    parts.append(f"load average {os.getloadavg()[0]:.1f}")
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


def tiny_preset(path: Path, lanes: int = 6, epochs: float = 1, n: int = 8000, unit: str = "epochs",
                measure: str = "") -> Path:
    """A six-lane preset file for the process-level benchmarks (traffic, memory, UI overhead).

    `epochs` is the budget's amount in `unit`; `measure` is extra TOML lines of [measure].
    """
    sizes = [8, 16, 32, 64, 128, 256, 512, 1024][:lanes]
    path.write_text(f'''name = "bench-six"
description = "six lanes for the benchmarks"
device = "cpu"
seed = 0
batch_sizes = {sizes}

[dataset]
name = "teacher"
n = {n}
dim = 16
classes = 4
noise = 0.05

[model]
kind = "mlp"
hidden = [64, 64]

[optimizer]
kind = "sgd"
lr = 0.05

[budget]
unit = "{unit}"
amount = {epochs}

[measure]
{measure}
''')
    return path


def lanes_reported(run_parent: Path, lanes: int = 6, reports: int = 2) -> bool:
    """True once every lane of the run under run_parent has at least `reports` progress events."""
    import json

    for metrics in run_parent.glob("*/metrics.jsonl"):
        counts: dict = {}
        for line in metrics.read_text().splitlines():
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            if ev.get("type") == "LaneProgress":
                counts[ev["lane"]] = counts.get(ev["lane"], 0) + 1
        return len(counts) >= lanes and min(counts.values()) >= reports
    return False


def git_rev() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True).stdout.strip()
    except OSError:
        return "?"


class PtyProcess:
    """A command under a pseudo-terminal of a given size; every byte it writes is timestamped."""

    def __init__(self, argv: list[str], cols: int = 120, rows: int = 40, cwd: str | None = None,
                 env: dict | None = None):
        import fcntl
        import pty
        import struct
        import termios

        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        full_env = {**CHILD_ENV, "TERM": "xterm-256color", "COLUMNS": str(cols), "LINES": str(rows),
                    **(env or {})}
        self.t0 = time.perf_counter()
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, cwd=cwd, env=full_env,
                                     start_new_session=True, close_fds=True)
        os.close(slave)
        self.master = master
        self.chunks: list[tuple[float, bytes]] = []  # (seconds since launch, bytes)

    def read_for(self, seconds: float, until=None) -> bool:
        """Drain output for up to `seconds`; stop early when until(self) is true (returns True)."""
        import select

        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            if until is not None and until(self):
                return True
            r, _, _ = select.select([self.master], [], [], 0.02)
            if r:
                try:
                    data = os.read(self.master, 65536)
                except OSError:  # the child closed the terminal
                    return until is not None and until(self)
                if not data:
                    break
                self.chunks.append((time.perf_counter() - self.t0, data))
            elif self.proc.poll() is not None:
                break
        return until is not None and until(self)

    def output(self) -> bytes:
        return b"".join(c for _, c in self.chunks)

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def close(self, key: bytes = b"\x11", grace: float = 5.0) -> int | None:
        """Ask it to quit with `key` (ctrl+q), then SIGTERM, then SIGKILL; drain while waiting."""
        import signal

        for action in (lambda: self.send(key), lambda: os.killpg(self.proc.pid, signal.SIGTERM),
                       lambda: os.killpg(self.proc.pid, signal.SIGKILL)):
            if self.proc.poll() is not None:
                break
            try:
                action()
            except OSError:
                pass
            deadline = time.perf_counter() + grace
            while self.proc.poll() is None and time.perf_counter() < deadline:
                self.read_for(0.1)
        os.close(self.master)
        return self.proc.wait()
