#!/usr/bin/python3
"""Block jobs survive virtqemud being killed (-9) in each job state.

States: started (a job saved as 'new' that never reached QEMU), running
(a throttled pull), ready (a copy in sync), pivoting (killed right after
the pivot request), finished-but-not-processed (virtqemud frozen with
SIGSTOP while a throttled pull and a commit with DELETE conclude in QEMU,
then killed: QEMU's events are lost), plus QEMU itself dying during a copy.
After each restart: no job forgotten, no byte lost (qemu-io read -P), the
chain the user expects (live XML against qemu-img info --backing-chain,
and the persistent definition after a pivot), and the job's final event
delivered exactly once (to whichever connection was there).

Usage: test-blockjobs-faults.py BUILD_DIR      (prints TAP)
"""
import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from taplib import check, finish  # noqa: E402
import bjlib  # noqa: E402
from bjlib import MiB, libvirt  # noqa: E402

BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
L = libvirt
env = None
counter = [0]


def new_domain(extra=0, extra_layer=0):
    counter[0] += 1
    name = "f%d" % counter[0]
    d = os.path.join(env.root, name)
    os.makedirs(d)
    paths = bjlib.make_chain(d, "", extra, extra_layer)
    dom = env.conn.defineXML(bjlib.DOMAIN % {"type": bjlib.ACCEL, "name": name,
                                              "disk": paths[3]})
    dom.create()
    return dom, paths, name, d


def kill_qemud(freeze_first=0.0):
    """SIGKILL virtqemud (after @freeze_first seconds stopped); returns
    once a new connection has restarted it."""
    pid = env.qemud_pid()
    if freeze_first:
        os.kill(pid, signal.SIGSTOP)
        time.sleep(freeze_first)
    os.kill(pid, signal.SIGKILL)
    bjlib.wait_for(lambda: not os.path.exists("/proc/%d" % pid), 10)
    time.sleep(0.3)
    env.connect()
    return pid != env.qemud_pid()


def finals(name, typ, status):
    return [e for e in env.events_of(name) if e[1] == typ and e[2] == status]


def stop(dom):
    try:
        if dom.isActive():
            dom.destroy()
    except libvirt.libvirtError:
        pass


def test_started():
    dom, paths, name, d = new_domain()
    node = re.search(r"<nodename type='format' name='([^']+)'/>",
                     open(os.path.join(env.root, "run", "qemu", name + ".xml")).read()).group(1)
    pid = env.qemud_pid()
    os.kill(pid, signal.SIGKILL)
    bjlib.wait_for(lambda: not os.path.exists("/proc/%d" % pid), 10)
    status = os.path.join(env.root, "run", "qemu", name + ".xml")
    text = open(status).read()
    job = ("  <blockjobs>\n    <blockjob id='pull-vda-%s' type='pull' disk='vda' state='new'>\n"
           "      <top node='%s'/>\n    </blockjob>\n  </blockjobs>\n" % (node, node))
    open(status, "w").write(text.replace("</domstatus>", job + "</domstatus>"))
    env.clear_events()
    env.connect()
    dom = env.conn.lookupByName(name)
    check(bjlib.wait_no_job(dom, timeout=15), "started: QEMU never had it: it is dropped")
    time.sleep(0.5)
    check(env.events_of(name) == [], "started: no event for a job that never ran",
          env.events_of(name))
    check("blockjob" not in open(status).read(), "started: the status file forgets it")
    ok, detail = bjlib.chain_matches(dom)
    check(ok and len(bjlib.live_chain(dom)) == 4, "started: chain untouched", detail)
    dom.blockCommit("vda", None, "snap2.qcow2", 0, 0)
    check(env.wait_event(name, L.VIR_DOMAIN_BLOCK_JOB_COMPLETED),
          "started: the disk takes a new job afterwards")
    stop(dom)


def test_running():
    dom, paths, name, d = new_domain(extra=8)
    env.clear_events()
    dom.blockPull("vda", 1, 0)
    time.sleep(0.5)
    check(kill_qemud(), "running: virtqemud killed and restarted")
    dom = env.conn.lookupByName(name)
    info = dom.blockJobInfo("vda", 0)
    check(info.get("type") == L.VIR_DOMAIN_BLOCK_JOB_TYPE_PULL and info.get("bandwidth") == 1,
          "running: the pull is still there, at 1 MiB/s", info)
    dom.blockJobSetSpeed("vda", 0, 0)
    check(env.wait_event(name, L.VIR_DOMAIN_BLOCK_JOB_COMPLETED, 60) and bjlib.wait_no_job(dom),
          "running: it completes after the restart")
    time.sleep(0.3)
    check(len(finals(name, L.VIR_DOMAIN_BLOCK_JOB_TYPE_PULL, L.VIR_DOMAIN_BLOCK_JOB_COMPLETED))
          == 1, "running: COMPLETED exactly once", env.events_of(name))
    ok, detail = bjlib.chain_matches(dom)
    check(ok and [p for p, _ in bjlib.live_chain(dom)] == [paths[3]],
          "running: chain is the active layer alone", detail)
    stop(dom)
    v, out = bjlib.guest_view_ok(paths[3], extra=8)
    check(v, "running: no byte lost", out)


def test_ready_and_pivoting():
    for label in ("ready", "pivoting"):
        dom, paths, name, d = new_domain()
        dest = os.path.join(d, "copy.qcow2")
        env.clear_events()
        dom.blockCopy("vda", "<disk type='file'><source file='%s'/><driver type='qcow2'/>"
                      "</disk>" % dest, None, 0)
        env.wait_event(name, L.VIR_DOMAIN_BLOCK_JOB_READY)
        if label == "pivoting":
            dom.blockJobAbort("vda", L.VIR_DOMAIN_BLOCK_JOB_ABORT_PIVOT |
                              L.VIR_DOMAIN_BLOCK_JOB_ABORT_ASYNC)
        check(kill_qemud(), "%s: virtqemud killed and restarted" % label)
        dom = env.conn.lookupByName(name)
        if label == "ready":
            m = bjlib.mirror_of(dom)
            check(m and m.get("ready") == "yes" and m.get("file") == dest,
                  "ready: <mirror ready='yes'> is back after the restart", m)
            time.sleep(2.5)
            check(len(finals(name, L.VIR_DOMAIN_BLOCK_JOB_TYPE_COPY,
                             L.VIR_DOMAIN_BLOCK_JOB_READY)) == 1,
                  "ready: READY is not sent again", env.events_of(name))
            dom.blockJobAbort("vda", L.VIR_DOMAIN_BLOCK_JOB_ABORT_PIVOT)
        check(env.wait_event(name, L.VIR_DOMAIN_BLOCK_JOB_COMPLETED, 30) and
              bjlib.wait_no_job(dom), "%s: the pivot completes" % label)
        time.sleep(0.3)
        check(len(finals(name, L.VIR_DOMAIN_BLOCK_JOB_TYPE_COPY,
                         L.VIR_DOMAIN_BLOCK_JOB_COMPLETED)) == 1,
              "%s: COMPLETED exactly once" % label, env.events_of(name))
        ok, detail = bjlib.chain_matches(dom)
        check(ok and bjlib.live_chain(dom)[0][0] == dest and bjlib.mirror_of(dom) is None,
              "%s: the disk is the copy, no <mirror>" % label, detail)
        check(bjlib.live_chain(dom, L.VIR_DOMAIN_XML_INACTIVE)[0][0] == dest,
              "%s: the persistent definition follows the pivot" % label)
        stop(dom)
        v, out = bjlib.guest_view_ok(dest)
        check(v, "%s: no byte lost" % label, out)
        dom.create()
        check(bjlib.live_chain(dom)[0][0] == dest and bjlib.chain_matches(dom)[0],
              "%s: the domain starts again on the copy" % label)
        stop(dom)


def test_finished_unprocessed():
    # a pull and a commit conclude in QEMU while virtqemud is frozen, then
    # virtqemud is killed: QEMU's events are lost, query-jobs tells
    for label, extra_layer in (("pull", 0), ("commit DELETE", 2)):
        dom, paths, name, d = new_domain(extra=6, extra_layer=extra_layer)
        env.clear_events()
        if label == "pull":
            dom.blockPull("vda", 4, 0)
            typ, after = L.VIR_DOMAIN_BLOCK_JOB_TYPE_PULL, [3]
        else:
            dom.blockCommit("vda", None, "snap2.qcow2", 4, L.VIR_DOMAIN_BLOCK_COMMIT_DELETE)
            typ, after = L.VIR_DOMAIN_BLOCK_JOB_TYPE_COMMIT, [3, 0]
        check(kill_qemud(freeze_first=4.0), "%s: finished while virtqemud was frozen, then "
              "killed" % label)
        dom = env.conn.lookupByName(name)
        check(env.wait_event(name, L.VIR_DOMAIN_BLOCK_JOB_COMPLETED, 30) and
              bjlib.wait_no_job(dom), "%s: the end is found and reported after the restart"
              % label, env.events_of(name))
        time.sleep(0.3)
        check(len(finals(name, typ, L.VIR_DOMAIN_BLOCK_JOB_COMPLETED)) == 1,
              "%s: COMPLETED exactly once" % label, env.events_of(name))
        ok, detail = bjlib.chain_matches(dom)
        check(ok and [p for p, _ in bjlib.live_chain(dom)] == [paths[i] for i in after],
              "%s: the chain the user expects" % label, detail)
        if label != "pull":
            check(not os.path.exists(paths[2]) and not os.path.exists(paths[1]),
                  "commit DELETE: the invalidated files are deleted after the restart")
        stop(dom)
        v, out = bjlib.guest_view_ok(paths[3], extra=6, extra_layer=extra_layer)
        check(v, "%s: no byte lost" % label, out)


def test_qemu_dies():
    dom, paths, name, d = new_domain(extra=8)
    dest = os.path.join(d, "copy.qcow2")
    env.clear_events()
    dom.blockCopy("vda", "<disk type='file'><source file='%s'/><driver type='qcow2'/></disk>"
                  % dest, {"bandwidth": MiB}, 0)
    time.sleep(0.5)
    pid = int(re.search(r"pid='(\d+)'", open(os.path.join(env.root, "run", "qemu",
                                                          name + ".xml")).read()).group(1))
    os.kill(pid, signal.SIGKILL)
    check(env.wait_event(name, L.VIR_DOMAIN_BLOCK_JOB_FAILED, 30),
          "QEMU killed during a copy: FAILED", env.events_of(name))
    time.sleep(0.3)
    check(len(finals(name, L.VIR_DOMAIN_BLOCK_JOB_TYPE_COPY, L.VIR_DOMAIN_BLOCK_JOB_FAILED)) == 1,
          "QEMU killed: FAILED exactly once", env.events_of(name))
    check(bjlib.live_chain(dom, L.VIR_DOMAIN_XML_INACTIVE)[0][0] == paths[3],
          "QEMU killed: the definition keeps the original disk")
    dom.create()
    check(not dom.blockJobInfo("vda", 0) and bjlib.mirror_of(dom) is None and
          len(bjlib.live_chain(dom)) == 4, "QEMU killed: restarted without a job or <mirror>")
    stop(dom)
    v, out = bjlib.guest_view_ok(paths[3], extra=8)
    check(v, "QEMU killed: no byte lost", out)


def main():
    global env
    env = bjlib.Env("mv-bjf-", BUILD)
    try:
        test_started()
        test_running()
        test_ready_and_pivoting()
        test_finished_unprocessed()
        test_qemu_dies()
    except Exception as e:
        import traceback
        check(False, "test run ended by an exception: %r" % e, traceback.format_exc())
    finally:
        env.stop()
    return finish()


if __name__ == "__main__":
    sys.exit(main())
