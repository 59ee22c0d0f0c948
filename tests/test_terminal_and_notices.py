"""The lab's terminal flags (--ascii, --truecolor, TERM=linux) and its notice about the last run."""

from __future__ import annotations

import json
import os

import pytest

from tuilab.cli import build_parser
from tuilab.ui import terminal
from tuilab.ui.notices import launch_notice
from tuilab.ui.widgets import spark


@pytest.fixture
def clean_env(monkeypatch):
    for k in ("TUILAB_ASCII", "TEXTUAL_COLOR_SYSTEM"):
        # setenv first, so monkeypatch records the variable and removes it again after the
        # test even when the code under test set it (a bare delenv of an absent key records nothing).
        monkeypatch.setenv(k, "")
        monkeypatch.delenv(k)
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setattr(spark, "BARS", spark.BARS)  # restored after the test
    return monkeypatch


def test_flags_set_the_environment_and_the_bars(clean_env):
    args = build_parser()[""].parse_args(["--ascii", "--truecolor"])
    terminal.apply_terminal_flags(args)
    assert os.environ["TEXTUAL_COLOR_SYSTEM"] == "truecolor" and os.environ["TUILAB_ASCII"] == "1"
    assert spark.bars([0, 0.5, 1], 0, 1) == "_=#"
    assert build_parser()["watch"].parse_args(["d", "--ascii"]).ascii


def test_linux_console_gets_ascii_without_a_flag(clean_env):
    clean_env.setenv("TERM", "linux")
    terminal.apply_terminal_flags(build_parser()[""].parse_args([]))
    assert "TEXTUAL_COLOR_SYSTEM" not in os.environ
    assert set(spark.bars([0, 0.3, 0.6, 1], 0, 1)) <= set(terminal.ASCII_BARS)


def test_default_terminal_keeps_block_bars(clean_env):
    terminal.apply_terminal_flags(build_parser()[""].parse_args([]))
    assert spark.bars([0, 1], 0, 1) == "▁█"


def _run(base, name, summary=None, pid=None):
    d = base / name
    d.mkdir(parents=True)
    (d / "metrics.jsonl").write_text("")
    (d / "env.json").write_text(json.dumps({"pid": pid if pid is not None else 2**22 + 7}))
    if summary is not None:
        (d / "summary.json").write_text(json.dumps(summary))
    return d


def test_notice_names_the_newest_run_only(tmp_path):
    assert launch_notice(tmp_path / "none") is None
    _run(tmp_path, "20260101-000000-a", {"interrupted": False})
    assert launch_notice(tmp_path) is None  # finished: nothing to say
    d = _run(tmp_path, "20260101-000001-b", {"interrupted": True})
    text, severity = launch_notice(tmp_path)
    assert "interrupted" in text and f"tuilab watch {d}" in text and severity == "warning"
    d = _run(tmp_path, "20260101-000002-c")  # no summary, writer gone
    assert "cut off" in launch_notice(tmp_path)[0] and str(d) in launch_notice(tmp_path)[0]
    _run(tmp_path, "20260101-000003-d", pid=os.getpid())
    assert launch_notice(tmp_path)[1] == "information"
    _run(tmp_path, "20260101-000004-e", {"interrupted": False})
    assert launch_notice(tmp_path) is None
