#!/bin/bash
# bench/run.sh: modvirt against Debian's libvirt 9.0, side by side, one run.
#
# A benchmark, NOT a test: needs root, takes a few minutes, installs
# packages if missing and must never run in CI.  See bench/README.md.
#
# Environment:
#   BUILD=DIR             measure this modvirt build directory (default: build
#                         the committed HEAD afresh in the temporary directory)
#   BENCH_SECONDS=N       seconds per rate measurement (default 2.5)
#   BENCH_ROUNDS=N        rounds per rate figure, median reported (default 3)
#   BENCH_ACT_RUNS=N      cold starts per socket-activation figure (default 10)
#   BENCH_NO_INSTALL=1    never call apt-get
#   BENCH_NO_README=1     do not rewrite the figures in bench/README.md
#   BENCH_OUT=FILE        results file (default bench/results-<date>.md)
#   BENCH_KEEP=1          keep the temporary directory (logs, configs)
#   BENCH_LC_RUNS=N       fresh daemons per getVersion figure and guests
#                         created per system (default 7)
#   BENCH_DEFINE=N        domains defined per define round (default 1000)
#   BENCH_DEFINE_ROUNDS=N define rounds per system (default 3)
#   BENCH_DOMAIN_TYPE=T   kvm or qemu (default: kvm if /dev/kvm opens)
#
# `run.sh blockjobs` measures issue 4's block jobs instead (bench_blockjobs.py):
#   BENCH_BJ_RUNS=N       measured runs per job and system (default 15)
#   BENCH_BJ_JOBS="..."   some of: commit pull copy (default all three)
#   BENCH_OUT=FILE        results file (default bench/results-<date>-blockjobs.md)
#   BENCH_MV_VERBOSE=1    run virtqemud with --verbose (its log is in the kept dir)
#   BENCH_MV_RUN_TMPFS=0  keep virtqemud's run directory (status files) on the
#                         disk instead of a tmpfs (see README)
set -euo pipefail

mode=${1:-all}
case $mode in
    all|blockjobs) ;;
    *) echo "usage: run.sh [all|blockjobs]" >&2; exit 2 ;;
esac

here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
py=/usr/bin/python3          # Debian's: the one python3-libvirt belongs to

die() { echo "run.sh: $*" >&2; exit 1; }
say() { echo "== $*"; }

[ "$(id -u)" = 0 ] || die "needs root (system-mode daemons, mount namespaces)"

# ------------------------------------------------------------ packages
# Debian 12 (libvirt 9.0.0-4) ships only the monolithic libvirtd: no
# virtproxyd/virtqemud binaries in any package (libvirt-daemon holds
# /usr/sbin/libvirtd, virtlogd, virtlockd; libvirt-daemon-system only units
# and config).  libvirt-daemon-driver-qemu is needed for qemu:///system.
need=()
[ -x /usr/sbin/libvirtd ] || need+=(libvirt-daemon)
ls /usr/lib/*/libvirt/connection-driver/libvirt_driver_qemu.so >/dev/null 2>&1 ||
    need+=(libvirt-daemon-driver-qemu)
[ -x "$py" ] && "$py" -c 'import libvirt' 2>/dev/null || need+=(python3-libvirt)
command -v systemd-socket-activate >/dev/null || need+=(systemd)
command -v unshare >/dev/null || need+=(util-linux)
if [ ${#need[@]} -gt 0 ]; then
    [ -z "${BENCH_NO_INSTALL:-}" ] || die "missing packages: ${need[*]}"
    say "installing ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}"
fi
ssa=$(command -v systemd-socket-activate)

# ------------------------------------------------------------ workspace
T=$(mktemp -d /tmp/modvirt-bench.XXXXXX)
pids=()
nspids=()

cleanup() {
    local p
    set +e
    for p in "${pids[@]}" "${nspids[@]}"; do
        kill -TERM "$p" 2>/dev/null
    done
    for p in "${pids[@]}" "${nspids[@]}"; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null
    done
    # daemons the modvirt proxy may have spawned itself (embedded mode)
    for f in "$T"/*/run/*.pid; do
        [ -f "$f" ] && p=$(head -n1 "$f") && [ -n "$p" ] && kill -TERM "$p" 2>/dev/null
    done
    # QEMU processes of the guests (modvirt's outlive their daemon): only
    # those whose command line names this run's directory, by pid
    for _ in 1 2; do
        for f in /proc/[0-9]*/cmdline; do
            p=${f#/proc/}; p=${p%/cmdline}
            tr '\0' ' ' 2>/dev/null < "$f" | grep -q "^/usr/bin/qemu-system.*$T/" &&
                kill -KILL "$p" 2>/dev/null
        done
        sleep 0.5
    done
    wait 2>/dev/null
    if [ -n "${mv_run_mounted:-}" ]; then
        umount "$T/mv/run" 2>/dev/null || umount -l "$T/mv/run"
    fi
    if [ -n "${BENCH_KEEP:-}" ]; then
        echo "kept $T"
    else
        rm -rf "$T"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------ modvirt build
# Default: the committed HEAD, exported and built afresh in $T, so that the
# figures belong to a commit and not to whatever is half-edited in the
# working tree.  BUILD=DIR measures an existing build directory instead.
if [ -n "${BUILD:-}" ]; then
    build=$(cd "$BUILD" && pwd)
    rev="$(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo unknown) (build dir $build"
    git -C "$top" diff --quiet HEAD -- . ':!bench' 2>/dev/null || rev="$rev, working tree with uncommitted changes"
    rev="$rev)"
else
    rev=$(git -C "$top" rev-parse --short HEAD) || die "not a git checkout: set BUILD=DIR"
    say "building modvirt $rev (HEAD) in $T/build"
    mkdir -p "$T/src"
    git -C "$top" archive HEAD | tar -x -C "$T/src"
    meson setup "$T/build" "$T/src" > "$T/build.log" 2>&1 &&
        ninja -C "$T/build" >> "$T/build.log" 2>&1 || {
            tail -20 "$T/build.log" >&2
            die "modvirt $rev does not build"
        }
    build=$T/build
fi
for b in virtqemud/virtqemud proxyd/virtproxyd; do
    [ -x "$build/$b" ] || die "no $build/$b"
done

# Guests (issue 3, issue 4): domain type kvm when /dev/kvm can be opened
# (the same /dev/kvm serves every system), else qemu (TCG) for all.
dtype=${BENCH_DOMAIN_TYPE:-}
if [ -z "$dtype" ]; then
    if "$py" -c 'import os; os.close(os.open("/dev/kvm", os.O_RDWR))' 2>/dev/null; then
        dtype=kvm
    else
        dtype=qemu
    fi
fi

# Block jobs: qmp-tap.so, preloaded into virtqemud and libvirtd, logs what
# they read from QEMU's monitors (QEMU's event timestamps; see qmp-tap.c).
mv_env=()
lv_env=()
if [ "$mode" = blockjobs ]; then
    gcc -shared -fPIC -O2 -Wall -Werror -o "$T/qmp-tap.so" "$here/qmp-tap.c" -ldl ||
        die "cannot build qmp-tap.so"
    mv_env=(env LD_PRELOAD="$T/qmp-tap.so" QMP_TAP_LOG="$T/mv-qmp-tap.log" QMP_TAP_ONLY=virtqemud)
    lv_env=(env LD_PRELOAD="$T/qmp-tap.so" QMP_TAP_LOG="$T/lv-qmp-tap.log" QMP_TAP_ONLY=libvirtd)
fi

# A libvirtd instance directory: private config, sockets in DIR/run.
make_libvirt_instance() {
    local d=$1
    mkdir -p "$d/etc" "$d/run" "$d/var-up" "$d/var-work"
    cat > "$d/etc/libvirtd.conf" <<EOF
# bench: private libvirtd, sockets in $d/run, no auth, no TCP
unix_sock_dir = "$d/run"
unix_sock_group = "root"
unix_sock_ro_perms = "0777"
unix_sock_rw_perms = "0700"
unix_sock_admin_perms = "0700"
auth_unix_ro = "none"
auth_unix_rw = "none"
listen_tls = 0
listen_tcp = 0
EOF
    if [ "$mode" = blockjobs ]; then
        # every line read from a QEMU monitor, with QEMU's event timestamps
        cat >> "$d/etc/libvirtd.conf" <<EOF
log_filters = "1:qemu.qemu_monitor_json"
log_outputs = "1:file:$d/libvirtd-qmp.log 3:stderr"
EOF
    else
        echo 'log_outputs = "3:stderr"' >> "$d/etc/libvirtd.conf"
    fi
    # user/group root: QEMU must open /dev/kvm (0600 root here) and the guest
    # image under $T (mktemp -d: 0700 root), as modvirt's embedded virtqemud
    # does running as root.  stdio_handler "file": no virtlogd runs in the
    # namespace (libvirtd would fail to start guests waiting for its socket).
    cat > "$d/etc/qemu.conf" <<EOF
# bench: nothing host-specific (no AppArmor profiles)
security_driver = "none"
user = "root"
group = "root"
stdio_handler = "file"
EOF
    : > "$d/etc/libvirt.conf"
    if ! getent passwd libvirt-qemu >/dev/null || ! getent group libvirt-qemu >/dev/null; then
        cp /etc/passwd "$d/passwd"
        cp /etc/group "$d/group"
        getent passwd libvirt-qemu >/dev/null ||
            echo 'libvirt-qemu:x:64055:64055:Libvirt Qemu,,,:/var/lib/libvirt:/usr/sbin/nologin' >> "$d/passwd"
        getent group libvirt-qemu >/dev/null || echo 'libvirt-qemu:x:64055:' >> "$d/group"
        getent group kvm >/dev/null || echo 'kvm:x:64056:' >> "$d/group"
        getent group libvirt >/dev/null || echo 'libvirt:x:64057:' >> "$d/group"
    fi
}

wait_socket() {   # path pid what
    for _ in $(seq 600); do
        [ -S "$1" ] && return 0
        kill -0 "$2" 2>/dev/null || die "$3 exited during startup (log: $4)"
        sleep 0.05
    done
    die "$3 did not create $1 within 30 s (log: $4)"
}

# ------------------------------------------------------------ start modvirt
# Embedded mode (--root) keeps it all under $T/mv; --timeout 0: never idle-exit.
say "starting modvirt (virtqemud, virtproxyd) under $T/mv"
mkdir -p "$T/mv"
# Block jobs: virtqemud keeps its live status files in its run directory,
# saved with fsync at every step of a job.  Installed, that is /run/modvirt
# (tmpfs), as libvirtd's /run/libvirt is (tmpfs in its namespace here); in
# embedded mode it would be $T/mv/run on the disk.  So the run directory
# gets a tmpfs of its own (BENCH_MV_RUN_TMPFS=0: leave it on the disk).
if [ "$mode" = blockjobs ] && [ "${BENCH_MV_RUN_TMPFS:-1}" != 0 ]; then
    mkdir -p "$T/mv/run"
    mount -t tmpfs -o mode=0755 bench-mv-run "$T/mv/run"
    mv_run_mounted=1
fi
"${mv_env[@]}" "$build/virtqemud/virtqemud" --root "$T/mv" --timeout 0 ${BENCH_MV_VERBOSE:+--verbose} \
    > "$T/mv-virtqemud.log" 2>&1 &
pids+=($!); mv_qemu=$!
wait_socket "$T/mv/run/virtqemud-sock" $mv_qemu virtqemud "$T/mv-virtqemud.log"
"$build/proxyd/virtproxyd" --root "$T/mv" --timeout 0 > "$T/mv-virtproxyd.log" 2>&1 &
pids+=($!); mv_proxy=$!
wait_socket "$T/mv/run/virtproxyd-sock" $mv_proxy virtproxyd "$T/mv-virtproxyd.log"

# ------------------------------------------------------------ start libvirt
# Two libvirtd instances, each in its own mount namespace: "lv" serves
# qemu:///system directly; "lvp" plays virtproxyd: the client opens it with
# name=qemu+unix:///system?socket=<lv socket>, so libvirtd's remote driver
# forwards every call to "lv" -- the code path libvirt's virtproxyd runs
# (virtproxyd is libvirtd built with only the remote driver).  One libvirtd
# cannot proxy to itself: closing such a connection deadlocks its event loop.
start_libvirtd() {   # name
    local d=$T/$1
    make_libvirt_instance "$d"
    "${lv_env[@]}" unshare -m --propagation private "$here/libvirt-ns.sh" "$d" \
        /usr/sbin/libvirtd -f "$d/etc/libvirtd.conf" --pid-file "$d/run/libvirtd.pid" \
        > "$d.log" 2>&1 &
    nspids+=($!)
    wait_socket "$d/run/libvirt-sock" $! "libvirtd ($1)" "$d.log"
}
if [ "$mode" = blockjobs ]; then
    say "starting Debian's libvirtd under $T/lv"
    start_libvirtd lv
    sleep 1
    mkdir -p "$T/bj"
    cat > "$T/blockjobs.json" <<EOF
{
  "libvirtd": "/usr/sbin/libvirtd",
  "modvirt_build": "$rev",
  "type": "$dtype",
  "workdir": "$T/bj",
  "uris": {
    "libvirt": "qemu+unix:///system?socket=$T/lv/run/libvirt-sock",
    "modvirt": "qemu+unix:///system?socket=$T/mv/run/virtqemud-sock",
    "modvirt-proxy": "qemu+unix:///system?socket=$T/mv/run/virtproxyd-sock"
  },
  "taps": {"modvirt": "$T/mv-qmp-tap.log", "libvirt": "$T/lv-qmp-tap.log"},
  "libvirt_log": "$T/lv/libvirtd-qmp.log",
  "modvirt_run_fs": "$(stat -f -c %T "$T/mv/run")"
}
EOF
    readme_arg=(--readme "$here/README.md")
    [ -z "${BENCH_NO_README:-}" ] || readme_arg=()
    say "measuring block jobs (a few minutes)"
    # shellcheck disable=SC2086
    "$py" "$here/bench.py" blockjobs --config "$T/blockjobs.json" \
        --runs "${BENCH_BJ_RUNS:-15}" --jobs ${BENCH_BJ_JOBS:-commit pull copy} \
        --raw "$T/blockjobs-raw.json" \
        --out "${BENCH_OUT:-$here/results-$(date +%Y-%m-%d)-blockjobs.md}" "${readme_arg[@]}"
    exit 0
fi

say "starting Debian's libvirtd x2 (direct, proxy role) under $T/lv, $T/lvp"
start_libvirtd lv
lv_pid=${nspids[-1]}
start_libvirtd lvp
lvp_pid=${nspids[-1]}
sleep 1     # libvirtd takes connections only once its drivers are up; let startup settle

# ------------------------------------------------------------ activation setups
for a in act-mv act-mvp; do mkdir -p "$T/$a/run"; done
make_libvirt_instance "$T/act-lv"

uri() { echo "qemu+unix:///system?socket=$1"; }
lv_sock=$T/lv/run/libvirt-sock
cat > "$T/config.json" <<EOF
{
  "libvirtd": "/usr/sbin/libvirtd",
  "modvirt_build": "$rev",
  "systems": {
    "modvirt": {
      "direct": "$(uri "$T/mv/run/virtqemud-sock")",
      "proxy": "$(uri "$T/mv/run/virtproxyd-sock")",
      "pids": {"virtqemud": $mv_qemu, "virtproxyd": $mv_proxy}
    },
    "libvirt": {
      "direct": "$(uri "$lv_sock")",
      "proxy": "$(uri "$T/lvp/run/libvirt-sock")&name=qemu%2Bunix%3A%2F%2F%2Fsystem%3Fsocket%3D${lv_sock//\//%2F}",
      "pids": {"libvirtd": $lv_pid, "libvirtd (proxy role)": $lvp_pid}
    }
  },
  "activation": [
    {
      "name": "virtqemud",
      "socket": "$T/act-mv/run/virtqemud-sock",
      "uri": "$(uri "$T/act-mv/run/virtqemud-sock")",
      "log": "$T/act-mv.log",
      "pidfiles": ["$T/act-mv/run/virtqemud.pid"],
      "cmd": ["$ssa", "-l", "$T/act-mv/run/virtqemud-sock", "--fdname=virtqemud.socket",
              "$build/virtqemud/virtqemud", "--root", "$T/act-mv", "--timeout", "30"]
    },
    {
      "name": "virtproxyd+virtqemud",
      "socket": "$T/act-mvp/run/virtproxyd-sock",
      "uri": "$(uri "$T/act-mvp/run/virtproxyd-sock")",
      "log": "$T/act-mvp.log",
      "pidfiles": ["$T/act-mvp/run/virtqemud.pid", "$T/act-mvp/run/virtproxyd.pid"],
      "cmd": ["$ssa", "-l", "$T/act-mvp/run/virtproxyd-sock", "--fdname=virtproxyd.socket",
              "$build/proxyd/virtproxyd", "--root", "$T/act-mvp", "--timeout", "30"]
    },
    {
      "name": "libvirtd",
      "socket": "$T/act-lv/run/libvirt-sock",
      "uri": "$(uri "$T/act-lv/run/libvirt-sock")",
      "log": "$T/act-lv.log",
      "cmd": ["unshare", "-m", "--propagation", "private", "$here/libvirt-ns.sh", "$T/act-lv",
              "$ssa", "-l", "$T/act-lv/run/libvirt-sock", "--fdname=libvirtd.socket",
              "/usr/sbin/libvirtd", "-f", "$T/act-lv/etc/libvirtd.conf",
              "--pid-file", "$T/act-lv/run/libvirtd.pid", "--timeout", "30"]
    }
  ]
}
EOF

# ------------------------------------------------------------ guests (issue 3)
# One qcow2 image and one XML (bench.py guest_xml) for both systems; never
# two guests at once.
mkdir -p "$T/img"
qemu-img create -q -f qcow2 "$T/img/disk.qcow2" 64M
lva_sock=$T/act-lv/run/libvirt-sock
cat > "$T/lifecycle.json" <<EOF
{
  "image": "$T/img/disk.qcow2",
  "type": "$dtype",
  "uris": {"modvirt": "$(uri "$T/mv/run/virtqemud-sock")", "libvirt": "$(uri "$lv_sock")"},
  "version": [
    {"system": "modvirt", "path": "direct", "what": "virtqemud", "activation": "virtqemud",
     "uri": "$(uri "$T/act-mv/run/virtqemud-sock")",
     "caches": ["$T/act-mv/lib/cache/qemu"]},
    {"system": "modvirt", "path": "proxy",
     "what": "virtproxyd socket-activated, spawns virtqemud",
     "activation": "virtproxyd+virtqemud",
     "uri": "$(uri "$T/act-mvp/run/virtproxyd-sock")",
     "caches": ["$T/act-mvp/lib/cache/qemu"]},
    {"system": "libvirt", "path": "direct", "what": "libvirtd", "activation": "libvirtd",
     "uri": "$(uri "$lva_sock")",
     "caches": ["$T/act-lv/var-up/cache/libvirt/qemu"]},
    {"system": "libvirt", "path": "proxy",
     "what": "running proxy-role libvirtd, socket-activated libvirtd behind it",
     "activation": "libvirtd",
     "uri": "$(uri "$T/lvp/run/libvirt-sock")&name=qemu%2Bunix%3A%2F%2F%2Fsystem%3Fsocket%3D${lva_sock//\//%2F}",
     "caches": ["$T/act-lv/var-up/cache/libvirt/qemu"]}
  ]
}
EOF
"$py" - "$T/config.json" "$T/lifecycle.json" <<'PYEOF'
import json, sys
cfg = json.load(open(sys.argv[1]))
cfg["lifecycle"] = json.load(open(sys.argv[2]))
json.dump(cfg, open(sys.argv[1], "w"), indent=1)
PYEOF

stamp=$(date +%Y-%m-%d)
readme_arg=(--readme "$here/README.md")
[ -z "${BENCH_NO_README:-}" ] || readme_arg=()
say "measuring (takes a few minutes)"
"$py" "$here/bench.py" all --config "$T/config.json" \
    --seconds "${BENCH_SECONDS:-2.5}" --rounds "${BENCH_ROUNDS:-3}" \
    --activation-runs "${BENCH_ACT_RUNS:-10}" \
    --lifecycle-runs "${BENCH_LC_RUNS:-7}" --define-count "${BENCH_DEFINE:-1000}" \
    --define-rounds "${BENCH_DEFINE_ROUNDS:-3}" \
    --threads8 --out "${BENCH_OUT:-$here/results-$stamp.md}" "${readme_arg[@]}"
