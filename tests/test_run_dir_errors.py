"""A run directory that cannot be written: disk full, removed mid-run, a fault failing the run.

`tuilab run` must stop cleanly with one line naming the directory and the cause,
keep what it had flushed readable, still print the `--json` summary (with the
error) and exit with its own code; never a traceback.
"""

from __future__ import annotations

import argparse
import errno
import json
import shutil
import subprocess
import sys

import pytest

from tuilab.engine import run as run_module
from tuilab.engine import store as store_module
from tuilab.engine.store import RunStore, read_events, run_status
from tuilab.errors import EXIT_RUN_DIR, EXIT_RUN_FAILED
from tuilab.headless import run_headless
from tuilab.presets import dumps_preset, experiment_from_dict

EXP = {"name": "full", "device": "cpu", "seed": 0, "batch_sizes": [8, 32],
       "dataset": {"name": "linreg", "n": 400, "dim": 4}, "optimizer": {"lr": 0.02},
       "budget": {"unit": "epochs", "amount": 1.0},
       "measure": {"every": 0.25, "probe_examples": 16, "reference_examples": 64, "slope_draws": 4,
                   "share": 1.0}}  # every report measured and written: the faults count on it


class _FillingFile:
    """A text file whose flush fails with ENOSPC after `room` successful flushes, as a full disk's does.

    Unflushed text stays buffered and is retried (and fails again) on close, as with a real file.
    """

    def __init__(self, real, room: int):
        self._real, self._room, self._buf = real, room, ""

    def write(self, text: str) -> int:
        self._buf += text
        return len(text)

    def flush(self) -> None:
        if self._buf and self._room <= 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        self._room -= 1
        self._real.write(self._buf)
        self._buf = ""
        self._real.flush()

    def fileno(self) -> int:
        return self._real.fileno()

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._real.close()


def _args(tmp_path, **kw) -> argparse.Namespace:
    return argparse.Namespace(out=str(tmp_path / "runs"), json=True, into=None, **kw)


def _only_run_dir(tmp_path):
    (run_dir,) = (tmp_path / "runs").iterdir()
    return run_dir


def test_disk_full_stops_the_run_with_one_line_the_json_summary_and_its_exit_code(tmp_path, monkeypatch, capsys):
    real_open = open

    def filling_open(path, mode="r", *a, **kw):
        f = real_open(path, mode, *a, **kw)
        return _FillingFile(f, room=6) if str(path).endswith("metrics.jsonl") else f

    monkeypatch.setattr(store_module, "open", filling_open, raising=False)
    code = run_headless(experiment_from_dict(EXP), _args(tmp_path))
    out, err = capsys.readouterr()
    run_dir = _only_run_dir(tmp_path)
    assert code == EXIT_RUN_DIR
    summary = json.loads(out)
    assert summary["status"] == "failed" and summary["interrupted"]
    assert summary["error"].startswith(f"run directory {run_dir} cannot be written (No space left on device)")
    assert [ln["status"] for ln in summary["lanes"]] == ["cancelled", "cancelled"]
    assert "Traceback" not in err and err.count("No space left on device") == 1
    events, warning = read_events(run_dir)  # the six flushed events stay whole and readable
    assert len(events) == 6 and warning is None


def test_run_dir_removed_mid_run_stops_it_and_is_not_recreated(tmp_path, monkeypatch, capsys):
    real_write = RunStore.write
    calls = {"n": 0}

    def write(self, ev):
        calls["n"] += 1
        if calls["n"] == 5:
            shutil.rmtree(self.path)  # `rm -rf runs/...` while the run writes
        return real_write(self, ev)

    monkeypatch.setattr(RunStore, "write", write)
    code = run_headless(experiment_from_dict(EXP), _args(tmp_path))
    out, err = capsys.readouterr()
    assert code == EXIT_RUN_DIR
    summary = json.loads(out)
    assert "was removed while the run wrote to it" in summary["error"] and summary["status"] == "failed"
    assert "Traceback" not in err and "was removed" in err
    assert list((tmp_path / "runs").iterdir()) == []  # no half directory with only a summary.json


def test_a_fault_outside_any_lane_fails_the_run_with_exit_4(tmp_path, monkeypatch, capsys):
    def broken(*a, **kw):
        raise ZeroDivisionError("float division by zero")

    monkeypatch.setattr(run_module, "measure_noise_slope", broken)
    code = run_headless(experiment_from_dict(EXP), _args(tmp_path))
    out, err = capsys.readouterr()
    run_dir = _only_run_dir(tmp_path)
    assert code == EXIT_RUN_FAILED
    assert json.loads(out)["error"] == "ZeroDivisionError: float division by zero"
    assert run_status(run_dir) == "failed" and "Traceback" not in err
    assert "ZeroDivisionError" in (run_dir / store_module.ERRORS).read_text()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/dev/full is Linux")
def test_a_real_full_device_through_the_command_line(tmp_path):
    """metrics.jsonl on /dev/full: every write fails with ENOSPC from the kernel itself."""
    exp = experiment_from_dict(EXP)
    store = RunStore.create(tmp_path, exp)
    store.close()
    (store.path / "metrics.jsonl").unlink()
    (store.path / "metrics.jsonl").symlink_to("/dev/full")
    (tmp_path / "full.toml").write_text(dumps_preset(exp))
    r = subprocess.run([sys.executable, "-m", "tuilab.cli", "run", str(tmp_path / "full.toml"), "--json",
                        "--into", str(store.path)], capture_output=True, text=True, timeout=120)
    assert r.returncode == EXIT_RUN_DIR, r.stderr[-3000:]
    assert "Traceback" not in r.stderr
    assert f"run directory {store.path} cannot be written (No space left on device)" in r.stderr
    assert json.loads(r.stdout)["status"] == "failed"
