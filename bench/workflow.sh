#!/usr/bin/env bash
# Many slides three ways, on the same 6 slides: `sscor batch`, the Snakemake workflow on
# this machine (--cores 2) and the workflow through a real single-node Slurm
# (bench/slurm_local.sh, snakemake --slurm). Prints wall time, per-slide time and peak RSS,
# and the scheduler's overhead per slide: (wall - sum of the per-slide times) / slides,
# since with 2 threads per slide on 2 cores the slides run one after another in every mode.
#
#   sudo bash bench/workflow.sh                      # full size (see SIZE, RGB_SIZE)
#   SIZE=5000 RGB_SIZE=8000 sudo bash bench/workflow.sh   # scaled down
#
# Slides: wsi_brain/stitched.tif (real, 4390x2916 16-bit), 3 synthetic SIZE x SIZE 16-bit
# seam grids, one synthetic RGB 8-bit RGB_SIZE x RGB_SIZE, one corrupt (a truncated copy).
# The synthetic ones are made once with `sscor synth` into $BENCH_DIR (default
# /tmp/sscor_bench_workflow; about 2 * SIZE^2 * 3 + 3 * RGB_SIZE^2 bytes) and reused.
# The workflow runs with metrics=false report=no, so that every mode runs the same
# `sscor correct` per slide. Needs snakemake, slurm-wlm, munge, GNU time
# (bash pipelines/setup.sh --workflow) and root for Slurm (SLURM=0 skips that mode).
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
S="$REPO/build/pipelines/sscor"
export GST_PLUGIN_PATH="$REPO/build/elements" OMP_WAIT_POLICY=passive
SIZE=${SIZE:-10000} RGB_SIZE=${RGB_SIZE:-20000} SLURM=${SLURM:-1}
B=${BENCH_DIR:-/tmp/sscor_bench_workflow}
DATA=${SSCOR_DATA:-$REPO/../shared/data}
[ -x "$S" ] || { echo "build sscor first (cmake --build build)" >&2; exit 1; }
command -v snakemake >/dev/null || { echo "snakemake missing (bash pipelines/setup.sh --workflow)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "GNU time missing (apt-get install time)" >&2; exit 1; }

# --- the slides
SL="$B/slides_${SIZE}_${RGB_SIZE}"
mkdir -p "$SL" "$B/gen"
gen() { # NAME synth-options...
  local name=$1; shift
  [ -s "$SL/$name.tif" ] && return
  echo "making $name ($*)" >&2
  "$S" synth "$@" "$B/gen/$name.tif" >&2 || exit 1
  mv "$B/gen/$name.tif" "$SL/$name.tif" && rm -f "$B/gen/$name".truth.*
}
cp -n "$DATA/wsi_brain/stitched.tif" "$SL/wsi_brain.tif" || exit 1
gen syn_a -d 'seams:tile=512' -s "${SIZE}x${SIZE}" --seed 11
gen syn_b -d 'seams:tile=512' -s "${SIZE}x${SIZE}" --seed 12
gen syn_c -d 'seams:tile=512' -s "${SIZE}x${SIZE}" --seed 13
gen rgb -d 'seams:tile=512' -s "${RGB_SIZE}x${RGB_SIZE}" -c 3 -T u8 --seed 14
[ -s "$SL/corrupt.tif" ] || head -c 1000000 "$SL/syn_a.tif" >"$SL/corrupt.tif"
NAMES=(wsi_brain syn_a syn_b syn_c rgb corrupt)
R="$B/run"
rm -rf "$R"
mkdir -p "$R"

# --- 1. sscor batch
mkdir -p "$R/batch"
files=(); for n in "${NAMES[@]}"; do files+=("$SL/$n.tif"); done
/usr/bin/time -f "%e %M" -o "$R/batch.time" "$S" batch "$R/batch" "${files[@]}" >"$R/batch.log" 2>&1
echo "batch: $(tail -1 "$R/batch.log")" >&2

# --- 2. the workflow on this machine; 3. through Slurm
wf() { echo -s "$REPO/pipelines/workflow/Snakefile" --config in="$SL" out="$R/$1/out" sscor="$S" metrics=false report=no; }
mkdir -p "$R/local" "$R/slurm"
(cd "$R/local" && /usr/bin/time -f "%e %M" -o "$R/local.time" \
   snakemake --cores 2 --keep-going $(wf local) >"$R/local.log" 2>&1)
echo "local: $(grep -E 'steps \(100%\) done|Exiting' "$R/local.log" | tail -1)" >&2
if [ "$SLURM" = 1 ]; then
  (cd "$R/slurm" && bash "$REPO/bench/slurm_local.sh" -- /usr/bin/time -f "%e %M" -o "$R/slurm.time" \
     snakemake --profile "$REPO/pipelines/workflow/slurm" --max-status-checks-per-second 1 \
     $(wf slurm) >"$R/slurm.log" 2>&1)
  echo "slurm: $(grep -E 'steps \(100%\) done|Exiting' "$R/slurm.log" | tail -1)" >&2
fi

# --- the table
python3 - "$R" "$SL" "$SLURM" "${NAMES[@]}" <<'EOF'
import csv, os, re, struct, sys
R, SL, slurm = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
names = sys.argv[4:]

def tif_size(p):
    try:
        out = os.popen(f"tiffinfo -0 '{p}' 2>/dev/null").read()
        w = re.search(r"Image Width: (\d+) Image Length: (\d+)", out)
        spp = re.search(r"Samples/Pixel: (\d+)", out)
        bps = re.search(r"Bits/Sample: (\d+)", out)
        return f"{w.group(1)}x{w.group(2)} {'RGB' if spp and spp.group(1) == '3' else 'gray'} {bps.group(1) if bps else '?'}-bit"
    except Exception:
        return "corrupt"

def wall(mode):
    try:
        t, rss = open(f"{R}/{mode}.time").read().split()[-2:]
        return float(t), int(rss) / 1024
    except (OSError, ValueError):
        return None, None

batch = {}
cur = None
for line in open(f"{R}/batch.log"):
    m = re.match(r"\[\d+/\d+\] \S+/(\S+)\.tif -> ", line)
    if m: cur = m.group(1)
    m = re.match(r"done: .* \(([\d.]+) s\)", line)
    if m and cur: batch[cur] = float(m.group(1))

def bench(mode):
    d = {}
    for n in names:
        p = f"{R}/{mode}/out/benchmarks/{n}.tsv"
        try:
            row = next(csv.DictReader(open(p), delimiter="\t"))
            st = open(f"{R}/{mode}/out/status/{n}.json").read()
            d[n] = (float(row["s"]), float(row["max_rss"]), '"status": "ok"' in st)
        except (OSError, StopIteration, ValueError):
            pass
    return d

modes = [("batch", None), ("local", bench("local"))] + ([("slurm", bench("slurm"))] if slurm else [])
fmt = lambda v, f="{:.1f}": "-" if v is None else f.format(v)
print("| slide | size | batch s | local s | local peak RSS MB | " + ("slurm s | slurm peak RSS MB |" if slurm else ""))
print("|---|---|---|---|---|" + ("---|---|" if slurm else ""))
for n in names:
    cells = [n, tif_size(f"{SL}/{n}.tif") if n != "corrupt" else "truncated TIFF", fmt(batch.get(n)) if n in batch else "failed"]
    for mode, d in modes[1:]:
        v = d.get(n)
        cells += [(fmt(v[0]) + ("" if v[2] else " (failed)")) if v else "-", fmt(v[1], "{:.0f}") if v else "-"]
    print("| " + " | ".join(cells) + " |")
print()
print("| mode | wall s | sum of per-slide s | overhead per slide s | peak RSS MB |")
print("|---|---|---|---|---|")
for mode, d in modes:
    w, rss = wall(mode)
    if mode == "batch":
        tot = sum(batch.values())
        peak = rss
    else:
        tot = sum(v[0] for v in d.values())
        peak = max((v[1] for v in d.values()), default=None)
    over = (w - tot) / len(names) if w is not None else None
    label = {"batch": "sscor batch (one process)", "local": "snakemake --cores 2",
             "slurm": "snakemake --slurm (local Slurm)"}[mode]
    print(f"| {label} | {fmt(w)} | {fmt(tot)} | {fmt(over, '{:.2f}')} | {fmt(peak, '{:.0f}')} |")
EOF
