#!/usr/bin/env bash
# The timing rules on a GPU, in one device call (docs/benchmarks.md): the timing cheats and two
# honest timed candidates, then one problem's bench repeated (intervals across runs).
set -u
export PYTHONPATH=src PYTHONUNBUFFERED=1
out=${OUT:-/tmp/kernelswarm-gpu}
mkdir -p "$out"
logs=$(mktemp -d)
step() { local name=$1; shift; local t0=$SECONDS; "$@" > "$logs/$name.log" 2>&1; echo "$name: exit $? in $((SECONDS - t0)) s"; tail -4 "$logs/$name.log"; }
step timing_cheats python3 -m kernelswarm selftest examples --device cuda --only timing/ --json "$out/timing_cheats.json"
step relu_cuda python3 -m kernelswarm check examples/problems/relu.py examples/good/cuda/relu_cuda.py \
  --device cuda --time-budget 5 --set batch_size=4096 --json "$out/relu_cuda.json" -q
step matmul_once python3 -m kernelswarm check examples/problems/redundant_matmul.py examples/good/matmul_once.py \
  --device cuda --set N=4096 --time-budget 5 --json "$out/matmul_once.json" -q
step bench_repeat python3 tools/bench_repeat.py problems/level1/8_gelu.py --runs "${RUNS:-4}" --time-budget 5 --out "$logs/repeat"
cp "$logs/repeat/summary.json" "$out/bench_repeat.json"
cat "$logs/bench_repeat.log" | head -12
