"""`tuilab run --detach` returns at once and the run goes on in its own session."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from tuilab.engine.store import run_status


def test_detached_run_outlives_its_parent_and_finishes(tmp_path):
    cmd = [sys.executable, "-m", "tuilab.cli", "run", "quickstart", "--epochs", "0.5", "--batch-sizes", "32,128",
           "--device", "cpu", "--out", str(tmp_path / "runs"), "--detach"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    run_dir = Path(r.stdout.strip())
    assert run_dir.parent == tmp_path / "runs"
    pid = json.loads((run_dir / "env.json").read_text())["pid"]
    assert pid != os.getpid()
    assert os.getsid(pid) == pid  # its own session: a dropped ssh connection's SIGHUP can't reach it
    deadline = time.time() + 60
    while run_status(run_dir) == "running" and time.time() < deadline:
        time.sleep(0.2)
    assert run_status(run_dir) == "finished", (run_dir / "log.txt").read_text()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert [ln["status"] for ln in summary["lanes"]] == ["finished", "finished"]


def test_detach_checks_input_before_starting(tmp_path):
    cmd = [sys.executable, "-m", "tuilab.cli", "run", "quickstart", "--batch-sizes", "99999",
           "--out", str(tmp_path / "runs"), "--detach"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "larger than the training set" in r.stderr
    assert not (tmp_path / "runs").exists()
