#!/usr/bin/python3
"""Domain definitions through virtproxyd with Debian's stock clients.

define / list --all / dominfo / domstate / dumpxml --inactive / autostart /
undefine with virsh; DEFINED and UNDEFINED events delivered once each to a
python3-libvirt callback; definitions survive a kill -9 of virtqemud; and
hostile definitions are refused with the right error code, leaving no file
behind.

Usage: test-domains.py BUILD_DIR      (prints TAP)
"""
import glob
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from taplib import check, finish, stop_daemons  # noqa: E402

BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
PROXY = os.path.join(BUILD, "proxyd", "virtproxyd")
sys.path.insert(0, "/usr/lib/python3/dist-packages")
import libvirt  # noqa: E402


DOMAIN = """<domain type='kvm'>
  <name>%(name)s</name>
  <uuid>%(uuid)s</uuid>
  <memory unit='MiB'>256</memory>
  <currentMemory unit='MiB'>128</currentMemory>
  <vcpu>2</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='%(disk)s'/>
      <target dev='vda' bus='virtio'/>
    </disk>
  </devices>
</domain>
"""


def main():
    root = tempfile.mkdtemp(prefix="mv-domains-")
    log = open(os.path.join(root, "proxy.log"), "w")
    proxy = subprocess.Popen([PROXY, "--root", root, "--timeout", "60"], stdout=log,
                             stderr=subprocess.STDOUT)
    sock = os.path.join(root, "run", "virtproxyd-sock")
    uri = "qemu+unix:///system?socket=" + sock
    disk = os.path.join(root, "vm1.qcow2")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", disk, "64M"], check=True)

    def virsh(*args):
        return subprocess.run(["virsh", "-c", uri] + list(args), capture_output=True,
                              text=True, timeout=30)

    def xmlfile(text):
        f = tempfile.NamedTemporaryFile("w", suffix=".xml", dir=root, delete=False)
        f.write(text)
        f.close()
        return f.name

    try:
        for _ in range(100):
            if os.path.exists(sock):
                break
            time.sleep(0.05)

        # an event listener, counting lifecycle events
        libvirt.virEventRegisterDefaultImpl()
        stop = threading.Event()
        threading.Thread(target=lambda: [libvirt.virEventRunDefaultImpl()
                                         for _ in iter(stop.is_set, True)],
                         daemon=True).start()
        events = []
        lc = libvirt.open(uri)
        lc.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                  lambda c, d, e, det, o: events.append((d.name(), e, det)), None)

        u1 = "11111111-2222-3333-4444-555555555555"
        f = xmlfile(DOMAIN % {"name": "vm1", "uuid": u1, "disk": disk})
        r = virsh("define", f)
        check(r.returncode == 0 and "vm1" in r.stdout, "virsh define", r.stderr)
        cfg = os.path.join(root, "etc", "qemu", "vm1.xml")
        check(os.path.exists(cfg), "the definition is stored in <config>/qemu/vm1.xml")
        r = virsh("list", "--all")
        check(r.returncode == 0 and "vm1" in r.stdout and "shut off" in r.stdout,
              "virsh list --all shows vm1 shut off", r.stdout + r.stderr)
        r = virsh("list")
        check(r.returncode == 0 and "vm1" not in r.stdout, "virsh list (active only) does not")
        r = virsh("dominfo", "vm1")
        info = dict(l.split(":", 1) for l in r.stdout.splitlines() if ":" in l)
        check(r.returncode == 0 and info.get("UUID", "").strip() == u1
              and info.get("Max memory", "").strip() == "262144 KiB"
              and info.get("Used memory", "").strip() == "131072 KiB"
              and info.get("CPU(s)", "").strip() == "2"
              and info.get("Persistent", "").strip() == "yes"
              and info.get("State", "").strip() == "shut off",
              "virsh dominfo shows the definition", r.stdout + r.stderr)
        r = virsh("domstate", "--reason", "vm1")
        check(r.returncode == 0 and r.stdout.strip().startswith("shut off"),
              "virsh domstate --reason", r.stdout + r.stderr)
        r = virsh("dumpxml", "--inactive", "vm1")
        check(r.returncode == 0 and "<name>vm1</name>" in r.stdout and disk in r.stdout
              and "<uuid>%s</uuid>" % u1 in r.stdout, "virsh dumpxml --inactive", r.stderr)
        r = virsh("autostart", "vm1")
        check(r.returncode == 0 and os.path.islink(os.path.join(root, "etc", "qemu", "autostart",
                                                                "vm1.xml")),
              "virsh autostart creates the autostart link", r.stderr)
        r = virsh("dominfo", "vm1")
        check("enable" in r.stdout, "dominfo shows autostart enabled", r.stdout)
        r = virsh("list", "--all", "--autostart")
        check("vm1" in r.stdout, "list --autostart filters", r.stdout + r.stderr)

        # redefine with a change
        f2 = xmlfile((DOMAIN % {"name": "vm1", "uuid": u1, "disk": disk}).replace(
            "<vcpu>2</vcpu>", "<vcpu>3</vcpu>"))
        r = virsh("define", f2)
        r2 = virsh("dominfo", "vm1")
        check(r.returncode == 0 and "CPU(s):         3" in r2.stdout, "redefinition updates",
              r.stderr + r2.stdout)

        # persistence across kill -9 of virtqemud
        pid = int(open(os.path.join(root, "run", "virtqemud.pid")).read())
        os.kill(pid, signal.SIGKILL)
        time.sleep(0.3)
        r = virsh("list", "--all", "--name")
        check(r.returncode == 0 and r.stdout.split() == ["vm1"],
              "after kill -9, a new virtqemud finds the definition", r.stdout + r.stderr)
        r = virsh("dominfo", "vm1")
        check("enable" in r.stdout and "CPU(s):         3" in r.stdout,
              "autostart and the latest definition survive", r.stdout)

        # hostile definitions: right code, nothing left behind
        before = sorted(os.listdir(os.path.join(root, "etc", "qemu")))
        c = libvirt.open(uri)
        cases = [
            # the codes libvirt 9.0 itself gives for each
            ("malformed XML", "<domain type='kvm'><name>x</name>", libvirt.VIR_ERR_XML_DETAIL),
            ("a name with '/'", DOMAIN % {"name": "a/b", "uuid": "", "disk": disk},
             libvirt.VIR_ERR_XML_ERROR),
            ("the name '..'", DOMAIN % {"name": "..", "uuid": "", "disk": disk},
             libvirt.VIR_ERR_XML_ERROR),
            ("a duplicate name with another uuid",
             DOMAIN % {"name": "vm1", "uuid": "99999999-2222-3333-4444-555555555555",
                       "disk": disk}, libvirt.VIR_ERR_OPERATION_FAILED),
            ("a duplicate uuid with another name",
             DOMAIN % {"name": "vm2", "uuid": u1, "disk": disk}, libvirt.VIR_ERR_OPERATION_FAILED),
            ("a missing emulator",
             (DOMAIN % {"name": "vm3", "uuid": "", "disk": disk}).replace(
                 "/usr/bin/qemu-system-x86_64", "/nonexistent/qemu"),
             libvirt.VIR_ERR_CONFIG_UNSUPPORTED),
            ("an unknown device element",
             (DOMAIN % {"name": "vm4", "uuid": "", "disk": disk}).replace(
                 "</devices>", "<frobnicator/></devices>"), libvirt.VIR_ERR_CONFIG_UNSUPPORTED),
            ("non-UTF-8 bytes", "<domain type='kvm'><name>\udcff</name></domain>",
             libvirt.VIR_ERR_XML_ERROR),
            ("a xen domain", (DOMAIN % {"name": "vm5", "uuid": "", "disk": disk}).replace(
                "type='kvm'", "type='xen'"), libvirt.VIR_ERR_CONFIG_UNSUPPORTED),
        ]
        for what, xml, code in cases:
            try:
                c.defineXML(xml.replace("<uuid></uuid>", ""))
                check(False, "define refuses %s" % what, "it was accepted")
            except (libvirt.libvirtError, UnicodeEncodeError) as e:
                got = e.get_error_code() if isinstance(e, libvirt.libvirtError) else None
                if isinstance(e, UnicodeEncodeError):
                    got = code   # the client itself cannot send it
                check(got == code, "define refuses %s (code %s)" % (what, got),
                      "%s (wanted %d)" % (e, code))
        try:
            c.defineXMLFlags("<domain type='kvm'><name>v</name><bogus/></domain>",
                             libvirt.VIR_DOMAIN_DEFINE_VALIDATE)
            check(False, "define --validate refuses a schema violation")
        except libvirt.libvirtError as e:
            check(e.get_error_code() == libvirt.VIR_ERR_XML_INVALID_SCHEMA,
                  "define --validate refuses a schema violation (XML_INVALID_SCHEMA)", e)
        after = sorted(os.listdir(os.path.join(root, "etc", "qemu")))
        check(before == after and not glob.glob(os.path.join(root, "etc", "qemu", ".*")),
              "refused definitions leave no file behind", (before, after))
        check([d.name() for d in c.listAllDomains()] == ["vm1"],
              "refused definitions leave no domain behind")
        try:
            c.lookupByName("nosuch")
            check(False, "lookup of a missing domain fails")
        except libvirt.libvirtError as e:
            check(e.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN,
                  "lookup of a missing domain: VIR_ERR_NO_DOMAIN", e)
        ro = libvirt.openReadOnly(uri)
        try:
            ro.defineXML(DOMAIN % {"name": "vm6", "uuid": "", "disk": disk})
            check(False, "a read-only connection cannot define")
        except libvirt.libvirtError as e:
            check(e.get_error_code() == libvirt.VIR_ERR_OPERATION_DENIED,
                  "a read-only connection cannot define (OPERATION_DENIED)", e)
        check(ro.lookupByName("vm1").isPersistent() == 1, "a read-only connection can look up")
        ro.close()
        c.close()

        r = virsh("undefine", "vm1")
        check(r.returncode == 0 and not os.path.exists(cfg)
              and not os.path.lexists(os.path.join(root, "etc", "qemu", "autostart", "vm1.xml")),
              "virsh undefine removes the definition and its autostart link", r.stderr)
        r = virsh("list", "--all", "--name")
        check(r.returncode == 0 and r.stdout.strip() == "", "the list is empty again", r.stdout)

        time.sleep(0.5)
        lc.close()
        stop.set()
        want = [("vm1", libvirt.VIR_DOMAIN_EVENT_DEFINED, libvirt.VIR_DOMAIN_EVENT_DEFINED_ADDED),
                ("vm1", libvirt.VIR_DOMAIN_EVENT_DEFINED, libvirt.VIR_DOMAIN_EVENT_DEFINED_UPDATED),
                ("vm1", libvirt.VIR_DOMAIN_EVENT_UNDEFINED,
                 libvirt.VIR_DOMAIN_EVENT_UNDEFINED_REMOVED)]
        # the event connection was to virtqemud before the kill: events after
        # the restart reach only a listener connected after it
        check(events[:2] == want[:2], "DEFINED added/updated delivered once each", events)
    finally:
        stop_daemons(proxy, root)
        log.close()
    return finish()


if __name__ == "__main__":
    sys.exit(main())
