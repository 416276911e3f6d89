#!/usr/bin/env bash
# Engine speed next to PyTorch, in one run: builds bench_engine (build/), runs
# it, then the same networks in PyTorch with 2 threads, and prints the table.
#   bash bench/run_engine.sh [--reps N] [--train-reps N]      (BUILD=dir picks the build folder)
# The machine is shared: run it when idle, and compare ratios within one run.
set -euo pipefail
cd "$(dirname "$0")/.."
reps=5 train_reps=3
while [ $# -gt 0 ]; do
  case "$1" in
    --reps) reps=$2; shift 2 ;;
    --train-reps) train_reps=$2; shift 2 ;;
    *) echo "usage: $0 [--reps N] [--train-reps N]" >&2; exit 2 ;;
  esac
done
# Both sides use GNU OpenMP. Its default busy-waiting collapses on a shared
# machine (measured: a 64^2 cpu-preset forward 136 ms instead of 0.9 ms while
# other jobs kept both cores busy), so both run with passive waiting unless
# the caller sets OMP_WAIT_POLICY.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
build=${BUILD:-build}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target bench_engine >/dev/null
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "== sscor engine (OMP_WAIT_POLICY=$OMP_WAIT_POLICY, load: $(cut -d' ' -f1-3 /proc/loadavg))"
"$build"/bench/bench_engine --threads 2 --reps "$reps" --train-reps "$train_reps" --out "$out/engine.tsv" --dump "$out/dump"
echo "== load: $(cut -d' ' -f1-3 /proc/loadavg); PyTorch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)'), 2 threads"
/usr/bin/python3 bench/bench_torch.py --engine "$out/engine.tsv" --dump "$out/dump" --threads 2 \
  --reps "$reps" --train-reps "$train_reps"
