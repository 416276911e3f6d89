#!/usr/bin/env bash
# `sscor correct` on small synthetic degradations (512x512, 4x4 tiles, as in
# bench/quality.sh): detection needs no geometry, the result is better than
# the input against the truth (PSNR and seam ratio), and a degradation that is
# no tile shading is refused with exit 1 and no output, never harmed.
set -u
. "$SSCOR_SRC/tests/cli_util.sh"

tile="$SSCOR_DATA/wsi_brain/tiles/C3-BrainSection0025.tif"
[ -f "$tile" ] || { echo "no $tile: skipped"; exit 77; }
metric() { awk -v k="$1" -v c="$2" '$1==k{print $c}' "$3"; }

# overlap bands on a real tile: seams that the overlap factor must remove
"$S" synth -d "seams:strength=0.15,seed=7,tile=128,width=0.05" -i "$tile" "$T/seams.tif" >/dev/null \
  || bad "synth seams"
expect_rc 0 "correct: overlap bands on 4x4 tiles" "$S" correct -q "$T/seams.tif" "$T/seams_out.tif"
"$S" metrics -t "$T/seams.truth.tif" -g "$T/seams.truth.txt" "$T/seams.tif" "$T/seams_out.tif" >"$T/m1.txt" \
  || bad "metrics seams"
p0=$(metric psnr 2 "$T/m1.txt"); p1=$(metric psnr 3 "$T/m1.txt")
r0=$(metric seam_ratio 2 "$T/m1.txt"); r1=$(metric seam_ratio 3 "$T/m1.txt")
echo "seams: PSNR $p0 -> $p1 dB, seam ratio $r0 -> $r1"
awk -v a="$p0" -v b="$p1" 'BEGIN{exit !(b > a + 1)}' && ok "PSNR improved by > 1 dB" || bad "PSNR $p0 -> $p1"
awk -v a="$r0" -v b="$r1" 'BEGIN{exit !(b < 0.5 * a)}' && ok "seam ratio halved" || bad "seam ratio $r0 -> $r1"

# tile-to-tile shading on a real tile (once harmed: 41.3 -> 21.2 dB)
"$S" synth -d "tile-varying:strength=0.2,seed=5,tile=128" -i "$tile" "$T/tv.tif" >/dev/null || bad "synth tile-varying"
expect_rc 0 "correct: varying tile shading" "$S" correct -q "$T/tv.tif" "$T/tv_out.tif"
"$S" metrics -t "$T/tv.truth.tif" -g "$T/tv.truth.txt" "$T/tv.tif" "$T/tv_out.tif" >"$T/m2.txt" || bad "metrics tv"
p0=$(metric psnr 2 "$T/m2.txt"); p1=$(metric psnr 3 "$T/m2.txt")
echo "tile-varying: PSNR $p0 -> $p1 dB"
awk -v a="$p0" -v b="$p1" 'BEGIN{exit !(b > a)}' && ok "PSNR not harmed" || bad "PSNR $p0 -> $p1"

# light-sheet stripes are no tile shading: refused, nothing written
"$S" synth -d "stripes-angled:strength=0.2,seed=3,angle=10" -i "$tile" "$T/st.tif" >/dev/null || bad "synth stripes"
expect_rc 1 "correct: stripes refused" "$S" correct -q "$T/st.tif" "$T/st_out.tif"
grep -q "no stripes found\|no reliable correction found" "$T/err.txt" && ok "refusal says why" \
  || bad "refusal message: $(cat "$T/err.txt")"
[ ! -e "$T/st_out.tif" ] && ok "no output when refused" || bad "output written although refused"
ls "$T" | grep -q "tmp\|model\." && bad "temporary files left" || ok "no temporary files"
exit $fail
