#!/bin/bash
# Install what is needed, build, and run every test.  Ends with the line
# "N passed, M failed"; exits non-zero if anything failed.
#
# 1. the normal build (./build): every test;
# 2. the sanitizer build (./build-asan, AddressSanitizer + UBSan + leak
#    checks): the suites 'unit' and 'fuzz' (docs/testing-sanitizers.md);
# 3. after each, a check that the tests left no process behind (QEMU,
#    qemu-img, dnsmasq, the daemons, systemd-socket-activate): any found is
#    listed with its command line, killed, and counted as one failure.
# MODVIRT_SKIP_ASAN=1 skips step 2.
set -uo pipefail
cd "$(dirname "$0")/.."

# ---- processes a test run may start, and must not leave behind ----

# "pid starttime comm args" of every process that could be ours; the start
# time (clock ticks since boot) tells a reused pid from the process that
# had it before.
watched_processes() {
    local stat comm pid start rest
    for stat in /proc/[0-9]*/stat; do
        pid=${stat#/proc/}; pid=${pid%/stat}
        [ "$pid" = "$$" ] && continue
        IFS= read -r rest < "$stat" 2>/dev/null || continue
        comm=${rest#*(}; comm=${comm%)*}
        case "$comm" in
            qemu-system-*|qemu-img|dnsmasq|virtqemud|virtproxyd|virtlxcd|virtxend|\
virtstoraged|virtnetworkd|systemd-socket-*) ;;
            *) continue ;;
        esac
        # field 22, counted after the ')' that ends comm
        start=$(echo "${rest##*)}" | awk '{print $20}')
        echo "$pid $start $comm $(tr '\0' ' ' < /proc/"$pid"/cmdline 2>/dev/null)"
    done
}

# Processes of @1 (a file from watched_processes) not in @2 (the list from
# before the tests).
new_processes() {
    awk 'NR == FNR { seen[$1 " " $2] = 1; next } !(($1 " " $2) in seen)' "$2" "$1"
}

# Give what the tests started a few seconds to end, then list, kill and
# count what is still there.  $1: what ran (for the message).
leftovers=()
check_left_behind() {
    local what=$1 now left pid
    now=$(mktemp)
    for _ in $(seq 1 10); do
        watched_processes > "$now"
        left=$(new_processes "$now" "$before")
        [ -z "$left" ] && break
        sleep 0.5
    done
    rm -f "$now"
    [ -z "$left" ] && return 0
    echo "processes left behind by the $what:"
    echo "$left" | while read -r pid _ comm args; do
        echo "  pid $pid ($comm): $args"
    done
    echo "$left" | while read -r pid _; do kill -TERM "$pid" 2>/dev/null; done
    sleep 1
    echo "$left" | while read -r pid _; do kill -KILL "$pid" 2>/dev/null; done
    leftovers+=("--fail" "processes left behind by the $what: $(echo "$left" | awk '{printf "%s%s", sep, $3; sep=", "}')")
}

scripts/install-deps.sh || exit 1
scripts/build.sh >/dev/null || { scripts/build.sh; echo "0 passed, 1 failed"; exit 1; }

before=$(mktemp)
trap 'rm -f "$before"' EXIT
watched_processes > "$before"

meson test -C build --print-errorlogs --num-processes 2 --no-rebuild
check_left_behind "tests of ./build"

builds=(build)
if [ "${MODVIRT_SKIP_ASAN:-0}" != 1 ]; then
    asan_start=$(date +%s)
    asan_opts=(-Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug)
    if [ -f build-asan/build.ninja ]; then
        meson setup --reconfigure build-asan "${asan_opts[@]}" >/dev/null
    else
        meson setup build-asan "${asan_opts[@]}" >/dev/null
    fi
    if ninja -C build-asan >build-asan.log 2>&1; then
        rm -f build-asan.log
        # Leaks fail the test (detect_leaks); a sanitizer report aborts at
        # once with its stack (abort_on_error, halt_on_error).  The timeout
        # multiplier: a unit test that takes a minute under ASan is stuck.
        lsan=print_suppressions=0
        [ -f tests/fuzz/lsan.supp ] && lsan+=:suppressions="$PWD/tests/fuzz/lsan.supp"
        ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        LSAN_OPTIONS=$lsan \
            meson test -C build-asan --print-errorlogs --num-processes 2 --no-rebuild \
                --suite unit --suite fuzz --timeout-multiplier 0.5
        builds+=(build-asan)
    else
        tail -30 build-asan.log
        leftovers+=("--fail" "the sanitizer build (build-asan) failed to build: see build-asan.log")
    fi
    check_left_behind "sanitizer tests of ./build-asan"
    echo "sanitizer build and tests: $(( $(date +%s) - asan_start )) s"
fi

python3 tests/summarize.py "${leftovers[@]}" "${builds[@]}"
