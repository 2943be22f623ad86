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
