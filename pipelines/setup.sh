#!/usr/bin/env bash
# Installs what sscor needs on Debian 12 and builds it into build/.
#   bash pipelines/setup.sh         build + runtime dependencies, then build
#   bash pipelines/setup.sh --dev   also PyTorch, scikit-image, vips (fixtures, benchmarks)
#   bash pipelines/setup.sh --workflow  also Snakemake, Slurm (pipelines/workflow/, bench/slurm_local.sh)
#                                       and chromium (the report pages in tests/test_cli_report.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake ninja-build pkg-config
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  libopenslide-dev openslide-tools libtiff-dev libtiff-tools
  libdnnl-dev ocl-icd-opencl-dev libcairo2-dev libdeflate-dev libzstd-dev
  clang libclang-rt-14-dev libomp-dev # fuzz targets (tests/fuzz/run.sh): libFuzzer, clang's OpenMP
)
# many slides: Snakemake (psutil for its benchmark files), a single-node Slurm for
# bench/slurm_local.sh, GNU time for bench/workflow.sh; chromium renders the report
# pages in tests/test_cli_report.sh
workflow_packages=(snakemake python3-psutil slurm-wlm munge time chromium)
if [ "${1:-}" = "--workflow" ]; then
  packages+=("${workflow_packages[@]}")
fi
if [ "${1:-}" = "--dev" ]; then
  packages+=(python3-torch python3-numpy python3-skimage python3-tifffile libvips-tools time
    libopenblas0-pthread) # PyTorch baseline in bench/: with only reference BLAS its ConvTranspose2d is ~7x slower
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  $sudo apt-get update
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}"
fi

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build
