"""The Run screen with an lr grid: each batch size's lanes together under it, its best lr marked."""

from __future__ import annotations

import json
import math

from uihelp import screen_lines, wait_for

from tuilab.engine.events import (
    LaneFinished,
    LaneInfo,
    LaneProgress,
    RunFinished,
    RunStarted,
    event_to_dict,
)
from tuilab.engine.record import RunRecord
from tuilab.presets import Experiment
from tuilab.ui.app import TuilabApp

# Lane order as a grid with the lr outermost would give it: the screen regroups by B.
LANES = ((8, 0.03, 0.97), (64, 0.03, 0.93), (8, 0.1, 0.90), (64, 0.1, 0.98))  # (B, lr, final test accuracy)


def grid_events() -> list:
    infos = tuple(LaneInfo(i, f"lr {lr:g}", b, lr, lr_index=int(lr == 0.1)) for i, (b, lr, _) in enumerate(LANES))
    out = [RunStarted(name="grid", device="cpu", device_name="CPU", dataset="d", model="m", n_train=800,
                      n_test=200, n_params=10, budget_unit="epochs", budget_amount=5.0, lanes=infos)]
    for i, (b, lr, acc) in enumerate(LANES):
        for k in range(21):
            loss = 0.05 + 2.25 * math.exp(-k / 3)
            ex = k * 200
            out.append(LaneProgress(lane=i, step=ex // b, examples=ex, epoch=ex / 800, seconds=ex / (500 * b),
                                    progress=k / 20, batch_size=b, lr=lr, train_loss=loss, running_loss=loss,
                                    test_loss=loss, test_accuracy=0.1 + (acc - 0.1) * k / 20,
                                    samples_per_s=500.0 * b))
        out.append(LaneFinished(i, "finished", 4000 // b, 4000, 4000 / (500 * b)))
    record = RunRecord()
    for ev in out:
        record.apply(ev)
    return out + [RunFinished(False, 3.0, record.summary())]


async def test_grid_lanes_grouped_under_their_batch_size_with_the_best_marked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "metrics.jsonl").write_text("".join(json.dumps(event_to_dict(e)) + "\n"
                                                           for e in grid_events()))
    app = TuilabApp(Experiment(), watch_dir="run")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.state is not None and app.state.finished, timeout=10)
        await pilot.pause(0.3)
        screen = app.screen
        assert list(screen.rows) == [0, 2, 1, 3]  # B=8's lrs, then B=64's
        assert [screen.rows[i].b._shown for i in screen.rows] == ["8", "", "64", ""]
        marked = [i for i in screen.rows if screen.rows[i].status._shown.endswith("★")]
        assert marked == [0, 3]  # B=8 at lr 0.03 (97%), B=64 at lr 0.1 (98%)
        assert any("Use B=64 with lr 0.1" in line for line in screen_lines(app))
