#!/bin/bash
# Configure (once) and build modvirt in ./build.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -f build/build.ninja ]; then
    meson setup --reconfigure build >/dev/null
else
    meson setup build >/dev/null
fi
ninja -C build
