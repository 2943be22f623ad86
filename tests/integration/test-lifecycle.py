#!/usr/bin/python3
"""Real QEMU guests through virtproxyd with Debian's stock clients.

virsh start / start --paused / suspend / resume / reboot / destroy / create
(transient) / domstate --reason / dominfo / dumpxml on live guests; lifecycle
events delivered once each to python3-libvirt; QEMU runs without
capabilities and with no_new_privs; kill -9 of virtqemud while two guests
run: both are found again and stay controllable, a guest killed while the
daemon was away shows as shut off (crashed); a domain busy with a hung
QEMU refuses state changes with OPERATION_TIMEOUT naming the job, while
read-only calls still answer; failed starts leave nothing behind.

The guests have an empty disk: SeaBIOS finds nothing to boot and idles,
which is all start/suspend/resume/destroy need.

Usage: test-lifecycle.py BUILD_DIR      (prints TAP)
"""
import os
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import taplib  # noqa: E402
from taplib import Embedded, check, finish, qemu_pids, start_event_loop  # noqa: E402

BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
sys.path.insert(0, "/usr/lib/python3/dist-packages")
import libvirt  # noqa: E402

DOMAIN = """<domain type='%(type)s'>
  <name>%(name)s</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
  <features><acpi/></features>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='%(disk)s'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <serial type='pty'/>
    <console type='pty'/>
  </devices>
</domain>
"""
ACCEL = "kvm" if os.access("/dev/kvm", os.R_OK | os.W_OK) else "qemu"


def proc_status(pid):
    fields = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            fields[k] = v.strip()
    return fields


def main():
    emb = Embedded(BUILD, "mv-life-", env=dict(os.environ, MODVIRT_QEMU_JOB_WAIT_MS="1500"))
    root, uri = emb.root, emb.uri
    run = os.path.join(root, "run", "qemu")

    def disk(name):
        path = os.path.join(root, name + ".qcow2")
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", path, "32M"], check=True)
        return path

    def virsh(*args):
        return emb.virsh(*args, timeout=60)

    def xmlfile(name, text):
        path = os.path.join(root, name + ".xml")
        with open(path, "w") as f:
            f.write(text)
        return path

    def state(name):
        return virsh("domstate", "--reason", name).stdout.strip()

    def status_pid(name):
        text = open(os.path.join(run, name + ".xml")).read()
        return int(text.split("pid='", 1)[1].split("'", 1)[0])

    try:
        start_event_loop()
        events = []
        lc = libvirt.open(uri)
        lc.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                  lambda c, d, e, det, o: events.append((d.name(), e, det)), None)

        f1 = xmlfile("vm1", DOMAIN % {"type": ACCEL, "name": "vm1", "disk": disk("vm1")})
        r = virsh("define", f1)
        check(r.returncode == 0, "virsh define vm1", r.stderr)
        t0 = time.monotonic()
        r = virsh("start", "vm1")
        took = time.monotonic() - t0
        check(r.returncode == 0 and "started" in r.stdout, "virsh start vm1", r.stdout + r.stderr)
        print("# start took %.2f s (not a timed test)" % took)
        check(state("vm1") == "running (booted)", "domstate --reason: running (booted)",
              state("vm1"))
        r = virsh("list")
        check(r.returncode == 0 and "vm1" in r.stdout and "running" in r.stdout,
              "virsh list shows vm1 running", r.stdout)
        r = virsh("dominfo", "vm1")
        info = dict(l.split(":", 1) for l in r.stdout.splitlines() if ":" in l)
        check(info.get("Id", "").strip() not in ("", "-") and info.get("State", "").strip() ==
              "running", "dominfo: an id and state running", r.stdout)
        check(info.get("CPU time", "").strip().endswith("s"),
              "dominfo shows the CPU time QEMU used", r.stdout)
        pids = qemu_pids(root)
        check(len(pids) == 1, "one QEMU process runs", pids)
        if pids:
            st = proc_status(pids[0])
            check(int(st.get("CapEff", "1"), 16) == 0 and int(st.get("CapBnd", "1"), 16) == 0
                  or int(st.get("CapEff", "1"), 16) == 0 and os.geteuid() != 0,
                  "QEMU runs with no capabilities", (st.get("CapEff"), st.get("CapBnd")))
            check(st.get("NoNewPrivs") == "1", "QEMU runs with no_new_privs", st.get("NoNewPrivs"))
            qd = emb.qemud_pid()
            check(os.getsid(pids[0]) != os.getsid(qd) and
                  int(proc_status(pids[0]).get("PPid", "0")) != qd,
                  "QEMU is detached (own session, not virtqemud's child)")
            check(status_pid("vm1") == pids[0], "the status file names QEMU's pid")
        r = virsh("dumpxml", "vm1")
        check(r.returncode == 0 and "id='" in r.stdout.split("\n", 1)[0] and "/dev/pts/" in r.stdout
              and "node-name" not in r.stdout, "live dumpxml has the id and the pty path",
              r.stdout[:2000])
        r = virsh("dumpxml", "--inactive", "vm1")
        check(r.returncode == 0 and "id='" not in r.stdout.split("\n", 1)[0]
              and "/dev/pts/" not in r.stdout, "dumpxml --inactive has no runtime data")
        r = virsh("start", "vm1")
        check(r.returncode != 0 and ("already running" in r.stderr or
                                     "already active" in r.stderr),
              "starting a running domain is refused", r.stderr)

        r = virsh("suspend", "vm1")
        check(r.returncode == 0 and state("vm1") == "paused (user)", "suspend: paused (user)",
              r.stderr + state("vm1"))
        r = virsh("resume", "vm1")
        check(r.returncode == 0 and state("vm1") == "running (unpaused)",
              "resume: running (unpaused)", r.stderr + state("vm1"))
        r = virsh("reboot", "vm1")
        check(r.returncode == 0 and "rebooted" in r.stdout, "virsh reboot is accepted",
              r.stdout + r.stderr)
        r = virsh("destroy", "vm1")
        check(r.returncode == 0 and state("vm1") == "shut off (destroyed)",
              "destroy: shut off (destroyed)", r.stderr + state("vm1"))
        check(qemu_pids(root) == [], "no QEMU process left after destroy", qemu_pids(root))
        check(not os.path.exists(os.path.join(run, "vm1.xml")) and
              not [d for d in os.listdir(run) if d.startswith("domain-")],
              "the status file and runtime directory are gone", os.listdir(run))
        r = virsh("destroy", "vm1")
        check(r.returncode != 0 and "not running" in r.stderr, "destroying a shut off domain fails",
              r.stderr)

        r = virsh("start", "--paused", "vm1")
        check(r.returncode == 0 and state("vm1") == "paused (user)",
              "start --paused: paused (user)", r.stderr + state("vm1"))
        virsh("destroy", "vm1")

        # transient domains
        f2 = xmlfile("t1", DOMAIN % {"type": ACCEL, "name": "t1", "disk": disk("t1")})
        r = virsh("create", f2)
        check(r.returncode == 0 and state("t1") == "running (booted)", "virsh create (transient)",
              r.stderr)
        r = virsh("dominfo", "t1")
        check("Persistent:     no" in r.stdout, "the created domain is not persistent", r.stdout)
        virsh("destroy", "t1")
        r = virsh("list", "--all", "--name")
        check("t1" not in r.stdout.split(), "a destroyed transient domain is gone", r.stdout)

        # a bridge interface: a tap plugged into a bridge, gone with QEMU
        br = "mvbr%d" % (os.getpid() % 100000)
        made = subprocess.run(["ip", "link", "add", "name", br, "type", "bridge"],
                              capture_output=True, text=True)
        if made.returncode != 0:
            print("ok %d - bridge interface # SKIP cannot create a bridge: %s"
                  % (len(taplib.results) + 1, made.stderr.strip()))
            taplib.results.append(True)
        else:
            try:
                xml = (DOMAIN % {"type": ACCEL, "name": "n1", "disk": disk("n1")}).replace(
                    "<serial type='pty'/>", "<interface type='bridge'><source bridge='%s'/>"
                    "<mac address='52:54:00:12:34:56'/><model type='virtio'/></interface>"
                    "<serial type='pty'/>" % br)
                r = virsh("create", xmlfile("n1", xml))
                ports = subprocess.run(["ip", "-o", "link", "show", "master", br],
                                       capture_output=True, text=True).stdout
                live = virsh("dumpxml", "n1").stdout
                tap = ("vnet" + live.split("<target dev='vnet", 1)[1].split("'", 1)[0]
                       if "<target dev='vnet" in live else "")
                check(r.returncode == 0 and tap.startswith("vnet") and tap in ports
                      and "fe:54:00:12:34:56" in ports,
                      "a bridge interface gets a tap in the bridge, shown in the live XML",
                      r.stderr + ports + tap)
                virsh("destroy", "n1")
                ports = subprocess.run(["ip", "-o", "link", "show", "master", br],
                                       capture_output=True, text=True).stdout
                check(tap and tap not in ports, "the tap is gone with the guest", ports)
                xml = (DOMAIN % {"type": ACCEL, "name": "n2", "disk": disk("n2")}).replace(
                    "<serial type='pty'/>", "<interface type='bridge'><source bridge='nosuchbr0'/>"
                    "</interface><serial type='pty'/>")
                r = virsh("create", xmlfile("n2", xml))
                check(r.returncode != 0 and "nosuchbr0" in r.stderr and qemu_pids(root) == [],
                      "a missing bridge: a clear error, no QEMU left", r.stderr)
            finally:
                subprocess.run(["ip", "link", "del", br], capture_output=True)

        time.sleep(0.5)
        E = libvirt
        want = [("vm1", E.VIR_DOMAIN_EVENT_DEFINED, E.VIR_DOMAIN_EVENT_DEFINED_ADDED),
                ("vm1", E.VIR_DOMAIN_EVENT_STARTED, E.VIR_DOMAIN_EVENT_STARTED_BOOTED),
                ("vm1", E.VIR_DOMAIN_EVENT_SUSPENDED, E.VIR_DOMAIN_EVENT_SUSPENDED_PAUSED),
                ("vm1", E.VIR_DOMAIN_EVENT_RESUMED, E.VIR_DOMAIN_EVENT_RESUMED_UNPAUSED),
                ("vm1", E.VIR_DOMAIN_EVENT_STOPPED, E.VIR_DOMAIN_EVENT_STOPPED_DESTROYED),
                ("vm1", E.VIR_DOMAIN_EVENT_STARTED, E.VIR_DOMAIN_EVENT_STARTED_BOOTED),
                ("vm1", E.VIR_DOMAIN_EVENT_SUSPENDED, E.VIR_DOMAIN_EVENT_SUSPENDED_PAUSED),
                ("vm1", E.VIR_DOMAIN_EVENT_STOPPED, E.VIR_DOMAIN_EVENT_STOPPED_DESTROYED),
                ("t1", E.VIR_DOMAIN_EVENT_STARTED, E.VIR_DOMAIN_EVENT_STARTED_BOOTED),
                ("t1", E.VIR_DOMAIN_EVENT_STOPPED, E.VIR_DOMAIN_EVENT_STOPPED_DESTROYED)]
        if made.returncode == 0:
            want += [("n1", E.VIR_DOMAIN_EVENT_STARTED, E.VIR_DOMAIN_EVENT_STARTED_BOOTED),
                     ("n1", E.VIR_DOMAIN_EVENT_STOPPED, E.VIR_DOMAIN_EVENT_STOPPED_DESTROYED)]
        check(events == want, "lifecycle events delivered once each, in order", events)

        # a failed start leaves nothing behind
        f3 = xmlfile("bad", DOMAIN % {"type": ACCEL, "name": "bad",
                                      "disk": os.path.join(root, "missing.qcow2")})
        r = virsh("define", f3)
        r = virsh("start", "bad")
        check(r.returncode != 0 and "missing.qcow2" in r.stderr,
              "starting with a missing disk image fails naming it", r.stderr)
        check(state("bad").startswith("shut off") and qemu_pids(root) == []
              and not os.path.exists(os.path.join(run, "bad.xml")),
              "... and leaves no QEMU, no status file", (state("bad"), qemu_pids(root)))
        virsh("undefine", "bad")
        r = virsh("create", f3)
        check(r.returncode != 0 and "bad" not in virsh("list", "--all", "--name").stdout.split(),
              "a failed create leaves no transient domain", r.stderr)

        # kill -9 virtqemud while two guests run
        f4 = xmlfile("vm2", DOMAIN % {"type": ACCEL, "name": "vm2", "disk": disk("vm2")})
        virsh("define", f4)
        virsh("start", "vm1")
        virsh("start", "vm2")
        virsh("suspend", "vm2")
        ids = {n: virsh("domid", n).stdout.strip() for n in ("vm1", "vm2")}
        before = qemu_pids(root)
        qpid = emb.qemud_pid()
        os.kill(qpid, signal.SIGKILL)
        time.sleep(0.3)
        check(qemu_pids(root) == before and len(before) == 2,
              "both guests keep running without virtqemud", (before, qemu_pids(root)))
        r = virsh("list")
        check(r.returncode == 0 and "vm1" in r.stdout and "vm2" in r.stdout,
              "a new virtqemud lists both guests", r.stdout + r.stderr)
        check(state("vm1") == "running (booted)" and state("vm2") == "paused (user)",
              "their states survive", (state("vm1"), state("vm2")))
        check({n: virsh("domid", n).stdout.strip() for n in ("vm1", "vm2")} == ids,
              "their ids survive", ids)
        r = virsh("resume", "vm2")
        check(r.returncode == 0 and state("vm2") == "running (unpaused)",
              "the reconnected monitor works (resume)", r.stderr + state("vm2"))
        r = virsh("suspend", "vm1")
        check(r.returncode == 0 and state("vm1") == "paused (user)",
              "the reconnected monitor works (suspend)", r.stderr)
        virsh("resume", "vm1")

        # a guest that dies while virtqemud is away
        qpid = emb.qemud_pid()
        os.kill(qpid, signal.SIGKILL)
        vm2pid = status_pid("vm2")
        os.kill(vm2pid, signal.SIGKILL)
        time.sleep(0.3)
        # the first client starts virtqemud again, then registers: the
        # STOPPED found while reconnecting still reaches it, once
        away = []
        ac = libvirt.open(uri)
        ac.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                  lambda c, d, e, det, o: away.append((d.name(), e, det)), None)
        time.sleep(1.0)
        check(away == [("vm2", libvirt.VIR_DOMAIN_EVENT_STOPPED,
                        libvirt.VIR_DOMAIN_EVENT_STOPPED_FAILED)],
              "the STOPPED event of the guest that died meanwhile reaches a client "
              "registering after the restart, once", away)
        ac.close()
        check(state("vm2") == "shut off (crashed)",
              "a guest killed while virtqemud was away: shut off (crashed)", state("vm2"))
        check(state("vm1") == "running (unpaused)", "the other guest still runs", state("vm1"))
        check(not os.path.exists(os.path.join(run, "vm2.xml")), "the dead guest's status is gone")

        # a busy domain: a hung QEMU holds the job
        vm1pid = status_pid("vm1")
        os.kill(vm1pid, signal.SIGSTOP)
        c1 = libvirt.open(uri)
        d1 = c1.lookupByName("vm1")
        holder = threading.Thread(target=lambda: _try(d1.suspend), daemon=True)
        holder.start()
        time.sleep(0.5)
        c2 = libvirt.open(uri)
        d2 = c2.lookupByName("vm1")
        t0 = time.monotonic()
        try:
            d2.resume()
            check(False, "a second state change on a busy domain fails")
        except libvirt.libvirtError as e:
            check(e.get_error_code() == libvirt.VIR_ERR_OPERATION_TIMEOUT
                  and "virDomainSuspend" in str(e),
                  "a second state change on a busy domain: OPERATION_TIMEOUT naming the job", e)
        t0 = time.monotonic()
        info = d2.info()
        check(time.monotonic() - t0 < 1.0 and info[0] in (libvirt.VIR_DOMAIN_RUNNING,
                                                         libvirt.VIR_DOMAIN_PAUSED),
              "read-only calls answer at once meanwhile", info)
        r = virsh("destroy", "vm1")
        check(r.returncode == 0 and state("vm1") == "shut off (destroyed)",
              "destroy works on the hung guest", r.stderr + state("vm1"))
        holder.join(40)
        c1.close()
        c2.close()

        # autostart: once per host boot, not on every start of virtqemud
        fa = xmlfile("auto1", DOMAIN % {"type": ACCEL, "name": "auto1", "disk": disk("auto1")})
        virsh("define", fa)
        virsh("autostart", "auto1")
        marker = os.path.join(run, "autostarted")

        def restart_qemud():
            qpid = emb.qemud_pid()
            os.kill(qpid, signal.SIGKILL)
            time.sleep(0.3)

        restart_qemud()
        os.unlink(marker)          # as after a host reboot
        virsh("list")
        for _ in range(100):
            if state("auto1").startswith("running"):
                break
            time.sleep(0.1)
        check(state("auto1") == "running (booted)",
              "after a host reboot, virtqemud starts the autostart domain", state("auto1"))
        virsh("destroy", "auto1")
        restart_qemud()
        virsh("list")
        time.sleep(1.0)
        check(state("auto1").startswith("shut off"),
              "a later start of virtqemud in the same boot does not start it again",
              state("auto1"))

        lc.close()
    finally:
        emb.stop()
    check(qemu_pids(root) == [], "no stray QEMU process")
    return finish()


def _try(fn):
    try:
        fn()
    except libvirt.libvirtError:
        pass


if __name__ == "__main__":
    sys.exit(main())
