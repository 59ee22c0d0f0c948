"""The engine is headless: importing it must not pull in textual or rich."""

import subprocess
import sys


def test_engine_imports_neither_textual_nor_rich():
    code = ("import sys, tuilab.engine.run, tuilab.engine.store, tuilab.engine.record; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('textual', 'rich')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_cli_entry_does_not_import_torch_before_needed():
    # The TUI's first frame must come before torch loads: the CLI module stays light.
    code = "import sys, tuilab.cli, tuilab.presets; sys.exit(1 if 'torch' in sys.modules else 0)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
