"""The UI's pure parts: curve resampling, bounded history, event batching."""

from __future__ import annotations

import time

from synthetic_run import events

from tuilab.engine.events import LaneFinished, LaneProgress
from tuilab.ui.state import GRID, MAX_POINTS, LaneSeries, RunState, interpolate
from tuilab.ui.widgets.spark import bars, bucket
from tuilab.ui.worker import Batcher


def test_interpolate_is_linear_and_blank_outside_the_range():
    assert interpolate([0, 2], [0, 4], [0, 1, 2, 3]) == [0, 2, 4, None]


def test_lane_series_stays_bounded_and_keeps_the_last_point():
    s = LaneSeries()
    p = next(e for e in events() if isinstance(e, LaneProgress))
    for k in range(5000):
        s.add(p.__class__(**{**p.__dict__, "step": k}))
    assert len(s.points) <= MAX_POINTS and s.points[-1].step == 4999 and s.points[0].step == 0


def test_sparklines_share_one_grid_per_axis_and_log_uses_log10():
    st = RunState()
    st.apply(events())
    by_epoch = st.sparklines("epochs", "train_loss", False)
    assert all(len(v) == GRID and None not in v for v in by_epoch.values())  # same epochs for all lanes
    by_step = st.sparklines("steps", "train_loss", False)
    assert by_step[3][-1] is None and by_step[0][-1] is not None  # B=512 takes 64x fewer steps than B=8
    logs = st.sparklines("epochs", "train_loss", True)
    assert abs(10 ** logs[0][0] - by_epoch[0][0]) < 1e-9
    assert st.progress() == 1.0 and st.time_left() == 0.0


def test_spark_draws_gaps_as_blanks_on_a_shared_range():
    assert bars(bucket([0.0, None, 1.0], 3), 0.0, 1.0) == "▁ █"
    assert bucket(list(range(10)), 2) == [2.0, 7.0]


def test_batcher_coalesces_progress_and_flushes_other_events_at_once():
    posted = []
    b = Batcher(lambda m: posted.append(m.events), interval=0.2)
    p = next(e for e in events() if isinstance(e, LaneProgress))
    b.add(p)  # first one goes at once (nothing posted yet)
    for _ in range(100):
        b.add(p)
    assert len(posted) == 1
    b.add(LaneFinished(0, "finished", 1, 1, 1.0))  # flushes the held progress with it, in order
    assert len(posted) == 2 and len(posted[1]) == 101 and isinstance(posted[1][-1], LaneFinished)
    b.add(p)
    time.sleep(0.35)  # held progress is not stranded when the engine goes quiet
    assert len(posted) == 3
