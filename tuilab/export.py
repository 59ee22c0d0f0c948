"""`tuilab export`: a run's metrics as CSV, or one lane as a standalone PyTorch script.

The script (rendered by `tuilab.export_script`) trains the lane exactly as the
engine did. Its data are the very tensors the lane saw, saved next to it with
`torch.save`: exact for every dataset, including CSV and image files, and no
generator code to keep in step with the engine.
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import re
import sys
from pathlib import Path

from tuilab.engine.events import LaneInfo, LaneProgress, RunStarted
from tuilab.engine.settings import LaneSettings, lane_settings, pilot_experiment
from tuilab.engine.store import check_run_dir, read_events
from tuilab.errors import UserError
from tuilab.format import lane_name
from tuilab.presets import Experiment, atomic_write_text, load_preset

CSV_COLUMNS = ("lane", "label", "batch_size", "step", "examples", "epoch", "seconds", "lr", "train_loss",
               "running_loss", "test_loss", "test_accuracy", "samples_per_s", "noise", "b_simple",
               "tr_sigma", "g_norm2")


def _events(run_dir: str | Path) -> tuple[RunStarted, list[LaneProgress]]:
    events, _warning = read_events(run_dir)  # a damaged tail still exports what came before it
    started = next((e for e in events if isinstance(e, RunStarted)), None)
    if started is None:
        raise UserError(f"{run_dir}: the run never started (no RunStarted in metrics.jsonl)")
    return started, [e for e in events if isinstance(e, LaneProgress)]


def metrics_csv(run_dir: str | Path) -> str:
    """The run's reports as CSV text: one row per lane and report, lanes in order."""
    started, reports = _events(run_dir)
    labels = {li.lane: li.label for li in started.lanes}
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for p in sorted(reports, key=lambda p: p.lane):  # stable: each lane's reports stay in order
        row = {**vars(p), "label": labels.get(p.lane, "")}
        w.writerow(["" if row[c] is None else repr(row[c]) if isinstance(row[c], float) else row[c]
                    for c in CSV_COLUMNS])
    return out.getvalue()


def _lane_name(li: LaneInfo) -> str:
    return f"{li.batch_size} ({li.label})" if li.label else str(li.batch_size)


def find_lane(started: RunStarted, batch_size: int, label: str | None = None) -> LaneInfo:
    """The lane that started at `batch_size` (and `label`), or a UserError naming the valid ones."""
    valid = ", ".join(_lane_name(li) for li in started.lanes)
    hits = [li for li in started.lanes if li.batch_size == batch_size and label in (None, li.label)]
    if not hits:
        what = f"batch size {batch_size}" + (f" with label {label!r}" if label else "")
        raise UserError(f"--lane: {what} is not a lane of this run; valid: {valid}")
    if len(hits) > 1:
        labels = ", ".join(repr(li.label) for li in hits)
        raise UserError(f"--lane {batch_size}: {len(hits)} lanes have that batch size; "
                        f"pick one with --label ({labels})")
    return hits[0]


def _settings(exp: Experiment, n_train: int, what: str, lane: LaneInfo) -> LaneSettings:
    """The lane's settings, resolved from the preset exactly as the run resolved them."""
    from tuilab.engine.run import resolve_batch_sizes

    every = lane_settings(exp, resolve_batch_sizes(exp, n_train, what))
    mine = every[lane.lane] if lane.lane < len(every) else None
    if mine is None or mine.batch_size != lane.batch_size or not math.isclose(mine.lr0, lane.lr, rel_tol=1e-9):
        raise UserError(f"lane {lane_name(lane)}: experiment.toml no longer gives this lane's batch size and lr "
                        "(edited since the run?); nothing to reproduce")
    return mine


def _default_script_path(run_dir: Path, lane: LaneInfo) -> Path:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", lane.label).strip("-").lower()
    return run_dir / f"train_b{lane.batch_size}{'_' + slug if slug else ''}.py"


def export_lane(run_dir: str | Path, batch_size: int, label: str | None = None,
                output: str | Path | None = None) -> tuple[Path, Path]:
    """Write the lane's script and its data file; returns (script, data) paths."""
    import torch

    from tuilab.engine.data import load_dataset
    from tuilab.engine.run import measurement_indices
    from tuilab.export_script import render_script

    run_dir = check_run_dir(run_dir)
    started, reports = _events(run_dir)
    lane = find_lane(started, batch_size, label)
    exp: Experiment = pilot_experiment(load_preset(run_dir / "experiment.toml"))
    data = load_dataset(exp.dataset, exp.seed, "cpu")
    if data.n_train != started.n_train:
        raise UserError(f"{exp.dataset.name}: the data now have {data.n_train} training examples, the run had "
                        f"{started.n_train}; the files changed since the run")
    steps = sorted({p.step for p in reports if p.lane == lane.lane})
    if not steps:
        raise UserError(f"lane {lane_name(lane)} has no reports yet; nothing to reproduce")
    script = Path(output) if output else _default_script_path(run_dir, lane)
    data_path = script.with_suffix(".pt")
    ref, _probe = measurement_indices(exp, data.n_train)
    tensors = {"x_train": data.x_train, "y_train": data.y_train, "x_test": data.x_test,
               "y_test": data.y_test, "ref_index": ref}
    settings = _settings(exp, data.n_train, data.description, lane)
    text = render_script(exp, data, settings, steps, data_path.name, str(run_dir), started.device)
    data_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = data_path.with_name(f".{data_path.name}.tmp")
    torch.save(tensors, tmp)
    tmp.replace(data_path)  # atomic, like the script below
    atomic_write_text(script, text)
    return script, data_path


def export_main(args: argparse.Namespace) -> int:
    """The `tuilab export` subcommand."""
    if args.csv == (args.lane is not None):
        raise UserError("give one of --lane B (the lane as a script) or --csv (the metrics), not both "
                        "(see tuilab export -h)")
    if args.csv:
        text = metrics_csv(args.run_dir)
        if args.output:
            atomic_write_text(args.output, text)
            print(f"wrote {args.output}", file=sys.stderr)
        else:
            sys.stdout.write(text)
        return 0
    script, data = export_lane(args.run_dir, args.lane, getattr(args, "label", None), args.output)
    print(f"wrote {script} and {data}; run it with: python {script}", file=sys.stderr)
    if not args.output and not sys.stdout.isatty():  # `> s.py` would leave s.py empty without a word
        print("(the script is that file, not stdout: it loads its data from beside it; "
              "-o FILE puts both elsewhere)", file=sys.stderr)
    return 0
