#!/usr/bin/python3
"""Debian 12's stock virsh and python3-libvirt against modvirt.

Starts virtproxyd in embedded mode (it starts the driver daemons it needs)
and checks, for qemu, lxc and xen (simulated) URIs, through the proxy and
direct to each daemon, what a user would look at: version, uri, hostname,
nodeinfo and capabilities, compared with values this script reads from the
host itself.  Also read-only connections, event callback registration with
an event loop, close callbacks, and clear errors for unreachable daemons.

Usage: test-clients.py BUILD_DIR      (prints TAP)
"""
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from taplib import check, finish, stop_daemons  # noqa: E402

BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
PROXY = os.path.join(BUILD, "proxyd", "virtproxyd")
VIRSH = "/usr/bin/virsh"
sys.path.insert(0, "/usr/lib/python3/dist-packages")
import libvirt  # noqa: E402  (Debian's python3-libvirt)


def virsh(uri, *args, timeout=30):
    return subprocess.run([VIRSH, "-c", uri] + list(args), capture_output=True, text=True,
                          timeout=timeout)


def meminfo_kib():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1])


def qemu_version():
    out = subprocess.run(["qemu-system-x86_64", "--version"], capture_output=True,
                         text=True).stdout
    return re.search(r"version (\d+\.\d+\.\d+)", out).group(1)


def kernel_version():
    return re.match(r"(\d+\.\d+\.\d+)", os.uname().release).group(1)


EXPECT = {
    "qemu": ("QEMU", lambda: qemu_version()),
    "lxc": ("LXC", lambda: kernel_version()),
    "xen": ("Xen", lambda: "4.17.0"),
}


def validate_caps(xml):
    with tempfile.NamedTemporaryFile("w", suffix=".xml", delete=False) as f:
        f.write(xml)
    r = subprocess.run(["virt-xml-validate", f.name, "capability"], capture_output=True,
                       text=True)
    os.unlink(f.name)
    return r


def check_virsh(label, uri, drv):
    hv, ver = EXPECT[drv]
    r = virsh(uri, "version")
    check(r.returncode == 0 and "Running hypervisor: %s %s" % (hv, ver()) in r.stdout,
          "%s: virsh version shows %s %s" % (label, hv, ver()), r.stdout + r.stderr)
    r = virsh(uri, "uri")
    check(r.returncode == 0 and r.stdout.strip() == uri, "%s: virsh uri" % label,
          r.stdout + r.stderr)
    r = virsh(uri, "hostname")
    host = r.stdout.strip()
    check(r.returncode == 0 and host.split(".")[0] == socket.gethostname().split(".")[0],
          "%s: virsh hostname is this host (%s)" % (label, host), r.stderr)
    r = virsh(uri, "nodeinfo")
    fields = dict(re.findall(r"^(.+?):\s+(.*)$", r.stdout, re.M))
    ok = (r.returncode == 0 and fields.get("CPU(s)") == str(os.cpu_count())
          and fields.get("Memory size") == "%d KiB" % meminfo_kib()
          and fields.get("CPU model") == os.uname().machine)
    check(ok, "%s: virsh nodeinfo matches the host (cpus, memory, model)" % label,
          r.stdout + r.stderr)
    r = virsh(uri, "capabilities")
    v = validate_caps(r.stdout)
    check(r.returncode == 0 and v.returncode == 0,
          "%s: virsh capabilities validates against libvirt's capability schema" % label,
          v.stdout + v.stderr + r.stderr)
    return r.stdout


def check_python(label, uri, drv):
    hv, ver = EXPECT[drv]
    try:
        c = libvirt.open(uri)
    except libvirt.libvirtError as e:
        check(False, "%s: python3-libvirt opens" % label, e)
        return
    major, minor, micro = (int(x) for x in ver().split("."))
    check(c.getType() == hv and c.getVersion() == major * 1000000 + minor * 1000 + micro,
          "%s: python getType/getVersion" % label, (c.getType(), c.getVersion()))
    check(c.getLibVersion() == 9000000, "%s: python getLibVersion is 9.0.0" % label)
    info = c.getInfo()
    check(info[0] == os.uname().machine and info[2] == os.cpu_count()
          and abs(info[1] - meminfo_kib() // 1024) <= 1,
          "%s: python getInfo matches the host" % label, info)
    check(c.isAlive() == 1 and c.isSecure() == 1, "%s: python isAlive/isSecure" % label)
    check("<host>" in c.getCapabilities(), "%s: python getCapabilities" % label)
    check(c.getURI() == uri, "%s: python getURI" % label, c.getURI())
    c.close()


def main():
    root = tempfile.mkdtemp(prefix="mv-clients-")
    env = dict(os.environ, MODVIRT_XEN_MOCK="1")
    log = open(os.path.join(root, "proxy.log"), "w")
    proxy = subprocess.Popen([PROXY, "--root", root, "--timeout", "60"], env=env, stdout=log,
                             stderr=subprocess.STDOUT)
    sock = os.path.join(root, "run", "virtproxyd-sock")
    try:
        for _ in range(100):
            if os.path.exists(sock):
                break
            time.sleep(0.05)
        check(os.path.exists(sock), "virtproxyd listens")

        for drv in ("qemu", "lxc", "xen"):
            uri = "%s+unix:///system?socket=%s" % (drv, sock)
            check_virsh("%s via proxy" % drv, uri, drv)
            check_python("%s via proxy" % drv, uri, drv)

        # Direct to each daemon (the proxy started them in this root).
        for drv, daemon in (("qemu", "virtqemud"), ("lxc", "virtlxcd"), ("xen", "virtxend")):
            dsock = os.path.join(root, "run", daemon + "-sock")
            uri = "%s+unix:///system?socket=%s" % (drv, dsock)
            check_virsh("%s direct" % drv, uri, drv)

        # Read-only: virsh -r and the proxy's -ro socket.
        r = subprocess.run([VIRSH, "-r", "-c", "qemu+unix:///system?socket=" + sock, "version"],
                           capture_output=True, text=True, timeout=30)
        check(r.returncode == 0 and "QEMU" in r.stdout, "virsh -r works through the proxy",
              r.stderr)
        c = libvirt.openReadOnly("qemu+unix:///system?socket=" + sock + "-ro")
        check(c.getHostname() != "", "python openReadOnly on the proxy's -ro socket")
        c.close()

        # No URI at all: the proxy picks qemu:///system and virsh learns it.
        # (a remote:// URI makes the client send an empty name)
        r = subprocess.run([VIRSH, "-c", "remote+unix:///?socket=" + sock, "version"],
                           capture_output=True, text=True, timeout=30)
        check(r.returncode == 0 and "Running hypervisor: QEMU" in r.stdout,
              "an empty URI opens the default hypervisor, QEMU", r.stdout + r.stderr)

        # Events with an event loop: registration and deregistration work.
        libvirt.virEventRegisterDefaultImpl()
        stop = threading.Event()

        def loop():
            while not stop.is_set():
                libvirt.virEventRunDefaultImpl()
        t = threading.Thread(target=loop, daemon=True)
        t.start()
        c = libvirt.open("qemu+unix:///system?socket=" + sock)
        cb = c.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                      lambda *a: None, None)
        cb2 = c.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_BLOCK_JOB_2,
                                       lambda *a: None, None)
        check(cb >= 0 and cb2 >= 0 and cb != cb2, "python registers domain event callbacks")
        c.domainEventDeregisterAny(cb)
        c.domainEventDeregisterAny(cb2)
        closed = []
        c.registerCloseCallback(lambda conn, reason, opaque: closed.append(reason), None)
        check(c.getLibVersion() == 9000000, "the connection works with an event loop (keepalive on)")
        time.sleep(6)   # longer than the keepalive interval: pings are answered
        check(c.isAlive() == 1 and c.getHostname(), "the connection survives keepalive intervals")
        c.unregisterCloseCallback()
        c.close()
        stop.set()

        # A daemon that cannot be reached: a clear error naming it, no hang.
        empty = tempfile.mkdtemp(prefix="mv-nodaemon-")
        os.makedirs(os.path.join(empty, "run"))
        env2 = dict(os.environ, MODVIRT_DAEMON_DIR=os.path.join(empty, "nothing-here"))
        p2 = subprocess.Popen([PROXY, "--root", empty, "--timeout", "30"], env=env2,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        s2 = os.path.join(empty, "run", "virtproxyd-sock")
        for _ in range(100):
            if os.path.exists(s2):
                break
            time.sleep(0.05)
        t0 = time.monotonic()
        r = virsh("qemu+unix:///system?socket=" + s2, "version", timeout=30)
        took = time.monotonic() - t0
        check(r.returncode != 0 and "virtqemud" in r.stderr and took < 10,
              "an unreachable daemon gives an error naming it within %.1f s" % took, r.stderr)
        p2.terminate()
        p2.wait(timeout=10)

        r = virsh("bogus+unix:///system?socket=" + sock, "version")
        check(r.returncode != 0 and "no connection driver available" in r.stderr,
              "an unknown URI scheme is refused clearly", r.stderr)
    finally:
        stop_daemons(proxy, root)
        log.close()
    return finish()


if __name__ == "__main__":
    sys.exit(main())
