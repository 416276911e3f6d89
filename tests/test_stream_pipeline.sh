#!/usr/bin/env bash
# gst-launch-1.0 pipelines through sscorslidesrc / sscorblendsink: the plugin
# loads and documents its properties; outputs open in OpenSlide as
# generic-tiff with several levels; every kind of bad input gives a clear
# error, a non-zero exit and no file at the output path.
set -u
: "${GST_PLUGIN_PATH:?}" "${SSCOR_DATA:=}"
tmp=$(mktemp -d /tmp/sscor_pipe_XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# A sanitizer build of the plugin loads into gst-launch only with the
# sanitizer runtime preloaded (and plugins scanned in-process): wrap the two
# GStreamer tools, leaving every other command as it is.
if ldd "$GST_PLUGIN_PATH/libgstsscor.so" 2>/dev/null | grep -q libasan; then
  mkdir -p "$tmp/bin"
  for tool in gst-launch-1.0 gst-inspect-1.0; do
    printf '#!/bin/sh\nLD_PRELOAD="%s %s" GST_REGISTRY_FORK=no exec %s "$@"\n' \
      "$(gcc -print-file-name=libasan.so)" "$(gcc -print-file-name=libubsan.so)" \
      "$(command -v $tool)" >"$tmp/bin/$tool"
    chmod +x "$tmp/bin/$tool"
  done
  export PATH="$tmp/bin:$PATH"
fi
in=$tmp/in; out=$tmp/out
mkdir -p "$in" "$out"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }
# every run is bounded: a hang is a failure with a message, not a stuck suite
launch() { timeout 120 gst-launch-1.0 -q "$@"; }

# -- plugin and documentation
gst-inspect-1.0 sscor >"$tmp/inspect" 2>&1 || fail "gst-inspect-1.0 sscor"
for e in sscorslidesrc sscorblendsink; do
  grep -q "$e" "$tmp/inspect" && pass "plugin lists $e" || fail "plugin lacks $e"
done
gst-inspect-1.0 sscorslidesrc >"$tmp/inspect" 2>&1
for p in location level tile-width tile-height overlap region-x region-width channels; do
  grep -q "^  $p " "$tmp/inspect" || fail "sscorslidesrc lacks property $p"
done
gst-inspect-1.0 sscorblendsink >"$tmp/inspect" 2>&1
for p in location compression quality tile-size bigtiff subifds; do
  grep -q "^  $p " "$tmp/inspect" || fail "sscorblendsink lacks property $p"
done

# -- inputs made from plain whole frames (the sink's whole-image path)
make_input() { # name format width height pattern
  launch videotestsrc num-buffers=1 pattern="$5" ! "video/x-raw,format=$2,width=$3,height=$4" \
    ! sscorblendsink location="$in/$1" tile-size=64 || fail "making $1"
}
make_input gray8.tif GRAY8 517 389 snow
make_input rgb.tif RGB 517 389 smpte
make_input gray16.tif GRAY16_LE 400 300 snow
make_input big16.tif GRAY16_LE 1200 1000 snow

# -- identity pipelines and OpenSlide
for f in gray8 rgb; do
  if launch sscorslidesrc location="$in/$f.tif" tile-width=128 tile-height=96 overlap=16 \
      ! sscorblendsink location="$out/$f.tif" tile-size=64; then
    props=$(openslide-show-properties "$out/$f.tif" 2>&1)
    vendor=$(sed -n "s/^openslide.vendor: '\(.*\)'/\1/p" <<<"$props")
    levels=$(sed -n "s/^openslide.level-count: '\(.*\)'/\1/p" <<<"$props")
    [ "$vendor" = generic-tiff ] && [ "${levels:-0}" -gt 1 ] \
      && pass "$f: OpenSlide opens it as $vendor with $levels levels" \
      || fail "$f: OpenSlide says vendor '$vendor', levels '$levels': $props"
  else
    fail "$f identity pipeline"
  fi
done
# JPEG and SubIFD variants; OpenSlide decodes a region of the JPEG pyramid
launch sscorslidesrc location="$in/rgb.tif" tile-width=256 tile-height=256 \
  ! sscorblendsink location="$out/jpeg.tif" compression=jpeg tile-size=64 \
  && openslide-write-png "$out/jpeg.tif" 0 0 1 200 200 "$tmp/jpeg.png" \
  && [ -s "$tmp/jpeg.png" ] && pass "JPEG pyramid read back by OpenSlide" || fail "JPEG pyramid"
launch sscorslidesrc location="$in/gray16.tif" tile-width=100 tile-height=100 overlap=20 \
  ! sscorblendsink location="$out/ome.tif" subifds=true tile-size=64 \
  && [ "$(tiffinfo "$out/ome.tif" 2>/dev/null | grep -c 'SubIFD')" -ge 1 ] \
  && pass "SubIFD layout" || fail "SubIFD layout"
rm -f "$out"/*

# -- bad input: non-zero exit, a message naming the problem, nothing written
expect_fail() { # name regex gst-launch-args...
  local name=$1 pat=$2
  shift 2
  rm -rf "${out:?}"/* "$out"/.[!.]* 2>/dev/null
  if launch "$@" >"$tmp/log" 2>&1; then
    fail "$name: gst-launch succeeded"
  elif ! grep -qiE "$pat" "$tmp/log"; then
    fail "$name: message does not match /$pat/: $(head -c 400 "$tmp/log")"
  elif [ -n "$(ls -A "$out")" ]; then
    fail "$name: left files: $(ls -A "$out")"
  else
    pass "$name: $(grep -m1 ERROR "$tmp/log" | cut -c1-160)"
  fi
}
sink() { echo sscorblendsink location="$out/out.tif"; }

expect_fail "missing file" "no such file" sscorslidesrc location="$in/nope.tif" ! $(sink)
echo "this is text, not an image" >"$in/text.tif"
expect_fail "not an image" "not a TIFF" sscorslidesrc location="$in/text.tif" ! $(sink)
head -c 100000 "$in/big16.tif" >"$in/trunc.tif"
expect_fail "truncated TIFF" "truncated|corrupt|read error|cannot read|not a readable" \
  sscorslidesrc location="$in/trunc.tif" tile-width=256 tile-height=256 ! $(sink)
cp "$in/big16.tif" "$in/corrupt.tif"
# level-0 tiles start right after the 8-byte header: overwrite the first ones
head -c 4000 /dev/zero | tr '\0' '\377' | dd of="$in/corrupt.tif" bs=1 seek=8 conv=notrunc 2>/dev/null
expect_fail "corrupt tiles" "corrupt" \
  sscorslidesrc location="$in/corrupt.tif" tile-width=256 tile-height=256 ! $(sink)
# a corrupt tile in the middle: the error comes from the streaming thread,
# after preroll; every run must fail with the message, leave no file and not
# hang (each run is bounded by `launch`'s timeout, whose 124 is a failure)
cp "$in/big16.tif" "$in/corrupt_mid.tif"
read -r off count < <(tiffinfo -s -0 "$in/corrupt_mid.tif" 2>/dev/null |
  awk '$1 == "150:" { gsub(/[][,]/, " "); print $2, $3 }')
if [ -n "${off:-}" ]; then
  head -c "$count" /dev/zero | tr '\0' '\125' |
    dd of="$in/corrupt_mid.tif" bs=1 seek="$off" conv=notrunc 2>/dev/null
  bad=0
  for run in $(seq 10); do
    rm -rf "${out:?}"/* "$out"/.[!.]* 2>/dev/null
    # with and without a queue (its own streaming thread) in between
    q=""; [ $((run % 2)) -eq 0 ] && q="queue !"
    launch sscorslidesrc location="$in/corrupt_mid.tif" tile-width=256 tile-height=256 \
      ! $q sscorblendsink location="$out/out.tif" >"$tmp/log" 2>&1
    rc=$?
    if [ "$rc" -eq 0 ] || [ "$rc" -eq 124 ] || ! grep -q "corrupt or truncated tile 150 of level 0" "$tmp/log" ||
        [ -n "$(ls -A "$out")" ]; then
      bad=$((bad + 1))
      echo "corrupt later tile, run $run: exit $rc, files '$(ls -A "$out")': $(head -c 300 "$tmp/log")"
    fi
  done
  [ "$bad" -eq 0 ] && pass "corrupt later tile: 10 of 10 runs fail cleanly" \
    || fail "corrupt later tile: $bad of 10 runs did not fail cleanly"
else
  fail "corrupt later tile: cannot find tile 150 in $in/corrupt_mid.tif"
fi
cp "$in/gray8.tif" "$in/zero.tif"; tiffset -s 256 0 "$in/zero.tif" 2>/dev/null
expect_fail "zero width" "width|size|range|not a readable" sscorslidesrc location="$in/zero.tif" ! $(sink)
cp "$in/gray8.tif" "$in/absurd.tif"; tiffset -s 257 2000000000 "$in/absurd.tif" 2>/dev/null
expect_fail "absurd height" "range|size|not a readable|corrupt" \
  sscorslidesrc location="$in/absurd.tif" ! $(sink)
expect_fail "tile size 0" "tile size 0x" \
  sscorslidesrc location="$in/gray8.tif" tile-width=0 ! $(sink)
expect_fail "tile larger than image" "larger than the image" \
  sscorslidesrc location="$in/gray8.tif" tile-width=600 tile-height=100 ! $(sink)
expect_fail "explicit tile height larger than image" "tile size 400x400 is larger than the image" \
  sscorslidesrc location="$in/gray16.tif" tile-height=400 ! $(sink)
# the default tile (512) on a smaller image is one tile of the image
rm -rf "${out:?}"/*
launch sscorslidesrc location="$in/gray16.tif" ! sscorblendsink location="$out/small.tif" \
    tile-size=64 >"$tmp/log" 2>&1 && [ -f "$out/small.tif" ] \
  && [ "$(tiffinfo "$out/small.tif" 2>/dev/null | grep -m1 'Image Width')" = \
       "$(tiffinfo "$in/gray16.tif" 2>/dev/null | grep -m1 'Image Width')" ] \
  && pass "default tile on a 400x300 image" || fail "default tile on a 400x300 image: $(head -c 400 "$tmp/log")"
rm -f "$out"/*
expect_fail "overlap >= tile" "overlap 64 must be smaller" \
  sscorslidesrc location="$in/gray8.tif" tile-width=64 tile-height=64 overlap=64 ! $(sink)
expect_fail "level out of range" "level=7" sscorslidesrc location="$in/gray8.tif" level=7 ! $(sink)
expect_fail "bad channel" "channels=" \
  sscorslidesrc location="$in/gray8.tif" tile-width=64 tile-height=64 channels=3 ! $(sink)
expect_fail "region outside" "region" \
  sscorslidesrc location="$in/gray8.tif" region-x=500 region-width=100 ! $(sink)
expect_fail "unwritable output" "cannot write into /nonexistent-dir" \
  sscorslidesrc location="$in/gray8.tif" tile-width=64 tile-height=64 \
  ! sscorblendsink location=/nonexistent-dir/out.tif
expect_fail "stream ends early" "incomplete" \
  sscorslidesrc location="$in/gray8.tif" tile-width=64 tile-height=64 num-buffers=5 ! $(sink)
expect_fail "jpeg of 16-bit" "JPEG compression needs 8-bit" \
  sscorslidesrc location="$in/gray16.tif" tile-width=64 tile-height=64 \
  ! sscorblendsink location="$out/out.tif" compression=jpeg

# disk full: a 300 KiB file-size limit (SIGXFSZ ignored so writes fail with EFBIG)
rm -rf "${out:?}"/*
if (ulimit -f 300; trap "" XFSZ; exec timeout 120 gst-launch-1.0 -q sscorslidesrc location="$in/big16.tif" \
    tile-width=256 tile-height=256 ! sscorblendsink location="$out/out.tif" compression=none) \
    >"$tmp/log" 2>&1; then
  fail "disk full (file-size limit): succeeded"
elif ! grep -qiE "cannot write|write error|too large" "$tmp/log"; then
  fail "disk full: message: $(head -c 400 "$tmp/log")"
elif [ -n "$(ls -A "$out")" ]; then
  fail "disk full: left files: $(ls -A "$out")"
else
  pass "disk full: $(grep -m1 ERROR "$tmp/log" | cut -c1-160)"
fi
# disk full on a real small file system, where mounting is allowed
mkdir -p "$tmp/small"
if mount -t tmpfs -o size=256k tmpfs "$tmp/small" 2>/dev/null; then
  if launch sscorslidesrc location="$in/big16.tif" tile-width=256 tile-height=256 \
      ! sscorblendsink location="$tmp/small/out.tif" compression=none >"$tmp/log" 2>&1; then
    fail "tmpfs full: succeeded"
  elif [ -n "$(ls -A "$tmp/small")" ]; then
    fail "tmpfs full: left files"
  else
    pass "tmpfs full: $(grep -m1 ERROR "$tmp/log" | cut -c1-160)"
  fi
  umount "$tmp/small"
else
  echo "note: cannot mount a tmpfs here; the file-size limit above covers disk full"
fi

# an interrupted pipeline leaves nothing behind (the signal is sent once
# gst-launch is running its pipeline, i.e. has its interrupt handler)
if [ -n "$SSCOR_DATA" ] && [ -f "$SSCOR_DATA/wsi_brain/stitched.tif" ]; then
  rm -rf "${out:?}"/*
  gst-launch-1.0 sscorslidesrc location="$SSCOR_DATA/wsi_brain/stitched.tif" \
    tile-width=64 tile-height=64 overlap=32 ! sscorblendsink location="$out/out.tif" \
    >"$tmp/log" 2>&1 &
  pid=$!
  for _ in $(seq 200); do grep -q "Setting pipeline to PLAYING" "$tmp/log" && break; sleep 0.05; done
  sleep 0.3
  kill -INT "$pid" 2>/dev/null
  wait "$pid"
  if ! grep -q "Interrupt" "$tmp/log"; then
    echo "note: the pipeline finished before the interrupt; not judged"
  elif [ -z "$(ls -A "$out")" ]; then
    pass "interrupted: nothing left"
  else
    fail "interrupted: left $(ls -A "$out")"
  fi
fi

echo "$failures failure(s)"
[ "$failures" -eq 0 ]
