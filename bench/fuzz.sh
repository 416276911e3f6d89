#!/usr/bin/env bash
# Runs every fuzz target (tests/fuzz/run.sh) until it has executed at least
# RUNS inputs (default 1M), then prints target | executions | time | crashes.
#   bash bench/fuzz.sh [RUNS] [TARGET...]
set -uo pipefail
cd "$(dirname "$0")/.."
runs=${1:-1000000}
shift || true
FUZZ_RUNS=$runs bash tests/fuzz/run.sh 0 "$@" >/dev/null
status=$?
echo "| target | executions | time | crashes |"
echo "|---|---|---|---|"
while IFS=$'\t' read -r t n secs rate found rc; do
  echo "| $t | $n | ${secs} s ($rate exec/s) | $found$([ "$rc" = 0 ] || echo " (rc $rc)") |"
done <build-fuzz/summary.tsv
exit $status
