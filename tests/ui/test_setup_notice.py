"""The notice about the last run: a line on Setup, not a toast over the form that follows every screen."""

from __future__ import annotations

import json

from uihelp import screen_lines, tiny_experiment, wait_for

from tuilab.ui.app import TuilabApp
from tuilab.ui.screens.run import RunScreen


async def test_last_run_notice_is_a_setup_line_that_hides_nothing(in_tmp):
    old = in_tmp / "runs" / "20260101-000000-seed-classic"
    old.mkdir(parents=True)
    (old / "metrics.jsonl").write_text("")
    (old / "summary.json").write_text(json.dumps({"interrupted": True}))
    exp = tiny_experiment()
    app = TuilabApp(exp)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.3)
        assert not app._notifications  # no toast over "Run ▶" and the footer
        lines = screen_lines(app)
        text = "\n".join(lines)
        assert "The last run was interrupted" in text
        assert any(f"tuilab watch {old.relative_to(in_tmp)}" in line for line in lines)  # whole, on one line
        assert "Run ▶" in text and "^r Run" in lines[-1]

        app.start_run(exp)
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen), what="the Run screen")
        assert "The last run was interrupted" not in "\n".join(screen_lines(app))


async def test_a_run_at_start_clears_the_notice_before_the_form_is_drawn(in_tmp):
    old = in_tmp / "runs" / "20260101-000000-x"
    old.mkdir(parents=True)
    (old / "metrics.jsonl").write_text("")
    (old / "summary.json").write_text(json.dumps({"interrupted": True}))
    app = TuilabApp(tiny_experiment(), run_at_start=True)  # `tuilab PRESET --run`
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen), what="the Run screen")
        assert app._exception is None
