"""The real `tuilab PRESET --run` in a 120x40 tmux pane: every lane's row and sparklines, then finished."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TUILAB = Path(sys.executable).parent / "tuilab"
SPARK = re.compile(r"[▁▂▃▄▅▆▇█]{3,}")
# COLUMNS and LINES, when set, override the pane's size for Textual: a pane under pytest had 80x24.
PLAIN = "unset COLUMNS LINES && TERM=xterm-256color"


def capture(session: str) -> str:
    return subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True).stdout


@contextmanager
def tmux_session(session: str, cmd: str):
    """A 120x40 tmux session running `cmd`, killed on the way out whatever happened."""
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "40", cmd], check=True)
    try:
        yield
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (apt-get install tmux)")
def test_quickstart_in_tmux_shows_every_lane_then_finishes(tmp_path):
    session = f"tuilab-e2e-{tmp_path.name}"
    # Textual draws on stderr: the command's output stays on the pane, never redirected.
    cmd = f"cd {tmp_path} && {PLAIN} {TUILAB} {ROOT / 'presets/quickstart.toml'} --run --epochs 2"
    with tmux_session(session, cmd):
        screen, deadline = "", time.monotonic() + 90
        while time.monotonic() < deadline:
            screen = capture(session)
            if "Finished" in screen and screen.count("finished") >= 4:
                break
            time.sleep(0.5)
        lines = screen.splitlines()
        for b in (8, 32, 128, 512):
            row = next((ln for ln in lines if re.match(rf"\s*{b}\s", ln)), None)
            assert row is not None, f"no row for B={b}:\n{screen}"
            assert len(SPARK.findall(row)) >= 2, f"B={b} row lacks loss and noise sparklines:\n{screen}"
            assert "finished" in row, screen
        assert "run dir runs/" in screen
        subprocess.run(["tmux", "send-keys", "-t", session, "q"])  # q quits from the Run screen
    assert list((tmp_path / "runs").iterdir()), "the run wrote no run directory"


def wait_for_text(session: str, text: str, seconds: float = 60) -> str:
    screen, deadline = "", time.monotonic() + seconds
    while time.monotonic() < deadline:
        screen = capture(session)
        if text in screen:
            return screen
        time.sleep(0.2)
    raise AssertionError(f"{text!r} never appeared:\n{screen}")


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (apt-get install tmux)")
def test_setup_keeps_every_key_sent_one_by_one(tmp_path):
    """Tab to "examples", End, eight Backspaces, 12345: each its own key event, as tmux sends them."""
    session = f"tuilab-keys-{tmp_path.name}"
    cmd = f"cd {tmp_path} && {PLAIN} {TUILAB} seed-classic"
    with tmux_session(session, cmd):
        wait_for_text(session, "cpu — ")  # the device list is in: the form is settled
        for key in ["Tab", "End"] + ["BSpace"] * 8 + list("12345"):
            subprocess.run(["tmux", "send-keys", "-t", session, key], check=True)
        screen = wait_for_text(session, "examples       12345", seconds=5)
        assert "must be" not in screen, screen
        subprocess.run(["tmux", "send-keys", "-t", session, "C-q"])
