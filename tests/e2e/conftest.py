"""Fixtures of the end-to-end tests: a real sshd on 127.0.0.1 and a private tmux server.

Both are stopped at teardown even when a test fails. The system packages come
from scripts/ci-system-deps.sh (installed when missing; CI runs as root).
"""

from __future__ import annotations

import pytest
from sshd import Sshd, Tmux, ensure_system_deps


@pytest.fixture(scope="module")  # stopped when test_ssh.py is done, not at the session's end
def sshd(tmp_path_factory):
    why = ensure_system_deps()
    if why is not None:
        pytest.skip(f"openssh-server/tmux unavailable: {why}")
    server = Sshd(tmp_path_factory.mktemp("sshd")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def tmux(tmp_path, sshd):
    t = Tmux(tmp_path)
    try:
        yield t
    finally:
        t.kill_server()  # ends every ssh client in it, so their remote sessions hang up too
