#!/bin/bash
# test-units.sh [BUILDDIR]: check the generated systemd units.
#
# 1. `systemd-analyze verify` on every generated unit.
# 2. The facts a reviewer would check (fd names, socket modes, KillMode,
#    capability sets, sandbox exceptions), each counted as a test.
#
# Prints `ok <unit>...` or `FAIL <unit>: <reason>` per test and ends with
# `N passed, M failed`; exits 1 if anything failed, 77 (skip) if
# systemd-analyze is missing.
#
# How verify is made to work without installing anything:
# `systemd-analyze verify` checks that every Exec*= binary exists, and the
# units name the installed paths (@sbindir@/virtqemud, /bin/kill, ...).
# systemd 252 supports `verify --root=DIR` for unit files, so the script
# builds a throw-away root: the generated units (unchanged) in
# DIR/etc/systemd/system, a copy of the host's /usr/lib/systemd/system for
# the targets they depend on (sockets.target, multi-user.target, ...), the
# built daemons copied to the exact ExecStart= paths, and every other
# Exec*= command (/bin/kill, /bin/mkdir) copied from the host, where it
# must exist.  Symlinks would not do: verify resolves them inside DIR.
# Units are given by name (a path argument is not looked up under --root).
# PID 1 does not need to be systemd for any of this.
#
# Any output from verify counts as a failure, warnings included: an unknown
# or misspelt setting is only a warning, and it silently drops hardening.

set -u

builddir=${1:-build}
srcdir=$(cd "$(dirname "$0")/../.." && pwd)
unitdir=$builddir/systemd-units
readme=$srcdir/systemd-units/README.md

daemons=(virtproxyd virtqemud virtxend virtlxcd virtstoraged virtnetworkd)

passed=0
failed=0

ok() {
    echo "ok $1"
    passed=$((passed + 1))
}

fail() {
    echo "FAIL $1: $2"
    failed=$((failed + 1))
}

if ! command -v systemd-analyze >/dev/null 2>&1; then
    echo "SKIP: systemd-analyze not found"
    exit 77
fi
if [ ! -d "$unitdir" ]; then
    echo "FAIL: no generated units in '$unitdir' (build first, or pass the build dir)"
    echo "0 passed, 1 failed"
    exit 1
fi

# Last value of KEY= in FILE (systemd: a later assignment overrides).
get() {
    sed -n "s/^$1=//p" "$2" | tail -n 1
}

# All values of a list setting KEY= in FILE, joined by spaces.
get_all() {
    sed -n "s/^$1=//p" "$2" | tr '\n' ' '
}

# The built binary of daemon $1, or nothing.
find_binary() {
    local d=$1 c
    for c in "$builddir/$d/$d" "$builddir/proxyd/$d"; do
        if [ -f "$c" ] && [ -x "$c" ]; then
            echo "$c"
            return
        fi
    done
    find "$builddir" -maxdepth 3 -type f -name "$d" -perm -u+x 2>/dev/null | head -n 1
}

# --- 1. systemd-analyze verify ------------------------------------------

root=$(mktemp -d "${TMPDIR:-/tmp}/modvirt-units-root.XXXXXX")
trap 'rm -rf "$root"' EXIT

mkdir -p "$root/etc/systemd/system" "$root/usr/lib/systemd"
cp -a /usr/lib/systemd/system "$root/usr/lib/systemd/"

units=()
for d in "${daemons[@]}"; do
    for u in "$d.socket" "$d-ro.socket" "$d-admin.socket" "$d.service"; do
        if [ -f "$unitdir/$u" ]; then
            units+=("$u")
            cp "$unitdir/$u" "$root/etc/systemd/system/$u"
        else
            fail "$u" "not generated in $unitdir"
        fi
    done
done

# Place every command the units run inside the root.
declare -A missing=()
for u in "${units[@]}"; do
    d=${u%%[.-]*}
    while read -r cmd; do
        [ -n "$cmd" ] || continue
        [ -e "$root$cmd" ] && continue
        if [ "$(basename "$cmd")" = "$d" ]; then
            src=$(find_binary "$d")
            if [ -z "$src" ]; then
                missing[$u]="binary '$d' not found in build dir '$builddir'"
                continue
            fi
        elif [ -x "$cmd" ]; then
            src=$cmd
        else
            missing[$u]="command '$cmd' does not exist on this machine"
            continue
        fi
        mkdir -p "$root$(dirname "$cmd")"
        cp -L "$src" "$root$cmd"
    done < <(sed -n 's/^Exec[A-Za-z]*=[-+!@:]*\([^ ]*\).*/\1/p' "$unitdir/$u")
done

for u in "${units[@]}"; do
    if [ -n "${missing[$u]:-}" ]; then
        fail "$u" "${missing[$u]}"
        continue
    fi
    out=$(systemd-analyze verify --root="$root" --man=no --generators=no "$u" 2>&1)
    rc=$?
    if [ $rc -ne 0 ] || [ -n "$out" ]; then
        out=${out//"$root/etc/systemd/system/"/}
        fail "$u" "systemd-analyze verify (exit $rc): $(echo "$out" | tr '\n' ' ')"
    else
        ok "$u"
    fi
done

# --- 2. facts a reviewer checks ------------------------------------------

# expect UNIT KEY VALUE: the effective KEY= of UNIT is exactly VALUE.
expect() {
    local f=$unitdir/$1 v
    [ -f "$f" ] || { fail "$1" "missing, cannot check $2=$3"; return; }
    v=$(get "$2" "$f")
    if [ "$v" = "$3" ]; then
        ok "$1: $2=$3"
    else
        fail "$1" "expected $2=$3, found '$v'"
    fi
}

# expect_words UNIT KEY WORD...: every WORD is among the values of KEY=.
expect_words() {
    local u=$1 key=$2 f=$unitdir/$1 all w
    shift 2
    [ -f "$f" ] || { fail "$u" "missing, cannot check $key="; return; }
    all=" $(get_all "$key" "$f") "
    for w in "$@"; do
        if [[ "$all" != *" $w "* ]]; then
            fail "$u" "$key= lacks $w (has:$all)"
            return
        fi
    done
    ok "$u: $key= has $*"
}

# caps UNIT: the capability bounding set of UNIT, one line.
caps() {
    get CapabilityBoundingSet "$unitdir/$1"
}

has_cap() {
    [[ " $(caps "$1") " == *" $2 "* ]]
}

# expect_caps UNIT CAP...: each CAP is granted.
expect_caps() {
    local u=$1 cap
    shift
    for cap in "$@"; do
        if has_cap "$u" "$cap"; then
            ok "$u: has $cap"
        else
            fail "$u" "lacks $cap"
        fi
    done
}

# expect_no_cap UNIT CAP: CAP is not granted.
expect_no_cap() {
    if has_cap "$1" "$2"; then
        fail "$1" "grants $2"
    else
        ok "$1: no $2"
    fi
}

# Placeholders must all have been expanded.
for u in "${units[@]}"; do
    if grep -qE '@[A-Z_]+@' "$unitdir/$u"; then
        fail "$u" "unexpanded placeholder: $(grep -oE '@[A-Z_]+@' "$unitdir/$u" | head -n 1)"
    fi
done

for d in "${daemons[@]}"; do
    s=$d.socket ro=$d-ro.socket adm=$d-admin.socket svc=$d.service
    args=$(echo "$d" | tr '[:lower:]' '[:upper:]')_ARGS

    # Sockets: paths, modes, and the fd name the daemon matches on
    # (LISTEN_FDNAMES = the socket unit name, systemd's default).
    for pair in "$s:$d-sock:0600" "$ro:$d-sock-ro:0666" "$adm:$d-admin-sock:0600"; do
        IFS=: read -r u sock mode <<<"$pair"
        [ -f "$unitdir/$u" ] || continue
        ls=$(get ListenStream "$unitdir/$u")
        if [[ "$ls" == /*/modvirt/"$sock" ]]; then
            ok "$u: ListenStream=$ls"
        else
            fail "$u" "expected ListenStream=<runstatedir>/modvirt/$sock, found '$ls'"
        fi
        expect "$u" SocketMode "$mode"
        expect "$u" Service "$svc"
        expect "$u" RemoveOnStop yes
        expect_words "$u" Before "$svc"
        expect_words "$u" WantedBy sockets.target
        if grep -q '^FileDescriptorName=' "$unitdir/$u"; then
            fail "$u" "sets FileDescriptorName=; the daemon expects the default name '$u'"
        else
            ok "$u: fd name is the default '$u'"
        fi
    done
    for u in "$ro" "$adm"; do
        [ -f "$unitdir/$u" ] || continue
        expect_words "$u" BindsTo "$s"
        expect_words "$u" After "$s"
    done

    # Service basics.
    [ -f "$unitdir/$svc" ] || continue
    expect "$svc" Type notify
    expect_words "$svc" Requires "$s" "$ro" "$adm"
    expect_words "$svc" After "$s" "$ro" "$adm"
    expect "$svc" Environment "$args=\"--timeout 120\""
    ef=$(get EnvironmentFile "$unitdir/$svc")
    if [[ "$ef" == -/*/default/"$d" ]]; then
        ok "$svc: EnvironmentFile=$ef"
    else
        fail "$svc" "expected EnvironmentFile=-<sysconfdir>/default/$d, found '$ef'"
    fi
    es=$(get ExecStart "$unitdir/$svc")
    if [[ "$es" == /*/"$d \$$args" ]]; then
        ok "$svc: ExecStart=$es"
    else
        fail "$svc" "expected ExecStart=<sbindir>/$d \$$args, found '$es'"
    fi
    # shellcheck disable=SC2016 # a literal $MAINPID
    expect "$svc" ExecReload '/bin/kill -HUP $MAINPID'
    expect "$svc" Restart on-failure
    expect_words "$svc" WantedBy multi-user.target
    expect_words "$svc" Also "$s" "$ro" "$adm"

    # Exactly one CapabilityBoundingSet= line: several would be merged.
    n=$(grep -c '^CapabilityBoundingSet=' "$unitdir/$svc")
    if [ "$n" -eq 1 ]; then
        ok "$svc: one explicit CapabilityBoundingSet="
    else
        fail "$svc" "expected one CapabilityBoundingSet= line, found $n"
    fi
    for cap in CAP_SYS_MODULE CAP_SYS_TIME CAP_MAC_ADMIN CAP_MAC_OVERRIDE CAP_BPF; do
        if has_cap "$svc" "$cap"; then
            fail "$svc" "grants $cap, which no daemon needs"
        fi
    done

    # Every granted capability is explained in README.md, in the section
    # for this daemon.
    if [ -f "$readme" ]; then
        section=$(awk -v d="$d" '/^### /{on = ($2 == d)} on' "$readme")
        undocumented=""
        for cap in $(caps "$svc"); do
            grep -q -- "$cap" <<<"$section" || undocumented+=" $cap"
        done
        if [ -z "$undocumented" ]; then
            ok "$svc: every capability is explained in README.md"
        else
            fail "$svc" "README.md section '### $d' does not explain:$undocumented"
        fi
    else
        fail "$svc" "no $readme"
    fi
done

# Per-daemon hardening a reviewer would check.
q=virtqemud.service
if [ -f "$unitdir/$q" ]; then
    expect $q KillMode process
    expect $q LimitNOFILE 8192
    expect $q TasksMax 32768
    expect $q NoNewPrivileges yes
    expect $q PrivateTmp no
    expect $q MemoryDenyWriteExecute no
    expect $q SystemCallArchitectures native
    expect $q RestrictAddressFamilies "AF_UNIX AF_NETLINK AF_INET AF_INET6"
    expect_caps $q CAP_SETUID CAP_SETGID CAP_KILL CAP_NET_ADMIN
    expect_no_cap $q CAP_SYS_ADMIN
fi

p=virtproxyd.service
if [ -f "$unitdir/$p" ]; then
    if grep -qx 'CapabilityBoundingSet=' "$unitdir/$p"; then
        ok "$p: CapabilityBoundingSet= is empty"
    else
        fail $p "CapabilityBoundingSet= is not empty: '$(caps $p)'"
    fi
    expect $p KillMode control-group
    expect $p NoNewPrivileges yes
    expect $p ProtectSystem strict
    expect $p ProtectHome yes
    expect $p PrivateTmp yes
    expect $p PrivateNetwork yes
    expect $p RestrictAddressFamilies AF_UNIX
    expect $p SystemCallFilter @system-service
    if grep -q '^User=' "$unitdir/$p"; then
        fail $p "sets User=; it is meant to run as root with no capabilities"
    else
        ok "$p: runs as root"
    fi
fi

n=virtnetworkd.service
if [ -f "$unitdir/$n" ]; then
    expect $n KillMode process
    expect $n NoNewPrivileges yes
    expect $n ProtectSystem strict
    expect $n ProtectKernelTunables no
    expect $n PrivateNetwork no
    expect_caps $n CAP_NET_ADMIN CAP_NET_RAW CAP_NET_BIND_SERVICE CAP_SETUID CAP_SETGID CAP_KILL
    expect_no_cap $n CAP_SYS_ADMIN
    expect_words $n After nftables.service
fi

l=virtlxcd.service
if [ -f "$unitdir/$l" ]; then
    expect $l KillMode process
    expect $l NoNewPrivileges no
    expect $l RestrictNamespaces no
    expect_caps $l CAP_SYS_ADMIN CAP_SYS_CHROOT CAP_MKNOD CAP_NET_ADMIN CAP_SETPCAP
fi

st=virtstoraged.service
if [ -f "$unitdir/$st" ]; then
    # Mounts of fs/netfs pools must land in the host mount namespace, so
    # nothing may give the daemon a private one.
    ns=""
    for key in ReadWritePaths ReadOnlyPaths InaccessiblePaths PrivateTmp PrivateDevices \
               ProtectKernelTunables ProtectKernelModules ProtectKernelLogs \
               ProtectControlGroups PrivateMounts; do
        v=$(get "$key" "$unitdir/$st")
        [ -z "$v" ] || [ "$v" = no ] || ns+=" $key=$v"
    done
    for key in ProtectSystem ProtectHome; do
        v=$(get "$key" "$unitdir/$st")
        [ -z "$v" ] || [ "$v" = no ] || ns+=" $key=$v"
    done
    for key in ProtectProc ProcSubset; do
        v=$(get "$key" "$unitdir/$st")
        [ -z "$v" ] || [ "$v" = default ] || [ "$v" = all ] || ns+=" $key=$v"
    done
    if [ -z "$ns" ]; then
        ok "$st: no private mount namespace"
    else
        fail $st "would get a private mount namespace:$ns"
    fi
    expect $st KillMode control-group
    expect_caps $st CAP_SYS_ADMIN CAP_CHOWN CAP_FOWNER CAP_DAC_OVERRIDE
fi

x=virtxend.service
if [ -f "$unitdir/$x" ]; then
    expect $x KillMode process
    expect $x ConditionPathExists /proc/xen/capabilities
    expect virtxend.socket ConditionPathExists /proc/xen/capabilities
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
