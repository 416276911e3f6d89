#!/usr/bin/env bash
# Whole-slide streaming benchmark: identity pipeline
#   sscorslidesrc ! queue ! sscorblendsink   (read, blend, pyramidal TIFF)
# against `vips tiffsave --tile --pyramid --bigtiff` converting the same input,
# both measured in the same run with /usr/bin/time -v (wall time, peak RSS).
#
#   bash bench/bench_stream.sh [sizes...]      default sizes: 10000 40000
# Env: BENCH_DIR (scratch, default /work/bench-scratch), SSCOR_BUILD (default build),
#      REPEAT (runs per cell, median reported; default 1), KEEP=1 keeps the files,
#      KINDS (default "gray16 rgb8"), CODECS (default "none deflate"),
#      OVERLAPS (sscorslidesrc overlap values, default "0 64").
# Ends with the peak-RSS ratio of the largest size to the smallest per row.
# Inputs are the real stitched brain section (../shared/data) tiled up to the
# size, as 16-bit gray and as 8-bit RGB (tiled deflate TIFF, no pyramid).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${SSCOR_BUILD:-build}
scratch=${BENCH_DIR:-/work/bench-scratch}
repeat=${REPEAT:-1}
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(10000 40000)
export GST_PLUGIN_PATH=$PWD/$build/elements
src=${SSCOR_DATA:-../shared/data}/wsi_brain/stitched.tif
command -v vips >/dev/null || { echo "needs vips (libvips-tools)"; exit 77; }
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (package time)"; exit 77; }
mkdir -p "$scratch"
trap '[ "${KEEP:-0}" = 1 ] || rm -f "$scratch"/*.tif "$scratch"/*.v' EXIT

make_inputs() { # size
  local n=$1 g16=$scratch/gray16_$1.tif rgb=$scratch/rgb8_$1.tif
  if [ ! -f "$g16" ] || [ ! -f "$rgb" ]; then
    vips replicate "$src" "$scratch/rep.v" $((n / 4390 + 1)) $((n / 2916 + 1))
    vips crop "$scratch/rep.v" "$scratch/crop.v" 0 0 "$n" "$n"
    vips tiffsave "$scratch/crop.v" "$g16" --tile --tile-width 256 --tile-height 256 \
      --compression deflate --bigtiff
    rm -f "$scratch/rep.v"
  fi
  if [ ! -f "$rgb" ] && [[ " ${KINDS:-rgb8} " == *" rgb8 "* ]]; then
    # three different 8-bit bands from the 16-bit section (as stains would differ)
    vips linear "$scratch/crop.v" "$scratch/r.v" 0.02 0 --uchar
    vips flip "$scratch/r.v" "$scratch/g.v" horizontal
    vips flip "$scratch/r.v" "$scratch/b.v" vertical
    vips bandjoin "$scratch/r.v $scratch/g.v $scratch/b.v" "$scratch/rgb.v"
    vips copy "$scratch/rgb.v" "$scratch/rgbi.v" --interpretation srgb
    vips tiffsave "$scratch/rgbi.v" "$rgb" --tile --tile-width 256 --tile-height 256 \
      --compression deflate --bigtiff
    rm -f "$scratch"/{r,g,b,rgb,rgbi}.v
  fi
  rm -f "$scratch/crop.v"
}

# prints "seconds peak_MB" of the median run
measure() {
  local times=() line
  for ((i = 0; i < repeat; i++)); do
    rm -f "$scratch/out.tif"
    /usr/bin/time -v "$@" >"$scratch/log" 2>&1 || { echo "FAILED: $*" >&2; tail -5 "$scratch/log" >&2; echo "nan nan"; return; }
    local s rss
    s=$(awk -F': ' '/Elapsed \(wall clock\)/{n=split($2,a,":"); t=0; for(i=1;i<=n;i++) t=t*60+a[i]; print t}' "$scratch/log")
    rss=$(awk -F': ' '/Maximum resident set size/{printf "%.0f", $2/1024}' "$scratch/log")
    times+=("$s $rss")
  done
  printf '%s\n' "${times[@]}" | sort -n | sed -n "$(((repeat + 1) / 2))p"
}

results=$scratch/results.txt
: >"$results"
printf '%-16s %-9s %-40s %9s %10s %9s\n' slide codec tool "time s" "peak MB" "out MB"
for n in "${sizes[@]}"; do
  make_inputs "$n"
  for kind in ${KINDS:-gray16 rgb8}; do
    in=$scratch/${kind}_$n.tif
    for codec in ${CODECS:-none deflate}; do
      for ov in ${OVERLAPS:-0 64}; do
        r=$(measure gst-launch-1.0 -q sscorslidesrc location="$in" overlap="$ov" ! queue ! \
            sscorblendsink location="$scratch/out.tif" compression=$codec)
        sz=$(du -m "$scratch/out.tif" 2>/dev/null | cut -f1)
        tool="sscorslidesrc overlap=$ov ! sscorblendsink"
        printf '%-16s %-9s %-40s %9s %10s %9s\n' "${kind} ${n}" "$codec" "$tool" $r "$sz"
        echo "$kind|$codec|$tool|$n|$r" >>"$results"
      done
      vc=$codec; [ "$codec" = deflate ] && vc="deflate --predictor horizontal"
      r=$(measure vips tiffsave "$in" "$scratch/out.tif" --tile --pyramid --bigtiff --compression $vc)
      sz=$(du -m "$scratch/out.tif" 2>/dev/null | cut -f1)
      tool="vips tiffsave --tile --pyramid --bigtiff"
      printf '%-16s %-9s %-40s %9s %10s %9s\n' "${kind} ${n}" "$codec" "$tool" $r "$sz"
      echo "$kind|$codec|$tool|$n|$r" >>"$results"
    done
  done
  [ "${KEEP:-0}" = 1 ] || rm -f "$scratch"/*_"$n".tif
done
# peak RSS of the largest size over the smallest, per kind, codec and tool
if [ ${#sizes[@]} -gt 1 ]; then
  lo=${sizes[0]} hi=${sizes[${#sizes[@]} - 1]}
  echo
  printf '%-8s %-9s %-40s %12s %12s %7s\n' kind codec tool "RSS ${lo}" "RSS ${hi}" ratio
  awk -F'|' -v lo="$lo" -v hi="$hi" '
    { split($5, a, " "); key = $1 "|" $2 "|" $3; if ($4 == lo) l[key] = a[2]; if ($4 == hi) h[key] = a[2]; order[key] = NR }
    END { for (k in order) if ((k in l) && (k in h)) { split(k, f, "|");
            printf "%-8s %-9s %-40s %9s MB %9s MB %7.2f\n", f[1], f[2], f[3], l[k], h[k], (l[k] > 0 ? h[k] / l[k] : 0) } }' "$results" | sort
fi
