#!/usr/bin/env python3
"""test-handoff.py BUILDDIR: virtproxyd hands each client to its daemon.

Starts virtproxyd in embedded mode (it starts the daemons it needs) and
checks, with raw RPC and with python3-libvirt, what a client of the proxy
must see now that the proxy passes the client's socket to the daemon that
serves the URI and the daemon forwards storage and network calls:

  * calls sent right behind CONNECT_OPEN, before its reply, are answered
    in order with the client's own serials (nothing lost at the handoff);
  * a read-only client (the -ro socket, or CONNECT_OPEN flag 1) is still
    refused state-changing calls with VIR_ERR_OPERATION_DENIED, and the
    read-write one is not;
  * keepalive asked of the proxy before opening is kept by the daemon;
  * storage and network calls reach virtstoraged and virtnetworkd (they
    are started for them), also when the client is connected to virtqemud
    directly, and a storage daemon that went away is reconnected; one that
    cannot be started is named in the error;
  * clients that close in the middle of their handoff leave no descriptor
    behind in the proxy or the daemon;
  * a handed-over connection keeps working when the proxy exits.

Output is TAP.
"""

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location(
    "modvirt_test_wire", os.path.join(HERE, "..", "tests", "integration", "test-wire.py"))
wire = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(wire)

import libvirt  # noqa: E402  (Debian's python3-libvirt)

BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
PROXY = os.path.join(BUILD, "proxyd", "virtproxyd")
QEMUD = os.path.join(BUILD, "virtqemud", "virtqemud")
REMOTE, REPLY, OK, ERROR = wire.REMOTE, wire.REPLY, wire.OK, wire.ERROR
PROC_GET_URI = 110
PROC_SUPPORTS_FEATURE = 60
PROC_NETWORK_EVENT_REGISTER = 313
PROC_STORAGE_EVENT_REGISTER = 368
FEATURE_KEEPALIVE = 10

tap = wire.Tap()


def case(desc, fn):
    chk = wire.Check()
    try:
        fn(chk)
    except Exception as e:     # a crash of the case is its failure
        chk.expect(False, "%s: %s" % (type(e).__name__, e))
    tap.result(chk.ok, desc, chk.problems)


def wait_for(pred, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


def start(binary, root, env=None):
    log = open(os.path.join(root, os.path.basename(binary) + ".out"), "ab")
    p = subprocess.Popen([binary, "--root", root, "--timeout", "60"], stdin=subprocess.DEVNULL,
                         stdout=log, stderr=subprocess.STDOUT, env=env)
    sock = os.path.join(root, "run", os.path.basename(binary) + "-admin-sock")
    if not wait_for(lambda: os.path.exists(sock), 10):
        raise RuntimeError("%s did not start" % binary)
    return p


def daemon_pid(root, name):
    try:
        pid = int(open(os.path.join(root, "run", name + ".pid")).read().split()[0])
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError, IndexError):
        return None


def nfds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def open_args(name="qemu:///system", flags=0):
    return wire.p_ostr(name) + wire.p_u32(flags)


def event_args(event_id=0):
    return wire.p_i32(event_id) + wire.p_u32(0)


def check_reply(chk, m, serial, proc, what):
    return chk.expect(m.type == REPLY and m.status == OK and m.serial == serial and m.proc == proc,
                      "%s: %s" % (what, wire.describe(m)))


def opened(path, name="qemu:///system", flags=0):
    return wire.Client(path).open(name, flags)


def main():
    root = tempfile.mkdtemp(prefix="mv-handoff-")
    other = tempfile.mkdtemp(prefix="mv-handoff-nostorage-")
    os.makedirs(os.path.join(root, "etc"))
    # short keepalive so that the daemon's pings show up quickly
    with open(os.path.join(root, "etc", "virtqemud.conf"), "w") as f:
        f.write("keepalive_interval = 1\nkeepalive_count = 5\n")
    procs = []
    try:
        proxy = start(PROXY, root)
        procs.append(proxy)
        sock = os.path.join(root, "run", "virtproxyd-sock")

        def pipelined(chk):
            c = wire.Client(sock)
            _, m = c.call_wait(REMOTE, wire.PROC_AUTH_LIST)
            check_reply(chk, m, 0, wire.PROC_AUTH_LIST, "AUTH_LIST")
            c.send(wire.message(REMOTE, wire.PROC_CONNECT_OPEN, 41, open_args()) +
                   wire.message(REMOTE, wire.PROC_GET_LIB_VERSION, 42) +
                   wire.message(REMOTE, PROC_GET_URI, 43))
            m = c.recv()
            check_reply(chk, m, 41, wire.PROC_CONNECT_OPEN, "CONNECT_OPEN")
            m = c.recv()
            if check_reply(chk, m, 42, wire.PROC_GET_LIB_VERSION, "GET_LIB_VERSION"):
                chk.expect(m.payload == wire.p_u64(wire.LIB_VERSION), "lib version %r" % m.payload)
            m = c.recv()
            if check_reply(chk, m, 43, PROC_GET_URI, "GET_URI"):
                chk.expect(wire.Reader(m.payload).string() in (b"qemu:///system", "qemu:///system"),
                           "uri %r" % m.payload)
            c.close()
        case("calls sent behind CONNECT_OPEN are answered in order with their serials",
             pipelined)

        def denied(chk, c, what):
            serial, m = c.call_wait(REMOTE, wire.PROC_SET_IDENTITY, wire.identity_args())
            e = wire.parse_error(m.payload) if m.type == REPLY and m.status == ERROR else None
            chk.expect(e is not None and e.code == wire.VIR_ERR_OPERATION_DENIED,
                       "%s: SET_IDENTITY gave %s" % (what, wire.describe(m)))

        def readonly(chk):
            c = opened(sock + "-ro")
            denied(chk, c, "-ro socket")
            serial, m = c.call_wait(REMOTE, wire.PROC_GET_LIB_VERSION)
            check_reply(chk, m, serial, wire.PROC_GET_LIB_VERSION, "-ro socket, read-only call")
            c.close()
            c = opened(sock, flags=1)
            denied(chk, c, "CONNECT_OPEN flag 1")
            c.close()
            c = opened(sock)
            serial, m = c.call_wait(REMOTE, wire.PROC_SET_IDENTITY, wire.identity_args())
            check_reply(chk, m, serial, wire.PROC_SET_IDENTITY, "read-write SET_IDENTITY")
            c.close()
            conn = libvirt.openReadOnly("qemu+unix:///system?socket=%s-ro" % sock)
            try:
                conn.defineXML("<domain type='kvm'><name>ro-test</name><memory>65536</memory>"
                               "<os><type>hvm</type></os></domain>")
                chk.expect(False, "python: defineXML on a read-only connection succeeded")
            except libvirt.libvirtError as e:
                chk.expect(e.get_error_code() == libvirt.VIR_ERR_OPERATION_DENIED,
                           "python: defineXML gave %d %s" % (e.get_error_code(), e))
            conn.close()
        case("read-only clients are refused state-changing calls after the handoff", readonly)

        def keepalive(chk):
            c = wire.Client(sock)
            _, m = c.call_wait(REMOTE, PROC_SUPPORTS_FEATURE, wire.p_i32(FEATURE_KEEPALIVE))
            chk.expect(m.status == OK and m.payload == wire.p_i32(1),
                       "keepalive feature: %s" % wire.describe(m))
            c.open()
            m = c.recv(timeout=4)
            chk.expect(m.prog == wire.KEEPALIVE and m.proc == 1,
                       "expected a keepalive ping, got %s" % wire.describe(m))
            c.send(wire.PONG_BYTES)
            serial, m = c.call_wait(REMOTE, wire.PROC_GET_LIB_VERSION)
            check_reply(chk, m, serial, wire.PROC_GET_LIB_VERSION, "after the ping")
            c.close()
        case("keepalive asked of the proxy is kept by the daemon", keepalive)

        def secondary(chk):
            c = opened(sock)
            for proc, daemon in ((PROC_STORAGE_EVENT_REGISTER, "virtstoraged"),
                                 (PROC_NETWORK_EVENT_REGISTER, "virtnetworkd")):
                chk.expect(daemon_pid(root, daemon) is None, "%s runs before any call" % daemon)
                serial, m = c.call_wait(REMOTE, proc, event_args())
                check_reply(chk, m, serial, proc, "event registration for %s" % daemon)
                chk.expect(daemon_pid(root, daemon) is not None,
                           "%s was not started for the call" % daemon)
            # the storage daemon goes away: the next call reconnects
            first = daemon_pid(root, "virtstoraged")
            if first:
                os.kill(first, signal.SIGTERM)
                wait_for(lambda: daemon_pid(root, "virtstoraged") != first)
            serial, m = c.call_wait(REMOTE, PROC_STORAGE_EVENT_REGISTER, event_args())
            if m.status != OK:     # the call that met the closing daemon may fail
                serial, m = c.call_wait(REMOTE, PROC_STORAGE_EVENT_REGISTER, event_args())
            check_reply(chk, m, serial, PROC_STORAGE_EVENT_REGISTER, "after virtstoraged left")
            second = daemon_pid(root, "virtstoraged")
            chk.expect(second is not None and second != first,
                       "virtstoraged was not started again (%s, %s)" % (first, second))
            serial, m = c.call_wait(REMOTE, wire.PROC_GET_LIB_VERSION)
            check_reply(chk, m, serial, wire.PROC_GET_LIB_VERSION, "the connection itself")
            c.close()
        case("storage and network calls reach virtstoraged and virtnetworkd", secondary)

        def direct(chk):
            c = opened(os.path.join(root, "run", "virtqemud-sock"))
            serial, m = c.call_wait(REMOTE, PROC_STORAGE_EVENT_REGISTER, event_args(1))
            check_reply(chk, m, serial, PROC_STORAGE_EVENT_REGISTER, "direct storage call")
            c.close()
        case("a client of virtqemud itself gets its storage calls forwarded too", direct)

        def unreachable(chk):
            env = dict(os.environ, MODVIRT_DAEMON_DIR=os.path.join(other, "nothing-here"))
            q = start(QEMUD, other, env)
            procs.append(q)
            c = opened(os.path.join(other, "run", "virtqemud-sock"))
            serial, m = c.call_wait(REMOTE, PROC_STORAGE_EVENT_REGISTER, event_args(), timeout=15)
            e = wire.parse_error(m.payload) if m.type == REPLY and m.status == ERROR else None
            chk.expect(e is not None and e.message and "virtstoraged" in str(e.message),
                       "expected an error naming virtstoraged: %s" % wire.describe(m))
            serial, m = c.call_wait(REMOTE, wire.PROC_GET_LIB_VERSION)
            check_reply(chk, m, serial, wire.PROC_GET_LIB_VERSION, "the connection survives")
            c.close()
        case("a storage daemon that cannot be started is named in the error", unreachable)

        def abandoned(chk):
            qpid = daemon_pid(root, "virtqemud")
            # settle: earlier clients' sockets are gone
            time.sleep(0.5)
            before = (nfds(proxy.pid), nfds(qpid))
            for i in range(20):
                c = wire.Client(sock)
                c.send(wire.message(REMOTE, wire.PROC_AUTH_LIST, 0) +
                       wire.message(REMOTE, wire.PROC_CONNECT_OPEN, 1, open_args()))
                if i % 2:
                    time.sleep(0.002 * i)
                c.close()
            ok = wait_for(lambda: (nfds(proxy.pid), nfds(qpid)) == before, 5)
            chk.expect(ok, "descriptors (proxy, virtqemud) before %s, after %s"
                       % (before, (nfds(proxy.pid), nfds(qpid))))
            c = opened(sock)
            serial, m = c.call_wait(REMOTE, wire.PROC_GET_LIB_VERSION)
            check_reply(chk, m, serial, wire.PROC_GET_LIB_VERSION, "a new client afterwards")
            c.close()
        case("clients closing during their handoff leave nothing behind", abandoned)

        def proxy_exits(chk):
            conn = libvirt.open("qemu+unix:///system?socket=" + sock)
            proxy.send_signal(signal.SIGTERM)
            proxy.wait(timeout=10)
            chk.expect(proxy.returncode == 0, "proxy exit status %s" % proxy.returncode)
            chk.expect(conn.getLibVersion() == wire.LIB_VERSION, "getLibVersion")
            chk.expect(conn.getHostname() != "", "getHostname")
            conn.close()
        case("a handed-over connection outlives the proxy", proxy_exits)
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
        for r in (root, other):
            for name in ("virtqemud", "virtstoraged", "virtnetworkd"):
                pid = daemon_pid(r, name)
                if pid:
                    os.kill(pid, signal.SIGTERM)
        time.sleep(0.3)
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(other, ignore_errors=True)
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
