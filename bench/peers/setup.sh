#!/usr/bin/env bash
# Installs the peer correctors the quality benchmark compares against, into a
# virtual environment beside the build (never used by the project at run time):
#   pystripe 1.3.1 (wavelet-FFT destriping, Swaney et al.): its metadata pins
#     numpy 1.19 / scipy 1.5 / scikit-image 0.17, which do not build on Python
#     3.11, so it is installed without dependencies and runs on Debian's numpy,
#     scipy, scikit-image and PyWavelets (plus dcimg, which it imports);
#   basicpy (BaSiC flat-field estimation, Peng et al. 2017; PyTorch backend).
# Usage: bash bench/peers/setup.sh [VENV]   (default bench-out/peers-venv)
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=${1:-bench-out/peers-venv}
/usr/bin/python3 -m venv --system-site-packages "$venv"
"$venv/bin/pip" install --quiet --no-deps pystripe==1.3.1 dcimg
"$venv/bin/pip" install --quiet basicpy
"$venv/bin/python" -c "import pystripe, basicpy; print('peers ready:', pystripe.__name__, basicpy.__name__)"
