#!/usr/bin/env bash
# Detection cost against image shape: `sscor detect IN` (detect + the flat-field's
# held-out check, as a user runs it) on images of about the same pixel count but
# different aspect ratios, wall time and peak RSS (/usr/bin/time -v).
#
#   bash bench/bench_detect.sh [WxH ...]   default: 2880x2880 16000x512 512x16000 70000x16
# Env: SSCOR_BUILD (default build), REF_BUILD (a build of another commit, measured in
#      the same run: adds its columns and the CPU-time ratio ref/this), REPEAT (runs per cell,
#      median reported; default 1), TIMEOUT (seconds per run, default 600: "timeout"),
#      BENCH_DIR (scratch, default /work/bench-scratch/detect), KEEP=1 keeps the inputs.
# Inputs: `sscor synth -s WxH -d seams:tile=512` (generated tissue-like content, tile
# seams every 512 px); sides beyond synth's 65536 get a generated texture instead.
# "result" is what detect said: the tile size found, or why it refused.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${SSCOR_BUILD:-build}
ref=${REF_BUILD:-}
scratch=${BENCH_DIR:-/work/bench-scratch/detect}
repeat=${REPEAT:-1}
limit=${TIMEOUT:-600}
shapes=("$@")
[ ${#shapes[@]} -gt 0 ] || shapes=(2880x2880 16000x512 512x16000 70000x16)
command -v raw2tiff >/dev/null || { echo "needs raw2tiff (libtiff-tools)"; exit 77; }
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (package time)"; exit 77; }
mkdir -p "$scratch"
trap '[ "${KEEP:-0}" = 1 ] || rm -f "$scratch"/*.tif "$scratch"/*.txt "$scratch"/log' EXIT

make_input() { # WxH -> path
  local w=${1%x*} h=${1#*x} out=$scratch/seams_$1.tif
  if [ ! -f "$out" ]; then
    if [ "$w" -le 65536 ] && [ "$h" -le 65536 ]; then
      "$build/pipelines/sscor" synth -s "$1" -d 'seams:tile=512' "$out" >/dev/null
    else # beyond synth's generated sizes: a smooth texture plus noise, seams added by synth
      python3 - "$w" "$h" "$scratch/base.raw" <<'PY'
import array, math, random, sys
w, h = int(sys.argv[1]), int(sys.argv[2])
random.seed(1)
a = array.array('H', [max(1, min(65535, int(20000 + 6000 * math.sin(x / 37.0) * math.cos(y / 23.0)
                                           + random.gauss(0, 800)))) for y in range(h) for x in range(w)])
open(sys.argv[3], 'wb').write(a.tobytes())
PY
      raw2tiff -w "$w" -l "$h" -d short -b 1 -c none "$scratch/base.raw" "$scratch/base.tif"
      "$build/pipelines/sscor" synth -i "$scratch/base.tif" -d 'seams:tile=512' "$out" >/dev/null
      rm -f "$scratch/base.raw" "$scratch/base.tif"
    fi
  fi
  echo "$out"
}

# prints "seconds cpu_seconds peak_MB result" of the median run (cpu: user + system, which
# other work on shared cores disturbs less than the wall time)
measure() { # sscor-binary input
  local times=() cpus=() rss=() res=""
  for ((i = 0; i < repeat; i++)); do
    local rc=0
    /usr/bin/time -v timeout "$limit" "$1" detect "$2" >"$scratch/out.txt" 2>"$scratch/log" || rc=$?
    if [ $rc = 124 ]; then
      echo "timeout - $(awk -F': ' '/Maximum resident set size/{printf "%.0f", $2/1024}' "$scratch/log") timeout"
      return
    fi
    times+=("$(awk -F': ' '/Elapsed \(wall clock\)/{n=split($2,a,":"); t=0; for(i=1;i<=n;i++) t=t*60+a[i]; print t}' "$scratch/log")")
    cpus+=("$(awk -F': ' '/User time|System time/{t+=$2} END{printf "%.2f", t}' "$scratch/log")")
    rss+=("$(awk -F': ' '/Maximum resident set size/{printf "%.0f", $2/1024}' "$scratch/log")")
    if [ $rc = 0 ]; then
      res=$(awk '/^tile-size/{print "tiles_" $2 "x" $3}' "$scratch/out.txt")
    elif grep -q "no stripes found" "$scratch/log" && ! grep -q "no reliable" "$scratch/log"; then
      res=no_stripes
    else
      res=refused_rc$rc
    fi
  done
  local mid=$((repeat / 2))
  echo "$(printf '%s\n' "${times[@]}" | sort -g | sed -n "$((mid + 1))p")" \
    "$(printf '%s\n' "${cpus[@]}" | sort -g | sed -n "$((mid + 1))p")" \
    "$(printf '%s\n' "${rss[@]}" | sort -g | sed -n "$((mid + 1))p")" "${res:-?}"
}

if [ -n "$ref" ]; then
  printf '%-11s %8s %8s %7s %-15s %8s %8s %7s %-15s %8s\n' shape ref_s ref_cpu ref_MB ref_result \
    s cpu MB result cpu_ratio
else
  printf '%-11s %8s %8s %7s %-15s\n' shape s cpu MB result
fi
for shape in "${shapes[@]}"; do
  in=$(make_input "$shape")
  read -r s cpu mb res < <(measure "$build/pipelines/sscor" "$in")
  if [ -n "$ref" ]; then
    read -r rs rcpu rmb rres < <(measure "$ref/pipelines/sscor" "$in")
    # CPU seconds: the wall time on shared cores mostly measures the neighbours
    ratio=$(awk -v a="$rcpu" -v b="$cpu" -v rs="$rs" 'BEGIN{ if (a+0 > 0 && b+0 > 0) printf "%.1f", a/b; else if (rs == "timeout") print "ref_timeout"; else print "-" }')
    printf '%-11s %8s %8s %7s %-15s %8s %8s %7s %-15s %8s\n' "$shape" "$rs" "$rcpu" "$rmb" "$rres" \
      "$s" "$cpu" "$mb" "$res" "$ratio"
  else
    printf '%-11s %8s %8s %7s %-15s\n' "$shape" "$s" "$cpu" "$mb" "$res"
  fi
done
