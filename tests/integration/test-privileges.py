#!/usr/bin/python3
"""QEMU runs as an unprivileged user with the files it needs, and only then.

With MODVIRT_QEMU_USER=modvirt-qemu (the user scripts/install-deps.sh
creates): a TCG guest's QEMU runs as that user and group, with no
capabilities and no_new_privs; every layer of its disk chain belongs to it
while it runs and goes back to its previous owner when the guest ends; a
backing file shared by two running guests goes back only when the last one
ends.  A KVM guest whose user cannot open /dev/kvm runs as the daemon's
user (still without capabilities), since the host allows no more.

Usage: test-privileges.py BUILD_DIR      (prints TAP)
"""
import os
import pwd
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import taplib  # noqa: E402
from taplib import Embedded, check, finish  # noqa: E402
from bjlib import DOMAIN  # noqa: E402

BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")


def status(pid):
    out = {}
    for line in open("/proc/%d/status" % pid):
        k, _, v = line.partition(":")
        out[k] = v.split()
    return out


def main():
    try:
        user = pwd.getpwnam("modvirt-qemu")
    except KeyError:
        print("1..0 # SKIP no modvirt-qemu user (scripts/install-deps.sh creates it)")
        return 0
    if os.geteuid() != 0:
        print("1..0 # SKIP needs root")
        return 0
    emb = Embedded(BUILD, "mv-priv-", env=dict(os.environ, MODVIRT_QEMU_USER="modvirt-qemu"),
                   timeout=60)
    root = emb.root
    os.chmod(root, 0o755)       # QEMU's user must reach the images in it
    run = os.path.join(root, "run", "qemu")

    def virsh(*args):
        return emb.virsh(*args, timeout=60)

    def qemu_pid(name):
        text = open(os.path.join(run, name + ".xml")).read()
        return int(text.split("pid='", 1)[1].split("'", 1)[0])

    def owner(path):
        st = os.stat(path)
        return (st.st_uid, st.st_gid)

    try:
        base = os.path.join(root, "base.qcow2")
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", base, "16M"], check=True)
        tops = []
        for n in ("p1", "p2"):
            top = os.path.join(root, n + ".qcow2")
            subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", base,
                            top], check=True)
            tops.append(top)
            path = os.path.join(root, n + ".xml")
            with open(path, "w") as f:
                f.write(DOMAIN % {"type": "qemu", "name": n, "disk": top})
            virsh("define", path)
        r = virsh("start", "p1")
        check(r.returncode == 0, "a TCG guest starts with a QEMU user configured", r.stderr)
        pid = qemu_pid("p1")
        st = status(pid)
        check(int(st["Uid"][0]) == user.pw_uid and int(st["Gid"][0]) == user.pw_gid,
              "QEMU runs as modvirt-qemu", (st["Uid"], st["Gid"]))
        check(int(st["CapEff"][0], 16) == 0 and int(st["CapPrm"][0], 16) == 0
              and st["NoNewPrivs"] == ["1"], "with no capabilities and no_new_privs",
              (st["CapEff"], st["NoNewPrivs"]))
        groups = [int(g) for g in st.get("Groups", [])]
        check(0 not in groups, "without root's groups", groups)
        check(owner(tops[0]) == (user.pw_uid, user.pw_gid) and
              owner(base) == (user.pw_uid, user.pw_gid),
              "every layer of the chain belongs to it while it runs", (owner(tops[0]), owner(base)))
        r = virsh("start", "p2")
        check(r.returncode == 0, "a second guest on the same backing file starts", r.stderr)
        virsh("destroy", "p1")
        check(owner(tops[0]) == (0, 0), "the first guest's top layer goes back to root",
              owner(tops[0]))
        check(owner(base) == (user.pw_uid, user.pw_gid),
              "the shared backing file stays with QEMU while the other guest runs", owner(base))
        virsh("destroy", "p2")
        check(owner(base) == (0, 0) and owner(tops[1]) == (0, 0),
              "the last guest gives the shared backing file back", (owner(base), owner(tops[1])))

        # images joining the chain while QEMU runs as modvirt-qemu: a
        # snapshot overlay and a copy destination are given to it (else
        # QEMU could not open them), and every image goes back to root
        # once QEMU no longer uses it
        mine = (user.pw_uid, user.pw_gid)
        virsh("start", "p1")
        ov = os.path.join(root, "p1-ov.qcow2")
        r = virsh("snapshot-create-as", "p1", "s1", "--disk-only", "--diskspec",
                  "vda,file=" + ov)
        check(r.returncode == 0 and owner(ov) == mine,
              "a snapshot of a running unprivileged guest: the overlay is given to QEMU's user",
              r.stdout + r.stderr + str(owner(ov) if os.path.exists(ov) else None))
        cp = os.path.join(root, "p1-copy.qcow2")
        r = virsh("blockcopy", "p1", "vda", cp, "--wait", "--pivot", "--transient-job")
        check(r.returncode == 0 and owner(cp) == mine,
              "a block copy: the destination is given to QEMU's user, the pivot works",
              r.stdout + r.stderr)
        check(owner(ov) == (0, 0) and owner(tops[0]) == (0, 0) and owner(base) == (0, 0),
              "after the pivot the old chain (no longer opened by QEMU) goes back to root",
              (owner(ov), owner(tops[0]), owner(base)))
        virsh("destroy", "p1")
        check(owner(cp) == (0, 0), "the copy goes back to root when the guest ends", owner(cp))
        virsh("snapshot-delete", "p1", "s1", "--metadata")
        with open(os.path.join(root, "p1.xml"), "w") as f:
            f.write(DOMAIN % {"type": "qemu", "name": "p1", "disk": tops[0]})
        virsh("define", os.path.join(root, "p1.xml"))

        # qemu.conf: a quoted user there wins over the environment; a broken
        # file stops the start with a clear error and no QEMU
        qconf = os.path.join(root, "etc", "qemu.conf")
        with open(qconf, "w") as f:
            f.write('# QEMU driver\nuser = "root"\n')
        r = virsh("start", "p1")
        pid = qemu_pid("p1") if r.returncode == 0 else 0
        check(r.returncode == 0 and int(status(pid)["Uid"][0]) == 0,
              "user = \"root\" in qemu.conf wins over MODVIRT_QEMU_USER", r.stderr)
        virsh("destroy", "p1")
        with open(qconf, "w") as f:
            f.write("user modvirt-qemu\n")
        r = virsh("start", "p1")
        check(r.returncode != 0 and "qemu.conf:1: expected 'key = value'" in r.stderr
              and virsh("domstate", "p1").stdout.strip() == "shut off"
              and owner(tops[0]) == (0, 0),
              "a broken qemu.conf: a clear error, nothing started, nothing chowned", r.stderr)
        os.unlink(qconf)

        if os.access("/dev/kvm", os.R_OK | os.W_OK):
            kvm = os.stat("/dev/kvm")
            allowed = kvm.st_mode & 0o006 or kvm.st_gid in os.getgrouplist("modvirt-qemu",
                                                                             user.pw_gid)
            path = os.path.join(root, "k1.xml")
            top = os.path.join(root, "k1.qcow2")
            subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", top, "16M"], check=True)
            with open(path, "w") as f:
                f.write(DOMAIN % {"type": "kvm", "name": "k1", "disk": top})
            virsh("define", path)
            r = virsh("start", "k1")
            pid = qemu_pid("k1") if r.returncode == 0 else 0
            st = status(pid) if pid else {"Uid": ["?"], "CapEff": ["1"]}
            want = user.pw_uid if allowed else 0
            check(r.returncode == 0 and int(st["Uid"][0]) == want and int(st["CapEff"][0], 16) == 0,
                  "a KVM guest runs as %s (/dev/kvm %s to it), without capabilities"
                  % ("modvirt-qemu" if allowed else "root", "open" if allowed else "closed"),
                  r.stderr + str(st.get("Uid")))
            virsh("destroy", "k1")
        else:
            print("ok %d - KVM guest user # SKIP no /dev/kvm" % (len(taplib.results) + 1))
            taplib.results.append(True)
    finally:
        emb.stop()
    return finish()


if __name__ == "__main__":
    sys.exit(main())
