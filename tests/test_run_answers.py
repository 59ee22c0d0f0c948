"""`tuilab run --json` carries the answer of issue 4, consistent with the run's own metrics."""

from __future__ import annotations

import json
import math

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
[budget]
unit = "epochs"
amount = 2
[measure]
every = 0.25
probe_examples = 64
slope_draws = 8
"""


def test_json_summary_answers_the_question(tmp_path, capsys):
    preset = tmp_path / "answers.toml"
    preset.write_text(PRESET)
    assert main(["run", str(preset), "--device", "cpu", "--json", "--out", str(tmp_path / "runs")]) == 0
    s = json.loads(capsys.readouterr().out)

    assert -1.0 < s["noise_slope"] < 0.0 and s["noise_slope_stderr"] >= 0
    assert s["b_simple"] > 0
    assert s["b_crit"] is None or s["b_crit"] > 0
    target = s["target_loss"]
    assert target > 0
    rec = s["recommendation"]
    sizes = {ln["batch_size"] for ln in s["lanes"]}
    assert rec["fastest_batch_size"] in sizes and rec["fewest_examples_batch_size"] in sizes
    assert rec["critical_batch_size"] == (s["b_crit"] if s["b_crit"] is not None else s["b_simple"])
    assert isinstance(rec["text"], str) and f"B={rec['fastest_batch_size']}" in rec["text"]

    events = [json.loads(x) for x in (tmp_path / "runs").glob("*/metrics.jsonl").__next__().read_text().splitlines()]
    reached = []
    for ln in s["lanes"]:
        curve = [(e["step"], e["examples"], e["seconds"], e["train_loss"]) for e in events
                 if e["type"] == "LaneProgress" and e["lane"] == ln["lane"]]
        tt = ln["to_target"]
        if tt is None:  # the default target is one every lane reaches
            assert min(c[3] for c in curve) > target
            continue
        reached.append(ln)
        assert set(tt) == {"steps", "examples", "seconds"}
        assert 0 <= tt["steps"] <= ln["steps"] and 0 <= tt["examples"] <= ln["examples"]
        assert 0 <= tt["seconds"] <= ln["train_seconds"] + 1e-9
        # The crossing lies between the last report above the target and the first at or below it.
        first = next(i for i, c in enumerate(curve) if c[3] <= target)
        assert curve[first][0] >= tt["steps"] - 1e-9
        assert first == 0 or curve[first - 1][0] <= tt["steps"] and curve[first - 1][3] > target
        assert math.isclose(tt["examples"] / tt["steps"], ln["batch_size"], rel_tol=1e-9) if tt["steps"] else True
    assert len(reached) == len(s["lanes"])  # default target: every lane gets there
    fastest = min(reached, key=lambda ln: ln["to_target"]["seconds"])
    fewest = min(reached, key=lambda ln: ln["to_target"]["examples"])
    assert rec["fastest_batch_size"] == fastest["batch_size"]
    assert rec["fewest_examples_batch_size"] == fewest["batch_size"]
