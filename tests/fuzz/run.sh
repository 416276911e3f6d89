#!/usr/bin/env bash
# Builds the fuzz targets (clang libFuzzer, libraries instrumented, ASan +
# UBSan) in build-fuzz/ and runs each for SECONDS: no input may take over
# 1 s, use over 2 GiB, leak or trip a sanitizer. Fails when any target finds
# anything; prints the executions of each (and build-fuzz/summary.tsv).
#   bash tests/fuzz/run.sh 60                  every target, 60 s each (CI)
#   bash tests/fuzz/run.sh 600 slide model     some targets
#   FUZZ_RUNS=1000000 bash tests/fuzz/run.sh 0 stop at 1M executions, no time limit
# A timeout is re-run alone: one that passes alone was the machine's load (kept as
# *.busy) and fuzzing goes on. Findings land in build-fuzz/findings/<target>/; a fix
# commits the input under tests/fuzz/regressions/<target>/, which the ctest replay
# (fuzz_<target>_replay) runs.
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
# One libFuzzer run of target $1 (limits: seconds left $2, runs left $3);
# sets rc and adds its executions to total.
fuzz_once() {
  local t=$1 secs=$2 runs=$3 n
  local args=(-timeout=1 -rss_limit_mb=2048 -detect_leaks=1 -print_final_stats=1
              -artifact_prefix="build-fuzz/findings/$t/" -max_total_time="$secs")
  [ -n "$runs" ] && args+=(-runs="$runs")
  rc=0
  # new inputs go to the build folder's corpus; the committed seeds are only read
  build-fuzz/tests/fuzz/fuzz_$t "${args[@]}" "build-fuzz/corpus/$t" "tests/fuzz/corpus/$t" \
    "tests/fuzz/regressions/$t" >"build-fuzz/fuzz_$t.run" 2>&1 || rc=$?
  # the final stats, or after a finding the last status line ("#123 NEW ...")
  n=$(sed -n 's/^stat::number_of_executed_units: *//p' "build-fuzz/fuzz_$t.run" | tail -1)
  [ -n "$n" ] || n=$(tr '\r' '\n' <"build-fuzz/fuzz_$t.run" | grep -ao '^#[0-9]*' | tail -1 | tr -d '#')
  cat "build-fuzz/fuzz_$t.run" >>"build-fuzz/fuzz_$t.log"
  total=$((total + ${n:-0}))
}

for t in "${targets[@]}"; do
  findings=build-fuzz/findings/$t log=build-fuzz/fuzz_$t.log
  mkdir -p "build-fuzz/corpus/$t" "$findings"
  : >"$log"
  echo "fuzz_$t: ${seconds}s${FUZZ_RUNS:+ or $FUZZ_RUNS runs} (log $log)"
  start=$SECONDS total=0 found=0
  touch "build-fuzz/.start_$t" # findings of this run: newer than this
  while :; do
    left=0
    [ "$seconds" -gt 0 ] && { left=$((start + seconds - SECONDS)); [ "$left" -gt 0 ] || break; }
    runs_left=""
    [ -n "${FUZZ_RUNS:-}" ] && { runs_left=$((FUZZ_RUNS - total)); [ "$runs_left" -gt 0 ] || break; }
    fuzz_once "$t" "$left" "$runs_left"
    [ "$rc" -eq 0 ] && break
    # A timeout on a loaded shared machine: the input alone, under the same
    # 1 s limit, says whether it is slow or the machine was.
    art=$(find "$findings" -type f -name 'timeout-*' -newer "build-fuzz/.start_$t" | head -1)
    if [ -n "$art" ] && build-fuzz/tests/fuzz/fuzz_$t -timeout=1 -rss_limit_mb=2048 "$art" >/dev/null 2>&1; then
      echo "fuzz_$t: $art takes under 1 s alone (the machine was busy); fuzzing on" | tee -a "$log"
      mv "$art" "$art.busy"
      continue
    fi
    found=1
    break
  done
  rate=$(( total / (SECONDS - start > 0 ? SECONDS - start : 1) ))
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$total" "$((SECONDS - start))" "$rate" "$found" "$rc" >>"$summary"
  if [ "$found" -ne 0 ]; then
    status=1
    grep -aE "ERROR|SUMMARY|Test unit written|runtime error|failure|#[0-9]+ .* in " "$log" | head -30 >&2
  fi
done
printf '%-10s %12s %8s %9s %9s\n' target executions time_s exec/s findings
while IFS=$'\t' read -r t runs secs rate found rc; do
  printf '%-10s %12s %8s %9s %9s%s\n' "$t" "$runs" "$secs" "$rate" "$found" "$([ "$rc" = 0 ] || echo "  FAILED (rc $rc)")"
done <"$summary"
exit $status
