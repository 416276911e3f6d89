#!/usr/bin/env bash
# One slide of the many-slides workflow: the per-slide command the Snakefile runs.
#
#   slide.sh [options] SLIDE OUT_DIR [-- SSCOR_CORRECT_OPTIONS...]
#
# 1. sscor correct [SSCOR_CORRECT_OPTIONS] [--geometry G] SLIDE OUT_DIR/NAME.tif
#    -- the command `sscor batch OUT_DIR SLIDE...` runs for each of its files (same
#    options, same OUT_DIR/NAME.tif, NAME = the file name without its last extension),
#    here also keeping the model and geometry (OUT_DIR/models/NAME.sscor, .geom) and
#    writing the per-slide report page (--report OUT_DIR/report: NAME.html, and the
#    index of the folder) when asked;
# 2. sscor metrics --json SLIDE OUT_DIR/NAME.tif (with the tile grid of the geometry used,
#    when it is an axis-aligned grid) -> OUT_DIR/metrics/NAME.json;
# 3. OUT_DIR/status/NAME.json: {"name", "slide", "status": "ok"|"failed", "error", ...}.
#
# A slide that fails (unreadable, corrupt, no stripes found, ...) is not an error of this
# script: it writes OUT_DIR/failed/NAME.txt (the slide, the step, the exit status and
# sscor's messages), removes that slide's outputs of earlier runs (they belong to another
# version of the input), writes a "failed" status and exits 0, so that the other slides
# and the summary go on. Exit 2 only for a wrong call of this script.
#
# options:
#   --name NAME        output name (default: from the file name, as sscor batch does)
#   --geometry FILE    explicit geometry (sscor correct --geometry)
#   --method NAME      recorded in the status (the options come after --)
#   --report yes|no|auto   per-slide report (auto: when sscor correct has --report)
#   --metrics yes|no   step 2 (default yes)
#   --sscor PATH       the sscor tool (default: sscor on PATH)
set -uo pipefail

usage() { sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }

name="" geometry="" method="" report=auto metrics=yes sscor=sscor
while [ $# -gt 0 ]; do
  case "$1" in
    --name) name="${2:?--name needs a value}"; shift 2 ;;
    --geometry) geometry="${2:?--geometry needs a value}"; shift 2 ;;
    --method) method="${2:?--method needs a value}"; shift 2 ;;
    --report) report="${2:?--report needs a value}"; shift 2 ;;
    --metrics) metrics="${2:?--metrics needs a value}"; shift 2 ;;
    --sscor) sscor="${2:?--sscor needs a value}"; shift 2 ;;
    -h|--help) usage ;;
    --) break ;;
    -*) echo "slide.sh: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
[ $# -ge 2 ] || usage
slide="$1" out="$2"; shift 2
if [ $# -gt 0 ]; then
  [ "$1" = "--" ] || { echo "slide.sh: unexpected argument $1 (sscor options go after --)" >&2; exit 2; }
  shift
fi
extra=("$@")
case "$report" in yes|no|auto) ;; *) echo "slide.sh: --report yes|no|auto, not '$report'" >&2; exit 2 ;; esac
case "$metrics" in yes|no) ;; *) echo "slide.sh: --metrics yes|no, not '$metrics'" >&2; exit 2 ;; esac
if [ -z "$name" ]; then name="$(basename -- "$slide")"; [ "${name%.*}" ] && name="${name%.*}"; fi

mkdir -p "$out/models" "$out/metrics" "$out/status" "$out/failed" "$out/logs" || exit 2
tif="$out/$name.tif" model="$out/models/$name.sscor" geom="$out/models/$name.geom"
mjson="$out/metrics/$name.json" status="$out/status/$name.json" failed="$out/failed/$name.txt"
log="$out/logs/$name.sscor.log"
rm -f "$failed" "$status"
: > "$log"

# A JSON string of $1.
jstr() {
  local s="$1"
  s="${s//\\/\\\\}"; s="${s//\"/\\\"}"; s="${s//$'\t'/\\t}"; s="${s//$'\r'/}"; s="${s//$'\n'/\\n}"
  printf '"%s"' "$s"
}

# Writes $2 to $1 atomically (temporary name in the same folder, then rename).
put() {
  local tmp
  tmp="$(mktemp "$1.XXXXXX.tmp")" || return 1
  printf '%s\n' "$2" > "$tmp" && mv -f "$tmp" "$1" || { rm -f "$tmp"; return 1; }
}

t0=$(date +%s.%N)
write_status() { # STATUS STEP ERROR
  local t1; t1=$(date +%s.%N)
  local secs; secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
  local mfile=null; [ "$1" = ok ] && [ "$metrics" = yes ] && mfile="$(jstr "$mjson")"
  local out_tif=null model_f=null geom_f=null
  if [ "$1" = ok ]; then out_tif="$(jstr "$tif")"; model_f="$(jstr "$model")"; geom_f="$(jstr "$geom")"; fi
  put "$status" "{\"name\": $(jstr "$name"), \"slide\": $(jstr "$slide"), \"method\": $(jstr "${method:-flatfield}"),
 \"status\": \"$1\", \"step\": $(jstr "$2"), \"error\": $(if [ -n "$3" ]; then jstr "$3"; else echo null; fi),
 \"seconds\": $secs, \"output\": $out_tif, \"model\": $model_f, \"geometry\": $geom_f, \"metrics\": $mfile}"
}

fail() { # STEP RC
  local msg
  # sscor's own messages: the lines naming the error, else the log's last lines
  msg="$(grep -E "^sscor [a-z]+: |^ERROR|error" "$log" | tail -n 5)"
  [ -n "$msg" ] || msg="$(tail -n 5 "$log")"
  [ -n "$msg" ] || msg="exit status $2"
  # (the report page stays: sscor correct --report writes a failed run's page with the error)
  rm -f "$tif" "$model" "$geom" "$mjson"
  put "$failed" "slide: $slide
step: $1
exit status: $2
$msg" || exit 1
  write_status failed "$1" "$msg" || exit 1
  echo "slide.sh: $name: $1 failed (exit $2): $msg" >&2
  exit 0
}

[ -r "$slide" ] || { echo "sscor correct: $slide: cannot read: No such file or not readable" >> "$log"; fail correct 1; }

report_dir=""
if [ "$report" != no ]; then
  if "$sscor" correct --help 2>/dev/null | grep -q -- '--report'; then
    report_dir="$out/report"
  elif [ "$report" = yes ]; then
    echo "slide.sh: this sscor has no 'correct --report'" >&2; exit 2
  fi
fi

cmd=("$sscor" correct "${extra[@]}")
[ -n "$geometry" ] && cmd+=(--geometry "$geometry")
cmd+=(--model "$model" --save-geometry "$geom")
[ -n "$report_dir" ] && cmd+=(--report "$report_dir")
cmd+=("$slide" "$tif")
echo "+ ${cmd[*]}" >> "$log"
"${cmd[@]}" >> "$log" 2>&1
rc=$?
[ $rc -eq 0 ] || fail correct $rc

if [ "$metrics" = yes ]; then
  mcmd=("$sscor" metrics --json)
  # seam figures need the tile grid: the geometry used, when it is an axis-aligned grid
  tiles="$out/models/$name.tiles"
  if awk '$1 == "orientation" && $2 != "grid" { bad = 1 } $1 == "angle" && $2 + 0 != 0 { bad = 1 }
          $1 == "tile-size" { ts = int($2) "x" int($3) } $1 == "tile" && NF == 3 { n++; printf "t%d %d %d\n", n, int($2 + 0.5), int($3 + 0.5) > out }
          END { if (bad || !n || ts == "") exit 1; print ts }' out="$tiles" "$geom" > "$tiles.size"; then
    mcmd+=(--tiles "$tiles" --tile-size "$(cat "$tiles.size")")
  fi
  rm -f "$tiles.size"
  mcmd+=("$slide" "$tif")
  echo "+ ${mcmd[*]}" >> "$log"
  mtmp="$(mktemp "$mjson.XXXXXX.tmp")" || fail metrics 1
  "${mcmd[@]}" > "$mtmp" 2>> "$log"
  rc=$?
  rm -f "$tiles"
  if [ $rc -ne 0 ]; then rm -f "$mtmp"; fail metrics $rc; fi
  mv -f "$mtmp" "$mjson" || fail metrics 1
fi

write_status ok done "" || exit 1
echo "slide.sh: $name: ok" >&2
