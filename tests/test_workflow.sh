#!/usr/bin/env bash
# The many-slides Snakemake workflow (pipelines/workflow/) on one machine: 3 small slides,
# one of them a truncated TIFF. The good ones are corrected (pixel-identical to what
# `sscor batch` writes for them), the corrupt one is reported under OUT_DIR by its name
# with its error and listed in the summary; a second run redoes nothing but the failed
# slide; a touched input redoes that slide only; report pages and their index; a repaired slide succeeds and then
# nothing is left to do. Sample sheets (geometry, method) and their errors.
# Skips (77) without snakemake: `bash pipelines/setup.sh --workflow` installs it.
set -u
command -v snakemake >/dev/null || { echo "skip: snakemake not installed (bash pipelines/setup.sh --workflow)"; exit 77; }
. "$SSCOR_SRC/tests/cli_util.sh"
export GST_PLUGIN_PATH="$SSCOR_BUILD/elements" OMP_WAIT_POLICY=passive
SNAKE=(snakemake -s "$SSCOR_SRC/pipelines/workflow/Snakefile" --cores 2 -d "$T/work")
mkdir -p "$T/work" "$T/slides" "$T/gen"
mtime() { stat -c %Y.%y "$1"; }
# jobs of rule $1 a dry run would run
planned() { grep -c "^rule $1:\|^localrule $1:" "$T/dry.txt"; }
dry() { "${SNAKE[@]}" -n --config "$@" >"$T/dry.txt" 2>&1 || bad "dry run failed: $(tail -5 "$T/dry.txt")"; }

# --- three slides: two synthetic seam grids, one truncated TIFF
for s in 1 3; do
  "$S" synth -d 'seams:tile=256' -s 1024x1024 --seed $s "$T/gen/good$s.tif" >/dev/null 2>&1 || bad "synth $s"
  mv "$T/gen/good$s.tif" "$T/slides/"
done
head -c 300000 "$T/slides/good1.tif" >"$T/slides/broken.tif"
CFG=(in="$T/slides" out="$T/out" sscor="$S")

# --- first run: the corrupt slide does not stop the others
"${SNAKE[@]}" --keep-going --config "${CFG[@]}" >"$T/run1.txt" 2>&1 \
  && ok "first run finished" || bad "first run: $(tail -20 "$T/run1.txt")"
for s in good1 good3; do
  if tiffinfo "$T/out/$s.tif" >"$T/info.txt" 2>&1 && grep -q "Image Width: 1024 Image Length: 1024" "$T/info.txt"; then
    ok "$s.tif written and opens"
  else bad "$s.tif: $(head -3 "$T/info.txt")"; fi
  [ -s "$T/out/models/$s.sscor" ] && [ -s "$T/out/models/$s.geom" ] && ok "$s model and geometry kept" || bad "$s model/geometry"
  grep -q '"corrected_metrics"' "$T/out/metrics/$s.json" && ok "$s metrics JSON" || bad "$s metrics"
done
[ ! -e "$T/out/broken.tif" ] && [ ! -e "$T/out/models/broken.sscor" ] && ok "no output for the corrupt slide" \
  || bad "outputs left for the corrupt slide: $(ls "$T/out" "$T/out/models")"
if [ -s "$T/out/failed/broken.txt" ] && grep -q "slides/broken.tif" "$T/out/failed/broken.txt" \
   && grep -q "corrupt TIFF" "$T/out/failed/broken.txt"; then
  ok "failed/broken.txt names the slide and its error"
else bad "failed/broken.txt: $(cat "$T/out/failed/broken.txt" 2>&1)"; fi
[ ! -e "$T/out/failed/good1.txt" ] && ok "no failure file for a good slide" || bad "failed/good1.txt exists"
if [ "$(tail -n +2 "$T/out/summary.tsv" | wc -l)" = 3 ] \
   && awk -F'\t' '$1=="broken" && $2=="failed" && $NF ~ /corrupt TIFF/ { b++ }
                  ($1=="good1" || $1=="good3") && $2=="ok" && $6 ~ /\.tif$/ && $8 != "" { g++ }
                  END { exit !(b == 1 && g == 2) }' "$T/out/summary.tsv"; then
  ok "summary.tsv lists 3 slides: 2 ok with figures, broken failed with its error"
else bad "summary.tsv: $(cat "$T/out/summary.tsv")"; fi
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(not (d["slides"]==3 and d["failed"]==1 and d["failed_names"]==["broken"]))' \
  "$T/out/summary.json" && ok "summary.json: 3 slides, broken failed" || bad "summary.json: $(head -c 400 "$T/out/summary.json")"

# --- the per-slide report pages (a failed slide's page shows its error) and the index
for s in good1 good3 broken; do
  [ -s "$T/out/report/$s.html" ] && ok "report/$s.html" || bad "report/$s.html missing: $(ls "$T/out/report" 2>&1)"
done
grep -q "corrupt TIFF" "$T/out/report/broken.html" && ok "the failed page shows the error" || bad "failed page lacks the error"
if [ -s "$T/out/report/index.html" ] && grep -q "good1" "$T/out/report/index.html" && grep -q "broken" "$T/out/report/index.html"; then
  ok "report/index.html lists the slides"
else bad "report/index.html: $(head -c 300 "$T/out/report/index.html" 2>&1)"; fi
awk -F'\t' '$1=="good1" && $(NF-1) ~ /report\/good1.html$/ { f=1 } END { exit !f }' "$T/out/summary.tsv" \
  && ok "summary.tsv points at the report page" || bad "summary.tsv report column"

# --- the workflow corrects exactly as sscor batch does (pixels; file layout may differ)
mkdir -p "$T/batch"
"$S" batch -q "$T/batch" "$T/slides/good1.tif" "$T/slides/good3.tif" 2>"$T/err.txt" || bad "batch: $(cat "$T/err.txt")"
for s in good1 good3; do
  mae=$("$S" metrics --json "$T/out/$s.tif" -t "$T/batch/$s.tif" | python3 -c 'import json,sys; print(json.load(sys.stdin)["input_metrics"]["mae"])')
  [ "$mae" = 0 ] && ok "$s: workflow output = batch output (MAE 0)" || bad "$s: workflow vs batch MAE $mae"
done

# --- rerun: only the failed slide (and the summary) is redone
dry "${CFG[@]}"
[ "$(planned slide)" = 1 ] && grep -q "tickets/broken" "$T/dry.txt" && ok "dry run retries only the failed slide" \
  || bad "dry run after a failure: $(grep -A3 '^rule\|^localrule' "$T/dry.txt")"
m1=$(mtime "$T/out/good1.tif") m3=$(mtime "$T/out/good3.tif") st1=$(mtime "$T/out/status/good1.json")
"${SNAKE[@]}" --config "${CFG[@]}" >"$T/run2.txt" 2>&1 || bad "second run: $(tail -5 "$T/run2.txt")"
[ "$m1" = "$(mtime "$T/out/good1.tif")" ] && [ "$m3" = "$(mtime "$T/out/good3.tif")" ] \
  && [ "$st1" = "$(mtime "$T/out/status/good1.json")" ] && ok "second run left the good slides alone" \
  || bad "second run rewrote good outputs"
grep -q "corrupt TIFF" "$T/out/failed/broken.txt" && ok "still failed, still reported" || bad "failure report lost"

# --- a touched input redoes that slide only
sleep 1
touch "$T/slides/good1.tif"
dry "${CFG[@]}"
grep -q "Updated input files: $T/slides/good1.tif" "$T/dry.txt" && [ "$(planned slide)" = 2 ] \
  && ok "dry run: the touched slide (and the failed one)" || bad "dry run after touch: $(grep -A3 '^rule' "$T/dry.txt")"
"${SNAKE[@]}" --config "${CFG[@]}" >"$T/run3.txt" 2>&1 || bad "third run: $(tail -5 "$T/run3.txt")"
[ "$m1" != "$(mtime "$T/out/good1.tif")" ] && [ "$m3" = "$(mtime "$T/out/good3.tif")" ] \
  && ok "touched good1 redone, good3 left alone" || bad "touch: good1 $m1 -> $(mtime "$T/out/good1.tif"), good3 changed?"

# --- the repaired slide succeeds; then there is nothing to do
cp "$T/slides/good3.tif" "$T/slides/broken.tif"
"${SNAKE[@]}" --config "${CFG[@]}" >"$T/run4.txt" 2>&1 || bad "fourth run: $(tail -5 "$T/run4.txt")"
[ -s "$T/out/broken.tif" ] && [ ! -e "$T/out/failed/broken.txt" ] \
  && [ "$(awk -F'\t' 'NR>1 && $2=="ok"' "$T/out/summary.tsv" | wc -l)" = 3 ] \
  && ok "repaired slide corrected, failure file gone, summary: 3 ok" || bad "repair: $(cat "$T/out/summary.tsv")"
dry "${CFG[@]}"
grep -q "Nothing to be done" "$T/dry.txt" && ok "then nothing to be done" || bad "not settled: $(grep -A3 '^rule\|^localrule' "$T/dry.txt")"

# --- sample sheet: an explicit geometry and a method per slide
printf 'slide\tgeometry\tmethod\n../slides/good3.tif\t../out/models/good3.geom\tflatfield\n' >"$T/gen/sheet.tsv"
printf '# comment\nslide\n../slides/good1.tif\n' >"$T/gen/sheet1.tsv"
"${SNAKE[@]}" --config sheet="$T/gen/sheet.tsv" out="$T/sheet_out" sscor="$S" >"$T/run5.txt" 2>&1 \
  && [ -s "$T/sheet_out/good3.tif" ] && grep -q -- "--geometry $T/out/models/good3.geom" "$T/sheet_out/logs/good3.sscor.log" \
  && ok "sample sheet: slide corrected with the sheet's geometry" || bad "sheet: $(tail -5 "$T/run5.txt")"
"${SNAKE[@]}" -n --config sheet="$T/gen/sheet1.tsv" out="$T/sheet_out1" sscor="$S" >"$T/dry.txt" 2>&1 \
  && [ "$(planned slide)" = 1 ] && ok "sample sheet with the slide column only" || bad "sheet1: $(tail -5 "$T/dry.txt")"
sheet_error() { # WHAT CONTENT MESSAGE
  printf "$2" >"$T/gen/bad.tsv"
  if "${SNAKE[@]}" -n --config sheet="$T/gen/bad.tsv" out="$T/bad_out" >"$T/err.txt" 2>&1; then bad "$1: accepted"
  elif grep -q -- "$3" "$T/err.txt"; then ok "$1: refused, '$3'"
  else bad "$1: message lacks '$3': $(tail -5 "$T/err.txt")"; fi
}
sheet_error "missing slide" 'slide\n../slides/good1.tif\n../slides/nope.tif\n' "bad.tsv:3: slide .*nope.tif: no such file"
sheet_error "unknown method" 'slide\tmethod\n../slides/good1.tif\tmagic\n' "bad.tsv:2: unknown method 'magic'"
sheet_error "no slide column" 'file\n../slides/good1.tif\n' "bad.tsv:1: the header row"
sheet_error "same name twice" 'slide\n../slides/good1.tif\n../slides/good1.tif\n' "both give"
mkdir -p "$T/dup" && cp "$T/slides/good1.tif" "$T/dup/a.tif" && cp "$T/slides/good1.tif" "$T/dup/a.tiff"
"${SNAKE[@]}" -n --config in="$T/dup" out="$T/dup_out" >"$T/err.txt" 2>&1 && bad "duplicate names accepted" \
  || { grep -q "both give .*/a.tif" "$T/err.txt" && ok "a.tif and a.tiff in one folder refused" || bad "dup: $(tail -3 "$T/err.txt")"; }
"${SNAKE[@]}" -n --config in="$T/nothere" out="$T/x" >"$T/err.txt" 2>&1 && bad "missing folder accepted" \
  || { grep -q "nothere: not a folder" "$T/err.txt" && ok "missing folder refused" || bad "nodir: $(tail -3 "$T/err.txt")"; }
exit $fail
