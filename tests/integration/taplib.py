"""TAP output shared by the Python integration tests."""
import sys

results = []


def check(cond, name, detail=""):
    """Record one test case; print its TAP line and, if it failed, why."""
    results.append(bool(cond))
    print("%s %d - %s" % ("ok" if cond else "not ok", len(results), name))
    if not cond and detail:
        for line in str(detail).splitlines()[:20]:
            print("#   " + line)
    sys.stdout.flush()


def finish():
    """Print the plan; the exit status for the test."""
    print("1..%d" % len(results))
    return 0 if all(results) else 1


def stop_daemons(proxy, root):
    """SIGTERM @proxy (a Popen), then every daemon running with --root @root."""
    import os
    import signal
    import subprocess

    proxy.send_signal(signal.SIGTERM)
    try:
        proxy.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proxy.kill()
    for pid in subprocess.run(["pgrep", "-f", "--", "--root %s( |$)" % root], capture_output=True,
                              text=True).stdout.split():
        try:
            os.kill(int(pid), signal.SIGTERM)
        except ProcessLookupError:
            pass


def qemu_pids(root):
    """QEMU processes started under the embedded root @root (their command
    line names it), as sorted pids."""
    import subprocess

    out = subprocess.run(["pgrep", "-f", "qemu-system.*%s" % root], capture_output=True,
                         text=True).stdout.split()
    return sorted(int(p) for p in out)


def start_event_loop():
    """Register libvirt's default event loop and run it in a daemon thread
    (python3-libvirt delivers event callbacks from it)."""
    import sys
    import threading

    sys.path.insert(0, "/usr/lib/python3/dist-packages")
    import libvirt

    libvirt.virEventRegisterDefaultImpl()
    threading.Thread(target=lambda: [libvirt.virEventRunDefaultImpl() for _ in iter(int, 1)],
                     daemon=True).start()


class Embedded:
    """virtproxyd in embedded mode under a fresh root (daemons started on
    demand by it), with the stock clients' URI for it."""

    def __init__(self, build, prefix, env=None, timeout=120):
        import os
        import subprocess
        import tempfile
        import time

        self.build = build
        self.root = tempfile.mkdtemp(prefix=prefix)
        self.sock = os.path.join(self.root, "run", "virtproxyd-sock")
        self.uri = "qemu+unix:///system?socket=" + self.sock
        self.log = open(os.path.join(self.root, "proxy.log"), "a")
        self.proxy = subprocess.Popen([os.path.join(build, "proxyd", "virtproxyd"),
                                       "--root", self.root, "--timeout", str(timeout)],
                                      stdout=self.log, stderr=subprocess.STDOUT, env=env)
        for _ in range(200):
            if os.path.exists(self.sock):
                break
            time.sleep(0.05)

    def virsh(self, *args, timeout=120):
        """Stock virsh against the proxy; the CompletedProcess (text)."""
        import subprocess

        return subprocess.run(["virsh", "-c", self.uri] + list(args), capture_output=True,
                              text=True, timeout=timeout)

    def qemud_pid(self):
        """virtqemud's pid from its pid file, None if there is none."""
        import os

        try:
            return int(open(os.path.join(self.root, "run", "virtqemud.pid")).read())
        except (OSError, ValueError):
            return None

    def qemu_pids(self):
        return qemu_pids(self.root)

    def stop(self):
        """Stop the proxy and its daemons, then kill any QEMU left."""
        import os
        import signal

        stop_daemons(self.proxy, self.root)
        for pid in qemu_pids(self.root):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.log.close()
