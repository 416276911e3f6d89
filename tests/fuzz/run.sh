#!/usr/bin/env bash
# Builds the fuzz targets (clang libFuzzer, libraries instrumented, ASan +
# UBSan) in build-fuzz/ and runs each for SECONDS: no input may take over
# 1 s, use over 2 GiB, leak or trip a sanitizer. Fails on the first target
# that finds anything; prints the executions of each.
#   bash tests/fuzz/run.sh 60                  every target, 60 s each (CI)
#   bash tests/fuzz/run.sh 600 slide model     some targets
#   FUZZ_RUNS=1000000 bash tests/fuzz/run.sh 3600   stop at 1M executions (bench/fuzz.sh)
# Crash inputs land in build-fuzz/findings/<target>/; a fix commits the input
# under tests/fuzz/regressions/<target>/, which the ctest replay runs.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:?usage: run.sh SECONDS [TARGET...]}
shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(slide model geometry degrade)
command -v clang >/dev/null || { echo "run.sh: clang not found (bash pipelines/setup.sh installs clang, libclang-rt-14-dev, libomp-dev)" >&2; exit 1; }

cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSSCOR_FUZZ=ON \
  -DSSCOR_WITH_CUDA=OFF -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ >/dev/null
cmake --build build-fuzz --target $(printf 'fuzz_%s ' "${targets[@]}")

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export OMP_WAIT_POLICY=passive OMP_NUM_THREADS=1
status=0
summary=()
for t in "${targets[@]}"; do
  work=build-fuzz/corpus/$t findings=build-fuzz/findings/$t
  mkdir -p "$work" "$findings"
  log=build-fuzz/fuzz_$t.log
  args=(-max_total_time="$seconds" -timeout=1 -rss_limit_mb=2048 -detect_leaks=1
        -artifact_prefix="$findings/" -print_final_stats=1)
  [ -n "${FUZZ_RUNS:-}" ] && args+=(-runs="$FUZZ_RUNS")
  [ -f "tests/fuzz/$t.dict" ] && args+=(-dict="tests/fuzz/$t.dict")
  echo "fuzz_$t: ${seconds}s${FUZZ_RUNS:+ or $FUZZ_RUNS runs} (log $log)"
  # new inputs go to the build folder's corpus; the committed seeds are read only
  rc=0
  build-fuzz/tests/fuzz/fuzz_$t "${args[@]}" "$work" tests/fuzz/corpus/$t \
    tests/fuzz/regressions/$t >"$log" 2>&1 || rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  secs=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  crashes=$(find "$findings" -type f | wc -l)
  summary+=("$(printf '%-10s %10s executions %8s exec/s  rc %d  %d finding(s)' "$t" "${runs:-?}" "${secs:-?}" "$rc" "$crashes")")
  if [ "$rc" -ne 0 ]; then
    status=1
    grep -E "ERROR|SUMMARY|Test unit written|runtime error|failure|timeout|out-of-memory" "$log" | head -20 >&2
  fi
done
printf '%s\n' "${summary[@]}"
exit $status
