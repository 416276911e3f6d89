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
grep detect_seconds "$out/detect.log"
printf '%-34s %8s %8s %8s %8s %8s %8s\n' variant seam fid% contrast bg band time_s
variants=(
  "default|"
  "no-dark|--dark 0"
  "no-overlap-factor|--no-overlap-factor"
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
  band=$(/usr/bin/python3 bench/wsi_bands.py "$out/$name.tif" | sed 's/.*contrast \([-+0-9.]*\).*/\1/')
  printf '%-34s %8s %8s %8s %8s %8s %8s\n' "$name" "$(get seam_ratio)" "$(get fidelity_pct)" "$(get contrast_ratio)" "$(get bg_ratio)" "$band" "$t"
done
# Reference only: the same default estimator given the true tile positions
# (tile_positions.txt is read here by the benchmark, never by the tool).
{ echo "sscor-geometry 1"; echo "image 4390 2916"; echo "orientation grid"; echo "tile-size 512 512"
  grep -v '^#' "$data/tile_positions.txt" | awk '{print "tile", $2, $3}'; } >"$out/true.geom"
"$build/bench/bench_flatfield" "$data/stitched.tif" "$out/true-geometry.tif" --geometry "$out/true.geom" >"$out/true-geometry.log"
/usr/bin/python3 bench/wsi_eval.py "$out/true-geometry.tif" "$data/stitched.tif" "$data/tile_positions.txt" >"$out/true-geometry.eval"
name=true-geometry; t=$(awk '/^time_s/{print $NF}' "$out/$name.log")
get() { awk -v k="$1" '$1==k{print $2}' "$out/$name.eval"; }
band=$(/usr/bin/python3 bench/wsi_bands.py "$out/$name.tif" | sed 's/.*contrast \([-+0-9.]*\).*/\1/')
printf '%-34s %8s %8s %8s %8s %8s %8s\n' "(reference) true tile positions" "$(get seam_ratio)" "$(get fidelity_pct)" "$(get contrast_ratio)" "$(get bg_ratio)" "$band" "$t"
echo "input: seam ratio $(awk '$1=="seam_ratio_input"{print $2}' "$out/default.eval"), band $(/usr/bin/python3 bench/wsi_bands.py "$data/stitched.tif" | sed 's/.*contrast \([-+0-9.]*\).*/\1/')"
echo "columns: seam ratio (target <= 1.15), fidelity % (<= 0.5), texture contrast out/in (0.95..1.05),"
echo "         tissue/background ratio out/in (0.8..1.25), mean log contrast of overlap bands (0 = invisible),"
echo "         time of estimate + apply in s (detection timed separately above; geometry read from file)"
# Before/after pictures, same contrast stretch.
/usr/bin/python3 - "$data/stitched.tif" "$out/default.tif" "$out" <<'PY'
import sys, numpy as np, tifffile
from skimage.transform import downscale_local_mean
from skimage.io import imsave
a = tifffile.imread(sys.argv[1]).astype(np.float32); b = tifffile.imread(sys.argv[2]).astype(np.float32)
lo, hi = np.percentile(a[a > 0], [0.5, 99.7])
s = lambda x: (np.clip((x - lo) / (hi - lo), 0, 1) * 255).astype(np.uint8)
imsave(sys.argv[3] + '/before.png', s(downscale_local_mean(a, (4, 4))))
imsave(sys.argv[3] + '/after.png', s(downscale_local_mean(b, (4, 4))))
imsave(sys.argv[3] + '/before_crop.png', s(a[1300:2300, 1500:2700]))
imsave(sys.argv[3] + '/after_crop.png', s(b[1300:2300, 1500:2700]))
PY
echo "pictures: $out/before.png $out/after.png $out/before_crop.png $out/after_crop.png"
