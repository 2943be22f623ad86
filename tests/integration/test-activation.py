#!/usr/bin/python3
"""Socket activation, readiness, idle exit and clean shutdown of a daemon.

Runs virtqemud under systemd-socket-activate (in a loop standing in for
systemd, which keeps the listening sockets while no daemon runs) and
checks what an administrator would: the first connect starts the daemon,
it exits when idle for --timeout seconds, the next connect starts it again,
a connected client keeps it alive, a wrong socket name is refused, and
READY=1 / STOPPING=1 reach the notify socket.

Usage: test-activation.py BUILD_DIR      (prints TAP)
"""
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from taplib import check, finish  # noqa: E402

BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
DAEMON = os.path.join(BUILD, "virtqemud", "virtqemud")
ACTIVATE = "/usr/bin/systemd-socket-activate"
VIRSH = "/usr/bin/virsh"


def daemon_pids(root):
    out = subprocess.run(["pgrep", "-f", "^%s --root %s( |$)" % (DAEMON, root)],
                         capture_output=True, text=True).stdout.split()
    return [int(p) for p in out]


def listening_count(root):
    with open(os.path.join(root, "activate.log")) as f:
        return sum(1 for l in f if l.startswith("Listening on %s/run/virtqemud-sock " % root))


def wait_for(pred, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


def virsh(sock, *args, timeout=20):
    uri = "qemu+unix:///system?socket=%s" % sock
    return subprocess.run([VIRSH, "-c", uri] + list(args), capture_output=True,
                          text=True, timeout=timeout)


def main():
    if not os.access(ACTIVATE, os.X_OK):
        print("1..0 # SKIP systemd-socket-activate not installed")
        return 0
    root = tempfile.mkdtemp(prefix="mv-activation-")
    run = os.path.join(root, "run")
    os.makedirs(run)
    sock = os.path.join(run, "virtqemud-sock")
    sock_ro = os.path.join(run, "virtqemud-sock-ro")
    sock_admin = os.path.join(run, "virtqemud-admin-sock")
    log = open(os.path.join(root, "activate.log"), "w")
    # The loop plays systemd's part: listen again whenever the daemon exits.
    loop_script = (
        "while :; do %s -l %s -l %s -l %s "
        "--fdname=virtqemud.socket:virtqemud-ro.socket:virtqemud-admin.socket "
        "%s --root %s --timeout 2; echo \"exit=$?\"; sleep 0.05; done"
        % (ACTIVATE, sock, sock_ro, sock_admin, DAEMON, root))
    sup = subprocess.Popen(["bash", "-c", loop_script], stdout=log, stderr=subprocess.STDOUT,
                           start_new_session=True)
    try:
        check(wait_for(lambda: os.path.exists(sock), 5), "activator listens on the socket")
        check(daemon_pids(root) == [], "no daemon runs before the first connection")

        t0 = time.monotonic()
        r = virsh(sock, "uri")
        first = time.monotonic() - t0
        check(r.returncode == 0 and "qemu" in r.stdout,
              "first connect starts the daemon and gets an answer (%.0f ms)" % (first * 1000),
              r.stderr)
        pids = daemon_pids(root)
        check(len(pids) == 1, "exactly one daemon runs after the first connection", pids)
        first_pid = pids[0] if pids else None

        r = virsh(sock_ro, "hostname")
        check(r.returncode == 0 and r.stdout.strip(), "the read-only socket is served by the same daemon",
              r.stderr)
        check(daemon_pids(root) == pids, "no second daemon was started for the -ro socket")

        check(wait_for(lambda: daemon_pids(root) == [], 6),
              "the daemon exits after --timeout 2 with no client")
        with open(os.path.join(root, "activate.log")) as f:
            exits = [l.strip() for l in f if l.startswith("exit=")]
        check(exits[:1] == ["exit=0"], "the idle exit is a clean one (status 0)", exits)

        # systemd keeps the socket; the stand-in loop listens anew: wait for it
        check(wait_for(lambda: listening_count(root) >= 2, 5), "the socket is listened on again")
        r = virsh(sock, "uri")
        pids2 = daemon_pids(root)
        check(r.returncode == 0 and len(pids2) == 1 and pids2[0] != first_pid,
              "the next connect starts a new daemon", (r.stderr, pids2))

        # A connected client keeps the daemon alive past the timeout.
        holder = subprocess.Popen(
            ["/usr/bin/python3", "-c",
             "import libvirt, sys, time\n"
             "c = libvirt.open('qemu+unix:///system?socket=%s')\n"
             "print('open', flush=True)\n"
             "time.sleep(4)\n"
             "print(c.getLibVersion(), flush=True)\n" % sock],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = holder.stdout.readline().strip()
        check(line == "open", "a python3-libvirt client connects", holder.stderr.read() if line != "open" else "")
        time.sleep(3)
        check(len(daemon_pids(root)) == 1, "the daemon stays while a client is connected")
        out, err = holder.communicate(timeout=20)
        check(holder.returncode == 0 and out.strip() == "9000000",
              "the held connection still answers after the timeout period", err)
        check(wait_for(lambda: daemon_pids(root) == [], 6),
              "after the client leaves, the daemon exits when idle again")
    finally:
        os.killpg(sup.pid, signal.SIGTERM)
        sup.wait(timeout=10)
        for pid in daemon_pids(root):
            os.kill(pid, signal.SIGKILL)
        log.close()

    # A socket the daemon does not serve is refused, naming it.
    root2 = tempfile.mkdtemp(prefix="mv-activation-")
    os.makedirs(os.path.join(root2, "run"))
    bad = os.path.join(root2, "run", "x-sock")
    p = subprocess.Popen([ACTIVATE, "-l", bad, "--fdname=virtfoo.socket", DAEMON,
                          "--root", root2, "--timeout", "2"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wait_for(lambda: os.path.exists(bad), 5)
    try:
        c = socket.socket(socket.AF_UNIX)
        c.connect(bad)
        c.close()
    except OSError:
        pass
    try:
        out, _ = p.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
    check(p.returncode not in (0, None) and "virtfoo.socket" in out,
          "a daemon given an unknown socket name refuses to start and names it", out)

    # READY=1 and STOPPING=1 reach $NOTIFY_SOCKET; SIGTERM exits 0 and
    # removes the sockets the daemon bound itself.
    root3 = tempfile.mkdtemp(prefix="mv-notify-")
    nsock_path = os.path.join(root3, "notify")
    ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    ns.bind(nsock_path)
    ns.settimeout(10)
    env = dict(os.environ, NOTIFY_SOCKET=nsock_path)
    d = subprocess.Popen([DAEMON, "--root", root3, "--timeout", "0"], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        msg = ns.recv(4096).decode()
    except socket.timeout:
        msg = ""
    check("READY=1" in msg, "READY=1 is sent once the sockets listen", msg)
    own = os.path.join(root3, "run", "virtqemud-sock")
    check(os.path.exists(own), "without systemd the daemon binds its own socket")
    st = os.stat(own)
    check(oct(st.st_mode & 0o777) == "0o600", "the read-write socket is mode 0600", oct(st.st_mode))
    st = os.stat(own + "-ro")
    check(oct(st.st_mode & 0o777) == "0o666", "the read-only socket is mode 0666", oct(st.st_mode))
    time.sleep(2.5)
    check(d.poll() is None, "--timeout 0 never exits when idle")
    d.send_signal(signal.SIGTERM)
    try:
        msg = ns.recv(4096).decode()
    except socket.timeout:
        msg = ""
    check("STOPPING=1" in msg, "STOPPING=1 is sent on SIGTERM", msg)
    try:
        out, _ = d.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        d.kill()
        out, _ = d.communicate()
    check(d.returncode == 0, "SIGTERM ends the daemon with status 0", out)
    check(not os.path.exists(own) and not os.path.exists(own + "-ro"),
          "the daemon removes the sockets it created")

    # A second daemon on the same root refuses to start.
    d1 = subprocess.Popen([DAEMON, "--root", root3, "--timeout", "0"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: os.path.exists(own), 5)
    d2 = subprocess.run([DAEMON, "--root", root3, "--timeout", "0"], capture_output=True,
                        text=True, timeout=10)
    check(d2.returncode != 0 and "already" in d2.stderr,
          "a second daemon for the same root refuses to start", d2.stderr)
    d1.terminate()
    d1.wait(timeout=10)

    return finish()


if __name__ == "__main__":
    sys.exit(main())
