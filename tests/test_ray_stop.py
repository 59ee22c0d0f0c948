"""Ctrl-C during a run on the Ray backend stops every actor and leaves no Ray process behind.

Apart from test_ray_backend.py, whose module-wide Ray would make this test skip.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")


def _ray_processes() -> list[str]:
    out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    return [ln for ln in out.splitlines() if any(k in ln for k in ("raylet", "gcs_server", "ray::"))]


@pytest.mark.slow
def test_ctrl_c_stops_every_actor_and_leaves_no_ray_process(tmp_path: Path):
    if ray.is_initialized() or _ray_processes():
        pytest.skip("another Ray is running on this machine")
    preset = tmp_path / "p.toml"
    preset.write_text('name = "ray-stop"\ndevice = "cpu"\nbatch_sizes = [8, 32]\n'
                      '[budget]\nunit = "seconds"\namount = 120\n[resources]\nbackend = "ray"\n')
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "tuilab.cli", "run", str(preset), "--out", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        metrics = None
        deadline = time.time() + 90
        while time.time() < deadline:  # wait until both lanes have reported from their actors
            found = list(tmp_path.glob("*/metrics.jsonl"))
            if found and found[0].read_text().count('"LaneProgress"') >= 4:
                metrics = found[0]
                break
            time.sleep(0.5)
        assert metrics is not None, "the Ray run never reported"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
    time.sleep(1.0)
    assert _ray_processes() == []
    assert '"interrupted": true' in (metrics.parent / "summary.json").read_text()
