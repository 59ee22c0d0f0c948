"""Ctrl-C, SIGTERM, SIGHUP and kill -9 during `tuilab run` (a real subprocess): nothing is lost.

Each test starts a small linreg run with a huge budget, waits until the run loop
has written some reports, interrupts it and checks the run directory, the exit
code and how long the stop took.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tuilab.engine.events import LaneFinished, LaneProgress, RunFinished, RunStarted
from tuilab.engine.store import read_events, read_summary, run_status

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

PRESET = """
name = "sig"
device = "cpu"
seed = 0
batch_sizes = [4, 16, 64]
[dataset]
name = "linreg"
n = 2000
dim = 4
[optimizer]
lr = 0.01
[budget]
unit = "epochs"
amount = 100000
[measure]
every = 0.2
probe_examples = 32
reference_examples = 256
slope_draws = 4
"""
STOP_BOUND_S = 6.0  # the stop itself takes well under a second; the rest is summary, printing, a loaded CI box


def _start(tmp_path: Path, *extra: str, **kw) -> subprocess.Popen:
    (tmp_path / "sig.toml").write_text(PRESET)
    return subprocess.Popen([sys.executable, "-m", "tuilab.cli", "run", "sig.toml", "--out", "runs", "--json", *extra],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "COLUMNS": "200"}, start_new_session=True, **kw)


def _wait_for_reports(tmp_path: Path, proc, n: int, timeout: float = 60) -> Path:
    """The run directory, once the loop has written `n` LaneProgress lines after the initial ones."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        for metrics in tmp_path.glob("runs/*/metrics.jsonl"):
            lines = metrics.read_text().splitlines()
            if sum('"LaneProgress"' in ln for ln in lines) >= 3 + n:
                return metrics.parent
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("the run wrote no reports in time")


def _check_run_dir(run_dir: Path, interrupted: bool) -> list:
    events, warning = read_events(run_dir)
    assert warning is None, warning
    assert isinstance(events[0], RunStarted) and isinstance(events[-1], RunFinished)
    assert events[-1].interrupted is interrupted
    summary = read_summary(run_dir)
    assert summary["interrupted"] is interrupted
    assert run_status(run_dir) == ("interrupted" if interrupted else "finished")
    # The summary's lanes agree with the last events of each lane.
    ends = {e.lane: e for e in events if isinstance(e, LaneFinished)}
    for lane in summary["lanes"]:
        assert lane["status"] == ends[lane["lane"]].status
        assert lane["steps"] == ends[lane["lane"]].steps > 0
    return events


MID_RUN = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def test_signal_mid_run_keeps_everything(tmp_path):
    """SIGINT, SIGTERM, SIGHUP (three runs at once, to keep the test short) end each run cleanly."""
    procs = {}
    for sig in MID_RUN:
        (tmp_path / sig.name).mkdir()
        procs[sig] = _start(tmp_path / sig.name)
    for sig, proc in procs.items():
        run_dir = _wait_for_reports(tmp_path / sig.name, proc, 4)
        t0 = time.monotonic()
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
        took = time.monotonic() - t0
        assert proc.returncode == 128 + sig, (sig.name, err[-3000:])
        assert "Traceback" not in err
        assert took < STOP_BOUND_S, f"{sig.name}: stop took {took:.2f} s"
        summary = json.loads(out)  # --json still prints the summary, as one object
        assert summary["interrupted"] is True
        assert [ln["status"] for ln in summary["lanes"]] == ["cancelled"] * 3
        assert all(ln["steps"] > 0 and ln["final_train_loss"] is not None for ln in summary["lanes"])
        _check_run_dir(run_dir, interrupted=True)
        assert summary == read_summary(run_dir)


def _signal_handlers_installed(pid: int) -> bool:
    """True once the process catches SIGTERM (Python itself catches only SIGINT)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    caught = int(next(ln.split()[1] for ln in status.splitlines() if ln.startswith("SigCgt:")), 16)
    return bool(caught & (1 << (signal.SIGTERM - 1)))


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=lambda s: s.name)
def test_signal_before_the_loop_leaves_no_mess(tmp_path, sig):
    """A stop while torch is imported or data loads: one line, the signal's exit code, no run directory."""
    proc = _start(tmp_path)
    deadline = time.monotonic() + 30
    while not _signal_handlers_installed(proc.pid):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.005)
    t0 = time.monotonic()
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert time.monotonic() - t0 < STOP_BOUND_S
    assert proc.returncode == 128 + sig, err
    assert "Traceback" not in err and "interrupted before the run started" in err
    assert out == ""
    assert not list(tmp_path.glob("runs/*"))


def test_kill_9_keeps_what_was_flushed(tmp_path):
    proc = _start(tmp_path)
    run_dir = _wait_for_reports(tmp_path, proc, 4)
    before = (run_dir / "metrics.jsonl").read_bytes()
    proc.kill()
    proc.communicate(timeout=30)
    events, warning = read_events(run_dir)
    whole = before[: before.rfind(b"\n") + 1].count(b"\n")
    assert len(events) >= whole  # everything flushed before the kill, and perhaps a little more
    assert warning is None or "partial line" in warning
    assert sum(isinstance(e, LaneProgress) for e in events) >= 7
    assert read_summary(run_dir) is None and run_status(run_dir) == "cut off"
    if importlib.util.find_spec("tuilab.export") is not None:  # `tuilab export --csv` reads it too
        proc = subprocess.run([sys.executable, "-m", "tuilab.cli", "export", str(run_dir), "--csv"],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
        rows = proc.stdout.strip().splitlines()
        assert len(rows) - 1 == sum(isinstance(e, LaneProgress) for e in events)


def test_sighup_from_a_closed_terminal(tmp_path):
    """An SSH connection dropping: the pty goes away, the kernel sends SIGHUP, writes to it fail."""
    import pty

    (tmp_path / "sig.toml").write_text(PRESET)
    pid, fd = pty.fork()
    if pid == 0:  # child: its controlling terminal is the pty
        os.chdir(tmp_path)
        os.execv(sys.executable, [sys.executable, "-m", "tuilab.cli", "run", "sig.toml", "--out", "runs", "--json"])
    try:
        deadline = time.monotonic() + 60
        run_dir = None
        while time.monotonic() < deadline:
            try:
                os.read(fd, 65536)  # keep the pty drained while waiting
            except OSError:
                break
            dirs = list(tmp_path.glob("runs/*/metrics.jsonl"))
            if dirs and dirs[0].read_text().count('"LaneProgress"') >= 9:
                run_dir = dirs[0].parent
                break
        assert run_dir is not None, "no reports in time"
    finally:
        os.close(fd)  # hang up: the kernel sends SIGHUP to the session
    t0 = time.monotonic()
    _, status = os.waitpid(pid, 0)
    assert time.monotonic() - t0 < STOP_BOUND_S
    assert os.waitstatus_to_exitcode(status) == 128 + signal.SIGHUP
    _check_run_dir(run_dir, interrupted=True)
