#!/usr/bin/env bash
# Seam-aware flat-field on wsi_brain: detect + estimate + correct for several
# variants, then the independent evaluator; prints one table.
#   bash bench/wsi_flatfield.sh [build-dir] [out-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
out=${2:-/tmp/sscor-wsi-flatfield}
data=${SSCOR_DATA:-../shared/data}/wsi_brain
mkdir -p "$out"
cmake --build "$build" --target bench_flatfield bench_detect >/dev/null
"$build/bench/bench_detect" "$data/stitched.tif" "$out/detected.geom" >"$out/detect.log"
echo "detection: $(head -1 "$out/detect.log")"
/usr/bin/python3 bench/wsi_detect_eval.py "$out/detected.geom" "$data/tile_positions.txt"
printf '%-34s %8s %8s %8s %8s %8s\n' variant seam fid% contrast bg time_s
variants=(
  "default|"
  "no-dark|--dark 0"
  "no-gains|--no-gains"
  "no-dark,no-gains|--dark 0 --no-gains"
  "seams-only,no-dark|--dark 0 --no-interior"
  "knots9,no-dark|--dark 0 --knots 9"
  "knots19,no-dark|--dark 0 --knots 19"
)
for v in "${variants[@]}"; do
  name=${v%%|*}; opts=${v#*|}
  # shellcheck disable=SC2086
  "$build/bench/bench_flatfield" "$data/stitched.tif" "$out/$name.tif" --geometry "$out/detected.geom" $opts >"$out/$name.log"
  t=$(awk '/^time_s/{print $NF}' "$out/$name.log")
  /usr/bin/python3 bench/wsi_eval.py "$out/$name.tif" "$data/stitched.tif" "$data/tile_positions.txt" >"$out/$name.eval"
  get() { awk -v k="$1" '$1==k{print $2}' "$out/$name.eval"; }
  printf '%-34s %8s %8s %8s %8s %8s\n' "$name" "$(get seam_ratio)" "$(get fidelity_pct)" "$(get contrast_ratio)" "$(get bg_ratio)" "$t"
done
echo "input seam ratio: $(awk '$1=="seam_ratio_input"{print $2}' "$out/default.eval")"
