#!/usr/bin/env python3
"""Add up the results of a `meson test` run.

Reads BUILD/meson-logs/testlog.json.  A TAP test counts its own cases
("ok N" / "not ok N"); a test ending with an "N passed, M failed" line
counts those; any other test counts once.  A test that failed as a whole
but reported no failing case still counts as one failure.  Prints a line
per failing test and ends with the line "N passed, M failed".
"""
import json
import re
import sys


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    passed = failed = 0
    bad = []
    try:
        lines = open("%s/meson-logs/testlog.json" % build).read().splitlines()
    except OSError as e:
        print("cannot read the test log: %s" % e)
        print("0 passed, 1 failed")
        return 1
    for line in lines:
        if not line.strip():
            continue
        t = json.loads(line)
        out = t.get("stdout") or ""
        ok = t.get("result") in ("OK", "EXPECTEDFAIL", "SKIP")
        tap_ok = len(re.findall(r"^ok \d+", out, re.M))
        tap_bad = len(re.findall(r"^not ok \d+", out, re.M))
        summary = re.findall(r"^(\d+) passed, (\d+) failed", out, re.M)
        if tap_ok + tap_bad:
            p, f = tap_ok, tap_bad
        elif summary:
            p, f = int(summary[-1][0]), int(summary[-1][1])
        else:
            p, f = (1, 0) if ok else (0, 1)
        if not ok and f == 0:
            f = 1
        if f:
            bad.append("%s (%s)" % (t.get("name"), t.get("result")))
        passed += p
        failed += f
    for b in bad:
        print("FAILED: %s" % b)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
