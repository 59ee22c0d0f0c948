"""Faults during a run, damaged run directories, and data safety.

A diverging or out-of-memory lane is marked with its reason and the other lanes
finish; a damaged metrics file is read up to the damage; presets are data only and
saving them is atomic, even with two writers at once.
"""

from __future__ import annotations

import ast
import multiprocessing
import threading
import time
from pathlib import Path

import pytest
import torch

from tuilab.engine import run as run_module
from tuilab.engine.events import LaneFailed, LaneFinished, NoiseSlope, RunFinished
from tuilab.engine.run import prepare, run_plan
from tuilab.engine.store import RunStore, read_events, read_summary
from tuilab.errors import UserError
from tuilab.presets import SHIPPED_DIR, Experiment, experiment_from_dict, load_preset, save_preset

TUILAB = Path(__file__).resolve().parent.parent / "tuilab"


def _exp(**over) -> Experiment:
    base = {"name": "fault", "device": "cpu", "seed": 0, "batch_sizes": [8, 32],
            "dataset": {"name": "linreg", "n": 500, "dim": 4},
            "optimizer": {"lr": 0.02}, "budget": {"unit": "epochs", "amount": 1.0},
            "measure": {"every": 0.25, "probe_examples": 16, "reference_examples": 128, "slope_draws": 4,
                        "noise_every": 1, "share": 1.0}}  # every report measured: the faults count on it
    return experiment_from_dict(base | over)


def _run_to_dir(tmp_path, exp: Experiment, fault_hook=None) -> tuple[list, dict, Path]:
    """Run through the store as `tuilab run` does; the events and the summary read back from disk."""
    store = RunStore.create(tmp_path, exp)
    for ev in run_plan(prepare(exp), fault_hook=fault_hook):
        store.write(ev)
    store.close()
    events, warning = read_events(store.path)
    assert warning is None
    return events, read_summary(store.path), store.path


def _statuses(summary: dict) -> dict[str, str]:
    return {f"{ln['label'] or 'plain'}-{ln['batch_size']}": ln["status"] for ln in summary["lanes"]}


def test_diverging_lanes_are_marked_and_the_others_finish(tmp_path):
    exp = _exp(variants=[{"label": "hot", "lr": 1e3}, {"label": "ok", "lr": 0.02}])
    events, summary, _ = _run_to_dir(tmp_path, exp)
    assert _statuses(summary) == {"hot-8": "diverged", "hot-32": "diverged", "ok-8": "finished", "ok-32": "finished"}
    failed = [e for e in events if isinstance(e, LaneFailed)]
    assert {e.lane for e in failed} == {0, 1}
    for e in failed:
        assert e.status == "diverged" and "loss became" in e.reason and "lr 1e+03 too high" in e.reason
    hot = [ln for ln in summary["lanes"] if ln["label"] == "hot"]
    assert all(ln["reason"] and ln["to_target"] is None for ln in hot)
    ok = [ln for ln in summary["lanes"] if ln["label"] == "ok"]
    assert all(ln["final_train_loss"] < 10 for ln in ok)
    assert events[-1].interrupted is False


def test_a_step_past_several_report_marks_is_not_divergence(tmp_path):
    """Regression: a full batch (1 epoch a step) with reports every 0.25 epochs was marked diverged
    ("loss became nan at step 1"): the next slice trained no step and its empty running loss read as NaN.
    The same happened in the TUI on a seconds budget when the worker thread was descheduled."""
    events, summary, _ = _run_to_dir(tmp_path, _exp(batch_sizes=[8, "full"], budget={"unit": "epochs", "amount": 2}))
    assert set(_statuses(summary).values()) == {"finished"}, summary["lanes"]
    full = [e for e in events if getattr(e, "lane", None) == 1 and type(e).__name__ == "LaneProgress"]
    assert [e.step for e in full] == [0, 1, 2]


def test_injected_out_of_memory_marks_one_lane(tmp_path):
    def hook(lane):
        if lane.batch_size0 == 32 and lane.step >= 3:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (injected)")

    events, summary, _ = _run_to_dir(tmp_path, _exp(batch_sizes=[8, 32, 64]), fault_hook=hook)
    assert _statuses(summary) == {"plain-8": "finished", "plain-32": "out_of_memory", "plain-64": "finished"}
    oom = [e for e in events if isinstance(e, LaneFailed)]
    assert len(oom) == 1 and "out of device memory at batch size 32" in oom[0].reason
    assert summary["lanes"][1]["reason"] == oom[0].reason
    assert any(isinstance(e, NoiseSlope) and e.at.startswith("end of") for e in events)


def test_out_of_memory_while_measuring_marks_that_lane(monkeypatch, tmp_path):
    real = run_module.measure_noise
    calls = {"n": 0}

    def flaky(model, *a, **kw):  # the 6th measurement (a lane's report, after init) runs out of memory
        calls["n"] += 1
        if calls["n"] == 6:
            raise torch.OutOfMemoryError("CUDA out of memory (injected in the noise probe)")
        return real(model, *a, **kw)

    monkeypatch.setattr(run_module, "measure_noise", flaky)
    events, summary, _ = _run_to_dir(tmp_path, _exp(batch_sizes=[8, 32]))
    statuses = sorted(_statuses(summary).values())
    assert statuses == ["finished", "out_of_memory"]
    failed = next(e for e in events if isinstance(e, LaneFailed))
    assert "measuring" in failed.reason


def test_out_of_memory_in_the_noise_slope_leaves_it_unmeasured(monkeypatch, tmp_path):
    def no_memory(*a, **kw):
        raise torch.OutOfMemoryError("injected")

    monkeypatch.setattr(run_module, "measure_noise_slope", no_memory)
    events, summary, _ = _run_to_dir(tmp_path, _exp())
    slopes = [e for e in events if isinstance(e, NoiseSlope)]
    assert slopes and all(e.slope is None and "out of device memory" in e.note for e in slopes)
    assert set(_statuses(summary).values()) == {"finished"}


def test_stop_before_the_loop_skips_the_measurements():
    control = run_module.Control()
    control.stop.set()
    events = list(run_plan(prepare(_exp()), control))
    assert [type(e).__name__ for e in events] == ["RunStarted", "LaneFinished", "LaneFinished", "RunFinished"]
    assert events[-1].interrupted and all(e.status == "cancelled" for e in events if isinstance(e, LaneFinished))


def test_stop_from_another_thread_takes_effect_within_a_second():
    control = run_module.Control()
    events = run_plan(prepare(_exp(budget={"unit": "epochs", "amount": 1e6})), control)
    for _ in range(8):  # into the run loop, past the initial measurements
        next(events)
    timer = threading.Timer(0.0, control.stop.set)
    t0 = time.perf_counter()
    timer.start()
    rest = list(events)
    took = time.perf_counter() - t0
    assert isinstance(rest[-1], RunFinished) and rest[-1].interrupted
    assert took < 2.0, f"stop took {took:.2f} s"


# -- damaged run directories --------------------------------------------------------------

def test_damaged_run_dir_is_read_up_to_the_damage(tmp_path):
    events, _, run_dir = _run_to_dir(tmp_path, _exp())
    metrics = run_dir / "metrics.jsonl"
    whole = metrics.read_bytes()
    lines = whole.splitlines(keepends=True)
    metrics.write_bytes(b"".join(lines[:5]) + lines[5][: len(lines[5]) // 2])  # cut mid-line
    got, warning = read_events(run_dir)
    assert got == events[:5] and "partial line" in warning
    metrics.write_bytes(b"".join(lines[:5]) + b"\x00\xffgarbage\n" + b"".join(lines[5:]))
    got, warning = read_events(run_dir)
    assert got == events[:5] and "line 6 is damaged" in warning
    metrics.write_bytes(b"".join(lines[:3]) + b'{"type": "LaneProgress", "lane": 0}\n')  # whole JSON, wrong fields
    got, warning = read_events(run_dir)
    assert got == events[:3] and "line 4 is damaged" in warning
    metrics.write_bytes(b"")
    assert read_events(run_dir) == ([], None)


def test_damaged_summary_reads_as_none(tmp_path):
    _, _, run_dir = _run_to_dir(tmp_path, _exp())
    (run_dir / "summary.json").write_text('{"interrupted": tr')
    assert read_summary(run_dir) is None


# -- data safety ----------------------------------------------------------------------------

def test_tuilab_never_unpickles_or_evaluates_code():
    for path in TUILAB.rglob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                assert not any(n.split(".")[0] in ("pickle", "dill", "cloudpickle", "marshal", "shelve")
                               for n in names), f"{path}: imports {names}"
            if isinstance(node, ast.Call):
                f = node.func
                name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
                assert name not in ("eval", "exec", "__import__"), f"{path}:{node.lineno} calls {name}"
                if name == "load" and isinstance(f, ast.Attribute) and getattr(f.value, "id", "") == "torch":
                    kw = {k.arg: getattr(k.value, "value", None) for k in node.keywords}
                    assert kw.get("weights_only") is True, f"{path}:{node.lineno}: torch.load without weights_only"
                if name == "load" and isinstance(f, ast.Attribute) and getattr(f.value, "id", "") in ("np", "numpy"):
                    kw = {k.arg: getattr(k.value, "value", None) for k in node.keywords}
                    assert kw.get("allow_pickle") is False, f"{path}:{node.lineno}: np.load may unpickle"


def test_a_preset_cannot_smuggle_code(tmp_path):
    p = tmp_path / "evil.toml"
    p.write_text('name = "__import__(\'os\').system(\'touch pwned\')"\n')
    exp = load_preset(p)  # a string stays a string
    assert exp.name.startswith("__import__") and not (tmp_path / "pwned").exists()
    p.write_text('[dataset]\nname = "csv:x.csv"\n__class__ = "object"\n')
    with pytest.raises(UserError, match="unknown key"):
        load_preset(p)


def test_save_never_overwrites_a_shipped_preset(tmp_path):
    target = SHIPPED_DIR / "quickstart.toml"
    before = target.read_bytes()
    (tmp_path / "link").symlink_to(SHIPPED_DIR.resolve(), target_is_directory=True)
    for path in (target, SHIPPED_DIR / "new-one.toml", SHIPPED_DIR / "sub" / ".." / "quickstart.toml",
                 tmp_path / "link" / "quickstart.toml"):
        with pytest.raises(UserError, match="read-only"):
            save_preset(Experiment(name="clobber"), path)
    assert target.read_bytes() == before and not (SHIPPED_DIR / "new-one.toml").exists()


def test_two_threads_saving_at_once_leave_one_whole_file(tmp_path):
    target = tmp_path / "mine.toml"
    exps = [Experiment(name=f"writer{i}", seed=i, description="x" * 1500) for i in range(8)]
    barrier = threading.Barrier(len(exps))
    errors = []

    def save(exp):
        try:
            barrier.wait()
            for _ in range(10):
                save_preset(exp, target)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=save, args=(e,)) for e in exps]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert load_preset(target) in exps
    assert [p.name for p in tmp_path.iterdir()] == ["mine.toml"]  # no temp files left over


def _save_many(path: str, seed: int) -> None:
    for _ in range(20):
        save_preset(Experiment(name=f"proc{seed}", seed=seed, description="y" * 1500), path)


def test_two_processes_saving_at_once_leave_one_whole_file(tmp_path):
    target = tmp_path / "shared.toml"
    ctx = multiprocessing.get_context("spawn" if not hasattr(multiprocessing, "get_all_start_methods")
                                      or "fork" not in multiprocessing.get_all_start_methods() else "fork")
    procs = [ctx.Process(target=_save_many, args=(str(target), i)) for i in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert load_preset(target).name in ("proc0", "proc1")
    assert [p.name for p in tmp_path.iterdir()] == ["shared.toml"]
