#!/usr/bin/env bash
# The GPU paths end to end, in one device call (docs/validation.md): the confinement doctor, a
# timed CUDA check, an in-process check, bench, the poison test, GPU tensors by CUDA IPC, then
# the whole example catalogue on CUDA.
# Run on the GPU machine from the repository root:  bash tools/gpu_check.sh   (results under $OUT)
set -u
export PYTHONPATH=src PYTHONUNBUFFERED=1
out=${OUT:-/tmp/kernelswarm-gpu}
mkdir -p "$out"
nvidia-smi -L
step() { local name=$1; shift; local t0=$SECONDS; "$@" > "$out/$name.log" 2>&1; echo "$name: exit $? in $((SECONDS - t0)) s"; tail -3 "$out/$name.log"; }
step doctor python3 -m kernelswarm doctor
step check_timed python3 -m kernelswarm check examples/problems/relu.py examples/good/cuda/relu_cuda.py \
  --device cuda --time-budget 5 --json "$out/check_timed.json"
step check_in_process python3 -m kernelswarm check examples/problems/matmul.py examples/good/matmul_tiled.py \
  --device cuda --no-timing --in-process -q
step bench python3 -m kernelswarm bench problems/level1/8_gelu.py --device cuda --time-budget 5 --json "$out/bench.json"
step pytest_gpu python3 -m pytest -q tests/test_gpu.py -k poison -p no:cacheprovider
step pytest_ipc python3 -m pytest -q tests/test_cuda_ipc.py -p no:cacheprovider
step pytest_rules python3 -m pytest -q tests/test_judge_rules.py -m gpu -p no:cacheprovider
# the catalogue gets what is left of the call's ten minutes (TOTAL_SECONDS), at most SELFTEST_SECONDS
left=$(( ${TOTAL_SECONDS:-570} - SECONDS )); want=${SELFTEST_SECONDS:-420}; [ "$left" -lt "$want" ] && want=$left
echo "selftest: $want s"
step selftest timeout "$want" python3 -m kernelswarm selftest examples --device cuda \
  --jobs "${JOBS:-6}" --json "$out/selftest.json"
# the device tool brings back at most 8 files: everything in one archive
tar czf /tmp/gpu_check.tgz -C "$out" . && rm -rf "${out:?}"/* && mv /tmp/gpu_check.tgz "$out/"
