#!/usr/bin/env bash
# End-to-end `sscor correct` on wsi_brain/stitched.tif: detection accuracy,
# seam ratio, fidelity, texture contrast, tissue/background ratio, time;
# before/after PNGs. tile_positions.txt is read here for measuring only.
#   bash bench/wsi_brain.sh [build-dir] [out-dir]      (LEARN=1 adds the learned variants)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
out=${2:-/tmp/sscor-wsi-brain}
data=${SSCOR_DATA:-../shared/data}/wsi_brain
S="$build/pipelines/sscor"
export GST_PLUGIN_PATH="$build/elements${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
mkdir -p "$out"
cmake --build "$build" --target sscor-cli gstsscor >/dev/null

row() { # name, output tif, seconds
  /usr/bin/python3 bench/wsi_eval.py "$2" "$data/stitched.tif" "$data/tile_positions.txt" >"$out/$1.eval"
  "$S" metrics --tiles "$data/tile_positions.txt" "$data/stitched.tif" "$2" >"$out/$1.metrics"
  get() { awk -v k="$1" '$1==k{print $2}' "$out/$name.eval"; }
  name=$1
  printf '%-28s %8s %8s %9s %8s %8s %10s\n' "$1" "$(get seam_ratio)" "$(get fidelity_pct)" \
    "$(get contrast_ratio)" "$(get bg_ratio)" "$3" \
    "$(awk '$1=="seam_ratio"{print $3}' "$out/$1.metrics")/$(awk '$1=="fidelity_pct"{print $3}' "$out/$1.metrics")"
}

variants=(
  "flat-field (default)|"
  "flat-field, no tile gains|--no-gains"
  "flat-field, seams only|--no-interior"
)
# learned variants take minutes: LEARN=1 adds them (training budget BUDGET s, default 120)
if [ "${LEARN:-0}" = 1 ]; then
  variants+=("flat-field + learned G_C|--learn --budget ${BUDGET:-120}"
    "plain CycleGAN (cpu preset)|--plain-cyclegan --budget ${BUDGET:-120}")
fi
printf '%-28s %8s %8s %9s %8s %8s %10s\n' variant seam fid% contrast bg time_s core:seam/fid
for v in "${variants[@]}"; do
  name=${v%%|*}; opts=${v#*|}; tag=$(echo "$name" | tr -cs 'a-zA-Z0-9\n' '_' | sed 's/_$//')
  t0=$(date +%s.%N)
  # shellcheck disable=SC2086
  "$S" correct $opts --save-geometry "$out/$tag.geom" "$data/stitched.tif" "$out/$tag.tif" 2>"$out/$tag.log"
  t=$(echo "$(date +%s.%N) - $t0" | bc)
  row "$tag" "$out/$tag.tif" "$(printf %.1f "$t")"
done
echo "input seam ratio: $(awk '$1=="seam_ratio_input"{print $2}' "$out/flat_field_default.eval")" \
  "(core/metrics: $(awk '$1=="seam_ratio"{print $2}' "$out/flat_field_default.metrics"))"
echo "detection: $(grep '^geometry:' "$out/flat_field_default.log")"
/usr/bin/python3 bench/wsi_detect_eval.py "$out/flat_field_default.geom" "$data/tile_positions.txt"
echo "command: sscor correct $data/stitched.tif OUT.tif"

# before/after pictures: whole slide reduced, and a full-resolution crop
/usr/bin/python3 - "$data/stitched.tif" "$out/flat_field_default.tif" "$out" <<'PY'
import sys, numpy as np, tifffile
from skimage import io, transform
a = tifffile.imread(sys.argv[1]).astype(np.float32)
b = tifffile.imread(sys.argv[2], key=0).astype(np.float32)
hi = np.percentile(a[a > 0], 99.5)
def png(x, path):
    io.imsave(path, (np.clip(x / hi, 0, 1) ** 0.6 * 255).astype(np.uint8), check_contrast=False)
small = lambda x: transform.downscale_local_mean(x, (4, 4))
png(np.concatenate([small(a), small(b)], 1), sys.argv[3] + "/before_after.png")
y, x = 900, 1300
png(np.concatenate([a[y:y+700, x:x+1000], b[y:y+700, x:x+1000]], 1), sys.argv[3] + "/before_after_crop.png")
print("pictures:", sys.argv[3] + "/before_after.png", sys.argv[3] + "/before_after_crop.png", "(left input, right output)")
PY
