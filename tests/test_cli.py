"""The command line, run as a user runs it (a subprocess): bad input is one line and exit 2.

All commands run at once in a module fixture (each is mostly interpreter start-up),
then each case checks its own result.
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch

EXIT_BAD_INPUT = 2

# (id, argv after `tuilab`, files to create in the working directory, words the one line must contain)
BAD = [
    ("batch-zero", ["run", "--batch-sizes", "0"], {}, ["batch size 0", ">= 1"]),
    ("batch-abc", ["run", "--batch-sizes", "abc"], {}, ["'abc'", "whole number"]),
    ("batch-negative", ["run", "--batch-sizes=-3"], {}, ["batch size -3", ">= 1"]),
    ("batch-repeat", ["run", "--batch-sizes", "8,8"], {}, ["repeat"]),
    ("batch-empty", ["run", "--batch-sizes", ""], {}, ["at least one"]),
    ("batch-too-big", ["run", "--batch-sizes", "8,100000"], {}, ["batch size 100000", "larger than the training set",
                                                                 "valid: 1..3200"]),
    ("device-unknown", ["run", "--device", "tpu"], {}, ["unknown device 'tpu'", "valid:"]),
    ("preset-typo", ["run", "typo.toml"], {"typo.toml": b'name = "x"\nbatch_sizs = [8]\n'},
     ["typo.toml", "batch_sizs", "unknown key"]),
    ("preset-wrong-type", ["run", "type.toml"], {"type.toml": b'name = "x"\n[optimizer]\nlr = "fast"\n'},
     ["type.toml", "optimizer.lr"]),
    ("preset-bad-value", ["run", "val.toml"], {"val.toml": b'[dataset]\nname = "imagenet"\n'},
     ["val.toml", "unknown dataset 'imagenet'", "moons"]),
    ("preset-broken-toml", ["run", "broken.toml"], {"broken.toml": b'name = "x"\nbatch_sizes = [8,\n'},
     ["broken.toml", "broken TOML", "line"]),
    ("preset-not-utf8", ["run", "bin.toml"], {"bin.toml": b"\xff\xfe\x00name = 1"}, ["bin.toml", "not UTF-8"]),
    ("preset-directory", ["run", "adir"], {"adir/": b""}, ["adir", "is a directory"]),
    ("preset-missing-file", ["run", "missing.toml"], {}, ["missing.toml", "no such preset file"]),
    ("preset-unknown-name", ["run", "nosuchpreset"], {}, ["'nosuchpreset'", "quickstart"]),
    ("unknown-option", ["run", "--bogus"], {}, ["unrecognized arguments: --bogus"]),
    ("epochs-negative", ["run", "--epochs", "-1"], {}, ["--epochs", "'-1'", "> 0"]),
    ("epochs-abc", ["run", "--epochs", "abc"], {}, ["--epochs", "'abc'", "> 0"]),
    ("epochs-nan", ["run", "--epochs", "nan"], {}, ["--epochs", "'nan'"]),
    ("steps-zero", ["run", "--steps", "0"], {}, ["--steps", "'0'"]),
    ("two-budgets", ["run", "--epochs", "1", "--steps", "3"], {}, ["only one of"]),
    ("seed-negative", ["run", "--seed=-1"], {}, ["seed"]),
    ("seed-abc", ["run", "--seed", "abc"], {}, ["--seed"]),
    ("data-file-nan", ["run", "nan.toml"], {
        "nan.toml": b'device = "cpu"\nbatch_sizes = [4]\n[dataset]\nname = "csv:nan.csv"\n',
        "nan.csv": b"a,b,y\n1,2,0\nnan,3,1\n" + b"".join(b"%d,%d,%d\n" % (i, 2 * i, i % 2) for i in range(20))},
     ["nan.csv", "line 3", "finite"]),
    ("out-not-writable", ["run", "--out", "afile/runs", "--epochs", "0.01"], {"afile": b"x"},
     ["--out", "cannot create"]),
    ("watch-not-a-run", ["watch", "adir"], {"adir/": b""}, ["adir", "not a run directory"]),
]
if not torch.cuda.is_available():
    BAD.append(("device-cuda-absent", ["run", "--device", "cuda"], {}, ["device 'cuda' is not available", "cpu"]))

GOOD = [
    ("presets", ["presets"], ["quickstart", "seed-classic"]),
    ("devices", ["devices"], ["cpu"]),
    ("runs-empty", ["runs"], ["no runs"]),
]


def _tuilab(argv: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "TUILAB_CONFIG_DIR": str(cwd / "config"), "COLUMNS": "200", "PYTHONWARNINGS": "ignore"}
    return subprocess.run([sys.executable, "-m", "tuilab.cli", *argv], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict[str, tuple[subprocess.CompletedProcess, Path]]:
    jobs = {}
    for case_id, argv, files, *_ in BAD + GOOD:
        cwd = tmp_path_factory.mktemp(case_id)
        for name, content in (files if isinstance(files, dict) else {}).items():
            if name.endswith("/"):
                (cwd / name).mkdir()
            else:
                (cwd / name).write_bytes(content)
        jobs[case_id] = (argv, cwd)
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {k: pool.submit(_tuilab, argv, cwd) for k, (argv, cwd) in jobs.items()}
        return {k: (f.result(), jobs[k][1]) for k, f in futures.items()}


@pytest.mark.parametrize("case_id, argv, files, words", BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_one_line_and_exit_2(results, case_id, argv, files, words):
    proc, cwd = results[case_id]
    err = proc.stderr.strip()
    assert proc.returncode == EXIT_BAD_INPUT, (argv, proc.returncode, err[-2000:])
    assert "Traceback" not in err and "Error:" not in err.split(":", 1)[0], err
    assert len(err.splitlines()) == 1, f"want one line, got:\n{err}"
    assert err.startswith("tuilab: ")
    for w in words:
        assert w in err, f"{w!r} not in {err!r}"
    # Validation comes before any training: no run directory is left behind.
    assert not list(cwd.glob("runs/*")), list(cwd.glob("runs/*"))


@pytest.mark.parametrize("case_id, argv, words", GOOD, ids=[g[0] for g in GOOD])
def test_listing_subcommands_work(results, case_id, argv, words):
    proc, _ = results[case_id]
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    for w in words:
        assert w in proc.stdout, proc.stdout
