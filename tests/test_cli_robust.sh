#!/usr/bin/env bash
# Runs that are interrupted, killed or fail on the way leave nothing but their
# inputs: sscor correct and gst-launch-1.0 ... ! sscorblendsink stopped by
# SIGINT / SIGTERM / SIGKILL at points in the run (analysis, between the
# model and the output, mid-write), a file-size limit (EFBIG) and a full disk
# (ENOSPC) with the system's reason in the message; a later run succeeds.
# Outputs are checked before any work (a folder, the input itself through
# any path, an unwritable folder); batch refuses inputs sharing an output
# name; the README's apply line is what the tool takes; a tile step below a
# quarter tile is refused.
set -u
. "$SSCOR_SRC/tests/cli_util.sh"
SRC="$T/src" OUT="$T/out"
mkdir -p "$SRC" "$OUT"
grid() { # W H TILE FILE: regular grid geometry
  { echo "sscor-geometry 1"; echo "image $1 $2"; echo "orientation grid"; echo "tile-size $3 $3"
    for ((y = 0; y < $2; y += $3)); do for ((x = 0; x < $1; x += $3)); do echo "tile $x $y"; done; done; } >"$4"
}
left() { ls -A "$OUT"; } # what a run left in the output folder
expect_clean() { # description
  [ -z "$(left)" ] && ok "$1: nothing left" || bad "$1: left $(left | tr '\n' ' ')"
}
# Until process $1 holds 2+ files in $OUT open (the pyramid writer has its
# level files: the run is mid-write); 1 if it ended first.
wait_writing() {
  local i
  for ((i = 0; i < 6000; i++)); do
    [ "$(ls -l /proc/$1/fd 2>/dev/null | grep -c -- "-> $OUT/")" -ge 2 ] && return 0
    kill -0 "$1" 2>/dev/null || return 1
    sleep 0.02
  done
  return 1
}
# Until file $2 has a line matching $3 or process $1 ended.
wait_line() {
  local i
  for ((i = 0; i < 6000; i++)); do
    grep -q -- "$3" "$2" 2>/dev/null && return 0
    kill -0 "$1" 2>/dev/null || return 1
    sleep 0.02
  done
  return 1
}

"$S" synth -d "tile-uniform:tile=128,strength=0.6" -s 512x512 --seed 3 "$SRC/small.tif" >/dev/null || bad "synth small"
grid 512 512 128 "$SRC/small.geom"
# The slide to interrupt: the real section (seconds of writing), else (under
# the sanitizers, or without the data) a synthetic one with its geometry.
D="${SSCOR_DATA:-}/wsi_brain/stitched.tif" GEOM=()
if [ "${SSCOR_SANITIZE:-0}" = 1 ] || [ ! -r "$D" ]; then
  D="$SRC/slide.tif"
  "$S" synth -d "tile-uniform:tile=128,strength=0.6" -s 2048x1536 --seed 5 "$D" >/dev/null || bad "synth slide"
  grid 2048 1536 128 "$SRC/slide.geom"
  GEOM=(-g "$SRC/slide.geom")
fi

# --- sscor correct stopped at points in the run
# point: analysis (the first pipeline runs), model (it is made, the second
# pipeline starts) or write (the pyramid is being written)
interrupt_cli() { # SIGNAL POINT WANT_RC
  # (a script's background jobs ignore SIGINT, and sscor keeps what it
  # inherits, as nohup needs: env gives the job the default a terminal has)
  env --default-signal=INT "$S" correct "${GEOM[@]}" "$D" "$OUT/o.tif" >/dev/null 2>"$T/sig.txt" &
  local pid=$! reached=0
  case $2 in
  analysis) wait_line $pid "$T/sig.txt" "^pipeline: .*sscorsample" && reached=1 ;;
  model) wait_line $pid "$T/sig.txt" "^model: " && reached=1 ;;
  write) wait_writing $pid && reached=1 ;;
  esac
  if [ $reached = 1 ]; then
    [ -z "$(left)" ] && ok "correct at $2: no visible temporary" || bad "correct at $2: visible $(left | tr '\n' ' ')"
  fi
  kill -s "$1" $pid 2>/dev/null
  wait $pid
  local rc=$?
  [ $reached = 1 ] || bad "correct ended (exit $rc) before reaching $2: $(tail -2 "$T/sig.txt")"
  [ "$rc" = "$3" ] && ok "correct: SIG$1 at $2 (exit $rc)" || bad "correct: SIG$1 at $2: exit $rc, wanted $3"
  expect_clean "correct: SIG$1 at $2"
}
interrupt_cli INT analysis 130
grep -q "stopped by Interrupt; unfinished files removed" "$T/sig.txt" && ok "says it was stopped" \
  || bad "no stop message: $(tail -2 "$T/sig.txt")"
interrupt_cli TERM model 143
interrupt_cli INT write 130
interrupt_cli TERM write 143
interrupt_cli KILL write 137

# --- sscor sample stopped while writing pairs removes those it wrote
mkdir "$OUT/pairs"
env --default-signal=INT "$S" sample "${GEOM[@]}" "$D" "$OUT/pairs" >/dev/null 2>"$T/sig.txt" &
pid=$!
for ((i = 0; i < 6000; i++)); do
  [ -e "$OUT/pairs/pair_00000.png" ] || ! kill -0 $pid 2>/dev/null && break
  sleep 0.02
done
[ -e "$OUT/pairs/pair_00000.png" ] || bad "sample ended before it wrote a pair: $(tail -2 "$T/sig.txt")"
kill -s INT $pid
wait $pid
rc=$?
[ $rc = 130 ] && ok "sample: SIGINT while writing pairs (exit 130)" || bad "sample: SIGINT: exit $rc; $(tail -2 "$T/sig.txt")"
[ -z "$(ls -A "$OUT/pairs")" ] && ok "sample: the pairs written so far are removed" \
  || bad "sample: left $(ls "$OUT/pairs" | wc -l) files"
rmdir "$OUT/pairs"

# --- a file-size limit: EFBIG with its reason, not a signal death
(ulimit -f 1024 && exec "$S" correct -q "${GEOM[@]}" "$D" "$OUT/o.tif") 2>"$T/err.txt"
rc=$?
[ $rc = 1 ] && ok "correct past a file-size limit (exit 1)" || bad "file-size limit: exit $rc; $(tail -2 "$T/err.txt")"
expect_err "o.tif: cannot write a tile of level 0: File too large"
expect_clean "file-size limit"

# --- gst-launch-1.0: no signal handler in the plugin, nothing left all the same
interrupt_gst() { # SIGNAL WANT_RC [gst-launch option]
  gst-launch-1.0 ${3:-} sscorslidesrc location="$D" tile-width=256 tile-height=256 overlap=64 ! queue \
    ! sscorblendsink location="$OUT/g.tif" >"$T/gst.txt" 2>&1 &
  local pid=$!
  wait_writing $pid || bad "gst-launch ended before it wrote: $(tail -2 "$T/gst.txt")"
  kill -s "$1" $pid 2>/dev/null
  wait $pid
  local rc=$?
  [ "$rc" = "$2" ] && ok "gst-launch-1.0 ${3:-}: SIG$1 mid-write (exit $rc)" \
    || bad "gst-launch-1.0 ${3:-}: SIG$1 mid-write: exit $rc, wanted $2"
  expect_clean "gst-launch-1.0 ${3:-}: SIG$1"
}
interrupt_gst TERM 143
interrupt_gst KILL 137
interrupt_gst INT 0     # gst-launch's own handler: pipeline to NULL, exit 0
interrupt_gst INT 1 -e  # EOS before the image is complete: an error

# --- after all that, runs succeed and leave only their output
expect_rc 0 "correct after the interrupted runs" "$S" correct -q "${GEOM[@]}" "$D" "$OUT/o.tif"
expect_rc 0 "gst-launch after the interrupted runs" gst-launch-1.0 -q sscorslidesrc location="$SRC/small.tif" \
  ! sscorblendsink location="$OUT/g.tif"
[ "$(left | tr '\n' ' ')" = "g.tif o.tif " ] && ok "only the outputs" || bad "left: $(left | tr '\n' ' ')"
rm -f "$OUT"/*

# --- a full disk: "No space left on device" (a 1 MB tmpfs, when this may mount one)
mkdir "$T/full"
if mount -t tmpfs -o size=1m tmpfs "$T/full" 2>/dev/null; then
  trap 'umount "$T/full" 2>/dev/null; rm -rf "$T"' EXIT
  expect_rc 1 "correct onto a full disk" "$S" correct -q "${GEOM[@]}" "$D" "$T/full/o.tif"
  expect_err "o.tif: cannot write a tile of level 0: No space left on device"
  [ -z "$(ls -A "$T/full")" ] && ok "full disk: nothing left" || bad "full disk: left $(ls -A "$T/full")"
  umount "$T/full"
else
  echo "skip: cannot mount a 1 MB tmpfs here (needs root); the file-size limit above takes the same path"
fi

# --- the output is checked before any work (no pipeline line: nothing ran)
cp "$SRC/small.tif" "$SRC/x.tif"
ln -s x.tif "$SRC/sym.tif"
ln "$SRC/x.tif" "$SRC/hard.tif"
sum=$(md5sum <"$SRC/x.tif")
"$S" train -q -g "$SRC/small.geom" "$SRC/small.tif" "$SRC/m.sscor" || bad "train small"
for o in x.tif ./x.tif sym.tif hard.tif; do
  expect_rc 1 "correct onto its input as $o" "$S" correct -g "$SRC/small.geom" "$SRC/x.tif" "$SRC/$o"
  expect_err "$SRC/$o: is the same file as the input $SRC/x.tif"
  grep -q "^pipeline:" "$T/err.txt" && bad "correct onto its input as $o: work started"
done
expect_rc 1 "correct keeping its model over its input" "$S" correct -m "$SRC/x.tif" "$SRC/x.tif" "$OUT/o.tif"
expect_err "is the same file as the input"
expect_rc 1 "apply onto its input" "$S" apply -m "$SRC/m.sscor" "$SRC/x.tif" "$SRC/hard.tif"
expect_err "is the same file as the input"
expect_rc 1 "train over its input" "$S" train "$SRC/x.tif" "$SRC/./x.tif"
expect_err "is the same file as the input"
[ "$(md5sum <"$SRC/x.tif")" = "$sum" ] && ok "input untouched" || bad "input changed"
check_out() { # description, output path, message
  expect_rc 1 "correct into $1" "$S" correct -g "$SRC/small.geom" "$SRC/small.tif" "$2"
  expect_err "$3"
  grep -q "^pipeline:\|^geometry:" "$T/err.txt" && bad "correct into $1: work started before the check"
}
check_out "a folder" "$OUT" "$OUT is a folder"
check_out "/proc" /proc/x.tif "/proc/x.tif: cannot write into /proc"
check_out "a missing folder" "$T/no-such/o.tif" "o.tif: cannot write into $T/no-such"
if [ "$(id -u)" != 0 ]; then
  mkdir "$T/ro" && chmod 555 "$T/ro"
  check_out "a read-only folder" "$T/ro/o.tif" "Permission denied"
fi
expect_rc 1 "apply into a folder" "$S" apply -m "$SRC/m.sscor" "$SRC/small.tif" "$OUT"
expect_err "is a folder"
expect_clean "refused outputs"

# --- batch: two inputs of one name are refused before any work
mkdir -p "$SRC/d1" "$SRC/d2"
cp "$SRC/small.tif" "$SRC/d1/x.tif"
cp "$SRC/small.tif" "$SRC/d2/x.tif"
for redo in "" --redo; do
  expect_rc 2 "batch $redo: d1/x.tif and d2/x.tif" "$S" batch $redo "$OUT" "$SRC/d1/x.tif" "$SRC/small.tif" "$SRC/d2/x.tif"
  expect_err "d1/x.tif and $SRC/d2/x.tif would both be written to $OUT/x.tif"
done
expect_clean "batch refused"

# --- the README's apply line is what the tool takes (and its --help says)
line=$(grep -o '^sscor apply [^#]*' "$SSCOR_SRC/README.md")
set -- ${line#sscor apply }
args=("${@//IN.sscor/$SRC/m.sscor}")
args=("${args[@]//IN.tif/$SRC/small.tif}")
args=("${args[@]//OUT.tif/$OUT/a.tif}")
expect_rc 0 "README: $line" "$S" apply -q "${args[@]}"
[ -s "$OUT/a.tif" ] && ok "README's apply wrote its output" || bad "README's apply wrote nothing"
"$S" apply --help | grep -q "^usage: sscor apply \[options\] -m MODEL.sscor IN OUT.tif" \
  && [ "$line" != "${line/-m IN.sscor IN.tif OUT.tif/}" ] && ok "README and apply --help agree" \
  || bad "README '$line' vs --help: $("$S" apply --help | head -1)"
rm -f "$OUT"/*

# --- tile steps below a quarter tile are refused (overlap 255 of 256 ran for minutes)
gst-launch-1.0 -q sscorslidesrc location="$D" tile-width=256 tile-height=256 overlap=255 \
  ! sscorblendsink location="$OUT/g.tif" >"$T/out.txt" 2>"$T/err.txt"
rc=$?
[ $rc != 0 ] && ok "sscorslidesrc overlap=255 on 256-px tiles refused (exit $rc)" || bad "overlap=255 accepted"
grep -q "overlap 255 must be smaller: at most 192 on 256x256 tiles" "$T/out.txt" "$T/err.txt" \
  && ok "names the largest overlap" || bad "overlap message: $(cat "$T/out.txt" "$T/err.txt" | head -3)"
expect_rc 0 "sscorslidesrc overlap=192 (a quarter-tile step)" gst-launch-1.0 -q sscorslidesrc \
  location="$SRC/small.tif" tile-width=256 tile-height=256 overlap=192 ! sscorblendsink location="$OUT/g.tif"
rm -f "$OUT"/*
expect_clean "overlap checks"
exit $fail
