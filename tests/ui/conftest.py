"""Fixtures of the UI tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    """Run directories go under a temporary cwd, as `runs/` would under the user's."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(autouse=True)
def plain_terminal(monkeypatch):
    """Snapshots must not depend on the CI machine's terminal: a usual xterm, colour on."""
    monkeypatch.setenv("TERM", "xterm-256color")
    for k in ("TUILAB_ASCII", "NO_COLOR", "TEXTUAL_COLOR_SYSTEM", "COLORTERM"):
        monkeypatch.setenv(k, "")
        monkeypatch.delenv(k)
