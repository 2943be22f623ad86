#!/bin/bash
# test-cli-block.sh BUILDDIR: the block-job and snapshot commands of the
# modvirt CLI against a real proxy, real QEMU guests and Debian's virsh.
#
# Starts virtproxyd in embedded mode under a throw-away root (it starts
# virtqemud itself).  Every guest runs no OS on a chain
#     base <- snap1 <- snap2 <- active
# made by qemu-img (relative backing names), layer i holding byte
# 0x11*(i+1) at i MiB, written with qemu-io.  For each command:
#   - read-only commands and errors: modvirt and virsh against the same
#     domain print the same stdout, stderr and exit status;
#   - commands that change things run twice, virsh on one guest and
#     modvirt on a twin built the same way: the same stdout and exit
#     status (paths normalised), the progress lines of --verbose on stderr
#     in virsh's form, and the effect a user would check: the chain in
#     `qemu-img info --backing-chain`, domblklist, and the data each layer
#     wrote read back with `qemu-io -c 'read -P ...'` through the new top.
# Covered: help of each command, blockcommit (--shallow --delete --wait, --active --pivot --wait
# --verbose, --active --wait, --timeout, Ctrl-C), blockpull --wait (also
# --base), blockcopy --pivot --wait --verbose and --wait, blockjob --info
# --raw --bytes --bandwidth --abort, domblklist, domblkinfo,
# snapshot-create-as --disk-only (and --reuse-external with overlays made
# beforehand), snapshot-create, snapshot-list (--tree and filters),
# snapshot-info, -dumpxml, -current, -parent, snapshot-delete (--metadata,
# and merging),
# and errors (unknown disk, bad option values, unknown snapshot).
# Output is TAP; exit status 1 if any test failed.

set -u

BUILD=$(cd "${1:-build}" && pwd)
MODVIRT=$BUILD/tools/modvirt
PROXYD=$BUILD/proxyd/virtproxyd

# shellcheck source=tests/integration/clilib.sh
. "$(dirname "$0")/clilib.sh"

for tool in virsh qemu-img qemu-io qemu-system-x86_64; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "1..0 # SKIP $tool not installed"
        exit 0
    fi
done
if [ ! -x "$MODVIRT" ] || [ ! -x "$PROXYD" ]; then
    echo "1..0 # SKIP modvirt or virtproxyd not built in $BUILD"
    exit 0
fi

start_proxy modvirt-cli-block 300

mvc() {
    timeout 120 "$MODVIRT" -c "$URI" "$@"
}

vs() {
    timeout 120 virsh -c "$URI" "$@"
}

ACCEL=qemu
[ -r /dev/kvm ] && [ -w /dev/kvm ] && ACCEL=kvm

pattern() {
    printf '0x%02x' $((0x11 * ($1 + 1)))
}

# guest NAME [EXTRA LAYER]: a fresh chain in $ROOT/NAME and a running
# persistent domain NAME on it; EXTRA (e.g. 24M) more data at 12M in LAYER
# (0..3) keeps a throttled job busy.
guest() {
    local name=$1 extra=${2:-} layer=${3:-3} dir=$ROOT/$1 i prev=
    local layers=(base snap1 snap2 active)
    mkdir -p "$dir"
    for i in 0 1 2 3; do
        if [ $i -eq 0 ]; then
            qemu-img create -q -f qcow2 "$dir/base.qcow2" 64M || return 1
        else
            (cd "$dir" && qemu-img create -q -f qcow2 -F qcow2 -b "$prev" "${layers[$i]}.qcow2") ||
                return 1
        fi
        qemu-io -f qcow2 "$dir/${layers[$i]}.qcow2" -c "write -P $(pattern $i) ${i}M 64k" \
            >/dev/null || return 1
        if [ -n "$extra" ] && [ "$layer" -eq $i ]; then
            qemu-io -f qcow2 "$dir/${layers[$i]}.qcow2" -c "write -P $(pattern $i) 12M $extra" \
                >/dev/null || return 1
        fi
        prev=${layers[$i]}.qcow2
    done
    cat >"$dir/dom.xml" <<EOF
<domain type='$ACCEL'>
  <name>$name</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='$dir/active.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
  </devices>
</domain>
EOF
    vs define "$dir/dom.xml" >/dev/null && vs start "$name" >/dev/null
}

# twins TAG [EXTRA LAYER]: guests v-TAG (for virsh) and m-TAG (for modvirt).
twins() {
    local tag=$1
    shift
    if guest "v-$tag" "$@" && guest "m-$tag" "$@"; then
        return 0
    fi
    not_ok "guests v-$tag and m-$tag start" "$(tail -n 5 "$ROOT/log/virtqemud.log" 2>/dev/null)"
    return 1
}

# run_pair TAG ARGS...: ARGS with DOM/DIR standing for each twin's name and
# directory, by virsh on v-TAG and modvirt on m-TAG; stdout+status in
# $v_out/$m_out (normalised), stderr in $v_err/$m_err.
run_pair() {
    local tag=$1 prog dom out err
    shift
    for prog in v m; do
        dom=$prog-$tag
        local -a argv=()
        local a
        for a in "$@"; do
            a=${a//DOM/$dom}
            argv+=("${a//DIR/$ROOT/$dom}")
        done
        if [ $prog == v ]; then
            out=$(vs "${argv[@]}" 2>"$ROOT/err"; echo "rc=$?")
        else
            out=$(mvc "${argv[@]}" 2>"$ROOT/err"; echo "rc=$?")
        fi
        err=$(cat "$ROOT/err")
        out=${out//$ROOT\/$dom/DIR}
        out=${out//$dom/DOM}
        err=${err//$ROOT\/$dom/DIR}
        err=${err//$dom/DOM}
        printf -v "${prog}_out" '%s' "$out"
        printf -v "${prog}_err" '%s' "$err"
    done
}

# pair DESC TAG ARGS...: run_pair, and stdout, stderr and status the same.
pair() {
    local desc=$1
    shift
    run_pair "$@"
    same "$desc: stdout and status as virsh's" "$v_out" "$m_out"
    same "$desc: stderr as virsh's" "$v_err" "$m_err"
}

# progress_ok DESC LABEL STDERR: only virsh's "\rLABEL: [ NN %]" lines, the last at 100 %.
progress_ok() {
    local re=$'^(\r'"$2"$': \\[[ 0-9]{2}[0-9] %\\])*\r'"$2"$': \\[100 %\\]$'
    if [[ $3 =~ $re ]]; then
        ok "$1"
    else
        not_ok "$1" "stderr: $(printf '%s' "$3" | cat -A)"
    fi
}

# as_virsh DESC ARGS...: modvirt and virsh on the same domain print the
# same stdout, stderr and status.
as_virsh() {
    local desc=$1
    shift
    same "$desc" "$(vs "$@" 2>&1; echo "rc=$?")" "$(mvc "$@" 2>&1; echo "rc=$?")"
}

# chain TOP: the images of TOP's chain by qemu-img, top first, one per line.
chain() {
    qemu-img info -U --backing-chain --output=json "$1" 2>&1 |
        python3 -c 'import json, sys; [print(i["filename"]) for i in json.load(sys.stdin)]' 2>&1
}

# reads_ok TOP LAYERS...: the data of each layer index reads back through TOP.
reads_ok() {
    local top=$1 i
    shift
    local -a cmds=()
    for i in "$@"; do
        cmds+=(-c "read -P $(pattern "$i") ${i}M 64k")
    done
    local out
    out=$(qemu-io -U -r -f qcow2 "$top" "${cmds[@]}" 2>&1)
    [ $? -eq 0 ] && [[ $out != *"failed"* ]] && [[ $out != *"rror"* ]]
}

# layer_has IMAGE LAYERS...: IMAGE itself (its backing file left out)
# holds the data of each layer index.  Read once its guest is stopped:
# QEMU keeps some of a running job's metadata in memory.
layer_has() {
    local image=$1 i out
    shift
    local -a cmds=()
    for i in "$@"; do
        cmds+=(-c "read -P $(pattern "$i") ${i}M 64k")
    done
    out=$(qemu-io -r -U "${cmds[@]}" \
          "json:{\"driver\":\"qcow2\",\"backing\":null,\"file\":{\"driver\":\"file\",\"filename\":\"$image\"}}" 2>&1)
    [ $? -eq 0 ] && [[ $out != *"failed"* ]] && [[ $out != *"rror"* ]]
}

# data_ok DESC CHECK ARGS...: a data check as a test line.
data_ok() {
    local desc=$1
    shift
    if "$@"; then ok "$desc"; else not_ok "$desc" "failed: $*"; fi
}

# stop DOMAIN: destroy the guest (QEMU writes out what it kept).
stop() {
    vs destroy "$1" >/dev/null 2>&1
}

# source_of DOMAIN: vda's source in domblklist.
source_of() {
    vs -q domblklist "$1" | awk '$1 == "vda" { print $2 }'
}

# job_gone DOMAIN: no block job on vda (waits up to 10 s).
job_gone() {
    local i
    for i in $(seq 50); do
        [ -z "$(vs -q blockjob "$1" vda --raw 2>/dev/null)" ] && return 0
        sleep 0.2
    done
    return 1
}

# ------------------------------------------------------------ help

for cmd in blockcommit blockpull blockcopy blockjob domblklist domblkinfo snapshot-create \
           snapshot-create-as snapshot-list snapshot-info snapshot-dumpxml snapshot-current \
           snapshot-parent snapshot-delete; do
    as_virsh "modvirt help $cmd prints virsh's options" help "$cmd"
done

# ------------------------------------------------------------ read-only commands, errors

if twins ro; then
    D=m-ro
    for cmd in "domblklist $D" "domblklist $D --details" "domblklist $D --inactive" \
               "-q domblklist $D" "domblkinfo $D vda" "domblkinfo $D --all" \
               "domblkinfo $D --all --human" "domblkinfo $D vda --human" \
               "blockjob $D vda" "blockjob $D vda --info" "blockjob $D vda --raw"; do
        # shellcheck disable=SC2086
        as_virsh "modvirt $cmd prints what virsh prints" $cmd
    done
    contains "domblklist names the top image" "$(mvc domblklist "$D")" "vda      $ROOT/$D/active.qcow2"
    contains "blockjob --info without a job says so" "$(mvc blockjob "$D" vda --info)" \
        "No current block job for vda"

    # errors: same words, same status, nothing started
    for cmd in "domblkinfo $D" "domblkinfo $D vdz" "domblkinfo $D vda --all" \
               "blockcommit $D vdz --wait" "blockcommit $D vdz --active --pivot" \
               "blockpull $D vdz --wait" "blockcopy $D vdz --dest $ROOT/nowhere.qcow2 --wait" \
               "blockjob $D vdz --abort" "blockjob $D vda --abort" "blockjob $D vda --bandwidth 3" \
               "blockcommit nosuch vda" "blockcommit $D" \
               "blockcommit $D vda --bandwidth 10x" "blockcommit $D vda --bandwidth 99999E" \
               "blockcommit $D vda --bandwidth 99999999999999999999" "blockcommit $D vda --bandwidth -1" \
               "blockcommit $D vda --timeout 0" "blockcommit $D vda --timeout abc" \
               "blockcommit $D vda --timeout -1" "blockcommit $D vda --verbose" \
               "blockcommit $D vda --async" "blockcommit $D vda --pivot --keep-overlay" \
               "blockcommit $D vda --base" "blockcommit $D vda --bogus" \
               "blockpull $D vda --verbose" "blockpull $D vda --async" \
               "blockcopy $D vda" "blockcopy $D vda --dest /x --xml /y" \
               "blockcopy $D vda --dest /x --pivot --finish" "blockcopy $D vda --dest /x --verbose" \
               "blockcopy $D vda --dest /x --granularity abc" "blockcopy $D vda --dest /x --raw=qcow2" \
               "blockcopy $D vda --dest $ROOT/x.img --format qcow2 --print-xml" \
               "blockcopy $D vda --dest $ROOT/x.img --raw --blockdev --print-xml" \
               "blockjob $D vda --info --abort" "blockjob $D vda --raw --pivot" \
               "blockjob $D vda --bytes --async" "blockjob $D vda --info --bandwidth 1"; do
        # shellcheck disable=SC2086
        as_virsh "modvirt $cmd: same output and status as virsh" $cmd
    done
    same "after the refused commands the chain is untouched" \
        "$(printf '%s\n' "$ROOT/$D/active.qcow2" "$ROOT/$D/snap2.qcow2" "$ROOT/$D/snap1.qcow2" \
           "$ROOT/$D/base.qcow2")" "$(chain "$ROOT/$D/active.qcow2")"
    out=$(mvc blockcommit "$D" vdz --wait 2>&1)
    rc=$?
    same "an unknown disk: exit 1 and the daemon's words" \
        "error: invalid argument: disk 'vdz' not found in domain|1" "$(printf '%s' "$out" | head -n 1)|$rc"
fi

# ------------------------------------------------------------ blockcommit

if twins commit; then
    D=m-commit
    pair "blockcommit --top snap2 --shallow --delete --wait" commit \
        blockcommit DOM vda --top DIR/snap2.qcow2 --shallow --delete --wait
    same "blockcommit --wait prints Commit complete" $'\nCommit complete\nrc=0' "$m_out"
    same "the committed layer left the chain" \
        "$(printf '%s\n' "$ROOT/$D/active.qcow2" "$ROOT/$D/snap1.qcow2" "$ROOT/$D/base.qcow2")" \
        "$(chain "$ROOT/$D/active.qcow2")"
    if [ -e "$ROOT/$D/snap2.qcow2" ]; then not_ok "--delete removed snap2.qcow2"; else ok "--delete removed snap2.qcow2"; fi
    as_virsh "domblklist after the commit prints what virsh prints" domblklist "$D"
    stop "$D"
    data_ok "snap1 now holds its own and snap2's data" layer_has "$ROOT/$D/snap1.qcow2" 1 2
    data_ok "the guest still reads every layer" reads_ok "$ROOT/$D/active.qcow2" 0 1 2 3
fi

if twins active; then
    D=m-active
    run_pair active blockcommit DOM vda --active --pivot --wait --verbose
    same "blockcommit --active --pivot --wait --verbose: stdout and status as virsh's" "$v_out" "$m_out"
    same "blockcommit --active --pivot prints Successfully pivoted" $'\nSuccessfully pivoted\nrc=0' "$m_out"
    progress_ok "blockcommit --verbose progress as virsh's, ending at 100 %" "Block commit" "$m_err"
    progress_ok "(virsh's own progress has that form too)" "Block commit" "$v_err"
    same "after the pivot domblklist shows the base" "$ROOT/$D/base.qcow2" "$(source_of "$D")"
    as_virsh "domblklist after the pivot prints what virsh prints" domblklist "$D"
    same "after the pivot the base stands alone" "$ROOT/$D/base.qcow2" "$(chain "$ROOT/$D/base.qcow2")"
    if job_gone "$D"; then ok "no job is left after the pivot"; else not_ok "no job is left after the pivot"; fi
    stop "$D"
    data_ok "the base holds every layer's data" layer_has "$ROOT/$D/base.qcow2" 0 1 2 3
fi

# ------------------------------------------------------------ blockjob on a job in its ready phase

if twins job; then
    D=m-job
    pair "blockcommit --active --wait (ends in the synchronized phase)" job \
        blockcommit DOM vda --active --wait
    same "blockcommit --active --wait says so" $'\nNow in synchronized phase\nrc=0' "$m_out"
    for cmd in "blockjob $D vda" "blockjob $D vda --info" "blockjob $D vda --raw" \
               "blockjob $D vda --raw --bytes" "blockjob $D vda --bytes" "-q blockjob $D vda"; do
        # shellcheck disable=SC2086
        as_virsh "modvirt $cmd prints what virsh prints (ready job)" $cmd
    done
    out=$(mvc blockjob "$D" vda --info 2>&1)
    contains "blockjob --info names the job" "$out" $'\rActive Block Commit: [100 %]'
    out=$(mvc blockjob "$D" vda --bandwidth 5 2>&1; echo "rc=$?")
    same "blockjob --bandwidth 5 succeeds silently" $'\nrc=0' "$out"
    contains "virsh sees the new speed" "$(vs blockjob "$D" vda --raw)" " bandwidth=5"
    contains "blockjob --info prints it as virsh does" "$(mvc blockjob "$D" vda --info 2>/dev/null)" \
        "    Bandwidth limit: 5242880 bytes/s (5.000 MiB/s)"
    mvc blockjob "$D" vda --bandwidth 3M --bytes >/dev/null 2>&1
    contains "blockjob --bandwidth 3M --bytes sets 3 MiB/s" "$(vs blockjob "$D" vda --raw --bytes)" \
        " bandwidth=3145728"
    as_virsh "blockjob --info with a speed prints what virsh prints" blockjob "$D" vda --info
    out=$(mvc blockjob "$D" vda --abort 2>&1; echo "rc=$?")
    same "blockjob --abort succeeds silently" $'\nrc=0' "$out"
    if job_gone "$D"; then ok "the aborted job is gone"; else not_ok "the aborted job is gone"; fi
    same "an aborted active commit keeps the top" "$ROOT/$D/active.qcow2" "$(source_of "$D")"
    same "and its whole chain" "4" "$(chain "$ROOT/$D/active.qcow2" | wc -l)"
    stop "$D"
    data_ok "the guest reads every layer after the abort" reads_ok "$ROOT/$D/active.qcow2" 0 1 2 3
fi

# ------------------------------------------------------------ --timeout and Ctrl-C abort the job

if twins slow 24M 2; then
    D=m-slow
    run_pair slow blockcommit DOM vda --top DIR/snap2.qcow2 --bandwidth 1 --timeout 1 --verbose
    same "blockcommit --timeout: stdout and status as virsh's" "$v_out" "$m_out"
    same "blockcommit --timeout aborts the commit" $'\nCommit aborted\nrc=1' "$m_out"
    re=$'^(\rBlock commit: \\[[ 0-9][ 0-9][0-9] %\\])+$'
    if [[ $m_err =~ $re && $m_err != *"[100 %]"* ]]; then
        ok "the progress of an aborted commit never reaches 100 %"
    else
        not_ok "the progress of an aborted commit never reaches 100 %" "$(printf '%s' "$m_err" | cat -A)"
    fi
    if job_gone "$D"; then ok "the timed out job is gone"; else not_ok "the timed out job is gone"; fi
    same "a timed out commit leaves the chain as it was" "4" "$(chain "$ROOT/$D/active.qcow2" | wc -l)"

    for prog in v m; do
        if [ $prog == v ]; then
            timeout 60 virsh -c "$URI" blockcommit "$prog-slow" vda --top "$ROOT/$prog-slow/snap2.qcow2" \
                --bandwidth 1 --wait >"$ROOT/int.$prog" 2>&1 &
        else
            timeout 60 "$MODVIRT" -c "$URI" blockcommit "$prog-slow" vda --top "$ROOT/$prog-slow/snap2.qcow2" \
                --bandwidth 1 --wait >"$ROOT/int.$prog" 2>&1 &
        fi
        pid=$!
        sleep 1.5
        # timeout(1) passes the signal on to the client
        kill -INT $pid
        wait $pid
        echo "rc=$?" >>"$ROOT/int.$prog"
    done
    same "Ctrl-C during blockcommit --wait: as virsh" "$(cat "$ROOT/int.v")" "$(cat "$ROOT/int.m")"
    same "Ctrl-C aborts the commit" $'\nCommit aborted\nrc=1' "$(cat "$ROOT/int.m")"
    if job_gone "$D"; then ok "the interrupted job is gone"; else not_ok "the interrupted job is gone"; fi
    same "an interrupted commit leaves the chain as it was" "4" "$(chain "$ROOT/$D/active.qcow2" | wc -l)"
    stop "$D"
    data_ok "after the aborted commits the guest reads every layer" reads_ok "$ROOT/$D/active.qcow2" 0 1 2 3
fi

# ------------------------------------------------------------ blockpull

if twins pull; then
    D=m-pull
    pair "blockpull --base snap1 --wait" pull blockpull DOM vda --base DIR/snap1.qcow2 --wait
    same "blockpull --wait prints Pull complete" $'\nPull complete\nrc=0' "$m_out"
    same "a pull down to snap1 drops snap2 from the chain" \
        "$(printf '%s\n' "$ROOT/$D/active.qcow2" "$ROOT/$D/snap1.qcow2" "$ROOT/$D/base.qcow2")" \
        "$(chain "$ROOT/$D/active.qcow2")"
    run_pair pull blockpull DOM vda --wait --verbose
    same "blockpull --wait --verbose: stdout and status as virsh's" "$v_out" "$m_out"
    progress_ok "blockpull --verbose progress as virsh's" "Block Pull" "$m_err"
    same "a full pull leaves the top alone" "$ROOT/$D/active.qcow2" "$(chain "$ROOT/$D/active.qcow2")"
    as_virsh "domblklist after the pull prints what virsh prints" domblklist "$D"
    stop "$D"
    data_ok "the pulled top holds every layer's data" layer_has "$ROOT/$D/active.qcow2" 0 1 2 3
fi

# ------------------------------------------------------------ blockcopy

if twins copy; then
    D=m-copy
    run_pair copy blockcopy DOM vda --dest DIR/copy.qcow2 --pivot --wait --verbose
    same "blockcopy --pivot --wait --verbose: stdout and status as virsh's" "$v_out" "$m_out"
    same "blockcopy --pivot prints Successfully pivoted" $'\nSuccessfully pivoted\nrc=0' "$m_out"
    progress_ok "blockcopy --verbose progress as virsh's" "Block Copy" "$m_err"
    same "after the pivot the guest runs on the copy" "$ROOT/$D/copy.qcow2" "$(source_of "$D")"
    same "a full copy has no backing file" "$ROOT/$D/copy.qcow2" "$(chain "$ROOT/$D/copy.qcow2")"
    as_virsh "domblklist --details after the copy prints what virsh prints" domblklist "$D" --details
    stop "$D"
    data_ok "the copy holds every layer's data" layer_has "$ROOT/$D/copy.qcow2" 0 1 2 3
fi

if twins mirror; then
    D=m-mirror
    pair "blockcopy --shallow --wait (mirroring)" mirror \
        blockcopy DOM vda --dest DIR/shallow.qcow2 --shallow --format qcow2 --wait
    same "blockcopy --wait stops in the mirroring phase" $'\nNow in mirroring phase\nrc=0' "$m_out"
    contains "blockjob --info shows the copy job" "$(mvc blockjob "$D" vda --info 2>&1)" \
        $'\rBlock Copy: [100 %]'
    out=$(mvc blockjob "$D" vda --pivot 2>&1; echo "rc=$?")
    same "blockjob --pivot ends the copy" $'\nrc=0' "$out"
    same "after blockjob --pivot the guest runs on the shallow copy" "$ROOT/$D/shallow.qcow2" "$(source_of "$D")"
    same "the shallow copy sits on the old backing chain" \
        "$(printf '%s\n' "$ROOT/$D/shallow.qcow2" "$ROOT/$D/snap2.qcow2" "$ROOT/$D/snap1.qcow2" \
           "$ROOT/$D/base.qcow2")" "$(chain "$ROOT/$D/shallow.qcow2")"
    stop "$D"
    data_ok "the shallow copy holds the top layer's data" layer_has "$ROOT/$D/shallow.qcow2" 3
    data_ok "and reads every layer" reads_ok "$ROOT/$D/shallow.qcow2" 0 1 2 3
fi

# ------------------------------------------------------------ snapshots

if twins snap; then
    D=m-snap
    pair "snapshot-create-as --disk-only" snap snapshot-create-as DOM s1 "first snapshot" --disk-only
    same "snapshot-create-as prints virsh's line" $'Domain snapshot s1 created\nrc=0' "$m_out"
    same "the new overlay is the default name, top of the disk" "$ROOT/$D/active.s1" "$(source_of "$D")"
    same "the overlay's chain is the old one underneath" \
        "$(printf '%s\n' "$ROOT/$D/active.s1" "$ROOT/$D/active.qcow2" "$ROOT/$D/snap2.qcow2" \
           "$ROOT/$D/snap1.qcow2" "$ROOT/$D/base.qcow2")" "$(chain "$ROOT/$D/active.s1")"

    # --reuse-external: overlays made beforehand by qemu-img
    for prog in v m; do
        (cd "$ROOT/$prog-snap" && qemu-img create -q -f qcow2 -F qcow2 -b active.s1 ov2.qcow2)
    done
    pair "snapshot-create-as --reuse-external --diskspec" snap \
        snapshot-create-as DOM s2 --disk-only --reuse-external --diskspec vda,snapshot=external,file=DIR/ov2.qcow2
    same "the reused overlay is the top" "$ROOT/$D/ov2.qcow2" "$(source_of "$D")"
    same "the reused overlay keeps its backing file" "active.s1" \
        "$(qemu-img info -U --output=json "$ROOT/$D/ov2.qcow2" |
           python3 -c 'import json, sys; print(json.load(sys.stdin)["backing-filename"])')"
    pair "snapshot-create-as --no-metadata --atomic" snap snapshot-create-as DOM s3 --disk-only --no-metadata --atomic
    printf '<domainsnapshot><name>s4</name></domainsnapshot>\n' >"$ROOT/s4.xml"
    pair "snapshot-create from an XML file" snap snapshot-create DOM "$ROOT/s4.xml" --disk-only
    same "snapshot-create names the file" $'Domain snapshot s4 created from \''"$ROOT/s4.xml"$'\'\nrc=0' "$m_out"
    out=$(mvc snapshot-current "$D" --name; echo "rc=$?")
    same "snapshot-current --name is the last one" $'s4\nrc=0' "$out"

    for cmd in "snapshot-list $D" "snapshot-list $D --tree" "snapshot-list $D --parent" \
               "snapshot-list $D --name" "snapshot-list $D --roots" "snapshot-list $D --leaves" \
               "snapshot-list $D --no-leaves" "snapshot-list $D --from s1" \
               "snapshot-list $D --from s1 --descendants --name" "snapshot-list $D --current --tree" \
               "snapshot-list $D --disk-only --external" "snapshot-list $D --internal" \
               "snapshot-list $D --metadata" "-q snapshot-list $D" "snapshot-list $D --tree --name" \
               "snapshot-info $D s1" "snapshot-info $D --current" "snapshot-info $D" \
               "snapshot-info $D nosuch" "snapshot-info $D s1 --current" \
               "snapshot-dumpxml $D s2" "snapshot-dumpxml $D s2 --xpath //disk --wrap" \
               "snapshot-dumpxml $D nosuch" "snapshot-current $D" "snapshot-current $D --name" \
               "snapshot-parent $D s2" "snapshot-parent $D s1" "snapshot-parent $D --current" \
               "snapshot-delete $D nosuch" "snapshot-delete $D" "snapshot-list nosuch" \
               "snapshot-create-as $D --diskspec vda,bogus=1" \
               "snapshot-create-as $D --diskspec vda,stype=nbd" \
               "snapshot-create-as $D x y --diskspec vda,snapshot=external,file=/a,,b --print-xml" \
               "snapshot-create-as $D --memspec bad --print-xml" "snapshot-create $D $ROOT/nosuch.xml"; do
        # shellcheck disable=SC2086
        as_virsh "modvirt $cmd prints what virsh prints" $cmd
    done
    same "snapshot-list --tree draws the chain of snapshots" "s1
  |
  +- s2
      |
      +- s4
        " "$(mvc snapshot-list "$D" --tree)"

    pair "snapshot-delete --metadata" snap snapshot-delete DOM s1 --metadata
    same "snapshot-delete --metadata prints virsh's line" $'Domain snapshot s1 deleted\n\nrc=0' "$m_out"
    same "the deleted snapshot is not listed, the others are" $'s2\ns4' "$(mvc -q snapshot-list "$D" --name)"
    same "its child lost its parent" "error: snapshot 's2' has no parent" \
        "$(mvc snapshot-parent "$D" s2 2>&1 >/dev/null | head -n 1)"
    as_virsh "snapshot-list --tree after the delete prints what virsh prints" snapshot-list "$D" --tree
    same "--metadata leaves the images and chain in place" "6" "$(chain "$ROOT/$D/ov2.qcow2" | wc -l)"

    # a real delete: the daemon merges the snapshot's image out of the chain
    before=$(chain "$ROOT/$D/$(basename "$(source_of "$D")")" | wc -l)
    pair "snapshot-delete (merging)" snap snapshot-delete DOM s2
    same "snapshot-delete prints virsh's line" $'Domain snapshot s2 deleted\n\nrc=0' "$m_out"
    same "the deleted snapshot is gone from the list" "s4" "$(mvc -q snapshot-list "$D" --name)"
    top_m=$(source_of "$D")
    top_v=$(source_of v-snap)
    same "the chain lost one image" "$((before - 1))" "$(chain "$top_m" | wc -l)"
    same "the chain is the one virsh's delete left" "$(chain "$top_v" | sed "s#$ROOT/v-snap/##")" \
        "$(chain "$top_m" | sed "s#$ROOT/$D/##")"
    stop "$D"
    data_ok "data written before the snapshots reads through the top after the merge" \
        reads_ok "$top_m" 0 1 2 3
fi

finish
