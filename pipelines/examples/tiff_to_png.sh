#!/usr/bin/env bash
# Writes a TIFF (or slide) as one PNG, e.g. to look at a corrected result:
#   bash tiff_to_png.sh IN.tif OUT.png      (the image as one frame: keep it small)
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 IN.tif OUT.png" >&2; exit 2; }
size=$(tiffinfo "$1" 2>/dev/null | awk '/Image Width/{print $3, $6; exit}')
w=${size% *}; h=${size#* }
tmp="$2.tmp.$$"
trap 'rm -f "$tmp"' EXIT
gst-launch-1.0 -q sscorslidesrc location="$1" tile-width="$w" tile-height="$h" ! videoconvert \
  ! pngenc ! filesink location="$tmp"
mv "$tmp" "$2"
