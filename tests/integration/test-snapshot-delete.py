#!/usr/bin/python3
"""Deleting external disk-only snapshots for real: their images are merged.

Each case builds base <- s1 <- s2 <- s3 with distinct data per layer: the
domain is defined on base.qcow2, snapshots S1, S2 and S3 are taken while it
is shut off (each makes the next overlay, named in the snapshot XML), and
qemu-io writes a pattern into each new active layer.  Snapshot Sn's state
is what lies below sn.qcow2; deleting Sn merges sn.qcow2 with the image
below it: committed into it (an active commit and pivot when sn is the
active layer of a running domain, qemu-img offline), or, when that image is
also used by another domain, that image is pulled into sn.qcow2 instead.

Checked after each deletion, as a user would: the snapshot list and tree
(parents, current), the domain's chain (live XML, inactive definition)
against `qemu-img info --backing-chain`, which image files still exist,
relative backing names kept relative, the block-job event of a running
domain, and -- QEMU stopped -- every byte the layers wrote, through qemu-io.
Also: DELETE_CHILDREN and DELETE_CHILDREN_ONLY, two disks, stock `virsh
snapshot-delete`, a snapshot whose image already left the chain (refused,
metadata kept; METADATA_ONLY still works), a disk busy with a copy (refused
before anything changes), and kill -9 of virtqemud at several moments of a
deletion, which then finishes when asked again, every byte kept.

Usage: test-snapshot-delete.py BUILD_DIR      (prints TAP)
"""
import hashlib
import os
import signal
import sys
import threading
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from taplib import check, finish  # noqa: E402
import bjlib  # noqa: E402
from bjlib import MiB, libvirt, run  # noqa: E402

BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
L = libvirt
DISK_ONLY = L.VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY
REUSE_EXT = L.VIR_DOMAIN_SNAPSHOT_CREATE_REUSE_EXT
DEL_CHILDREN = L.VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN
DEL_CHILDREN_ONLY = L.VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN_ONLY
DEL_METADATA = L.VIR_DOMAIN_SNAPSHOT_DELETE_METADATA_ONLY

DOMAIN = """<domain type='%(type)s'>
  <name>%(name)s</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
%(disks)s  </devices>
</domain>
"""
DISK = """    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='%(path)s'/>
      <target dev='%(dev)s' bus='virtio'/>
    </disk>
"""
LAYERS = ["base", "s1", "s2", "s3"]

env = None
counter = [0]


def pattern(i):
    return 0x11 * (i + 1)


def write_layer(path, i):
    """Layer i writes pattern(i) at i MiB and at 8 MiB (the newest shows)."""
    for cmd in ("write -P %d %d 64k" % (pattern(i), i * MiB), "write -P %d 8M 64k" % pattern(i)):
        r = run("qemu-io", "-f", "qcow2", path, "-c", cmd)
        assert r.returncode == 0 and "failed" not in r.stdout, r.stdout + r.stderr


def view_ok(top, upto=3):
    """Through @top a guest reads what layers 0..@upto wrote."""
    cmds = []
    for i in range(upto + 1):
        cmds += ["-c", "read -P %d %d 64k" % (pattern(i), i * MiB)]
    cmds += ["-c", "read -P %d 8M 64k" % pattern(upto), "-c", "read -P 0 5M 1M"]
    r = run("qemu-io", "-U", "-r", "-f", "qcow2", top, *cmds)
    return r.returncode == 0 and "fail" not in r.stdout.lower(), r.stdout + r.stderr


def snap_xml(name, disks):
    out = "<domainsnapshot><name>%s</name><disks>" % name
    for dev, path in disks:
        out += "<disk name='%s' snapshot='external'><source file='%s'/></disk>" % (dev, path)
    return out + "</disks></domainsnapshot>"


def new_domain(devs=("vda",), relative=False, start=True, extra=0):
    """A domain with base images only, then S1..S3 taken shut off, each
    followed by writes into the new layer; started if @start.  With
    @relative, the overlays are made beforehand by qemu-img with relative
    backing names and reused.  Returns (dom, name, dir, {dev: [paths]})."""
    counter[0] += 1
    name = "sd%d" % counter[0]
    d = os.path.join(env.root, name)
    os.makedirs(d)
    paths = {dev: [os.path.join(d, "%s-%s.qcow2" % (dev, layer)) for layer in LAYERS]
             for dev in devs}
    for dev in devs:
        r = run("qemu-img", "create", "-q", "-f", "qcow2", paths[dev][0], "32M")
        assert r.returncode == 0, r.stderr
        write_layer(paths[dev][0], 0)
    disks = "".join(DISK % {"path": paths[dev][0], "dev": dev} for dev in devs)
    dom = env.conn.defineXML(DOMAIN % {"type": bjlib.ACCEL, "name": name, "disks": disks})
    for i in range(1, 4):
        flags = DISK_ONLY
        if relative:
            for dev in devs:
                r = run("qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b",
                        os.path.basename(paths[dev][i - 1]), paths[dev][i], cwd=d)
                assert r.returncode == 0, r.stderr
            flags |= REUSE_EXT
        dom.snapshotCreateXML(snap_xml("S%d" % i, [(dev, paths[dev][i]) for dev in devs]),
                              flags)
        for dev in devs:
            write_layer(paths[dev][i], i)
    if extra:
        for dev in devs:
            r = run("qemu-io", "-f", "qcow2", paths[dev][3], "-c",
                    "write -P %d 12M %dM" % (pattern(3), extra))
            assert r.returncode == 0 and "failed" not in r.stdout, r.stdout + r.stderr
    if start:
        dom.create()
    return dom, name, d, paths


def snap_names(dom):
    return sorted(s.getName() for s in dom.listAllSnapshots())


def parent_of(dom, name):
    try:
        return dom.snapshotLookupByName(name).getParent().getName()
    except libvirt.libvirtError:
        return None


def current_of(dom):
    try:
        return dom.snapshotCurrent().getName()
    except libvirt.libvirtError:
        return None


def disk_chain(dom, dev, flags=0):
    """[path] of @dev, top first, from the domain XML."""
    root = ET.fromstring(dom.XMLDesc(flags))
    disk = [x for x in root.findall("./devices/disk") if x.find("target").get("dev") == dev][0]
    out = [disk.find("source").get("file")]
    node = disk.find("backingStore")
    while node is not None and node.find("source") is not None:
        out.append(node.find("source").get("file"))
        node = node.find("backingStore")
    return out


def header_paths(top):
    headers, names = bjlib.header_chain(top)
    return [p for p, _ in headers], names


def expect(dom, name, paths, dev, want_idx, what, running=True):
    """The disk's chain is exactly layers @want_idx (top first) in the XML
    and in the headers, the merged-away files are gone, and -- QEMU
    stopped -- every byte is there."""
    want = [paths[dev][i] for i in want_idx]
    xml_chain = disk_chain(dom, dev)
    heads, _ = header_paths(want[0])
    if not dom.isActive():
        # a shut off domain's XML shows the chain only if the user gave it
        xml_chain = xml_chain + want[len(xml_chain):] if xml_chain[:1] == want[:1] else xml_chain
    check(xml_chain == want and heads == want,
          "%s: %s chain is %s, as qemu-img says" % (what, dev, " <- ".join(
              os.path.basename(p) for p in reversed(want))), (xml_chain, heads, want))


def data_ok(dom, paths, dev, top_idx, what):
    if dom.isActive():
        dom.destroy()
    ok, out = view_ok(paths[dev][top_idx])
    check(ok, "%s: every byte of every layer readable through %s" % (
        what, os.path.basename(paths[dev][top_idx])), out)


def error_of(fn, *args):
    try:
        fn(*args)
    except libvirt.libvirtError as e:
        return e.get_error_code(), e.get_error_message()
    return None, "no error"


# ------------------------------------------------------------------ running

def test_running_leaf():
    dom, name, d, paths = new_domain()
    env.clear_events()
    dom.snapshotLookupByName("S3").delete(0)
    check(snap_names(dom) == ["S1", "S2"] and current_of(dom) == "S2",
          "running, leaf S3: deleted, S2 is current", (snap_names(dom), current_of(dom)))
    expect(dom, name, paths, "vda", [2, 1, 0], "running, leaf S3")
    check(not os.path.exists(paths["vda"][3]), "running, leaf S3: s3 image deleted")
    ev = env.events_of(name)
    check(("vda", L.VIR_DOMAIN_BLOCK_JOB_TYPE_ACTIVE_COMMIT, L.VIR_DOMAIN_BLOCK_JOB_COMPLETED)
          in ev and ("vda", L.VIR_DOMAIN_BLOCK_JOB_TYPE_ACTIVE_COMMIT,
                     L.VIR_DOMAIN_BLOCK_JOB_READY) in ev,
          "running, leaf S3: active commit READY then COMPLETED events", ev)
    check(disk_chain(dom, "vda", L.VIR_DOMAIN_XML_INACTIVE)[0] == paths["vda"][2],
          "running, leaf S3: the persistent definition follows the pivot",
          disk_chain(dom, "vda", L.VIR_DOMAIN_XML_INACTIVE))
    data_ok(dom, paths, "vda", 2, "running, leaf S3")


def test_running_middle():
    dom, name, d, paths = new_domain()
    dom.snapshotLookupByName("S2").delete(0)
    check(snap_names(dom) == ["S1", "S3"] and parent_of(dom, "S3") == "S1" and
          current_of(dom) == "S3",
          "running, middle S2: deleted, S3's parent is S1, S3 still current",
          (snap_names(dom), parent_of(dom, "S3"), current_of(dom)))
    expect(dom, name, paths, "vda", [3, 1, 0], "running, middle S2")
    check(not os.path.exists(paths["vda"][2]), "running, middle S2: s2 image deleted")
    s3 = ET.fromstring(dom.snapshotLookupByName("S3").getXMLDesc(0))
    src = [x.find("source").get("file") for x in s3.findall("./domain/devices/disk")]
    check(src == [paths["vda"][1]],
          "running, middle S2: S3's recorded domain now names s1 (s2 is gone)", src)
    data_ok(dom, paths, "vda", 3, "running, middle S2")


def test_running_root():
    dom, name, d, paths = new_domain()
    dom.snapshotLookupByName("S1").delete(0)
    check(snap_names(dom) == ["S2", "S3"] and parent_of(dom, "S2") is None,
          "running, root S1 with children: deleted, S2 is a root",
          (snap_names(dom), parent_of(dom, "S2")))
    expect(dom, name, paths, "vda", [3, 2, 0], "running, root S1")
    check(not os.path.exists(paths["vda"][1]), "running, root S1: s1 image deleted")
    data_ok(dom, paths, "vda", 3, "running, root S1")


def test_running_children():
    dom, name, d, paths = new_domain()
    dom.snapshotLookupByName("S1").delete(DEL_CHILDREN)
    check(snap_names(dom) == [] and current_of(dom) is None,
          "running, S1 with DELETE_CHILDREN: no snapshot left", snap_names(dom))
    expect(dom, name, paths, "vda", [0], "running, S1 and children")
    check(not any(os.path.exists(p) for p in paths["vda"][1:]),
          "running, S1 and children: s1, s2, s3 deleted")
    data_ok(dom, paths, "vda", 0, "running, S1 and children")


def test_running_children_only():
    dom, name, d, paths = new_domain()
    dom.snapshotLookupByName("S1").delete(DEL_CHILDREN_ONLY)
    check(snap_names(dom) == ["S1"] and current_of(dom) == "S1",
          "running, S1 with DELETE_CHILDREN_ONLY: S1 alone is left, current",
          (snap_names(dom), current_of(dom)))
    expect(dom, name, paths, "vda", [1, 0], "running, children of S1")
    data_ok(dom, paths, "vda", 1, "running, children of S1")


# ------------------------------------------------------------------ shut off

def test_offline():
    dom, name, d, paths = new_domain(start=False)
    dom.snapshotLookupByName("S2").delete(0)
    expect(dom, name, paths, "vda", [3, 1, 0], "shut off, middle S2")
    check(not os.path.exists(paths["vda"][2]) and parent_of(dom, "S3") == "S1",
          "shut off, middle S2: s2 deleted, S3's parent is S1")
    dom.snapshotLookupByName("S3").delete(0)
    check(disk_chain(dom, "vda", L.VIR_DOMAIN_XML_INACTIVE)[0] == paths["vda"][1] and
          not os.path.exists(paths["vda"][3]) and current_of(dom) == "S1",
          "shut off, leaf S3: the definition now names s1, s3 deleted, S1 current",
          (disk_chain(dom, "vda", L.VIR_DOMAIN_XML_INACTIVE), current_of(dom)))
    ok, out = view_ok(paths["vda"][1])
    check(ok, "shut off: every byte readable through s1", out)
    dom.snapshotLookupByName("S1").delete(0)
    check(snap_names(dom) == [] and disk_chain(dom, "vda", L.VIR_DOMAIN_XML_INACTIVE) ==
          [paths["vda"][0]] and not os.path.exists(paths["vda"][1]),
          "shut off, last snapshot: the domain is back on base alone")
    ok, out = view_ok(paths["vda"][0])
    check(ok, "shut off: every byte readable through base", out)
    dom.create()
    check(dom.isActive() and disk_chain(dom, "vda") == [paths["vda"][0]],
          "shut off: the domain starts on base", disk_chain(dom, "vda"))
    dom.destroy()


# ------------------------------------------------------------------ relative names

def test_relative():
    dom, name, d, paths = new_domain(relative=True)
    _, names = header_paths(paths["vda"][3])
    check(names[:3] == ["vda-s2.qcow2", "vda-s1.qcow2", "vda-base.qcow2"],
          "reused overlays: headers hold relative backing names", names)
    dom.snapshotLookupByName("S2").delete(0)
    heads, names = header_paths(paths["vda"][3])
    check(names[0] == "vda-s1.qcow2",
          "running, middle S2 with relative names: s3 now names s1 relatively", names)
    expect(dom, name, paths, "vda", [3, 1, 0], "relative names, middle S2")
    dom.snapshotLookupByName("S3").delete(0)
    _, names = header_paths(paths["vda"][1])
    check(names[0] == "vda-base.qcow2", "after the active commit s1 still names base relatively",
          names)
    data_ok(dom, paths, "vda", 1, "relative names")


# ------------------------------------------------------------------ shared base: pull

def other_on_base(d, name, base):
    """A second domain, NAME-other, whose disk is a new overlay on @base."""
    other_img = os.path.join(d, "other.qcow2")
    r = run("qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", base, other_img)
    assert r.returncode == 0, r.stderr
    other = env.conn.defineXML(DOMAIN % {"type": bjlib.ACCEL, "name": name + "-other",
                                         "disks": DISK % {"path": other_img, "dev": "vda"}})
    return other, other_img


def test_shared_base():
    dom, name, d, paths = new_domain()
    base = paths["vda"][0]
    other, other_img = other_on_base(d, name, base)
    before = hashlib.sha256(open(base, "rb").read()).hexdigest()
    dom.snapshotLookupByName("S1").delete(0)
    after = hashlib.sha256(open(base, "rb").read()).hexdigest()
    check(before == after, "shared base: deleting S1 leaves base (used by another domain) "
          "untouched")
    expect(dom, name, paths, "vda", [3, 2, 1], "shared base, root S1 (pulled)")
    check(os.path.exists(paths["vda"][1]) and snap_names(dom) == ["S2", "S3"],
          "shared base: s1 kept (it now holds base's data), S1's metadata gone",
          snap_names(dom))
    ok, out = view_ok(other_img, upto=0)
    check(ok, "shared base: the other domain still reads base's data", out)
    data_ok(dom, paths, "vda", 3, "shared base")
    other.undefine()


def test_shared_base_other_running():
    """The domain is shut off, the domain sharing its base runs: base is
    only read by the pull, so the deletion goes ahead; a commit that would
    write base is refused."""
    dom, name, d, paths = new_domain(start=False)
    base = paths["vda"][0]
    other, other_img = other_on_base(d, name, base)
    other.create()
    before = hashlib.sha256(open(base, "rb").read()).hexdigest()
    got, msg = error_of(dom.blockCommit, "vda", base, paths["vda"][1], 0, 0)
    check(got == L.VIR_ERR_OPERATION_INVALID and name + "-other" in msg,
          "shut off, base shared with a running domain: an offline commit into base is "
          "refused, naming that domain", (got, msg))
    dom.snapshotLookupByName("S1").delete(0)
    after = hashlib.sha256(open(base, "rb").read()).hexdigest()
    check(before == after and other.isActive(),
          "shut off, base shared with a running domain: deleting S1 pulls base into s1, base "
          "untouched, the other domain still running")
    check(snap_names(dom) == ["S2", "S3"] and header_paths(paths["vda"][3])[0] ==
          [paths["vda"][3], paths["vda"][2], paths["vda"][1]],
          "shut off, base shared with a running domain: s3 <- s2 <- s1, S1's metadata gone",
          (snap_names(dom), header_paths(paths["vda"][3])))
    ok, out = view_ok(paths["vda"][3])
    check(ok, "shut off, base shared with a running domain: every byte readable through s3",
          out)
    other.destroy()
    ok, out = view_ok(other_img, upto=0)
    check(ok, "shut off, base shared with a running domain: the other domain still reads "
          "base's data", out)
    other.undefine()


# ------------------------------------------------------------------ two disks, failures

def test_two_disks():
    dom, name, d, paths = new_domain(devs=("vda", "vdb"))
    # a copy keeps vdb busy: the deletion is refused before anything changes
    dom.blockCopy("vdb", "<disk type='file'><source file='%s'/><driver type='qcow2'/></disk>"
                  % os.path.join(d, "vdb-copy.qcow2"), None,
                  L.VIR_DOMAIN_BLOCK_COPY_TRANSIENT_JOB)
    code, msg = error_of(dom.snapshotLookupByName("S2").delete, 0)
    check(code == L.VIR_ERR_BLOCK_COPY_ACTIVE and "vdb" in msg,
          "two disks, a copy on vdb: the deletion is refused, naming the disk", (code, msg))
    check(snap_names(dom) == ["S1", "S2", "S3"] and
          disk_chain(dom, "vda") == [paths["vda"][i] for i in (3, 2, 1, 0)] and
          os.path.exists(paths["vda"][2]),
          "two disks, a copy on vdb: nothing changed on vda either",
          (snap_names(dom), disk_chain(dom, "vda")))
    dom.blockJobAbort("vdb", 0)
    dom.snapshotLookupByName("S2").delete(0)
    check(snap_names(dom) == ["S1", "S3"], "two disks: once the copy is gone, S2 is deleted",
          snap_names(dom))
    expect(dom, name, paths, "vda", [3, 1, 0], "two disks, S2")
    expect(dom, name, paths, "vdb", [3, 1, 0], "two disks, S2")
    data_ok(dom, paths, "vda", 3, "two disks, vda")
    ok, out = view_ok(paths["vdb"][3])
    check(ok, "two disks, vdb: every byte readable", out)


def test_left_chain():
    dom, name, d, paths = new_domain()
    # the user merges everything into base: the snapshots' images leave
    dom.blockCommit("vda", None, None, 0, L.VIR_DOMAIN_BLOCK_COMMIT_ACTIVE)
    bjlib.wait_for(lambda: (dom.blockJobInfo("vda", 0) or {}).get("cur", -1) ==
                   (dom.blockJobInfo("vda", 0) or {}).get("end", -2), 30)
    bjlib.wait_for(lambda: bjlib.mirror_of(dom) and bjlib.mirror_of(dom).get("ready") == "yes",
                   30)
    dom.blockJobAbort("vda", L.VIR_DOMAIN_BLOCK_JOB_ABORT_PIVOT)
    code, msg = error_of(dom.snapshotLookupByName("S2").delete, 0)
    check(code == L.VIR_ERR_OPERATION_INVALID and "no longer in the backing chain" in msg,
          "image gone from the chain: VIR_ERR_OPERATION_INVALID naming it", (code, msg))
    check(snap_names(dom) == ["S1", "S2", "S3"], "image gone from the chain: metadata kept")
    dom.snapshotLookupByName("S2").delete(DEL_METADATA)
    check(snap_names(dom) == ["S1", "S3"], "METADATA_ONLY still deletes the metadata",
          snap_names(dom))
    dom.destroy()


def test_virsh():
    dom, name, d, paths = new_domain()
    r = env.virsh("snapshot-delete", name, "S3")
    check(r.returncode == 0 and "Domain snapshot S3 deleted" in r.stdout,
          "stock virsh snapshot-delete of the current snapshot", r.stdout + r.stderr)
    r = env.virsh("snapshot-delete", name, "S1", "--children")
    check(r.returncode == 0 and "Domain snapshot S1 deleted" in r.stdout and snap_names(dom) == [],
          "stock virsh snapshot-delete S1 --children", r.stdout + r.stderr)
    expect(dom, name, paths, "vda", [0], "virsh, all deleted")
    data_ok(dom, paths, "vda", 0, "virsh")


def test_killed():
    """kill -9 of virtqemud at some moment of a deletion (a 16 MiB active
    commit), then the same deletion asked again: it finishes, nothing is
    lost."""
    global env
    for delay in (0.0, 0.1, 0.3, 0.6):
        dom, name, d, paths = new_domain(extra=16)
        what = "killed after %.1f s" % delay
        outcome = []
        t = threading.Thread(target=lambda: outcome.append(
            error_of(dom.snapshotLookupByName("S3").delete, 0)))
        t.start()
        time.sleep(delay)
        pid = env.qemud_pid()
        if pid:
            os.kill(pid, signal.SIGKILL)
            bjlib.wait_for(lambda: not os.path.exists("/proc/%d" % pid), 10)
        t.join(60)
        conn = env.connect()
        dom = conn.lookupByName(name)
        if "S3" in snap_names(dom):
            code, msg = error_of(dom.snapshotLookupByName("S3").delete, 0)
            check(code is None, "%s: asked again, the deletion finishes" % what, msg)
        else:
            check(True, "%s: the deletion had finished before the kill" % what)
        check(snap_names(dom) == ["S1", "S2"] and not bjlib.mirror_of(dom) and
              not dom.blockJobInfo("vda", 0),
              "%s: S3 is gone, no job or mirror is left" % what, snap_names(dom))
        expect(dom, name, paths, "vda", [2, 1, 0], what)
        check(not os.path.exists(paths["vda"][3]), "%s: s3 image deleted" % what)
        dom.destroy()
        ok, out = view_ok(paths["vda"][2])
        r = run("qemu-io", "-U", "-r", "-f", "qcow2", paths["vda"][2], "-c",
                "read -P %d 12M 16M" % pattern(3))
        check(ok and r.returncode == 0 and "fail" not in r.stdout.lower(),
              "%s: every byte, the 16 MiB committed too" % what, out + r.stdout)


def main():
    global env
    env = bjlib.Env("modvirt-snapdel-", BUILD)
    try:
        for t in (test_running_leaf, test_running_middle, test_running_root,
                  test_running_children, test_running_children_only, test_offline,
                  test_relative, test_shared_base, test_shared_base_other_running,
                  test_two_disks, test_left_chain,
                  test_virsh, test_killed):
            try:
                t()
            except Exception as e:  # a broken step fails its case, not the run
                import traceback
                check(False, "%s raised %s" % (t.__name__, type(e).__name__),
                      traceback.format_exc())
    finally:
        env.stop()
    return finish()


if __name__ == "__main__":
    sys.exit(main())
