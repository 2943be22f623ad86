#!/usr/bin/python3
"""Block jobs on real QEMU guests through virtproxyd, with python3-libvirt
and Debian's stock virsh.

Every chain is base <- snap1 <- snap2 <- active, made by qemu-img with
relative backing names, each layer holding its own data (qemu-io).  After
every operation: what a guest reads through the resulting top image is
byte for byte what the four layers wrote (qemu-io read -P), the live XML's
<backingStore> chain equals `qemu-img info --backing-chain`, and the block
job events arrived exactly once each.

Covered: every commit of the founding documents (online, and offline on a
shut off domain), RELATIVE and DELETE, active commit with pivot and with
abort, pull (all bases, RELATIVE), copy (full, shallow) with pivot and
abort, asynchronous abort, set speed and job info, every refusal with its
libvirt error code and the chain untouched, refusals while a copy mirror
exists, virsh blockcommit/blockpull/blockcopy/blockjob/domblklist/domblkinfo.

Most guests run no OS; the last cases boot the test guest (tests/guest),
which writes numbered records to vda while an active commit, a copy and a
pull run: every record it acknowledged must be in the final image.

Usage: test-blockjobs.py BUILD_DIR      (prints TAP)
"""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from taplib import check, finish  # noqa: E402
import bjlib  # noqa: E402
from bjlib import MiB, libvirt, run  # noqa: E402

BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
L = libvirt
C_SHALLOW = L.VIR_DOMAIN_BLOCK_COMMIT_SHALLOW
C_DELETE = L.VIR_DOMAIN_BLOCK_COMMIT_DELETE
C_ACTIVE = L.VIR_DOMAIN_BLOCK_COMMIT_ACTIVE
C_RELATIVE = L.VIR_DOMAIN_BLOCK_COMMIT_RELATIVE
T_PULL = L.VIR_DOMAIN_BLOCK_JOB_TYPE_PULL
T_COPY = L.VIR_DOMAIN_BLOCK_JOB_TYPE_COPY
T_COMMIT = L.VIR_DOMAIN_BLOCK_JOB_TYPE_COMMIT
T_ACTIVE = L.VIR_DOMAIN_BLOCK_JOB_TYPE_ACTIVE_COMMIT
S_DONE = L.VIR_DOMAIN_BLOCK_JOB_COMPLETED
S_CANCELED = L.VIR_DOMAIN_BLOCK_JOB_CANCELED
S_READY = L.VIR_DOMAIN_BLOCK_JOB_READY

env = None
counter = [0]


def new_domain(base_dir="", extra=0, extra_layer=0, persistent=True, start=True):
    """A fresh chain and a domain on it: (dom, paths, name, dir)."""
    counter[0] += 1
    name = "bj%d" % counter[0]
    d = os.path.join(env.root, name)
    os.makedirs(d)
    paths = bjlib.make_chain(d, base_dir, extra, extra_layer)
    xml = bjlib.DOMAIN % {"type": bjlib.ACCEL, "name": name, "disk": paths[3]}
    if persistent:
        dom = env.conn.defineXML(xml)
        if start:
            dom.create()
    else:
        dom = env.conn.createXML(xml, 0)
    return dom, paths, name, d


def settle(dom, name, final, typ, timeout=60):
    """Wait for the final event; the job is gone afterwards."""
    ok = env.wait_event(name, final, timeout)
    return ok and bjlib.wait_no_job(dom)


def events_once(name, typ, statuses, path_first=None):
    want = [(typ, s) for s in statuses]
    got2 = [(t, s) for _, t, s in env.events_of(name, "target")]
    got1 = [(t, s) for _, t, s in env.events_of(name, "path")]
    return got2 == want and got1 == want, (got2, got1, want)


def stop(dom):
    """Shut QEMU down (SIGTERM: it flushes its caches, so qemu-io then
    reads what the guest would)."""
    try:
        if dom.isActive():
            dom.destroy()
    except libvirt.libvirtError:
        pass


def expect_chain(dom, paths, idx, what, extra=0, keep_running=False):
    """The live chain is exactly @idx (layer numbers, top first) and the
    headers agree; then, QEMU stopped, the guest's view holds all data."""
    live = bjlib.live_chain(dom)
    want = [paths[i] for i in idx]
    ok, detail = bjlib.chain_matches(dom)
    check([p for p, _ in live] == want and ok, what + ": chain " +
          " <- ".join(os.path.basename(paths[i]) for i in reversed(idx)), (live, want, detail))
    if keep_running:
        return
    stop(dom)
    v, out = bjlib.guest_view_ok(live[0][0], extra=extra)
    check(v, what + ": data of every layer intact, byte for byte", out)


# ------------------------------------------------------------------ commit

def test_commit_table():
    # (base, top, flags, expected chain after, description); None = NULL
    def P(i):
        return lambda paths: paths[i]

    cases = [
        ("1", None, None, C_ACTIVE, [0]),
        ("1a vda[0]", None, "vda[0]", C_ACTIVE, [0]),
        ("1a path", None, P(3), C_ACTIVE, [0]),
        ("1b vda[3]", "vda[3]", None, C_ACTIVE, [0]),
        ("1b name", "base.qcow2", None, C_ACTIVE, [0]),
        ("1c", "vda[3]", "vda[0]", C_ACTIVE, [0]),
        ("2 shallow", None, None, C_SHALLOW | C_ACTIVE, [2, 1, 0]),
        ("2a", "snap2.qcow2", None, C_ACTIVE, [2, 1, 0]),
        ("3", None, "snap2.qcow2", 0, [3, 0]),
        ("3a", "vda[3]", "vda[1]", 0, [3, 0]),
        ("4 shallow", None, P(2), C_SHALLOW, [3, 1, 0]),
        ("4a", "snap1.qcow2", "snap2.qcow2", 0, [3, 1, 0]),
        ("4a shallow", "snap1.qcow2", "snap2.qcow2", C_SHALLOW, [3, 1, 0]),
        ("5", None, "snap1.qcow2", 0, [3, 2, 0]),
        ("5 shallow", None, "snap1.qcow2", C_SHALLOW, [3, 2, 0]),
    ]
    for label, base, top, flags, after in cases:
        dom, paths, name, _ = new_domain()
        b = base(paths) if callable(base) else base
        t = top(paths) if callable(top) else top
        env.clear_events()
        dom.blockCommit("vda", b, t, 0, flags)
        what = "commit %s (base=%s top=%s flags=%d)" % (label, b and os.path.basename(b),
                                                       t and os.path.basename(t), flags)
        if flags & C_ACTIVE:
            check(env.wait_event(name, S_READY), what + ": READY")
            m = bjlib.mirror_of(dom)
            check(m and m.get("job") == "active-commit" and m.get("ready") == "yes",
                  what + ": <mirror job='active-commit' ready='yes'>", m)
            dom.blockJobAbort("vda", L.VIR_DOMAIN_BLOCK_JOB_ABORT_PIVOT)
            check(bjlib.mirror_of(dom) is None and not dom.blockJobInfo("vda", 0),
                  what + ": pivot returns with the job gone and no <mirror>")
            ok, detail = events_once(name, T_ACTIVE, [S_READY, S_DONE])
        else:
            check(settle(dom, name, S_DONE, T_COMMIT), what + ": COMPLETED")
            ok, detail = events_once(name, T_COMMIT, [S_DONE])
        check(ok, what + ": events BLOCK_JOB and BLOCK_JOB_2 once each", detail)
        expect_chain(dom, paths, after, what)
        dom.undefine()


def test_commit_seed_equivalences():
    """The founding documents: NULL/NULL == NULL/active == base/NULL ==
    base/active (all: base alone holds everything); snap2/NULL ==
    NULL/NULL+SHALLOW; NULL/snap2+SHALLOW == snap1/snap2.  Each result is
    compared with the others byte for byte (qemu-img compare)."""
    groups = [
        [(None, None, C_ACTIVE), (None, "active", C_ACTIVE), ("base", None, C_ACTIVE),
         ("base", "active", C_ACTIVE)],
        [("snap2", None, C_ACTIVE), (None, None, C_SHALLOW | C_ACTIVE)],
        [(None, "snap2", C_SHALLOW), ("snap1", "snap2", 0)],
    ]
    for g in groups:
        tops = []
        for base, top, flags in g:
            dom, paths, name, d = new_domain()
            resolve = {n: os.path.join(d, n + ".qcow2") for n in bjlib.LAYERS}
            dom.blockCommit("vda", resolve.get(base), resolve.get(top), 0, flags)
            if flags & C_ACTIVE:
                env.wait_event(name, S_READY)
                dom.blockJobAbort("vda", L.VIR_DOMAIN_BLOCK_JOB_ABORT_PIVOT)
            else:
                settle(dom, name, S_DONE, T_COMMIT)
            tops.append(([os.path.basename(p) for p, _ in bjlib.live_chain(dom)],
                         bjlib.live_chain(dom)[0][0]))
            stop(dom)
            dom.undefine()
        same_chain = all(t[0] == tops[0][0] for t in tops)
        same_bytes = all(run("qemu-img", "compare", "-U", tops[0][1], t[1]).returncode == 0
                         for t in tops[1:])
        check(same_chain and same_bytes, "equivalent commits give the same chain %s and the "
              "same bytes: %s" % (tops[0][0], g), tops)


def test_commit_relative_and_delete():
    # RELATIVE: base lives in a subdirectory; the rewritten header is relative
    dom, paths, name, d = new_domain(base_dir="b")
    dom.blockCommit("vda", None, "snap2.qcow2", 0, C_RELATIVE)
    settle(dom, name, S_DONE, T_COMMIT)
    _, names = bjlib.header_chain(paths[3])
    check(names[0] == "b/base.qcow2", "commit RELATIVE: active's header names 'b/base.qcow2'",
          names)
    expect_chain(dom, paths, [3, 0], "commit RELATIVE")
    stop(dom)

    dom, paths, name, d = new_domain(base_dir="b")
    dom.blockCommit("vda", None, "snap2.qcow2", 0, 0)
    settle(dom, name, S_DONE, T_COMMIT)
    _, names = bjlib.header_chain(paths[3])
    check(names[0] == paths[0], "commit without RELATIVE: the header gets base's absolute path",
          names)
    stop(dom)

    # DELETE: only what the commit invalidated, only after success
    dom, paths, name, d = new_domain()
    dom.blockCommit("vda", None, "snap2.qcow2", 0, C_DELETE)
    settle(dom, name, S_DONE, T_COMMIT)
    time.sleep(0.3)
    check(not os.path.exists(paths[2]) and not os.path.exists(paths[1]) and
          os.path.exists(paths[0]) and os.path.exists(paths[3]),
          "commit DELETE: snap2 and snap1 unlinked, base and active kept",
          [os.path.exists(p) for p in paths])
    expect_chain(dom, paths, [3, 0], "commit DELETE")
    stop(dom)

    dom, paths, name, d = new_domain()
    dom.blockCommit("vda", None, None, 0, C_ACTIVE | C_DELETE)
    env.wait_event(name, S_READY)
    check(all(os.path.exists(p) for p in paths), "active commit DELETE: nothing deleted before "
          "the pivot")
    dom.blockJobAbort("vda", L.VIR_DOMAIN_BLOCK_JOB_ABORT_PIVOT)
    time.sleep(0.3)
    check([os.path.exists(p) for p in paths] == [True, False, False, False],
          "active commit DELETE: after the pivot only base is left",
          [os.path.exists(p) for p in paths])
    expect_chain(dom, paths, [0], "active commit DELETE")
    stop(dom)


def test_active_commit_abort():
    dom, paths, name, d = new_domain()
    env.clear_events()
    dom.blockCommit("vda", None, None, 0, C_ACTIVE | C_DELETE)
    env.wait_event(name, S_READY)
    dom.blockJobAbort("vda", 0)
    check(not dom.blockJobInfo("vda", 0) and bjlib.mirror_of(dom) is None,
          "active commit abort after READY: synchronous, job and <mirror> gone")
    env.wait_event(name, S_CANCELED, 10)
    ok, detail = events_once(name, T_ACTIVE, [S_READY, S_CANCELED])
    check(ok, "active commit abort: READY then CANCELED, once each", detail)
    check(all(os.path.exists(p) for p in paths), "active commit abort: DELETE deletes nothing")
    expect_chain(dom, paths, [3, 2, 1, 0], "active commit abort")
    # base now holds everything up to the abort (spec 7.6); snap regions included
    r = run("qemu-io", "-U", "-r", "-f", "qcow2", paths[0], "-c",
            "read -P %d 8M 64k" % bjlib.pattern(3))
    check(r.returncode == 0 and "fail" not in r.stdout.lower(),
          "active commit abort: base already holds the active layer's data", r.stdout)
    stop(dom)


def test_commit_refusals():
    dom, paths, name, d = new_domain()
    before = bjlib.live_chain(dom)
    cases = [
        ("E1 active top without ACTIVE", ("vda", None, None, 0, 0), L.VIR_ERR_INVALID_ARG),
        ("E2 ACTIVE with a non-active top", ("vda", "snap1.qcow2", "snap2.qcow2", 0, C_ACTIVE),
         L.VIR_ERR_INVALID_ARG),
        ("E3 SHALLOW with a base not right below top",
         ("vda", "base.qcow2", "snap2.qcow2", 0, C_SHALLOW), L.VIR_ERR_INVALID_ARG),
        ("E4 top has no backing file", ("vda", None, "base.qcow2", 0, 0), L.VIR_ERR_INVALID_ARG),
        ("E5 base above top", ("vda", "snap2.qcow2", "snap1.qcow2", 0, 0),
         L.VIR_ERR_INVALID_ARG),
        ("E6 base == top", ("vda", "snap2.qcow2", "snap2.qcow2", 0, 0), L.VIR_ERR_INVALID_ARG),
        ("E7 base not in the chain", ("vda", "/nonexistent/other.qcow2", None, 0, C_ACTIVE),
         L.VIR_ERR_INVALID_ARG),
        ("unknown disk", ("vdz", None, None, 0, C_ACTIVE), L.VIR_ERR_INVALID_ARG),
        ("index for another target", ("vda", "vdb[1]", None, 0, C_ACTIVE),
         L.VIR_ERR_INVALID_ARG),
        ("index beyond the chain", ("vda", "vda[9]", None, 0, C_ACTIVE),
         L.VIR_ERR_INVALID_ARG),
        ("unknown flag", ("vda", None, "snap2.qcow2", 0, 1 << 10), L.VIR_ERR_INVALID_ARG),
        ("bandwidth overflow (MiB/s)", ("vda", None, "snap2.qcow2", 1 << 50, 0),
         L.VIR_ERR_OVERFLOW),
    ]
    for label, args, code in cases:
        got, msg = bjlib.error_code(dom.blockCommit, *args)
        check(got == code, "commit refused: %s (code %s)" % (label, code), (got, msg))
    check(bjlib.live_chain(dom) == before and not dom.blockJobInfo("vda", 0) and
          bjlib.chain_matches(dom)[0], "after every refusal: chain untouched, no job")
    v, out = bjlib.guest_view_ok(paths[3])
    check(v, "after every refusal: data intact", out)

    # pivot before READY; second job on a busy disk; no job
    dom.blockCommit("vda", None, None, 1, C_ACTIVE)  # 1 MiB/s: some time before READY
    got, _ = bjlib.error_code(dom.blockJobAbort, "vda", L.VIR_DOMAIN_BLOCK_JOB_ABORT_PIVOT)
    check(got in (L.VIR_ERR_BLOCK_COPY_ACTIVE, None),
          "pivot before READY: VIR_ERR_BLOCK_COPY_ACTIVE (or READY already)", got)
    got, msg = bjlib.error_code(dom.blockCommit, "vda", None, "snap2.qcow2", 0, 0)
    check(got == L.VIR_ERR_BLOCK_COPY_ACTIVE,
          "second job while an active commit mirrors: VIR_ERR_BLOCK_COPY_ACTIVE", (got, msg))
    if dom.blockJobInfo("vda", 0):
        dom.blockJobAbort("vda", 0)
    check(not dom.blockJobInfo("vda", 0), "the active commit is aborted")
    got, _ = bjlib.error_code(dom.blockJobAbort, "vda", 0)
    check(got == L.VIR_ERR_INVALID_ARG, "abort without a job: VIR_ERR_INVALID_ARG", got)
    got, _ = bjlib.error_code(dom.blockJobSetSpeed, "vda", 1, 0)
    check(got == L.VIR_ERR_INVALID_ARG, "set speed without a job: VIR_ERR_INVALID_ARG", got)
    got, _ = bjlib.error_code(dom.blockJobAbort, "vda", L.VIR_DOMAIN_BLOCK_JOB_ABORT_PIVOT)
    check(got == L.VIR_ERR_OPERATION_INVALID, "pivot without a job: VIR_ERR_OPERATION_INVALID",
          got)
    check(bjlib.live_chain(dom) == before, "chain untouched after the aborted active commit")
    stop(dom)

    # a second job on a disk busy with a pull (throttled)
    dom, paths, name, d = new_domain(extra=8)
    dom.blockPull("vda", 1, 0)
    got, msg = bjlib.error_code(dom.blockCommit, "vda", None, "snap2.qcow2", 0, 0)
    check(got == L.VIR_ERR_OPERATION_UNSUPPORTED,
          "commit on a disk busy with a pull: VIR_ERR_OPERATION_UNSUPPORTED", (got, msg))
    got, _ = bjlib.error_code(dom.blockJobAbort, "vda", L.VIR_DOMAIN_BLOCK_JOB_ABORT_PIVOT)
    check(got == L.VIR_ERR_OPERATION_INVALID, "pivot of a pull: VIR_ERR_OPERATION_INVALID", got)
    time.sleep(0.8)
    info = dom.blockJobInfo("vda", 0)
    check(info.get("type") == T_PULL and info.get("bandwidth") == 1 and
          0 < info.get("cur", 0) < info.get("end", 0),
          "GetBlockJobInfo: pull, 1 MiB/s, the first call already shows progress", info)
    time.sleep(1.0)
    info2 = dom.blockJobInfo("vda", 0)
    check(info.get("cur", 0) < info2.get("cur", 0) < info2.get("end", 0),
          "GetBlockJobInfo: a second poll 1 s later shows the pull advanced",
          (info, info2))
    binfo = dom.blockJobInfo("vda", L.VIR_DOMAIN_BLOCK_JOB_INFO_BANDWIDTH_BYTES)
    check(binfo.get("bandwidth") == MiB, "GetBlockJobInfo BANDWIDTH_BYTES: 1048576", binfo)
    env.clear_events()
    dom.blockJobSetSpeed("vda", 0, 0)
    check(settle(dom, name, S_DONE, T_PULL, 60), "set speed 0: the throttled pull completes")
    expect_chain(dom, paths, [3], "pull after set speed (8 MiB of base data pulled up)",
                 extra=8)

    # shut off domain: online-only APIs
    dom, paths, name, d = new_domain(start=False)
    for label, fn, args in [("pull", dom.blockPull, ("vda", 0, 0)),
                            ("abort", dom.blockJobAbort, ("vda", 0)),
                            ("set speed", dom.blockJobSetSpeed, ("vda", 0, 0)),
                            ("job info", dom.blockJobInfo, ("vda", 0))]:
        got, _ = bjlib.error_code(fn, *args)
        check(got == L.VIR_ERR_OPERATION_INVALID,
              "%s on a shut off domain: VIR_ERR_OPERATION_INVALID" % label, got)


# ------------------------------------------------------------------ pull

def test_pull():
    for label, base, flags, after in [
            ("NULL", None, 0, [3]),
            ("vda[2] (snap1)", "vda[2]", 0, [3, 1, 0]),
            ("base.qcow2", "base.qcow2", 0, [3, 0]),
            ("snap1 RELATIVE", "snap1.qcow2", L.VIR_DOMAIN_BLOCK_REBASE_RELATIVE, [3, 1, 0])]:
        dom, paths, name, d = new_domain()
        env.clear_events()
        if base is None:
            dom.blockPull("vda", 0, 0)
        else:
            dom.blockRebase("vda", base, 0, flags)
        check(settle(dom, name, S_DONE, T_PULL), "pull %s: COMPLETED" % label)
        ok, detail = events_once(name, T_PULL, [S_DONE])
        check(ok, "pull %s: events once each" % label, detail)
        expect_chain(dom, paths, after, "pull " + label)
        if flags:
            _, names = bjlib.header_chain(paths[3])
            check(names[0] == "snap1.qcow2", "pull RELATIVE: header names 'snap1.qcow2'", names)
        stop(dom)

    dom, paths, name, d = new_domain()
    env.clear_events()
    dom.blockRebase("vda", "vda[1]", 0, 0)
    check(settle(dom, name, S_DONE, T_PULL), "pull to the immediate backing: nothing to do, "
          "still COMPLETED")
    expect_chain(dom, paths, [3, 2, 1, 0], "pull to vda[1]", keep_running=True)
    before = bjlib.live_chain(dom)
    for label, args, code in [
            ("RELATIVE without base", ("vda", None, 0, L.VIR_DOMAIN_BLOCK_REBASE_RELATIVE),
             L.VIR_ERR_INVALID_ARG),
            ("base is the active layer", ("vda", "vda[0]", 0, 0), L.VIR_ERR_INVALID_ARG),
            ("base not in the chain", ("vda", "/x/other.qcow2", 0, 0), L.VIR_ERR_INVALID_ARG),
            ("SHALLOW without COPY", ("vda", "base.qcow2", 0, L.VIR_DOMAIN_BLOCK_REBASE_SHALLOW),
             L.VIR_ERR_INVALID_ARG),
            ("RELATIVE with COPY", ("vda", "/tmp/x.qcow2", 0, L.VIR_DOMAIN_BLOCK_REBASE_COPY |
                                    L.VIR_DOMAIN_BLOCK_REBASE_RELATIVE),
             L.VIR_ERR_ARGUMENT_UNSUPPORTED)]:
        got, msg = bjlib.error_code(dom.blockRebase, *args)
        check(got == code, "rebase refused: %s" % label, (got, msg))
    check(bjlib.live_chain(dom) == before, "rebase refusals leave the chain untouched")
    expect_chain(dom, paths, [3, 2, 1, 0], "pull to vda[1] and refusals")
    stop(dom)


# ------------------------------------------------------------------ copy

def copy_xml(path, fmt="qcow2"):
    return "<disk type='file'><source file='%s'/><driver type='%s'/></disk>" % (path, fmt)


def test_copy():
    for label, flags, after_tail in [
            ("full", 0, []), ("shallow", L.VIR_DOMAIN_BLOCK_COPY_SHALLOW, [2, 1, 0]),
            ("shallow into a reused image", L.VIR_DOMAIN_BLOCK_COPY_SHALLOW |
             L.VIR_DOMAIN_BLOCK_COPY_REUSE_EXT, [2, 1, 0])]:
        dom, paths, name, d = new_domain()
        dest = os.path.join(d, "copy.qcow2")
        if flags & L.VIR_DOMAIN_BLOCK_COPY_REUSE_EXT:
            # made beforehand, naming the source's backing file relatively
            r = run("qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b",
                    "snap2.qcow2", dest, cwd=d)
            assert r.returncode == 0, r.stderr
        env.clear_events()
        dom.blockCopy("vda", copy_xml(dest), None, flags)
        check(env.wait_event(name, S_READY), "copy %s: READY" % label)
        m = bjlib.mirror_of(dom)
        check(m and m.get("job") == "copy" and m.get("ready") == "yes" and m.get("file") == dest,
              "copy %s: <mirror type='file' job='copy' ready='yes'> names the copy" % label, m)
        got, msg = bjlib.error_code(dom.blockCommit, "vda", None, "snap2.qcow2", 0, 0)
        check(got == L.VIR_ERR_BLOCK_COPY_ACTIVE,
              "copy %s: a commit on the mirrored disk is refused" % label, (got, msg))
        if label == "full":
            got, msg = bjlib.error_code(dom.undefine)
            check(got == L.VIR_ERR_BLOCK_COPY_ACTIVE,
                  "undefine while a copy mirror exists: VIR_ERR_BLOCK_COPY_ACTIVE", (got, msg))
        dom.blockJobAbort("vda", L.VIR_DOMAIN_BLOCK_JOB_ABORT_PIVOT)
        env.wait_event(name, S_DONE, 10)
        ok, detail = events_once(name, T_COPY, [S_READY, S_DONE])
        check(ok, "copy %s: events READY, COMPLETED once each" % label, detail)
        ev1 = [p for p, _, _ in env.events_of(name, "path")]
        check(ev1 == [paths[3], dest], "copy %s: the path event names the old, then the new "
              "active layer" % label, ev1)
        live = bjlib.live_chain(dom)
        check(live[0][0] == dest and [p for p, _ in live[1:]] == [paths[i] for i in after_tail],
              "copy %s + pivot: the disk is the copy" % label, live)
        ok, detail = bjlib.chain_matches(dom)
        check(ok, "copy %s: chain equals the headers" % label, detail)
        inactive = bjlib.live_chain(dom, L.VIR_DOMAIN_XML_INACTIVE)
        check(inactive[0][0] == dest, "copy %s on a persistent domain (no TRANSIENT_JOB): the "
              "definition follows the pivot" % label, inactive)
        stop(dom)
        v, out = bjlib.guest_view_ok(dest)
        check(v, "copy %s: the copy reads like the original, byte for byte" % label, out)

    # abort after READY: the original stays, the copy is a point-in-time copy
    dom, paths, name, d = new_domain()
    dest = os.path.join(d, "copy.qcow2")
    env.clear_events()
    dom.blockCopy("vda", copy_xml(dest), None, L.VIR_DOMAIN_BLOCK_COPY_TRANSIENT_JOB)
    env.wait_event(name, S_READY)
    dom.blockJobAbort("vda", 0)
    env.wait_event(name, S_CANCELED, 10)
    ok, detail = events_once(name, T_COPY, [S_READY, S_CANCELED])
    check(ok, "copy abort: READY then CANCELED once each", detail)
    check(os.path.exists(dest), "copy abort: the destination is left in place")

    # refusals
    before = bjlib.live_chain(dom)
    wrong = os.path.join(d, "wrongback.qcow2")
    run("qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", paths[0], wrong)
    for label, args, code in [
            ("a reused shallow destination naming another backing file",
             (copy_xml(wrong), None,
              L.VIR_DOMAIN_BLOCK_COPY_REUSE_EXT | L.VIR_DOMAIN_BLOCK_COPY_SHALLOW),
             L.VIR_ERR_CONFIG_UNSUPPORTED),
            ("existing non-empty file without REUSE_EXT", (copy_xml(dest), None, 0),
             L.VIR_ERR_CONFIG_UNSUPPORTED),
            ("REUSE_EXT with a missing file", (copy_xml(os.path.join(d, "none.qcow2")), None,
                                               L.VIR_DOMAIN_BLOCK_COPY_REUSE_EXT),
             L.VIR_ERR_SYSTEM_ERROR),
            ("granularity not a power of two", (copy_xml(os.path.join(d, "g.qcow2")),
                                                {"granularity": 3000}, 0),
             L.VIR_ERR_INVALID_ARG),
            ("bandwidth over 2^63-1", (copy_xml(os.path.join(d, "b.qcow2")),
                                       {"bandwidth": 1 << 63}, 0), L.VIR_ERR_OVERFLOW),
            ("unknown parameter", (copy_xml(os.path.join(d, "u.qcow2")), {"speed": 1}, 0),
             L.VIR_ERR_INVALID_ARG),
            ("shallow copy to raw with a backing file",
             (copy_xml(os.path.join(d, "r.raw"), "raw"), None, L.VIR_DOMAIN_BLOCK_COPY_SHALLOW),
             L.VIR_ERR_CONFIG_UNSUPPORTED),
            ("malformed destination XML", ("<disk", None, 0), L.VIR_ERR_XML_ERROR)]:
        try:
            got, msg = bjlib.error_code(dom.blockCopy, "vda", *args)
        except (TypeError, OverflowError) as e:
            got, msg = "client refused", str(e)
        check(got == code or (code == L.VIR_ERR_OVERFLOW and got == "client refused"),
              "copy refused: %s" % label, (got, msg))
    check(bjlib.live_chain(dom) == before and not dom.blockJobInfo("vda", 0),
          "copy refusals: chain untouched, no job")
    check(not os.path.exists(os.path.join(d, "g.qcow2")),
          "a refused copy creates no destination file")
    expect_chain(dom, paths, [3, 2, 1, 0], "copy abort")
    r = run("qemu-img", "compare", paths[3], dest)
    check(r.returncode == 0, "copy abort after READY: the copy equals the disk, byte for byte",
          r.stdout + r.stderr)

    # asynchronous abort of a throttled copy, and pivot before READY
    dom, paths, name, d = new_domain(extra=8)
    dest = os.path.join(d, "slow.qcow2")
    env.clear_events()
    dom.blockCopy("vda", copy_xml(dest), {"bandwidth": MiB}, 0)
    time.sleep(0.3)
    got, _ = bjlib.error_code(dom.blockJobAbort, "vda", L.VIR_DOMAIN_BLOCK_JOB_ABORT_PIVOT)
    check(got == L.VIR_ERR_BLOCK_COPY_ACTIVE, "pivot of a copy not yet READY: "
          "VIR_ERR_BLOCK_COPY_ACTIVE", got)
    t0 = time.monotonic()
    dom.blockJobAbort("vda", L.VIR_DOMAIN_BLOCK_JOB_ABORT_ASYNC)
    check(env.wait_event(name, S_CANCELED, 30), "async abort: CANCELED arrives",
          env.events_of(name))
    ok, detail = events_once(name, T_COPY, [S_CANCELED])
    check(ok, "async abort: exactly one CANCELED, no READY", detail)
    check(bjlib.wait_no_job(dom) and bjlib.mirror_of(dom) is None,
          "async abort: the job and <mirror> go", time.monotonic() - t0)
    expect_chain(dom, paths, [3, 2, 1, 0], "async abort", extra=8)


# ------------------------------------------------------------------ offline

def test_offline():
    for label, base, top, flags, after, src in [
            ("intermediate", None, "snap2.qcow2", 0, [3, 0], 3),
            ("shallow intermediate", None, "vda[1]", C_SHALLOW, [3, 1, 0], 3),
            ("active", None, None, C_ACTIVE, [0], 0),
            ("active shallow", None, None, C_ACTIVE | C_SHALLOW, [2, 1, 0], 2),
            ("base/active", "base.qcow2", "vda[0]", C_ACTIVE, [0], 0)]:
        dom, paths, name, d = new_domain(start=False)
        dom.blockCommit("vda", base, top, 0, flags)
        chain = bjlib.live_chain(dom, L.VIR_DOMAIN_XML_INACTIVE)
        check(chain[0][0] == paths[src], "offline commit %s: the definition's source is %s"
              % (label, os.path.basename(paths[src])), chain)
        headers, _ = bjlib.header_chain(paths[src])
        check([p for p, _ in headers] == [os.path.realpath(paths[i]) for i in after],
              "offline commit %s: headers chain %s" % (label, [bjlib.LAYERS[i] for i in after]),
              headers)
        v, out = bjlib.guest_view_ok(paths[src])
        check(v, "offline commit %s: data intact byte for byte" % label, out)
        dom.create()
        check(bjlib.chain_matches(dom)[0] and
              [p for p, _ in bjlib.live_chain(dom)] == [paths[i] for i in after],
              "offline commit %s: the domain starts on that chain" % label,
              bjlib.live_chain(dom))
        stop(dom)

    dom, paths, name, d = new_domain(start=False, base_dir="b")
    dom.blockCommit("vda", None, "snap2.qcow2", 0, C_RELATIVE | C_DELETE)
    _, names = bjlib.header_chain(paths[3])
    check(names[0] == "b/base.qcow2", "offline commit RELATIVE: header 'b/base.qcow2'", names)
    check([os.path.exists(p) for p in paths] == [True, False, False, True],
          "offline commit DELETE: snap1 and snap2 unlinked", [os.path.exists(p) for p in paths])
    got, _ = bjlib.error_code(dom.blockCommit, "vda", None, None, 0, 0)
    check(got == L.VIR_ERR_INVALID_ARG, "offline commit of the active layer without ACTIVE: "
          "VIR_ERR_INVALID_ARG", got)


# ------------------------------------------------------------------ virsh

def test_virsh():
    dom, paths, name, d = new_domain()
    r = env.virsh("domblklist", "--details", name)
    check(r.returncode == 0 and "vda" in r.stdout and paths[3] in r.stdout and "file" in r.stdout,
          "virsh domblklist --details", r.stdout + r.stderr)
    r = env.virsh("domblkinfo", name, "vda")
    check(r.returncode == 0 and "Capacity:       33554432" in r.stdout,
          "virsh domblkinfo: capacity 32 MiB", r.stdout + r.stderr)
    r = env.virsh("blockcommit", name, "vda", "--active", "--pivot", "--wait", "--verbose",
                  timeout=120)
    check(r.returncode == 0 and "Successfully pivoted" in r.stdout,
          "virsh blockcommit --active --pivot --wait --verbose", r.stdout + r.stderr)
    expect_chain(dom, paths, [0], "virsh blockcommit --active --pivot")
    stop(dom)

    dom, paths, name, d = new_domain()
    r = env.virsh("blockcommit", name, "vda", "--top", "vda[1]", "--shallow", "--delete",
                  "--wait", timeout=120)
    check(r.returncode == 0 and "Commit complete" in r.stdout,
          "virsh blockcommit --top vda[1] --shallow --delete --wait", r.stdout + r.stderr)
    time.sleep(0.3)
    check(not os.path.exists(paths[2]) and os.path.exists(paths[1]),
          "virsh blockcommit --delete removed snap2 only")
    expect_chain(dom, paths, [3, 1, 0], "virsh blockcommit --shallow --delete",
                 keep_running=True)
    r = env.virsh("blockpull", name, "vda", "--wait", timeout=120)
    check(r.returncode == 0 and "Pull complete" in r.stdout, "virsh blockpull --wait",
          r.stdout + r.stderr)
    expect_chain(dom, paths, [3], "virsh blockpull")
    stop(dom)

    dom, paths, name, d = new_domain(extra=8)
    dest = os.path.join(d, "vcopy.qcow2")
    r = env.virsh("blockcopy", name, "vda", dest, "--wait", "--pivot", "--verbose",
                  timeout=120)
    check(r.returncode == 0 and "Successfully pivoted" in r.stdout,
          "virsh blockcopy --wait --pivot", r.stdout + r.stderr)
    check(bjlib.live_chain(dom)[0][0] == dest and bjlib.chain_matches(dom)[0],
          "virsh blockcopy: the disk is the copy", bjlib.live_chain(dom))

    dest2 = os.path.join(d, "vcopy2.qcow2")
    r = env.virsh("blockcopy", name, "vda", dest2, "--bandwidth", "1")
    check(r.returncode == 0, "virsh blockcopy --bandwidth 1 (no wait)", r.stdout + r.stderr)
    r = env.virsh("blockjob", name, "vda", "--info")
    check(r.returncode == 0 and "Block Copy" in r.stdout + r.stderr and
          "1.000 MiB/s" in r.stdout + r.stderr, "virsh blockjob --info: Block Copy at 1 MiB/s",
          (r.returncode, r.stdout, r.stderr))
    r = env.virsh("blockjob", name, "vda", "--bandwidth", "0")
    check(r.returncode == 0, "virsh blockjob --bandwidth 0", r.stdout + r.stderr)
    check(bjlib.wait_for(lambda: (bjlib.mirror_of(dom) or {}).get("ready") == "yes"),
          "the copy becomes ready once unthrottled")
    r = env.virsh("blockjob", name, "vda", "--pivot")
    check(r.returncode == 0 and bjlib.live_chain(dom)[0][0] == dest2,
          "virsh blockjob --pivot", r.stdout + r.stderr)
    dest3 = os.path.join(d, "vcopy3.qcow2")
    env.virsh("blockcopy", name, "vda", dest3, "--wait", timeout=120)
    r = env.virsh("blockjob", name, "vda", "--abort")
    check(r.returncode == 0 and bjlib.live_chain(dom)[0][0] == dest2 and
          not dom.blockJobInfo("vda", 0), "virsh blockjob --abort keeps the source",
          r.stdout + r.stderr)
    stop(dom)
    v, out = bjlib.guest_view_ok(dest2, extra=8)
    check(v, "virsh blockcopy twice and abort: data intact in the disk's image", out)


# ------------------------------------------------------------------ guest writes

def test_guest_writes():
    """The test guest (tests/guest) writes numbered records to vda while an
    active commit, a copy and a pull run; every record it acknowledged
    (written O_DIRECT and flushed) must be in the final image, and the
    layers' own data too."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "guest"))
    import guestlib
    try:
        guestlib.ensure_built()
    except Exception as e:  # no guest on this machine: say so, fail nothing else
        check(False, "the test guest can be built", e)
        return
    for label in ("active commit + pivot", "copy + pivot", "pull"):
        counter[0] += 1
        name = "bjg%d" % counter[0]
        d = os.path.join(env.root, name)
        os.makedirs(d)
        paths = bjlib.make_chain(d)
        seed = 1000 + counter[0]
        xml = guestlib.domain_xml(name, disk=paths[3], cmdline_text=guestlib.cmdline(
            writer=True, count=200, delay_us=10000, seed=seed), memory_mib=256)
        dom = env.conn.createXML(xml, L.VIR_DOMAIN_START_PAUSED)
        pty = re.search(r"<serial type='pty'>\s*<source path='([^']+)'", dom.XMLDesc(0)).group(1)
        reader = guestlib.SerialReader(pty)
        dom.resume()
        started = reader.wait_for(r"MODVIRT-WRITER-START", guestlib.boot_timeout())
        check(started, "%s: the guest writes" % label, reader.lines[-5:])
        if not started:
            stop(dom)
            continue
        reader.wait_for(r"MODVIRT-WROTE 20$", 30)
        env.clear_events()
        dest = os.path.join(d, "copy.qcow2")
        if label.startswith("active"):
            dom.blockCommit("vda", None, None, 0, C_ACTIVE)
            final_top = paths[0]
        elif label.startswith("copy"):
            dom.blockCopy("vda", copy_xml(dest), None, 0)
            final_top = dest
        else:
            dom.blockPull("vda", 0, 0)
            final_top = paths[3]
        if not label.startswith("pull"):
            check(env.wait_event(name, S_READY, 60), "%s: READY while the guest writes" % label)
            reader.wait_for(r"MODVIRT-WROTE 1[0-9][0-9]$", 30)
            dom.blockJobAbort("vda", L.VIR_DOMAIN_BLOCK_JOB_ABORT_PIVOT)
        check(env.wait_event(name, S_DONE, 60), "%s: COMPLETED while the guest writes" % label)
        reader.drain(0.05)
        at_end = guestlib.acked_records(reader.lines)
        check(20 < at_end < 200, "%s: the job ended between record 20 and 200 (%d)"
              % (label, at_end))
        done = reader.wait_for(r"MODVIRT-WRITER-DONE", 60)
        acked = guestlib.acked_records(reader.lines)
        during = [l for l in reader.lines if "WRITER-ERROR" in l]
        check(done and acked == 200 and not during, "%s: the guest wrote its 200 records "
              "without an I/O error" % label, (acked, during))
        check(bjlib.live_chain(dom)[0][0] == final_top and bjlib.chain_matches(dom)[0],
              "%s: chain matches the headers" % label, bjlib.live_chain(dom))
        reader.close()
        stop(dom)
        problems = guestlib.verify_records(final_top, acked, seed=seed)
        check(problems == [], "%s: every acknowledged record is in %s, byte for byte"
              % (label, os.path.basename(final_top)), problems[:5])
        r = run("qemu-io", "-U", "-r", "-f", "qcow2", final_top,
                *sum([["-c", "read -P %d %d 64k" % (bjlib.pattern(i), i * MiB)]
                      for i in (1, 2, 3)], []))
        check(r.returncode == 0 and "fail" not in r.stdout.lower(),
              "%s: the layers' own data is intact too" % label, r.stdout)


def main():
    global env
    env = bjlib.Env("mv-bj-", BUILD)
    try:
        test_commit_table()
        test_commit_seed_equivalences()
        test_commit_relative_and_delete()
        test_active_commit_abort()
        test_commit_refusals()
        test_pull()
        test_copy()
        test_offline()
        test_virsh()
        test_guest_writes()
    except Exception as e:  # a crash is a failure, not a silent stop
        import traceback
        check(False, "test run ended by an exception: %r" % e, traceback.format_exc())
    finally:
        env.stop()
    return finish()


if __name__ == "__main__":
    sys.exit(main())
