#!/usr/bin/env bash
# Issue 11 on the GPU machine, one device call: transport speed, KernelBench L1/19 at its own size
# (a cold build, then cached) with timing, optionally KernelBench's own evaluator on the same
# file (KB_EVAL=1), then a sweep of level-1 problems at their own sizes (correctness only) until
# SWEEP_SECONDS are spent.
# Needs .kb/ (ignored, carried): KernelBench's level1 files, its eval package, wheels for its needs.
set -u
export PYTHONPATH=src PYTHONUNBUFFERED=1
out=${OUT:-/tmp/kernelswarm-speed}
mkdir -p "$out"
nvidia-smi -L; nproc; free -g | head -2
python3 tools/wire_speed.py 4 gpu 2>&1 | grep -v Deprecation | tee "$out/wire.log"
kb=()
if [ "${KB_EVAL:-0}" = 1 ]; then
  pip install -q --no-index --find-links .kb/wheels pydantic requests python-dotenv --target /tmp/kbdeps > "$out/pip.log" 2>&1
  kb=(--kernelbench-eval --kb-package .kb/kbpkg:/tmp/kbdeps)
fi
python3 benchmarks/judge_speed.py --kernelbench .kb --out "$out/l1_19" "${kb[@]}" \
  --problems 19 --candidate 19=benchmarks/candidates/19_ReLU_cuda_vec4.py --timing --repeat 2 \
  2>&1 | tee "$out/l1_19.md"
python3 benchmarks/judge_speed.py --kernelbench .kb --out "$out/sweep" --problems "${SWEEP:-1,23,45,97,4,9,40,50,76,87,93}" \
  --stop-after "${SWEEP_SECONDS:-200}" 2>&1 | tee "$out/sweep.md"
