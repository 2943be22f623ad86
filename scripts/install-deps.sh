#!/bin/bash
# Install everything modvirt needs to build, run and test on Debian 12.
set -euo pipefail

packages=(
    # build
    gcc meson ninja-build pkg-config python3
    libglib2.0-dev libxml2-dev libjson-c-dev libgnutls28-dev libcap-ng-dev
    # run: real QEMU and qemu-img
    qemu-system-x86 qemu-utils
    # test: Debian's stock clients, systemd tools, XML tools, process tools
    libvirt-clients python3-libvirt systemd libxml2-utils procps iproute2
)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "install-deps: missing packages (${missing[*]}); run as root" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# the unprivileged user QEMU runs as in system mode (and in the tests)
if [ "$(id -u)" = 0 ] && ! getent passwd modvirt-qemu >/dev/null; then
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
        --user-group modvirt-qemu
fi
if [ "$(id -u)" = 0 ] && getent group kvm >/dev/null && ! id -nG modvirt-qemu | grep -qw kvm; then
    usermod -a -G kvm modvirt-qemu
fi
# the test guest: a Debian cloud kernel and busybox-static, fetched once with apt-get download
"$(cd "$(dirname "$0")/.." && pwd)/tests/guest/build-guest.sh" >/dev/null
echo "install-deps: all ${#packages[@]} packages present"
