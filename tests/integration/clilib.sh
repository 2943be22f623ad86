# clilib.sh: what the shell tests of the modvirt CLI share (sourced, not
# run): TAP output helpers, and a virtproxyd in embedded mode under a
# fresh temporary root that is removed, with every daemon and guest
# started under it, when the test exits.

n=0
failed=0

ok() {
    n=$((n + 1))
    echo "ok $n - $1"
}

not_ok() {
    n=$((n + 1))
    failed=$((failed + 1))
    echo "not ok $n - $1"
    shift
    for line in "$@"; do
        printf '%s\n' "$line" | sed 's/^/# /'
    done
}

skip() {
    n=$((n + 1))
    echo "ok $n - $1 # SKIP $2"
}

# check DESCRIPTION COMMAND...: ok if COMMAND succeeds.
check() {
    local desc=$1
    shift
    if "$@"; then ok "$desc"; else not_ok "$desc" "failed: $*"; fi
}

# same DESCRIPTION EXPECTED ACTUAL
same() {
    if [ "$2" == "$3" ]; then
        ok "$1"
    else
        not_ok "$1" "expected:" "$2" "got:" "$3"
    fi
}

# contains DESCRIPTION HAYSTACK NEEDLE
contains() {
    case $2 in
    *"$3"*) ok "$1" ;;
    *) not_ok "$1" "'$3' not found in:" "$2" ;;
    esac
}

# The plan line and the exit status; the last thing a test does.
finish() {
    echo "1..$n"
    [ "$failed" -eq 0 ]
}

clilib_cleanup() {
    local pids
    if [ -n "$PROXY_PID" ]; then
        kill "$PROXY_PID" 2>/dev/null
    fi
    # The daemons and guests started for us carry our root on their command line.
    pids=$(pgrep -f -- "--root $ROOT( |$)")
    pids="$pids $(pgrep -f -- "qemu-system.*$ROOT")"
    if [ -n "${pids// /}" ]; then
        # shellcheck disable=SC2086
        kill $pids 2>/dev/null
        sleep 0.2
        # shellcheck disable=SC2086
        kill -9 $pids 2>/dev/null
    fi
    rm -rf "$ROOT"
}

# start_proxy NAME IDLE_TIMEOUT: virtproxyd ($PROXYD) under a new root
# /tmp/NAME.XXXXXX; sets ROOT, PROXY_PID, SOCK, SOCK_RO and URI, and
# clears the environment variables that would choose a URI for the
# clients.  Ends the test (one failure) if the sockets do not appear.
start_proxy() {
    ROOT=$(mktemp -d "/tmp/$1.XXXXXX")
    PROXY_PID=
    trap clilib_cleanup EXIT
    "$PROXYD" --root "$ROOT" --timeout "$2" >"$ROOT/proxyd.log" 2>&1 &
    PROXY_PID=$!
    SOCK=$ROOT/run/virtproxyd-sock
    SOCK_RO=$ROOT/run/virtproxyd-sock-ro
    for _ in $(seq 100); do
        [ -S "$SOCK" ] && [ -S "$SOCK_RO" ] && break
        sleep 0.1
    done
    if [ ! -S "$SOCK" ]; then
        echo "not ok 1 - virtproxyd creates $SOCK"
        sed 's/^/# /' "$ROOT/proxyd.log"
        echo "1..1"
        exit 1
    fi
    URI="qemu+unix:///system?socket=$SOCK"
    unset MODVIRT_DEFAULT_URI LIBVIRT_DEFAULT_URI MODVIRT_SOCKET_DIR VIRSH_DEFAULT_CONNECT_URI
}
