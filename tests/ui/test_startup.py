"""The first frame comes before torch is imported (torch costs ~1 s; the frame ~0.2 s)."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = r"""
import asyncio, sys, time
t0 = time.perf_counter()
from tuilab.presets import Experiment
from tuilab.ui.app import TuilabApp

class Probe(TuilabApp):
    def on_ready(self) -> None:  # Textual's Ready: the first frame has been drawn
        self.seen = ("torch" in sys.modules, time.perf_counter() - t0)

async def main():
    app = Probe(Experiment())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        print(app.seen[0], f"{app.seen[1]:.3f}")

asyncio.run(main())
"""


def test_first_frame_comes_before_torch_is_imported():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    torch_loaded, seconds = out.stdout.split()
    assert torch_loaded == "False", "torch was imported before the first frame"
