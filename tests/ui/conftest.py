"""Fixtures of the UI tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    """Run directories go under a temporary cwd, as `runs/` would under the user's."""
    monkeypatch.chdir(tmp_path)
    return tmp_path
