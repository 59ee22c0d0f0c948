"""The run directory: resolved experiment, environment, append-only metrics, summary.

runs/<time>-<name>/
  experiment.toml   the resolved preset
  env.json          torch version, device, host, pid, start time
  metrics.jsonl     one event per line, flushed at every report (survives kill -9)
  summary.json      written atomically at the end; "interrupted" says how it ended

Readers never trust the file to be whole: a line cut off by a crash ends the
read with a warning instead of an exception.
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
import socket
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from tuilab.engine.events import Event, RunFinished, RunStarted, event_from_dict, event_to_dict
from tuilab.errors import UserError
from tuilab.presets import Experiment, atomic_write_text, dumps_preset

METRICS = "metrics.jsonl"
SUMMARY = "summary.json"


def _clean(x: Any) -> Any:
    """JSON has no NaN/inf: write them as null."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    return x


def dumps(x: Any, **kw) -> str:
    return json.dumps(_clean(x), allow_nan=False, **kw)


class RunStore:
    """Writes one run directory. Every write is flushed; the summary is atomic."""

    def __init__(self, path: Path):
        self.path = path
        self._metrics = open(path / METRICS, "a", encoding="utf-8")

    @classmethod
    def create(cls, base: str | os.PathLike, exp: Experiment) -> RunStore:
        """Make runs/<time>-<name>/ under `base` and write the experiment and environment."""
        import torch

        slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", exp.name).strip("-") or "run"
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        base = Path(base)
        try:
            base.mkdir(parents=True, exist_ok=True)
            path = base / f"{stamp}-{slug}"
            n = 1
            while path.exists():
                n += 1
                path = base / f"{stamp}-{slug}-{n}"
            path.mkdir()
        except OSError as e:
            raise UserError(f"--out {base}: cannot create the run directory ({e.strerror})") from None
        atomic_write_text(path / "experiment.toml", dumps_preset(exp))
        env = {"torch": torch.__version__, "python": platform.python_version(), "host": socket.gethostname(),
               "pid": os.getpid(), "started": datetime.now().isoformat(timespec="seconds"),
               "cuda": torch.version.cuda, "device_requested": exp.device}
        atomic_write_text(path / "env.json", dumps(env, indent=2))
        return cls(path)

    @classmethod
    def open(cls, path: str | os.PathLike) -> RunStore:
        """Continue writing a directory made by create() in another process (--detach)."""
        p = Path(path)
        if not (p / "experiment.toml").is_file():
            raise UserError(f"{p}: not a run directory made by tuilab (no experiment.toml)")
        store = cls(p)
        store.set_writer_pid(os.getpid())
        return store

    def set_writer_pid(self, pid: int) -> None:
        """Record which process writes this run: `tuilab runs` checks it for liveness."""
        env = json.loads((self.path / "env.json").read_text())
        env["pid"] = pid
        atomic_write_text(self.path / "env.json", dumps(env, indent=2))

    def write(self, ev: Event) -> None:
        """Append one event and flush it to the OS, so a crash keeps it."""
        if isinstance(ev, RunStarted):
            env = json.loads((self.path / "env.json").read_text())
            env.update(device=ev.device, device_name=ev.device_name)
            atomic_write_text(self.path / "env.json", dumps(env, indent=2))
        self._metrics.write(dumps(event_to_dict(ev)) + "\n")
        self._metrics.flush()
        if isinstance(ev, RunFinished):
            self.finish(ev.summary | {"interrupted": ev.interrupted, "wall_seconds": ev.wall_seconds})

    def finish(self, summary: dict[str, Any]) -> None:
        atomic_write_text(self.path / SUMMARY, dumps(summary, indent=2))

    def close(self) -> None:
        self._metrics.close()


def _parse_lines(text: str, start_line: int = 1) -> tuple[list[Event], str | None]:
    events: list[Event] = []
    for i, line in enumerate(text.splitlines(), start_line):
        if not line.strip():
            continue
        try:
            events.append(event_from_dict(json.loads(line)))
        except (ValueError, KeyError, TypeError) as e:
            return events, f"{METRICS} line {i} is damaged ({type(e).__name__}); read up to line {i - 1}"
    return events, None


def check_run_dir(path: str | os.PathLike) -> Path:
    p = Path(path)
    if not (p / METRICS).is_file():
        raise UserError(f"{p}: not a run directory (no {METRICS}); run directories are under runs/")
    return p


def read_events(path: str | os.PathLike) -> tuple[list[Event], str | None]:
    """All whole events of a run directory, and a warning if the file is damaged."""
    p = check_run_dir(path)
    text = (p / METRICS).read_bytes().decode("utf-8", errors="replace")
    complete, _, _tail = text.rpartition("\n")  # a last line without newline may be mid-write
    events, warning = _parse_lines(complete)
    if warning is None and _tail.strip():
        warning = f"{METRICS} ends in a partial line (the writer was cut off); read the whole lines"
    return events, warning


def follow(path: str | os.PathLike, should_stop, poll: float = 0.25) -> Iterator[Event | str]:
    """Yield events as another process appends them; strings are warnings.

    Ends after RunFinished, or when should_stop() is true. Only whole lines are
    parsed, so a line caught half-written is read on the next poll.
    """
    p = check_run_dir(path) / METRICS
    pos, line_no, buf = 0, 1, b""
    while not should_stop():
        with open(p, "rb") as f:
            f.seek(pos)
            chunk = f.read()
        pos += len(chunk)
        buf += chunk
        whole, sep, buf = buf.rpartition(b"\n")
        if sep:
            events, warning = _parse_lines(whole.decode("utf-8", errors="replace"), line_no)
            line_no += whole.count(b"\n") + 1
            yield from events
            if warning:
                yield warning
                return
            if any(isinstance(e, RunFinished) for e in events):
                return
        time.sleep(poll)


def read_summary(path: str | os.PathLike) -> dict[str, Any] | None:
    """summary.json if the run finished or was interrupted cleanly, else None."""
    f = Path(path) / SUMMARY
    try:
        return json.loads(f.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
