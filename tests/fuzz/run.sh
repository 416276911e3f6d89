#!/usr/bin/env bash
# Builds the fuzz targets (clang libFuzzer, libraries instrumented, ASan +
# UBSan) in build-fuzz/ and runs each for SECONDS: no input may take over
# 1 s, use over 2 GiB, leak or trip a sanitizer. Fails when any target finds
# anything; prints the executions of each (and build-fuzz/summary.tsv).
#   bash tests/fuzz/run.sh 60                  every target, 60 s each (CI)
#   bash tests/fuzz/run.sh 600 slide model     some targets
#   FUZZ_RUNS=1000000 bash tests/fuzz/run.sh 0 stop at 1M executions, no time limit
# Findings land in build-fuzz/findings/<target>/; a fix commits the input under
# tests/fuzz/regressions/<target>/, which the ctest replay (fuzz_<target>_replay) runs.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:?usage: run.sh SECONDS [TARGET...]}
shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(slide model geometry degrade)
command -v clang >/dev/null ||
  { echo "run.sh: clang not found (bash pipelines/setup.sh installs clang, libclang-rt-14-dev, libomp-dev)" >&2; exit 1; }

cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSSCOR_FUZZ=ON \
  -DSSCOR_WITH_CUDA=OFF -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ >/dev/null
cmake --build build-fuzz --target $(printf 'fuzz_%s ' "${targets[@]}")

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export OMP_WAIT_POLICY=passive OMP_NUM_THREADS=1
status=0
summary=build-fuzz/summary.tsv
: >"$summary"
for t in "${targets[@]}"; do
  work=build-fuzz/corpus/$t findings=build-fuzz/findings/$t log=build-fuzz/fuzz_$t.log
  mkdir -p "$work" "$findings"
  args=(-max_total_time="$seconds" -timeout=1 -rss_limit_mb=2048 -detect_leaks=1
        -artifact_prefix="$findings/" -print_final_stats=1)
  [ -n "${FUZZ_RUNS:-}" ] && args+=(-runs="$FUZZ_RUNS")
  echo "fuzz_$t: ${seconds}s${FUZZ_RUNS:+ or $FUZZ_RUNS runs} (log $log)"
  # new inputs go to the build folder's corpus; the committed seeds are only read
  rc=0 start=$SECONDS
  touch "build-fuzz/.start_$t" # findings of this run: newer than this
  build-fuzz/tests/fuzz/fuzz_$t "${args[@]}" "$work" tests/fuzz/corpus/$t \
    tests/fuzz/regressions/$t >"$log" 2>&1 || rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  found=$(find "$findings" -type f -newer "build-fuzz/.start_$t" | wc -l)
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "${runs:-0}" "$((SECONDS - start))" "${rate:-0}" "$found" "$rc" >>"$summary"
  if [ "$rc" -ne 0 ]; then
    status=1
    grep -E "ERROR|SUMMARY|Test unit written|runtime error|failure|#[0-9]+ .* in " "$log" | head -30 >&2
  fi
done
printf '%-10s %12s %8s %9s %9s\n' target executions time_s exec/s findings
while IFS=$'\t' read -r t runs secs rate found rc; do
  printf '%-10s %12s %8s %9s %9s%s\n' "$t" "$runs" "$secs" "$rate" "$found" "$([ "$rc" = 0 ] || echo "  FAILED (rc $rc)")"
done <"$summary"
exit $status
