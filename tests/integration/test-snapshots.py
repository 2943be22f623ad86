#!/usr/bin/python3
"""External disk-only snapshots through virtproxyd with Debian's stock clients.

A domain with two qcow2 disks: `virsh snapshot-create-as --disk-only` while
it is shut off (qemu-img overlays, default names <image-without-ext>.<snap>)
and while it runs (one QMP transaction), --atomic, --no-metadata,
--reuse-external with an overlay made beforehand with a *relative* backing
name (kept as written, and the next cold start follows it), a reused overlay
naming the wrong backing file (refused), two disks where the second overlay
cannot be made (an existing file, a bad path): nothing changes on either
disk and no file is left.  After every step the live XML's <backingStore>
chain of each disk must be exactly what `qemu-img info --backing-chain`
says.  snapshot-list (--tree, --roots, --leaves), snapshot-info,
snapshot-dumpxml, snapshot-parent, snapshot-current, snapshot-delete
--metadata (children move to the parent), --quiesce refused (no guest
agent), error codes through python3-libvirt, and a restart of virtqemud keeps the metadata and the
chains.  Finally the data written (with qemu-io, while the domain was shut
off) before each snapshot is read back through the last images.

The guest has no OS (SeaBIOS idles), so nothing is written while it runs.

Usage: test-snapshots.py BUILD_DIR      (prints TAP)
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from taplib import check, finish, stop_daemons  # noqa: E402

BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
PROXY = os.path.join(BUILD, "proxyd", "virtproxyd")
sys.path.insert(0, "/usr/lib/python3/dist-packages")
import libvirt  # noqa: E402

ACCEL = "kvm" if os.access("/dev/kvm", os.R_OK | os.W_OK) else "qemu"
DOMAIN = """<domain type='%(type)s'>
  <name>vm1</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='%(root)s/vda.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='%(root)s/vdb.qcow2'/>
      <target dev='vdb' bus='virtio'/>
    </disk>
  </devices>
</domain>
"""
KIB64 = 65536


def run(*argv):
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=60)


def qemu_io(path, cmd, readonly=False):
    args = ["qemu-io", "-f", "qcow2"] + (["-r", "-U"] if readonly else []) + ["-c", cmd, path]
    return run(*args)


def pattern_ok(path, byte, offset):
    r = qemu_io(path, "read -P 0x%02x %d %d" % (byte, offset, KIB64), readonly=True)
    return r.returncode == 0 and "verification failed" not in r.stdout + r.stderr


def img_chain(path):
    """[(absolute filename, format)] from qemu-img, top first."""
    r = run("qemu-img", "info", "-U", "--backing-chain", "--output=json", path)
    if r.returncode != 0:
        return [("qemu-img failed", r.stderr)]
    return [(os.path.abspath(i["filename"]), i["format"]) for i in json.loads(r.stdout)]


def header_backing(path):
    r = run("qemu-img", "info", "-U", "--output=json", path)
    return json.loads(r.stdout).get("backing-filename") if r.returncode == 0 else None


def xml_chain(xml, target):
    """[(path, format)] of disk @target in a domain XML, top first."""
    root = ET.fromstring(xml)
    for disk in root.findall("./devices/disk"):
        if disk.find("target").get("dev") != target:
            continue
        chain = [(disk.find("source").get("file"), disk.find("driver").get("type"))]
        node = disk.find("backingStore")
        while node is not None and node.find("source") is not None:
            chain.append((node.find("source").get("file"), node.find("format").get("type")))
            node = node.find("backingStore")
        return chain
    return None


def main():
    root = tempfile.mkdtemp(prefix="mv-snap-")
    log = open(os.path.join(root, "proxy.log"), "w")
    proxy = subprocess.Popen([PROXY, "--root", root, "--timeout", "120"], stdout=log,
                             stderr=subprocess.STDOUT)
    sock = os.path.join(root, "run", "virtproxyd-sock")
    uri = "qemu+unix:///system?socket=" + sock
    P = lambda name: os.path.join(root, name)  # noqa: E731

    def virsh(*args):
        return subprocess.run(["virsh", "-c", uri] + list(args), capture_output=True,
                              text=True, timeout=60)

    def live_xml():
        return virsh("dumpxml", "vm1").stdout

    def chains_agree(what):
        xml = live_xml()
        for dev in ("vda", "vdb"):
            mine = xml_chain(xml, dev)
            theirs = img_chain(mine[0][0]) if mine else None
            check(mine is not None and mine == theirs,
                  "%s: %s's <backingStore> chain is what qemu-img says" % (what, dev),
                  "xml:      %s\nqemu-img: %s" % (mine, theirs))

    def files():
        return sorted(f for f in os.listdir(root) if f.startswith(("vda", "vdb")))

    try:
        for _ in range(100):
            if os.path.exists(sock):
                break
            time.sleep(0.05)
        for name, byte in (("vda", 0x11), ("vdb", 0x21)):
            run("qemu-img", "create", "-q", "-f", "qcow2", P(name + ".qcow2"), "32M")
            qemu_io(P(name + ".qcow2"), "write -P 0x%02x 0 %d" % (byte, KIB64))
        with open(P("vm1.xml"), "w") as f:
            f.write(DOMAIN % {"type": ACCEL, "root": root})
        r = virsh("define", P("vm1.xml"))
        check(r.returncode == 0, "virsh define vm1", r.stderr)

        # ---- shut off: qemu-img overlays, default names
        r = virsh("snapshot-create-as", "vm1", "off1", "--disk-only")
        check(r.returncode == 0 and "Domain snapshot off1 created" in r.stdout,
              "snapshot-create-as --disk-only of a shut off domain", r.stdout + r.stderr)
        inactive = virsh("dumpxml", "--inactive", "vm1").stdout
        check(xml_chain(inactive, "vda")[0] == (P("vda.off1"), "qcow2") and
              xml_chain(inactive, "vdb")[0] == (P("vdb.off1"), "qcow2"),
              "the definition now uses vda.off1 and vdb.off1 (libvirt's default names)",
              inactive)
        check(img_chain(P("vda.off1")) == [(P("vda.off1"), "qcow2"), (P("vda.qcow2"), "qcow2")],
              "vda.off1 is backed by vda.qcow2 (qemu-img)", img_chain(P("vda.off1")))
        qemu_io(P("vda.off1"), "write -P 0x12 %d %d" % (KIB64, KIB64))

        # ---- running: one transaction
        r = virsh("start", "vm1")
        check(r.returncode == 0, "virsh start vm1 (on the offline snapshot's overlays)", r.stderr)
        chains_agree("after start")
        r = virsh("snapshot-create-as", "vm1", "s1", "--disk-only", "--atomic")
        check(r.returncode == 0 and "Domain snapshot s1 created" in r.stdout,
              "snapshot-create-as --disk-only --atomic of a running domain", r.stdout + r.stderr)
        check(virsh("domstate", "vm1").stdout.strip() == "running", "the domain still runs")
        chains_agree("after live snapshot s1")
        xml = live_xml()
        check(xml_chain(xml, "vda") == [(P("vda.s1"), "qcow2"), (P("vda.off1"), "qcow2"),
                                        (P("vda.qcow2"), "qcow2")],
              "vda's live chain is vda.s1 <- vda.off1 <- vda.qcow2", xml_chain(xml, "vda"))
        inactive = virsh("dumpxml", "--inactive", "vm1").stdout
        check(xml_chain(inactive, "vda")[0][0] == P("vda.s1"),
              "the persistent definition follows the live one", inactive)

        # ---- atomic failures leave nothing
        before_xml, before_files = live_xml(), files()
        with open(P("vdb.s2bad"), "w") as f:
            f.write("user data")
        r = virsh("snapshot-create-as", "vm1", "bad1", "--disk-only", "--atomic",
                  "--diskspec", "vda,file=%s" % P("vda.bad1"),
                  "--diskspec", "vdb,file=%s" % P("vdb.s2bad"))
        check(r.returncode != 0 and "already exists" in r.stderr,
              "second overlay is an existing file (no --reuse-external): refused", r.stderr)
        check(files() == before_files + ["vdb.s2bad"] and live_xml() == before_xml,
              "nothing changed on either disk, no file left", (files(), before_files))
        os.unlink(P("vdb.s2bad"))
        r = virsh("snapshot-create-as", "vm1", "bad2", "--disk-only", "--atomic",
                  "--diskspec", "vda,file=%s" % P("vda.bad2"),
                  "--diskspec", "vdb,file=%s" % P("no-such-dir/vdb.bad2"))
        check(r.returncode != 0, "second overlay in a directory that does not exist: refused",
              r.stderr)
        check(files() == before_files and live_xml() == before_xml,
              "nothing changed on either disk; the first overlay was removed again",
              (files(), before_files))
        chains_agree("after the failed snapshots")
        r = virsh("snapshot-list", "vm1", "--name")
        check("bad1" not in r.stdout and "bad2" not in r.stdout, "no metadata for failed snapshots",
              r.stdout)

        # ---- reuse with a relative backing name
        r = run("qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", "vdb.qcow2",
                P("vdb.wrong"))
        r = virsh("snapshot-create-as", "vm1", "wrong", "--disk-only", "--reuse-external",
                  "--diskspec", "vda,snapshot=no", "--diskspec", "vdb,file=%s" % P("vdb.wrong"))
        check(r.returncode != 0 and "is not the current image" in r.stderr,
              "--reuse-external with an overlay naming another backing file is refused", r.stderr)
        os.unlink(P("vdb.wrong"))
        r = subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b",
                            "vda.s1", "vda.s2.qcow2"], cwd=root, capture_output=True, text=True)
        check(r.returncode == 0 and header_backing(P("vda.s2.qcow2")) == "vda.s1",
              "pre-created overlay names its backing file relatively", r.stderr)
        r = virsh("snapshot-create-as", "vm1", "s2", "--disk-only", "--reuse-external",
                  "--diskspec", "vda,file=%s" % P("vda.s2.qcow2"), "--diskspec", "vdb,snapshot=no")
        check(r.returncode == 0, "snapshot-create-as --reuse-external (vda only)", r.stderr)
        check(header_backing(P("vda.s2.qcow2")) == "vda.s1",
              "the overlay's header keeps the relative name", header_backing(P("vda.s2.qcow2")))
        chains_agree("after reuse snapshot s2")

        # ---- no metadata, quiesce
        r = virsh("snapshot-create-as", "vm1", "nometa", "--disk-only", "--no-metadata",
                  "--diskspec", "vda,snapshot=no")
        check(r.returncode == 0 and xml_chain(live_xml(), "vdb")[0][0] == P("vdb.nometa"),
              "--no-metadata: vdb moved to vdb.nometa", r.stderr)
        chains_agree("after --no-metadata")
        conn = libvirt.open(uri)
        dom = conn.lookupByName("vm1")
        before_files = files()
        try:
            dom.snapshotCreateXML("<domainsnapshot><name>q</name></domainsnapshot>",
                                  libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY |
                                  libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_QUIESCE)
            code = None
        except libvirt.libvirtError as e:
            code, msg = e.get_error_code(), str(e)
        check(code == libvirt.VIR_ERR_ARGUMENT_UNSUPPORTED and "guest agent" in msg,
              "--quiesce without a guest agent: VIR_ERR_ARGUMENT_UNSUPPORTED", code)
        check(files() == before_files, "... and no overlay was made", files())

        # ---- the tree
        r = virsh("snapshot-list", "vm1", "--name")
        check(r.stdout.split() == ["off1", "s1", "s2"], "snapshot-list --name: off1 s1 s2 "
              "(not nometa)", r.stdout + r.stderr)
        r = virsh("snapshot-list", "vm1", "--tree")
        lines = [l.strip(" |+-") for l in r.stdout.splitlines() if l.strip(" |")]
        check(r.returncode == 0 and lines == ["off1", "s1", "s2"] and
              r.stdout.index("off1") < r.stdout.index("s1") < r.stdout.index("s2"),
              "snapshot-list --tree: off1 > s1 > s2", r.stdout + r.stderr)
        r = virsh("snapshot-list", "vm1", "--roots", "--name")
        check(r.stdout.split() == ["off1"], "snapshot-list --roots", r.stdout)
        r = virsh("snapshot-list", "vm1", "--leaves", "--name")
        check(r.stdout.split() == ["s2"], "snapshot-list --leaves", r.stdout)
        r = virsh("snapshot-list", "vm1", "--disk-only", "--name")
        check(r.stdout.split() == ["s1", "s2"], "snapshot-list --disk-only (live ones)", r.stdout)
        r = virsh("snapshot-list", "vm1", "--inactive", "--name")
        check(r.stdout.split() == ["off1"], "snapshot-list --inactive (the offline one)", r.stdout)
        r = virsh("snapshot-info", "vm1", "s1")
        info = dict(l.split(":", 1) for l in r.stdout.splitlines() if ":" in l)
        info = {k.strip(): v.strip() for k, v in info.items()}
        check(info.get("Name") == "s1" and info.get("Domain") == "vm1" and
              info.get("Current") == "no" and info.get("State") == "disk-snapshot" and
              info.get("Location") == "external" and info.get("Parent") == "off1",
              "snapshot-info s1", r.stdout + r.stderr)
        r = virsh("snapshot-info", "vm1", "off1")
        info = dict(l.split(":", 1) for l in r.stdout.splitlines() if ":" in l)
        info = {k.strip(): v.strip() for k, v in info.items()}
        check(info.get("Children") == "1" and info.get("Descendants") == "2"
              and info.get("Metadata") == "yes",
              "snapshot-info counts children and descendants (procedure 246)", r.stdout + r.stderr)
        r = virsh("snapshot-dumpxml", "vm1", "s1")
        sx = ET.fromstring(r.stdout) if r.returncode == 0 else None
        check(sx is not None and sx.findtext("name") == "s1" and
              sx.findtext("state") == "disk-snapshot" and sx.findtext("parent/name") == "off1" and
              sx.find("memory").get("snapshot") == "no" and
              sx.find("disks/disk[@name='vda']/source").get("file") == P("vda.s1") and
              sx.find("domain/devices/disk/source").get("file") == P("vda.off1"),
              "snapshot-dumpxml s1: state, parent, overlay, and the domain as it was",
              r.stdout[:1500] + r.stderr)
        r = virsh("snapshot-parent", "vm1", "s2")
        check(r.stdout.strip() == "s1", "snapshot-parent s2: s1", r.stdout + r.stderr)
        r = virsh("snapshot-current", "vm1", "--name")
        check(r.stdout.strip() == "s2", "snapshot-current: s2", r.stdout + r.stderr)
        s1 = dom.snapshotLookupByName("s1")
        check([c.getName() for c in s1.listAllChildren()] == ["s2"] and
              s1.getParent().getName() == "off1" and s1.hasMetadata() and not s1.isCurrent(),
              "python: children, parent, has-metadata, is-current")
        check(sorted(s.getName() for s in dom.listAllSnapshots(
            libvirt.VIR_DOMAIN_SNAPSHOT_LIST_NO_METADATA)) == [],
            "python: LIST_NO_METADATA lists nothing")
        try:
            dom.snapshotLookupByName("nometa")
            code = None
        except libvirt.libvirtError as e:
            code = e.get_error_code()
        check(code == libvirt.VIR_ERR_NO_DOMAIN_SNAPSHOT, "lookup of an unknown snapshot: "
              "VIR_ERR_NO_DOMAIN_SNAPSHOT", code)

        # ---- delete
        # (deleting the images, by merging them: test-snapshot-delete.py)
        r = virsh("snapshot-delete", "vm1", "s1", "--metadata")
        check(r.returncode == 0 and "deleted" in r.stdout, "snapshot-delete --metadata s1",
              r.stdout + r.stderr)
        check(virsh("snapshot-parent", "vm1", "s2").stdout.strip() == "off1",
              "s2's parent is now off1")
        check(os.path.exists(P("vda.s1")), "the image vda.s1 is still there")
        chains_agree("after snapshot-delete --metadata")

        # ---- restart virtqemud
        before_xml = live_xml()
        conn.close()
        qpid = int(open(os.path.join(root, "run", "virtqemud.pid")).read())
        os.kill(qpid, signal.SIGTERM)
        for _ in range(100):
            if not os.path.exists("/proc/%d" % qpid):
                break
            time.sleep(0.05)
        r = virsh("snapshot-list", "vm1", "--name")
        check(r.returncode == 0 and r.stdout.split() == ["off1", "s2"],
              "after a restart of virtqemud the snapshots are listed", r.stdout + r.stderr)
        check(virsh("snapshot-current", "vm1", "--name").stdout.strip() == "s2" and
              virsh("snapshot-parent", "vm1", "s2").stdout.strip() == "off1",
              "... with the same current snapshot and parents")
        check(live_xml() == before_xml, "... and the same live chains", live_xml())
        chains_agree("after a restart of virtqemud")

        # ---- data, and a cold start through the relative name
        r = virsh("destroy", "vm1")
        top_a, top_b = P("vda.s2.qcow2"), P("vdb.nometa")
        check(pattern_ok(top_a, 0x11, 0) and pattern_ok(top_a, 0x12, KIB64),
              "vda: data written before off1 and before s1 read back through vda.s2.qcow2")
        check(pattern_ok(top_b, 0x21, 0), "vdb: data written before off1 read back through "
              "vdb.nometa")
        qemu_io(top_a, "write -P 0x13 %d %d" % (2 * KIB64, KIB64))
        r = virsh("snapshot-create-as", "vm1", "off2", "--disk-only",
                  "--diskspec", "vdb,snapshot=no")
        check(r.returncode == 0 and os.path.exists(P("vda.s2.off2")),
              "offline snapshot of the reused overlay (default name vda.s2.off2)", r.stderr)
        r = virsh("start", "vm1")
        check(r.returncode == 0, "cold start through the relative backing name", r.stderr)
        chains_agree("after the cold start")
        virsh("destroy", "vm1")
        check(all(pattern_ok(P("vda.s2.off2"), b, o) for b, o in
                  ((0x11, 0), (0x12, KIB64), (0x13, 2 * KIB64))),
              "all three patterns read back through vda.s2.off2")
        r = virsh("undefine", "vm1")
        check(r.returncode != 0 and "snapshots" in r.stderr,
              "undefine of a domain with snapshots is refused", r.stderr)
        r = virsh("undefine", "vm1", "--snapshots-metadata")
        check(r.returncode == 0 and not os.path.exists(os.path.join(root, "etc", "qemu",
                                                                    "snapshot", "vm1"))
              or r.returncode == 0 and not os.listdir(os.path.join(root, "etc", "qemu",
                                                                   "snapshot", "vm1")),
              "undefine --snapshots-metadata removes the domain and its snapshot metadata",
              r.stderr)
    finally:
        stop_daemons(proxy, root)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
