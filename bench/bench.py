#!/usr/bin/python3
"""modvirt vs libvirt benchmark: the measuring half of bench/run.sh.

This is a benchmark, not a test: it never runs in CI and nothing here
asserts.  run.sh starts both systems side by side and hands this script a
JSON description of what to measure; see bench/README.md.

Everything is measured with the same client: Debian's /usr/bin/python3 and
its python3-libvirt (libvirt 9.0 client library), in the same run, on the
same machine.

Standalone use, for a quick look at one daemon:

    /usr/bin/python3 bench/bench.py rate 'qemu+unix:///system?socket=/tmp/b/run/virtproxyd-sock'
    /usr/bin/python3 bench/bench.py rate URI --conns 8 --seconds 5 --call getHostname
    /usr/bin/python3 bench/bench.py lifecycle URI --image disk.qcow2 [--type qemu]

Block jobs (issue 4) need several daemons and a QEMU of their own:
`bench/run.sh blockjobs`, which calls `bench.py blockjobs --config FILE`
(bench_blockjobs.py).
"""

import argparse
import datetime
import json
import multiprocessing
import os
import platform
import signal
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time

import libvirt

BATCH = 50          # calls between clock reads

# libvirt prints every error on stderr by default; the harness reports its own
libvirt.registerErrorHandler(lambda ctx, err: None, None)


# ------------------------------------------------------------------ rates

def _rate_worker(uri, call, seconds, warmup, barrier, results, index, cpus=None):
    """One connection: open, warm up, wait for the others, call for
    @seconds, report (calls, elapsed, client cpu seconds)."""
    try:
        if cpus:
            os.sched_setaffinity(0, cpus)
        conn = libvirt.open(uri)
        fn = getattr(conn, call)
        end = time.perf_counter() + warmup
        while time.perf_counter() < end:
            for _ in range(BATCH):
                fn()
        barrier.wait(60)
        cpu0 = time.thread_time()   # the calling thread does the client's I/O
        n = 0
        t0 = time.perf_counter()
        deadline = t0 + seconds
        while True:
            for _ in range(BATCH):
                fn()
            n += BATCH
            t = time.perf_counter()
            if t >= deadline:
                break
        cpu = time.thread_time() - cpu0
        conn.close()
        item = (index, n, t - t0, cpu, None)
    except Exception as e:                      # reported, not hidden
        try:
            barrier.abort()
        except Exception:
            pass
        item = (index, 0, 0.0, 0.0, "%s: %s" % (type(e).__name__, e))
    results.put(item)


def _proc_cpu(pid):
    """utime+stime of a process (all threads), in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _proc_ctxsw(pid):
    """voluntary + involuntary context switches summed over all threads."""
    total = 0
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return 0
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
                for line in f:
                    if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def _set_affinity(pid, cpus):
    """Pin every thread of @pid to @cpus; returns what to restore."""
    old = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            old[int(tid)] = os.sched_getaffinity(int(tid))
            os.sched_setaffinity(int(tid), cpus)
        except OSError:
            pass
    return old


def _restore_affinity(pid, old):
    everything = set().union(*old.values()) if old else set(range(os.cpu_count()))
    for tid in os.listdir("/proc/%d/task" % pid):     # threads born meanwhile too
        try:
            os.sched_setaffinity(int(tid), old.get(int(tid), everything))
        except OSError:
            pass


def measure_rate(uri, conns=1, seconds=3.0, warmup=1.0, call="getLibVersion",
                 mode="procs", watch_pids=None, cpus=None):
    """calls/s of conn.<call>() over @conns connections (each its own
    process, or thread with mode="threads").  @watch_pids: {name: pid} whose
    CPU time and context switches per call are reported as well.  @cpus: pin
    the clients and every thread of the @watch_pids daemons to these CPUs
    for the measurement (None: let the scheduler place them)."""
    watch_pids = watch_pids or {}
    pinned = {}
    if cpus:
        pinned = {p: _set_affinity(p, cpus) for p in watch_pids.values()}
    try:
        return _measure_rate(uri, conns, seconds, warmup, call, mode, watch_pids, cpus)
    finally:
        for p, old in pinned.items():
            _restore_affinity(p, old)


def _measure_rate(uri, conns, seconds, warmup, call, mode, watch_pids, cpus):
    if mode == "threads":
        import queue
        barrier = threading.Barrier(conns + 1)
        results = queue.Queue()
        workers = [threading.Thread(target=_rate_worker,
                                    args=(uri, call, seconds, warmup, barrier, results, i))
                   for i in range(conns)]
        if cpus:
            raise ValueError("pinning needs mode=procs")
    else:
        ctx = multiprocessing.get_context("spawn")
        barrier = ctx.Barrier(conns + 1)
        results = ctx.Queue()
        workers = [ctx.Process(target=_rate_worker,
                               args=(uri, call, seconds, warmup, barrier, results, i, cpus))
                   for i in range(conns)]
    for w in workers:
        w.start()
    try:
        barrier.wait(120)
    except threading.BrokenBarrierError:
        pass
    cpu0 = {n: _proc_cpu(p) for n, p in watch_pids.items()}
    sw0 = {n: _proc_ctxsw(p) for n, p in watch_pids.items()}
    t0 = time.perf_counter()
    got = [results.get(timeout=seconds + warmup + 120) for _ in workers]
    wall = time.perf_counter() - t0
    cpu1 = {n: _proc_cpu(p) for n, p in watch_pids.items()}
    sw1 = {n: _proc_ctxsw(p) for n, p in watch_pids.items()}
    for w in workers:
        w.join(30)
    errors = [g[4] for g in got if g[4]]
    if errors:
        raise RuntimeError("rate on %s failed: %s" % (uri, errors[0]))
    total_calls = sum(g[1] for g in got)
    rate = sum(g[1] / g[2] for g in got)
    return {
        "rate": rate,
        "calls": total_calls,
        "wall": wall,
        "client_cpu_us": 1e6 * sum(g[3] for g in got) / total_calls,
        "daemon_cpu_us": {n: 1e6 * (cpu1[n] - cpu0[n]) / total_calls for n in watch_pids},
        "daemon_ctxsw": {n: (sw1[n] - sw0[n]) / total_calls for n in watch_pids},
    }


# ------------------------------------------------------------------ RSS

def read_mem(pid):
    """VmRSS, RssAnon, RssFile (KiB) and Pss (KiB) of a process."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key = line.split(":")[0]
            if key in ("VmRSS", "RssAnon", "RssFile", "RssShmem", "Threads"):
                out[key] = int(line.split()[1])
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    out["Pss"] = int(line.split()[1])
    except OSError:
        pass
    return out


# ------------------------------------------------------------------ activation

REMOTE_PROGRAM = 0x20008086
REMOTE_PROC_AUTH_LIST = 66


def _recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("daemon closed the connection")
        buf += chunk
    return buf


def raw_first_reply(path):
    """connect() to the first reply byte-for-byte: one AUTH_LIST call,
    written by hand, no client library in the way."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    t0 = time.perf_counter()
    s.connect(path)
    body = struct.pack(">IIiiIi", REMOTE_PROGRAM, 1, REMOTE_PROC_AUTH_LIST, 0, 1, 0)
    s.sendall(struct.pack(">I", 4 + len(body)) + body)
    n = struct.unpack(">I", _recv_exact(s, 4))[0]
    _recv_exact(s, n - 4)
    t1 = time.perf_counter()
    s.close()
    return t1 - t0


def libvirt_first_reply(uri):
    """libvirt.open() + the first getLibVersion() reply: what a client sees."""
    t0 = time.perf_counter()
    conn = libvirt.open(uri)
    conn.getLibVersion()
    t1 = time.perf_counter()
    conn.close()
    return t1 - t0


def _kill_group(proc, pidfiles=()):
    """Stop an activation run: its process group (we made it a session
    leader), then anything it recorded in @pidfiles (daemons it spawned
    that might have left the group)."""
    pids = []
    for pf in pidfiles:
        try:
            with open(pf) as f:
                pids.append(int(f.read().split()[0]))
        except (OSError, ValueError, IndexError):
            pass
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(5)
    deadline = time.monotonic() + 5
    for pid in pids:
        while time.monotonic() < deadline and os.path.exists("/proc/%d" % pid):
            time.sleep(0.01)


def _clean_sockets(rundir):
    if not os.path.isdir(rundir):
        return
    for name in os.listdir(rundir):
        if name.endswith(("-sock", "-sock-ro", "-admin-sock")):
            try:
                os.unlink(os.path.join(rundir, name))
            except OSError:
                pass


def _start_activator(sc):
    """Start @sc's socket activator in a session of its own and wait until
    it listens; the daemon itself starts on the first connection."""
    with open(sc["log"], "ab") as lf:
        proc = subprocess.Popen(sc["cmd"], stdin=subprocess.DEVNULL, stdout=lf, stderr=lf,
                                start_new_session=True)
    deadline = time.monotonic() + 15
    while not os.path.exists(sc["socket"]):
        if proc.poll() is not None or time.monotonic() > deadline:
            _kill_group(proc)
            raise RuntimeError("%s: the activator did not create %s (see %s)"
                               % (sc["name"], sc["socket"], sc["log"]))
        time.sleep(0.005)
    time.sleep(0.15)      # let it reach epoll_wait; the system settles
    return proc


def measure_activation(sc, runs, warmup, log):
    """Cold starts through systemd-socket-activate: it listens, and on the
    first connection execs the daemon, which gets the socket as fd 3."""
    results = {"libvirt": [], "raw": [], "warm": []}
    plan = ["libvirt"] * warmup + ["libvirt"] * runs + ["raw"] * max(3, runs // 2)
    for i, probe in enumerate(plan):
        _clean_sockets(os.path.dirname(sc["socket"]))
        proc = _start_activator(sc)
        try:
            if probe == "raw":
                dt = raw_first_reply(sc["socket"])
            else:
                dt = libvirt_first_reply(sc["uri"])
            if i >= warmup:
                results[probe].append(dt)
                if probe == "libvirt":
                    # same daemon, now warm: what the client library costs alone
                    results["warm"].append(libvirt_first_reply(sc["uri"]))
        finally:
            _kill_group(proc, sc.get("pidfiles", ()))
    out = {}
    for k, v in results.items():
        if v:
            out[k] = {"median_ms": 1e3 * statistics.median(v), "min_ms": 1e3 * min(v),
                      "max_ms": 1e3 * max(v), "n": len(v)}
    log("  %-34s cold open+first call median %7.1f ms (min %.1f, max %.1f); "
        "raw connect->first reply %.1f ms; warm open+call %.1f ms"
        % (sc["name"], out["libvirt"]["median_ms"], out["libvirt"]["min_ms"],
           out["libvirt"]["max_ms"], out["raw"]["median_ms"], out["warm"]["median_ms"]))
    return out


# ------------------------------------------------------------------ guests (issue 3)

GUEST_XML = """<domain type='{type}'>
  <name>{name}</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='{image}'/>
      <target dev='vda' bus='virtio'/>
    </disk>
  </devices>
</domain>
"""


def guest_xml(name, image, dtype):
    """The one guest definition both systems get: 128 MiB, 1 vCPU, one
    qcow2 disk, no OS (SeaBIOS finds nothing to boot and idles)."""
    return GUEST_XML.format(type=dtype, name=name, image=image)


def _median_ms(v):
    return {"median_ms": 1e3 * statistics.median(v), "min_ms": 1e3 * min(v),
            "max_ms": 1e3 * max(v), "n": len(v), "all_ms": [1e3 * x for x in v]}


def _rm_tree(path):
    if not os.path.exists(path):
        return
    for root, dirs, files in os.walk(path, topdown=False):
        for f in files:
            os.unlink(os.path.join(root, f))
        for d in dirs:
            os.rmdir(os.path.join(root, d))
    os.rmdir(path)


def version_first_reply(uri):
    """libvirt.open() + getVersion() (what `virsh version` needs from the
    daemon: the hypervisor's version, i.e. QEMU's capabilities)."""
    t0 = time.perf_counter()
    conn = libvirt.open(uri)
    v = conn.getVersion()
    t1 = time.perf_counter()
    conn.close()
    if not v:
        raise RuntimeError("%s: getVersion() returned %r" % (uri, v))
    return t1 - t0


def measure_version_start(sc, uri, cache_dirs, cold, runs, warmup, log):
    """Fresh socket-activated daemon(s) each run (as measure_activation),
    timed from open() to getVersion()'s reply.  @cold: the capabilities
    cache directories are removed before every run; otherwise they are kept
    (the warm-up run fills them)."""
    times = []
    for i in range(warmup + runs):
        _clean_sockets(os.path.dirname(sc["socket"]))
        if cold:
            for d in cache_dirs:
                _rm_tree(d)
        elif i == warmup:
            missing = [d for d in cache_dirs if not os.path.isdir(d) or not os.listdir(d)]
            if missing:
                raise RuntimeError("%s: no capabilities cache after the warm-up in %s"
                                   % (sc["name"], ", ".join(missing)))
        proc = _start_activator(sc)
        try:
            dt = version_first_reply(uri)
            if i >= warmup:
                times.append(dt)
        finally:
            _kill_group(proc, sc.get("pidfiles", ()))
    out = _median_ms(times)
    log("    %-7s %-5s median %8.1f ms (min %.1f, max %.1f)"
        % ("cold" if cold else "warm", "", out["median_ms"], out["min_ms"], out["max_ms"]))
    return out


def _wait_running(dom, timeout=30):
    deadline = time.monotonic() + timeout
    while dom.state()[0] != libvirt.VIR_DOMAIN_RUNNING:
        if time.monotonic() > deadline:
            raise RuntimeError("%s: not running after createXML" % dom.name())
        time.sleep(0.001)


def lifecycle_create_destroy(conn, xml):
    """createXML of a transient guest until it runs, then destroy() until
    it is gone: (create seconds, destroy seconds)."""
    t0 = time.perf_counter()
    dom = conn.createXML(xml, 0)
    _wait_running(dom)              # createXML returns a running guest in both; checked
    t1 = time.perf_counter()
    dom.destroy()
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1


def lifecycle_define(conn, image, dtype, count, prefix, list_calls):
    """define @count persistent domains, time listAllDomains with them
    defined, undefine them all: seconds for each part."""
    xmls = [guest_xml("%s%04d" % (prefix, i), image, dtype) for i in range(count)]
    doms = []
    t0 = time.perf_counter()
    for x in xmls:
        doms.append(conn.defineXML(x))
    t_define = time.perf_counter() - t0
    # The call itself: the previous result is released before the timer
    # starts.  Releasing @count virDomain objects is client-only work
    # (libvirt.so's virDomainFree formats each UUID for a debug message even
    # with logging off: 1-3 ms for 1000 here), the same for both systems.
    lists = []
    got = None
    for _ in range(list_calls):
        got = None
        t = time.perf_counter()
        got = conn.listAllDomains(0)
        lists.append(time.perf_counter() - t)
        n = sum(1 for d in got if d.name().startswith(prefix))
        if n != count:
            raise RuntimeError("listAllDomains returned %d of the %d defined" % (n, count))
    # As measured up to session 3 (shown, not judged): `got = call()` drops
    # the previous list inside the timed region, after the call returns.
    lists_rel = []
    for _ in range(list_calls):
        t = time.perf_counter()
        got = conn.listAllDomains(0)
        lists_rel.append(time.perf_counter() - t)
    got = None
    t0 = time.perf_counter()
    for d in doms:
        d.undefine()
    t_undefine = time.perf_counter() - t0
    return t_define, statistics.median(lists), statistics.median(lists_rel), t_undefine


def lifecycle_cleanup(uri, prefix):
    """Destroy and undefine every domain whose name starts with @prefix."""
    try:
        conn = libvirt.open(uri)
    except libvirt.libvirtError:
        return 0
    n = 0
    for d in conn.listAllDomains(0):
        if not d.name().startswith(prefix):
            continue
        try:
            if d.isActive():
                d.destroy()
        except libvirt.libvirtError:
            pass
        try:
            if d.isPersistent():
                d.undefine()
        except libvirt.libvirtError:
            pass
        n += 1
    conn.close()
    return n


def measure_lifecycle(systems, image, dtype, runs, define_count, define_rounds, log):
    """Interleaved: each run creates and destroys one guest on every system
    (order alternating), then each define round defines @define_count
    domains on every system.  Returns per-system lists of seconds."""
    names = list(systems)
    conns = {s: libvirt.open(systems[s]) for s in names}
    res = {s: {"create": [], "destroy": [], "define": [], "list": [], "list_rel": [],
               "undefine": []}
           for s in names}
    prefix = "bench-lc-"
    try:
        for s in names:            # warm-up: caches, first-guest set-up
            lifecycle_create_destroy(conns[s], guest_xml(prefix + "warm", image, dtype))
        for i in range(runs):
            for s in (names if i % 2 == 0 else names[::-1]):
                c, d = lifecycle_create_destroy(conns[s], guest_xml(prefix + "run", image, dtype))
                res[s]["create"].append(c)
                res[s]["destroy"].append(d)
                log("  %-7s create->running %7.1f ms  destroy %7.1f ms" % (s, 1e3 * c, 1e3 * d))
        for i in range(define_rounds):
            for s in (names if i % 2 == 0 else names[::-1]):
                df, ls, lr, ud = lifecycle_define(conns[s], image, dtype, define_count,
                                                  prefix + "def-", 20)
                res[s]["define"].append(df)
                res[s]["list"].append(ls)
                res[s]["list_rel"].append(lr)
                res[s]["undefine"].append(ud)
                log("  %-7s define %d %7.0f ms  listAllDomains %6.2f ms (%.2f with the "
                    "previous result released)  undefine all %7.0f ms"
                    % (s, define_count, 1e3 * df, 1e3 * ls, 1e3 * lr, 1e3 * ud))
    finally:
        for s in names:
            try:
                conns[s].close()
            except libvirt.libvirtError:
                pass
            left = lifecycle_cleanup(systems[s], prefix)
            if left:
                log("  %s: cleaned up %d leftover domains" % (s, left))
    return {s: {k: _median_ms(v) for k, v in r.items() if v} for s, r in res.items()}


def run_guests(cfg, args, log):
    """Issue 3's figures: getVersion on a fresh socket-activated daemon
    (cold and warm capabilities cache, direct and through the proxy), then
    the lifecycle on the running daemons."""
    lc = cfg["lifecycle"]
    out = {"version": {}, "type": lc["type"], "image": lc["image"]}
    act = {sc["name"]: sc for sc in cfg["activation"]}
    log("getVersion on a fresh socket-activated daemon (%d runs after 1 warm-up):"
        % args.lifecycle_runs)
    for v in lc["version"]:
        log("  %s, %s (%s)" % (v["system"], v["path"], v["what"]))
        r = out["version"].setdefault(v["system"], {}).setdefault(v["path"], {"what": v["what"]})
        for cold in (True, False):
            r["cold" if cold else "warm"] = measure_version_start(
                act[v["activation"]], v["uri"], v["caches"], cold, args.lifecycle_runs, 1, log)
    log("guests (%s, %d create/destroy runs, %d x define %d):"
        % (lc["type"], args.lifecycle_runs, args.define_rounds, args.define_count))
    out["guests"] = measure_lifecycle(lc["uris"], lc["image"], lc["type"], args.lifecycle_runs,
                                      args.define_count, args.define_rounds, log)
    return out


# ------------------------------------------------------------------ report

PLACEMENTS = {
    "sched": "scheduler's placement",
    "cpu0": "client and daemons pinned to CPU 0",
}


def fmt_rate(r):
    return "%.1fk/s" % (r / 1000.0)


def fmt_kib(k):
    return "%.1f MiB" % (k / 1024.0)


def verdict(ok):
    return "PASS" if ok else "FAIL"


def rate_label(conns, placement):
    if conns == 1:
        return "1 conn, %s" % ("pinned to 1 CPU" if placement == "cpu0" else "unpinned")
    return "%d conns" % conns


def build_report(res, args, started, elapsed):
    rt = res["rates"]           # rt[system][path][(conns, placement)] = median rate
    mv, lv = rt["modvirt"], rt["libvirt"]
    combos = [(1, "sched"), (1, "cpu0"), (8, "sched")]
    rows = []   # (what, modvirt, libvirt, ratio, target, verdict)

    def add(*row):
        rows.append(row)

    # 1 connection unpinned is bimodal on a small VM (README): shown, not judged
    def judged(c, ok):
        return verdict(ok) if c != (1, "sched") else "info (bimodal)"

    for c in combos:
        m, l = mv["proxy"][c], lv["proxy"][c]
        add("getLibVersion through the proxy, %s" % rate_label(*c),
            fmt_rate(m), fmt_rate(l), "%.2fx" % (m / l), ">= 3.00x", judged(c, m / l >= 3.0))
    for c in combos:
        m, l = mv["direct"][c], lv["direct"][c]
        add("getLibVersion direct, %s" % rate_label(*c),
            fmt_rate(m), fmt_rate(l), "%.2fx" % (m / l), "-", "info")
    costs = res.get("costs", {})
    for c in combos:
        # median of the per-round paired costs (see run_all)
        mc = statistics.median(costs["modvirt"][c])
        lc = statistics.median(costs["libvirt"][c])
        add("proxy cost (1 - proxy/direct), %s" % rate_label(*c),
            "%.0f%%" % (100 * mc), "%.0f%%" % (100 * lc), "-", "<= 15%", judged(c, mc <= 0.15))
    act = res["activation"]
    lvact = act["libvirtd"]["libvirt"]["median_ms"]
    m = act["virtqemud"]["libvirt"]["median_ms"]
    add("first reply, socket-activated virtqemud vs libvirtd: open + getLibVersion, median",
        "%.1f ms" % m, "%.1f ms" % lvact, "%.2fx" % (m / lvact), "<= 30 ms", verdict(m <= 30))
    m = act["virtproxyd+virtqemud"]["libvirt"]["median_ms"]
    add("first reply, socket-activated virtproxyd that spawns virtqemud vs libvirtd, median",
        "%.1f ms" % m, "%.1f ms" % lvact, "%.2fx" % (m / lvact), "(<= 30 ms)",
        "info, %s" % ("within" if m <= 30 else "over"))
    m, l = act["virtqemud"]["raw"]["median_ms"], act["libvirtd"]["raw"]["median_ms"]
    add("first reply, raw connect() to AUTH_LIST reply, virtqemud vs libvirtd, median",
        "%.1f ms" % m, "%.1f ms" % l, "%.2fx" % (m / l), "-", "info")
    mem = res["rss"]
    lvr = mem["idle"]["libvirt"]["libvirtd"]["VmRSS"]
    for d in ("virtqemud", "virtproxyd"):
        m = mem["idle"]["modvirt"][d]["VmRSS"]
        add("idle RSS, %s vs libvirtd" % d,
            fmt_kib(m), fmt_kib(lvr), "%.2fx" % (m / lvr), "<= 5 MiB", verdict(m <= 5 * 1024))

    g = res.get("guests")
    if g:
        ver = g["version"]
        for path, where in (("direct", "direct"), ("proxy", "through the proxy")):
            for phase, limit, cache in (("cold", 150, "no capabilities cache"),
                                        ("warm", 30, "cache present")):
                m = ver["modvirt"][path][phase]["median_ms"]
                l = ver["libvirt"][path][phase]["median_ms"]
                add("getVersion on a fresh socket-activated daemon, %s, %s, median"
                    % (cache, where), "%.1f ms" % m, "%.1f ms" % l, "%.2fx" % (m / l),
                    "<= %d ms" % limit, verdict(m <= limit))
        gm, gl = g["guests"]["modvirt"], g["guests"]["libvirt"]
        for key, what, half, limit in (
                ("create", "createXML -> running (%s guest), median" % g["type"], True, None),
                ("destroy", "destroy of that guest, median", False, 50),
                ("define", "define %d domains, median of rounds" % res["define_count"], True, None),
                ("list", "listAllDomains with %d defined, median" % res["define_count"], True, None),
                ("list_rel", "the same, timed with the previous result's release (as up to "
                 "session 3)", None, None)):
            if key not in gm or key not in gl:
                continue
            m, l = gm[key]["median_ms"], gl[key]["median_ms"]
            fmt = "%.2f ms" if key.startswith("list") else "%.1f ms"
            if half is None:
                add(what, fmt % m, fmt % l, "%.2fx" % (m / l), "-", "info")
            elif half:
                add(what, fmt % m, fmt % l, "%.2fx" % (m / l), "<= 0.50x", verdict(m / l <= 0.5))
            else:
                add(what, fmt % m, fmt % l, "%.2fx" % (m / l), "<= %d ms" % limit,
                    verdict(m <= limit))

    hdr = ("what", "modvirt", "libvirt", "ratio", "target", "result")
    w = [max(len(str(r[i])) for r in rows + [hdr]) for i in range(6)]
    text = ["modvirt vs libvirt %s, %s" % (res["libvirt_version"], started), "",
            "  ".join(str(c).ljust(w[i]) for i, c in enumerate(hdr)).rstrip(),
            "  ".join("-" * w[i] for i in range(6))]
    for r in rows:
        text.append("  ".join(str(c).ljust(w[i]) for i, c in enumerate(r)).rstrip())

    md = []
    md.append("# modvirt vs libvirt: benchmark results, %s" % started)
    md.append("")
    md.append("Produced by `bench/run.sh` in %.0f s. Client for both systems: Debian's "
              "`/usr/bin/python3` %s with python3-libvirt (libvirt %s client library). "
              "Machine: `%s`, %d CPUs, kernel %s. modvirt: `%s`. libvirt: Debian's `%s`, "
              "the only libvirt daemon Debian 12 ships; its proxied path is a second libvirtd "
              "forwarding through its remote driver (see README)."
              % (elapsed, platform.python_version(), res["libvirt_version"], res["host"],
                 os.cpu_count(), platform.release(), res["modvirt_build"],
                 res["libvirtd_version"]))
    md.append("")
    md.append("Rates: median of %d rounds of %.1f s each (every connection warmed up for 1 s "
              "first); the systems are interleaved within each round, each system's direct and "
              "proxied rates measured back to back (order alternating between rounds). Proxy "
              "cost = median over the rounds of each round's 1 - proxy/direct (listed in the "
              "detail). "
              "8 connections = 8 client processes, each with its own connection (8 threads of "
              "one process are listed in the detail for reference). \"Pinned to 1 CPU\": the client and every "
              "thread of the system's daemons share CPU 0 (pure software cost, no cross-CPU "
              "wake-ups; stable); \"unpinned\": wherever the scheduler puts them (what users "
              "get, but bimodal on this VM, see README). Ratio = modvirt / libvirt."
              % (args.rounds, args.seconds))
    md.append("")
    md.append("| what | modvirt | libvirt | ratio | target | result |")
    md.append("|---|---|---|---|---|---|")
    for r in rows:
        md.append("| " + " | ".join(str(c) for c in r) + " |")
    md.append("")
    if g:
        md.append("Guests (issue 3): getVersion = `libvirt.open()` + `getVersion()` on a daemon "
                  "started by `systemd-socket-activate` for that connection, median of %d runs "
                  "after 1 warm-up; *no capabilities cache* = the daemon's QEMU capabilities "
                  "cache removed before every run. Guests: the same XML (128 MiB, 1 vCPU, one "
                  "qcow2 disk, no OS, domain type `%s`) and the same image for both, on the "
                  "running daemons, direct; create/destroy interleaved over %d runs after 1 "
                  "warm-up guest each; define: %d rounds of %d `defineXML` calls on one "
                  "connection, listAllDomains median of 20 calls with them defined, the previous "
                  "call's result released before each timed call. See README."
                  % (res["lifecycle_runs"], g["type"], res["lifecycle_runs"],
                     res["define_rounds"], res["define_count"]))
        md.append("")
    md.append("## Proxy cost per round")
    md.append("")
    md.append("| system | connections | 1 - proxy/direct, each round | median |")
    md.append("|---|---|---|---|")
    for s in ("modvirt", "libvirt"):
        for c in combos:
            cs = res.get("costs", {}).get(s, {}).get(c, [])
            if cs:
                md.append("| %s | %s | %s | %.0f%% |" % (
                    s, rate_label(*c), ", ".join("%.0f%%" % (100 * x) for x in cs),
                    100 * statistics.median(cs)))
    md.append("")
    md.append("## All rates")
    md.append("")
    md.append("calls/s is the median of the rounds (all rounds listed). CPU and context "
              "switches per call come from the round closest to the median: client CPU is "
              "the calling thread's, daemon CPU is utime+stime of every thread "
              "(/proc/PID/stat), context switches are voluntary+involuntary over all threads.")
    md.append("")
    md.append("| system | path | call | connections | calls/s | rounds | client CPU us/call | daemon CPU us/call | daemon context switches/call |")
    md.append("|---|---|---|---|---|---|---|---|---|")
    for e in res["rate_log"]:
        md.append("| %s | %s | %s | %s | %.0f | %s | %.1f | %s | %s |" % (
            e["system"], e["path"], e["call"], e["label"], e["rate"],
            ", ".join("%.0f" % x for x in e["rounds"]), e["client_cpu_us"],
            ", ".join("%s %.1f" % kv for kv in e["daemon_cpu_us"].items()),
            ", ".join("%s %.2f" % kv for kv in e["daemon_ctxsw"].items())))
    md.append("")
    md.append("## Socket activation")
    md.append("")
    md.append("Each run: `systemd-socket-activate` listens; the first connection makes it exec "
              "the daemon, which inherits the listening socket. Timed from the client's "
              "connect to the reply. One warm-up run first (not counted).")
    md.append("")
    md.append("| daemon | cold: open + getLibVersion, median (min-max) | cold: raw connect to AUTH_LIST reply, median | warm: open + getLibVersion | runs |")
    md.append("|---|---|---|---|---|")
    for name, a in res["activation"].items():
        md.append("| %s | %.1f ms (%.1f-%.1f) | %.1f ms | %.1f ms | %d + %d |" % (
            name, a["libvirt"]["median_ms"], a["libvirt"]["min_ms"], a["libvirt"]["max_ms"],
            a["raw"]["median_ms"], a["warm"]["median_ms"], a["libvirt"]["n"], a["raw"]["n"]))
    md.append("")
    if g:
        md.append("## Guests (issue 3), every run in ms")
        md.append("")
        md.append("| system | what | median | all runs |")
        md.append("|---|---|---|---|")
        for system in ("modvirt", "libvirt"):
            for path in ("direct", "proxy"):
                v = g["version"][system][path]
                for phase in ("cold", "warm"):
                    md.append("| %s | getVersion, fresh daemon, %s cache, %s (%s) | %.1f | %s |" % (
                        system, "no" if phase == "cold" else "with", path, v["what"],
                        v[phase]["median_ms"], ", ".join("%.1f" % x for x in v[phase]["all_ms"])))
            for key, what in (("create", "createXML -> running"), ("destroy", "destroy"),
                              ("define", "define %d" % res["define_count"]),
                              ("list", "listAllDomains, %d defined" % res["define_count"]),
                              ("list_rel", "listAllDomains, %d defined, timed with the previous "
                               "result's release (not judged)" % res["define_count"]),
                              ("undefine", "undefine %d (not judged)" % res["define_count"])):
                v = g["guests"][system].get(key)
                if v:
                    md.append("| %s | %s | %.2f | %s |" % (
                        system, what, v["median_ms"], ", ".join("%.2f" % x for x in v["all_ms"])))
        md.append("")
    md.append("## Memory (KiB, from /proc/PID/status and smaps_rollup)")
    md.append("")
    md.append("| system | daemon | phase | VmRSS | RssAnon | RssFile | Pss | threads |")
    md.append("|---|---|---|---|---|---|---|---|")
    for phase in ("startup", "idle", "after_load"):
        for system in ("modvirt", "libvirt"):
            for d, v in mem[phase][system].items():
                md.append("| %s | %s | %s | %d | %d | %d | %s | %d |" % (
                    system, d, phase, v["VmRSS"], v.get("RssAnon", 0), v.get("RssFile", 0),
                    v.get("Pss", "-"), v.get("Threads", 0)))
    md.append("")
    md.append("Phases: *startup* = before any client connected; *idle* = 1 s after one "
              "connection was opened, used and closed on every path (the judged figure); "
              "*after_load* = idle again after all the rate runs.")
    md.append("")
    return "\n".join(text), "\n".join(md)


def update_readme(readme, block, marker="results"):
    begin, end = "<!-- %s:begin -->" % marker, "<!-- %s:end -->" % marker
    try:
        with open(readme) as f:
            text = f.read()
    except OSError:
        return False
    if begin not in text or end not in text:
        return False
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    with open(readme, "w") as f:
        f.write(head + begin + "\n" + block.strip() + "\n" + end + tail)
    return True


# ------------------------------------------------------------------ main

def run_all(cfg, args):
    started = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    t_start = time.monotonic()

    def log(msg):
        print(msg, flush=True)

    res = {"rates": {}, "rate_log": [], "rss": {}, "activation": {}}
    res["libvirt_version"] = "%d.%d.%d" % tuple(
        (libvirt.getVersion() // d) % 1000 for d in (1000000, 1000, 1))
    res["host"] = platform.node()
    res["libvirtd_version"] = subprocess.run([cfg["libvirtd"], "--version"], capture_output=True,
                                             text=True).stdout.strip()
    res["modvirt_build"] = cfg.get("modvirt_build", "?")

    systems = cfg["systems"]
    pids = {s: systems[s]["pids"] for s in systems}

    # memory before anyone connected
    res["rss"]["startup"] = {s: {d: read_mem(p) for d, p in pids[s].items()} for s in systems}
    # one connection opened, used and closed on every path
    for s in systems:
        for path in ("direct", "proxy"):
            c = libvirt.open(systems[s][path])
            c.getLibVersion()
            c.getHostname()
            c.close()
    time.sleep(1.0)
    res["rss"]["idle"] = {s: {d: read_mem(p) for d, p in pids[s].items()} for s in systems}
    log("idle RSS: " + ", ".join("%s %s" % (d, fmt_kib(v["VmRSS"]))
                                  for s in systems for d, v in res["rss"]["idle"][s].items()))

    # rates: systems and paths interleaved within each round, so that drift
    # on a shared machine hits both alike
    cpu0 = {0}
    plan = [(1, "getLibVersion", "sched"), (1, "getLibVersion", "cpu0"),
            (8, "getLibVersion", "sched")]
    extra = [(1, c, "cpu0") for c in args.extra_calls]
    # The proxy cost is judged on pairs: a system's direct and proxied rates
    # measured back to back (order alternating between rounds), one cost per
    # round, median of those.  Other load on a shared machine then hits both
    # halves of a pair alike instead of skewing a ratio of medians.
    samples = {}
    res["costs"] = {}
    for rnd in range(args.rounds):
        log("round %d/%d" % (rnd + 1, args.rounds))
        order = ("direct", "proxy") if rnd % 2 == 0 else ("proxy", "direct")
        for conns, call, placement in plan + (extra if rnd == 0 else []):
            for s in ("modvirt", "libvirt"):
                pair = {}
                for path in order:
                    r = measure_rate(systems[s][path], conns, args.seconds, 1.0, call, "procs",
                                     pids[s], cpu0 if placement == "cpu0" else None)
                    samples.setdefault((s, path, call, conns, placement), []).append(r)
                    pair[path] = r["rate"]
                    log("  %-7s %-6s %-14s %-26s %8.0f calls/s" %
                        (s, path, call, rate_label(conns, placement), r["rate"]))
                if call == "getLibVersion":
                    res["costs"].setdefault(s, {}).setdefault((conns, placement), []).append(
                        1 - pair["proxy"] / pair["direct"])
    if args.threads8:
        for path in ("direct", "proxy"):
            for s in ("modvirt", "libvirt"):
                r = measure_rate(systems[s][path], 8, args.seconds, 1.0, "getLibVersion",
                                 "threads", pids[s])
                samples[(s, path, "getLibVersion", 8, "threads")] = [r]
                log("  %-7s %-6s getLibVersion  8 conns as threads        %8.0f calls/s" %
                    (s, path, r["rate"]))
    for (s, path, call, conns, placement), rs in samples.items():
        med = statistics.median(x["rate"] for x in rs)
        rep = min(rs, key=lambda x: abs(x["rate"] - med))
        label = ("8 threads of 1 process" if placement == "threads"
                 else rate_label(conns, placement))
        res["rate_log"].append({"system": s, "path": path, "call": call, "label": label,
                                "rate": med, "rounds": [x["rate"] for x in rs],
                                "client_cpu_us": rep["client_cpu_us"],
                                "daemon_cpu_us": rep["daemon_cpu_us"],
                                "daemon_ctxsw": rep["daemon_ctxsw"]})
        if call == "getLibVersion" and placement != "threads":
            res["rates"].setdefault(s, {}).setdefault(path, {})[(conns, placement)] = med

    time.sleep(1.0)
    res["rss"]["after_load"] = {s: {d: read_mem(p) for d, p in pids[s].items()} for s in systems}

    log("socket activation (%d runs each after 1 warm-up):" % args.activation_runs)
    for sc in cfg["activation"]:
        res["activation"][sc["name"]] = measure_activation(sc, args.activation_runs, 1, log)

    if cfg.get("lifecycle") and not args.no_guests:
        res["lifecycle_runs"] = args.lifecycle_runs
        res["define_count"] = args.define_count
        res["define_rounds"] = args.define_rounds
        res["guests"] = run_guests(cfg, args, log)

    elapsed = time.monotonic() - t_start
    text, md = build_report(res, args, started, elapsed)
    print()
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(md)
        print("\nwrote %s" % args.out)
    if args.readme:
        body = md.split("\n## ", 1)[0].split("\n", 1)[1]      # summary, without the title
        block = ("Latest run: %s; full detail in [`%s`](%s).\n" %
                 (started, os.path.basename(args.out), os.path.basename(args.out))
                 if args.out else "Latest run: %s.\n" % started) + body
        if update_readme(args.readme, block):
            print("updated %s" % args.readme)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)

    a = sub.add_parser("all", help="the full comparison (run.sh calls this)")
    a.add_argument("--config", required=True)
    a.add_argument("--out")
    a.add_argument("--readme")
    a.add_argument("--seconds", type=float, default=2.5)
    a.add_argument("--rounds", type=int, default=3)
    a.add_argument("--activation-runs", type=int, default=10)
    a.add_argument("--threads8", action="store_true",
                   help="also measure 8 connections as threads of one process (GIL)")
    a.add_argument("--extra-calls", nargs="*", default=["getHostname", "getInfo"])

    a.add_argument("--lifecycle-runs", type=int, default=7,
                   help="fresh daemons per getVersion figure, guests created per system")
    a.add_argument("--define-count", type=int, default=1000)
    a.add_argument("--define-rounds", type=int, default=3)
    a.add_argument("--no-guests", action="store_true", help="skip issue 3's guest figures")

    lc = sub.add_parser("lifecycle", help="create/destroy/define/list against one URI")
    lc.add_argument("uri")
    lc.add_argument("--image", required=True, help="qcow2 image for the guest's disk")
    lc.add_argument("--type", default="kvm", help="domain type (kvm or qemu)")
    lc.add_argument("--runs", type=int, default=5)
    lc.add_argument("--define-count", type=int, default=1000)
    lc.add_argument("--define-rounds", type=int, default=1)

    bj = sub.add_parser("blockjobs", help="issue 4's block-job figures (run.sh blockjobs)")
    bj.add_argument("--config", required=True)
    bj.add_argument("--runs", type=int, default=15, help="measured runs per job and system")
    bj.add_argument("--jobs", nargs="+", default=["commit", "pull", "copy"],
                    choices=["commit", "pull", "copy"])
    bj.add_argument("--out")
    bj.add_argument("--raw", help="also write every run's record as JSON here")
    bj.add_argument("--readme")

    r = sub.add_parser("rate", help="calls/s against one URI")
    r.add_argument("uri")
    r.add_argument("--conns", type=int, default=1)
    r.add_argument("--seconds", type=float, default=3.0)
    r.add_argument("--warmup", type=float, default=1.0)
    r.add_argument("--call", default="getLibVersion")
    r.add_argument("--mode", default="procs", choices=("procs", "threads"))
    r.add_argument("--pid", action="append", default=[],
                   help="NAME=PID of a daemon whose CPU per call to report")
    r.add_argument("--pin", help="comma-separated CPUs for the clients and the --pid daemons")

    args = ap.parse_args()
    if args.cmd == "rate":
        watch = {k: int(v) for k, v in (p.split("=", 1) for p in args.pid)}
        cpus = {int(c) for c in args.pin.split(",")} if args.pin else None
        out = measure_rate(args.uri, args.conns, args.seconds, args.warmup, args.call, args.mode,
                           watch, cpus)
        print(json.dumps(out, indent=1))
        return
    if args.cmd == "lifecycle":
        out = measure_lifecycle({"system": args.uri}, os.path.abspath(args.image), args.type,
                                args.runs, args.define_count, args.define_rounds,
                                lambda m: print(m, file=sys.stderr, flush=True))
        print(json.dumps({k: {m: v["median_ms"] for m, v in r.items()} for k, r in out.items()},
                         indent=1))
        return
    with open(args.config) as f:
        cfg = json.load(f)
    if args.cmd == "blockjobs":
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import bench_blockjobs
        bench_blockjobs.main(cfg, args, update_readme, guest_xml)
        return
    run_all(cfg, args)


if __name__ == "__main__":
    main()
