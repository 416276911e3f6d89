#!/usr/bin/env bash
# N-channel images: `sscor correct` corrects every channel of 3- and 4-channel
# 16-bit tiled TIFFs whose channels shade with different strengths (each
# improves against its truth), keeping channel count and type; OME-TIFF
# channel pages go through every element and come back as channel pages,
# pixel-exact; mismatched channel pages and bad --channels are refused.
set -u
. "$SSCOR_SRC/tests/cli_util.sh"
metric() { awk -v k="$1" -v c="$2" '$1==k{print $c}' "$3"; }
grid() { # W H TILE FILE: regular grid geometry (detection on synthetic content is not reliable)
  { echo "sscor-geometry 1"; echo "image $1 $2"; echo "orientation grid"; echo "tile-size $3 $3"
    for ((y = 0; y < $2; y += $3)); do for ((x = 0; x < $1; x += $3)); do echo "tile $x $y"; done; done; } >"$4"
}
# tiffinfo of the first directory: "SPP BITS"
layout() { tiffinfo "$1" 2>/dev/null | awk '/Samples\/Pixel/{s=$2} /Bits\/Sample/{b=$2} /^TIFF Directory/{n++} n==2{exit} END{print s, b}'; }
D="$SSCOR_DATA/wsi_brain/tiles"
[ -f "$D/C3-BrainSection0025.tif" ] || { echo "no $D: skipped"; exit 77; }
tiles=() # four real tiles as four fluorescence-like channels (other content each)
for n in 0025 0031 0012 0040; do tiles+=(-i "$D/C3-BrainSection$n.tif"); done
full=1
[ "${SSCOR_SANITIZE:-0}" = 1 ] && full=0 # the sanitizers make every run slow: the 3-channel case only

# every channel improves against its truth (PSNR), channel count and type kept
check_channels() { # NAME CHANNELS IN OUT
  local c p0 p1
  for ((c = 0; c < $2; c++)); do
    "$S" metrics -c $c -t "$T/$1.truth.tif" "$3" "$4" >"$T/m.txt" || bad "metrics $1 channel $c"
    p0=$(metric psnr 2 "$T/m.txt"); p1=$(metric psnr 3 "$T/m.txt")
    echo "$1 channel $c: PSNR $p0 -> $p1 dB"
    awk -v a="$p0" -v b="$p1" 'BEGIN{exit !(b > a + 0.5)}' && ok "$1 channel $c improved" || bad "$1 channel $c: PSNR $p0 -> $p1"
  done
}

# --- 3 channels interleaved, 16-bit, tile shading of strengths 1, 0.5, 0.75
"$S" synth -d "tile-varying:strength=0.3,seed=5,tile=128" "${tiles[@]:0:6}" --channel-strength 1,0.5,0.75 \
  "$T/c3.tif" >/dev/null || bad "synth 3 channels"
expect_rc 0 "correct 3 channels" "$S" correct -m "$T/c3.sscor" "$T/c3.tif" "$T/c3_out.tif"
grep -q "a flat-field per channel (3)" "$T/err.txt" && ok "one flat-field per channel" || bad "no per-channel fields: $(cat "$T/err.txt")"
[ "$(layout "$T/c3_out.tif")" = "3 16" ] && ok "3 x 16-bit kept" || bad "output layout $(layout "$T/c3_out.tif")"
check_channels c3 3 "$T/c3.tif" "$T/c3_out.tif"
expect_rc 0 "apply the 3-channel model" "$S" apply -q -m "$T/c3.sscor" "$T/c3.tif" "$T/c3_apply.tif"
"$S" metrics -c 2 -t "$T/c3_out.tif" "$T/c3_out.tif" "$T/c3_apply.tif" >"$T/m.txt" && [ "$(metric mae 3 "$T/m.txt")" = 0 ] \
  && ok "apply == correct" || bad "apply differs from correct"

if [ $full = 1 ]; then
  # --- 4 channels
  "$S" synth -d "tile-varying:strength=0.25,seed=11,tile=128" "${tiles[@]}" --channel-strength 0.8,1,1.2,0.9 \
    "$T/c4.tif" >/dev/null || bad "synth 4 channels"
  expect_rc 0 "correct 4 channels" "$S" correct -q "$T/c4.tif" "$T/c4_out.tif"
  [ "$(layout "$T/c4_out.tif")" = "4 16" ] && ok "4 x 16-bit kept" || bad "output layout $(layout "$T/c4_out.tif")"
  check_channels c4 4 "$T/c4.tif" "$T/c4_out.tif"

  # --- OME-TIFF channel pages: corrected per channel, written back as pages
  "$S" synth -d "tile-varying:strength=0.3,seed=5,tile=128" "${tiles[@]:0:6}" --channel-strength 0.8,1,0.7 --ome \
    "$T/ome.tif" >/dev/null || bad "synth OME"
  [ "$(tiffinfo "$T/ome.tif" 2>/dev/null | grep -c 'SizeC="3"')" = 1 ] && ok "synth wrote OME pages" || bad "synth OME layout"
  expect_rc 0 "correct OME channel pages" "$S" correct -q "$T/ome.tif" "$T/ome_out.tif"
  pages=$(tiffinfo "$T/ome_out.tif" 2>/dev/null | grep -c "Image Width: 512 Image Length: 512")
  [ "$pages" = 3 ] && [ "$(layout "$T/ome_out.tif")" = "1 16" ] && tiffinfo "$T/ome_out.tif" 2>/dev/null | grep -q 'SizeC="3"' \
    && ok "OME out: 3 pages of 16-bit gray, SizeC=3" || bad "OME output: $pages full-size pages, $(layout "$T/ome_out.tif")"
  check_channels ome 3 "$T/ome.tif" "$T/ome_out.tif"
fi

# --- --channels reaches the source: a 2-channel stream does not fit the 3-channel model
expect_rc 1 "apply --channels 0,2 with a 3-channel model" "$S" apply -q --channels 0,2 -m "$T/c3.sscor" "$T/c3.tif" \
  "$T/x.tif"
expect_err "c3.tif has 2 channels, the model was made for 3"
expect_rc 2 "--channels out of order" "$S" correct --channels 2,0 "$T/c3.tif" "$T/x.tif"
expect_rc 1 "--channels beyond the file" "$S" apply -q --channels 0,5 -m "$T/c3.sscor" "$T/c3.tif" "$T/x.tif"
expect_err "c3.tif (it has 3)"
[ ! -e "$T/x.tif" ] && ok "no output on error" || bad "output left after error"

# --- the tifffile fixture through every element: pixel-exact, names kept
F="$SSCOR_FIXTURES/ome_3ch.ome.tif"
expect_rc 0 "OME round trip" gst-launch-1.0 -q sscorslidesrc location="$F" tile-width=64 tile-height=64 overlap=16 \
  ! sscorblendsink location="$T/rt.ome.tif" tile-size=32
for c in 0 1 2; do
  "$S" metrics -c $c -t "$F" "$F" "$T/rt.ome.tif" >"$T/m.txt" && [ "$(metric mae 3 "$T/m.txt")" = 0 ] \
    && ok "round trip channel $c exact" || bad "round trip channel $c differs"
done
grep -q 'Name="GFP"' <(tiffinfo "$T/rt.ome.tif" 2>/dev/null) && [ "$(tiffinfo "$T/rt.ome.tif" | grep -c "Image Width: 136")" = 3 ] \
  && ok "channel names and pages written back" || bad "round trip lost names or pages"
expect_rc 0 "interleaved when asked" gst-launch-1.0 -q sscorslidesrc location="$F" ! sscorblendsink channel-pages=off \
  location="$T/rt_inter.tif"
[ "$(layout "$T/rt_inter.tif")" = "3 16" ] && ok "channel-pages=off interleaves" || bad "channel-pages=off layout"
if /usr/bin/python3 -c "import tifffile" 2>/dev/null; then # a second reader's view, when it is installed
  /usr/bin/python3 - "$F" "$T/rt.ome.tif" <<'EOF' && ok "tifffile reads the same OME image" || bad "tifffile disagrees"
import sys, numpy, tifffile
a, b = (tifffile.TiffFile(p) for p in sys.argv[1:])
assert b.is_ome and b.series[0].axes == "CYX" and len(b.series[0].levels) > 1
assert numpy.array_equal(a.series[0].asarray(), b.series[0].asarray())
EOF
fi

# --- 8-bit RGB keeps its layout and opens in OpenSlide
"$S" synth -d "tile-uniform" -s 300x200 -c 3 -T u8 "$T/rgb.tif" >/dev/null || bad "synth rgb"
expect_rc 0 "8-bit RGB through the elements" gst-launch-1.0 -q sscorslidesrc location="$T/rgb.tif" ! sscorblendsink \
  location="$T/rgb_out.tif"
[ "$(layout "$T/rgb_out.tif")" = "3 8" ] && openslide-show-properties "$T/rgb_out.tif" | grep -q "generic-tiff" \
  && ok "RGB kept, OpenSlide opens it" || bad "RGB output: $(layout "$T/rgb_out.tif")"

# --- channel pages that do not match: a clear error, nothing written
"$S" synth -d "tile-uniform" -s 200x150 -T u16 "$T/p16.tif" >/dev/null && \
  "$S" synth -d "tile-uniform" -s 200x150 -T u8 "$T/p8.tif" >/dev/null && tiffcp "$T/p16.tif" "$T/p8.tif" "$T/mixed.tif" \
  || bad "mixed pages file"
expect_rc 1 "mismatched channel pages" "$S" correct -q "$T/mixed.tif" "$T/bad.tif"
grep -q "mixed.tif: channel page 1" "$T/err.txt" && ok "sscor names file and page" || bad "message: $(cat "$T/err.txt")"
gst-launch-1.0 -q sscorslidesrc location="$T/mixed.tif" ! sscorblendsink \
  location="$T/bad.tif" >"$T/out.txt" 2>&1 && bad "gst-launch-1.0 exit 0 on mismatched pages" || ok "gst-launch-1.0 fails"
grep -q "mixed.tif: channel page 1" "$T/out.txt" && ok "message names file and page" || bad "message: $(cat "$T/out.txt")"
[ ! -e "$T/bad.tif" ] && ok "no output" || bad "output written from mismatched pages"
ls "$T" | grep -q "tmp\|model\." && bad "temporary files left" || ok "no temporary files"
exit $fail
