#!/usr/bin/python3
"""QEMU capabilities through virtproxyd: probed once, cached, reused.

An embedded virtproxyd starts virtqemud with an empty cache; `virsh
capabilities` validates against libvirt's schema and lists, for each
installed qemu-system-* emulator, the machines `qemu-system-* -machine help`
names (aliases such as "pc" with their canonical machine); `virsh version`
shows the emulator's version.  The probe leaves a cache file and no QEMU
behind.  After a restart of the daemons the same answers come from the
cache: its files are not rewritten.  A cache file that no longer matches
its binary (another key) is replaced by a new probe.

Usage: test-caps.py BUILD_DIR      (prints TAP)
"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import taplib  # noqa: E402
from taplib import check, finish, stop_daemons  # noqa: E402

BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
PROXY = os.path.join(BUILD, "proxyd", "virtproxyd")
DAEMONS = {"virtproxyd", "virtqemud", "virtlxcd", "virtxend", "virtstoraged", "virtnetworkd"}
# libvirt architecture -> emulator
EMULATORS = {"x86_64": "qemu-system-x86_64", "i686": "qemu-system-i386",
             "aarch64": "qemu-system-aarch64"}


def machine_help(emulator):
    """{name: canonical or None} from `-machine help`, "none" left out."""
    out = subprocess.run([emulator, "-machine", "help"], capture_output=True, text=True,
                         check=True).stdout
    machines = {}
    for line in out.splitlines()[1:]:
        words = line.split()
        if not words or words[0] == "none":
            continue
        m = re.search(r"\(alias of ([^)]+)\)", line)
        machines[words[0]] = m.group(1) if m else None
    return machines


def marked_processes(marker):
    """(pid, exe name, cmdline) of every process whose environment has @marker."""
    found = []
    for env in glob.glob("/proc/[0-9]*/environ"):
        pid = env.split("/")[2]
        try:
            with open(env, "rb") as f:
                if marker.encode() not in f.read().split(b"\0"):
                    continue
            exe = os.path.basename(os.readlink("/proc/%s/exe" % pid))
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        found.append((int(pid), exe, cmd))
    return found


def validate_caps(xml, path):
    """virt-xml-validate of @xml, written to @path first."""
    with open(path, "w") as f:
        f.write(xml)
    return subprocess.run(["virt-xml-validate", path, "capability"], capture_output=True,
                          text=True)


class Daemons:
    def __init__(self, root, marker):
        self.root = root
        self.env = dict(os.environ, MODVIRT_TEST_MARKER=marker.split("=", 1)[1])
        self.proxy = None
        self.sock = os.path.join(root, "run", "virtproxyd-sock")
        self.uri = "qemu+unix:///system?socket=" + self.sock

    def start(self):
        if os.path.exists(self.sock):
            os.unlink(self.sock)
        log = open(os.path.join(self.root, "proxy.log"), "a")
        self.proxy = subprocess.Popen([PROXY, "--root", self.root, "--timeout", "60"],
                                      env=self.env, stdout=log, stderr=subprocess.STDOUT)
        for _ in range(200):
            if os.path.exists(self.sock):
                return
            time.sleep(0.025)

    def stop(self):
        """Stop the proxy and its daemons and wait until they are gone."""
        if not self.proxy:
            return
        stop_daemons(self.proxy, self.root)
        self.proxy = None
        for _ in range(200):
            r = subprocess.run(["pgrep", "-f", "--", "--root %s( |$)" % self.root],
                               capture_output=True, text=True)
            if not r.stdout.split():
                return
            time.sleep(0.05)

    def virsh(self, *args):
        return subprocess.run(["virsh", "-c", self.uri] + list(args), capture_output=True,
                              text=True, timeout=60)


def check_capabilities(label, xml, emulators, root):
    v = validate_caps(xml, os.path.join(root, "capabilities-%s.xml" % label))
    check(v.returncode == 0, "%s: virsh capabilities validates against libvirt's schema" % label,
          v.stdout + v.stderr)
    try:
        doc = ET.fromstring(xml)
    except ET.ParseError as e:
        check(False, "%s: capabilities parse" % label, e)
        return
    for arch, emulator in sorted(emulators.items()):
        arch_el = doc.find("./guest/arch[@name='%s']" % arch)
        if arch_el is None:
            check(False, "%s: a guest for %s (%s)" % (label, arch, emulator), xml[:2000])
            continue
        check(arch_el.findtext("emulator") == emulator,
              "%s: %s guest names emulator %s" % (label, arch, emulator),
              arch_el.findtext("emulator"))
        expect = machine_help(emulator)
        shown = [m.text for m in arch_el.findall("machine")]
        check(sorted(shown) == sorted(expect),
              "%s: %s machines are those of -machine help (%d)" % (label, arch, len(expect)),
              "missing %s, extra %s" % (sorted(set(expect) - set(shown)),
                                        sorted(set(shown) - set(expect))))
        check(len(shown) == len(set(shown)), "%s: %s lists each machine once" % (label, arch),
              shown)
        types = sorted(d.get("type") for d in arch_el.findall("domain"))
        kvm = os.access("/dev/kvm", os.R_OK | os.W_OK) and arch in ("x86_64", "i686") \
            and os.uname().machine == "x86_64"
        check(types == (["kvm", "qemu"] if kvm else ["qemu"]),
              "%s: %s domain types %s" % (label, arch, types))
        if arch != "x86_64":
            continue
        canonical = expect.get("pc")
        check(canonical is not None and shown[:2] == [canonical, "pc"],
              "%s: x86_64 lists the default %s first, then its alias pc (as libvirt)"
              % (label, canonical), shown[:4])
        pc = [m for m in arch_el.findall("machine") if m.text == "pc"]
        full = [m for m in arch_el.findall("machine") if m.text == canonical]
        ok = (len(pc) == 1 and pc[0].get("canonical") == canonical
              and len(full) == 1 and full[0].get("canonical") is None
              and full[0].get("maxCpus") == "255" and pc[0].get("maxCpus") == "255")
        check(ok, "%s: <machine canonical='%s' maxCpus='255'>pc</machine>" % (label, canonical),
              [ET.tostring(m).decode().strip() for m in pc + full])


def main():
    root = tempfile.mkdtemp(prefix="mv-caps-")
    marker = "MODVIRT_TEST_MARKER=%s" % root
    d = Daemons(root, marker)
    cachedir = os.path.join(root, "lib", "cache", "qemu", "capabilities")
    emulators = {}
    for arch, name in EMULATORS.items():
        path = shutil.which(name)
        if path:
            emulators[arch] = path
    if "x86_64" not in emulators:
        print("1..0 # SKIP qemu-system-x86_64 is not installed")
        return 0
    version = re.search(r"version (\d+\.\d+\.\d+)",
                        subprocess.run([emulators["x86_64"], "--version"], capture_output=True,
                                       text=True).stdout).group(1)
    try:
        # 1. an empty cache: probes
        d.start()
        check(not os.path.exists(cachedir) or not os.listdir(cachedir),
              "the cache starts empty", os.listdir(cachedir) if os.path.exists(cachedir) else "")
        r = d.virsh("version")
        check(r.returncode == 0 and "Running hypervisor: QEMU %s" % version in r.stdout,
              "virsh version shows QEMU %s" % version, r.stdout + r.stderr)
        r = d.virsh("capabilities")
        check(r.returncode == 0, "virsh capabilities", r.stderr)
        first = r.stdout
        check_capabilities("cold", first, emulators, root)

        files = sorted(glob.glob(os.path.join(cachedir, "*.json")))
        check(len(files) == len(emulators),
              "one cache file per emulator in <statedir>/cache/qemu/capabilities",
              files)
        binaries = []
        for f in files:
            with open(f) as fh:
                try:
                    binaries.append(json.load(fh).get("binary"))
                except ValueError as e:
                    binaries.append(str(e))
        check(sorted(binaries) == sorted(emulators.values()),
              "the cache files describe the emulators", binaries)
        mtimes = {f: os.stat(f).st_mtime_ns for f in files}

        procs = marked_processes(marker)
        strays = [p for p in procs if p[1] not in DAEMONS]
        check(not strays, "no QEMU left running by the probes", strays)

        # 2. restart: the same answers, from the cache
        d.stop()
        check(not marked_processes(marker), "the daemons are gone after stopping",
              marked_processes(marker))
        d.start()
        r = d.virsh("version")
        check(r.returncode == 0 and "Running hypervisor: QEMU %s" % version in r.stdout,
              "after a restart: virsh version shows QEMU %s" % version, r.stdout + r.stderr)
        r = d.virsh("capabilities")
        check(r.returncode == 0 and r.stdout == first,
              "after a restart: the same capabilities", r.stderr)
        now = {f: os.stat(f).st_mtime_ns for f in files}
        check(now == mtimes, "after a restart: the cache files were not rewritten",
              "%s -> %s" % (mtimes, now))

        # 3. a cache file whose key does not match its binary is replaced
        d.stop()
        host_file = [f for f, b in zip(files, binaries) if b == emulators["x86_64"]][0]
        with open(host_file) as fh:
            doc = json.load(fh)
        doc["key"]["size"] += 1
        doc["machines"] = []
        with open(host_file, "w") as fh:
            json.dump(doc, fh)
        d.start()
        r = d.virsh("capabilities")
        check(r.returncode == 0 and r.stdout == first,
              "a stale cache file: probed again, same capabilities", r.stderr)
        with open(host_file) as fh:
            doc = json.load(fh)
        check(doc["key"]["size"] == os.stat(emulators["x86_64"]).st_size and doc["machines"],
              "a stale cache file is replaced by the new probe", doc.get("key"))
    finally:
        d.stop()
        left = marked_processes(marker)
        check(not left, "nothing left running (no daemon, no QEMU)", left)
        shutil.rmtree(root, ignore_errors=True)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
