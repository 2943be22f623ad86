#!/bin/bash
# test-cli.sh BUILDDIR: the modvirt CLI and libmodvirt against a real proxy.
#
# Starts virtproxyd in embedded mode under a throw-away root (it starts
# virtqemud/virtlxcd itself), then checks what a user would check:
#   - `modvirt` prints what Debian's stock `virsh` prints for the same URI
#     (version, uri, hostname, nodeinfo, sysinfo, maxvcpus, errors);
#   - capabilities are XML with a <host>;
#   - MODVIRT_DEFAULT_URI, MODVIRT_SOCKET_DIR and -r pick the right socket;
#   - bad URIs and missing sockets fail with exit 1 and a clear message;
#   - domains: define/list/dominfo/domstate/dumpxml/autostart/undefine
#     print what virsh prints; start/suspend/resume/shutdown/destroy/create
#     change the state as domstate --reason shows (skipped while the daemon
#     answers "not supported"); event --loop prints each event once;
#   - tools/test-client-domain (tests/integration/test-client-domain.c): the
#     domain and event API in C, each lifecycle event delivered exactly once;
#   - a C program written for libvirt compiles against <libvirt/libvirt.h>
#     through pkg-config (the uninstalled modvirt.pc), links to libmodvirt
#     and sees libvirt's results and error codes.
# Output is TAP; exit status 1 if any test failed.

set -u

BUILD=$(cd "${1:-build}" && pwd)
MODVIRT=$BUILD/tools/modvirt
PROXYD=$BUILD/proxyd/virtproxyd

# shellcheck source=tests/integration/clilib.sh
. "$(dirname "$0")/clilib.sh"

if [ ! -x "$MODVIRT" ] || [ ! -x "$PROXYD" ]; then
    echo "1..0 # SKIP modvirt or virtproxyd not built in $BUILD"
    exit 0
fi

start_proxy modvirt-cli 30

mvc() {
    timeout 30 "$MODVIRT" "$@"
}

have_virsh=false
command -v virsh >/dev/null 2>&1 && have_virsh=true

vs() {
    timeout 30 virsh "$@"
}

# ------------------------------------------------------------ same as virsh

for cmd in version "version --daemon" uri hostname nodeinfo sysinfo maxvcpus \
           "maxvcpus --type kvm" "maxvcpus kvm" domcapabilities \
           "domcapabilities --machine q35 --virttype qemu"; do
    # shellcheck disable=SC2086
    out=$(mvc -c "$URI" $cmd 2>&1)
    rc=$?
    if [ $rc -ne 0 ]; then
        not_ok "modvirt $cmd succeeds" "exit $rc:" "$out"
        continue
    fi
    if ! $have_virsh; then
        skip "modvirt $cmd prints what virsh prints" "virsh not installed"
        continue
    fi
    # shellcheck disable=SC2086
    expected=$(vs -c "$URI" $cmd 2>&1)
    same "modvirt $cmd prints what virsh prints" "$expected" "$out"
done

out=$(mvc -c "$URI" version)
contains "version names the running hypervisor" "$out" "Running hypervisor: QEMU "
contains "version reports the libvirt API level 9.0.0" "$out" "Using library: libvirt 9.0.0"

out=$(mvc -c "$URI" uri)
same "uri prints the URI as given" "$URI" "$(printf '%s\n' "$out" | head -n 1)"

host=$(mvc -q -c "$URI" hostname)
if [ -n "$host" ] && { [ "$host" == "$(hostname)" ] || [ "$host" == "$(hostname -f 2>/dev/null)" ]; }; then
    ok "hostname is this host's name ($host)"
else
    not_ok "hostname is this host's name" "got '$host', hostname: '$(hostname)', hostname -f: '$(hostname -f 2>/dev/null)'"
fi

out=$(mvc -q -c "$URI" nodeinfo)
cpus=$(printf '%s\n' "$out" | awk -F: '/^CPU\(s\):/ { gsub(/ /, "", $2); print $2 }')
same "nodeinfo CPU(s) is the online CPU count" "$(getconf _NPROCESSORS_ONLN)" "$cpus"
mem=$(printf '%s\n' "$out" | awk '/^Memory size:/ { print $3 }')
same "nodeinfo memory is MemTotal" "$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)" "$mem"

case $(mvc -q -c "$URI" uri; echo x) in
*$'\n\nx') not_ok "-q prints no blank line" ;;
*) ok "-q prints no blank line" ;;
esac

# ------------------------------------------------------------ capabilities

caps=$(mvc -q -c "$URI" capabilities)
if command -v xmllint >/dev/null 2>&1; then
    if printf '%s\n' "$caps" | xmllint --noout - 2>/dev/null; then
        ok "capabilities are well-formed XML"
    else
        not_ok "capabilities are well-formed XML" "$(printf '%s\n' "$caps" | head -n 5)"
    fi
    hosts=$(printf '%s\n' "$caps" | xmllint --xpath 'count(/capabilities/host)' - 2>/dev/null)
    same "capabilities have one <host>" "1" "$hosts"
    arch=$(printf '%s\n' "$caps" | xmllint --xpath 'string(/capabilities/host/cpu/arch)' - 2>/dev/null)
    same "capabilities name the host arch" "$(uname -m)" "$arch"
    if $have_virsh; then
        uuid=$(printf '%s\n' "$caps" | xmllint --xpath 'string(/capabilities/host/uuid)' - 2>/dev/null)
        vuuid=$(vs -c "$URI" capabilities | xmllint --xpath 'string(/capabilities/host/uuid)' - 2>/dev/null)
        same "capabilities host uuid matches virsh's" "$vuuid" "$uuid"
    fi
else
    skip "capabilities are well-formed XML" "xmllint not installed"
    contains "capabilities have a <host>" "$caps" "<host>"
fi

# ------------------------------------------------------------ choosing the URI

out=$(MODVIRT_DEFAULT_URI=$URI mvc -q uri 2>&1)
same "MODVIRT_DEFAULT_URI is the default URI" "$URI" "$out"

out=$(MODVIRT_DEFAULT_URI="lxc+unix:///system?socket=$SOCK" mvc -q version 2>&1)
contains "MODVIRT_DEFAULT_URI reaches the driver it names" "$out" "Running hypervisor: LXC "

out=$(MODVIRT_DEFAULT_URI=$URI mvc -q -c "lxc+unix:///system?socket=$SOCK" uri 2>&1)
same "-c wins over MODVIRT_DEFAULT_URI" "lxc+unix:///system?socket=$SOCK" "$out"

out=$(MODVIRT_SOCKET_DIR=$ROOT/run mvc -q -c qemu:///system uri 2>&1)
same "MODVIRT_SOCKET_DIR holds the default socket" "qemu:///system" "$out"

# No URI at all: the server picks one and the client asks for it.
out=$(MODVIRT_SOCKET_DIR=$ROOT/run mvc -q uri 2>&1)
same "without a URI the server's choice is reported" "qemu:///system" "$out"

out=$(MODVIRT_SOCKET_DIR=$ROOT/run mvc -q -c lxc:///system version 2>&1)
contains "lxc:///system works" "$out" "Running hypervisor: LXC "
if $have_virsh; then
    same "lxc+unix:// version prints what virsh prints" \
        "$(vs -c "lxc+unix:///system?socket=$SOCK" version 2>&1)" \
        "$(mvc -c "lxc+unix:///system?socket=$SOCK" version 2>&1)"
fi

# ------------------------------------------------------------ read-only

out=$(mvc -q -r -c "qemu+unix:///system?socket=$SOCK_RO" nodeinfo 2>&1)
rc=$?
if [ $rc -eq 0 ] && $have_virsh; then
    same "-r nodeinfo on the read-only socket matches virsh -r" \
        "$(vs -q -r -c "qemu+unix:///system?socket=$SOCK_RO" nodeinfo 2>&1)" "$out"
elif [ $rc -eq 0 ]; then
    ok "-r nodeinfo on the read-only socket works"
else
    not_ok "-r nodeinfo on the read-only socket works" "exit $rc:" "$out"
fi

# A directory with only the read-only socket: -r must pick it, rw must not.
mkdir -p "$ROOT/ro-only"
ln -s "$SOCK_RO" "$ROOT/ro-only/virtproxyd-sock-ro"
out=$(MODVIRT_SOCKET_DIR=$ROOT/ro-only mvc -q -r -c qemu:///system hostname 2>&1)
same "-r connects to virtproxyd-sock-ro" "$host" "$out"
out=$(MODVIRT_SOCKET_DIR=$ROOT/ro-only mvc -q -c qemu:///system hostname 2>&1)
rc=$?
if [ $rc -eq 1 ] && [[ $out == *"$ROOT/ro-only/virtproxyd-sock'"* ]]; then
    ok "without -r the read-write socket is used"
else
    not_ok "without -r the read-write socket is used" "exit $rc:" "$out"
fi

# ------------------------------------------------------------ failures

# expect_fail DESC EXPECTED_SUBSTRING ARGS...: exit 1, virsh's two lines.
expect_fail() {
    local desc=$1 needle=$2 out rc
    shift 2
    out=$(mvc "$@" 2>&1 >/dev/null)
    rc=$?
    if [ $rc -ne 1 ]; then
        not_ok "$desc" "exit $rc (expected 1):" "$out"
    elif [[ $out != "error: failed to connect to the hypervisor"$'\n'"error: "*"$needle"* ]]; then
        not_ok "$desc" "unexpected message:" "$out"
    else
        ok "$desc"
    fi
}

expect_fail "an unknown transport fails clearly" "transport 'bar'" -c 'foo+bar:///system' version
expect_fail "the ssh transport is refused clearly" "'ssh' transport" -c 'qemu+ssh://example.org/system' version
expect_fail "a remote host is refused clearly" "remote host 'example.org'" -c 'qemu://example.org/system' version
expect_fail "a relative URI is refused" "Unable to parse URI '/nonexistent'" -c '/nonexistent' version
expect_fail "an unknown mode= is refused" "Unknown remote mode 'bogus'" -c "qemu:///system?mode=bogus&socket=$SOCK" version
expect_fail "a missing socket fails clearly" \
    "Failed to connect socket to '$ROOT/nope': No such file or directory" \
    -c "qemu+unix:///system?socket=$ROOT/nope" version
expect_fail "a driver nobody serves fails clearly" "no connection driver available for foo:///system" \
    -c "foo:///system?socket=$SOCK" version

if $have_virsh; then
    same "a missing socket is reported as virsh reports it" \
        "$(vs -c "qemu+unix:///system?socket=$ROOT/nope" version 2>&1 >/dev/null)" \
        "$(mvc -c "qemu+unix:///system?socket=$ROOT/nope" version 2>&1 >/dev/null)"
    same "a failing call is reported as virsh reports it" \
        "$(vs -c "$URI" maxvcpus --type bogus 2>&1; echo "rc=$?")" \
        "$(mvc -c "$URI" maxvcpus --type bogus 2>&1; echo "rc=$?")"
    same "domcapabilities with an unknown virttype fails as in virsh" \
        "$(vs -c "$URI" domcapabilities --virttype bogus 2>&1; echo "rc=$?")" \
        "$(mvc -c "$URI" domcapabilities --virttype bogus 2>&1; echo "rc=$?")"
fi

out=$(mvc -c "$URI" frobnicate 2>&1)
rc=$?
same "an unknown command exits 1" "1" "$rc"
contains "an unknown command is named" "$out" "error: unknown command: 'frobnicate'"

out=$(mvc -c "$URI" version --bogus 2>&1)
rc=$?
same "an unknown option exits 1" "1" "$rc"
contains "an unknown option is named" "$out" "error: command 'version' doesn't support option --bogus"

# ------------------------------------------------------------ domains

DOM=mvcli-dom
DOMXML=$ROOT/$DOM.xml
cat >"$DOMXML" <<EOF
<domain type='kvm'>
  <name>$DOM</name>
  <memory unit='KiB'>65536</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <features><acpi/></features>
  <devices/>
</domain>
EOF

# same_as_virsh DESC ARGS...: stdout, stderr and exit status as virsh's.
same_as_virsh() {
    local desc=$1
    shift
    if ! $have_virsh; then
        skip "$desc" "virsh not installed"
        return
    fi
    same "$desc" "$(vs -c "$URI" "$@" 2>&1; echo "rc=$?")" "$(mvc -c "$URI" "$@" 2>&1; echo "rc=$?")"
}

# state DOMAIN: what domstate --reason prints (first line)
state() {
    mvc -q -c "$URI" domstate --reason "$1" 2>&1 | head -n 1
}

out=$(mvc -c "$URI" define "$DOMXML" 2>&1)
rc=$?
same "define prints virsh's line" "Domain '$DOM' defined from $DOMXML"$'\n'"rc=0" \
    "$(printf '%s\n' "$out" | head -n 1)"$'\n'"rc=$rc"
out=$(mvc -q -c "$URI" list --all --name)
contains "a defined domain is listed by list --all --name" "$out" "$DOM"
out=$(mvc -q -c "$URI" list --name)
if printf '%s\n' "$out" | grep -qx -- "$DOM"; then
    not_ok "list without --all leaves out inactive domains" "$out"
else
    ok "list without --all leaves out inactive domains"
fi
uuid=$(mvc -q -c "$URI" domuuid "$DOM")

for cmd in "list" "list --all" "list --all --name" "list --all --uuid" "list --inactive" \
           "list --state-shutoff" "list --all --name --uuid" "list --persistent --all" \
           "list --transient --all" "dominfo $DOM" "dominfo $uuid" "domstate $DOM" \
           "domstate --reason $DOM" "dumpxml $DOM" "dumpxml --inactive $DOM" \
           "domid $DOM" "domuuid $DOM" "domname $uuid" \
           "dominfo nosuch-domain" "start nosuch-domain" "undefine nosuch-domain" \
           "domstate" "define $ROOT/nosuch.xml"; do
    # shellcheck disable=SC2086
    same_as_virsh "modvirt $cmd prints what virsh prints" $cmd
done
same "domstate --reason of a defined domain" "shut off (unknown)" "$(state "$DOM")"

out=$(mvc -c "$URI" autostart "$DOM" 2>&1)
contains "autostart prints virsh's line" "$out" "Domain '$DOM' marked as autostarted"
contains "autostart shows in dominfo" "$(mvc -q -c "$URI" dominfo "$DOM")" "Autostart:      enable"
contains "autostart shows in list --autostart" "$(mvc -q -c "$URI" list --all --autostart --name)" "$DOM"
out=$(mvc -c "$URI" autostart --disable "$DOM" 2>&1)
contains "autostart --disable prints virsh's line" "$out" "Domain '$DOM' unmarked as autostarted"
contains "autostart --disable shows in dominfo" "$(mvc -q -c "$URI" dominfo "$DOM")" "Autostart:      disable"

out=$(mvc -r -c "qemu+unix:///system?socket=$SOCK_RO" define "$DOMXML" 2>&1)
rc=$?
same "define on a read-only connection exits 1" "1" "$rc"
contains "define on a read-only connection says why" "$out" \
    "error: operation forbidden: read only access prevents virDomainDefineXML"

printf '<domain type="kvm"><name>broken</name></domain>\n' >"$ROOT/broken.xml"
out=$(mvc -c "$URI" define --validate "$ROOT/broken.xml" 2>&1)
rc=$?
same "define --validate of an invalid definition exits 1" "1" "$rc"
contains "define --validate names the file" "$out" "error: Failed to define domain from $ROOT/broken.xml"

# event: what another client does shows up, once each
mvc -c "$URI" event --event lifecycle --loop --timeout 5 >"$ROOT/events.txt" 2>&1 &
event_pid=$!
sleep 1
sed "s/$DOM/$DOM-ev/" "$DOMXML" >"$ROOT/ev.xml"
mvc -q -c "$URI" define "$ROOT/ev.xml" >/dev/null 2>&1
mvc -q -c "$URI" undefine "$DOM-ev" >/dev/null 2>&1
wait "$event_pid"
rc=$?
events=$(cat "$ROOT/events.txt")
same "event --loop --timeout prints each lifecycle event once, as virsh does" \
    "event 'lifecycle' for domain '$DOM-ev': Defined Added
event 'lifecycle' for domain '$DOM-ev': Undefined Removed
event loop timed out
events received: 2" "$events"
same "event exits 0 when events came" "0" "$rc"
out=$(mvc -c "$URI" event --event lifecycle --timeout 1 2>&1; echo "rc=$?")
same "event --timeout with no event: as virsh" "event loop timed out
events received: 0

rc=1" "$out"

# ------------------------------------------------------------ running domains

# Whether the daemon runs guests yet: a start that is "not supported" skips
# the lifecycle checks; any other failure is a failure.
out=$(mvc -c "$URI" start "$DOM" 2>&1)
rc=$?
if [ $rc -ne 0 ] && [[ $out == *"not supported"* ]]; then
    skip "start, suspend, resume, shutdown, destroy, create" "the daemon does not start guests: $out"
elif [ $rc -ne 0 ]; then
    # one failure, not a cascade: everything below needs a running guest
    not_ok "start of a defined domain succeeds (the lifecycle checks need it)" "exit $rc:" "$out"
else
    same "start prints virsh's line" "Domain '$DOM' started" "$(printf '%s\n' "$out" | head -n 1)"
    same "a started domain is running (booted)" "running (booted)" "$(state "$DOM")"
    id=$(mvc -q -c "$URI" domid "$DOM")
    if [[ $id =~ ^[0-9]+$ ]]; then ok "a started domain has an ID ($id)"; else not_ok "a started domain has an ID" "$id"; fi
    contains "list shows it running with its ID" "$(mvc -c "$URI" list)" " $id    $DOM   running"
    same_as_virsh "modvirt list prints what virsh prints (running)" list
    same_as_virsh "modvirt domid prints what virsh prints (running)" domid "$DOM"
    same "domname of the ID is the name" "$DOM" "$(mvc -q -c "$URI" domname "$id")"
    contains "start of a running domain is refused" "$(mvc -c "$URI" start "$DOM" 2>&1)" \
        "error: Domain is already active"

    contains "suspend prints virsh's line" "$(mvc -c "$URI" suspend "$DOM" 2>&1)" "Domain '$DOM' suspended"
    same "a suspended domain is paused (user)" "paused (user)" "$(state "$DOM")"
    contains "resume prints virsh's line" "$(mvc -c "$URI" resume "$DOM" 2>&1)" "Domain '$DOM' resumed"
    same "a resumed domain is running (unpaused)" "running (unpaused)" "$(state "$DOM")"

    # A guest idling in its BIOS ignores the ACPI power button: the call
    # succeeds, the domain keeps running.
    contains "shutdown prints virsh's line" "$(mvc -c "$URI" shutdown "$DOM" 2>&1)" \
        "Domain '$DOM' is being shutdown"
    sleep 1
    same "a BIOS-only guest keeps running after shutdown" "running" \
        "$(mvc -q -c "$URI" domstate "$DOM" 2>&1)"
    out=$(mvc -c "$URI" shutdown --mode bogus "$DOM" 2>&1)
    contains "shutdown --mode bogus is refused" "$out" "error: Unknown mode bogus value"

    contains "destroy prints virsh's line" "$(mvc -c "$URI" destroy "$DOM" 2>&1)" "Domain '$DOM' destroyed"
    same "a destroyed domain is shut off (destroyed)" "shut off (destroyed)" "$(state "$DOM")"
    same "a destroyed domain has no ID" "-" "$(mvc -q -c "$URI" domid "$DOM")"

    contains "start --paused prints virsh's line" "$(mvc -c "$URI" start --paused "$DOM" 2>&1)" \
        "Domain '$DOM' started"
    same "start --paused leaves it paused" "paused" "$(mvc -q -c "$URI" domstate "$DOM" 2>&1)"
    contains "destroy --graceful stops it" "$(mvc -c "$URI" destroy --graceful "$DOM" 2>&1)" \
        "Domain '$DOM' destroyed"
    same "destroyed gracefully: shut off" "shut off" "$(mvc -q -c "$URI" domstate "$DOM" 2>&1)"

    # create: a transient domain, gone once destroyed
    sed "s/$DOM/$DOM-tr/" "$DOMXML" >"$ROOT/tr.xml"
    contains "create prints virsh's line" "$(mvc -c "$URI" create "$ROOT/tr.xml" 2>&1)" \
        "Domain '$DOM-tr' created from $ROOT/tr.xml"
    same "a created domain is running" "running" "$(mvc -q -c "$URI" domstate "$DOM-tr" 2>&1)"
    contains "a created domain is transient" "$(mvc -q -c "$URI" dominfo "$DOM-tr")" "Persistent:     no"
    contains "list --transient shows it" "$(mvc -q -c "$URI" list --transient --name)" "$DOM-tr"
    mvc -q -c "$URI" destroy "$DOM-tr" >/dev/null 2>&1
    same "a destroyed transient domain is gone" "error: failed to get domain '$DOM-tr'" \
        "$(mvc -q -c "$URI" domstate "$DOM-tr" 2>&1)"
fi

out=$(mvc -c "$URI" undefine "$DOM" 2>&1)
contains "undefine prints virsh's line" "$out" "Domain '$DOM' has been undefined"
out=$(mvc -q -c "$URI" list --all --name)
if printf '%s\n' "$out" | grep -qx -- "$DOM"; then
    not_ok "an undefined domain is not listed" "$out"
else
    ok "an undefined domain is not listed"
fi

# ------------------------------------------------------------ the domain API in C

CTEST=$BUILD/tools/test-client-domain
if [ -x "$CTEST" ]; then
    while IFS= read -r line; do
        case $line in
        "ok - "*" # SKIP "*) rest=${line#ok - }; skip "C: ${rest%% # SKIP *}" "${rest#* # SKIP }" ;;
        "ok - "*) ok "C: ${line#ok - }" ;;
        "not ok - "*) not_ok "C: ${line#not ok - }" ;;
        *) echo "$line" ;;
        esac
    done < <(timeout 120 "$CTEST" "$URI" mvcli-ctest 2>&1)
else
    skip "the domain API in C" "$CTEST not built"
fi

# ------------------------------------------------------------ the C API

if ! command -v cc >/dev/null 2>&1 || ! command -v pkg-config >/dev/null 2>&1; then
    skip "a libvirt program builds against libmodvirt" "cc or pkg-config missing"
else
    cat >"$ROOT/prog.c" <<'EOF'
/* A program written for libvirt: nothing modvirt-specific in it. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#if !LIBVIR_CHECK_VERSION(9, 0, 0)
# error "expected the libvirt 9.0.0 API level"
#endif

static int handler_calls;
static int thread_code = -1;

/* Fails a call in another thread: its error must stay in that thread. */
static void *
fail_in_thread(void *opaque)
{
    if (virConnectGetMaxVcpus(opaque, "bogus") < 0)
        thread_code = virGetLastErrorCode();
    return NULL;
}

static void
count_errors(void *opaque, virErrorPtr err)
{
    (void)opaque;
    (void)err;
    handler_calls++;
}

int
main(int argc, char **argv)
{
    virConnectPtr conn;
    virNodeInfo info;
    virErrorPtr err;
    virError copy;
    unsigned long ver = 0;
    char *uri;
    int vcpus;

    if (argc != 3)
        return 2;
    /* No handler set: a failure is printed by the default handler. */
    if (virConnectOpen(argv[2]) != NULL)
        return 3;
    err = virGetLastError();
    printf("missing-socket code=%d domain=%d\n", err ? err->code : -1, err ? err->domain : -1);

    conn = virConnectOpenAuth(argv[1], virConnectAuthPtrDefault, 0);
    if (!conn) {
        printf("open failed: %s\n", virGetLastErrorMessage());
        return 1;
    }
    printf("error-after-success=%s\n", virGetLastError() ? "set" : "none");
    if (virConnectGetLibVersion(conn, &ver) < 0)
        return 4;
    printf("libversion=%lu\n", ver);
    if (virGetVersion(&ver, NULL, NULL) < 0)
        return 5;
    printf("clientversion=%lu\n", ver);
    if (virNodeGetInfo(conn, &info) < 0)
        return 6;
    printf("model=%s cpus=%u mhz=%u nodes=%u sockets=%u cores=%u threads=%u memory=%lu\n",
           info.model, info.cpus, info.mhz, info.nodes, info.sockets, info.cores,
           info.threads, info.memory);
    printf("type=%s alive=%d secure=%d encrypted=%d\n", virConnectGetType(conn),
           virConnectIsAlive(conn), virConnectIsSecure(conn), virConnectIsEncrypted(conn));
    uri = virConnectGetURI(conn);
    printf("uri=%s\n", uri ? uri : "(null)");
    free(uri);
    printf("freemem=%s\n", virNodeGetFreeMemory(conn) > 0 ? "nonzero" : "zero");

    /* A failing lookup: the server's code and domain reach the program. */
    virSetErrorFunc(NULL, count_errors);
    vcpus = virConnectGetMaxVcpus(conn, "bogus");
    err = virGetLastError();
    printf("bogus vcpus=%d code=%d(%s) domain=%d(%s) handler=%d message=%s\n", vcpus,
           err ? err->code : -1, err && err->code == VIR_ERR_INVALID_ARG ? "VIR_ERR_INVALID_ARG" : "?",
           err ? err->domain : -1, err && err->domain == VIR_FROM_QEMU ? "VIR_FROM_QEMU" : "?",
           handler_calls, virGetLastErrorMessage());
    if (virCopyLastError(&copy) != VIR_ERR_INVALID_ARG)
        return 7;
    virResetError(&copy);
    err = virConnGetLastError(conn);
    printf("conn-error code=%d\n", err ? err->code : -1);
    virResetLastError();
    printf("after-reset code=%d last=%s\n", virGetLastErrorCode(),
           virGetLastError() ? "set" : "none");

    {
        pthread_t thread;

        if (pthread_create(&thread, NULL, fail_in_thread, conn) != 0 ||
            pthread_join(thread, NULL) != 0)
            return 9;
        printf("thread code=%d main last=%s\n", thread_code,
               virGetLastError() ? "set" : "none");
    }

    if (virConnectRef(conn) < 0)
        return 8;
    printf("close=%d ", virConnectClose(conn));
    printf("close=%d\n", virConnectClose(conn));
    return 0;
}
EOF
    export PKG_CONFIG_PATH=$BUILD/meson-uninstalled
    cflags=$(pkg-config --cflags modvirt 2>&1)
    libs=$(pkg-config --libs modvirt 2>&1)
    # A sanitizer build of the library needs the same runtime in the program.
    sanitize=
    if ldd "$BUILD/client/libmodvirt.so" 2>/dev/null | grep -q libasan; then
        sanitize="$sanitize -fsanitize=address"
    fi
    if ldd "$BUILD/client/libmodvirt.so" 2>/dev/null | grep -q libubsan; then
        sanitize="$sanitize -fsanitize=undefined"
    fi
    # shellcheck disable=SC2086
    if out=$(cc -std=c99 -Wall -Wextra -pedantic -Werror -pthread $sanitize -o "$ROOT/prog" \
                "$ROOT/prog.c" $cflags $libs 2>&1); then
        ok "a libvirt program compiles with pkg-config modvirt (c99, -pedantic -Werror)"
    else
        not_ok "a libvirt program compiles with pkg-config modvirt" "$out"
    fi
    if [ -x "$ROOT/prog" ]; then
        # The library must come from this build, not from any installed copy.
        libdir=$(printf '%s\n' "$libs" | sed -n 's/.*-L\([^ ]*\).*/\1/p')
        out=$(LD_LIBRARY_PATH=$libdir timeout 30 "$ROOT/prog" "$URI" \
              "qemu+unix:///system?socket=$ROOT/nope" 2>"$ROOT/prog.err")
        rc=$?
        same "the program runs" "0" "$rc"
        contains "a missing socket is VIR_ERR_SYSTEM_ERROR from VIR_FROM_RPC" "$out" \
            "missing-socket code=38 domain=7"
        same "the default handler prints libvirt's line on stderr" \
            "libvirt: XML-RPC error : Failed to connect socket to '$ROOT/nope': No such file or directory" \
            "$(cat "$ROOT/prog.err")"
        contains "success leaves no last error" "$out" "error-after-success=none"
        contains "virConnectGetLibVersion is the daemon's 9.0.0" "$out" "libversion=9000000"
        contains "virGetVersion is 9.0.0" "$out" "clientversion=9000000"
        model=$(mvc -q -c "$URI" nodeinfo | awk -F': *' '/^CPU model:/ { print $2 }')
        contains "virNodeGetInfo matches nodeinfo" "$out" \
            "model=$model cpus=$cpus"
        contains "virNodeGetInfo memory matches nodeinfo" "$out" "memory=$mem"
        contains "type, alive, secure, encrypted as libvirt over UNIX" "$out" \
            "type=QEMU alive=1 secure=1 encrypted=0"
        contains "virConnectGetURI returns the URI given" "$out" "uri=$URI"
        contains "virNodeGetFreeMemory answers" "$out" "freemem=nonzero"
        contains "a failing call keeps the server's code and domain" "$out" \
            "bogus vcpus=-1 code=8(VIR_ERR_INVALID_ARG) domain=10(VIR_FROM_QEMU) handler=1"
        contains "the message names the bad value" "$out" "bogus'"
        contains "the connection keeps a copy of its last error" "$out" "conn-error code=8"
        contains "virResetLastError clears it" "$out" "after-reset code=0 last=none"
        contains "the last error is per thread" "$out" "thread code=8 main last=none"
        contains "virConnectClose counts references" "$out" "close=1 close=0"
    fi
fi

finish
