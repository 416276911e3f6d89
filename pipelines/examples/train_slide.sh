#!/usr/bin/env bash
# Makes a correction model of a stitched slide: the stripe geometry is
# detected, proximity pairs are sampled and the model is trained (or, with
# the default preset, the seam-aware flat-field is estimated).
#   bash train_slide.sh IN.tif MODEL.sscor [PRESET]   (auto | flatfield | cpu | paper)
# `-m` prints the detected geometry (sscor-geometry) and the training
# progress (sscor-train-progress) as element messages.
set -euo pipefail
[ $# -ge 2 ] && [ $# -le 3 ] || { echo "usage: $0 IN.tif MODEL.sscor [PRESET]" >&2; exit 2; }
patch=64
[ "${3:-auto}" = paper ] && patch=256 # the paper's generator trains on 256 px patches
exec gst-launch-1.0 -m sscorslidesrc location="$1" ! sscorsample patch=$patch \
  ! sscortrain preset="${3:-auto}" location="$2"
