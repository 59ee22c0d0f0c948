"""Bytes per second crossing a real ssh link while the lab draws a six-lane run at 120x40.

A private sshd on 127.0.0.1 (tests/e2e/sshd.py: throwaway keys, key-only root
login) serves `tuilab PRESET --run`; the ssh client runs under a pty of 120x40
made here, and every byte it writes to that pty is counted: that is the terminal
stream the remote lab sends. The TCP payload the server sent (ss's bytes_acked on
sshd's socket: encrypted, with SSH framing) is reported beside it, and it is the
figure held to the goal (< 25 KB/s). The window starts once every lane has
reported and lasts --seconds. Needs root with sshd installed (scripts/ci-system-deps.sh).

    .venv/bin/python bench/ssh_traffic.py [--seconds 30] [--quickstart] [--device cuda] [--no-ssh]
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
from sshd import Sshd, ensure_system_deps, remote, tuilab_exe  # noqa: E402

GOAL = 25_000  # bytes per second over the link
COLS, ROWS = 120, 40


def server_sent(port: int) -> int:
    """TCP payload bytes sshd has sent (and had acknowledged) on its established connections."""
    out = subprocess.run(["ss", "-tinH", "state", "established", f"( sport = :{port} )"],
                         capture_output=True, text=True).stdout
    return sum(int(n) for n in re.findall(r"bytes_acked:(\d+)", out))


def sent(server: Sshd | None) -> int:
    return server_sent(server.port) if server is not None else 0


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


def measure(server: Sshd | None, work: Path, lab_args: list[str], seconds: float, lanes: int) -> dict:
    """Count the bytes of the lab's screen; with server None, the lab runs in the pty itself (no ssh)."""
    if server is not None:
        argv = server.argv(remote(lab_args, work, {"TERM": "xterm-256color"}), tty=True)
    else:
        argv = ["env", "-u", "COLORTERM", "TERM=xterm-256color", tuilab_exe(), *lab_args]
        os.chdir(work)  # the lab writes runs/ here, as the remote one does after its cd
    pid, fd = spawn_in_pty(argv)
    t0 = time.monotonic()
    total, window = 0, None  # window: (t, pty bytes, wire bytes) at its start
    next_look = t0
    per_second: dict[int, int] = {}
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
                    raise RuntimeError("the lab (or ssh) ended before the window closed") from None
                total += len(chunk)
                if window is not None:
                    second = int(now - window[0])
                    per_second[second] = per_second.get(second, 0) + len(chunk)
            if window is None and now >= next_look:
                next_look = now + 0.5
                if lanes_reported(work) >= lanes:  # every lane is on screen and moving
                    window = (time.monotonic(), total, sent(server))
        elapsed = time.monotonic() - window[0]
        reports = sum(m.read_text().count('"LaneProgress"') for m in work.glob("runs/*/metrics.jsonl"))
        busiest = sorted(per_second.get(i, 0) for i in range(int(elapsed)))
        return {"seconds": elapsed, "pty_bytes": total - window[1], "reports": reports,
                "median_second": busiest[len(busiest) // 2], "busiest_second": busiest[-1],
                "quietest_second": busiest[0],
                "wire_bytes": sent(server) - window[2], "startup_bytes": window[1],
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
    ap.add_argument("--device", default="cpu", help="the lab's device (cuda on a GPU server)")
    ap.add_argument("--no-ssh", action="store_true",
                    help="run the lab in the pty directly (where no sshd can be installed): the screen stream only")
    args = ap.parse_args()
    why = None if args.no_ssh else ensure_system_deps()
    if why:
        print(f"ssh_traffic: cannot run: {why}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        work = tmp / "lab"
        work.mkdir()
        lab_args = (["quickstart", "--run", "--batch-sizes", "8,16,32,64,128,256"] if args.quickstart
                    else [str(busy_preset(tmp / "busy.toml")), "--run"]) + ["--device", args.device]
        server = None if args.no_ssh else Sshd(tmp / "sshd").start()
        try:
            r = measure(server, work, lab_args, args.seconds, 6)
        finally:
            if server is not None:
                server.stop()
            time.sleep(1)  # let the remote lab finish writing before the directory goes
    pty_rate, wire_rate = r["pty_bytes"] / r["seconds"], r["wire_bytes"] / r["seconds"]
    print(f"ssh traffic: `tuilab {' '.join(lab_args if args.quickstart else ['BUSY', '--run'])}`"
          f" ({'quickstart' if args.quickstart else 'busy preset'}), 6 lanes at {COLS}x{ROWS}")
    print(f"  {r['seconds']:.0f} s window, {r['reports']} lane reports written by then "
          f"(after {r['startup_seconds']:.1f} s and {r['startup_bytes'] / 1000:.0f} KB of start-up)")
    print(f"  terminal stream (what ssh writes to its pty): {pty_rate / 1000:.1f} KB/s")
    print(f"  per second of the stream: quietest {r['quietest_second'] / 1000:.1f} KB, "
          f"median {r['median_second'] / 1000:.1f} KB, busiest {r['busiest_second'] / 1000:.1f} KB")
    judged = pty_rate if args.no_ssh else wire_rate
    if not args.no_ssh:
        print(f"  over the link (TCP payload sshd sent):        {wire_rate / 1000:.1f} KB/s")
    print(f"  goal < {GOAL / 1000:.0f} KB/s: {'met' if judged < GOAL else 'MISSED'}")
    print(f"  {machine(with_torch=args.device != 'cpu')}")
    r.update(pty_rate=pty_rate, wire_rate=wire_rate)
    print(json.dumps(r))
    return 0 if judged < GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
