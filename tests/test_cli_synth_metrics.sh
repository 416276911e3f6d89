#!/usr/bin/env bash
# sscor synth + sscor metrics end to end: outputs, values, exit codes, and no
# partial output on error.
set -u
. "$SSCOR_SRC/tests/cli_util.sh"

expect_rc 0 "--help" "$S" --help
grep -q "synth" "$T/out.txt" && grep -q "metrics" "$T/out.txt" || bad "--help lists the commands"
expect_rc 2 "unknown command" "$S" frobnicate
expect_rc 2 "no command" "$S"
expect_rc 0 "synth --help" "$S" synth --help
expect_rc 2 "synth without -d" "$S" synth "$T/a.tif"
expect_rc 2 "synth bad kind" "$S" synth -d stripez "$T/a.tif"
grep -q "stripez" "$T/err.txt" || bad "error names the bad kind"
expect_rc 2 "synth bad value" "$S" synth -d "seams:width=x" "$T/a.tif"
expect_rc 2 "synth bad size" "$S" synth -d seams -s 10x-4 "$T/a.tif"
expect_rc 1 "synth out-of-range strength" "$S" synth -d "bubble:strength=3" "$T/a.tif"
expect_rc 1 "synth missing input" "$S" synth -d seams -i "$T/missing.tif" "$T/a.tif"
grep -q "missing.tif" "$T/err.txt" || bad "error names the missing file"
echo "not a tiff" >"$T/junk.tif"
expect_rc 1 "synth junk input" "$S" synth -d seams -i "$T/junk.tif" "$T/a.tif"
[ ! -e "$T/a.tif" ] && [ ! -e "$T/a.truth.tif" ] && [ ! -e "$T/a.truth.txt" ] && ok "no partial output" || bad "partial output left"
expect_rc 1 "synth into a missing folder" "$S" synth -d seams -s 64x64 "$T/nodir/a.tif"
ls "$T" | grep -q tmp && bad "temporary file left" || ok "no temporary files"

# Every kind, 8-bit RGB and float content.
for k in stripes-regular stripes-gaussian stripes-angled tile-uniform tile-varying oblique seams defocus bubble fringe; do
  expect_rc 0 "synth $k" "$S" synth -d "$k:tile=48" -s 120x96 -c 3 -T u8 --seed 2 "$T/$k.tif"
  [ -s "$T/$k.tif" ] && [ -s "$T/$k.truth.tif" ] && grep -q "^degradation $k" "$T/$k.truth.txt" || bad "$k outputs"
done
expect_rc 0 "synth float, two degradations" "$S" synth -d "seams:tile=64;fringe" -T f32 -s 128x128 -t "$T/clean.tif" -g "$T/geo.txt" "$T/f.tif"
[ "$(grep -c '^degradation' "$T/geo.txt")" = 2 ] || bad "two degradation blocks"

# Degrade an existing image: the truth is the input itself.
expect_rc 0 "synth -i" "$S" synth -d "tile-varying:tile=40" -i "$T/seams.truth.tif" "$T/re.tif"
expect_rc 0 "metrics truth of -i equals the input" "$S" metrics "$T/seams.truth.tif" -t "$T/re.truth.tif" --json
grep -q '"mae": 0,' "$T/out.txt" || bad "truth differs from the input: $(cat "$T/out.txt")"
expect_rc 0 "metrics truth vs input" "$S" metrics "$T/re.truth.tif" "$T/seams.truth.tif" --json
grep -q '"mae"' "$T/out.txt" && bad "no truth given, no mae" || ok "no truth metrics without --truth"

# Metrics: the truth as the "correction" removes everything.
expect_rc 0 "metrics table" "$S" metrics "$T/tile-varying.tif" -t "$T/tile-varying.truth.tif" -g "$T/tile-varying.truth.txt"
grep -q "seam_ratio" "$T/out.txt" || bad "seam metrics from the geometry's tiles"
expect_rc 0 "metrics perfect correction" "$S" metrics "$T/tile-varying.tif" "$T/tile-varying.truth.tif" \
  -t "$T/tile-varying.truth.tif" -g "$T/tile-varying.truth.txt" --json
grep -q '"stripe_pct": 0,' "$T/out.txt" && grep -q '"tile_pct": 0' "$T/out.txt" && grep -q '"psnr": null' "$T/out.txt" \
  && ok "perfect correction scores 0 % residual, infinite PSNR" || bad "perfect correction: $(cat "$T/out.txt")"
grep -A20 '"input_metrics"' "$T/out.txt" | grep -q '"stripe_pct": 100' || bad "input residual is 100 %"
expect_rc 0 "metrics plot" "$S" metrics "$T/stripes-regular.tif" "$T/stripes-regular.truth.tif" -t "$T/stripes-regular.truth.tif" -p "$T/p.png"
[ "$(head -c 4 "$T/p.png" | od -An -c | tr -d ' ')" = "211PNG" ] && ok "plot is a PNG" || bad "plot is not a PNG"
expect_rc 2 "metrics no args" "$S" metrics
expect_rc 2 "metrics bad channel" "$S" metrics "$T/f.tif" -c 5
expect_rc 1 "metrics size mismatch" "$S" metrics "$T/f.tif" "$T/seams.tif"
expect_rc 1 "metrics bad geometry" "$S" metrics "$T/f.tif" -g "$T/junk.tif"
expect_rc 1 "metrics plot into a missing folder" "$S" metrics "$T/f.tif" -p "$T/nodir/p.png"

# The real stitched image with its tile positions: seams clearly visible.
D="${SSCOR_DATA:-}/wsi_brain"
if [ -f "$D/stitched.tif" ]; then
  expect_rc 0 "metrics wsi_brain" "$S" metrics "$D/stitched.tif" --tiles "$D/tile_positions.txt" --json
  r=$(grep '"seam_ratio"' "$T/out.txt" | tr -dc '0-9.')
  awk -v r="$r" 'BEGIN{exit !(r > 3 && r < 6)}' && ok "wsi_brain seam ratio $r" || bad "wsi_brain seam ratio $r"
fi
exit $fail
