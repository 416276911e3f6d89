#!/usr/bin/env bash
# Corrects a stitched slide with a model, tile by tile, into a pyramidal TIFF.
#   bash correct_slide.sh IN.tif MODEL.sscor OUT.tif
# (make the model with: sscor train IN.tif MODEL.sscor)
set -euo pipefail
[ $# -eq 3 ] || { echo "usage: $0 IN.tif MODEL.sscor OUT.tif" >&2; exit 2; }
exec gst-launch-1.0 -q sscorslidesrc location="$1" ! sscorcorrect model="$2" \
  ! sscorblendsink location="$3"
