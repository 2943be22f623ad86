#!/usr/bin/env python3
"""test-wire.py BUILDDIR: a real virtqemud against bad and busy clients.

Starts `BUILDDIR/virtqemud/virtqemud --root TMP --timeout 60` itself and
talks to it over raw UNIX sockets (spec/rpc-wire.md sections 1, 2 and 4).
Every bad-input case runs on a fresh connection; a long-lived client opened
at the start must still be served (a valid CONNECT_GET_LIB_VERSION) after
each case, and the daemon must still be running.

Cases: bad length words, the largest legal message, unknown program and
version, unknown message type, CALL with status ERROR, truncated payloads
(the daemon neither hangs nor stops serving others), undecodable payloads,
an over-long string, unknown procedures, trailing garbage in arguments and
after a valid message, calls before CONNECT_OPEN and a second CONNECT_OPEN,
keepalive PING/PONG (also while the client's request slots are all busy),
max_clients, the admin socket, 50 pipelined calls.  At the end the daemons
get SIGTERM and must exit 0 within 5 s, removing their sockets.

Output is TAP.  Python 3 standard library only; every wait is bounded.
The helpers are also used by test-readonly.py.
"""

import collections
import errno
import os
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import time

REMOTE = 0x20008086
QEMU = 0x20008087
ADMIN = 0x06900690
KEEPALIVE = 0x6b656570

CALL, REPLY, MESSAGE = 0, 1, 2
OK, ERROR = 0, 1

MAX_LEN = 33554436          # largest legal length word: 4 + 32 MiB
STRING_MAX = 4194304
LIB_VERSION = 9000000

VIR_ERR_OPERATION_DENIED = 29
VIR_ERR_RPC = 39
VIR_FROM_RPC = 7
VIR_FROM_REMOTE = 13

PROC_CONNECT_OPEN = 1
PROC_AUTH_LIST = 66
PROC_GET_LIB_VERSION = 157
PROC_SET_IDENTITY = 419

PONG_BYTES = bytes.fromhex("0000001c 6b656570 00000001 00000002 00000002 00000000 00000000")

GLOBAL_TIMEOUT = 300


# ------------------------------------------------------------------ TAP

class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def result(self, ok, desc, diag=(), todo=None):
        """@todo: a known bug (TAP TODO): a failure does not fail the run,
        a pass is reported as unexpected so that the marker gets removed."""
        self.n += 1
        if not ok and not todo:
            self.failed += 1
        print("%s %d - %s%s" % ("ok" if ok else "not ok", self.n, desc,
                                " # TODO %s" % todo if todo else ""))
        for d in diag:
            for line in str(d).splitlines():
                print("# " + line)
        sys.stdout.flush()
        return ok

    def note(self, text):
        print("# " + text)
        sys.stdout.flush()

    def finish(self):
        print("1..%d" % self.n)
        sys.stdout.flush()
        return 1 if self.failed else 0


class Check:
    """Collects the reasons a case failed."""

    def __init__(self):
        self.problems = []

    def expect(self, cond, why):
        if not cond:
            self.problems.append(why)
        return cond

    @property
    def ok(self):
        return not self.problems


# ------------------------------------------------------------------ XDR

def p_u32(v):
    return struct.pack(">I", v & 0xffffffff)


def p_i32(v):
    return struct.pack(">i", v)


def p_u64(v):
    return struct.pack(">Q", v)


def p_str(s):
    b = s.encode() if isinstance(s, str) else s
    return p_u32(len(b)) + b + b"\0" * ((4 - len(b) % 4) % 4)


def p_ostr(s):
    return p_u32(0) if s is None else p_u32(1) + p_str(s)


class DecodeError(Exception):
    pass


class Reader:
    def __init__(self, data):
        self.data = data
        self.pos = 0

    def take(self, n):
        if self.pos + n > len(self.data):
            raise DecodeError("payload truncated at offset %d (wanted %d bytes)" % (self.pos, n))
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def u32(self):
        return struct.unpack(">I", self.take(4))[0]

    def i32(self):
        return struct.unpack(">i", self.take(4))[0]

    def u64(self):
        return struct.unpack(">Q", self.take(8))[0]

    def string(self):
        n = self.u32()
        b = self.take(n + (4 - n % 4) % 4)
        return b[:n].decode("utf-8", "replace")

    def present(self):
        v = self.u32()
        if v > 1:
            raise DecodeError("bad optional marker %d" % v)
        return v == 1

    def ostring(self):
        return self.string() if self.present() else None

    def end(self):
        if self.pos != len(self.data):
            raise DecodeError("%d trailing bytes" % (len(self.data) - self.pos))


RemoteError = collections.namedtuple(
    "RemoteError", "code domain message level dom str1 str2 str3 int1 int2 net")


def parse_error(payload):
    """remote_error, every field (spec 1.8)."""
    r = Reader(payload)
    code, domain = r.i32(), r.i32()
    message = r.ostring()
    level = r.i32()
    dom = None
    if r.present():
        dom = (r.string(), r.take(16), r.i32())
    str1, str2, str3 = r.ostring(), r.ostring(), r.ostring()
    int1, int2 = r.i32(), r.i32()
    net = None
    if r.present():
        net = (r.string(), r.take(16))
    r.end()
    return RemoteError(code, domain, message, level, dom, str1, str2, str3, int1, int2, net)


def message(prog, proc, serial, payload=b"", vers=1, mtype=CALL, status=OK, length=None):
    if length is None:
        length = 28 + len(payload)
    return struct.pack(">IIIiiIi", length, prog, vers, proc, mtype, serial, status) + payload


Msg = collections.namedtuple("Msg", "length prog vers proc type serial status payload raw")


def identity_args():
    """CONNECT_SET_IDENTITY args: user-name root, unix-user-id 0."""
    params = [p_str("user-name") + p_i32(7) + p_str("root"),
              p_str("unix-user-id") + p_i32(4) + p_u64(0)]
    return p_u32(len(params)) + b"".join(params) + p_u32(0)


# ------------------------------------------------------------------ client

class Closed(Exception):
    pass


class Client:
    """One raw connection; every wait is bounded."""

    def __init__(self, path, timeout=10.0):
        self.path = path
        self.serial = 0
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.timeout = timeout
        self.buf = b""

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        self.sock.settimeout(self.timeout)
        self.sock.sendall(data)

    def next_serial(self):
        s = self.serial
        self.serial += 1
        return s

    def call(self, prog, proc, payload=b"", **kw):
        """Send a call; its serial."""
        serial = kw.pop("serial", None)
        if serial is None:
            serial = self.next_serial()
        self.send(message(prog, proc, serial, payload, **kw))
        return serial

    def _fill(self, n, deadline):
        while len(self.buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no complete message within the time limit "
                                   "(have %d of %d bytes)" % (len(self.buf), n))
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(max(65536, n - len(self.buf)))
            except socket.timeout:
                continue
            except ConnectionResetError:
                raise Closed("connection reset")
            if not chunk:
                raise Closed("end of file after %d bytes" % len(self.buf))
            self.buf += chunk

    def recv(self, timeout=None):
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        self._fill(4, deadline)
        length = struct.unpack(">I", self.buf[:4])[0]
        if length < 28 or length > MAX_LEN:
            raise DecodeError("server sent a bad length word %d" % length)
        self._fill(length, deadline)
        raw, self.buf = self.buf[:length], self.buf[length:]
        f = struct.unpack(">IIIiiIi", raw[:28])
        return Msg(f[0], f[1], f[2], f[3], f[4], f[5], f[6], raw[28:], raw)

    def call_wait(self, prog, proc, payload=b"", timeout=None, **kw):
        serial = self.call(prog, proc, payload, **kw)
        while True:
            m = self.recv(timeout)
            if m.prog == KEEPALIVE:
                continue
            return serial, m

    def expect_closed(self, timeout=5.0):
        """(closed, bytes received before the end) within @timeout."""
        deadline = time.monotonic() + timeout
        got = self.buf
        self.buf = b""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False, got
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            except ConnectionResetError:
                return True, got
            except OSError as e:
                if e.errno in (errno.ECONNRESET, errno.EPIPE):
                    return True, got
                raise
            if not chunk:
                return True, got
            got += chunk

    def open(self, name="qemu:///system", flags=0):
        """AUTH_LIST then CONNECT_OPEN, as virsh does; raises on failure."""
        _, m = self.call_wait(REMOTE, PROC_AUTH_LIST)
        if m.type != REPLY or m.status != OK:
            raise RuntimeError("AUTH_LIST failed: %s" % describe(m))
        _, m = self.call_wait(REMOTE, PROC_CONNECT_OPEN, p_ostr(name) + p_u32(flags))
        if m.type != REPLY or m.status != OK:
            raise RuntimeError("CONNECT_OPEN failed: %s" % describe(m))
        return self


def describe(m):
    s = "prog=0x%08x vers=%d proc=%d type=%d serial=%d status=%d len=%d" % (
        m.prog, m.vers, m.proc, m.type, m.serial, m.status, m.length)
    if m.type == REPLY and m.status == ERROR:
        try:
            e = parse_error(m.payload)
            s += " error code=%d domain=%d level=%d message=%r" % (e.code, e.domain, e.level,
                                                                 e.message)
        except DecodeError as ex:
            s += " (undecodable error payload: %s)" % ex
    return s


def check_error_reply(chk, m, serial, prog, proc, code=None, domains=None, prefix=None,
                      vers=1, contains=None):
    """An error REPLY echoing the call, with the given code/domain/message."""
    if not chk.expect(m.type == REPLY and m.status == ERROR,
                      "expected REPLY/ERROR, got %s" % describe(m)):
        return None
    chk.expect(m.prog == prog and m.vers == vers and m.proc == proc and m.serial == serial,
               "reply does not echo prog/vers/proc/serial 0x%08x/%d/%d/%d: %s"
               % (prog, vers, proc, serial, describe(m)))
    try:
        e = parse_error(m.payload)
    except DecodeError as ex:
        chk.expect(False, "error payload does not decode as remote_error: %s" % ex)
        return None
    if code is not None:
        chk.expect(e.code == code, "error code %d, expected %d (%r)" % (e.code, code, e.message))
    if domains is not None:
        chk.expect(e.domain in domains, "error domain %d, expected %s" % (e.domain, domains))
    chk.expect(e.level == 2, "error level %d, expected 2" % e.level)
    chk.expect(e.message is not None, "error without a message")
    if prefix is not None and e.message is not None:
        chk.expect(e.message.startswith(prefix),
                   "error message %r does not start with %r" % (e.message, prefix))
    if contains is not None and e.message is not None:
        chk.expect(contains in e.message,
                   "error message %r does not mention %r" % (e.message, contains))
    chk.expect(e.dom is None and e.net is None, "error carries dom/net")
    return e


def check_lib_version_reply(chk, m, serial, prog=REMOTE, proc=PROC_GET_LIB_VERSION):
    if not chk.expect(m.type == REPLY and m.status == OK and m.serial == serial and
                      m.proc == proc and m.prog == prog,
                      "expected a successful reply to serial %d, got %s" % (serial, describe(m))):
        return
    chk.expect(m.payload == p_u64(LIB_VERSION),
               "lib version payload %s, expected %s" % (m.payload.hex(), p_u64(LIB_VERSION).hex()))


# ------------------------------------------------------------------ daemon

class Daemon:
    def __init__(self, builddir, name="virtqemud", args=(), label="main"):
        self.bin = os.path.join(builddir, name, name)
        self.name = name
        self.args = list(args)
        self.label = label
        self.root = None
        self.proc = None
        self.log = None

    def sock(self, suffix="-sock"):
        return os.path.join(self.root, "run", self.name + suffix)

    def sockets(self):
        return [self.sock(s) for s in ("-sock", "-sock-ro", "-admin-sock")]

    def start(self, timeout=10.0):
        if not os.access(self.bin, os.X_OK):
            raise RuntimeError("no daemon binary at %s (build first)" % self.bin)
        self.root = tempfile.mkdtemp(prefix="modvirt-wire-%s-" % self.label)
        self.log = os.path.join(self.root, "daemon.log")
        with open(self.log, "wb") as logf:
            self.proc = subprocess.Popen(
                [self.bin, "--root", self.root, "--timeout", "60"] + self.args,
                stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("daemon exited with %d at startup:\n%s"
                                   % (self.proc.returncode, self.log_tail()))
            # the sockets listen once they exist; connecting to probe them
            # would count as clients (and against --max-clients)
            if all(self.is_socket(p) for p in self.sockets()):
                return
            time.sleep(0.05)
        raise RuntimeError("daemon sockets did not appear within %.0f s:\n%s"
                           % (timeout, self.log_tail()))

    @staticmethod
    def is_socket(path):
        try:
            return stat.S_ISSOCK(os.stat(path).st_mode)
        except OSError:
            return False

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines=20):
        try:
            with open(self.log, encoding="utf-8", errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except (OSError, TypeError):
            return ""

    def log_text(self):
        try:
            with open(self.log, encoding="utf-8", errors="replace") as f:
                return f.read()
        except (OSError, TypeError):
            return ""

    def stop(self, timeout=5.0):
        """SIGTERM; (exit status or None if it had to be killed, elapsed s)."""
        if self.proc is None:
            return None, 0.0
        if self.proc.poll() is not None:
            return self.proc.returncode, 0.0
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            return None, time.monotonic() - t0
        return rc, time.monotonic() - t0

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass

    def cleanup(self):
        self.kill()
        if self.root and os.environ.get("MODVIRT_KEEP_TEST_DIRS") != "1":
            shutil.rmtree(self.root, ignore_errors=True)


def check_stop(tap, d):
    """SIGTERM: exit 0 within 5 s, sockets gone, no criticals logged."""
    rc, elapsed = d.stop(5.0)
    left = [p for p in d.sockets() if os.path.exists(p)]
    diag = []
    if rc is None:
        diag.append("did not exit within 5 s of SIGTERM (killed)")
    elif rc != 0:
        diag.append("exit status %d" % rc)
    if left:
        diag.append("socket files left behind: %s" % ", ".join(left))
    if diag:
        diag.append(d.log_tail())
    tap.result(not diag, "%s daemon: SIGTERM -> exit 0 in %.2f s, sockets removed"
               % (d.label, elapsed), diag)
    text = d.log_text()
    bad = [l for l in text.splitlines()
           if "CRITICAL" in l or "assertion" in l.lower() or "AddressSanitizer" in l]
    tap.result(not bad, "%s daemon logged no criticals or assertion failures" % d.label,
               bad[:20])


def install_watchdog(daemons):
    """No test may hang: bail out and kill the daemons after GLOBAL_TIMEOUT."""
    def on_alarm(signum, frame):
        print("Bail out! test-wire: no progress for %d s" % GLOBAL_TIMEOUT)
        sys.stdout.flush()
        for d in daemons:
            d.kill()
        os._exit(1)
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(GLOBAL_TIMEOUT)


# ------------------------------------------------------------------ cases

class Suite:
    def __init__(self, tap, daemon):
        self.tap = tap
        self.d = daemon
        self.long = None

    def rw(self, **kw):
        return Client(self.d.sock("-sock"), **kw)

    def still_served(self, chk):
        """The long-lived client gets CONNECT_GET_LIB_VERSION answered."""
        if not chk.expect(self.d.alive(), "the daemon is no longer running:\n" + self.d.log_tail()):
            return
        try:
            serial, m = self.long.call_wait(REMOTE, PROC_GET_LIB_VERSION, timeout=10)
        except (OSError, Closed, TimeoutError, DecodeError) as e:
            chk.expect(False, "long-lived client not served: %s" % e)
            return
        sub = Check()
        check_lib_version_reply(sub, m, serial)
        for p in sub.problems:
            chk.expect(False, "long-lived client: " + p)

    def case(self, desc, fn, todo=None):
        chk = Check()
        try:
            fn(chk)
        except (OSError, Closed, TimeoutError, DecodeError, RuntimeError) as e:
            chk.expect(False, "%s: %s" % (type(e).__name__, e))
        self.still_served(chk)
        self.tap.result(chk.ok, desc + "; long-lived client still served", chk.problems, todo)

    # -- framing

    def bad_length(self, length, send_header=True):
        def run(chk):
            c = self.rw()
            try:
                data = p_u32(length)
                if send_header:
                    data += message(REMOTE, PROC_AUTH_LIST, 0)[4:]
                try:
                    c.send(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                closed, got = c.expect_closed(5)
                chk.expect(closed, "connection not closed within 5 s")
                chk.expect(not got, "daemon sent %d bytes before closing: %s"
                           % (len(got), got[:64].hex()))
            finally:
                c.close()
        return run

    def largest_message(self, chk):
        """A length word of exactly 33554436 is legal: answered, not closed."""
        c = self.rw(timeout=30)
        try:
            payload_len = MAX_LEN - 28
            hdr = message(REMOTE, PROC_AUTH_LIST, 0, length=MAX_LEN)
            c.send(hdr)
            chunk = b"\0" * (1 << 20)
            left = payload_len
            while left:
                n = min(left, len(chunk))
                c.send(chunk[:n])
                left -= n
            m = c.recv(30)
            check_error_reply(chk, m, 0, REMOTE, PROC_AUTH_LIST, code=VIR_ERR_RPC,
                              domains=(VIR_FROM_RPC,), prefix="Unable to decode")
            c.send(message(KEEPALIVE, 1, 0, mtype=MESSAGE))
            m = c.recv(10)
            chk.expect(m.raw == PONG_BYTES, "no PONG after the big message: %s" % describe(m))
        finally:
            c.close()

    def unknown_program(self, prog, vers):
        def run(chk):
            c = self.rw()
            try:
                serial, m = c.call_wait(prog, 1, vers=vers)
                check_error_reply(chk, m, serial, prog, 1, vers=vers, code=VIR_ERR_RPC,
                                  domains=(VIR_FROM_RPC,), prefix="Cannot find program")
                # the connection stays usable
                serial, m = c.call_wait(REMOTE, PROC_AUTH_LIST)
                chk.expect(m.type == REPLY and m.status == OK and m.serial == serial,
                           "AUTH_LIST after the error: %s" % describe(m))
            finally:
                c.close()
        return run

    def unknown_type(self, chk):
        c = self.rw()
        try:
            c.send(message(REMOTE, PROC_AUTH_LIST, 0, mtype=9))
            closed, got = c.expect_closed(5)
            chk.expect(closed, "connection not closed within 5 s")
            chk.expect(not got, "daemon answered a type-9 packet: %s" % got[:64].hex())
        finally:
            c.close()

    def status_error(self, chk):
        c = self.rw()
        try:
            serial, m = c.call_wait(REMOTE, PROC_AUTH_LIST, status=ERROR)
            check_error_reply(chk, m, serial, REMOTE, PROC_AUTH_LIST, code=VIR_ERR_RPC,
                              prefix="Unexpected message status")
        finally:
            c.close()

    def truncated(self, declared, sent):
        """Length says @declared, only @sent bytes come; others are served
        meanwhile; then the client hangs up mid-message."""
        def run(chk):
            c = self.rw()
            try:
                data = message(REMOTE, PROC_CONNECT_OPEN, 0, length=declared)
                data = (data + b"\x41" * max(0, sent - len(data)))[:sent]
                c.send(data)
                time.sleep(0.2)
                # the daemon is not stuck waiting for the rest
                self.still_served(chk)
                c.sock.shutdown(socket.SHUT_WR)
                closed, got = c.expect_closed(5)
                chk.expect(closed, "connection not closed after the client's half-close")
                chk.expect(not got, "daemon answered a partial message: %s" % got[:64].hex())
            finally:
                c.close()
            time.sleep(0.1)
            chk.expect(self.d.alive(), "daemon died:\n" + self.d.log_tail())
        return run

    # -- payloads

    def undecodable_open(self, chk):
        c = self.rw()
        try:
            bad = p_u32(2) + p_str("qemu:///system") + p_u32(0)
            serial, m = c.call_wait(REMOTE, PROC_CONNECT_OPEN, bad)
            check_error_reply(chk, m, serial, REMOTE, PROC_CONNECT_OPEN, code=VIR_ERR_RPC,
                              domains=(VIR_FROM_RPC,), prefix="Unable to decode")
            # nothing was half-applied: a good open still works
            serial, m = c.call_wait(REMOTE, PROC_CONNECT_OPEN, p_ostr("qemu:///system") + p_u32(0))
            chk.expect(m.type == REPLY and m.status == OK,
                       "CONNECT_OPEN after the bad one: %s" % describe(m))
        finally:
            c.close()

    def string_over_max(self, chk):
        c = self.rw(timeout=30)
        try:
            n = STRING_MAX + 1
            payload = p_u32(1) + p_u32(n) + b"a" * n + b"\0" * ((4 - n % 4) % 4) + p_u32(0)
            serial, m = c.call_wait(REMOTE, PROC_CONNECT_OPEN, payload, timeout=30)
            check_error_reply(chk, m, serial, REMOTE, PROC_CONNECT_OPEN, code=VIR_ERR_RPC,
                              domains=(VIR_FROM_RPC,), prefix="Unable to decode")
            # declared only, with a tiny payload
            payload = p_u32(1) + p_u32(n) + b"abcd" + p_u32(0)
            serial, m = c.call_wait(REMOTE, PROC_CONNECT_OPEN, payload)
            check_error_reply(chk, m, serial, REMOTE, PROC_CONNECT_OPEN, code=VIR_ERR_RPC,
                              domains=(VIR_FROM_RPC,), prefix="Unable to decode")
        finally:
            c.close()

    def unknown_procedure(self, chk):
        c = self.rw()
        try:
            for prog, proc in ((REMOTE, 9999), (REMOTE, -1), (REMOTE, 0)):
                serial, m = c.call_wait(prog, proc)
                check_error_reply(chk, m, serial, prog, proc, code=VIR_ERR_RPC,
                                  domains=(VIR_FROM_RPC, VIR_FROM_REMOTE), prefix="unknown procedure")
        finally:
            c.close()
        # what virsh dominfo does on an open connection: 426 must read as
        # NO_SUPPORT on the client side (code 39, domain 7/13, level 2, prefix)
        args = p_str("vm1") + b"\x11" * 16 + p_i32(-1) + p_u32(0)
        for prog, proc, payload in ((REMOTE, 426, args), (QEMU, 1, b"")):
            serial, m = self.long.call_wait(prog, proc, payload)
            check_error_reply(chk, m, serial, prog, proc, code=VIR_ERR_RPC,
                              domains=(VIR_FROM_RPC, VIR_FROM_REMOTE), prefix="unknown procedure")

    def trailing_args(self, chk):
        c = self.rw()
        try:
            c.open()
            serial, m = c.call_wait(REMOTE, 60, p_i32(14) + p_u32(0))
            check_error_reply(chk, m, serial, REMOTE, 60, code=VIR_ERR_RPC,
                              domains=(VIR_FROM_RPC,), prefix="Unable to decode")
            serial, m = c.call_wait(REMOTE, PROC_GET_LIB_VERSION, p_u32(0))
            check_error_reply(chk, m, serial, REMOTE, PROC_GET_LIB_VERSION, code=VIR_ERR_RPC,
                              domains=(VIR_FROM_RPC,), prefix="Unable to decode")
            serial, m = c.call_wait(REMOTE, 60, p_i32(14))
            chk.expect(m.type == REPLY and m.status == OK and m.payload == p_i32(1),
                       "SUPPORTS_FEATURE(14) after the bad ones: %s" % describe(m))
        finally:
            c.close()

    def garbage_after(self, garbage, label):
        def run(chk):
            c = self.rw()
            try:
                c.send(message(REMOTE, PROC_AUTH_LIST, 0) + garbage)
                m = c.recv(10)
                chk.expect(m.type == REPLY and m.status == OK and m.serial == 0 and
                           m.proc == PROC_AUTH_LIST,
                           "the valid message was not answered first: %s" % describe(m))
                chk.expect(m.payload == p_u32(1) + p_i32(0),
                           "AUTH_LIST answer %s, expected [NONE]" % m.payload.hex())
                # then the garbage: an error reply or a close, nothing else
                try:
                    m = c.recv(5)
                    if m.type == REPLY and m.status == ERROR:
                        parse_error(m.payload)
                        self.tap.note("%s: answered with %s" % (label, describe(m)))
                    else:
                        chk.expect(False, "garbage answered with %s" % describe(m))
                except Closed:
                    self.tap.note("%s: connection closed" % label)
                except (DecodeError, TimeoutError) as e:
                    chk.expect(False, "after the garbage: %s" % e)
            finally:
                c.close()
        return run

    def before_open(self, chk):
        c = self.rw()
        try:
            serial, m = c.call_wait(REMOTE, PROC_GET_LIB_VERSION)
            check_error_reply(chk, m, serial, REMOTE, PROC_GET_LIB_VERSION,
                              contains="connection not open")
        finally:
            c.close()

    def open_twice(self, chk):
        c = self.rw()
        try:
            c.open()
            serial, m = c.call_wait(REMOTE, PROC_CONNECT_OPEN, p_ostr("qemu:///system") + p_u32(0))
            check_error_reply(chk, m, serial, REMOTE, PROC_CONNECT_OPEN,
                              contains="connection already open")
            serial, m = c.call_wait(REMOTE, PROC_GET_LIB_VERSION)
            check_lib_version_reply(chk, m, serial)
        finally:
            c.close()

    def keepalive(self, chk):
        c = self.rw()
        try:
            c.send(message(KEEPALIVE, 1, 0, mtype=MESSAGE))
            m = c.recv(5)
            chk.expect(m.raw == PONG_BYTES, "PONG %s, expected %s" % (m.raw.hex(), PONG_BYTES.hex()))
            # other keepalive procedures are ignored; a PING still works after
            c.send(message(KEEPALIVE, 7, 0, mtype=MESSAGE) + message(KEEPALIVE, 1, 0, mtype=MESSAGE))
            m = c.recv(5)
            chk.expect(m.raw == PONG_BYTES, "second PONG %s" % m.raw.hex())
        finally:
            c.close()
        self.long.send(message(KEEPALIVE, 1, 0, mtype=MESSAGE))
        m = self.long.recv(5)
        chk.expect(m.raw == PONG_BYTES, "PONG on the open connection %s" % m.raw.hex())

    def pipelining(self, chk, count=50):
        c = self.rw(timeout=20)
        try:
            c.open()
            procs = [(PROC_GET_LIB_VERSION, b""), (59, b""), (149, b""), (110, b""),
                     (203, p_u32(0)), (60, p_i32(14))]
            sent = {}
            data = b""
            for i in range(count):
                proc, payload = procs[i % len(procs)]
                serial = c.next_serial()
                sent[serial] = proc
                data += message(REMOTE, proc, serial, payload)
            c.send(data)
            seen = {}
            order = []
            deadline = time.monotonic() + 20
            while len(seen) < count and time.monotonic() < deadline:
                m = c.recv(max(0.1, deadline - time.monotonic()))
                if m.prog == KEEPALIVE:
                    continue
                order.append(m.serial)
                if not chk.expect(m.serial in sent, "reply with unknown serial %d" % m.serial):
                    continue
                chk.expect(m.serial not in seen, "serial %d answered twice" % m.serial)
                seen[m.serial] = m
                chk.expect(m.type == REPLY and m.status == OK and m.proc == sent[m.serial] and
                           m.prog == REMOTE,
                           "serial %d: %s" % (m.serial, describe(m)))
            missing = sorted(set(sent) - set(seen))
            chk.expect(not missing, "no reply for serials %s" % missing)
            if order != sorted(order):
                self.tap.note("pipelined replies came back out of order (allowed)")
        finally:
            c.close()

    def unexpected_packets(self, chk):
        """Spec 1.4: REPLY, MESSAGE (not keepalive), STREAM and STREAM_HOLE
        from a client are dropped without an answer; the connection stays."""
        c = self.rw()
        try:
            c.open()
            c.send(message(REMOTE, PROC_GET_LIB_VERSION, 77, mtype=REPLY) +
                   message(REMOTE, 318, 1, p_i32(1), mtype=MESSAGE) +
                   message(REMOTE, 209, 5, b"data", mtype=3, status=2) +
                   message(REMOTE, 209, 5, mtype=3, status=ERROR) +
                   message(REMOTE, 209, 5, p_u64(4096) + p_u32(0), mtype=6, status=2) +
                   message(0x0badf00d, 1, 9, mtype=REPLY))
            serial, m = c.call_wait(REMOTE, PROC_GET_LIB_VERSION)
            check_lib_version_reply(chk, m, serial)
        finally:
            c.close()

    def connect_close(self, chk):
        """Spec 4.1: CONNECT_CLOSE is answered, then the server hangs up."""
        c = self.rw()
        try:
            c.open()
            serial, m = c.call_wait(REMOTE, 2)
            chk.expect(m.type == REPLY and m.status == OK and m.serial == serial and m.proc == 2
                       and m.payload == b"", "CONNECT_CLOSE reply: %s" % describe(m))
            closed, got = c.expect_closed(5)
            chk.expect(closed, "connection still open 5 s after CONNECT_CLOSE")
            chk.expect(not got, "bytes after the CONNECT_CLOSE reply: %s" % got[:64].hex())
        finally:
            c.close()

    def call_with_fds(self, chk):
        """Spec 1.4: a CALL_WITH_FDS is followed by one byte per descriptor
        (SCM_RIGHTS); a server that refuses it answers a plain REPLY/ERROR and
        must still consume those bytes, or the framing is lost."""
        c = self.rw()
        r, w = os.pipe()
        try:
            c.open()
            payload = p_u32(1) + p_str("<domain type='kvm'/>") + p_u32(0)
            serial = c.call(REMOTE, 309, payload, mtype=4)      # DOMAIN_CREATE_XML_WITH_FILES
            socket.send_fds(c.sock, [b"\0"], [r])
            m = c.recv(10)
            chk.expect(m.type == REPLY and m.status == ERROR and m.serial == serial and
                       m.proc == 309, "CALL_WITH_FDS answer: %s" % describe(m))
            serial, m = c.call_wait(REMOTE, PROC_GET_LIB_VERSION)
            check_lib_version_reply(chk, m, serial)
        finally:
            c.close()
            os.close(r)
            os.close(w)

    # -- admin socket

    def admin(self, chk):
        c = Client(self.d.sock("-admin-sock"))
        try:
            serial, m = c.call_wait(REMOTE, PROC_AUTH_LIST)
            check_error_reply(chk, m, serial, REMOTE, PROC_AUTH_LIST, code=VIR_ERR_RPC,
                              prefix="Cannot find program")
            serial, m = c.call_wait(ADMIN, 1, p_u32(0))
            chk.expect(m.type == REPLY and m.status == OK and m.serial == serial and
                       m.prog == ADMIN and m.proc == 1 and m.payload == b"",
                       "ADMIN_CONNECT_OPEN: %s" % describe(m))
            serial, m = c.call_wait(ADMIN, 3)
            check_lib_version_reply(chk, m, serial, prog=ADMIN, proc=3)
            serial, m = c.call_wait(REMOTE, PROC_GET_LIB_VERSION)
            check_error_reply(chk, m, serial, REMOTE, PROC_GET_LIB_VERSION, code=VIR_ERR_RPC,
                              prefix="Cannot find program")
            serial, m = c.call_wait(ADMIN, 999)
            check_error_reply(chk, m, serial, ADMIN, 999, code=VIR_ERR_RPC,
                              prefix="unknown procedure")
        finally:
            c.close()
        # and the main socket does not serve the admin program
        serial, m = self.long.call_wait(ADMIN, 3)
        check_error_reply(chk, m, serial, ADMIN, 3, code=VIR_ERR_RPC, prefix="Cannot find program")

    def run(self):
        t = self.tap
        try:
            self.long = self.rw().open()
            t.result(True, "long-lived client: AUTH_LIST and CONNECT_OPEN qemu:///system")
        except (OSError, Closed, TimeoutError, DecodeError, RuntimeError) as e:
            t.result(False, "long-lived client: AUTH_LIST and CONNECT_OPEN qemu:///system",
                     [str(e), self.d.log_tail()])
            return

        self.case("length word 0: closed without an answer", self.bad_length(0, False))
        self.case("length word 3: closed without an answer", self.bad_length(3, False))
        self.case("length word 27 (< 28): closed without an answer", self.bad_length(27))
        self.case("length word 33554437 (> 32 MiB + 4): closed without an answer",
                  self.bad_length(MAX_LEN + 1))
        self.case("length word 0xffffffff: closed without an answer", self.bad_length(0xffffffff))
        self.case("length word 33554436 (the largest legal message) is read and answered",
                  self.largest_message)
        self.case("unknown program: error 39/7 'Cannot find program', echoing the call",
                  self.unknown_program(0x12345678, 1))
        self.case("remote program version 2: error 'Cannot find program'",
                  self.unknown_program(REMOTE, 2))
        self.case("message type 9: closed without an answer", self.unknown_type)
        self.case("CALL with status ERROR: error 'Unexpected message status'", self.status_error)
        self.case("truncated payload (100 of 128 bytes), client hangs up: no hang, no crash",
                  self.truncated(128, 100))
        self.case("truncated large payload (200 KiB of 1 MiB), client hangs up: no hang, no crash",
                  self.truncated((1 << 20) + 28, 200 * 1024))
        self.case("truncated header (length word and 10 bytes), client hangs up",
                  self.truncated(28, 14))
        self.case("CONNECT_OPEN with optional marker 2: error 39 'Unable to decode'",
                  self.undecodable_open)
        self.case("string of 4194305 bytes (over the maximum): error 39 'Unable to decode'",
                  self.string_over_max)
        self.case("unknown procedures (9999, -1, 0, 426, qemu 1): error 39 'unknown procedure'",
                  self.unknown_procedure)
        self.case("arguments with trailing bytes: error 39 'Unable to decode'",
                  self.trailing_args)
        self.case("garbage (0xdeadbeef...) after a valid message: answered, then closed",
                  self.garbage_after(b"\xde\xad\xbe\xef" * 8, "0xdeadbeef garbage"))
        self.case("garbage (bogus header) after a valid message: answered, then error or close",
                  self.garbage_after(message(0x0badf00d, 3, 1, b"\x55" * 12, vers=7),
                                     "bogus-header garbage"))
        self.case("a call before CONNECT_OPEN: error 'connection not open'", self.before_open)
        self.case("CONNECT_OPEN twice: error 'connection already open'", self.open_twice)
        self.case("keepalive PING answered with the exact 28-byte PONG", self.keepalive)
        self.case("50 pipelined calls: 50 replies with matching serials and procedures",
                  self.pipelining)
        self.case("REPLY, MESSAGE, STREAM and STREAM_HOLE packets from a client are dropped "
                  "silently; the connection stays up", self.unexpected_packets)
        self.case("CONNECT_CLOSE: answered, then the daemon closes the connection",
                  self.connect_close)
        self.case("CALL_WITH_FDS with one descriptor: error reply, the descriptor's byte is "
                  "consumed and the connection stays usable", self.call_with_fds)
        self.case("admin socket: admin program served, remote program refused; "
                  "admin program refused on the main socket", self.admin)
        self.long.close()


# ------------------------------------------------------------------ limits daemon

def limits_suite(tap, d):
    """A daemon with --max-clients 2 --max-client-requests 1."""
    path = d.sock("-sock")

    # keepalive while the only request slot is busy: the first capabilities
    # call probes QEMU (tens of ms) and the rest queue behind it
    chk = Check()
    c = None
    try:
        c = Client(path, timeout=30).open()
        data = b""
        serials = []
        for proc in (7, 7, 4, 7, 4):
            s = c.next_serial()
            serials.append(s)
            data += message(REMOTE, proc, s)
        t0 = time.monotonic()
        c.send(data + message(KEEPALIVE, 1, 0, mtype=MESSAGE))
        events = []
        while len([e for e in events if e[0] == "reply"]) < len(serials):
            m = c.recv(30)
            if m.prog == KEEPALIVE:
                chk.expect(m.raw == PONG_BYTES, "bad PONG %s" % m.raw.hex())
                events.append(("pong", time.monotonic() - t0))
            else:
                chk.expect(m.type == REPLY and m.serial in serials,
                           "unexpected message %s" % describe(m))
                events.append(("reply", time.monotonic() - t0))
        kinds = [e[0] for e in events]
        chk.expect("pong" in kinds, "no PONG while calls were in flight (%s)" % kinds)
        if "pong" in kinds:
            chk.expect(kinds.index("pong") < len(kinds) - 1,
                       "the PONG waited for every call to finish: %s" % events)
        tap.note("keepalive under load: " + ", ".join("%s@%.1fms" % (k, t * 1000) for k, t in events))
    except (OSError, Closed, TimeoutError, DecodeError, RuntimeError) as e:
        chk.expect(False, "%s: %s" % (type(e).__name__, e))
    finally:
        if c:
            c.close()
    tap.result(chk.ok, "--max-client-requests 1: PING answered while calls are queued",
               chk.problems)

    # max clients
    time.sleep(0.3)      # let the daemon notice the close above
    chk = Check()
    clients = []
    try:
        a = Client(path).open()
        clients.append(a)
        b = Client(path).open()
        clients.append(b)
        third = Client(path)
        clients.append(third)
        serial, m = third.call_wait(REMOTE, PROC_AUTH_LIST)
        check_error_reply(chk, m, serial, REMOTE, PROC_AUTH_LIST, code=VIR_ERR_RPC,
                          prefix="Too many active clients")
        closed, got = third.expect_closed(5)
        chk.expect(closed, "the third connection was not closed after its error")
        chk.expect(not got, "more bytes after the error: %s" % got[:64].hex())
        for name, cl in (("first", a), ("second", b)):
            serial, m = cl.call_wait(REMOTE, PROC_GET_LIB_VERSION)
            sub = Check()
            check_lib_version_reply(sub, m, serial)
            for p in sub.problems:
                chk.expect(False, "%s client: %s" % (name, p))
        # a freed slot is reusable
        a.close()
        deadline = time.monotonic() + 5
        ok = False
        last = ""
        while time.monotonic() < deadline and not ok:
            time.sleep(0.1)
            n = Client(path)
            clients.append(n)
            serial, m = n.call_wait(REMOTE, PROC_AUTH_LIST)
            ok = m.type == REPLY and m.status == OK
            last = describe(m)
            n.close()
        chk.expect(ok, "no client accepted after one of the two left: %s" % last)
    except (OSError, Closed, TimeoutError, DecodeError, RuntimeError) as e:
        chk.expect(False, "%s: %s" % (type(e).__name__, e))
    finally:
        for cl in clients:
            cl.close()
    chk.expect(d.alive(), "daemon died:\n" + d.log_tail())
    tap.result(chk.ok, "--max-clients 2: the third client gets 'Too many active clients' and is "
               "closed; the others are served; a freed slot is reused", chk.problems)


def main(argv):
    if len(argv) < 2:
        print("usage: test-wire.py BUILDDIR", file=sys.stderr)
        return 2
    builddir = os.path.abspath(argv[1])
    tap = Tap()
    main_d = Daemon(builddir, label="main")
    lim_d = Daemon(builddir, args=["--max-clients", "2", "--max-client-requests", "1"],
                   label="limits")
    install_watchdog([main_d, lim_d])
    try:
        try:
            main_d.start()
            tap.result(True, "virtqemud --root TMP --timeout 60 starts and listens on "
                       "-sock, -sock-ro and -admin-sock")
        except (RuntimeError, OSError) as e:
            tap.result(False, "virtqemud starts", [str(e)])
            return tap.finish()
        Suite(tap, main_d).run()
        check_stop(tap, main_d)

        try:
            lim_d.start()
            tap.result(True, "virtqemud --max-clients 2 --max-client-requests 1 starts")
            limits_suite(tap, lim_d)
        except (RuntimeError, OSError) as e:
            tap.result(False, "virtqemud --max-clients 2 --max-client-requests 1 starts", [str(e)])
        check_stop(tap, lim_d)
    finally:
        main_d.cleanup()
        lim_d.cleanup()
        signal.alarm(0)
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
