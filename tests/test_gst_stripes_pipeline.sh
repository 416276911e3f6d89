#!/usr/bin/env bash
# sscorstripes in gst-launch pipelines next to stock elements, and bad settings.
set -u
command -v gst-launch-1.0 >/dev/null || exit 77
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
run() { timeout 60 gst-launch-1.0 -q "$@" >"$T/log" 2>&1; }

run videotestsrc num-buffers=3 ! video/x-raw,format=GRAY8,width=160,height=120 \
  ! sscorstripes degradations="tile-varying:tile=40;stripes-angled" truth-location="$T/truth.txt" ! fakesink \
  && echo "ok: GRAY8 to fakesink" || { echo "FAIL: GRAY8 pipeline: $(cat "$T/log")"; fail=1; }
grep -q "^degradation tile-varying" "$T/truth.txt" && grep -q "^seam v 40 " "$T/truth.txt" \
  && echo "ok: truth file" || { echo "FAIL: truth file"; fail=1; }

run videotestsrc num-buffers=1 pattern=solid-color foreground-color=0xffc0c0c0 ! video/x-raw,width=128,height=96 \
  ! videoconvert ! sscorstripes degradations="bubble:radius=20;fringe" ! videoconvert ! pngenc ! filesink location="$T/a.png" \
  && [ "$(head -c 4 "$T/a.png" | od -An -c | tr -d ' ')" = "211PNG" ] \
  && echo "ok: videoconvert ! sscorstripes ! pngenc" || { echo "FAIL: png pipeline: $(cat "$T/log")"; fail=1; }

run videotestsrc num-buffers=2 ! video/x-raw,format=GRAY16_LE,width=100,height=80 \
  ! sscorstripes degradations="seams:tile=25,width=0.1" per-frame=true ! fakesink \
  && echo "ok: GRAY16_LE per-frame" || { echo "FAIL: GRAY16 pipeline: $(cat "$T/log")"; fail=1; }

if run videotestsrc num-buffers=1 ! sscorstripes degradations="wobble" ! fakesink; then
  echo "FAIL: unknown degradation accepted"; fail=1
else
  grep -q "wobble" "$T/log" && echo "ok: unknown degradation refused with its name" || { echo "FAIL: message: $(cat "$T/log")"; fail=1; }
fi
if run videotestsrc num-buffers=1 ! sscorstripes truth-location="$T/nodir/t.txt" ! fakesink; then
  echo "FAIL: unwritable truth location accepted"; fail=1
else
  echo "ok: unwritable truth location refused"
fi
exit $fail
