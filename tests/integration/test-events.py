#!/usr/bin/python3
"""A real guest's power button through virtproxyd: virsh shutdown and reboot.

The test guest (tests/guest: a Linux kernel and a busybox initramfs) reacts
to ACPI: `virsh reboot` makes it power off and virtqemud resets it instead
(libvirt's fake reboot), so it boots again and python3-libvirt gets
REBOOT events and no suspend/resume; `virsh shutdown` makes it power off for good: SHUTDOWN
(guest), then STOPPED (shutdown), state "shut off (shutdown)", QEMU gone.
A guest that reboots itself is reported with a REBOOT event and keeps
running.  A guest whose image's file system fills up is paused with
IO_ERROR / IO_ERROR_REASON events, and resumes once there is room.  Every lifecycle event is received exactly once; every reset QEMU
reports (ours, and the firmware's own at boot) is one REBOOT event.

Usage: test-events.py BUILD_DIR      (prints TAP)
"""
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "guest"))
import guestlib  # noqa: E402
from taplib import Embedded, check, finish, start_event_loop  # noqa: E402

BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
sys.path.insert(0, "/usr/lib/python3/dist-packages")
import libvirt  # noqa: E402


def main():
    try:
        guestlib.ensure_built()
    except Exception as e:   # noqa: BLE001 - any failure to build is reported
        check(False, "the test guest builds (tests/guest/build-guest.sh)", e)
        return finish()
    emb = Embedded(BUILD, "mv-events-")
    root, uri = emb.root, emb.uri
    timeout = guestlib.boot_timeout()

    def virsh(*args):
        return emb.virsh(*args, timeout=60)

    def state(name):
        return virsh("domstate", "--reason", name).stdout.strip()

    def pty_of(dom):
        xml = dom.XMLDesc(0)
        return xml.split("<source path='", 1)[1].split("'", 1)[0]

    try:
        start_event_loop()
        events = []
        conn = libvirt.open(uri)
        conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                    lambda c, d, e, det, o: events.append((d.name(), e, det)),
                                    None)
        conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_REBOOT,
                                    lambda c, d, o: events.append((d.name(), "reboot")), None)

        disk = os.path.join(root, "g1.qcow2")
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", disk, "16M"], check=True)
        dom = conn.defineXML(guestlib.domain_xml("g1", disk=disk))
        dom.createWithFlags(libvirt.VIR_DOMAIN_START_PAUSED)
        with guestlib.SerialReader(pty_of(dom)) as serial:
            dom.resume()
            try:
                serial.wait_for(guestlib.READY, timeout)
                check(True, "the guest boots and says it is ready")
            except TimeoutError:
                check(False, "the guest boots and says it is ready", serial.lines[-10:])
                return finish()
            r = virsh("reboot", "g1")
            check(r.returncode == 0, "virsh reboot", r.stderr)
            try:
                serial.wait_for(guestlib.READY, timeout)
                ok = True
            except TimeoutError:
                ok = False
            check(ok and state("g1") == "running (booted)" or ok and
                  state("g1").startswith("running"),
                  "after virsh reboot the guest boots again and keeps running",
                  (state("g1"), serial.lines[-5:]))

            r = virsh("shutdown", "g1")
            check(r.returncode == 0, "virsh shutdown", r.stderr)
            for _ in range(int(timeout * 10)):
                if state("g1").startswith("shut off"):
                    break
                time.sleep(0.1)
            check(state("g1") == "shut off (shutdown)", "the guest powers off: shut off (shutdown)",
                  state("g1"))
        time.sleep(0.5)
        E = libvirt
        want = [("g1", E.VIR_DOMAIN_EVENT_DEFINED, E.VIR_DOMAIN_EVENT_DEFINED_ADDED),
                ("g1", E.VIR_DOMAIN_EVENT_STARTED, E.VIR_DOMAIN_EVENT_STARTED_BOOTED),
                ("g1", E.VIR_DOMAIN_EVENT_SUSPENDED, E.VIR_DOMAIN_EVENT_SUSPENDED_PAUSED),
                ("g1", E.VIR_DOMAIN_EVENT_RESUMED, E.VIR_DOMAIN_EVENT_RESUMED_UNPAUSED),
                ("g1", E.VIR_DOMAIN_EVENT_SHUTDOWN, E.VIR_DOMAIN_EVENT_SHUTDOWN_GUEST),
                ("g1", E.VIR_DOMAIN_EVENT_STOPPED, E.VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN)]
        # every QEMU RESET is one REBOOT event, as in libvirt: ours, and the
        # firmware's own reset as it boots again
        lifecycle = [e for e in events if e[1] != "reboot"]
        reboots = [i for i, e in enumerate(events) if e[1] == "reboot"]
        check(lifecycle == want, "lifecycle events once each: no suspend/resume for the fake "
              "reboot, then SHUTDOWN (guest) and STOPPED (shutdown)", events)
        check(reboots and events.index(("g1", E.VIR_DOMAIN_EVENT_SHUTDOWN,
                                        E.VIR_DOMAIN_EVENT_SHUTDOWN_GUEST)) > reboots[-1],
              "REBOOT events after virsh reboot, before the shutdown", events)

        # a guest that reboots by itself
        events.clear()
        xml = guestlib.domain_xml("g2", disk=disk, cmdline_text=guestlib.cmdline(reboot=True))
        dom2 = conn.createXML(xml, libvirt.VIR_DOMAIN_START_PAUSED)
        with guestlib.SerialReader(pty_of(dom2)) as serial:
            dom2.resume()
            try:
                serial.wait_for(guestlib.REBOOTING, timeout)
                serial.wait_for(guestlib.READY, timeout)
                ok = True
            except TimeoutError:
                ok = False
            time.sleep(0.5)
            check(ok and ("g2", "reboot") in events and state("g2").startswith("running"),
                  "a guest-initiated reboot: REBOOT event, still running",
                  (events, serial.lines[-5:]))
        dom2.destroy()
        io_error_case(conn, root, pty_of, state, timeout, events)
        conn.close()
    finally:
        emb.stop()
    return finish()


def io_error_case(conn, root, pty_of, state, timeout, events):
    """A guest whose image's file system fills up: QEMU stops it
    (werror=enospc, QEMU's default), virtqemud reports IO_ERROR and
    IO_ERROR_REASON (enospc) and the suspension with reason I/O error; with
    room made, resume lets the guest finish and every record it
    acknowledged is on the disk."""
    E = libvirt
    small = os.path.join(root, "small-fs")
    os.makedirs(small, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2M", "modvirt-test-ioerr", small],
                   check=True)
    try:
        image = os.path.join(small, "g3.qcow2")
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", image, "64M"], check=True)
        io_events = []
        ids = [conn.domainEventRegisterAny(
                   None, E.VIR_DOMAIN_EVENT_ID_IO_ERROR,
                   lambda c, d, path, alias, action, o: io_events.append(
                       ("io", d.name(), path, alias, action)), None),
               conn.domainEventRegisterAny(
                   None, E.VIR_DOMAIN_EVENT_ID_IO_ERROR_REASON,
                   lambda c, d, path, alias, action, reason, o: io_events.append(
                       ("reason", d.name(), path, alias, action, reason)), None)]
        events.clear()
        watchers = {tool: subprocess.Popen(
            cmd + ["-c", conn.getURI(), "event", "--event", "io-error-reason", "--timeout", "150"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for tool, cmd in (("virsh", ["virsh"]),
                              ("modvirt", [os.path.join(BUILD, "tools", "modvirt")]))}
        time.sleep(1)
        # tmpfs may not take O_DIRECT (cache='none'): the host page cache it is
        xml = guestlib.domain_xml("g3", disk=image, cmdline_text=guestlib.cmdline(
            writer=True, count=1000)).replace("cache='none'", "cache='writeback'")
        dom = conn.createXML(xml, E.VIR_DOMAIN_START_PAUSED)
        with guestlib.SerialReader(pty_of(dom)) as serial:
            dom.resume()
            # 2 MiB take the guest 5-20 s to fill (a dd and an fsync per record)
            paused = False
            deadline = time.monotonic() + 120
            while not paused and time.monotonic() < deadline:
                paused = dom.state() == [E.VIR_DOMAIN_PAUSED, E.VIR_DOMAIN_PAUSED_IOERROR]
                time.sleep(0.1)
            check(paused and state("g3") == "paused (I/O error)",
                  "a guest writing into a full file system: paused (I/O error)",
                  (dom.state(), state("g3")))
            time.sleep(0.5)
            first = io_events[:2]
            check(("io", "g3", image, "virtio-disk0", E.VIR_DOMAIN_EVENT_IO_ERROR_PAUSE) in first
                  and ("reason", "g3", image, "virtio-disk0", E.VIR_DOMAIN_EVENT_IO_ERROR_PAUSE,
                       "enospc") in first,
                  "IO_ERROR and IO_ERROR_REASON (enospc) name the image and virtio-disk0, "
                  "action pause", io_events[:4])
            check(("g3", E.VIR_DOMAIN_EVENT_SUSPENDED, E.VIR_DOMAIN_EVENT_SUSPENDED_IOERROR)
                  in events and events.count(("g3", E.VIR_DOMAIN_EVENT_SUSPENDED,
                                              E.VIR_DOMAIN_EVENT_SUSPENDED_IOERROR)) == 1,
                  "one SUSPENDED (I/O error) lifecycle event", events)
            outs = {}
            for tool, proc in watchers.items():
                try:
                    outs[tool] = proc.communicate(timeout=30)[0]
                except subprocess.TimeoutExpired:
                    proc.kill()
                    outs[tool] = proc.communicate()[0]
            want = ("event 'io-error-reason' for domain 'g3': %s (virtio-disk0) pause due to enospc"
                    % image)
            check(want in outs["virsh"] and outs["modvirt"] == outs["virsh"],
                  "virsh event --event io-error-reason prints the event; modvirt the same", outs)
            r = subprocess.run(["virsh", "-c", conn.getURI(), "domblkerror", "g3"],
                               capture_output=True, text=True)
            mv = subprocess.run([os.path.join(BUILD, "tools", "modvirt"), "-c", conn.getURI(),
                                 "domblkerror", "g3"], capture_output=True, text=True)
            check(r.returncode == 0 and r.stdout.strip() == "vda: no space" and
                  dom.diskErrors() == {"vda": E.VIR_DOMAIN_DISK_ERROR_NO_SPACE} and
                  (mv.returncode, mv.stdout) == (r.returncode, r.stdout),
                  "while paused: virsh domblkerror says 'vda: no space', diskErrors() and "
                  "modvirt domblkerror too", (r.stdout, r.stderr, mv.stdout, mv.stderr))
            subprocess.run(["mount", "-o", "remount,size=64M", small], check=True)
            dom.resume()
            try:
                serial.wait_for(guestlib.WRITER_DONE, 120)
                done = True
            except TimeoutError:
                done = False
            acked = guestlib.acked_records(serial.lines)
            check(done and acked == 1000 and state("g3").startswith("running"),
                  "with room made, resume: the guest writes on to the end", (acked,
                                                                          serial.lines[-3:]))

        dom.destroy()
        problems = guestlib.verify_records(image, acked)
        check(not problems, "every record the guest acknowledged is in the image",
              problems[:5])
        for i in ids:
            conn.domainEventDeregisterAny(i)
    finally:
        subprocess.run(["umount", "-l", small])


if __name__ == "__main__":
    sys.exit(main())
