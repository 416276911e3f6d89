#!/usr/bin/env bash
# Quality benchmark: see bench/quality.py for options. Prints a markdown table.
#   bash bench/quality.sh                       # sscor correct (input figures only until it exists)
#   bash bench/peers/setup.sh && bash bench/quality.sh   # with pystripe and BaSiC
#   bash bench/quality.sh --corrector "my-tool --fast"
set -euo pipefail
exec /usr/bin/python3 "$(dirname "$0")/quality.py" "$@"
