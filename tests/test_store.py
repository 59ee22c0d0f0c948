import json
import threading

import pytest

from tuilab.engine.events import (
    LaneFailed,
    LaneInfo,
    LaneProgress,
    NoiseSlope,
    RunFinished,
    RunStarted,
    SlopePoint,
    event_from_dict,
    event_to_dict,
)
from tuilab.engine.store import RunStore, follow, read_events, read_summary
from tuilab.engine.summary import RunSummary
from tuilab.errors import UserError
from tuilab.presets import Experiment, load_preset


def _started(run_dir=None):
    return RunStarted("t", "cpu", "CPU", "moons 100", "mlp", 80, 20, 10, "epochs", 1.0,
                      (LaneInfo(0, "", 8, 0.1), LaneInfo(1, "lin", 32, 0.4)), run_dir, ("note",))


def _progress(lane, step, loss):
    return LaneProgress(lane, step, step * 8, step * 0.1, step * 0.01, 0.5, 8, 0.1, loss, loss, loss, 0.5,
                        800.0, noise=1.5, b_simple=12.0, tr_sigma=3.0, g_norm2=0.25)


EVENTS = [
    _started(),
    NoiseSlope("init", -0.5, 0.01, (SlopePoint(8, 1.0, 0.98), SlopePoint(32, 0.5, None)), 12.0, "ok"),
    _progress(0, 1, 0.7),
    LaneFailed(1, "diverged", "loss became nan", 3, 96, 0.1),
    RunFinished(False, 1.5, RunSummary(name="t", b_simple=12.0)),
]


def test_events_round_trip_through_dicts_and_json():
    for ev in EVENTS:
        assert event_from_dict(json.loads(json.dumps(event_to_dict(ev)))) == ev


def test_store_writes_everything_and_reads_it_back(tmp_path):
    store = RunStore.create(tmp_path, Experiment(name="my run/1"))
    for ev in EVENTS:
        store.write(ev)
    store.close()
    d = store.path
    assert d.parent == tmp_path and d.name.endswith("-my-run-1")
    assert load_preset(d / "experiment.toml") == Experiment(name="my run/1")
    env = json.loads((d / "env.json").read_text())
    assert env["device"] == "cpu" and "torch" in env
    events, warning = read_events(d)
    assert events == EVENTS and warning is None
    summary = read_summary(d)
    assert RunSummary.from_json(summary) == RunSummary(name="t", b_simple=12.0, wall_seconds=1.5)
    assert (summary["status"], summary["error"], summary["interrupted"]) == ("finished", None, False)


def test_nan_is_written_as_null_not_invalid_json(tmp_path):
    store = RunStore.create(tmp_path, Experiment())
    store.write(RunFinished(True, float("nan"), RunSummary(b_simple=float("inf"))))
    store.close()
    line = (store.path / "metrics.jsonl").read_text()
    assert "NaN" not in line and "Infinity" not in line
    assert read_summary(store.path)["b_simple"] is None


def test_damaged_metrics_are_read_up_to_the_damage(tmp_path):
    store = RunStore.create(tmp_path, Experiment())
    for ev in EVENTS[:3]:
        store.write(ev)
    store.close()
    f = store.path / "metrics.jsonl"
    whole = f.read_text()
    f.write_text(whole + '{"type": "LaneProg')  # cut off mid-line, as kill -9 can leave it
    events, warning = read_events(store.path)
    assert events == EVENTS[:3] and "partial line" in warning
    f.write_text(whole + "garbage\n" + whole)
    events, warning = read_events(store.path)
    assert events == EVENTS[:3] and "line 4 is damaged" in warning


def test_not_a_run_dir(tmp_path):
    with pytest.raises(UserError, match="not a run directory"):
        read_events(tmp_path)


def test_follow_sees_events_written_later(tmp_path):
    store = RunStore.create(tmp_path, Experiment())
    store.write(EVENTS[0])
    seen = []
    done = threading.Event()

    def reader():
        for ev in follow(store.path, lambda: False, poll=0.01):
            seen.append(ev)
        done.set()

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    for ev in EVENTS[1:]:
        store.write(ev)
    assert done.wait(5)
    assert seen == EVENTS
