"""Benchmark 4: time from launching `tuilab` to its first frame, against `import torch`.

The TUI runs under a 120x40 pty. Two moments are taken from the bytes it writes:
the alternate-screen escape (ESC[?1049h: the app has taken the terminal) and the
end of the first full frame (the first burst of output after it, at least
FRAME_BYTES long, followed by a quiet gap of GAP seconds). Then ctrl+q (SIGTERM if
need be) ends it. The references run as plain subprocesses, to exit. Launches
alternate between the commands, median of --reps.

    python bench/startup.py [--reps N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import CHILD_ENV, PY, TUILAB, PtyProcess, machine, median, table  # noqa: E402

ALT_SCREEN = b"\x1b[?1049h"
FRAME_BYTES = 1000
GAP = 0.05


def first_frame(chunks: list[tuple[float, bytes]]) -> tuple[float | None, float | None]:
    """(alternate screen, end of first frame) in seconds since launch, None if not seen."""
    alt = None
    seen = 0
    burst_bytes, last = 0, None
    for t, data in chunks:
        if alt is None:
            seen_data = data
            i = seen_data.find(ALT_SCREEN)
            if i < 0:
                seen += len(data)
                continue
            alt, data = t, data[i + len(ALT_SCREEN):]
        if last is not None and t - last > GAP and burst_bytes >= FRAME_BYTES:
            return alt, last
        if last is not None and t - last > GAP:
            burst_bytes = 0
        burst_bytes += len(data)
        last = t
    return alt, (last if burst_bytes >= FRAME_BYTES else None)


def tui_launch(argv: list[str], cwd: str) -> tuple[float | None, float | None]:
    p = PtyProcess(argv, cwd=cwd)

    def framed(pp):
        alt, frame = first_frame(pp.chunks)
        return frame is not None and time.perf_counter() - pp.t0 > frame + GAP

    p.read_for(15.0, until=framed)
    alt, frame = first_frame(p.chunks)
    p.close()
    return alt, frame


def process_time(argv: list[str], cwd: str) -> float:
    import subprocess

    t0 = time.perf_counter()
    subprocess.run(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, env=CHILD_ENV)
    return time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args(argv)
    refs = {
        "python -c 'import torch'": [PY, "-c", "import torch"],
        "python -c 'import textual.app'": [PY, "-c", "import textual.app"],
        "python -c 'import tuilab.cli'": [PY, "-c", "import tuilab.cli"],
        "tuilab --help": [TUILAB, "--help"],
    }
    times: dict[str, list[float]] = {k: [] for k in refs}
    alts, frames = [], []
    with tempfile.TemporaryDirectory() as cwd:  # no runs/ of ours left behind, no last-run notice
        for _ in range(args.reps):
            for k, cmd in refs.items():
                times[k].append(process_time(cmd, cwd))
            alt, frame = tui_launch([TUILAB], cwd)
            if alt is not None:
                alts.append(alt)
            if frame is not None:
                frames.append(frame)
    torch_s = median(times["python -c 'import torch'"])
    rows = [[k, f"{median(v):.3f}", f"{median(v) / torch_s:.2f}"] for k, v in times.items()]
    if alts:
        rows.append(["tuilab: alternate screen", f"{median(alts):.3f}", f"{median(alts) / torch_s:.2f}"])
    if frames:
        rows.append(["tuilab: first full frame", f"{median(frames):.3f}", f"{median(frames) / torch_s:.2f}"])
    else:
        rows.append(["tuilab: first full frame", "not measured: no frame seen", ""])
    print(f"# startup, median of {args.reps} launches each, interleaved; 120x40 pty")
    print(f"# {machine(with_torch=False)}")
    print(table(["command", "seconds", "/ import torch"], rows))
    print(f"first frame: {median(frames):.3f} s (goal < 1 s)" if frames else "first frame: not seen")
    return 0


if __name__ == "__main__":
    sys.exit(main())
