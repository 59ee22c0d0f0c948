#!/usr/bin/env bash
# Every GPU figure of bench/README.md in one run (about 7 minutes on an H100/H200).
# From the repository root, on a machine with a CUDA GPU:
#     bash bench/gpu_check.sh                 # uses .venv/bin/python, or PY=...
# On a bare GPU machine whose python3 has CUDA torch but no network, carry the wheels of
# `bash bench/gpu_setup.sh download` (the folder .whl) and run with SETUP=1: the script then
# makes a venv over python3's packages first (bench/README.md, "On a GPU").
# Writes at most 8 files under $OUT (default bench/gpu-results/), each stage's output in one:
#   env.txt           the card, driver, torch
#   tests.txt         the CUDA tests: sync, speed parity, cuda-graphs parity and steps/s
#   engine_plain.txt  benchmark 1 on CUDA at every B: engine lane vs plain eager loop
#   measurement.txt   benchmark 3 on CUDA: measurement share of every shipped preset
#   memory.txt        benchmark 6 on CUDA: per-lane memory_bytes
#   compile.txt       eager vs compile vs cuda-graphs steps/s at B = 1, 32, 512
#   traffic.txt       the app drawing a six-lane run on CUDA through a 120x40 pty, bytes/s
#   summary.txt       the lines that carry the figures, from all of the above
set -u
OUT=${OUT:-bench/gpu-results}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
if [ "${SETUP:-0}" = 1 ]; then
    PY=$(bash bench/gpu_setup.sh install | tail -1) || { echo "setup failed" | tee "$OUT/summary.txt"; exit 1; }
    export PATH="$(dirname "$PY"):$PATH"
fi
PY=${PY:-.venv/bin/python}
stage() {  # file, seconds, command...: the output into $OUT/file, keep going on failure
    local file=$1 limit=$2; shift 2
    echo "=== $* (limit ${limit}s, $(date +%T))" >> "$OUT/$file"
    timeout "$limit" "$@" >> "$OUT/$file" 2>&1
    echo "exit $? ($(date +%T))" >> "$OUT/$file"
}
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  $PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name(0))"
  uptime; } > "$OUT/env.txt" 2>&1
stage tests.txt 100 $PY -m pytest -q -rs -p no:cacheprovider tests/test_sync.py tests/test_engine_speed_parity.py \
    tests/test_compile.py -s -k "cuda or sync or parity"
stage engine_plain.txt 80 $PY bench/engine_vs_plain.py --device cuda --reps 5 --seconds 0.2
stage measurement.txt 150 $PY bench/measurement_cost.py --device cuda --preset all
stage compile.txt 70 $PY bench/compile_modes.py --device cuda --sizes 1,32,512 --reps 5 --seconds 0.3
stage memory.txt 30 $PY bench/memory.py --device cuda
stage traffic.txt 45 $PY bench/ssh_traffic.py --no-ssh --device cuda --seconds 20
grep -h -E "^===|^exit|passed|failed|skipped|steps/s|min ratio|measurement share|highest|KB/s|memory|MiB| \| default" \
    "$OUT"/env.txt "$OUT"/tests.txt "$OUT"/engine_plain.txt "$OUT"/compile.txt "$OUT"/memory.txt \
    "$OUT"/traffic.txt "$OUT"/measurement.txt > "$OUT/summary.txt"
cat "$OUT/env.txt" "$OUT/summary.txt"
