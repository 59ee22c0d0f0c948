"""Helpers of the UI tests: a tiny experiment and a way to wait on the app."""

from __future__ import annotations

import time

from tuilab.presets import experiment_from_dict


def tiny_experiment(**budget) -> object:
    """Moons n=400, B in {8, 64}, on the CPU: trains in well under a second once torch is warm."""
    return experiment_from_dict({
        "name": "tiny", "device": "cpu", "batch_sizes": [8, 64],
        "dataset": {"name": "moons", "n": 400},
        "budget": budget or {"unit": "epochs", "amount": 1},
        "measure": {"every": 0.25, "slope_draws": 8},
    })


async def wait_for(pilot, condition, timeout: float = 60.0, what: str = "condition") -> float:
    """Let the app run until condition() is true; returns the seconds it took."""
    t0 = time.monotonic()
    while not condition():
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await pilot.pause(0.05)
    return time.monotonic() - t0


def screen_lines(app) -> list[str]:
    """The text of every row of the screen as drawn, toasts and dialogs included."""
    return ["".join(seg.text for seg in strip) for strip in app.screen._compositor.render_strips()]
