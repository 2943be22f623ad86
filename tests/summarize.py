#!/usr/bin/env python3
"""Add up the results of one or more `meson test` runs.

Usage: summarize.py [--fail WHAT]... BUILD [BUILD...]

Reads BUILD/meson-logs/testlog.json for every BUILD.  A TAP test counts
its own cases ("ok N" / "not ok N", a "not ok ... # TODO" not at all); a test ending with an "N passed, M
failed" line counts those; any other test counts once.  A test that failed
as a whole but reported no failing case still counts as one failure, and so
does a build directory without a test log.  Each --fail WHAT adds one
failure named WHAT (a check run outside meson, e.g. processes left behind).
Prints a line per failure and ends with the single line "N passed, M failed".
"""
import json
import re
import sys


def count_build(build, label):
    """(passed, failed, [failure names]) of one build directory's log."""
    passed = failed = 0
    bad = []
    try:
        lines = open("%s/meson-logs/testlog.json" % build).read().splitlines()
    except OSError as e:
        return 0, 1, ["%scannot read the test log: %s" % (label, e)]
    for line in lines:
        if not line.strip():
            continue
        t = json.loads(line)
        out = t.get("stdout") or ""
        ok = t.get("result") in ("OK", "EXPECTEDFAIL", "SKIP")
        tap_ok = len(re.findall(r"^ok \d+", out, re.M))
        # "not ok N ... # TODO": a known failure TAP does not count (meson
        # reports the test OK); it is neither passed nor failed here
        tap_bad = len([m for m in re.findall(r"^not ok \d+.*$", out, re.M)
                       if not re.search(r"#\s*TODO\b", m, re.I)])
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
            bad.append("%s%s (%s)" % (label, t.get("name"), t.get("result")))
        passed += p
        failed += f
    return passed, failed, bad


def main(argv):
    builds = []
    extra = []
    args = list(argv)
    while args:
        a = args.pop(0)
        if a == "--fail":
            if not args:
                print("--fail needs a description")
                print("0 passed, 1 failed")
                return 1
            extra.append(args.pop(0))
        elif a.startswith("--fail="):
            extra.append(a[len("--fail="):])
        else:
            builds.append(a)
    if not builds:
        builds = ["build"]
    passed = failed = 0
    bad = []
    for b in builds:
        # name the build only when there are several
        p, f, names = count_build(b, "%s: " % b if len(builds) > 1 else "")
        passed += p
        failed += f
        bad += names
    for what in extra:
        failed += 1
        bad.append(what)
    for b in bad:
        print("FAILED: %s" % b)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
