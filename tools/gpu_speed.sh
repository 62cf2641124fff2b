#!/usr/bin/env bash
# Issue 11 on the GPU machine, one device call: transport speed; KernelBench L1/19 at its own size
# with timing (a cold build, then cached), with KernelBench's own evaluator beside (KB_EVAL=1);
# then level-1 problems at their own sizes, correctness only, each judged against itself, until
# SWEEP_SECONDS are spent (none started that could run past them: each may take 120 s; SWEEP:
# problem numbers, default all; JOBS: small ones at once; L19=0 skips the first part);
# SWEEP_LIMIT: seconds one problem may take (120); GPU_TESTS=1 times every GPU test (-m gpu);
# FIRST_VISIT=1 runs benchmarks/first_visit_engine.py; TOTAL_SECONDS: the whole call's seconds,
# the sweep's share being what the parts before it left; CANDIDATES="12 88" judges and times those problems'
# candidates in benchmarks/candidates (N_*.py) too, after L1/19's, each as L1/19's is.
# Needs .kb/ (ignored, carried): KernelBench's level1 files, its eval package, wheels for its needs
# (tools/make_kb.sh builds it from a KernelBench git directory).
set -u
export PYTHONPATH=src PYTHONUNBUFFERED=1
out=${OUT:-/tmp/kernelswarm-speed}
mkdir -p "$out"
nvidia-smi -L; nproc; free -g | head -2
# who holds the GPU: every second, each process's GPU memory (MiB) and what it is (a worker's
# role, the judge), in gpu_procs.log (seconds since the call began, pid, MiB, what)
( while sleep 1; do
    nvidia-smi --query-compute-apps=pid,used_memory --format=csv,noheader,nounits 2>&1 |
    while IFS=', ' read -r pid mib; do
      cmd=$(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null)
      what=$(grep -o -e '--role [a-z]*' <<< "$cmd" || grep -o -e 'kernelswarm [a-z]*' <<< "$cmd" ||
             grep -o -e '[A-Za-z0-9_]*\.py' <<< "$cmd" | head -1)
      what=${what:-?}; echo "$SECONDS $pid $mib ${what// /_}"
    done
  done ) > "$out/gpu_procs.log" 2>&1 &
sampler=$!
if [ "${GPU_TESTS:-0}" = 1 ]; then
  t0=$SECONDS; python3 -m pytest -q -m gpu tests -p no:cacheprovider --durations=10 > "$out/test_gpu.log" 2>&1
  echo "every GPU test (-m gpu): exit $? in $((SECONDS - t0)) s"; tail -20 "$out/test_gpu.log"
fi
if [ "${FIRST_VISIT:-0}" = 1 ]; then  # first visits against lone repeats in the engine's session
  python3 benchmarks/first_visit_engine.py 2>&1 | tee "$out/first_visit_engine.log"
fi
if [ "${WIRE:-1}" = 1 ]; then  # WIRE=0 skips the transport measurement
  python3 tools/wire_speed.py 4 gpu 2>&1 | grep -v -e Deprecation -e "sent in" | tee "$out/wire.log"
fi
kb=()
if [ "${KB_EVAL:-0}" = 1 ]; then
  pip install -q --no-index --find-links .kb/wheels .kb/wheels/*.whl --target /tmp/kbdeps > "$out/pip.log" 2>&1
  kb=(--kernelbench-eval --kb-package .kb/kbpkg:/tmp/kbdeps)
fi
# L1/19 is one of the candidates, first unless L19=0
[ "${L19:-1}" = 1 ] && CANDIDATES="19 ${CANDIDATES:-}"
if [ -n "${CANDIDATES:-}" ]; then
  cands=(); nums=()
  for n in $CANDIDATES; do cands+=(--candidate "$n=$(ls benchmarks/candidates/${n}_*.py)"); nums+=("$n"); done
  python3 benchmarks/judge_speed.py --kernelbench .kb --out "$out/candidates" "${kb[@]}" --limit 240 \
    --problems "$(IFS=,; echo "${nums[*]}")" "${cands[@]}" --timing --repeat "${REPEAT:-2}" \
    2>&1 | tee "$out/candidates.md"
fi
# JOBS=3: problems with inputs under 1 GiB judged three at a time, the others alone after.
# TOTAL_SECONDS: the sweep gets what is left of them after the parts above (none if under 150)
sweep=${SWEEP_SECONDS:-300}
if [ -n "${TOTAL_SECONDS:-}" ]; then sweep=$((TOTAL_SECONDS - SECONDS)); [ "$sweep" -lt 150 ] && sweep=0; fi
if [ "$sweep" != 0 ]; then
  echo "sweep: $sweep s"
  python3 benchmarks/judge_speed.py --kernelbench .kb --out "$out/sweep" --problems "${SWEEP:-}" \
    --limit "${SWEEP_LIMIT:-120}" --stop-after "$sweep" --jobs "${JOBS:-1}" 2>&1 | tee "$out/sweep.md"
fi
kill "$sampler" 2>/dev/null
echo "GPU memory by process, largest seen (MiB): $(sort -k3 -n -r "$out/gpu_procs.log" | awk '!seen[$4]++ {printf "%s %s; ", $4, $3}')"
# the device tool brings back at most 8 files: the tables as they are, the rest in one archive
tar czf /tmp/gpu_speed.tgz -C "$out" . && mv /tmp/gpu_speed.tgz "$out/" && \
  find "$out" -mindepth 1 -not -name '*.md' -not -name gpu_speed.tgz -delete
