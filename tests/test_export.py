"""tuilab export: a lane as a standalone PyTorch script that reproduces it, and metrics as CSV."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tuilab.cli import main
from tuilab.engine.store import read_events
from tuilab.errors import UserError
from tuilab.export import CSV_COLUMNS, export_lane, metrics_csv

MOONS = """
name = "tiny-moons"
seed = 3
batch_sizes = [16, 64]
[dataset]
name = "moons"
n = 600
[model]
kind = "mlp"
hidden = [16, 16]
[optimizer]
lr = 0.2
momentum = 0.5
[budget]
unit = "epochs"
amount = 2
[measure]
every = 0.5
probe_examples = 32
slope_draws = 4
"""

LINREG = """
name = "tiny-linreg"
seed = 1
batch_sizes = [8, 32]
[dataset]
name = "linreg"
n = 500
dim = 5
noise = 0.3
[model]
kind = "linear"
[optimizer]
lr = 0.02
lr_scaling = "linear"
base_batch_size = 8
warmup_epochs = 0.5
[budget]
unit = "steps"
amount = 60
[measure]
every = 7
probe_examples = 32
slope_draws = 4
"""

SCHEDULES = """
name = "tiny-schedules"
batch_sizes = [8]
[[variants]]
label = "decay lr"
decay_epochs = [1]
decay_factor = 0.25
[[variants]]
label = "grow batch"
grow_epochs = [1]
grow_factor = 4
[dataset]
name = "spiral"
n = 400
[model]
kind = "mlp"
hidden = [16]
[budget]
unit = "epochs"
amount = 2
[measure]
every = 0.25
probe_examples = 32
slope_draws = 4
"""


def run_preset(tmp_path: Path, text: str) -> Path:
    """Run a preset headless on the CPU and return its run directory."""
    preset = tmp_path / "p.toml"
    preset.write_text(text)
    assert main(["run", str(preset), "--device", "cpu", "--out", str(tmp_path / "runs")]) == 0
    (run_dir,) = (tmp_path / "runs").iterdir()
    return run_dir


def engine_curve(run_dir: Path, batch_size: int, label: str = "") -> dict[int, float]:
    events, _ = read_events(run_dir)
    lane = next(li.lane for li in events[0].lanes if li.batch_size == batch_size and li.label == label)
    return {ev.step: ev.train_loss for ev in events if type(ev).__name__ == "LaneProgress" and ev.lane == lane}


def script_curve(script: Path) -> dict[int, float]:
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True,
                         cwd=script.parent, timeout=120).stdout
    curve = {}
    for line in out.splitlines():
        words = line.split()
        curve[int(words[1])] = float(words[words.index("train_loss") + 1])
    return curve


def assert_same_curve(run_dir: Path, batch_size: int, label: str | None = None):
    script, data = export_lane(run_dir, batch_size, label, run_dir / "export" / "train.py")
    text = script.read_text()
    assert data.is_file() and "import tuilab" not in text and "from tuilab" not in text
    ours, theirs = script_curve(script), engine_curve(run_dir, batch_size, label or "")
    assert sorted(ours) == sorted(theirs)
    for step, loss in theirs.items():
        assert ours[step] == pytest.approx(loss, abs=1e-5), f"step {step}"


def test_exported_mlp_classifier_reproduces_the_lane(tmp_path):
    run_dir = run_preset(tmp_path, MOONS)
    assert_same_curve(run_dir, 64)


def test_exported_linreg_with_scaling_and_warmup_reproduces_the_lane(tmp_path):
    run_dir = run_preset(tmp_path, LINREG)
    assert_same_curve(run_dir, 32)


@pytest.fixture(scope="module")
def schedules_run(tmp_path_factory) -> Path:
    """One run with a decay variant and a grow variant, shared by the tests below."""
    return run_preset(tmp_path_factory.mktemp("schedules"), SCHEDULES)


def test_exported_schedules_reproduce_decay_and_growth(schedules_run):
    run_dir = schedules_run
    assert_same_curve(run_dir, 8, "decay lr")
    assert_same_curve(run_dir, 8, "grow batch")


def test_export_refuses_bad_input(tmp_path, schedules_run, capsys):
    with pytest.raises(UserError, match="not a run directory"):
        export_lane(tmp_path, 8)
    run_dir = schedules_run
    with pytest.raises(UserError, match=r"valid: 8 \(decay lr\), 8 \(grow batch\)"):
        export_lane(run_dir, 7)
    with pytest.raises(UserError, match="--label"):
        export_lane(run_dir, 8)
    capsys.readouterr()
    assert main(["export", str(run_dir), "--lane", "9"]) == 2
    assert "not a lane of this run" in capsys.readouterr().err
    assert main(["export", str(run_dir), "--lane", "8", "--csv"]) == 2
    assert main(["export", str(tmp_path), "--csv"]) == 2
    # With --label the lane is found; by default the script and its data go into the run directory.
    assert main(["export", str(run_dir), "--lane", "8", "--label", "grow batch"]) == 0
    assert (run_dir / "train_b8_grow-batch.py").is_file() and (run_dir / "train_b8_grow-batch.pt").is_file()


def test_metrics_csv_has_one_row_per_lane_and_report(tmp_path, schedules_run, capsys):
    run_dir = schedules_run
    text = metrics_csv(run_dir)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert tuple(rows[0]) == CSV_COLUMNS
    lines = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    reports = [x for x in lines if x["type"] == "LaneProgress"]
    assert len(rows) == len(reports)
    assert [r["lane"] for r in rows] == sorted(r["lane"] for r in rows)
    grow = [r for r in rows if r["label"] == "grow batch"]
    assert {int(r["batch_size"]) for r in grow} == {8, 32}  # the batch grew 4x at epoch 1
    first = next(x for x in reports if x["lane"] == 0)
    assert float(rows[0]["train_loss"]) == first["train_loss"]
    assert rows[0]["test_accuracy"] != "" and rows[0]["step"] == "0"
    # To a file (atomically) and to stdout, through the command line.
    out = tmp_path / "m.csv"
    capsys.readouterr()
    assert main(["export", str(run_dir), "--csv", "-o", str(out)]) == 0
    assert out.read_text() == text
    assert main(["export", str(run_dir), "--csv"]) == 0
    assert capsys.readouterr().out == text
