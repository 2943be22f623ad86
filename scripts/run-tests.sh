#!/bin/bash
# Install what is needed, build, and run every test.  Ends with the line
# "N passed, M failed"; exits non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh || exit 1
scripts/build.sh >/dev/null || { scripts/build.sh; echo "0 passed, 1 failed"; exit 1; }
meson test -C build --print-errorlogs --num-processes 2 --no-rebuild
python3 tests/summarize.py build
