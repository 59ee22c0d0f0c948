"""tuilab over a real OpenSSH connection (sshd on 127.0.0.1, ssh -tt inside tmux).

The cases of issue 7: a detached run outlives its connection and is listed and
watched later; the lab draws and redraws through the ssh pty at several sizes;
degraded terminals stay readable; a dropped connection keeps the run directory.
Screens are read with tmux capture-pane, run directories from disk.
"""

from __future__ import annotations

import json
import os
import re
import signal
import time
from pathlib import Path

import pytest
from sshd import remote

from tuilab.engine.store import run_status

pytestmark = pytest.mark.slow

# Small and CPU-only: the point is the terminal and the connection, not training.
FAST = ["--device", "cpu", "--batch-sizes", "32,128"]
SPARK = re.compile(r"[▁▂▃▄▅▆▇█]{3,}")
ASCII_SPARK = re.compile(r"[_.:=+*#-]{3,}")  # tuilab.ui.terminal.ASCII_BARS
SGR = re.compile(r"\x1b\[([0-9;]*)m")


@pytest.fixture
def lab(tmp_path):
    """The remote working directory; at teardown no run writer started here is left alive."""
    work = tmp_path / "lab"
    work.mkdir()
    yield work
    deadline = time.monotonic() + 10
    for env in work.glob("runs/*/env.json"):
        pid = json.loads(env.read_text())["pid"]
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _runs(work: Path) -> list[Path]:
    return sorted(p for p in (work / "runs").glob("*") if p.is_dir())


def lane_lines(screen: str, sizes=("32", "128")) -> dict[str, str]:
    """The lane rows of the Run screen: lines whose first word is a batch size."""
    rows = {}
    for line in screen.splitlines():
        words = line.split()
        if words and words[0] in sizes and words[0] not in rows:
            rows[words[0]] = line
    return rows


def drawn(screen: str, marks=SPARK, sizes=("32", "128")) -> bool:
    """Every lane has a row that shows two sparklines (loss and noise) and a loss value."""
    rows = lane_lines(screen, sizes)
    return len(rows) == len(sizes) and all(
        len(marks.findall(r)) >= 2 and any(c.isdigit() for c in r.split()[-4]) for r in rows.values())


def colours(screen_with_escapes: str) -> set[str]:
    """The colour parameters of every SGR sequence on the screen: '38;5;247', '38;2;...', '31'..."""
    found = set()
    for params in SGR.findall(screen_with_escapes):
        found |= set(re.findall(r"(?:[34]8;5;\d+|[34]8;2;\d+;\d+;\d+|\b(?:3|4|9|10)[0-7]\b)", params))
    return found


def fits(screen: str, width: int, height: int) -> bool:
    """The frame is laid out for width x height: header spans it, footer on the last row."""
    lines = screen.split("\n")[:height]
    if len(lines) < height:
        return False
    header, footer = lines[0].rstrip(), lines[height - 1].rstrip()
    return (header.startswith("quickstart ·") and width - 4 <= len(header) <= width
            and "Help" in footer and all(len(x) <= width for x in lines))


# -- case 2: a detached run outlives the connection; watch it and list it later -------------------
def test_detached_run_outlives_ssh_and_is_listed_and_watched(sshd, tmux, lab):
    t0 = time.monotonic()
    r = sshd.run(remote(["run", "quickstart", *FAST, "--epochs", "4", "--detach"], lab), timeout=60)
    assert r.returncode == 0, r.stderr
    took = time.monotonic() - t0
    run_dir = lab / r.stdout.strip()
    assert run_dir.is_dir() and run_dir.parent == lab / "runs", r.stdout
    assert "tuilab watch" in r.stderr
    # The connection is closed and the run goes on: its writer is alive, in its own session.
    assert run_status(run_dir) == "running", (run_dir / "log.txt").read_text()
    assert took < 20, f"ssh took {took:.1f}s to return: the detached run held the connection"

    listed = sshd.run(remote(["runs"], lab))
    assert listed.returncode == 0 and run_dir.name in listed.stdout and "running" in listed.stdout

    # Reattach with a watcher through ssh -tt; leaving it does not touch the run.
    tmux.new("watch", 120, 40, sshd.argv(remote(["watch", str(run_dir)], lab), tty=True))
    tmux.wait_for("watch", drawn, timeout=45, what="the watched run's lanes with sparklines")
    tmux.send("watch", "q")
    tmux.wait_for("watch", lambda s: tmux.dead("watch"), timeout=15, what="the watcher to quit")

    deadline = time.monotonic() + 90
    while run_status(run_dir) == "running" and time.monotonic() < deadline:
        time.sleep(0.5)
    assert run_status(run_dir) == "finished", (run_dir / "log.txt").read_text()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert [ln["status"] for ln in summary["lanes"]] == ["finished", "finished"]
    listed = sshd.run(remote(["runs"], lab))
    assert run_dir.name in listed.stdout and "finished" in listed.stdout, listed.stdout


# -- case 1: the lab through ssh -tt, drawn at 120x40, then resized to 80x24 and 200x60 -----------
def test_lab_draws_and_redraws_through_ssh(sshd, tmux, lab):
    # xterm-256color (tmux's default-terminal here) and no COLORTERM: what ssh delivers.
    tmux.new("lab", 120, 40, sshd.argv(remote(["quickstart", "--run", *FAST, "--epochs", "3000"], lab),
                                       tty=True))
    screen = tmux.wait_for("lab", drawn, timeout=60, what="both lanes drawn at 120x40")
    assert fits(screen, 120, 40), screen
    used = colours(tmux.capture("lab", escapes=True))
    assert any(";5;" in c for c in used) and not any(";2;" in c for c in used), used  # 256, no 24-bit
    for w, h in ((80, 24), (200, 60), (120, 40)):
        tmux.resize("lab", w, h)
        screen = tmux.wait_for("lab", lambda s, w=w, h=h: fits(s, w, h) and drawn(s), timeout=15,
                               what=f"a redraw at {w}x{h}")
        assert len(screen.split("\n")[0].rstrip()) > w - 5


# -- case 4: the connection drops mid-run ---------------------------------------------------------
def test_dropped_connection_keeps_the_run_directory(sshd, tmux, lab):
    tmux.new("drop", 120, 40, sshd.argv(remote(["quickstart", "--run", *FAST, "--epochs", "3000"], lab),
                                        tty=True))
    tmux.wait_for("drop", drawn, timeout=60, what="both lanes drawn")
    (run_dir,) = _runs(lab)
    writer = json.loads((run_dir / "env.json").read_text())["pid"]
    measured = (run_dir / "metrics.jsonl").read_text().count("\n")
    # The ssh client dies without a goodbye; sshd closes the pty and the remote side gets SIGHUP.
    os.kill(tmux.pid("drop"), signal.SIGKILL)
    deadline = time.monotonic() + 20
    while _alive(writer) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(writer), "the remote tuilab outlived its dropped connection"
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    assert len(lines) >= measured and all(json.loads(x) for x in lines)  # whole, parseable lines
    assert run_status(run_dir) == "interrupted", f"status {run_status(run_dir)}"
    assert json.loads((run_dir / "summary.json").read_text())["interrupted"] is True
    listed = sshd.run(remote(["runs"], lab))
    assert run_dir.name in listed.stdout and "interrupted" in listed.stdout, listed.stdout

    # The next launch, over a new connection, says that the interrupted run is there.
    tmux.new("next", 120, 40, sshd.argv(remote([], lab), tty=True))
    screen = tmux.wait_for("next", lambda s: "interrupted" in s, timeout=30,
                           what="the notice about the interrupted run")
    flat = re.sub(r"[\s▊▎▌▐┃│]+", "", screen)
    assert run_dir.name.replace("-", "") in flat.replace("-", ""), screen


# -- case 3: degraded terminals stay readable -------------------------------------------------------
GREYS = {0, 7, 8, 15, 16, 231, *range(232, 256)}


def _no_hue(used: set[str]) -> bool:
    return all(";5;" in c and int(c.rsplit(";", 1)[1]) in GREYS for c in used)


@pytest.mark.parametrize(("env", "size", "marks"), [
    ({"TERM": "linux"}, (80, 24), ASCII_SPARK),   # Linux console: no braille, 16 colours
    ({"NO_COLOR": "1"}, (200, 60), SPARK),          # greys only (Textual's monochrome filter)
], ids=["TERM=linux-80x24", "NO_COLOR-200x60"])
def test_degraded_terminals_are_readable(sshd, tmux, lab, env, size, marks):
    tmux.new("deg", *size, sshd.argv(remote(["quickstart", "--run", *FAST, "--epochs", "3000"], lab, env),
                                     tty=True))
    screen = tmux.wait_for("deg", lambda s: drawn(s, marks), timeout=60, what="both lanes drawn")
    assert fits(screen, *size), screen
    used = colours(tmux.capture("deg", escapes=True))
    if "TERM" in env:
        assert not any(SPARK.search(r) for r in lane_lines(screen).values()), screen
        assert used and all(";" not in c for c in used), used  # the 16 ANSI colours only
    else:
        assert _no_hue(used), used


def test_truecolor_flag_over_ssh(sshd, tmux, lab):
    """ssh drops COLORTERM; --truecolor brings 24-bit colour back (Setup screen: no training)."""
    tmux.new("tc", 120, 40, sshd.argv(remote(["quickstart", "--truecolor"], lab), tty=True))
    tmux.wait_for("tc", lambda s: any(";2;" in c for c in colours(tmux.capture("tc", escapes=True))),
                  timeout=30, what="24-bit colours on screen")
