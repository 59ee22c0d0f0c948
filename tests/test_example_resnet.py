"""The shipped example (examples/resnet_bn), shrunk, end to end through `tuilab run --json`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tuilab.presets import dumps_preset, load_preset

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "resnet_bn"


def test_the_example_runs_end_to_end_with_two_batch_noise_and_an_answer(tmp_path):
    exp = load_preset(EXAMPLE / "preset.toml")
    assert exp.user_code() == [str(EXAMPLE / "model.py"), str(EXAMPLE / "data.py")]  # absolute now
    exp.device, exp.batch_sizes = "cpu", [16, 64]
    exp.dataset.limit = 200
    exp.budget.amount = 2
    exp.measure.noise_batches, exp.measure.noise_draws, exp.measure.slope_draws = (16, 64), 4, 2
    (tmp_path / "small.toml").write_text(dumps_preset(exp))
    # One thread, as conftest sets for the tests in this process: two would fight over two shared cores.
    env = {**os.environ, "TUILAB_CONFIG_DIR": str(tmp_path / "config"), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "tuilab.cli", "run", "small.toml", "--json", "--out", "runs"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr[-2000:]
    first = done.stderr.splitlines()[0]
    assert first == f"this preset imports: {EXAMPLE / 'model.py'}, {EXAMPLE / 'data.py'}"
    summary = json.loads(done.stdout)
    assert summary["noise_method"] == "two-batch"
    assert [ln["status"] for ln in summary["lanes"]] == ["finished", "finished"]
    assert all(ln["micro_batch"] is None for ln in summary["lanes"])
    measured = [ln for ln in summary["lanes"] if ln["b_simple"] is not None]
    assert measured and all(ln["b_simple_stderr"] > 0 for ln in measured)
    assert summary["b_simple"] > 0
    assert summary["recommendation"]["text"]
    small = summary["lanes"][0]  # B=16 took 25 steps: it learned
    assert small["final_train_loss"] < 0.9 * small["start_train_loss"] and small["final_test_accuracy"] > 0.2
