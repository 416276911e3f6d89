#!/usr/bin/env bash
# The training half of the workflow as a user types it: sscorslidesrc !
# sscorsample ! sscortrain in gst-launch-1.0 and the example scripts give the
# same model as `sscor train` (which builds that pipeline), pairs come out as
# PNGs with their positions (`sscor sample`), training posts progress, a
# learned model corrects, and bad input fails clearly with no output.
set -u
. "$SSCOR_SRC/tests/cli_util.sh"
command -v gst-launch-1.0 >/dev/null || exit 77
EX="$SSCOR_SRC/pipelines/examples"
grid() { # W H TILE FILE: regular grid geometry
  { echo "sscor-geometry 1"; echo "image $1 $2"; echo "orientation grid"; echo "tile-size $3 $3"
    for ((y = 0; y < $2; y += $3)); do for ((x = 0; x < $1; x += $3)); do echo "tile $x $y"; done; done; } >"$4"
}
W=1024
"$S" synth -d "tile-uniform:tile=128,strength=0.6" -s ${W}x$W --seed 3 "$T/syn.tif" >/dev/null || bad "synth"
grid $W $W 128 "$T/grid.geom"

# --- the same model from the CLI, gst-launch (location and ! filesink) and the example
expect_rc 0 "sscor train" "$S" train "$T/syn.tif" "$T/cli.sscor"
grep -q "pipeline: gst-launch-1.0 sscorslidesrc .* ! sscorsample ! sscortrain" "$T/err.txt" \
  && ok "sscor train prints its pipeline" || bad "no pipeline line: $(head -3 "$T/err.txt")"
expect_rc 0 "train_slide.sh" bash "$EX/train_slide.sh" "$T/syn.tif" "$T/ex.sscor"
grep "sscor-geometry" "$T/out.txt" | grep -q "detected=(boolean)true" \
  && ok "-m shows the detected geometry" || bad "no sscor-geometry message"
expect_rc 0 "gst-launch ! filesink" gst-launch-1.0 -q sscorslidesrc location="$T/syn.tif" ! sscorsample \
  ! sscortrain ! filesink location="$T/fs.sscor"
cmp -s "$T/cli.sscor" "$T/ex.sscor" && cmp -s "$T/cli.sscor" "$T/fs.sscor" \
  && ok "CLI, example and filesink models are identical" || bad "models differ"
expect_rc 0 "apply the model" "$S" apply -q -m "$T/cli.sscor" "$T/syn.tif" "$T/out.tif"
metric() { awk -v k="$1" -v c="$2" '$1==k{print $c}' "$3"; }
"$S" metrics -t "$T/syn.truth.tif" -g "$T/syn.truth.txt" "$T/syn.tif" "$T/out.tif" >"$T/m.txt" 2>&1 || bad "metrics: $(tail -2 "$T/m.txt")"
p0=$(metric psnr 2 "$T/m.txt"); p1=$(metric psnr 3 "$T/m.txt"); tp=$(metric tile_pct 3 "$T/m.txt")
awk -v a="$p0" -v b="$p1" -v t="$tp" 'BEGIN{exit !(b > a + 0.5 && t < 95)}' \
  && ok "PSNR against the truth $p0 -> $p1 dB, tile residual $tp %" || bad "PSNR $p0 -> $p1, tile residual $tp %"

# --- learned: progress messages, the model holds the network and corrects
expect_rc 0 "train_slide.sh cpu" timeout 300 gst-launch-1.0 -m sscorslidesrc location="$T/syn.tif" \
  ! sscorsample geometry-location="$T/grid.geom" max-pairs=64 ! sscortrain preset=cpu epochs=2 \
  progress-interval=0 location="$T/learn.sscor"
n=$(grep -c "sscor-train-progress" "$T/out.txt")
[ "$n" -ge 2 ] && grep -q "pairs=(int)64" "$T/out.txt" && ok "$n progress messages" || bad "progress messages: $n"
expect_rc 0 "apply the learned model" "$S" apply -q -m "$T/learn.sscor" "$T/syn.tif" "$T/learn.tif"
"$S" metrics -t "$T/syn.truth.tif" -g "$T/syn.truth.txt" "$T/syn.tif" "$T/learn.tif" >"$T/m2.txt" 2>&1 || bad "metrics (learned)"
fid=$(metric fidelity_pct 3 "$T/m2.txt"); p2=$(metric psnr 3 "$T/m2.txt")
awk -v a="$p0" -v b="$p2" -v f="$fid" 'BEGIN{exit !(b > a + 0.5 && f < 2)}' \
  && ok "learned model: PSNR $p0 -> $p2 dB, fidelity $fid %" || bad "learned model: PSNR $p0 -> $p2, fidelity $fid %"

# --- pairs as PNGs: the example and sscor sample
expect_rc 0 "sample_pairs.sh" bash "$EX/sample_pairs.sh" "$T/syn.tif" "$T/ex_pairs"
np=$(ls "$T/ex_pairs" | grep -c "^pair_.*\.png$")
[ "$np" -ge 8 ] && ok "$np pair PNGs" || bad "only $np pair PNGs"
size=$(/usr/bin/python3 -c "import struct,sys; d=open(sys.argv[1],'rb').read(24); print(*struct.unpack('>II', d[16:24]))" "$T/ex_pairs/pair_00000.png")
[ "$size" = "128 64" ] && ok "pair PNG is 2*64 x 64" || bad "pair PNG is $size"
expect_rc 0 "sscor sample" "$S" sample -g "$T/grid.geom" --max-pairs 40 "$T/syn.tif" "$T/pairs"
n_png=$(ls "$T/pairs" | grep -c "^pair_.*\.png$"); n_tsv=$(grep -vc "^#" "$T/pairs/pairs.tsv")
[ "$n_png" = 40 ] && [ "$n_tsv" = 40 ] && ok "40 pairs, 40 rows in pairs.tsv" || bad "$n_png PNGs, $n_tsv rows"
# every anomaly patch straddles a tile edge of the grid, every normal touches none
awk -F'\t' -v t=128 -v p=64 '!/^#/ {
    ax=$3; ay=$4; nx=$5; ny=$6
    a=(int(ax/t) != int((ax+p-1)/t)) || (int(ay/t) != int((ay+p-1)/t))
    n=(int(nx/t) != int((nx+p-1)/t)) || (int(ny/t) != int((ny+p-1)/t))
    if (!a || n) bad++ } END { exit bad > 0 }' "$T/pairs/pairs.tsv" \
  && ok "anomalies on seams, normals clear of them" || bad "pair positions: $(sed -n 2,4p "$T/pairs/pairs.tsv")"

# --- bad input: clear errors, non-zero exit, no output
"$S" synth -d "stripes-regular:strength=0" -s 512x512 --seed 1 "$T/clean.tif" >/dev/null 2>&1 \
  || "$S" synth -s 512x512 --seed 1 "$T/clean.tif" >/dev/null 2>&1 || bad "clean synth"
expect_rc 1 "sample a clean image" "$S" sample -q "$T/clean.tif" "$T/cpairs"
expect_err "no stripes found"
[ -z "$(ls "$T/cpairs" 2>/dev/null)" ] && ok "no pairs written" || bad "left: $(ls "$T/cpairs")"
printf 'sscor-geometry 1\nimage 1024 1024\ntile 0 zero\n' >"$T/bad.geom"
expect_rc 1 "train with a malformed geometry" "$S" train -q -g "$T/bad.geom" "$T/syn.tif" "$T/bad.sscor"
expect_err "bad.geom:3"
[ ! -e "$T/bad.sscor" ] && ok "no model on error" || bad "model left"
grid 512 512 128 "$T/small.geom"
expect_rc 1 "geometry of another image size" timeout 60 gst-launch-1.0 sscorslidesrc location="$T/syn.tif" \
  ! sscorsample geometry-location="$T/small.geom" ! sscortrain location="$T/bad2.sscor"
grep -q "512x512" "$T/out.txt" "$T/err.txt" && ok "message names the geometry's size" || bad "size message: $(grep -i error "$T/out.txt" "$T/err.txt" | head -2)"
[ ! -e "$T/bad2.sscor" ] && ok "no model on error" || bad "model left"
expect_rc 1 "too few pairs" timeout 60 gst-launch-1.0 sscorslidesrc location="$T/syn.tif" \
  ! sscorsample geometry-location="$T/grid.geom" max-pairs=4 ! sscortrain preset=cpu location="$T/few.sscor"
grep -qi "too few training pairs" "$T/out.txt" "$T/err.txt" && ok "too few pairs named" || bad "too few pairs message"
[ ! -e "$T/few.sscor" ] && ok "no model on error" || bad "model left"
exit $fail
