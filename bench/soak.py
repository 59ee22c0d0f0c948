"""Soak test (not CI): the real TUI in a tmux pane, six lanes, ten minutes.

Drives `tuilab PRESET --run` in a detached 120x40 tmux session and, while the
lanes train, samples every few seconds:

- the TUI process's resident memory (RSS, from /proc), which must stay flat:
  sparkline and plot histories are bounded, so after a warm-up the growth over
  the second half of the soak should be a few MB at most;
- key press to screen change latency: press `x` (cycle the x axis) and poll the
  pane until its "x: <axis>" label shows the next axis. The figure includes
  tmux's own capture time (a few ms), so it is an upper bound; the target is
  under 100 ms while training.

Prints one JSON object (and writes it with --json-out). Needs Linux and tmux.

    .venv/bin/python bench/soak.py                 # 10 minutes, 6 lanes
    .venv/bin/python bench/soak.py --minutes 0.5   # a quick check of the harness
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TUILAB = Path(sys.executable).parent / "tuilab"
AXES = ("epochs", "steps", "seconds")
AXIS_LABEL = re.compile(r"x: (epochs|steps|seconds)")

PRESET = """
name = "soak"
description = "Six lanes on moons for the soak test."
device = "{device}"
seed = 0
batch_sizes = [4, 8, 16, 32, 64, 128]

[dataset]
name = "moons"
n = 8000

[model]
kind = "mlp"
hidden = [64, 64]

[optimizer]
kind = "sgd"
lr = 0.05

[budget]
unit = "seconds"
amount = {seconds}

[measure]
every = 1.0
probe_examples = 128
"""


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=False).stdout


def rss_mb(pid: int) -> float | None:
    """Resident memory of a process, in MB (None once it has gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def key_latency(session: str, timeout: float = 2.0) -> float | None:
    """Seconds from sending `x` until the pane shows the next x axis (None if it never did)."""
    found = AXIS_LABEL.findall(tmux("capture-pane", "-p", "-t", session))
    if not found:
        return None
    want = AXES[(AXES.index(found[-1]) + 1) % len(AXES)]
    t0 = time.perf_counter()
    tmux("send-keys", "-t", session, "x")
    while time.perf_counter() - t0 < timeout:
        shown = AXIS_LABEL.findall(tmux("capture-pane", "-p", "-t", session))
        if shown and shown[-1] == want:
            return time.perf_counter() - t0
        time.sleep(0.002)
    return None


def soak(minutes: float, sample_every: float, device: str) -> dict:
    seconds = minutes * 60
    work = Path(tempfile.mkdtemp(prefix="tuilab-soak-"))
    preset = work / "soak.toml"
    # Each lane gets the whole soak as its training-time budget: the lanes never finish early.
    preset.write_text(PRESET.format(device=device, seconds=max(10, int(seconds))))
    session = f"tuilab-soak-{work.name}"
    # exec: the pane's process is the TUI itself, so its pid is the one to sample.
    # Textual draws on stderr: nothing is redirected.
    cmd = f"cd {work} && exec env TERM=xterm-256color {TUILAB} {preset} --run"
    tmux("new-session", "-d", "-s", session, "-x", "120", "-y", "40", cmd)
    rss: list[tuple[float, float]] = []
    latencies: list[float] = []
    missed = 0
    try:
        pid = int(tmux("display-message", "-p", "-t", session, "#{pane_pid}").strip())
        t_start = time.monotonic()
        while not AXIS_LABEL.search(tmux("capture-pane", "-p", "-t", session)):
            if time.monotonic() - t_start > 60:
                raise SystemExit("the Run screen never showed up:\n" + tmux("capture-pane", "-p", "-t", session))
            time.sleep(0.2)
        t0 = time.monotonic()
        while (elapsed := time.monotonic() - t0) < seconds:
            mb = rss_mb(pid)
            if mb is None:
                raise SystemExit("the TUI exited during the soak:\n" + tmux("capture-pane", "-p", "-t", session))
            rss.append((round(elapsed, 1), round(mb, 1)))
            lat = key_latency(session)
            if lat is None:
                missed += 1
            else:
                latencies.append(lat)
            time.sleep(max(0.0, sample_every - (time.monotonic() - t0 - elapsed)))
        screen = tmux("capture-pane", "-p", "-t", session)
    finally:
        tmux("send-keys", "-t", session, "c")  # cancel the run, then leave
        time.sleep(1.0)
        tmux("send-keys", "-t", session, "q")
        time.sleep(0.5)
        tmux("send-keys", "-t", session, "q")
        time.sleep(1.0)
        tmux("kill-session", "-t", session)
    return summarise(rss, latencies, missed, minutes, screen, work)


def summarise(rss, latencies, missed, minutes, screen, work) -> dict:
    """Memory growth over the second half (after warm-up) and latency percentiles."""
    half = [mb for t, mb in rss if t >= rss[-1][0] / 2] if rss else []
    ms = sorted(x * 1000 for x in latencies)

    def pct(p: float) -> float | None:
        return round(ms[min(len(ms) - 1, int(p * len(ms)))], 1) if ms else None

    growth = round(half[-1] - half[0], 1) if len(half) > 1 else None
    result = {
        "minutes": minutes, "lanes": 6, "work_dir": str(work),
        "rss_mb": {"first": rss[0][1] if rss else None, "last": rss[-1][1] if rss else None,
                   "max": max(mb for _, mb in rss) if rss else None, "second_half_growth": growth},
        "key_to_screen_ms": {"n": len(ms), "missed": missed, "p50": pct(0.5), "p95": pct(0.95),
                             "max": ms[-1] if ms else None,
                             "mean": round(statistics.fmean(ms), 1) if ms else None},
        "rss_samples": rss,
        "last_screen": screen,
    }
    result["memory_flat"] = growth is not None and growth < 20.0
    result["responsive"] = bool(ms) and pct(0.95) < 100.0 and missed == 0
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--sample-every", type=float, default=5.0, help="seconds between RSS/latency samples")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--json-out", help="also write the result here")
    args = ap.parse_args()
    if shutil.which("tmux") is None or not Path("/proc/self/status").exists():
        print("soak needs tmux and Linux /proc", file=sys.stderr)
        return 2
    result = soak(args.minutes, args.sample_every, args.device)
    text = json.dumps(result, indent=2)
    if args.json_out:
        Path(args.json_out).write_text(text)
    print(json.dumps({k: v for k, v in result.items() if k not in ("rss_samples", "last_screen")}, indent=2))
    return 0 if result["memory_flat"] and result["responsive"] else 1


if __name__ == "__main__":
    sys.exit(main())
