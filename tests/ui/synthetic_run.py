"""A fixed, made-up run (4 lanes, 20 epochs) written as a run directory, for deterministic screens."""

from __future__ import annotations

import json
import math
from pathlib import Path

from tuilab.engine.events import (
    LaneFailed,
    LaneFinished,
    LaneInfo,
    LaneProgress,
    NoiseSlope,
    RunFinished,
    RunStarted,
    SlopePoint,
    event_to_dict,
)
from tuilab.engine.record import RunRecord

SIZES = (8, 32, 128, 512)
N_TRAIN = 3200


def lane_events(lane: int, b: int, reports: int = 40, epochs: float = 20.0, fail_at: int | None = None):
    steps_per_epoch = N_TRAIN / b
    rate = 3000.0 * math.sqrt(b)  # samples/s grows with B, as on a real device
    for k in range(reports + 1):
        if fail_at is not None and k == fail_at:
            yield LaneFailed(lane, "diverged", f"loss became nan at step {int(k * epochs / reports * steps_per_epoch)}",
                             0, 0, 0.0)
            return
        ep = epochs * k / reports
        loss = 0.05 + 0.65 * math.exp(-ep * 8 / math.sqrt(b))
        yield LaneProgress(lane=lane, step=int(ep * steps_per_epoch), examples=int(ep * N_TRAIN), epoch=ep,
                           seconds=ep * N_TRAIN / rate, progress=k / reports, batch_size=b, lr=0.1,
                           train_loss=loss, running_loss=loss, test_loss=loss * 1.1, test_accuracy=1 - loss / 2,
                           samples_per_s=rate, noise=2.4 / math.sqrt(b) * (1 + ep / 20), b_simple=60.0 + ep,
                           tr_sigma=1.0, g_norm2=0.1)
    yield LaneFinished(lane, "finished", int(epochs * steps_per_epoch), int(epochs * N_TRAIN),
                       epochs * N_TRAIN / rate)


def events(with_failure: bool = False) -> list:
    """Every event of the made-up run, in the interleaved order the engine would yield."""
    lanes = tuple(LaneInfo(i, "", b, 0.1) for i, b in enumerate(SIZES))
    started = RunStarted(name="quickstart", device="cpu", device_name="CPU", dataset="moons 4000",
                         model="mlp 64x64 relu", n_train=N_TRAIN, n_test=800, n_params=4546,
                         budget_unit="epochs", budget_amount=20.0, lanes=lanes, run_dir="runs/synthetic")
    points = tuple(SlopePoint(b, 2.4 * b ** -0.49, 2.4 * b ** -0.5) for b in SIZES)
    out = [started, NoiseSlope("init", -0.49, 0.02, points, b_simple=96.0)]
    streams = [list(lane_events(i, b, fail_at=12 if with_failure and b == 512 else None))
               for i, b in enumerate(SIZES)]
    while any(streams):
        for s in streams:
            if s:
                out.append(s.pop(0))
    record = RunRecord()
    for ev in out:
        record.apply(ev)
    out.append(RunFinished(False, 12.5, record.summary()))
    return out


def write_run_dir(path: Path, evs: list | None = None) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    with open(path / "metrics.jsonl", "w", encoding="utf-8") as f:
        for ev in evs if evs is not None else events():
            f.write(json.dumps(event_to_dict(ev)) + "\n")
    return path
