#!/bin/bash
# Install what is needed, build, and start modvirt in embedded mode: every
# socket, definition and log under one directory (default ./modvirt-root),
# no systemd needed.  Then show it answering to Debian's stock virsh.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(realpath -m "${1:-modvirt-root}")
scripts/install-deps.sh
scripts/build.sh >/dev/null
mkdir -p "$root/log"
sock="$root/run/virtproxyd-sock"
if [ -S "$sock" ] && virsh -c "qemu+unix:///system?socket=$sock" uri >/dev/null 2>&1; then
    echo "modvirt already runs under $root"
else
    # the proxy starts virtqemud, virtlxcd, ... itself when a client needs them
    nohup build/proxyd/virtproxyd --root "$root" --timeout 0 >>"$root/log/virtproxyd.log" 2>&1 &
    for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
fi
uri="qemu+unix:///system?socket=$sock"
echo
echo "\$ virsh -c '$uri' version"
virsh -c "$uri" version
echo "\$ virsh -c '$uri' nodeinfo"
virsh -c "$uri" nodeinfo
echo
echo "modvirt runs under $root (logs in $root/log). Try:"
echo "  virsh -c '$uri' capabilities"
echo "  build/tools/modvirt -c '$uri' version"
echo "Stop it with: kill \$(cat $root/run/*.pid)"
