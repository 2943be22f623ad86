"""Helpers shared by the block-job integration tests: an embedded
virtproxyd, backing chains made by qemu-img with distinct data per layer
(written by qemu-io), byte checks through qemu-io, and the comparison of
the live XML chain with `qemu-img info --backing-chain`."""
import json
import os
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, "/usr/lib/python3/dist-packages")
import libvirt  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from taplib import Embedded, start_event_loop  # noqa: E402

MiB = 1 << 20
LAYERS = ["base", "snap1", "snap2", "active"]
ACCEL = "kvm" if os.access("/dev/kvm", os.R_OK | os.W_OK) else "qemu"

DOMAIN = """<domain type='%(type)s'>
  <name>%(name)s</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='%(disk)s'/>
      <target dev='vda' bus='virtio'/>
    </disk>
  </devices>
</domain>
"""


def pattern(i):
    """The byte layer i (0 = base ... 3 = active) writes."""
    return 0x11 + 0x11 * i


def run(*args, **kw):
    return subprocess.run(list(args), capture_output=True, text=True, **kw)


class Env(Embedded):
    """virtproxyd in embedded mode under a fresh root, a libvirt connection
    with BLOCK_JOB and BLOCK_JOB_2 callbacks recording every event."""

    def __init__(self, prefix, build):
        super().__init__(build, prefix, timeout=300)
        self.events = []
        self.lock = threading.Lock()
        self.conn = None
        start_event_loop()
        self.connect()

    def connect(self):
        self.conn = libvirt.open(self.uri)
        self.conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_BLOCK_JOB,
                                         self._ev("path"), None)
        self.conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_BLOCK_JOB_2,
                                         self._ev("target"), None)
        return self.conn

    def _ev(self, kind):
        def cb(conn, dom, disk, typ, status, opaque):
            with self.lock:
                self.events.append((kind, dom.name(), disk, typ, status))
        return cb

    def clear_events(self):
        with self.lock:
            self.events = []

    def events_of(self, name, kind="target"):
        with self.lock:
            return [(e[2], e[3], e[4]) for e in self.events if e[1] == name and e[0] == kind]

    def wait_event(self, name, status, timeout=60, kind="target"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(e[2] == status for e in self.events_of(name, kind)):
                return True
            time.sleep(0.05)
        return False

    def stop(self):
        try:
            for dom in self.conn.listAllDomains():
                if dom.isActive():
                    dom.destroy()
        except libvirt.libvirtError:
            pass
        super().stop()


def make_chain(directory, base_dir="", extra=0, extra_layer=0):
    """base <- snap1 <- snap2 <- active in @directory (base under @base_dir
    if given), each header naming its backing by a relative name.  Layer i
    writes pattern(i) at i MiB (64 KiB) and at 8 MiB (all layers: the top
    one shows); @extra MiB of data in layer @extra_layer (12 MiB up) keep
    a throttled job busy.  Returns the paths, base first."""
    os.makedirs(os.path.join(directory, base_dir), exist_ok=True)
    paths = []
    for i, name in enumerate(LAYERS):
        rel = os.path.join(base_dir, name + ".qcow2") if i == 0 else name + ".qcow2"
        path = os.path.join(directory, rel)
        if i == 0:
            r = run("qemu-img", "create", "-q", "-f", "qcow2", path, "32M")
        else:
            prev = os.path.relpath(paths[-1], directory)
            r = run("qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", prev, path,
                    cwd=directory)
        assert r.returncode == 0, r.stderr
        cmds = ["write -P %d %d 64k" % (pattern(i), i * MiB), "write -P %d 8M 64k" % pattern(i)]
        if i == extra_layer and extra:
            cmds.append("write -P %d 12M %dM" % (pattern(i), extra))
        for c in cmds:
            r = run("qemu-io", "-f", "qcow2", path, "-c", c)
            assert r.returncode == 0 and "failed" not in r.stdout, r.stdout + r.stderr
        paths.append(path)
    return paths


def guest_view_ok(top, extra=0, extra_layer=0, fmt="qcow2"):
    """What a guest reads through @top is what the four layers wrote."""
    cmds = []
    for i in range(4):
        cmds += ["-c", "read -P %d %d 64k" % (pattern(i), i * MiB)]
    cmds += ["-c", "read -P %d 8M 64k" % pattern(3)]
    cmds += ["-c", "read -P 0 5M 1M"]
    if extra:
        cmds += ["-c", "read -P %d 12M %dM" % (pattern(extra_layer), extra)]
    r = run("qemu-io", "-U", "-r", "-f", fmt, top, *cmds)
    return r.returncode == 0 and "fail" not in r.stdout.lower(), r.stdout + r.stderr


def live_chain(dom, flags=0):
    """[(path, format)] of vda, top first, from the domain XML."""
    root = ET.fromstring(dom.XMLDesc(flags))
    disk = [d for d in root.findall("./devices/disk") if d.find("target").get("dev") == "vda"][0]
    out = []
    src = disk.find("source")
    out.append((src.get("file") or src.get("dev"), disk.find("driver").get("type")))
    node = disk.find("backingStore")
    while node is not None and node.get("type"):
        s = node.find("source")
        out.append((s.get("file") or s.get("dev"), node.find("format").get("type")))
        node = node.find("backingStore")
    return out


def header_chain(top):
    """[(path, format)] from qemu-img info --backing-chain, and the raw
    backing names as the headers record them."""
    r = run("qemu-img", "info", "-U", "--backing-chain", "--output=json", top)
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    return ([(os.path.realpath(i["filename"]), i["format"]) for i in info],
            [i.get("backing-filename") for i in info])


def chain_matches(dom):
    live = live_chain(dom)
    headers, _ = header_chain(live[0][0])
    return [(os.path.realpath(p), f) for p, f in live] == headers, (live, headers)


def mirror_of(dom):
    root = ET.fromstring(dom.XMLDesc(0))
    disk = [d for d in root.findall("./devices/disk") if d.find("target").get("dev") == "vda"][0]
    m = disk.find("mirror")
    return None if m is None else dict(m.attrib)


def wait_for(cond, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return False


def wait_no_job(dom, disk="vda", timeout=60):
    return wait_for(lambda: not dom.blockJobInfo(disk, 0), timeout)


def error_code(fn, *args):
    try:
        fn(*args)
    except libvirt.libvirtError as e:
        return e.get_error_code(), e.get_error_message()
    return None, "no error"
