"""The modvirt test guest, seen from the host (Python standard library only).

The guest (README.md next to this file) is a Debian cloud kernel and a
busybox initramfs built by build-guest.sh.  This module gives tests:

  kernel_path(), initrd_path(), ensure_built()   the built files
  accel(), domain_type(), boot_timeout()        KVM or TCG on this host
  cmdline(...)                                   the kernel command line
  os_xml(...), domain_xml(...)                   libvirt domain XML
  SerialReader, wait_for_line(...)               the guest's serial lines
  make_record(...), acked_records(...),
  verify_records(...)                            the writer's disk records
  Qmp                                            a small QMP client

and a command line for shell tests (`python3 guestlib.py --help`).
"""

import argparse
import errno
import json
import os
import re
import select
import socket
import stat
import subprocess
import sys
import tempfile
import time
import tty
import zlib
from xml.sax.saxutils import escape, quoteattr

GUEST_DIR = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.path.join(GUEST_DIR, "out")
BUILD_SCRIPT = os.path.join(GUEST_DIR, "build-guest.sh")

READY = "MODVIRT-GUEST-READY"
UP = "MODVIRT-GUEST-UP"
POWEROFF = "MODVIRT-GUEST-POWEROFF"
REBOOTING = "MODVIRT-GUEST-REBOOTING"
WROTE = "MODVIRT-WROTE"
WRITER_DONE = "MODVIRT-WRITER-DONE"
WRITER_ERROR = "MODVIRT-WRITER-ERROR"

RECORD_SIZE = 4096
_PATTERN = b"modvirt-pattern\n" * 251          # bytes 64..4079
_WROTE_RE = re.compile(r"^MODVIRT-WROTE (\d+)$")


# ---------------------------------------------------------------- files

def kernel_path():
    return os.path.join(OUT_DIR, "vmlinuz")


def initrd_path():
    return os.path.join(OUT_DIR, "initramfs.gz")


def ensure_built():
    """Run build-guest.sh (a no-op when up to date); return (kernel, initrd).

    Raises RuntimeError with the script's output when the build fails.
    """
    r = subprocess.run([BUILD_SCRIPT], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("build-guest.sh failed:\n" + r.stdout + r.stderr)
    return kernel_path(), initrd_path()


# ---------------------------------------------------------------- accelerator

def kvm_usable():
    """True when /dev/kvm can run this guest at hardware speed.

    A host whose KVM is kvm_pvm (the pagetable-based software virtual
    machine some cloud sandboxes offer) emulates every instruction of an
    unmodified guest kernel: the guest takes minutes to boot there, so it
    counts as unusable.
    """
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return False
    return not os.path.isdir("/sys/module/kvm_pvm")


def accel():
    """'kvm' or 'tcg'; $MODVIRT_GUEST_ACCEL overrides the choice."""
    forced = os.environ.get("MODVIRT_GUEST_ACCEL")
    if forced in ("kvm", "tcg"):
        return forced
    return "kvm" if kvm_usable() else "tcg"


def domain_type():
    """The libvirt <domain type=...> that matches accel()."""
    return "kvm" if accel() == "kvm" else "qemu"


def boot_timeout(kvm_seconds=20):
    """A READY timeout: @kvm_seconds under KVM, twice that under TCG (where
    the guest needs about 2.5 s on an idle 2-core machine)."""
    return kvm_seconds if accel() == "kvm" else 2 * kvm_seconds


# ---------------------------------------------------------------- command line and XML

def cmdline(writer=False, count=0, delay_us=0, seed=0, reboot=False, disk=None,
            heartbeat=True, extra=""):
    """The kernel command line for the guest; console=ttyS0 comes last so
    that /dev/console, where the guest prints its protocol lines, is ttyS0."""
    words = ["quiet"]
    if writer:
        words.append("modvirt.writer=1")
        if count:
            words.append("modvirt.count=%d" % count)
        if delay_us:
            words.append("modvirt.delay=%d" % delay_us)
        if seed:
            words.append("modvirt.seed=%d" % seed)
        if disk:
            words.append("modvirt.disk=%s" % disk)
    if reboot:
        words.append("modvirt.reboot=1")
    if not heartbeat:
        words.append("modvirt.heartbeat=0")
    if extra:
        words.append(extra)
    words.append("console=ttyS0")
    return " ".join(words)


def os_xml(cmdline_text=None, kernel=None, initrd=None, machine="pc"):
    """The <os> element of a domain that boots the guest's kernel directly."""
    return ("<os>\n"
            "  <type arch='x86_64' machine=%s>hvm</type>\n"
            "  <kernel>%s</kernel>\n"
            "  <initrd>%s</initrd>\n"
            "  <cmdline>%s</cmdline>\n"
            "</os>" % (quoteattr(machine), escape(kernel or kernel_path()),
                       escape(initrd or initrd_path()),
                       escape(cmdline() if cmdline_text is None else cmdline_text)))


def domain_xml(name, disk=None, disk_format="qcow2", serial=None, cmdline_text=None,
               memory_mib=256, uuid=None):
    """A whole domain for the guest.

    @disk: image path for a virtio disk (vda), or None for no disk.
    @serial: None for a pty serial port, or a path: a file the serial output
    is appended to (nothing is lost before a reader attaches).
    <features><acpi/> is what makes the power button (virsh shutdown) reach
    the guest.
    """
    disk_xml = ""
    if disk:
        disk_xml = ("    <disk type='file' device='disk'>\n"
                    "      <driver name='qemu' type=%s cache='none'/>\n"
                    "      <source file=%s/>\n"
                    "      <target dev='vda' bus='virtio'/>\n"
                    "    </disk>\n" % (quoteattr(disk_format), quoteattr(disk)))
    if serial:
        serial_xml = ("    <serial type='file'>\n"
                      "      <source path=%s/>\n"
                      "      <target port='0'/>\n"
                      "    </serial>\n" % quoteattr(serial))
    else:
        serial_xml = "    <serial type='pty'>\n      <target port='0'/>\n    </serial>\n"
    os_part = "\n".join("  " + l for l in os_xml(cmdline_text).splitlines())
    uuid_xml = "  <uuid>%s</uuid>\n" % uuid if uuid else ""
    return ("<domain type=%s>\n"
            "  <name>%s</name>\n%s"
            "  <memory unit='MiB'>%d</memory>\n"
            "  <vcpu>1</vcpu>\n"
            "%s\n"
            "  <features><acpi/></features>\n"
            "  <on_poweroff>destroy</on_poweroff>\n"
            "  <on_reboot>restart</on_reboot>\n"
            "  <on_crash>destroy</on_crash>\n"
            "  <devices>\n"
            "    <emulator>/usr/bin/qemu-system-x86_64</emulator>\n"
            "%s%s"
            "  </devices>\n"
            "</domain>\n" % (quoteattr(domain_type()), escape(name), uuid_xml, memory_mib,
                             os_part, disk_xml, serial_xml))


# ---------------------------------------------------------------- serial console

class SerialReader:
    """Lines from the guest's serial port.

    @path may be a pty (libvirt's <serial type='pty'>, QEMU's -serial pty),
    a regular file that QEMU appends to (followed like `tail -f`), or a
    listening unix socket (-serial unix:PATH,server).  Carriage returns are
    dropped.  Every line read is kept in .lines.

    A pty loses what the guest prints while nobody has it open: open the
    reader before the guest runs (start the domain paused), or wait for the
    heartbeat line MODVIRT-GUEST-UP, which the guest repeats every second.
    """

    def __init__(self, path):
        self.path = path
        self.lines = []
        self._next = 0          # first line wait_for has not returned yet
        self._buf = b""
        self._sock = None
        self._fd = -1
        st = os.stat(path)
        if stat.S_ISSOCK(st.st_mode):
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self._sock.connect(path)
            self._sock.setblocking(False)
            self._fd = self._sock.fileno()
            self._kind = "socket"
        elif stat.S_ISCHR(st.st_mode):
            self._fd = os.open(path, os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK)
            # Raw: no echo back into the guest, no newline translation.
            tty.setraw(self._fd)
            self._kind = "tty"
        else:
            self._fd = os.open(path, os.O_RDONLY)
            self._kind = "file"

    def close(self):
        if self._sock:
            self._sock.close()
        elif self._fd >= 0:
            os.close(self._fd)
        self._fd = -1
        self._sock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _read_some(self, timeout):
        """Append available data to the buffer; wait up to @timeout for it."""
        if self._kind == "file":
            data = os.read(self._fd, 65536)
            if not data:
                time.sleep(min(timeout, 0.05))
                return
        else:
            ready, _, _ = select.select([self._fd], [], [], timeout)
            if not ready:
                return
            try:
                data = os.read(self._fd, 65536)
            except OSError as e:
                # EIO: the pty's other side (QEMU) is gone or not yet there.
                if e.errno in (errno.EIO, errno.EAGAIN):
                    time.sleep(min(timeout, 0.05))
                    return
                raise
            if not data:
                time.sleep(min(timeout, 0.05))
                return
        self._buf += data.replace(b"\r", b"")
        while b"\n" in self._buf:
            line, self._buf = self._buf.split(b"\n", 1)
            self.lines.append(line.decode("utf-8", "replace"))

    def wait_for(self, pattern, timeout, start=None):
        """The first line at index >= @start (default: any line not yet
        returned by wait_for) that matches the regular expression @pattern
        (re.search); raises TimeoutError after @timeout seconds."""
        rx = re.compile(pattern)
        pos = self._next if start is None else start
        deadline = time.monotonic() + timeout
        while True:
            while pos < len(self.lines):
                line = self.lines[pos]
                pos += 1
                if rx.search(line):
                    self._next = pos
                    return line
            left = deadline - time.monotonic()
            if left <= 0:
                tail = "\n".join(self.lines[-10:])
                raise TimeoutError("no line matching %r on %s within %gs; last lines:\n%s"
                                   % (pattern, self.path, timeout, tail))
            self._read_some(min(left, 0.5))

    def wait_ready(self, timeout):
        """Wait until the guest says it is up (READY, or a heartbeat)."""
        return self.wait_for("^(%s|%s)( |$)" % (READY, UP), timeout)

    def drain(self, seconds=0.0):
        """Read what arrives within @seconds; return all lines so far."""
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            self._read_some(max(0.0, min(left, 0.1)))
            if left <= 0:
                return self.lines


def wait_for_line(path, pattern, timeout):
    """Open the serial port at @path, return the first line matching
    @pattern; TimeoutError after @timeout seconds."""
    with SerialReader(path) as reader:
        return reader.wait_for(pattern, timeout)


# ---------------------------------------------------------------- disk records

def make_record(index, seed=0):
    """The 4096 bytes the guest writes as record @index."""
    head = b"MODVIRT-REC v1 index=%012d seed=%010d" % (index, seed)
    head = head.ljust(63, b" ") + b"\n"
    body = head + _PATTERN
    return body + b"#crc32=%08x\n" % zlib.crc32(body)


def acked_records(lines):
    """How many records the guest acknowledged in @lines (serial lines).

    Records are acknowledged in order; returns n when MODVIRT-WROTE 0 ..
    n-1 were all seen.  Raises ValueError if the sequence has a gap or goes
    back (a guest that rebooted into the writer again starts at 0: pass only
    the lines of one boot).
    """
    n = 0
    for line in lines:
        m = _WROTE_RE.match(line.strip())
        if not m:
            continue
        i = int(m.group(1))
        if i != n:
            raise ValueError("MODVIRT-WROTE %d where %d was expected" % (i, n))
        n += 1
    return n


def _image_format(image, force_share):
    cmd = ["qemu-img", "info", "--output=json"] + (["-U"] if force_share else []) + [image]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("qemu-img info %s: %s" % (image, r.stderr.strip()))
    return json.loads(r.stdout)["format"]


def _describe(index, seed, got, want):
    """Why @got is not the record @want."""
    where = "record %d (offset %d)" % (index, index * RECORD_SIZE)
    if len(got) < RECORD_SIZE:
        return "%s: beyond the end of the image" % where
    if got.count(0) == RECORD_SIZE:
        return "%s: missing (all zero)" % where
    m = re.match(rb"MODVIRT-REC v1 index=(\d{12}) seed=(\d{10})", got)
    if not m:
        return "%s: no record header (starts with %r)" % (where, got[:32])
    if int(m.group(1)) != index:
        return "%s: holds record %d" % (where, int(m.group(1)))
    if int(m.group(2)) != seed:
        return "%s: seed %d, expected %d" % (where, int(m.group(2)), seed)
    crc_ok = got[RECORD_SIZE - 16:] == b"#crc32=%08x\n" % zlib.crc32(got[:RECORD_SIZE - 16])
    first = next(k for k in range(RECORD_SIZE) if got[k] != want[k])
    return "%s: differs from the expected record at byte %d (its checksum is %s)" % (
        where, first, "valid" if crc_ok else "invalid")


def verify_records(image, acked, seed=0, fmt=None, force_share=True):
    """Check that records 0 .. @acked-1 are in @image byte for byte.

    @fmt is the image format ('raw', 'qcow2', ...; probed with qemu-img when
    None).  A non-raw image, backing chain included, is read through
    `qemu-img convert -O raw` into a temporary file.  @force_share (-U) lets
    this read an image a running QEMU holds.  Returns a list of problems,
    one line each; empty means every acknowledged record is intact.
    """
    if fmt is None:
        fmt = _image_format(image, force_share)
    problems = []
    with tempfile.TemporaryDirectory(prefix="modvirt-verify-") as tmp:
        raw = image
        if fmt != "raw":
            raw = os.path.join(tmp, "image.raw")
            cmd = ["qemu-img", "convert"] + (["-U"] if force_share else []) + \
                ["-f", fmt, "-O", "raw", image, raw]
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode != 0:
                return ["qemu-img convert %s: %s" % (image, r.stderr.strip())]
        with open(raw, "rb") as f:
            for i in range(acked):
                want = make_record(i, seed)
                f.seek(i * RECORD_SIZE)
                got = f.read(RECORD_SIZE)
                if got != want:
                    problems.append(_describe(i, seed, got, want))
    return problems


# ---------------------------------------------------------------- QMP

class Qmp:
    """A minimal QMP client: execute commands, collect events."""

    def __init__(self, path, timeout=10):
        self.events = []
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(timeout)
        self._sock.connect(path)
        self._file = self._sock.makefile("rb")
        greeting = self._read()
        if "QMP" not in greeting:
            raise RuntimeError("not a QMP greeting: %r" % greeting)
        self.execute("qmp_capabilities")

    def close(self):
        self._file.close()
        self._sock.close()

    def _read(self):
        line = self._file.readline()
        if not line:
            raise EOFError("QMP connection closed")
        return json.loads(line)

    def execute(self, command, arguments=None):
        """Run @command; return its "return" value, raise on "error"."""
        msg = {"execute": command}
        if arguments:
            msg["arguments"] = arguments
        self._sock.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            reply = self._read()
            if "event" in reply:
                self.events.append(reply)
            elif "error" in reply:
                raise RuntimeError("%s: %s" % (command, reply["error"].get("desc")))
            elif "return" in reply:
                return reply["return"]

    def wait_event(self, name, timeout):
        """The first event called @name (already received or arriving within
        @timeout seconds); TimeoutError otherwise, EOFError if QEMU quits."""
        deadline = time.monotonic() + timeout
        while True:
            for ev in self.events:
                if ev["event"] == name:
                    self.events.remove(ev)
                    return ev
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no QMP event %s within %gs" % (name, timeout))
            self._sock.settimeout(left)
            try:
                self.events.append(self._read())
            except socket.timeout:
                pass


# ---------------------------------------------------------------- command line

def _main(argv):
    p = argparse.ArgumentParser(prog="guestlib.py", description="modvirt test guest helpers")
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("accel", help="print kvm or tcg")
    s = sub.add_parser("boot-timeout", help="print the READY timeout in seconds")
    s = sub.add_parser("cmdline", help="print a kernel command line")
    s.add_argument("--writer", action="store_true")
    s.add_argument("--count", type=int, default=0)
    s.add_argument("--delay-us", type=int, default=0)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--reboot", action="store_true")
    s = sub.add_parser("wait-line", help="print the first serial line matching REGEX")
    s.add_argument("path")
    s.add_argument("regex")
    s.add_argument("timeout", type=float)
    s.add_argument("--resume", metavar="QMP_SOCKET",
                   help="once the port is open, resume the paused QEMU (QMP cont)")
    s = sub.add_parser("acked", help="count MODVIRT-WROTE lines in a serial log file")
    s.add_argument("log")
    s = sub.add_parser("verify", help="verify the first ACKED records of IMAGE")
    s.add_argument("image")
    s.add_argument("acked", type=int)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--format")
    s = sub.add_parser("qmp", help="run one QMP command; optionally wait for an event")
    s.add_argument("socket")
    s.add_argument("command")
    s.add_argument("--arguments", default=None, help="JSON object")
    s.add_argument("--wait-event")
    s.add_argument("--timeout", type=float, default=10)
    a = p.parse_args(argv)

    if a.cmd == "accel":
        print(accel())
    elif a.cmd == "boot-timeout":
        print(boot_timeout())
    elif a.cmd == "cmdline":
        print(cmdline(writer=a.writer, count=a.count, delay_us=a.delay_us, seed=a.seed,
                      reboot=a.reboot))
    elif a.cmd == "wait-line":
        try:
            with SerialReader(a.path) as reader:
                if a.resume:
                    q = Qmp(a.resume)
                    q.execute("cont")
                    q.close()
                print(reader.wait_for(a.regex, a.timeout))
        except TimeoutError as e:
            print(e, file=sys.stderr)
            return 1
    elif a.cmd == "acked":
        with open(a.log, "rb") as f:
            text = f.read().decode("utf-8", "replace").replace("\r", "")
        try:
            # A last line without its newline may be cut short: not counted.
            print(acked_records(text.split("\n")[:-1]))
        except ValueError as e:
            print(e, file=sys.stderr)
            return 1
    elif a.cmd == "verify":
        problems = verify_records(a.image, a.acked, seed=a.seed, fmt=a.format)
        for line in problems[:50]:
            print(line)
        if len(problems) > 50:
            print("... %d problems in all" % len(problems))
        return 1 if problems else 0
    elif a.cmd == "qmp":
        q = Qmp(a.socket)
        try:
            args = json.loads(a.arguments) if a.arguments else None
            print(json.dumps(q.execute(a.command, args)))
            if a.wait_event:
                print(json.dumps(q.wait_event(a.wait_event, a.timeout)))
        except (TimeoutError, EOFError, RuntimeError) as e:
            print(e, file=sys.stderr)
            return 1
        finally:
            q.close()
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
