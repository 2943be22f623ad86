#!/bin/bash
# test-guest.sh: boot the modvirt test guest with plain QEMU (no modvirt) and
# check what the integration tests rely on.  Prints TAP.
#
#   build       build-guest.sh builds the guest, and a second run is a no-op
#   boot        READY on the serial pty within 20 s (KVM) or 40 s (TCG)
#   powerdown   QMP system_powerdown: SHUTDOWN with guest=true within 10 s,
#               QEMU exits
#   writer      modvirt.writer=1: the acknowledged records verify, also after
#               QEMU is killed in the middle of the writing
#   verifier    a flipped byte, a zeroed record, and a record never written
#               are each reported
#   reboot      modvirt.reboot=1: one guest reset (RESET, guest=true), then
#               READY, and no second reboot
#
# The accelerator is guestlib.py's choice (KVM when it runs guests at
# hardware speed, else TCG; MODVIRT_GUEST_ACCEL=kvm|tcg overrides).
# Downloads (once) need apt access to Debian's repositories; see
# build-guest.sh for the cache directory.

set -u

here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3
[ -x "$py" ] || py=python3
lib() {
    "$py" "$here/guestlib.py" "$@"
}

n=0
failed=0
# tap STATUS NAME [DETAIL]: one TAP line for a check that exited with STATUS;
# on failure DETAIL follows as comments.
tap() {
    n=$((n + 1))
    if [ "$1" = 0 ]; then
        echo "ok $n - $2"
        return
    fi
    failed=$((failed + 1))
    echo "not ok $n - $2"
    [ -z "${3:-}" ] || printf '%s\n' "$3" | head -n 30 | sed 's/^/#   /'
}
finish() {
    echo "1..$n"
    [ $failed = 0 ]
    exit $?
}
now_ms() {
    echo $(($(date +%s%N) / 1000000))
}

for tool in qemu-system-x86_64 qemu-img qemu-io; do
    if ! command -v $tool >/dev/null; then
        echo "1..0 # SKIP $tool not installed"
        exit 0
    fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/modvirt-guest-test.XXXXXX")
cleanup() {
    local f pid
    for f in "$work"/*/qemu.pid; do
        [ -f "$f" ] || continue
        pid=$(cat "$f")
        # Only a QEMU this script started: the pid file is ours, check the name.
        if [ "$(cat /proc/"$pid"/comm 2>/dev/null)" = qemu-system-x86 ]; then
            kill -KILL "$pid" 2>/dev/null
        fi
    done
    rm -rf "$work"
}
trap cleanup EXIT

# ---------------------------------------------------------------- build

t0=$(now_ms)
out=$("$here/build-guest.sh" 2>&1) && [ -s "$here/out/vmlinuz" ] && [ -s "$here/out/initramfs.gz" ]
status=$?
echo "# $out ($(($(now_ms) - t0)) ms)"
tap $status "build-guest.sh builds out/vmlinuz and out/initramfs.gz" "$out"
[ $status = 0 ] || finish
t0=$(now_ms)
out=$("$here/build-guest.sh" 2>&1)
took=$(($(now_ms) - t0))
[[ $out == *"up to date"* ]] && [ $took -lt 5000 ]
tap $? "a second build-guest.sh run does nothing" "took ${took} ms: $out"

kernel=$here/out/vmlinuz
initrd=$here/out/initramfs.gz
accel=$(lib accel)
ready_timeout=$(lib boot-timeout)
echo "# accelerator: $accel; initramfs $(stat -c %s "$initrd") bytes"

# start_qemu NAME APPEND [DISK]: a paused QEMU in $work/NAME with its QMP
# socket at qmp.sock, the serial port on a pty that is also logged to
# serial.log, and DISK (qcow2) as a virtio disk.
start_qemu() {
    local dir=$work/$1 append=$2 disk=${3:-}
    local args=(-accel "$accel" -machine pc -m 256 -nodefaults -no-user-config -display none -S
        -kernel "$kernel" -initrd "$initrd" -append "$append"
        -chardev "pty,id=serial0,logfile=$dir/serial.log" -serial chardev:serial0
        -qmp "unix:$dir/qmp.sock,server=on,wait=off"
        -daemonize -pidfile "$dir/qemu.pid")
    if [ -n "$disk" ]; then
        args+=(-drive "file=$disk,if=none,id=disk0,format=qcow2,cache=none"
            -device virtio-blk-pci,drive=disk0)
    fi
    mkdir -p "$dir"
    qemu-system-x86_64 "${args[@]}" >"$dir/qemu.err" 2>&1
}

# pty_of NAME: the pty of the serial port of QEMU NAME.
pty_of() {
    lib qmp "$work/$1/qmp.sock" query-chardev |
        "$py" -c 'import json,sys
for c in json.load(sys.stdin):
    if c["label"] == "serial0": print(c["filename"].split(":", 1)[1])'
}

# qemu_gone NAME SECONDS: true once QEMU NAME has exited, within SECONDS.
qemu_gone() {
    local pid waited=0
    pid=$(cat "$work/$1/qemu.pid" 2>/dev/null) || return 0
    while [ -d /proc/"$pid" ] && [ "$(cat /proc/"$pid"/comm 2>/dev/null)" = qemu-system-x86 ]; do
        [ $waited -lt $(($2 * 10)) ] || return 1
        sleep 0.1
        waited=$((waited + 1))
    done
}

# kill_qemu NAME: SIGKILL QEMU NAME.
kill_qemu() {
    local pid
    pid=$(cat "$work/$1/qemu.pid")
    [ "$(cat /proc/"$pid"/comm 2>/dev/null)" != qemu-system-x86 ] || kill -KILL "$pid"
    qemu_gone "$1" 10
}

serial_log() {
    tr -d '\r' <"$work/$1/serial.log" 2>/dev/null
}

# ---------------------------------------------------------------- boot, power button

# Each step below first needs QEMU to have started.
started() {
    tap $? "QEMU starts ($1)" "$(cat "$work/$1/qemu.err")"
}

if start_qemu boot "$(lib cmdline)"; then
    started boot
    pty=$(pty_of boot)
    t0=$(now_ms)
    line=$(lib wait-line "$pty" '^MODVIRT-GUEST-(READY|UP)( |$)' $ready_timeout \
        --resume "$work/boot/qmp.sock" 2>&1)
    status=$?
    echo "# $line after $(($(now_ms) - t0)) ms"
    [ $status = 0 ] && [ "$line" = MODVIRT-GUEST-READY ]
    tap $? "the guest boots and says MODVIRT-GUEST-READY on the serial pty" \
        "$line"$'\n'"$(serial_log boot | tail -n 20)"

    line=$(lib wait-line "$work/boot/serial.log" '^MODVIRT-GUEST-UP 1$' 5 2>&1)
    tap $? "the guest repeats that it is up (heartbeat)" "$line"

    t0=$(now_ms)
    out=$(lib qmp "$work/boot/qmp.sock" system_powerdown --wait-event SHUTDOWN --timeout 10 2>&1) &&
        [[ $out == *'"guest": true'* ]] && [[ $out == *'"reason": "guest-shutdown"'* ]]
    tap $? "system_powerdown: the guest powers off, SHUTDOWN with guest=true" \
        "$out"$'\n'"$(serial_log boot | tail -n 10)"
    echo "# SHUTDOWN after $(($(now_ms) - t0)) ms"
    qemu_gone boot 10 && serial_log boot | grep -qx MODVIRT-GUEST-POWEROFF
    tap $? "QEMU exits after the guest said MODVIRT-GUEST-POWEROFF" "$(serial_log boot | tail -n 10)"
else
    started boot
fi

# ---------------------------------------------------------------- writer

records=300
disk=$work/writer.qcow2
qemu-img create -q -f qcow2 "$disk" 16M
if start_qemu writer "$(lib cmdline --writer --count $records --seed 42)" "$disk"; then
    started writer
    t0=$(now_ms)
    lib qmp "$work/writer/qmp.sock" cont >/dev/null
    line=$(lib wait-line "$work/writer/serial.log" '^MODVIRT-WRITER-(DONE|ERROR)' 180 2>&1) &&
        [ "$line" = "MODVIRT-WRITER-DONE $records" ]
    tap $? "the writer writes $records records and says so" \
        "$line"$'\n'"$(serial_log writer | tail -n 10)"
    echo "# $line $(($(now_ms) - t0)) ms after the start"
    lib qmp "$work/writer/qmp.sock" quit >/dev/null 2>&1
    qemu_gone writer 10
    acked=$(lib acked "$work/writer/serial.log" 2>&1)
    [ "$acked" = $records ]
    tap $? "MODVIRT-WROTE 0 .. $((records - 1)) each appear once, in order" "$acked"
    out=$(lib verify "$disk" $records --seed 42 2>&1)
    tap $? "the verifier accepts the $records records in the qcow2 image" "$out"
    ! out=$(lib verify "$disk" $records --seed 43 2>&1)
    tap $? "the verifier rejects the records under another seed" "$out"
else
    started writer
fi

# verify_rejects NAME QEMU-IO-COMMAND EXPECTED-TEXT [ACKED]: corrupt a copy
# of the writer's image with QEMU-IO-COMMAND; the verifier must say so.
verify_rejects() {
    local copy=$work/corrupt.qcow2 out
    cp "$disk" "$copy"
    qemu-io -f qcow2 -c "$2" "$copy" >/dev/null
    ! out=$(lib verify "$copy" "${4:-$records}" --seed 42 2>&1) && [[ $out == *"$3"* ]]
    tap $? "the verifier rejects $1: $3" "$out"
}
verify_rejects "one flipped byte in record 7" "write -P 0x58 $((7 * 4096 + 100)) 1" \
    "record 7 (offset 28672): differs from the expected record at byte 100"
verify_rejects "a zeroed record 3" "write -z $((3 * 4096)) 4096" "record 3 (offset 12288): missing"
verify_rejects "record 0 with its first byte zeroed" "write -P 0 0 1" \
    "record 0 (offset 0): no record header"
verify_rejects "an acknowledged record that was never written" "read 0 512" \
    "record $records (offset $((records * 4096))): missing" $((records + 1))

# The writer is killed with QEMU mid-run: every acknowledged record must be
# on disk (O_DIRECT + flush before MODVIRT-WROTE).
disk2=$work/crash.qcow2
qemu-img create -q -f qcow2 "$disk2" 16M
if start_qemu crash "$(lib cmdline --writer)" "$disk2"; then
    started crash
    lib qmp "$work/crash/qmp.sock" cont >/dev/null
    line=$(lib wait-line "$work/crash/serial.log" '^MODVIRT-WROTE 100$' 180 2>&1)
    tap $? "the writer writes until QEMU is killed" "$line"
    kill_qemu crash
    acked=$(lib acked "$work/crash/serial.log")
    out=$(lib verify "$disk2" "$acked" 2>&1) && [ "$acked" -gt 100 ]
    tap $? "after QEMU is killed mid-writing, all $acked acknowledged records verify" "$out"
else
    started crash
fi

# ---------------------------------------------------------------- reboot

if start_qemu reboot "$(lib cmdline --reboot)"; then
    started reboot
    out=$(lib qmp "$work/reboot/qmp.sock" cont --wait-event RESET --timeout $ready_timeout 2>&1) &&
        [[ $out == *'"guest": true'* ]] && [[ $out == *'"reason": "guest-reset"'* ]]
    tap $? "modvirt.reboot=1: the guest resets itself (RESET with guest=true)" \
        "$out"$'\n'"$(serial_log reboot | tail -n 10)"
    line=$(lib wait-line "$work/reboot/serial.log" '^MODVIRT-GUEST-READY$' $ready_timeout 2>&1) &&
        line=$(lib wait-line "$work/reboot/serial.log" '^MODVIRT-GUEST-UP 2$' 10 2>&1) &&
        [ "$(serial_log reboot | grep -cx MODVIRT-GUEST-REBOOTING)" = 1 ]
    tap $? "after one MODVIRT-GUEST-REBOOTING the guest comes up and stays up" \
        "$line"$'\n'"$(serial_log reboot | tail -n 10)"
    lib qmp "$work/reboot/qmp.sock" quit >/dev/null 2>&1
else
    started reboot
fi

finish
