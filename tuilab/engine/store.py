"""The run directory: resolved experiment, environment, append-only metrics, summary.

Its files, formats and statuses are described in docs/run-directory.md; the
names below are the only place the code spells them. Readers never trust the
file to be whole: a line cut off by a crash ends the read with a warning
instead of an exception. A writer that cannot write (a full disk, the directory
removed or made read-only mid-run) raises RunDirError once, with one line that
names the directory and the cause, and keeps what it had flushed readable.
"""

from __future__ import annotations

import errno
import json
import math
import os
import platform
import re
import socket
import time
from collections.abc import Iterator
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any

from tuilab.engine.events import (
    Event,
    LaneFailed,
    RunFinished,
    RunStarted,
    event_from_dict,
    event_to_dict,
)
from tuilab.errors import UserError
from tuilab.format import lane_name
from tuilab.presets import Experiment, atomic_write_text, dumps_preset

EXPERIMENT = "experiment.toml"
ENV = "env.json"
METRICS = "metrics.jsonl"
SUMMARY = "summary.json"
ERRORS = "errors.log"  # tracebacks of faults inside the engine (a failed lane or run)
DETACH_LOG = "log.txt"  # stdout and stderr of a `tuilab run --detach` process


class RunStatus(str, Enum):
    """How a run stands, as `tuilab runs` lists it."""

    FINISHED = "finished"
    CANCELLED = "cancelled"  # the user cancelled it (c); what was measured is kept
    INTERRUPTED = "interrupted"  # quit, Ctrl-C, SIGTERM or a dropped connection
    FAILED = "failed"  # a fault outside any lane, or the run directory could not be written
    RUNNING = "running"  # no summary yet and its writer process is alive
    CUT_OFF = "cut off"  # no summary and its writer is gone (kill -9, power loss)

    def __str__(self) -> str:
        return self.value


class RunDirError(Exception):
    """The run directory cannot be written: one line naming it and the cause."""

    def __init__(self, path: Path, cause: OSError):
        if cause.errno == errno.ENOENT:
            what = "was removed while the run wrote to it"
        else:
            what = f"cannot be written ({cause.strerror or cause})"
        super().__init__(f"run directory {path} {what}; the run stopped, what was written before is kept")
        self.path = path


def finished_status(ev: RunFinished) -> RunStatus:
    """The status a RunFinished gives its run."""
    if ev.error:
        return RunStatus.FAILED
    if ev.cancelled:
        return RunStatus.CANCELLED
    return RunStatus.INTERRUPTED if ev.interrupted else RunStatus.FINISHED


def summary_json(ev: RunFinished, error: str | None = None) -> dict[str, Any]:
    """summary.json and the `--json` output: the summary with how the run ended.

    `error` (a run directory that could not be written) overrides the event's.
    """
    summary = ev.summary.to_json() if ev.summary is not None else {}
    status = RunStatus.FAILED if error else finished_status(ev)
    return summary | {"interrupted": ev.interrupted, "wall_seconds": ev.wall_seconds,
                      "status": status.value, "error": error or ev.error}


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
    """JSON text with NaN and inf as null."""
    return json.dumps(_clean(x), allow_nan=False, **kw)


class RunStore:
    """Writes one run directory. Every write is flushed; the summary is atomic.

    After the first failed write `error` holds the RunDirError and later writes
    do nothing, so the driver can let the engine wind down and still report.
    """

    def __init__(self, path: Path):
        self.path = path
        self.error: RunDirError | None = None
        self._lanes: dict[int, str] = {}  # lane index -> its name, for errors.log
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
            atomic_write_text(path / EXPERIMENT, dumps_preset(exp))
            env = {"torch": torch.__version__, "python": platform.python_version(), "host": socket.gethostname(),
                   "pid": os.getpid(), "started": datetime.now().isoformat(timespec="seconds"),
                   "cuda": torch.version.cuda, "device_requested": exp.device}
            atomic_write_text(path / ENV, dumps(env, indent=2))
            return cls(path)
        except OSError as e:
            raise UserError(f"--out {base}: cannot create the run directory ({e.strerror or e})") from None

    @classmethod
    def open(cls, path: str | os.PathLike) -> RunStore:
        """Continue writing a directory made by create() in another process (--detach)."""
        p = Path(path)
        if not (p / EXPERIMENT).is_file():
            raise UserError(f"{p}: not a run directory made by tuilab (no {EXPERIMENT})")
        store = cls(p)
        store.set_writer_pid(os.getpid())
        return store

    def set_writer_pid(self, pid: int) -> None:
        """Record which process writes this run: `tuilab runs` checks it for liveness."""
        self._update_env(pid=pid)

    def _update_env(self, **fields) -> None:
        env = json.loads((self.path / ENV).read_text())
        env.update(fields)
        atomic_write_text(self.path / ENV, dumps(env, indent=2))

    def write(self, ev: Event) -> None:
        """Append one event and flush it to the OS, so a crash keeps it.

        Raises RunDirError on the first write that fails; after that, does nothing.
        """
        if self.error is not None:
            return
        try:
            if isinstance(ev, RunStarted):
                self._lanes = {li.lane: lane_name(li) for li in ev.lanes}
                self._update_env(device=ev.device, device_name=ev.device_name)
            self._metrics.write(dumps(event_to_dict(ev)) + "\n")
            self._metrics.flush()
            if os.fstat(self._metrics.fileno()).st_nlink == 0:  # Linux writes on into a deleted file
                raise FileNotFoundError(errno.ENOENT, "removed")
            if getattr(ev, "traceback", ""):
                self._log_fault(ev)
            if isinstance(ev, RunFinished):
                atomic_write_text(self.path / SUMMARY, dumps(summary_json(ev), indent=2))
        except OSError as e:
            self.error = RunDirError(self.path, e)
            self.close()
            raise self.error from None

    def _log_fault(self, ev: LaneFailed | RunFinished) -> None:
        who = f"lane {ev.lane} ({self._lanes.get(ev.lane, '?')})" if isinstance(ev, LaneFailed) else "the run"
        stamp = datetime.now().isoformat(timespec="seconds")
        with open(self.path / ERRORS, "a", encoding="utf-8") as f:
            f.write(f"--- {stamp} {who}: {ev.reason if isinstance(ev, LaneFailed) else ev.error}\n"
                    f"{ev.traceback}\n")

    def close(self) -> None:
        """Close the metrics file; never raises (a full disk fails its last flush too)."""
        try:
            self._metrics.close()
        except OSError:
            pass


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
    """`path` as a Path if it holds a metrics file, else a UserError."""
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


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def run_status(run_dir: str | os.PathLike) -> RunStatus:
    """How the run in run_dir ended, or that it still runs (its writer is alive) or was cut off."""
    run_dir = Path(run_dir)
    summary = read_summary(run_dir)
    if isinstance(summary, dict):
        if summary.get("status") in RunStatus._value2member_map_:
            return RunStatus(summary["status"])
        return RunStatus.INTERRUPTED if summary.get("interrupted") else RunStatus.FINISHED  # before "status"
    try:
        env = json.loads((run_dir / ENV).read_text())
        if _alive(int(env["pid"])):
            return RunStatus.RUNNING
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return RunStatus.CUT_OFF


def recent_runs(base: str | os.PathLike, limit: int = 20) -> list[tuple[Path, RunStatus]]:
    """Newest run directories under base, with their status."""
    b = Path(base)
    if not b.is_dir():
        return []
    # Names start with the start time, so name order is start order.
    dirs = sorted((d for d in b.iterdir() if (d / METRICS).is_file()),
                  key=lambda d: d.name, reverse=True)[:limit]
    return [(d, run_status(d)) for d in dirs]
