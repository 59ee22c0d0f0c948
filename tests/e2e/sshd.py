"""A real OpenSSH server on 127.0.0.1 and a tmux "terminal" to drive ssh -tt in.

Sshd: a throwaway host key and client key in a temporary directory, key-only
login for root, `sshd -D -e` in the foreground (so stopping it is killing one
process). Tmux: its own socket, so tests never touch anyone else's tmux server.
Both are used by tests/e2e/conftest.py and bench/ssh_traffic.py.
"""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SSHD = "/usr/sbin/sshd"
DEPS_SCRIPT = REPO / "scripts" / "ci-system-deps.sh"


def tuilab_exe() -> str:
    """The tuilab of the venv running this Python (absolute: the remote shell's PATH lacks it)."""
    exe = Path(sys.executable).parent / "tuilab"
    if exe.exists():
        return str(exe)
    found = shutil.which("tuilab")
    if found is None:
        raise RuntimeError("no tuilab executable next to this Python or on PATH")
    return found


def ensure_system_deps() -> str | None:
    """Install openssh-server and tmux if missing; None when ready, else why they cannot be."""
    r = subprocess.run(["bash", str(DEPS_SCRIPT)], capture_output=True, text=True, timeout=600)
    if r.returncode == 0:
        return None
    if r.returncode == 3:
        return r.stderr.strip().splitlines()[-1] if r.stderr.strip() else "cannot install sshd/tmux"
    raise RuntimeError(f"{DEPS_SCRIPT} failed ({r.returncode}):\n{r.stderr[-3000:]}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def remote(args: list[str], cwd: str | os.PathLike, env: dict[str, str] | None = None) -> str:
    """A shell command line for the remote side: cd, then exec tuilab with env on the command line.

    sshd forwards only TERM (and LANG where AcceptEnv allows it): everything else a
    user wants must be on the command line, as here.
    """
    words = ["exec", "env", *(f"{k}={v}" for k, v in (env or {}).items()), tuilab_exe(), *args]
    return f"cd {shlex.quote(str(cwd))} && {shlex.join(words)}"


class Sshd:
    """sshd on 127.0.0.1:port, key-only root login, everything under `home`."""

    def __init__(self, home: Path):
        self.home = home
        self.port = free_port()
        self.key = home / "client_key"
        self.log = home / "sshd.log"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 20.0) -> Sshd:
        h = self.home
        h.mkdir(parents=True, exist_ok=True)
        for key in (h / "host_key", self.key):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
        (h / "authorized_keys").write_text((h / "client_key.pub").read_text())
        config = h / "sshd_config"
        config.write_text("\n".join([
            f"ListenAddress 127.0.0.1:{self.port}",
            f"HostKey {h / 'host_key'}",
            f"AuthorizedKeysFile {h / 'authorized_keys'}",
            f"PidFile {h / 'sshd.pid'}",
            "PermitRootLogin prohibit-password",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            "StrictModes no",
            "PrintMotd no",
            "PrintLastLog no",
            "X11Forwarding no",
            "AcceptEnv LANG LC_*",
            "",
        ]))
        Path("/run/sshd").mkdir(parents=True, exist_ok=True)  # privilege separation directory
        self.proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)],
                                     stdout=subprocess.DEVNULL, stderr=open(self.log, "wb"))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"sshd exited {self.proc.returncode}: {self.log.read_text()}")
            if self.run("true", timeout=10).returncode == 0:
                return self
            time.sleep(0.2)
        raise RuntimeError(f"sshd did not accept a login in {timeout}s: {self.log.read_text()}")

    def argv(self, command: str, tty: bool = False) -> list[str]:
        """The ssh client command line that runs `command` on this server."""
        return ["ssh", "-F", "/dev/null", *(["-tt"] if tty else ["-T"]),
                "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                "-o", "LogLevel=ERROR", "-o", "BatchMode=yes", "-i", str(self.key),
                "-p", str(self.port), "root@127.0.0.1", command]

    def run(self, command: str, timeout: float = 60, **kw) -> subprocess.CompletedProcess:
        return subprocess.run(self.argv(command), capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL, **kw)

    def stop(self) -> None:
        """Stop the listener and every session it started (they are its children)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        # Session processes are children of the listener; SIGTERM to it alone leaves them
        # to end as their connections close, which every test closes itself.
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Tmux:
    """A tmux server on its own socket: sessions are the terminals ssh -tt runs in."""

    def __init__(self, home: Path):
        self.sock = home / "tmux.sock"
        conf = home / "tmux.conf"
        # xterm-256color: what most terminal emulators announce; ssh forwards it as TERM.
        conf.write_text('set -g default-terminal "xterm-256color"\n'
                        "set -g remain-on-exit on\nset -g history-limit 0\n")
        self.conf = conf
        self.env = {**os.environ, "LANG": "C.UTF-8"}
        self.env.pop("TMUX", None)

    def _tmux(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(["tmux", "-u", "-S", str(self.sock), "-f", str(self.conf), *args],
                              capture_output=True, text=True, env=self.env, check=check, timeout=30)

    def new(self, name: str, width: int, height: int, argv: list[str]) -> None:
        self._tmux("new-session", "-d", "-s", name, "-x", str(width), "-y", str(height),
                   shlex.join(argv))
        # A detached session takes its size from the latest client; none here, so fix it.
        self._tmux("set-option", "-t", name, "window-size", "manual")
        self._tmux("resize-window", "-t", name, "-x", str(width), "-y", str(height))

    def resize(self, name: str, width: int, height: int) -> None:
        self._tmux("resize-window", "-t", name, "-x", str(width), "-y", str(height))

    def capture(self, name: str, escapes: bool = False) -> str:
        """The visible screen as text; with escapes, with the SGR colour codes tmux holds."""
        return self._tmux("capture-pane", "-p", *(["-e"] if escapes else []), "-t", name).stdout

    def send(self, name: str, *keys: str) -> None:
        self._tmux("send-keys", "-t", name, *keys)

    def pane(self, name: str, fmt: str) -> str:
        return self._tmux("display-message", "-p", "-t", name, fmt).stdout.strip()

    def pid(self, name: str) -> int:
        """The pid of the command the session runs (here: the ssh client)."""
        return int(self.pane(name, "#{pane_pid}"))

    def dead(self, name: str) -> bool:
        return self.pane(name, "#{pane_dead}") == "1"

    def wait_for(self, name: str, predicate, timeout: float = 30.0, what: str = "") -> str:
        """Poll the screen until predicate(screen) is true; fail with the last screen."""
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.capture(name)
            if predicate(screen):
                return screen
            time.sleep(0.25)
        raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}; "
                             f"screen was:\n{screen}")

    def kill_server(self) -> None:
        self._tmux("kill-server", check=False)
