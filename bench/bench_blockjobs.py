"""Block-job benchmark (issue 4): the measuring half of `bench/run.sh blockjobs`.

A benchmark, not a test (see bench/README.md).  For each job -- active
commit + pivot, pull, copy + pivot -- over a fresh base <- snap1 <- snap2
<- active chain of qcow2 images with 8 MiB of distinct data per layer, on
a running diskless-boot guest, the same job is run:

  * directly over QMP against a QEMU started here with the -blockdev
    command line the daemons generate (the baseline);
  * through Debian's libvirtd (python3-libvirt client);
  * through modvirt's virtqemud, on its own socket and through virtproxyd;

and timed from the client's first request to the moment the client knows
the job is over and QEMU is left as the daemon leaves it.  Fixed cost =
median(through the daemon) - median(direct QMP).

Event latency: from QEMU emitting BLOCK_JOB_READY / BLOCK_JOB_COMPLETED
(the event's own "timestamp", wall clock) to the python client's callback
(time.time() first thing in it; the callbacks run on libvirt's default
event loop in a thread of their own).  QEMU's timestamp of the event a
daemon received comes from run.sh's qmp-tap.so preloaded into the daemon
(every chunk the daemon read() from its monitor, with the time of the
read); for libvirtd also from its own debug log (qemu.qemu_monitor_json
"Line [...]"), which must agree.
"""

import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import threading
import time

import libvirt

MiB = 1 << 20
LAYERS = ["base", "snap1", "snap2", "active"]
LAYER_DATA = 8 * MiB
VIRTUAL_SIZE = 64 * MiB
JOBS = ["commit", "pull", "copy"]
JOB_TITLES = {
    "commit": "active commit + pivot",
    "pull": "pull",
    "copy": "copy + pivot",
}
SYSTEMS = ["qmp", "libvirt", "modvirt", "modvirt-proxy"]
SYSTEM_TITLES = {
    "qmp": "direct QMP",
    "libvirt": "libvirtd",
    "modvirt": "virtqemud (direct socket)",
    "modvirt-proxy": "virtqemud through virtproxyd",
}
TARGET_FIXED_MS = 5.0
TARGET_LATENCY_MS = 2.0
DOM_PREFIX = "bench-bj-"
# Guests are started paused: a running one with nothing to boot keeps a vCPU
# busy in SeaBIOS for ~2.5 s on this VM (one of only 2 CPUs), and QEMU's
# block layer works the same with the vCPU stopped.  A fresh guest is left
# alone for SETTLE seconds before its job (the daemons' start-up work ends).
SETTLE = 0.2


def pattern(i):
    """The byte layer i (0 = base ... 3 = active) writes."""
    return 0x11 * (i + 1)


def _run(*argv, **kw):
    r = subprocess.run(list(argv), capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise RuntimeError("%s failed: %s" % (" ".join(argv), (r.stderr or r.stdout).strip()))
    return r.stdout


# ------------------------------------------------------------------ images

def make_template(directory):
    """base <- snap1 <- snap2 <- active, 64 MiB virtual, each header naming
    its backing file by a relative name (so the directory can be copied);
    layer i holds 8 MiB of pattern(i) at i * 8 MiB."""
    os.makedirs(directory, exist_ok=True)
    for i, name in enumerate(LAYERS):
        path = os.path.join(directory, name + ".qcow2")
        if i == 0:
            _run("qemu-img", "create", "-q", "-f", "qcow2", path, str(VIRTUAL_SIZE))
        else:
            _run("qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b",
                 LAYERS[i - 1] + ".qcow2", path, cwd=directory)
        _run("qemu-io", "-f", "qcow2", path, "-c",
             "write -P %d %d %d" % (pattern(i), i * LAYER_DATA, LAYER_DATA))
    _run("qemu-img", "create", "-q", "-f", "qcow2", os.path.join(directory, "copy.qcow2"),
         str(VIRTUAL_SIZE))


def fresh_chain(template, directory):
    """A private copy of the template (flushed to disk, so that writeback of
    the copy does not land in the timed part).  Returns {layer: path} plus
    'copy' (an empty qcow2 destination for the copy job)."""
    if os.path.exists(directory):
        shutil.rmtree(directory)
    os.makedirs(directory)
    out = {}
    for name in LAYERS + ["copy"]:
        src = os.path.join(template, name + ".qcow2")
        dst = os.path.join(directory, name + ".qcow2")
        shutil.copyfile(src, dst)
        fd = os.open(dst, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        out[name] = dst
    return out


def check_image(path):
    """@path, the disk's image after any of the jobs, has no backing file and
    holds all four layers' data.  Returns an error string or None."""
    info = json.loads(_run("qemu-img", "info", "-U", "--output=json", path))
    if info.get("backing-filename"):
        return "%s: backing file %r" % (path, info.get("backing-filename"))
    cmds = []
    for i in range(len(LAYERS)):
        cmds += ["-c", "read -P %d %d %d" % (pattern(i), i * LAYER_DATA, LAYER_DATA)]
    r = subprocess.run(["qemu-io", "-U", "-r", "-f", "qcow2", path] + cmds,
                       capture_output=True, text=True)
    if r.returncode != 0 or "fail" in r.stdout.lower() or "pattern verification" in r.stdout:
        return "%s: data check failed: %s" % (path, (r.stdout + r.stderr).strip()[-300:])
    return None


# ------------------------------------------------------------------ direct QMP

class Qmp:
    """A small QMP client: commands from the calling thread, a reader thread
    that stamps each event with time.time() when its line is read (the
    same shape as a libvirt client: events arrive on a thread of their
    own and wake the waiting one)."""

    def __init__(self, path, timeout=30):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock.connect(path)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
        self.cond = threading.Condition()
        self.events = []          # (time.time() at read, message)
        self.replies = []
        self.sent = []            # (time.time() just before sending, command)
        self.closed = False
        self.file = self.sock.makefile("rb")
        greeting = json.loads(self.file.readline())
        if "QMP" not in greeting:
            raise RuntimeError("no QMP greeting: %r" % greeting)
        self.thread = threading.Thread(target=self._reader, daemon=True)
        self.thread.start()
        self.cmd("qmp_capabilities")

    def _reader(self):
        try:
            for line in self.file:
                t = time.time()
                msg = json.loads(line)
                with self.cond:
                    if "event" in msg:
                        self.events.append((t, msg))
                    else:
                        self.replies.append(msg)
                    self.cond.notify_all()
        except (OSError, ValueError):
            pass
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def cmd(self, name, **args):
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        with self.cond:
            self.sent.append((time.time(), name))
            self.sock.sendall(json.dumps(msg).encode() + b"\n")
            deadline = time.monotonic() + 60
            while not self.replies:
                if self.closed or not self.cond.wait(deadline - time.monotonic()):
                    raise RuntimeError("QMP %s: no reply" % name)
            reply = self.replies.pop(0)
        if "error" in reply:
            raise RuntimeError("QMP %s: %s" % (name, reply["error"].get("desc")))
        return reply.get("return")

    def wait_event(self, match, timeout=120):
        """The first event (time, message) for which match(message) holds."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for t, m in self.events:
                    if match(m):
                        return t, m
                if self.closed or not self.cond.wait(max(0.0, deadline - time.monotonic())):
                    raise RuntimeError("QMP: no matching event within %d s" % timeout)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def _storage(i):
    return "libvirt-%d-storage" % i


def _format(i):
    return "libvirt-%d-format" % i


def qemu_argv(chain, workdir, accel, name):
    """The command line virtqemud generates for the benchmark's guest
    (checked against a running one when the harness was written), with
    our own monitor socket.  Layer node names as the daemons give them:
    libvirt-1 is the active layer, libvirt-4 the base."""
    argv = ["/usr/bin/qemu-system-x86_64", "-name", "guest=%s,debug-threads=on" % name, "-S",
            "-machine", "pc-i440fx-7.2,accel=%s,usb=off,dump-guest-core=off,acpi=off" % accel,
            "-m", "size=131072k", "-overcommit", "mem-lock=off",
            "-smp", "1,sockets=1,cores=1,threads=1", "-display", "none",
            "-no-user-config", "-nodefaults",
            "-chardev", "socket,id=charmonitor,path=%s,server=on,wait=off"
            % os.path.join(workdir, "qmp.sock"),
            "-mon", "chardev=charmonitor,id=monitor,mode=control",
            "-rtc", "base=utc", "-no-shutdown", "-boot", "strict=on",
            "-device", "piix3-usb-uhci,id=usb,bus=pci.0,addr=0x1.0x2"]
    n = len(LAYERS)
    for k, layer in enumerate(LAYERS):          # base first
        i = n - k
        argv += ["-blockdev", json.dumps({"driver": "file", "filename": chain[layer],
                                          "node-name": _storage(i), "auto-read-only": True,
                                          "discard": "unmap"}, separators=(",", ":"))]
        argv += ["-blockdev", json.dumps({"node-name": _format(i), "read-only": i != 1,
                                          "driver": "qcow2", "file": _storage(i),
                                          "backing": _format(i + 1) if i < n else None},
                                         separators=(",", ":"))]
    argv += ["-device", "virtio-blk-pci,bus=pci.0,addr=0x2,drive=%s,id=virtio-disk0,bootindex=1"
             % _format(1),
             "-device", "virtio-balloon-pci,id=balloon0,bus=pci.0,addr=0x3",
             "-msg", "timestamp=on"]
    return argv


class DirectGuest:
    """A QEMU we start ourselves on @chain, its vCPU paused (-S, as the
    daemons' guests, started paused)."""

    def __init__(self, chain, workdir, accel, name):
        self.workdir = workdir
        sock = os.path.join(workdir, "qmp.sock")
        if os.path.exists(sock):
            os.unlink(sock)
        self.log = open(os.path.join(workdir, "qemu.log"), "wb")
        self.proc = subprocess.Popen(qemu_argv(chain, workdir, accel, name),
                                     stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        try:
            self.qmp = Qmp(sock)
        except Exception:
            self.stop()
            raise

    def stop(self):
        if getattr(self, "qmp", None):
            try:
                self.qmp.cmd("quit")
            except Exception:
                pass
            self.qmp.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self.log.close()


def _is(name, job_id, key="device"):
    return lambda m: m["event"] == name and m.get("data", {}).get(key) == job_id


def _concluded(job_id):
    return lambda m: (m["event"] == "JOB_STATUS_CHANGE" and m["data"].get("id") == job_id and
                      m["data"].get("status") == "concluded")


def _qemu_time(m):
    ts = m["timestamp"]
    return ts["seconds"] + ts["microseconds"] / 1e6


def qmp_job(guest, job, chain):
    """One job over QMP, as the daemons issue it (auto-dismiss off), until
    QEMU is in the state the daemons leave it in: job dismissed and the
    nodes that left the disk's chain deleted.  Returns the timings."""
    q = guest.qmp
    jid = "bench-" + job
    w0 = time.time()
    t0 = time.perf_counter()
    if job == "commit":
        q.cmd("block-commit", **{"job-id": jid, "device": _format(1), "top-node": _format(1),
                                 "base-node": _format(4), "auto-finalize": True,
                                 "auto-dismiss": False})
        removed = [1, 2, 3]
    elif job == "pull":
        q.cmd("block-stream", **{"job-id": jid, "device": _format(1), "auto-finalize": True,
                                 "auto-dismiss": False})
        removed = [2, 3, 4]
    else:
        q.cmd("blockdev-add", **{"driver": "file", "filename": chain["copy"],
                                 "node-name": _storage(9), "auto-read-only": True,
                                 "discard": "unmap"})
        q.cmd("blockdev-add", **{"driver": "qcow2", "file": _storage(9), "node-name": _format(9),
                                 "backing": None})
        q.cmd("blockdev-mirror", **{"job-id": jid, "device": _format(1), "target": _format(9),
                                    "sync": "full", "auto-finalize": True,
                                    "auto-dismiss": False})
        removed = [1, 2, 3, 4]
    out = {"wall0": w0}
    if job in ("commit", "copy"):
        t_ready, m = q.wait_event(_is("BLOCK_JOB_READY", jid))
        out["ready_ms"] = 1e3 * (t_ready - w0)
        out["ev_ready"] = {"qemu": _qemu_time(m), "client": t_ready, "recv": t_ready}
        q.cmd("job-complete", id=jid)
    t_done, m = q.wait_event(_is("BLOCK_JOB_COMPLETED", jid))
    if m["data"].get("error"):
        raise RuntimeError("QMP %s failed: %s" % (job, m["data"]["error"]))
    out["ev_completed"] = {"qemu": _qemu_time(m), "client": t_done, "recv": t_done}
    t_conc, m2 = q.wait_event(_concluded(jid))
    out["completed_ms"] = 1e3 * (t_conc - w0)
    out["concluded_qemu"] = _qemu_time(m2)
    q.cmd("job-dismiss", id=jid)
    t_dismissed = time.perf_counter()
    for i in removed:
        q.cmd("blockdev-del", **{"node-name": _format(i)})
        q.cmd("blockdev-del", **{"node-name": _storage(i)})
    t1 = time.perf_counter()
    out["sent"] = {}
    for t, name in q.sent:
        if t >= w0 and name not in out["sent"]:
            out["sent"][name] = t
    out["total_ms"] = 1e3 * (t1 - t0)
    out["core_ms"] = 1e3 * (t_dismissed - t0)
    out["cleanup_ms"] = 1e3 * (t1 - t_dismissed)
    return out


# ------------------------------------------------------------------ daemons

class Watch:
    """What the client saw of one domain's block job events."""

    def __init__(self):
        self.cond = threading.Condition()
        self.events = []          # (time.time(), time.perf_counter(), status)

    def add(self, status):
        w = time.time()
        p = time.perf_counter()
        with self.cond:
            self.events.append((w, p, status))
            self.cond.notify_all()

    def wait(self, status, timeout=120):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for e in self.events:
                    if e[2] == status:
                        return e
                for e in self.events:
                    if e[2] in (libvirt.VIR_DOMAIN_BLOCK_JOB_FAILED,
                                libvirt.VIR_DOMAIN_BLOCK_JOB_CANCELED):
                        raise RuntimeError("block job ended with status %d" % e[2])
                if not self.cond.wait(max(0.0, deadline - time.monotonic())):
                    raise RuntimeError("no block job event %d within %d s" % (status, timeout))


class Client:
    """One libvirt connection with a BLOCK_JOB_2 callback; events routed by
    domain name to the Watch of the run in progress."""

    def __init__(self, uri):
        self.uri = uri
        self.conn = libvirt.open(uri)
        self.watches = {}
        self.lock = threading.Lock()
        self.conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_BLOCK_JOB_2,
                                         self._cb, None)

    def _cb(self, conn, dom, disk, typ, status, opaque):
        with self.lock:
            w = self.watches.get(dom.name())
        if w is not None:
            w.add(status)

    def watch(self, name):
        w = Watch()
        with self.lock:
            self.watches[name] = w
        return w

    def close(self):
        try:
            self.conn.close()
        except libvirt.libvirtError:
            pass


def _disk_source(dom):
    import xml.etree.ElementTree as ET
    root = ET.fromstring(dom.XMLDesc(0))
    for d in root.findall("./devices/disk"):
        if d.find("target").get("dev") == "vda":
            return d.find("source").get("file")
    return None


def daemon_job(client, dom, watch, job, chain):
    """One job through a daemon, until the client knows it is over: the API
    call(s) returned and the COMPLETED event arrived."""
    w0 = time.time()
    t0 = time.perf_counter()
    out = {"wall0": w0}
    if job == "commit":
        dom.blockCommit("vda", None, None, 0, libvirt.VIR_DOMAIN_BLOCK_COMMIT_ACTIVE)
    elif job == "pull":
        dom.blockPull("vda", 0, 0)
    else:
        dest = ("<disk type='file'><driver name='qemu' type='qcow2'/><source file='%s'/></disk>"
                % chain["copy"])
        dom.blockCopy("vda", dest, None, libvirt.VIR_DOMAIN_BLOCK_COPY_REUSE_EXT)
    out["start_call_ms"] = 1e3 * (time.perf_counter() - t0)
    t_end = time.perf_counter()
    if job in ("commit", "copy"):
        wr, pr, _ = watch.wait(libvirt.VIR_DOMAIN_BLOCK_JOB_READY)
        out["ready_ms"] = 1e3 * (pr - t0)
        out["ev_ready"] = {"client": wr}
        try:
            dom.blockJobAbort("vda", libvirt.VIR_DOMAIN_BLOCK_JOB_ABORT_PIVOT)
        except libvirt.libvirtError as e:
            # Seen with virtqemud 666ce25: the pivot request loses a race
            # with the daemon's own re-sent job-complete (see README).  The
            # job still pivots; counted and reported, the run kept.
            out["pivot_error"] = str(e)
        t_end = time.perf_counter()
        out["pivot_call_ms"] = 1e3 * (t_end - pr)
    wc, pc, _ = watch.wait(libvirt.VIR_DOMAIN_BLOCK_JOB_COMPLETED)
    out["completed_ms"] = 1e3 * (pc - t0)
    out["ev_completed"] = {"client": wc}
    t1 = max(t_end, pc)
    out["total_ms"] = 1e3 * (t1 - t0)
    return out


def expected_top(job, chain):
    return {"commit": chain["base"], "pull": chain["active"], "copy": chain["copy"]}[job]


# ------------------------------------------------------------------ QEMU's timestamps

def _read_new(path, offset):
    """What @path holds from @offset on (b"" if it is not there yet)."""
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read()
    except OSError:
        return b""


class TapLog:
    """Reads qmp-tap.so's log incrementally: per (pid, fd, direction)
    stream, the QMP events the daemon read, with QEMU's timestamp and the
    time of the read() that completed the line, and the commands it sent,
    with the time of the write."""

    HEAD = re.compile(rb"@(\d+\.\d+) (\d+) (\d+) (\d+) ([RW])\n")

    def __init__(self, path):
        self.path = path
        self.offset = 0
        self.partial = {}
        self.events = []          # dicts: name, data, qemu, recv
        self.commands = []        # dicts: name, sent

    def poll(self):
        buf = _read_new(self.path, self.offset)
        pos = 0
        while True:
            m = self.HEAD.match(buf, pos)
            if not m:
                break
            n = int(m.group(4))
            start = m.end()
            if start + n + 1 > len(buf):
                break               # chunk still being written
            recv = float(m.group(1))
            key = (m.group(2), m.group(3), m.group(5))
            data = self.partial.get(key, b"") + buf[start:start + n]
            lines = data.split(b"\n")
            self.partial[key] = lines.pop()
            for line in lines:
                line = line.strip()
                if not line.startswith(b"{"):
                    continue
                try:
                    msg = json.loads(line)
                except ValueError:
                    continue
                if not isinstance(msg, dict):
                    continue
                if key[2] == b"W" and "execute" in msg:
                    self.commands.append({"name": msg["execute"], "sent": recv})
                elif "event" in msg and "timestamp" in msg:
                    self.events.append({"name": msg["event"], "data": msg.get("data", {}),
                                        "qemu": _qemu_time(msg), "recv": recv})
            pos = start + n + 1
        self.offset += pos


class LibvirtLog:
    """libvirtd's debug log of qemu.qemu_monitor_json: every line read from
    a monitor is logged as `Line [...]`; the events with QEMU's timestamps."""

    LINE = re.compile(r"Line \[(\{.*\})\]\s*$")

    def __init__(self, path):
        self.path = path
        self.offset = 0
        self.events = []

    def poll(self):
        buf = _read_new(self.path, self.offset)
        end = buf.rfind(b"\n") + 1
        for raw in buf[:end].split(b"\n"):
            m = self.LINE.search(raw.decode("utf-8", "replace"))
            if not m:
                continue
            try:
                msg = json.loads(m.group(1))
            except ValueError:
                continue
            if "event" in msg and "timestamp" in msg:
                self.events.append({"name": msg["event"], "data": msg.get("data", {}),
                                    "qemu": _qemu_time(msg)})
        self.offset += end


def _first(events, names, lo, hi, status=None):
    for e in events:
        if e["name"] in names and lo <= e["qemu"] <= hi:
            if status is None or e["data"].get("status") == status:
                return e
    return None


def attach_qemu_times(run, tap, lvlog):
    """Fill in QEMU's timestamps (and the daemon's read time) for the READY
    and COMPLETED events of @run, from the daemon's tap log (and libvirtd's
    own log)."""
    lo = run["wall0"] - 0.001
    hi = run["wall0"] + run["total_ms"] / 1e3 + 0.001
    tap.poll()
    if lvlog:
        lvlog.poll()
    for key, names in (("ev_ready", ("BLOCK_JOB_READY",)),
                       ("ev_completed", ("BLOCK_JOB_COMPLETED",))):
        if key not in run:
            continue
        e = _first(tap.events, names, lo, hi)
        if e is None:
            run[key]["missing"] = "no %s in the tap log" % names[0]
            continue
        run[key]["qemu"] = e["qemu"]
        run[key]["tap_qemu"] = e["qemu"]
        run[key]["recv"] = e["recv"]
        if lvlog:
            le = _first(lvlog.events, names, lo, hi)
            run[key]["libvirt_log_qemu"] = le["qemu"] if le else None
            if le is not None:
                run[key]["qemu"] = le["qemu"]       # libvirtd's own record is the reference
    conc = _first(tap.events, ("JOB_STATUS_CHANGE",), lo, hi, "concluded")
    if conc:
        run["concluded_qemu"] = conc["qemu"]
    sent = {}
    for c in tap.commands:
        if lo <= c["sent"] <= hi and c["name"] not in sent:
            sent[c["name"]] = c["sent"]
    run["sent"] = sent


START_COMMAND = {"commit": "block-commit", "pull": "block-stream", "copy": "blockdev-mirror"}


def qemu_busy(run, job):
    """The part of a run that is QEMU's own work, from QEMU's timestamps and
    the send times of the commands: start command -> READY (two-phase) or
    -> concluded (pull), plus job-complete -> concluded.  The rest of the
    run is the client's and the daemon's doing.  None if a time is missing."""
    sent = run.get("sent", {})
    start = sent.get(START_COMMAND[job])
    end = run.get("concluded_qemu")
    if start is None or end is None:
        return None
    if job == "pull":
        return 1e3 * (end - start)
    ready = run.get("ev_ready", {}).get("qemu")
    complete = sent.get("job-complete")
    if ready is None or complete is None:
        return None
    return 1e3 * ((ready - start) + (end - complete))


# ------------------------------------------------------------------ the plan

def percentile(v, p):
    s = sorted(v)
    if not s:
        return float("nan")
    k = (len(s) - 1) * p
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def run(cfg, runs, jobs, guest_xml, log):
    """@runs measured runs (after one warm-up) of every job on every system,
    the order of the systems rotating from run to run; the daemons' guests
    defined by @guest_xml(name, image, type) (bench.py's, issue 3's guest).
    Returns the raw per-run records: res[job][system] = [run dict, ...]."""
    work = cfg["workdir"]
    template = os.path.join(work, "template")
    make_template(template)
    accel = cfg["type"]
    libvirt.virEventRegisterDefaultImpl()
    threading.Thread(target=lambda: [libvirt.virEventRunDefaultImpl() for _ in iter(int, 1)],
                     daemon=True).start()
    clients = {s: Client(cfg["uris"][s]) for s in SYSTEMS if s != "qmp"}
    taps = {"libvirt": TapLog(cfg["taps"]["libvirt"]), "modvirt": TapLog(cfg["taps"]["modvirt"])}
    lvlog = LibvirtLog(cfg["libvirt_log"])
    for t in taps.values():
        t.poll()
    lvlog.poll()
    res = {j: {s: [] for s in SYSTEMS} for j in jobs}
    counter = [0]

    def one(job, system, measured):
        counter[0] += 1
        name = "%s%s-%d" % (DOM_PREFIX, system, counter[0])
        chain = fresh_chain(template, os.path.join(work, "run-%s" % system))
        if system == "qmp":
            g = DirectGuest(chain, os.path.join(work, "run-qmp"), accel, name)
            try:
                time.sleep(SETTLE)
                r = qmp_job(g, job, chain)
            finally:
                g.stop()
        else:
            c = clients[system]
            dom = c.conn.createXML(guest_xml(name, chain["active"], accel),
                                   libvirt.VIR_DOMAIN_START_PAUSED)
            try:
                watch = c.watch(name)
                time.sleep(SETTLE)
                r = daemon_job(c, dom, watch, job, chain)
                src = _disk_source(dom)
                if src != expected_top(job, chain):
                    raise RuntimeError("%s %s: disk source after the job is %s"
                                       % (system, job, src))
            finally:
                try:
                    dom.destroy()
                except libvirt.libvirtError:
                    pass
            daemon = "libvirt" if system == "libvirt" else "modvirt"
            attach_qemu_times(r, taps[daemon], lvlog if daemon == "libvirt" else None)
        busy = qemu_busy(r, job)
        if busy is not None:
            r["qemu_busy_ms"] = busy
            r["overhead_ms"] = r["total_ms"] - busy
        err = check_image(expected_top(job, chain))
        if err:
            raise RuntimeError("%s %s: %s" % (system, job, err))
        if measured:
            res[job][system].append(r)
        return r

    try:
        for job in jobs:
            log("%s (%d runs after 1 warm-up each):" % (JOB_TITLES[job], runs))
            for s in SYSTEMS:
                one(job, s, False)
            for i in range(runs):
                k = i % len(SYSTEMS)
                order = SYSTEMS[k:] + SYSTEMS[:k]
                if i % 2:
                    order = order[::-1]
                line = []
                for s in order:
                    r = one(job, s, True)
                    line.append("%s %.1f" % (s, r["total_ms"]))
                log("  run %2d: %s ms" % (i + 1, ", ".join(line)))
    finally:
        for c in clients.values():
            for d in c.conn.listAllDomains(0):
                if d.name().startswith(DOM_PREFIX):
                    try:
                        d.destroy()
                    except libvirt.libvirtError:
                        pass
            c.close()
    return res


# ------------------------------------------------------------------ summary

def latency_ms(r, key):
    e = r.get(key)
    if not e or "qemu" not in e:
        return None
    return 1e3 * (e["client"] - e["qemu"])


def summarize(res):
    out = {"jobs": {}, "latency": {}}
    def med(rs, key):
        v = [r[key] for r in rs if key in r]
        return statistics.median(v) if v else None

    for job, by in res.items():
        q = med(by["qmp"], "total_ms")
        qo = med(by["qmp"], "overhead_ms")
        row = {"qmp": q, "qmp_core": med(by["qmp"], "core_ms"),
               "qmp_cleanup": med(by["qmp"], "cleanup_ms"), "qmp_overhead": qo}
        for s in SYSTEMS[1:]:
            m = med(by[s], "total_ms")
            row[s] = m
            row[s + "_fixed"] = m - q
            o = med(by[s], "overhead_ms")
            row[s + "_overhead"] = o
            row[s + "_fixed2"] = o - qo if o is not None and qo is not None else None
            row[s + "_pivot_errors"] = sum(1 for r in by[s] if "pivot_error" in r)
        out["jobs"][job] = row
    for s in SYSTEMS:
        for key, label in (("ev_ready", "READY"), ("ev_completed", "COMPLETED")):
            vals = []
            split = []          # (QEMU -> daemon read, daemon read -> client)
            per_job = {}
            for job, by in res.items():
                for r in by[s]:
                    v = latency_ms(r, key)
                    if v is None:
                        continue
                    vals.append(v)
                    per_job.setdefault(job, []).append(v)
                    e = r[key]
                    if "recv" in e:
                        split.append((1e3 * (e["recv"] - e["qemu"]), 1e3 * (e["client"] - e["recv"])))
            if vals:
                out["latency"].setdefault(s, {})[label] = {
                    "median": statistics.median(vals), "p90": percentile(vals, 0.9),
                    "n": len(vals), "max": max(vals),
                    "per_job": {j: statistics.median(v) for j, v in per_job.items()},
                    "to_daemon": statistics.median(x[0] for x in split) if split else None,
                    "in_daemon": statistics.median(x[1] for x in split) if split else None,
                }
    return out


# ------------------------------------------------------------------ report

def _verdict(ok):
    return "PASS" if ok else "FAIL"


def _loadavg():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


def build_report(res, summ, meta):
    """(text table for the terminal, markdown for the results file)."""
    def f2(v, fmt="%+.1f"):
        return "-" if v is None else fmt % v

    rows = []
    for job in res:
        j = summ["jobs"][job]
        lv_fixed = j["libvirt_fixed"]
        for s in ("modvirt", "modvirt-proxy"):
            fixed = j[s + "_fixed"]
            fixed2 = j[s + "_fixed2"]
            rows.append((JOB_TITLES[job], SYSTEM_TITLES[s], "%.1f" % j["qmp"],
                         "%.1f" % j["libvirt"], "%+.1f" % lv_fixed,
                         "%.1f" % j[s], "%+.1f" % fixed,
                         "%s / %s" % (f2(j["libvirt_fixed2"]), f2(fixed2)),
                         "%.2fx" % (fixed / lv_fixed) if lv_fixed > 0 and fixed > 0 else "-",
                         "<= %.0f ms" % TARGET_FIXED_MS, _verdict(fixed <= TARGET_FIXED_MS),
                         "-" if fixed2 is None else _verdict(fixed2 <= TARGET_FIXED_MS)))
    lrows = []
    for label in ("READY", "COMPLETED"):
        for s in SYSTEMS:
            v = summ["latency"].get(s, {}).get(label)
            if not v:
                continue
            judged = s in ("modvirt", "modvirt-proxy")
            split = ("%.2f + %.2f" % (v["to_daemon"], v["in_daemon"])
                     if s != "qmp" and v["to_daemon"] is not None else "-")
            lrows.append((label, SYSTEM_TITLES[s], "%.2f" % v["median"], "%.2f" % v["p90"],
                          "%.2f" % v["max"], str(v["n"]), split,
                          "<= %.0f ms" % TARGET_LATENCY_MS if judged else "-",
                          _verdict(v["median"] <= TARGET_LATENCY_MS) if judged
                          else ("floor" if s == "qmp" else "info")))
    hdr = ("job", "modvirt path", "QMP ms", "libvirt ms", "libvirt fixed", "modvirt ms",
           "modvirt fixed", "fixed, QEMU's time taken out: libvirt / modvirt", "ratio",
           "target", "result", "result, QEMU's time taken out")
    lhdr = ("event", "system", "median ms", "p90 ms", "max ms", "n",
            "QEMU->daemon + daemon->client", "target", "result")

    def table(h, rs):
        w = [max(len(str(r[i])) for r in rs + [h]) for i in range(len(h))]
        out = ["  ".join(str(c).ljust(w[i]) for i, c in enumerate(h)).rstrip(),
               "  ".join("-" * w[i] for i in range(len(h)))]
        out += ["  ".join(str(c).ljust(w[i]) for i, c in enumerate(r)).rstrip() for r in rs]
        return out

    text = ["block jobs: modvirt vs libvirt %s, %s" % (meta["libvirt_version"], meta["started"]),
            ""] + table(hdr, rows) + [""] + table(lhdr, lrows)

    def mdtable(h, rs):
        return (["| " + " | ".join(h) + " |", "|" + "---|" * len(h)] +
                ["| " + " | ".join(str(c) for c in r) + " |" for r in rs])

    md = ["# modvirt vs libvirt: block-job benchmark, %s" % meta["started"], ""]
    md.append("Produced by `bench/run.sh blockjobs` in %.0f s. Client for every system: Debian's "
              "`/usr/bin/python3` with python3-libvirt (libvirt %s client library); the "
              "baseline: the same python talking QMP itself. Machine: `%s`, %d CPUs, kernel %s, "
              "load average %s before and %s after (other engineers' tests share the "
              "machine). modvirt: `%s`, its run directory (live status files) on `%s`. libvirt: Debian's `%s` (its status files on tmpfs). Guests: domain type `%s`, "
              "128 MiB, 1 vCPU, no OS (SeaBIOS finds nothing to boot); one disk on the chain "
              "base <- snap1 <- snap2 <- active (qcow2, 64 MiB virtual, 8 MiB of distinct data "
              "per layer), a fresh copy for every run. %d measured runs per job and system "
              "after 1 warm-up each; the order of the four systems rotates (and reverses every "
              "other run). Medians in ms."
              % (meta["elapsed"], meta["libvirt_version"], meta["host"], os.cpu_count(),
                 meta["kernel"], meta["load_before"], meta["load_after"], meta["modvirt_build"],
                 meta["modvirt_run_fs"], meta["libvirtd_version"], meta["type"], meta["runs"]))
    md.append("")
    md.append("Fixed cost = median through the daemon - median of the same job over QMP "
              "(commands as the daemons send them, `auto-dismiss: false`, until QEMU is left "
              "as the daemons leave it: job dismissed, the nodes that left the chain deleted). "
              "Through a daemon a job is timed from the first API call to the moment the client "
              "knows it is over: the API call(s) returned (blockJobAbort(PIVOT) is "
              "synchronous) and the COMPLETED callback ran. Ratio = modvirt fixed cost / "
              "libvirt fixed cost (\"-\" when one is not above zero).")
    md.append("")
    md.append("*QEMU's time taken out*: how long QEMU itself works on a job (copying data, "
              "converging) varies from run to run by more than the targets (it shares 2 CPUs "
              "with everything else), so each run's own QEMU time is also subtracted: "
              "start command sent -> BLOCK_JOB_READY (or -> concluded for a pull) plus "
              "job-complete sent -> concluded, from QEMU's event timestamps and the times "
              "the commands were written (qmp-tap.so in the daemons, the client itself over "
              "QMP). What remains of a run is the client's and the daemon's doing; the "
              "figure is median(that, through the daemon) - median(that, direct QMP).")
    md.append("")
    md += mdtable(hdr, rows)
    md.append("")
    perr = {s: sum(1 for by in res.values() for r in by[s] if "pivot_error" in r)
            for s in SYSTEMS[1:]}
    two = sum(len(res[j]["libvirt"]) for j in res if j in ("commit", "copy"))
    md.append("blockJobAbort(PIVOT) failing although the job pivots (the client then waits "
              "for COMPLETED; the run is kept): %s, out of %d commit and copy runs each."
              % (", ".join("%s %d" % (SYSTEM_TITLES[s], n) for s, n in perr.items()), two))
    md.append("")
    md.append("Event latency: QEMU's own timestamp of BLOCK_JOB_READY / BLOCK_JOB_COMPLETED "
              "(wall clock, µs) to `time.time()` at the start of the client's BLOCK_JOB_2 "
              "callback (libvirt's default event loop in a thread of the client). READY from "
              "the commit and copy runs, COMPLETED from all three jobs. QEMU->daemon + "
              "daemon->client: medians of the split at the daemon's read() of the event "
              "(qmp-tap.so, see README). Direct QMP: QEMU to the client's QMP reader thread, "
              "the floor.")
    md.append("")
    md += mdtable(lhdr, lrows)
    md.append("")
    md.append("## Every run")
    md.append("")
    md.append("Totals in ms, in the order run. Daemons: `start` = the blockCommit / blockPull / "
              "blockCopy call; `ready` = READY callback, from the start; `pivot` = "
              "blockJobAbort(PIVOT) call; `completed` = COMPLETED callback, from the start "
              "(medians). Direct QMP: `core` = up to job-dismiss's reply, `cleanup` = the "
              "blockdev-del commands after it. `QEMU's time` and `the rest`: the split used "
              "for *QEMU's time taken out*.")
    md.append("")
    md.append("| job | system | median | all runs | breakdown (medians) |")
    md.append("|---|---|---|---|---|")
    for job, by in res.items():
        for s in SYSTEMS:
            rs = by[s]
            if not rs:
                continue

            def med(k):
                v = [r[k] for r in rs if k in r]
                return statistics.median(v) if v else None
            if s == "qmp":
                parts = [("core", med("core_ms")), ("cleanup", med("cleanup_ms")),
                         ("ready", med("ready_ms")), ("concluded", med("completed_ms"))]
            else:
                after = [r["ready_ms"] + r["pivot_call_ms"] - r["completed_ms"] for r in rs
                         if "pivot_call_ms" in r]
                parts = [("start", med("start_call_ms")), ("ready", med("ready_ms")),
                         ("pivot", med("pivot_call_ms")), ("completed", med("completed_ms")),
                         ("pivot returned after the COMPLETED callback",
                          statistics.median(after) if after else None)]
            parts += [("QEMU's time", med("qemu_busy_ms")), ("the rest", med("overhead_ms"))]
            md.append("| %s | %s | %.1f | %s | %s |" % (
                JOB_TITLES[job], SYSTEM_TITLES[s], med("total_ms"),
                ", ".join("%.1f" % r["total_ms"] for r in rs),
                ", ".join("%s %.1f" % (k, v) for k, v in parts if v is not None)))
    md.append("")
    md.append("## Event latency per job and every sample")
    md.append("")
    md.append("| event | system | job | median ms | samples ms |")
    md.append("|---|---|---|---|---|")
    for label, key in (("READY", "ev_ready"), ("COMPLETED", "ev_completed")):
        for s in SYSTEMS:
            for job, by in res.items():
                vals = [latency_ms(r, key) for r in by[s]]
                vals = [v for v in vals if v is not None]
                if vals:
                    md.append("| %s | %s | %s | %.2f | %s |" % (
                        label, SYSTEM_TITLES[s], JOB_TITLES[job], statistics.median(vals),
                        ", ".join("%.2f" % v for v in vals)))
    md.append("")
    missing = sum(1 for by in res.values() for s in SYSTEMS for r in by[s]
                  for k in ("ev_ready", "ev_completed") if k in r and "missing" in r[k])
    agree = [(r[k]["libvirt_log_qemu"], r[k]["qemu"]) for by in res.values() for r in by["libvirt"]
             for k in ("ev_ready", "ev_completed") if k in r and "libvirt_log_qemu" in r[k]]
    tap_vs_log = []
    for by in res.values():
        for r in by["libvirt"]:
            for k in ("ev_ready", "ev_completed"):
                e = r.get(k, {})
                if e.get("libvirt_log_qemu") is not None and "tap_qemu" in e:
                    tap_vs_log.append(abs(e["libvirt_log_qemu"] - e["tap_qemu"]))
    md.append("Sources of QEMU's timestamps: modvirt from qmp-tap.so in virtqemud; libvirtd "
              "from its debug log (`log_filters=\"1:qemu.qemu_monitor_json\"`), %d of %d "
              "events found there; the tap in libvirtd saw the same events, with timestamps "
              "%s. Events not found: %d."
              % (sum(1 for a, _ in agree if a is not None), len(agree),
                 ("equal in all %d" % len(tap_vs_log)) if tap_vs_log and max(tap_vs_log) == 0
                 else ("differing by up to %.6f s" % max(tap_vs_log) if tap_vs_log
                       else "not compared"),
                 missing))
    md.append("")
    return "\n".join(text), "\n".join(md)


def main(cfg, args, update_readme, guest_xml):
    """`bench.py blockjobs --config FILE`: run, print, write the results
    file and the README block between the blockjobs markers."""
    import datetime
    import platform

    def log(msg):
        print(msg, flush=True)

    meta = {"started": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
            "load_before": _loadavg(), "runs": args.runs, "type": cfg["type"],
            "host": platform.node(), "kernel": platform.release(),
            "modvirt_build": cfg.get("modvirt_build", "?"),
            "modvirt_run_fs": cfg.get("modvirt_run_fs", "?"),
            "libvirt_version": "%d.%d.%d" % tuple((libvirt.getVersion() // d) % 1000
                                                  for d in (1000000, 1000, 1)),
            "libvirtd_version": subprocess.run([cfg["libvirtd"], "--version"],
                                               capture_output=True, text=True).stdout.strip()}
    t0 = time.monotonic()
    res = run(cfg, args.runs, args.jobs, guest_xml, log)
    meta["elapsed"] = time.monotonic() - t0
    meta["load_after"] = _loadavg()
    summ = summarize(res)
    text, md = build_report(res, summ, meta)
    print()
    print(text)
    if args.raw:
        with open(args.raw, "w") as f:
            json.dump({"meta": meta, "runs": res, "summary": summ}, f, indent=1)
    if args.out:
        with open(args.out, "w") as f:
            f.write(md)
        print("\nwrote %s" % args.out)
    if args.readme:
        body = md.split("\n## ", 1)[0].split("\n", 1)[1]
        block = ("Latest run: %s; full detail in [`%s`](%s).\n" %
                 (meta["started"], os.path.basename(args.out), os.path.basename(args.out))
                 if args.out else "Latest run: %s.\n" % meta["started"]) + body
        if update_readme(args.readme, block, "blockjobs"):
            print("updated %s" % args.readme)
