#!/usr/bin/env bash
# sscortrain in gst-launch-1.0: every failure ends the pipeline with a clear
# message and a non-zero exit, does not hang (also with no element after
# sscortrain, where it ends the pipeline itself) and leaves no model file.
# Training itself needs pair frames with their meta (sscorsample): the
# successful pipelines, progress messages and the stop during training are
# covered in test_gst_train.c with appsrc.
set -u
command -v gst-launch-1.0 >/dev/null || exit 77
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fail=1; }
# expect_fail DESCRIPTION TEXT PIPELINE...: non-zero exit (not a timeout), TEXT in the output, no model
expect_fail() {
  local what=$1 text=$2; shift 2
  timeout 60 gst-launch-1.0 "$@" >"$T/log" 2>&1; local rc=$?
  if [ $rc = 124 ]; then bad "$what: hung (killed after 60 s)"
  elif [ $rc = 0 ]; then bad "$what: exit 0"
  elif ! grep -q -- "$text" "$T/log"; then bad "$what: message lacks '$text': $(grep -i error "$T/log" | head -3)"
  else ok "$what (exit $rc)"; fi
  ls "$T" | grep -q "\.sscor" && { bad "$what: model file left: $(ls "$T")"; rm -f "$T"/*.sscor*; }
  return 0
}
PAIRS="video/x-raw,format=GRAY8,width=64,height=32"

gst-inspect-1.0 sscortrain >"$T/log" 2>&1 && grep -q "checkpoint-location" "$T/log" && grep -q "flatfield-first" "$T/log" \
  && grep -q "application/x-sscor-model" "$T/log" && ok "gst-inspect-1.0 sscortrain" || bad "gst-inspect: $(head -3 "$T/log")"

# frames that are not pairs: with and without an element after sscortrain
expect_fail "plain frames, src pad unlinked" "is not a training pair" \
  videotestsrc num-buffers=3 ! $PAIRS ! sscortrain location="$T/m.sscor"
# (filesink itself creates its file at start: it must stay empty)
expect_fail "plain frames, ! filesink" "is not a training pair" \
  videotestsrc num-buffers=3 ! $PAIRS ! sscortrain ! filesink location="$T/fs.model"
[ ! -s "$T/fs.model" ] && ok "nothing written to filesink" || bad "filesink got $(stat -c %s "$T/fs.model") bytes"
# EOS before any pair reaches the training step: too few pairs
expect_fail "no pairs, src pad unlinked" "Too few training pairs: 0" \
  videotestsrc num-buffers=0 ! $PAIRS ! sscortrain location="$T/m.sscor"
expect_fail "no pairs, ! filesink" "Too few training pairs: 0" \
  videotestsrc num-buffers=0 ! $PAIRS ! sscortrain ! filesink location="$T/fs.model"
[ ! -s "$T/fs.model" ] && ok "nothing written to filesink" || bad "filesink got $(stat -c %s "$T/fs.model") bytes"
expect_fail "preset=flatfield without an analysis" "needs a flat-field" \
  videotestsrc num-buffers=0 ! $PAIRS ! sscortrain preset=flatfield location="$T/m.sscor"
# settings
expect_fail "unknown preset" 'Unknown preset "gpu"' videotestsrc num-buffers=1 ! $PAIRS ! sscortrain preset=gpu location="$T/m.sscor"
expect_fail "negative epochs" "epochs=-3 is out of range" videotestsrc num-buffers=1 ! $PAIRS ! sscortrain epochs=-3 location="$T/m.sscor"
expect_fail "negative budget" "budget=-2 is out of range" videotestsrc num-buffers=1 ! $PAIRS ! sscortrain budget=-2 location="$T/m.sscor"
expect_fail "threads out of range" "threads=1000 is out of range" videotestsrc num-buffers=1 ! $PAIRS ! sscortrain threads=1000
expect_fail "unwritable location" "cannot write into $T/no-dir" \
  videotestsrc num-buffers=1 ! $PAIRS ! sscortrain location="$T/no-dir/m.sscor"
expect_fail "resume without a checkpoint" "needs checkpoint-location" \
  videotestsrc num-buffers=1 ! $PAIRS ! sscortrain resume=true location="$T/m.sscor"
expect_fail "resume from a missing checkpoint" "Cannot resume from $T/none.ck" \
  videotestsrc num-buffers=1 ! $PAIRS ! sscortrain resume=true checkpoint-location="$T/none.ck" location="$T/m.sscor"
exit $fail
