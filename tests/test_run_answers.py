"""`tuilab run --json` on a real (small) run: the answer is consistent with the run's own metrics.

Every figure the summary states is recomputed here from metrics.jsonl or from the
lanes' own numbers: the crossings of the target, each batch size's best lr, goodput.
"""

from __future__ import annotations

import json
import math

import pytest

from tuilab.cli import main

PRESET = """
name = "answers"
seed = 2
batch_sizes = [8, 32, 128]
[dataset]
name = "moons"
n = 1200
[model]
kind = "mlp"
hidden = [16, 16]
[optimizer]
lr = 0.2
lr_grid = "auto"
[budget]
unit = "epochs"
amount = 2
[measure]
every = 0.25
probe_examples = 64
slope_draws = 8
"""


def run_json(tmp_path, capsys, *extra) -> tuple[dict, list[dict]]:
    preset = tmp_path / "answers.toml"
    preset.write_text(PRESET)
    assert main(["run", str(preset), "--device", "cpu", "--json", "--out", str(tmp_path / "runs"), *extra]) == 0
    s = json.loads(capsys.readouterr().out)
    metrics = next((tmp_path / "runs").glob("*/metrics.jsonl")).read_text().splitlines()
    return s, [json.loads(x) for x in metrics]


def test_lr_grid_trains_every_batch_size_at_every_lr(tmp_path, capsys):
    s, events = run_json(tmp_path, capsys)
    grid = [0.0666667, 0.2, 0.6]  # "auto": 0.2 x 1/3, 1, 3 to 6 significant digits
    assert sorted((ln["batch_size"], ln["lr_index"]) for ln in s["lanes"]) == \
        [(b, k) for b in (8, 32, 128) for k in range(3)]
    for ln in s["lanes"]:
        assert ln["lr"] == pytest.approx(grid[ln["lr_index"]])
    assert s["lr_tuned"] is True

    # Each batch size's best lr: its lane's test accuracy is within a point of the best of that batch size's
    # recommendable lanes (ties go to the fastest to the target).
    for p in s["per_batch_size"]:
        mine = [ln for ln in s["lanes"] if ln["batch_size"] == p["batch_size"]]
        best = next(ln for ln in mine if ln["lane"] == p["best_lane"])
        assert best["best_of_batch_size"] and best["lr"] == p["best_lr"]
        assert sorted(p["lrs"]) == pytest.approx(grid)
        ok = [ln for ln in mine if ln["progressed"] and not ln["unstable"] and not ln["undertrained"]]
        if ok and best in ok:
            assert best["final_test_accuracy"] >= max(ln["final_test_accuracy"] for ln in ok) - 0.01

    rec = s["recommendation"]
    if rec["batch_size"] is not None:
        chosen = next(ln for ln in s["lanes"] if ln["lane"] == rec["lane"])
        assert (chosen["batch_size"], chosen["lr"]) == (rec["batch_size"], rec["lr"])
        assert chosen["progressed"] and not chosen["unstable"] and not chosen["undertrained"]
        assert rec["text"].startswith(f"Use B={rec['batch_size']} with lr ")
    assert rec["reasons"] and all(r.endswith(".") for r in rec["reasons"])

    # Every lane's crossing of the target, against its own reports.
    target = s["target_loss"]
    assert target > 0
    for ln in s["lanes"]:
        curve = [(e["step"], e["train_loss"]) for e in events if e["type"] == "LaneProgress" and e["lane"] == ln["lane"]]
        assert ln["best_train_loss"] == pytest.approx(min(c[1] for c in curve))
        tt = ln["to_target"]
        if tt is None:
            assert ln["status"] != "finished" or min(c[1] for c in curve) > target
            continue
        first = next(i for i, c in enumerate(curve) if c[1] <= target)
        assert curve[first][0] >= tt["steps"] - 1e-9
        assert first == 0 or curve[first - 1][0] <= tt["steps"] and curve[first - 1][1] > target
        assert math.isclose(tt["examples"] / tt["steps"], ln["batch_size"], rel_tol=1e-9) if tt["steps"] else True

    # Goodput, by hand from the lanes' throughput and the noise scale the summary used.
    phi = s["noise_scale"]
    rates = {b: sum(v) / len(v) for b in (8, 32, 128)
             if (v := [ln["samples_per_s"] for ln in s["lanes"] if ln["batch_size"] == b])}
    raw = {b: (phi + b) / ((phi + 8) * t) for b, t in rates.items()}
    assert {p["batch_size"]: p["relative_time"] for p in s["goodput"]} == \
        pytest.approx({b: r / min(raw.values()) for b, r in raw.items()})
    assert s["predicted_batch_size"] == min(raw, key=raw.get)
    assert ("prediction held" in rec["text"]) == bool(s["prediction_held"])


def test_pilot_trains_a_tenth_and_predicts(tmp_path, capsys):
    s, events = run_json(tmp_path, capsys, "--pilot", "--batch-sizes", "8,128")
    assert s["pilot"] is True
    started = next(e for e in events if e["type"] == "RunStarted")
    assert started["pilot"] is True and started["budget_amount"] == pytest.approx(0.2)
    for ln in s["lanes"]:
        assert ln["examples"] == pytest.approx(0.2 * started["n_train"], abs=ln["batch_size"])
    small = next(ln["lane"] for ln in s["lanes"] if ln["batch_size"] == 8)
    reports = [e for e in events if e["type"] == "LaneProgress" and e["lane"] == small]
    assert len(reports) >= 15  # about 20 reports: every one measures in a pilot
    assert sum(e["b_simple"] is not None for e in reports) >= 8  # the noise scale at every other one
    assert s["predicted_batch_size"] in (8, 128)
    assert s["recommendation"]["batch_size"] == s["predicted_batch_size"]
    assert s["recommendation"]["text"].startswith(f"Pilot prediction: B={s['predicted_batch_size']}")
    assert s["prediction_held"] is None
