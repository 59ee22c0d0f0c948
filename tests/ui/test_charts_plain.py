"""Without colour every state reads: a real tmux pane with NO_COLOR shows which batch sizes are checked
and which device is chosen (Textual drew the same glyph on and off, told apart by colour alone)."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from test_e2e_tmux import TUILAB, wait_for_text


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (apt-get install tmux)")
def test_no_color_setup_shows_which_batch_sizes_are_checked(tmp_path):
    session = f"tuilab-nocolor-{tmp_path.name}"
    # COLUMNS/LINES (80x24, set by the snapshot plugin) would override the pane's size.
    cmd = f"cd {tmp_path} && env -u COLUMNS -u LINES NO_COLOR=1 TERM=xterm-256color {TUILAB} seed-classic"  # B = 32, 64, 128, 256
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "40", cmd], check=True)
    try:
        wait_for_text(session, "cpu — ")  # the form is settled
        screen = wait_for_text(session, " 8192 ", seconds=10)  # laid out at 120x40: the toggles in view
        for b in (32, 64, 128, 256):
            assert re.search(rf"▐X▌ {b}( |$)", screen, re.M), screen
        for b in (1, 2, 4, 8, 16, 512, 1024):
            assert re.search(rf"▐ ▌ {b}( |$)", screen, re.M), screen
        devices = [line for line in screen.splitlines() if " — " in line]  # the device radio buttons
        assert sum("▐●▌" in line for line in devices) == 1 and sum("▐ ▌" in line for line in devices) >= 2, screen
        subprocess.run(["tmux", "send-keys", "-t", session, "C-q"])
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
