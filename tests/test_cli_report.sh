#!/usr/bin/env bash
# sscor correct --report DIR and sscor report-index: on a small synthetic
# slide (seams on a real tile) and a failed input, the pages and every file
# they reference exist, the PNGs are valid with sensible sizes, the page's
# figures are those of `sscor metrics --json` on the same images and tiles,
# the index lists both slides (the failure with its message), the normal
# output is the same with or without --report, bad report folders fail
# before any work. Headless Chromium renders the pages (skipped without it;
# SSCOR_REPORT_SHOTS=DIR keeps the screenshots).
set -u
. "$SSCOR_SRC/tests/cli_util.sh"

tile="$SSCOR_DATA/wsi_brain/tiles/C3-BrainSection0025.tif"
[ -f "$tile" ] || { echo "no $tile: skipped"; exit 77; }
R="$T/reports"

# png_size FILE: "W H" from the PNG signature and IHDR, or nothing
png_size() {
  [ "$(od -An -tx1 -N8 "$1" 2>/dev/null | tr -d ' \n')" = 89504e470d0a1a0a ] || return 1
  od -An -tu1 -j16 -N8 "$1" | awk '{print $1*16777216+$2*65536+$3*256+$4, $5*16777216+$6*65536+$7*256+$8}'
}
# page_value PAGE ID: the number in the cell with that id
page_value() { sed -n "s/.*id=\"$2\">\([^<]*\)<.*/\1/p" "$1" | head -1; }
json_value() { # FILE SECTION KEY
  awk -v s="\"$2\"" -v k="\"$3\":" '$1 == s":" {in_s = 1} in_s && $1 == k {gsub(",", "", $2); print $2; exit}' "$1"
}
close() { awk -v a="$1" -v b="$2" 'BEGIN{d = a - b; if (d < 0) d = -d; m = b < 0 ? -b : b; exit !(a != "" && d <= 1e-3 * m + 1e-9)}'; }

"$S" synth -d "seams:strength=0.15,seed=7,tile=128,width=0.05" -i "$tile" "$T/slide.tif" >/dev/null || bad "synth"
expect_rc 0 "correct --report" "$S" correct "$T/slide.tif" "$T/slide_out.tif" --report "$R"
grep -q "^report: $R/slide_out.html" "$T/err.txt" && ok "says where the report is" || bad "no report line"
expect_rc 0 "correct without --report" "$S" correct -q "$T/slide.tif" "$T/plain_out.tif"
bash "$SSCOR_SRC/pipelines/examples/tiff_to_png.sh" "$T/slide_out.tif" "$T/a.png" \
  && bash "$SSCOR_SRC/pipelines/examples/tiff_to_png.sh" "$T/plain_out.tif" "$T/b.png" || bad "tiff_to_png"
cmp -s "$T/a.png" "$T/b.png" && ok "output pixels identical with and without --report" \
  || bad "--report changed the corrected output"

# --- the slide's page and its files
P="$R/slide_out.html" F="$R/slide_out_files"
for f in "$P" "$R/index.html" "$F/summary.tsv" "$F/tiles.txt" "$F/geometry.txt"; do
  [ -s "$f" ] && ok "$(basename "$f") written" || bad "missing $f"
done
refs=$(grep -o '\(src\|href\)="[^"]*"' "$P" | sed 's/^[a-z]*="\(.*\)"$/\1/' | sort -u)
nref=0
for r in $refs; do
  nref=$((nref + 1))
  [ -e "$R/$r" ] || bad "page references missing $r"
done
[ "$nref" -ge 9 ] && ok "page references $nref files, all present" || bad "page references only $nref files"
for p in before after geometry crop_before crop_after profile_v profile_h; do
  grep -q "src=\"slide_out_files/$p.png\"" "$P" || bad "page lacks $p.png"
  sz=$(png_size "$F/$p.png") || { bad "$p.png is no PNG"; continue; }
  read -r w h <<<"$sz"
  case $p in
  before | after | geometry) want='$1 >= 200 && $1 <= 512 && $2 >= 200 && $2 <= 512' ;;
  crop_*) want='$1 == 256 && $2 == 256' ;;
  profile_*) want='$1 == 1000 && $2 == 360' ;;
  esac
  echo "$w $h" | awk "{exit !($want)}" && ok "$p.png ${w}x$h" || bad "$p.png has size ${w}x$h"
done
cmp -s "$F/before.png" "$F/after.png" && bad "before and after thumbnails are the same" || ok "after differs from before"
[ -n "$(find "$R" -name "*.tmp*")" ] && bad "temporary files left in the report" || ok "no temporary files"

# --- the page's figures are sscor metrics' on the same images and tiles
"$S" metrics "$T/slide.tif" "$T/slide_out.tif" --tiles "$F/tiles.txt" --json >"$T/m.json" || bad "metrics --json"
for k in seam_ratio seam_step texture tissue_bg; do
  for side in in out; do
    sec=input_metrics; [ $side = out ] && sec=corrected_metrics
    a=$(page_value "$P" "m-$k-$side") b=$(json_value "$T/m.json" $sec $k)
    close "$a" "$b" && ok "$k $side: page $a = metrics $b" || bad "$k $side: page '$a', metrics '$b'"
  done
done
a=$(page_value "$P" m-fidelity_pct-out) b=$(json_value "$T/m.json" corrected_metrics fidelity_pct)
close "$a" "$b" && ok "fidelity: page $a = metrics $b" || bad "fidelity: page '$a', metrics '$b'"
r1=$(json_value "$T/m.json" corrected_metrics seam_ratio) r0=$(json_value "$T/m.json" input_metrics seam_ratio)
awk -v a="$r0" -v b="$r1" 'BEGIN{exit !(b < a)}' && ok "the report shows seams reduced ($r0 -> $r1)" || bad "seam ratio $r0 -> $r1"
grep -q "^seam_ratio_out	" "$F/summary.tsv" && grep -q "^status	ok$" "$F/summary.tsv" && ok "summary.tsv" || bad "summary.tsv"

# --- a failed input: its page with the error, listed in the index
B="$T/bro<&>ken.tif" # text in the pages is escaped
echo "not an image" >"$B"
expect_rc 1 "correct --report on a broken input" "$S" correct -q "$B" "$T/broken_out.tif" --report "$R"
[ ! -e "$T/broken_out.tif" ] && ok "no output for the failure" || bad "output left after failure"
[ -s "$R/broken_out.html" ] && grep -q 'class="badge failed"' "$R/broken_out.html" && ok "failed page" || bad "no failed page"
grep -qF "bro<&>ken.tif" "$R/broken_out_files/summary.tsv" && grep -q "^status	failed$" "$R/broken_out_files/summary.tsv" \
  && ok "failure summary names the file" || bad "failure summary: $(cat "$R/broken_out_files/summary.tsv")"
msg=$(sed -n 's/^error	//p' "$R/broken_out_files/summary.tsv")
I="$R/index.html"
grep -q 'href="slide_out.html"' "$I" && grep -q 'href="broken_out.html"' "$I" && ok "index links both slides" \
  || bad "index lacks a slide"
grep -q "2 slides: 1 corrected, 1 failed" "$I" && ok "index counts" || bad "index counts"
tail=${msg#*ken.tif}
grep -o '<td colspan="5" class="msg">[^<]*' "$I" | grep -F 'bro&lt;&amp;&gt;ken.tif' | grep -qF "${tail:0:30}" \
  && ok "index shows the failure's message, escaped" || bad "index lacks the message '$msg'"
grep -qF "bro<&>ken" "$I" "$R/broken_out.html" && bad "unescaped text in the pages" || ok "no unescaped text"
grep -q 'id="error">[^<]*bro&lt;&amp;&gt;ken.tif' "$R/broken_out.html" && ok "failed page shows the error" \
  || bad "failed page lacks the error"
for r in $(grep -o 'href="[^"]*"' "$I" | sed 's/href="\(.*\)"/\1/'); do [ -e "$R/$r" ] || bad "index links missing $r"; done

# --- the index alone; bad folders and names
cp "$I" "$T/index.before"
rm "$I"
expect_rc 0 "report-index" "$S" report-index "$R"
cmp -s "$I" "$T/index.before" && ok "report-index rebuilds the same index" || bad "rebuilt index differs"
expect_rc 1 "report-index on a missing folder" "$S" report-index "$T/nowhere"
expect_err "nowhere"
expect_rc 2 "report-index without a folder" "$S" report-index
expect_rc 1 "--report in a missing parent" "$S" correct -q "$T/slide.tif" "$T/x_out.tif" --report "$T/no/such/dir"
expect_err "no/such/dir"
[ ! -e "$T/x_out.tif" ] && ok "no output when the report folder is bad" || bad "output written despite a bad report folder"
expect_rc 1 "an output named index" "$S" correct -q "$T/slide.tif" "$T/index.tif" --report "$R"
expect_err "index"

# --- rendered by a browser: the pages are not blank
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
  echo "no chromium: rendering skipped"
  [ $fail = 0 ] && exit 77
  exit $fail
fi
shots=${SSCOR_REPORT_SHOTS:-$T/shots}
mkdir -p "$shots"
for page in slide_out broken_out index; do
  timeout 120 "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$T/chrome" \
    --screenshot="$shots/$page.png" --window-size=1280,2200 "file://$R/$page.html" >/dev/null 2>&1
  sz=$(png_size "$shots/$page.png") && [ "$sz" = "1280 2200" ] || { bad "no screenshot of $page ($sz)"; continue; }
  # blank pages compress to a few kB; pictures and text make it far larger
  n=$(stat -c %s "$shots/$page.png")
  min=25000; [ $page = slide_out ] && min=300000
  [ "$n" -gt $min ] && ok "$page rendered (${n} bytes of screenshot)" || bad "$page screenshot looks blank ($n bytes)"
done
exit $fail
