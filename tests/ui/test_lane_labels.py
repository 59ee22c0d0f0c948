"""Two lanes with the same batch size (variants) never look the same where a lane is named."""

from __future__ import annotations

from tuilab.engine.events import BranchMeasured, LaneFailed, LaneInfo, RunStarted
from tuilab.headless import branch_line
from tuilab.ui.screens.run import RunScreen
from tuilab.ui.state import RunState

LANES = (LaneInfo(0, "hot", 32, 1.0), LaneInfo(1, "cold", 32, 0.01))
STARTED = RunStarted("v", "cpu", "CPU", "moons 100", "mlp", 80, 20, 10, "epochs", 1.0, LANES)


def test_the_run_screens_notes_name_the_variant():
    state = RunState()
    state.apply([STARTED, LaneFailed(0, "diverged", "loss became nan", 3, 96, 0.1),
                 LaneFailed(1, "error", "ValueError: bad shape", 3, 96, 0.1)])
    notes = RunScreen(state, "t")._notes_text()
    assert "B=32 hot: loss became nan" in notes and "B=32 cold: ValueError: bad shape" in notes


def test_a_branch_line_names_the_variant():
    ev = BranchMeasured(1, 2.0, 64, 0.5, 0.1, (), 128, 256, 90.0)
    assert branch_line(ev, "B=32 cold").startswith("branch of lane 1 (B=32 cold, at batch size 64) at 2:")
