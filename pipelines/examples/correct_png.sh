#!/usr/bin/env bash
# Corrects a whole PNG image with stock elements around sscorcorrect:
#   bash correct_png.sh IN.png MODEL.sscor OUT.png
# The model must describe an image of the PNG's size (sscor train on the same
# image saved as TIFF, or a geometry of that size).
set -euo pipefail
[ $# -eq 3 ] || { echo "usage: $0 IN.png MODEL.sscor OUT.png" >&2; exit 2; }
tmp="$3.tmp.$$"
trap 'rm -f "$tmp"' EXIT
gst-launch-1.0 -q filesrc location="$1" ! pngdec ! videoconvert ! sscorcorrect model="$2" \
  ! videoconvert ! pngenc ! filesink location="$tmp"
mv "$tmp" "$3"
