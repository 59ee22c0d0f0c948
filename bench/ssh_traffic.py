"""Bytes per second crossing a real ssh link while the lab draws a six-lane run at 120x40.

A private sshd on 127.0.0.1 (tests/e2e/sshd.py: throwaway keys, key-only root
login) serves `tuilab PRESET --run`; the ssh client runs under a pty of 120x40
made here, and every byte it writes to that pty is counted: that is the terminal
stream the remote lab sends. The TCP payload the server sent (ss's bytes_acked on
sshd's socket: encrypted, with SSH framing) is reported beside it, and it is the
figure held to the goal (< 25 KB/s). The window starts once every lane has
reported and lasts --seconds. Needs root with sshd installed (scripts/ci-system-deps.sh).

    .venv/bin/python bench/ssh_traffic.py [--seconds 30] [--lanes 6]
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "e2e"))
from _common import machine  # noqa: E402
from sshd import Sshd, ensure_system_deps, remote  # noqa: E402

GOAL = 25_000  # bytes per second over the link
COLS, ROWS = 120, 40


def server_sent(port: int) -> int:
    """TCP payload bytes sshd has sent (and had acknowledged) on its established connections."""
    out = subprocess.run(["ss", "-tinH", "state", "established", f"( sport = :{port} )"],
                         capture_output=True, text=True).stdout
    return sum(int(n) for n in re.findall(r"bytes_acked:(\d+)", out))


def spawn_in_pty(argv: list[str]) -> tuple[int, int]:
    """Start argv with a fresh 120x40 pty as its terminal; returns (pid, master fd)."""
    pid, fd = pty.fork()
    if pid == 0:
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
        os.execvp(argv[0], argv)
    return pid, fd


def busy_preset(path: Path) -> Path:
    """Six lanes that report often enough (every 0.05 epoch of small moons) that the UI's
    4 Hz batching, not the training speed, sets the pace: the worst case for traffic, as on a GPU."""
    path.write_text("""name = "ssh-traffic"
device = "cpu"
batch_sizes = [8, 16, 32, 64, 128, 256]
[dataset]
name = "moons"
n = 2000
[model]
kind = "mlp"
hidden = [32, 32]
[budget]
unit = "epochs"
amount = 500
[measure]
every = 0.05
probe_examples = 64
reference_examples = 512
slope_draws = 8
""")
    return path


def lanes_reported(work: Path) -> int:
    """How many lanes have a LaneProgress line in the (one) run directory under work/runs."""
    lanes = set()
    for metrics in work.glob("runs/*/metrics.jsonl"):
        for line in metrics.read_text().splitlines():
            if '"LaneProgress"' in line:
                try:
                    lanes.add(json.loads(line)["lane"])
                except (ValueError, KeyError):
                    pass  # a line caught mid-write
    return len(lanes)


def measure(server: Sshd, work: Path, lab_args: list[str], seconds: float, lanes: int) -> dict:
    argv = server.argv(remote(lab_args, work, {"TERM": "xterm-256color"}), tty=True)
    pid, fd = spawn_in_pty(argv)
    t0 = time.monotonic()
    total, window = 0, None  # window: (t, pty bytes, wire bytes) at its start
    next_look = t0
    try:
        while True:
            now = time.monotonic()
            if window is None and now - t0 > 120:
                raise RuntimeError("the lanes did not all report within 120 s")
            if window is not None and now - window[0] >= seconds:
                break
            ready, _, _ = select.select([fd], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:  # the ssh client ended
                    raise RuntimeError("ssh ended before the window closed") from None
                total += len(chunk)
            if window is None and now >= next_look:
                next_look = now + 0.5
                if lanes_reported(work) >= lanes:  # every lane is on screen and moving
                    window = (time.monotonic(), total, server_sent(server.port))
        elapsed = time.monotonic() - window[0]
        reports = sum(m.read_text().count('"LaneProgress"') for m in work.glob("runs/*/metrics.jsonl"))
        return {"seconds": elapsed, "pty_bytes": total - window[1], "reports": reports,
                "wire_bytes": server_sent(server.port) - window[2], "startup_bytes": window[1],
                "startup_seconds": window[0] - t0}
    finally:
        os.kill(pid, signal.SIGTERM)  # the remote lab gets SIGHUP, as on a dropped connection
        os.waitpid(pid, 0)
        os.close(fd)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=30.0, help="length of the measured window")
    ap.add_argument("--quickstart", action="store_true",
                    help="the quickstart preset with six lanes and its own report cadence instead")
    args = ap.parse_args()
    why = ensure_system_deps()
    if why:
        print(f"ssh_traffic: cannot run: {why}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        work = tmp / "lab"
        work.mkdir()
        lab_args = (["quickstart", "--run", "--batch-sizes", "8,16,32,64,128,256", "--device", "cpu"]
                    if args.quickstart else [str(busy_preset(tmp / "busy.toml")), "--run"])
        server = Sshd(tmp / "sshd").start()
        try:
            r = measure(server, work, lab_args, args.seconds, 6)
        finally:
            server.stop()
            time.sleep(1)  # let the remote lab finish writing before the directory goes
    pty_rate, wire_rate = r["pty_bytes"] / r["seconds"], r["wire_bytes"] / r["seconds"]
    print(f"ssh traffic: `tuilab {' '.join(lab_args[1:] if args.quickstart else ['BUSY', '--run'])}`"
          f" ({'quickstart' if args.quickstart else 'busy preset'}), 6 lanes at {COLS}x{ROWS}")
    print(f"  {r['seconds']:.0f} s window, {r['reports']} lane reports written by then "
          f"(after {r['startup_seconds']:.1f} s and {r['startup_bytes'] / 1000:.0f} KB of start-up)")
    print(f"  terminal stream (what ssh writes to its pty): {pty_rate / 1000:.1f} KB/s")
    print(f"  over the link (TCP payload sshd sent):        {wire_rate / 1000:.1f} KB/s  "
          f"(goal < {GOAL / 1000:.0f} KB/s: {'met' if wire_rate < GOAL else 'MISSED'})")
    print(f"  {machine(with_torch=False)}")
    r.update(pty_rate=pty_rate, wire_rate=wire_rate)
    print(json.dumps(r))
    return 0 if wire_rate < GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
