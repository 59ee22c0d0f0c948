#!/usr/bin/env bash
# The GPU figures of bench/README.md, in one run (about 5 minutes on an H100/H200).
# Run once where a CUDA GPU exists, from the repository root:
#     bash bench/gpu_check.sh            # writes to $OUT (or bench/gpu-results/) and prints
# 1. the sync test and the parity test on CUDA (set_sync_debug_mode("error") around train_step)
# 2. benchmark 1 on CUDA at every B (engine lane vs plain eager loop)
# 3. benchmark 3 on CUDA: measurement share, quickstart and the big preset, with the parts
# 4. benchmark 6 on CUDA: the engine's per-lane memory_bytes
set -u
PY=${PY:-.venv/bin/python}
OUT=${OUT:-bench/gpu-results}
mkdir -p "$OUT"
run() {  # name, command...: tee the output into $OUT/name.txt, keep going on failure
    local name=$1; shift
    echo "=== $name: $*" | tee "$OUT/$name.txt"
    timeout 240 "$@" 2>&1 | tee -a "$OUT/$name.txt"
    echo "exit ${PIPESTATUS[0]}" | tee -a "$OUT/$name.txt"
}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
$PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name(0))" | tee -a "$OUT/gpu.txt"
run sync_test $PY -m pytest -q -rs tests/test_sync.py tests/test_engine_speed_parity.py
run engine_vs_plain_cuda $PY bench/engine_vs_plain.py --device cuda --reps 7 --seconds 0.3
run measurement_cost_cuda $PY bench/measurement_cost.py --device cuda --reps 2 --compare --parts
run measurement_cost_big_cuda $PY bench/measurement_cost.py --device cuda --preset big --reps 1 --parts
run memory_cuda $PY bench/memory.py --device cuda
grep -h "min ratio\|measurement share:\|peak RSS\|passed\|failed" "$OUT"/*.txt
