"""What the command line says: help names only real options, one prefix per error, whole paths."""

from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "ui"))  # the made-up run of the UI tests

from synthetic_run import events, write_run_dir  # noqa: E402

from tuilab.cli import build_parser, main  # noqa: E402
from tuilab.presets import SHIPPED_DIR, experiment_from_dict, list_presets, save_preset  # noqa: E402


def test_help_names_only_options_that_exist():
    for name, parser in build_parser().items():
        real = {s for action in parser._actions for s in action.option_strings}
        named = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", parser.format_help()))
        assert named <= real, f"tuilab {name} -h names {named - real}, which do not exist"


def test_an_error_names_tuilab_once(capsys, tmp_path):
    for argv in (["export", str(tmp_path)], ["export"], ["run", "--bogus"]):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("tuilab: ") and not err.startswith("tuilab: tuilab"), err
        assert len(err.splitlines()) == 1


def test_export_lane_says_where_the_script_went_when_stdout_is_redirected(tmp_path, capsys):
    run = write_run_dir(tmp_path / "run", events())  # moons 4000: 3200 training examples
    save_preset(experiment_from_dict({"name": "quickstart", "device": "cpu", "batch_sizes": [8, 32, 128, 512],
                                      "dataset": {"name": "moons", "n": 4000}}), run / "experiment.toml")
    assert main(["export", str(run), "--lane", "32"]) == 0
    out, err = capsys.readouterr()
    assert out == "" and f"wrote {run / 'train_b32.py'}" in err and "-o FILE" in err
    help_text = build_parser()["export"].format_help()
    assert "default: stdout" not in help_text and "RUN_DIR/train_bB.py" in help_text


def test_presets_prints_whole_paths_at_60_columns(capsys, monkeypatch):
    from tuilab.listing import print_presets

    monkeypatch.setenv("COLUMNS", "60")
    assert print_presets() == 0
    lines = capsys.readouterr().out.splitlines()
    assert f"shipped presets: {SHIPPED_DIR}" in lines
    assert max(len(line) for line in lines if str(SHIPPED_DIR) not in line) <= 60
    for name, _, _ in list_presets():
        assert any(line.startswith(f"{name} ") for line in lines), name


def test_readme_says_what_a_data_file_must_hold():
    from tuilab.engine.datafiles import MAX_CLASSES

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    section = readme[readme.index('`name = "csv:PATH"`'):]
    for words in ("header row", "last column is the target", "numpy.savez(path, x=..., y=...)",
                  "(n, channels, height, width)", "`x_test` and `y_test`", f"at most {MAX_CLASSES}"):
        assert words in section, words
