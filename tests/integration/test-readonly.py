#!/usr/bin/env python3
"""test-readonly.py BUILDDIR: read-only access on a real virtqemud.

Starts `BUILDDIR/virtqemud/virtqemud --root TMP --timeout 60` and checks
(spec/rpc-wire.md 4.1, 6.2):

  * on -sock-ro, connections are read-only whatever CONNECT_OPEN's flags
    say: CONNECT_SET_IDENTITY (419, the one described state-changing call)
    is refused with VIR_ERR_OPERATION_DENIED (29), while the read-only
    procedures work (lib version, hostname, URI, node info with its
    128-byte model, security model, feature queries, keepalive);
  * on the read-write socket, CONNECT_OPEN with flag 1 (virsh -r) makes the
    connection read-only in the same way;
  * on the read-write socket without that flag, CONNECT_SET_IDENTITY from
    root succeeds (so the refusals above come from read-only access).

Output is TAP.  Shares its helpers with test-wire.py (same directory).
"""

import importlib.util
import os
import signal
import sys

_spec = importlib.util.spec_from_file_location(
    "modvirt_test_wire", os.path.join(os.path.dirname(os.path.abspath(__file__)), "test-wire.py"))
wire = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(wire)

REMOTE = wire.REMOTE
REPLY, OK, ERROR = wire.REPLY, wire.OK, wire.ERROR
ERRORS = (OSError, wire.Closed, TimeoutError, wire.DecodeError, RuntimeError)


def expect_ok(chk, c, proc, payload=b"", what=None):
    serial, m = c.call_wait(REMOTE, proc, payload)
    chk.expect(m.type == REPLY and m.status == OK and m.serial == serial and m.proc == proc,
               "%s: %s" % (what or "proc %d" % proc, wire.describe(m)))
    return m


def expect_denied(chk, c, what):
    serial, m = c.call_wait(REMOTE, wire.PROC_SET_IDENTITY, wire.identity_args())
    e = wire.check_error_reply(chk, m, serial, REMOTE, wire.PROC_SET_IDENTITY,
                               code=wire.VIR_ERR_OPERATION_DENIED)
    if e is not None and e.message is not None:
        chk.expect("read" in e.message.lower() and "only" in e.message.lower(),
                   "%s: message %r does not say read-only" % (what, e.message))


def read_only_procs_work(chk, c):
    m = expect_ok(chk, c, wire.PROC_GET_LIB_VERSION, what="CONNECT_GET_LIB_VERSION")
    chk.expect(m.payload == wire.p_u64(wire.LIB_VERSION), "lib version %s" % m.payload.hex())
    m = expect_ok(chk, c, 59, what="CONNECT_GET_HOSTNAME")
    try:
        r = wire.Reader(m.payload)
        chk.expect(len(r.string()) > 0, "empty hostname")
        r.end()
    except wire.DecodeError as e:
        chk.expect(False, "hostname reply: %s" % e)
    m = expect_ok(chk, c, 110, what="CONNECT_GET_URI")
    chk.expect(m.payload == wire.p_str("qemu:///system"), "URI reply %s" % m.payload.hex())
    m = expect_ok(chk, c, 6, what="NODE_GET_INFO")
    chk.expect(len(m.payload) == 160, "NODE_GET_INFO payload is %d bytes, expected 160"
               % len(m.payload))
    m = expect_ok(chk, c, 122, what="NODE_GET_SECURITY_MODEL")
    chk.expect(m.payload.startswith(bytes.fromhex("00000005 0000006e 0000006f 0000006e "
                                                  "00000065 00000000")),
               "security model reply %s" % m.payload[:24].hex())
    m = expect_ok(chk, c, 60, wire.p_i32(15), what="CONNECT_SUPPORTS_FEATURE(15)")
    chk.expect(m.payload == wire.p_i32(1), "feature 15 answer %s" % m.payload.hex())
    c.send(wire.message(wire.KEEPALIVE, 1, 0, mtype=wire.MESSAGE))
    m = c.recv(5)
    chk.expect(m.raw == wire.PONG_BYTES, "PONG %s" % m.raw.hex())


def main(argv):
    if len(argv) < 2:
        print("usage: test-readonly.py BUILDDIR", file=sys.stderr)
        return 2
    tap = wire.Tap()
    d = wire.Daemon(os.path.abspath(argv[1]), label="readonly")
    wire.install_watchdog([d])
    try:
        try:
            d.start()
            tap.result(True, "virtqemud --root TMP --timeout 60 starts")
        except (RuntimeError, OSError) as e:
            tap.result(False, "virtqemud starts", [str(e)])
            return tap.finish()

        cases = []

        def ro_socket(chk):
            c = wire.Client(d.sock("-sock-ro")).open(flags=0)
            try:
                expect_denied(chk, c, "-sock-ro")
                read_only_procs_work(chk, c)
                expect_denied(chk, c, "-sock-ro, again")
            finally:
                c.close()
        cases.append(("-sock-ro (opened with flags 0): CONNECT_SET_IDENTITY refused with "
                      "OPERATION_DENIED (29); read-only procedures work", ro_socket))

        def ro_socket_flag(chk):
            c = wire.Client(d.sock("-sock-ro")).open(flags=1)
            try:
                expect_denied(chk, c, "-sock-ro flags 1")
                expect_ok(chk, c, wire.PROC_GET_LIB_VERSION, what="CONNECT_GET_LIB_VERSION")
            finally:
                c.close()
        cases.append(("-sock-ro (opened with flags 1): CONNECT_SET_IDENTITY refused", ro_socket_flag))

        def rw_flag(chk):
            c = wire.Client(d.sock("-sock")).open(flags=1)
            try:
                expect_denied(chk, c, "read-only open on -sock")
                read_only_procs_work(chk, c)
            finally:
                c.close()
        cases.append(("-sock opened with flag 1 (virsh -r): CONNECT_SET_IDENTITY refused; "
                      "read-only procedures work", rw_flag))

        def rw_control(chk):
            c = wire.Client(d.sock("-sock")).open(flags=0)
            try:
                serial, m = c.call_wait(REMOTE, wire.PROC_SET_IDENTITY, wire.identity_args())
                chk.expect(m.type == REPLY and m.status == OK and m.serial == serial and
                           m.payload == b"",
                           "CONNECT_SET_IDENTITY as root on -sock: %s" % wire.describe(m))
            finally:
                c.close()
        if os.geteuid() == 0:
            cases.append(("-sock (read-write, root): CONNECT_SET_IDENTITY accepted", rw_control))
        else:
            tap.result(True, "-sock (read-write): CONNECT_SET_IDENTITY accepted "
                       "# SKIP needs root (only root may set an identity)")

        for desc, fn in cases:
            chk = wire.Check()
            try:
                fn(chk)
            except ERRORS as e:
                chk.expect(False, "%s: %s" % (type(e).__name__, e))
            chk.expect(d.alive(), "daemon died:\n" + d.log_tail())
            tap.result(chk.ok, desc, chk.problems)

        wire.check_stop(tap, d)
    finally:
        d.cleanup()
        signal.alarm(0)
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
