"""TuilabApp: Setup, then one run at a time in one thread worker, drawn by the Run screen.

Wiring: start_run() starts the worker (prepare + run_plan, see worker.py); the
worker posts EngineEvents batches tagged with the run's id; on_engine_events
folds them into a RunState and bumps the Run screen's `revision`. A run that was
left, cancelled or replaced keeps sending its last events: the id drops them.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Iterable
from pathlib import Path

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import get_current_worker

from tuilab.engine.control import BRANCH_FACTORS, Control
from tuilab.engine.events import BranchMeasured
from tuilab.engine.faults import describe
from tuilab.format import lane_name
from tuilab.presets import Experiment
from tuilab.ui.messages import EngineEvents, RunError, RunRefused
from tuilab.ui.notices import launch_notice
from tuilab.ui.saved_runs import saved_experiment
from tuilab.ui.state import RunState
from tuilab.ui.worker import EngineIdle, follow_run, run_experiment


class TuilabApp(App):
    """The lab. `watch_dir`: show a run another process writes instead of Setup."""

    CSS_PATH = Path(__file__).with_name("tuilab.tcss")  # absolute: subclasses elsewhere find it too
    TITLE = "tuilab"
    # ctrl+q quits from anywhere (priority: no widget can eat it); q quits where no text box
    # has focus (an Input takes the key first), asking first while a run of ours trains;
    # escape goes back / closes a dialog.
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", priority=True),
        Binding("q", "ask_quit", "Quit", show=False),
        Binding("f1", "help", "Help", show=False),
    ]
    # Below 100 columns the Run screen drops its per-lane progress and lr columns (see tuilab.tcss).
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]

    def __init__(self, experiment: Experiment, run_at_start: bool = False, watch_dir: str | None = None,
                 out_dir: str = "runs", handle_signals: bool = False,
                 compare_dirs: tuple[str, str] | None = None) -> None:
        """`compare_dirs`: open on two runs' Plots compared (over Setup), as `tuilab compare` does."""
        super().__init__()
        self.compare_dirs = compare_dirs
        self.opened_dir: str | None = None  # a finished run reopened from Setup's list of recent runs
        self.experiment = experiment
        self.run_at_start = run_at_start
        self.watch_dir = watch_dir
        self.out_dir = out_dir
        self.handle_signals = handle_signals
        self.state: RunState | None = None
        self.control: Control | None = None
        self.run_screen = None
        self._run_id = 0
        self._stop_watch = threading.Event()
        self.engine_idle = EngineIdle()  # set while no worker thread runs (launch waits on it)
        self._devices: list[tuple[str, bool, str]] | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def on_mount(self) -> None:
        if self.handle_signals:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                loop.add_signal_handler(sig, self._on_signal, sig)
        if self.watch_dir:
            self._run_id += 1
            self._follow(self.watch_dir, self._run_id, self._stop_watch)
            return
        # The last run was cut short, or still trains: said in a line of Setup (ui/notices.py).
        self.push_screen(self._setup_screen(launch_notice(self.out_dir)))
        if self.run_at_start:
            self.start_run(self.experiment)
        if self.compare_dirs:
            self.compare_runs(*self.compare_dirs)

    def on_unmount(self) -> None:
        self.stop_all()  # a worker thread that runs on would keep the process alive

    def _on_signal(self, sig: int) -> None:
        self.stop_all()
        self.exit(return_code=128 + sig)

    def stop_all(self) -> None:
        """Stop training and following; events still in flight are dropped (the screens go away)."""
        self._run_id += 1
        self.stop_run()
        self._stop_watch.set()

    async def action_quit(self) -> None:
        self._quit_now()

    def _quit_now(self) -> None:
        self.stop_all()  # first: the engine stops while the screens are torn down
        self.exit()

    def action_ask_quit(self) -> None:
        """q: quit, but ask first while a run of this process trains (one stray key must not end it)."""
        if self.run_active:
            self._confirm_stop("Quit and stop the run?", self._quit_now)
        else:
            self._quit_now()

    @property
    def run_active(self) -> bool:
        """A run of this process is being prepared or trains (a watched run is another's)."""
        return self.control is not None and not (self.state is not None and self.state.finished)

    def _confirm_stop(self, question: str, stop) -> None:
        """Ask before stopping the run; `stop()` on yes. Asked once, however often the key comes."""
        from tuilab.ui.screens.presets import ConfirmScreen

        if isinstance(self.screen, ConfirmScreen):
            return
        self.push_screen(ConfirmScreen(f"{question} What it measured so far is kept.\n"
                                       "y: stop it · n or escape: keep training"),
                         lambda yes: stop() if yes else None)

    def _setup_screen(self, notice: tuple[str, str] | None = None) -> Screen:
        from tuilab.ui.screens.setup import SetupScreen

        return SetupScreen(self.experiment, notice)

    # -- the contract with Setup ---------------------------------------------------------------
    def available_devices(self) -> list[tuple[str, bool, str]]:
        """(device, usable, description or reason), cached; imports torch on the first call."""
        if self._devices is None:
            from tuilab.engine.devices import available_devices

            self._devices = available_devices()
        return self._devices

    def start_run(self, experiment: Experiment) -> None:
        """Validate and run `experiment`; a UserError is a notification and Setup stays.

        Refused while a run is active: a run is never replaced silently.
        """
        if self.run_active:
            self.notify("A run is in progress: cancel it (c) or wait for it to finish first.",
                        severity="warning")
            return
        self.experiment = experiment
        if (setup := self._setup()) is not None:
            setup.set_notice(None)  # about the run before this one: old news now
        self.stop_run()
        self._run_id += 1
        self.state = None
        self.opened_dir = None
        self.control = Control()
        self._drive(experiment, self.control, self._run_id)

    # -- the worker (its methods run in a thread: only post_message from there) ----------------
    def _poster(self, run_id: int, stop: threading.Event):
        worker = get_current_worker()

        def post(msg) -> None:
            if worker.is_cancelled:
                stop.set()
            msg.run_id = run_id
            self.post_message(msg)

        return post

    @work(thread=True, exclusive=True, group="engine")
    def _drive(self, experiment: Experiment, control: Control, run_id: int) -> None:
        self.engine_idle.enter()
        post = self._poster(run_id, control.stop)
        try:
            run_experiment(experiment, control, post, self.out_dir)
        except Exception as e:  # a fault of the worker itself: shown, and the app stays up
            post(RunError(describe(e)[0]))
        finally:
            self.engine_idle.leave()

    def open_run(self, run_dir: str) -> None:
        """Reopen a run directory on its Run screen: replayed to where it ended (followed, if it still trains)."""
        if self.run_active:
            self.notify("A run is in progress: cancel it (c) or wait for it to finish first.", severity="warning")
            return
        self._run_id += 1
        self.state, self.control, self.run_screen = None, None, None
        self.opened_dir = run_dir
        self._stop_watch = threading.Event()  # its own: going back to Setup stops this one only
        self._follow(run_dir, self._run_id, self._stop_watch)

    def compare_runs(self, first: str, second: str) -> None:
        """The Plots screen of run `first` with `second` overlaid, and their Compare tab shown."""
        from tuilab.errors import UserError
        from tuilab.ui.saved_runs import load_run_state
        from tuilab.ui.screens.plots import PlotsScreen

        try:
            states = load_run_state(first), load_run_state(second)
        except (UserError, OSError) as e:
            self.notify(str(e), title="Cannot compare", severity="error")
            return
        self.push_screen(PlotsScreen(states[0], other=states[1], tab="compare"))

    @work(thread=True, exclusive=True, group="engine")
    def _follow(self, run_dir: str, run_id: int, stop: threading.Event) -> None:
        self.engine_idle.enter()
        try:
            follow_run(run_dir, stop, self._poster(run_id, stop))
        finally:
            self.engine_idle.leave()

    # -- handlers (UI thread) ------------------------------------------------------------------
    def on_run_refused(self, msg: RunRefused) -> None:
        if getattr(msg, "run_id", None) == self._run_id:
            self.control = None
            self.notify(msg.error, severity="error", timeout=10)

    def on_run_error(self, msg: RunError) -> None:
        if getattr(msg, "run_id", None) == self._run_id:
            self.notify(msg.error, title="Run stopped", severity="error", timeout=30)

    def on_engine_events(self, msg: EngineEvents) -> None:
        if getattr(msg, "run_id", None) != self._run_id or not self.is_running:
            return  # a run that was left, replaced or quit: its last events go nowhere
        if self.state is None:
            shown = self.watch_dir or self.opened_dir  # a run directory, not this process's run
            self.state = RunState(shown, saved_experiment(shown) if shown else self.experiment)
        self.state.apply(msg.events)
        for warning in (e for e in msg.events if isinstance(e, str)):
            self.notify(warning, severity="warning", timeout=10)
        for br in (e for e in msg.events if isinstance(e, BranchMeasured)):
            # Imported with the charts (plotext), not before the first frame.
            from tuilab.ui.widgets.lab_charts import branch_title

            info = self.state.record.lanes[br.lane].info
            self.notify(f"{lane_name(info)} branched: {branch_title(br)} · p: Branches", title="Branch measured",
                        timeout=15)
        if self.run_screen is None and self.state.started is not None:
            from tuilab.ui.screens.run import RunScreen

            self.run_screen = RunScreen(self.state, self._title(), watching=bool(self.watch_dir))
            self.push_screen(self.run_screen)
        elif self.run_screen is not None:
            self.run_screen.revision = self.state.revision

    def _title(self) -> tuple[str, ...]:
        """The Run screen's title: name, data set, model, optimizer, device (the screen fits it to its width)."""
        s = self.state.started
        exp = self.state.experiment
        opt = ()
        if exp is not None:
            o = exp.optimizer
            opt = (f"{o.kind} lr {o.lr:g}" + (f" {o.lr_scaling}" if o.lr_scaling != "none" else ""),)
        return (s.name, s.dataset, s.model, *opt, s.device)

    # -- actions -------------------------------------------------------------------------------
    def stop_run(self) -> None:
        if self.control is not None:
            self.control.stop.set()

    def toggle_pause(self) -> None:
        if self.control is None or self.state is None or self.state.finished:
            return
        if self.control.paused:
            self.control.resume()
        else:
            self.control.pause()
        self.state.set_paused(self.control.paused)
        if self.run_screen is not None:
            self.run_screen.paused = self.control.paused

    def request_branch(self, lane: int) -> None:
        """Ask the run to fork `lane` at 2B, 4B and 8B at its next report; a BranchMeasured answers."""
        if self.control is None or self.state is None or self.state.finished:
            return
        self.control.request_branch(lane)
        self.notify(f"branching {lane_name(self.state.record.lanes[lane].info)} at its next report: "
                    f"copies at {', '.join(f'{k}B' for k in BRANCH_FACTORS)} train beside it")

    def cancel_run(self) -> None:
        if self.control is not None and self.state is not None and not self.state.finished:
            self.control.cancel()
            self.notify("cancelling: what was measured is kept")

    def leave_run(self) -> None:
        """Back to Setup, asking first if the run still trains (it lives in this process); a watcher quits."""
        if self.watch_dir:
            self.exit()
        elif self.run_active:
            self._confirm_stop("Stop the run and go back to Setup?", self._back_to_setup)
        else:
            self._back_to_setup()

    def _back_to_setup(self) -> None:
        self.stop_run()
        self._run_id += 1  # its last events (cancelled lanes, RunFinished) must not reopen a Run screen
        self._stop_watch.set()  # a reopened run is no longer followed
        self.control = None
        self.run_screen = None
        self.pop_screen()

    def action_help(self) -> None:
        from tuilab.ui.screens.help import HelpScreen

        self.push_screen(HelpScreen())

    def _setup(self):
        """The Setup screen when it is the one shown, else None."""
        from tuilab.ui.screens.setup import SetupScreen

        return self.screen if isinstance(self.screen, SetupScreen) else None

    def copy_run_dir(self) -> None:
        run_dir = self.state.run_dir if self.state else None
        if run_dir:
            self.copy_to_clipboard(str(run_dir))  # OSC 52: works over ssh, no GUI calls
            self.notify(f"copied {run_dir}")

    def export_csv(self) -> None:
        """Write the run's metrics as RUN_DIR/metrics.csv (atomic), as `tuilab export --csv` does."""
        run_dir = self.state.run_dir if self.state else None
        if not run_dir:
            self.notify("no run directory yet", severity="warning")
            return
        from tuilab.errors import UserError
        from tuilab.export import metrics_csv
        from tuilab.presets import atomic_write_text

        target = Path(run_dir) / "metrics.csv"
        try:
            atomic_write_text(target, metrics_csv(run_dir))
        except (UserError, OSError) as e:
            self.notify(f"CSV not written: {e}", severity="error")
            return
        self.notify(f"wrote {target}")

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        # Textual's "Keys" panel would be a second, partial "Help".
        yield from (c for c in super().get_system_commands(screen) if c.title != "Keys")
        yield SystemCommand("Help", "Every key, screen by screen (? or f1)", self.action_help)
        setup = self._setup()
        if setup is not None and not self.run_active:
            yield SystemCommand("Run", "Start a run of the current form (ctrl+r)", setup.action_run)
        if setup is not None:
            yield SystemCommand("Load preset", "Fill the form from a shipped or user preset (ctrl+o)",
                                setup.action_load)
            yield SystemCommand("Save preset", "Save the form as a user preset (ctrl+s)", setup.action_save)
        if self.run_screen is not None:
            rs = self.run_screen
            yield SystemCommand("Pause / resume", "Pause or resume training", self.toggle_pause)
            yield SystemCommand("Cancel", "Stop the run, keep what was measured", self.cancel_run)
            yield SystemCommand("Plots", "Loss, noise and throughput charts", rs.action_plots)
            yield SystemCommand("Toggle log", "Log scale for the sparklines", rs.action_toggle_log)
            yield SystemCommand("Cycle x axis", "epochs / steps / seconds", rs.action_cycle_axis)
            yield SystemCommand("Copy run dir", "Copy the run directory (OSC 52)", self.copy_run_dir)
            yield SystemCommand("Export CSV", "Write the metrics as RUN_DIR/metrics.csv", self.export_csv)
