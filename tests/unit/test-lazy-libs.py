#!/usr/bin/python3
"""What an idle virtqemud has mapped (issue 2: idle RSS at most 5 MiB).

The daemons do not link libxml2 (shared/util/util-xml-lazy.c loads it on
first use) and getHostname does not make glibc load libidn2
(util_host_hostname).  Checked on the binaries (readelf, nm) and on a
running embedded virtqemud: after the bench's idle steps (one connection,
getLibVersion, getHostname, closed, 1 s) neither library is mapped and
VmRSS is at most 5 MiB; the first XML call then loads libxml2 and works.

Usage: test-lazy-libs.py BUILD_DIR
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

BUILD = os.path.abspath(sys.argv[1])
DAEMONS = ["virtqemud/virtqemud", "virtxend/virtxend", "virtlxcd/virtlxcd"]
IDLE_RSS_LIMIT_KIB = 5 * 1024

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from taplib import check, finish, results  # noqa: E402


def skip(name, why):
    results.append(True)
    print("ok %d - %s # SKIP %s" % (len(results), name, why))


def needed(path):
    out = subprocess.run(["readelf", "-d", path], capture_output=True, text=True).stdout
    return [l.split("[")[1].rstrip("]") for l in out.splitlines() if "(NEEDED)" in l]


def mapped(pid):
    with open("/proc/%d/maps" % pid) as f:
        return {os.path.basename(l.split()[5]) for l in f if len(l.split()) > 5}


def vm_rss(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def has_lib(libs, prefix):
    return any(l.startswith(prefix) for l in libs)


# ------------------------------------------------------------ the binaries
sanitized = False
for d in DAEMONS:
    path = os.path.join(BUILD, d)
    name = os.path.basename(d)
    libs = needed(path)
    sanitized = sanitized or has_lib(libs, "libasan") or has_lib(libs, "libubsan")
    check(libs and not has_lib(libs, "libxml2"), "%s does not link libxml2" % name,
          "NEEDED: %s" % ", ".join(libs))
    out = subprocess.run(["nm", "-D", "--defined-only", path], capture_output=True,
                         text=True).stdout
    exported = [l.split()[-1] for l in out.splitlines() if l.split()[-1].startswith("xml")]
    check(not exported, "%s exports no libxml2 name" % name, " ".join(exported))

# ------------------------------------------------------------ a running virtqemud
sys.path.insert(0, "/usr/lib/python3/dist-packages")
try:
    import libvirt
except ImportError:
    libvirt = None

if libvirt is None:
    skip("idle virtqemud", "python3-libvirt is not installed")
    sys.exit(finish())

libvirt.registerErrorHandler(lambda ctx, err: None, None)
root = tempfile.mkdtemp(prefix="modvirt-lazy-libs-")
log = open(os.path.join(root, "virtqemud.log"), "w")
daemon = subprocess.Popen([os.path.join(BUILD, "virtqemud/virtqemud"), "--root", root,
                           "--timeout", "60"], stdout=log, stderr=subprocess.STDOUT)
sock = os.path.join(root, "run", "virtqemud-sock")
uri = "qemu+unix:///system?socket=" + sock
try:
    for _ in range(200):
        if os.path.exists(sock) or daemon.poll() is not None:
            break
        time.sleep(0.05)
    check(os.path.exists(sock), "virtqemud starts")
    # the capabilities prefetch runs at startup; let it end (the bench
    # waits for the libvirt daemons about as long)
    time.sleep(2)

    conn = libvirt.open(uri)
    version = conn.getLibVersion()
    hostname = conn.getHostname()
    conn.close()
    time.sleep(1.0)
    check(version > 0 and hostname, "getLibVersion and getHostname answer")
    libs = mapped(daemon.pid)
    check(not has_lib(libs, "libxml2"), "idle: libxml2 is not mapped", sorted(libs))
    check(not has_lib(libs, "libidn2"), "idle: libidn2 is not mapped (getHostname)",
          sorted(libs))
    rss = vm_rss(daemon.pid)
    if sanitized:
        skip("idle VmRSS at most %d KiB" % IDLE_RSS_LIMIT_KIB, "sanitizer build")
    else:
        check(0 < rss <= IDLE_RSS_LIMIT_KIB, "idle VmRSS at most %d KiB (%d KiB)"
              % (IDLE_RSS_LIMIT_KIB, rss), "VmRSS %d KiB" % rss)

    # the first XML calls: format (capabilities), parse (define, errors)
    conn = libvirt.open(uri)
    caps = conn.getCapabilities()
    check(caps.startswith("<capabilities>") and "<host>" in caps,
          "getCapabilities formats XML after the lazy load", caps[:200])
    check(has_lib(mapped(daemon.pid), "libxml2"), "libxml2 is mapped after the first XML call")
    try:
        conn.defineXML("<domain type='qemu'><name>broken</name>")
        err = None
    except libvirt.libvirtError as e:
        err = e
    check(err is not None and err.get_error_code() == libvirt.VIR_ERR_XML_DETAIL,
          "malformed XML is refused as libvirt does",
          err and (err.get_error_code(), str(err)))
    dom = conn.defineXML("<domain type='qemu'><name>lazy</name><memory unit='MiB'>64</memory>"
                         "<os><type arch='x86_64'>hvm</type></os></domain>")
    xml = dom.XMLDesc(0)
    check("<name>lazy</name>" in xml and "<memory unit='KiB'>65536</memory>" in xml,
          "a domain defined and read back through libxml2", xml[:300])
    dom.undefine()
    conn.close()
finally:
    daemon.send_signal(signal.SIGTERM)
    try:
        daemon.wait(timeout=10)
    except subprocess.TimeoutExpired:
        daemon.kill()
    log.close()
    shutil.rmtree(root, ignore_errors=True)

sys.exit(finish())
