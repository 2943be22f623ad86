#!/bin/sh
# bench/libvirt-ns.sh INSTANCE_DIR COMMAND [ARGS...]
#
# Run COMMAND (Debian's libvirtd, possibly behind systemd-socket-activate)
# so that it cannot touch the host's libvirt state.  Meant to be started as
#     unshare -m --propagation private bench/libvirt-ns.sh DIR cmd...
# i.e. already inside a private mount namespace, where it
#   * puts a tmpfs over /run (so /run/libvirt, /run/libvirtd.pid and the
#     host's D-Bus socket are out of reach: no firewalld/machined calls),
#   * lays a copy-on-write overlay over /var whose upper layer is
#     DIR/var-up (so /var/lib/libvirt, /var/cache/libvirt, /var/log/libvirt
#     land in DIR),
#   * binds DIR/etc over /etc/libvirt (private libvirtd.conf, qemu.conf),
#   * binds DIR/passwd and DIR/group over /etc/passwd and /etc/group when
#     run.sh made them (the qemu driver refuses to start without the
#     libvirt-qemu user, which only libvirt-daemon-system creates).
# Sockets go to DIR/run (unix_sock_dir), outside the namespace's /run, so
# clients outside can reach them.  Benchmark helper only.
set -eu
dir=$1
shift

mount -t tmpfs -o mode=0755 bench-run /run
mkdir -p /run/libvirt /run/lock
if ! mount -t overlay bench-var \
        -o "lowerdir=/var,upperdir=$dir/var-up,workdir=$dir/var-work" /var 2>/dev/null; then
    # no overlayfs: hide what exists, accept that libvirtd may create the
    # (empty) top directories that are missing
    echo "libvirt-ns.sh: overlayfs unavailable; using tmpfs mounts under /var" >&2
    for d in /var/lib/libvirt /var/cache/libvirt /var/log/libvirt; do
        mkdir -p "$d"
        mount -t tmpfs bench-var "$d"
    done
fi
mkdir -p /etc/libvirt
mount --bind "$dir/etc" /etc/libvirt
if [ -f "$dir/passwd" ]; then
    mount --bind "$dir/passwd" /etc/passwd
    mount --bind "$dir/group" /etc/group
fi
exec "$@"
