"""Leaving cleanly: the app's exit after SIGHUP, --detach's parent, and how a cancelled run is listed."""

from __future__ import annotations

import argparse
import errno
import io
import sys

import pytest

from tuilab.detach import detach
from tuilab.engine.control import Control
from tuilab.engine.run import prepare, run_plan
from tuilab.engine.store import RunStore, read_summary, run_status
from tuilab.listing import print_runs
from tuilab.presets import experiment_from_dict
from tuilab.ui import launch

EXP = {"name": "exit", "device": "cpu", "batch_sizes": [8, 32], "dataset": {"name": "linreg", "n": 200, "dim": 2},
       "budget": {"unit": "epochs", "amount": 200},
       "measure": {"every": 0.25, "probe_examples": 8, "reference_examples": 32, "slope_draws": 2}}


class _HungUp(io.StringIO):
    """A stream whose terminal went away: every flush fails with EIO, as after SIGHUP."""

    def flush(self):
        raise OSError(errno.EIO, "Input/output error")

    def fileno(self):
        raise io.UnsupportedOperation("no descriptor")


class _App:
    return_code = 130

    def run(self, loop):
        loop.close()

    def stop_all(self):
        pass

    class engine_idle:  # noqa: N801 - stands in for the app's attribute
        @staticmethod
        def wait(timeout):
            return True


def test_the_apps_exit_is_not_skipped_when_flushing_a_hung_up_terminal_fails(monkeypatch):
    exits = []

    class _Exit(Exception):
        pass

    def fake_exit(code):
        exits.append(code)
        raise _Exit

    monkeypatch.setattr(launch.os, "_exit", fake_exit)
    monkeypatch.setattr(sys, "stdout", _HungUp())
    monkeypatch.setattr(sys, "stderr", _HungUp())
    with pytest.raises(_Exit):
        launch._run(_App())
    assert exits == [130]


def test_detach_closes_its_log_file_in_the_parent(tmp_path, monkeypatch, capsys):
    handed = {}

    class FakeChild:
        pid = 4242424  # no such process: nothing is started in this test

        def __init__(self, cmd, stdout=None, **kw):
            handed["log"] = stdout

    monkeypatch.setattr("tuilab.detach.subprocess.Popen", FakeChild)
    exp = experiment_from_dict(EXP | {"budget": {"unit": "epochs", "amount": 1}})
    assert detach(exp, argparse.Namespace(out=str(tmp_path))) == 0
    assert handed["log"].name.endswith("log.txt") and handed["log"].closed
    capsys.readouterr()


def test_a_run_the_user_cancelled_is_listed_as_cancelled(tmp_path, capsys):
    exp = experiment_from_dict(EXP)
    store = RunStore.create(tmp_path, exp)
    control = Control()
    for ev in run_plan(prepare(exp), control):
        store.write(ev)
        if type(ev).__name__ == "LaneProgress" and ev.step > 0:
            control.cancel()  # the c key
    store.close()
    assert run_status(store.path) == "cancelled"
    assert read_summary(store.path)["interrupted"] is True
    print_runs(str(tmp_path))
    assert "cancelled" in capsys.readouterr().out
