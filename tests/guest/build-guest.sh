#!/bin/bash
# build-guest.sh [--force]: build the modvirt test guest.
#
# Produces tests/guest/out/vmlinuz and tests/guest/out/initramfs.gz from two
# Debian 12 packages, downloaded once with `apt-get download` (never
# installed) into $MODVIRT_GUEST_CACHE (default /var/cache/modvirt-test-guest):
#   - the cloud kernel that linux-image-cloud-amd64 currently depends on
#     (override with MODVIRT_GUEST_KERNEL_PKG=linux-image-6.1.0-N-cloud-amd64);
#   - busybox-static, the guest's only program.
# The initramfs holds busybox, the init and modvirt-writer scripts next to
# this file, and the few kernel modules the guest loads (virtio disk, ACPI
# power button, evdev) with a modules.dep made by busybox depmod.
#
# Does nothing when out/ is up to date (same packages, same scripts); --force
# rebuilds anyway.  Needs only bash, apt-get, dpkg-deb, gzip, sha256sum and
# coreutils on the host (the cpio archive is written by the downloaded
# busybox).  Exits non-zero with a message naming the problem otherwise.

set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=$here/out
cache=${MODVIRT_GUEST_CACHE:-/var/cache/modvirt-test-guest}
force=0
for arg in "$@"; do
    case $arg in
    --force) force=1 ;;
    -h | --help)
        sed -n '2,17s/^# \{0,1\}//p' "$0"
        exit 0
        ;;
    *)
        echo "build-guest: unknown argument '$arg'" >&2
        exit 2
        ;;
    esac
done

die() {
    echo "build-guest: $*" >&2
    exit 1
}

# One build at a time per checkout (tests may call this in parallel).
mkdir -p "$out"
exec 9>"$out/.lock"
flock 9 || die "cannot lock '$out/.lock'"

# Modules the init script loads by name; their dependencies are added.
modules=(virtio_pci virtio_blk button evdev)

mkdir -p "$cache" 2>/dev/null || die "cannot create the cache directory '$cache' (set MODVIRT_GUEST_CACHE)"
[ -w "$cache" ] || die "cache directory '$cache' is not writable (set MODVIRT_GUEST_CACHE)"

# newest_deb PATTERN: the cached .deb matching PATTERN with the highest version.
newest_deb() {
    local best='' f v bestv=''
    for f in "$cache"/$1; do
        [ -f "$f" ] || continue
        v=$(dpkg-deb -f "$f" Version)
        if [ -z "$best" ] || dpkg --compare-versions "$v" gt "$bestv"; then
            best=$f
            bestv=$v
        fi
    done
    echo "$best"
}

apt_updated=0
# apt_resolve COMMAND...: run an apt-cache query; on empty output refresh the
# package lists once (root only) and retry.
apt_resolve() {
    local r
    r=$("$@" 2>/dev/null || true)
    if [ -z "$r" ] && [ $apt_updated = 0 ] && [ "$(id -u)" = 0 ]; then
        apt_updated=1
        apt-get update -qq >&2 || die "apt-get update failed"
        r=$("$@" 2>/dev/null || true)
    fi
    echo "$r"
}

# download PACKAGE: apt-get download PACKAGE into the cache.
download() {
    local tmp
    echo "build-guest: downloading $1 into $cache" >&2
    tmp=$(mktemp -d "$cache/.download.XXXXXX")
    if ! (cd "$tmp" && apt-get download -q "$1" >/dev/null 2>"$tmp/apt.log"); then
        cat "$tmp/apt.log" >&2
        rm -rf "$tmp"
        die "apt-get download $1 failed (no access to Debian's repositories?)"
    fi
    mv "$tmp"/*.deb "$cache"/
    rm -rf "$tmp"
}

# The kernel: an explicit package, else a cached one, else the one the
# meta package depends on now.
kernel_pkg=${MODVIRT_GUEST_KERNEL_PKG:-}
if [ -n "$kernel_pkg" ]; then
    kernel_deb=$(newest_deb "${kernel_pkg}_*_amd64.deb")
else
    kernel_deb=$(newest_deb "linux-image-[0-9]*-cloud-amd64_*_amd64.deb")
    if [ -z "$kernel_deb" ]; then
        kernel_pkg=$(apt_resolve apt-cache depends linux-image-cloud-amd64 |
            sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-cloud-amd64\)$/\1/p' | head -n1)
        [ -n "$kernel_pkg" ] || die "apt-cache knows no linux-image-cloud-amd64 (run apt-get update)"
    fi
fi
if [ -z "$kernel_deb" ]; then
    download "$kernel_pkg"
    kernel_deb=$(newest_deb "${kernel_pkg}_*_amd64.deb")
    [ -n "$kernel_deb" ] || die "apt-get download $kernel_pkg left no .deb in '$cache'"
fi

busybox_deb=$(newest_deb "busybox-static_*_amd64.deb")
if [ -z "$busybox_deb" ]; then
    [ -n "$(apt_resolve apt-cache show busybox-static)" ] ||
        die "apt-cache knows no busybox-static (run apt-get update)"
    download busybox-static
    busybox_deb=$(newest_deb "busybox-static_*_amd64.deb")
    [ -n "$busybox_deb" ] || die "apt-get download busybox-static left no .deb in '$cache'"
fi

# Up to date when the inputs hash to what the last build recorded.
stamp=$(
    {
        basename "$kernel_deb"
        basename "$busybox_deb"
        echo "${modules[*]}"
        cat "$here/init" "$here/modvirt-writer" "$0"
    } | sha256sum | cut -d' ' -f1
)
if [ $force = 0 ] && [ -f "$out/vmlinuz" ] && [ -f "$out/initramfs.gz" ] &&
    [ "$(cat "$out/stamp" 2>/dev/null)" = "$stamp" ]; then
    echo "build-guest: $out is up to date"
    exit 0
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/modvirt-guest.XXXXXX")
trap 'rm -rf "$work"' EXIT

dpkg-deb -x "$kernel_deb" "$work/kernel" || die "cannot unpack '$kernel_deb'"
dpkg-deb -x "$busybox_deb" "$work/busybox" || die "cannot unpack '$busybox_deb'"
busybox=$work/busybox/bin/busybox
[ -x "$busybox" ] || die "'$busybox_deb' has no bin/busybox"

vmlinuz=$(ls "$work"/kernel/boot/vmlinuz-* 2>/dev/null | head -n1)
[ -n "$vmlinuz" ] || die "'$kernel_deb' has no /boot/vmlinuz-*"
kver=${vmlinuz##*/vmlinuz-}
moddir=$work/kernel/lib/modules/$kver

# What the guest relies on being built in (=y); modules are checked below.
config=$work/kernel/boot/config-$kver
for opt in BLK_DEV_INITRD RD_GZIP DEVTMPFS SERIAL_8250 SERIAL_8250_CONSOLE ACPI INPUT; do
    grep -qx "CONFIG_$opt=y" "$config" || die "kernel $kver lacks CONFIG_$opt=y"
done

root=$work/root
mkdir -p "$root"/{bin,dev,proc,sys,tmp,run,etc/acpi/PWRF,lib/modules/"$kver"}
cp "$busybox" "$root/bin/busybox"
ln -s busybox "$root/bin/sh"
install -m 0755 "$here/init" "$root/init"
install -m 0755 "$here/modvirt-writer" "$root/bin/modvirt-writer"
cat >"$root/etc/acpi/PWRF/00000080" <<'EOF'
#!/bin/sh
# Run by acpid when the ACPI power button is pressed.
echo "MODVIRT-GUEST-POWEROFF" >/dev/console
sync
poweroff -f
EOF
chmod 0755 "$root/etc/acpi/PWRF/00000080"

# module_file NAME: path of NAME.ko below $moddir ('-' and '_' are the same).
module_file() {
    local f
    f=$(find "$moddir/kernel" \( -name "$1.ko" -o -name "${1//_/-}.ko" \) | head -n1)
    [ -n "$f" ] || die "kernel $kver has no module '$1'"
    echo "$f"
}

# Copy the modules and, transitively, what they depend on.
declare -A copied=()
queue=("${modules[@]}")
while [ ${#queue[@]} -gt 0 ]; do
    m=${queue[0]}
    queue=("${queue[@]:1}")
    [ -z "${copied[$m]:-}" ] || continue
    copied[$m]=1
    f=$(module_file "$m")
    rel=${f#"$moddir"/}
    mkdir -p "$root/lib/modules/$kver/$(dirname "$rel")"
    cp "$f" "$root/lib/modules/$kver/$rel"
    deps=$(tr '\0' '\n' <"$f" | sed -n 's/^depends=//p' | head -n1)
    IFS=, read -r -a more <<<"$deps"
    queue+=("${more[@]}")
done
"$busybox" depmod -b "$root" "$kver" || die "depmod failed"

rm -f "$out/stamp"
(cd "$root" && find . | LC_ALL=C sort | "$busybox" cpio -o -H newc -R 0:0 2>/dev/null) |
    gzip -9 -n >"$out/initramfs.gz.tmp"
cp "$vmlinuz" "$out/vmlinuz.tmp"
mv "$out/initramfs.gz.tmp" "$out/initramfs.gz"
mv "$out/vmlinuz.tmp" "$out/vmlinuz"
echo "$stamp" >"$out/stamp"
echo "build-guest: built $out (kernel $kver, busybox $(dpkg-deb -f "$busybox_deb" Version)," \
    "initramfs $(stat -c %s "$out/initramfs.gz") bytes)"
