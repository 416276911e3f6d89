#!/usr/bin/env bash
# Writes the training pairs of a stitched slide as PNGs to look at: each is
# the anomaly patch on a seam (left) next to its nearest clean patch (right).
#   bash sample_pairs.sh IN.tif OUTDIR
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 IN.tif OUTDIR" >&2; exit 2; }
mkdir -p "$2"
exec gst-launch-1.0 -q sscorslidesrc location="$1" ! sscorsample ! videoconvert ! pngenc \
  ! multifilesink location="$2/pair_%05d.png"
