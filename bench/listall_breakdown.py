#!/usr/bin/python3
"""Where the time of listAllDomains goes, on one running daemon.

    /usr/bin/python3 bench/listall_breakdown.py SOCKET [--calls N]

SOCKET is the daemon's read-write UNIX socket (virtqemud-sock or
libvirt-sock); the domains must be defined already (bench.py lifecycle
leaves none, so define them first, e.g. with --define-count and BENCH_KEEP).
Prints medians, in ms, of:
  raw        the RPC alone: a plain socket client sends REMOTE_PROC 273 and
             reads the whole reply (no libvirt.so)
  c-call     libvirt.so's virConnectListAllDomains through libvirtmod
             (RPC, XDR decode, one virGetDomain per domain)
  wrap       + python3-libvirt wrapping each pointer in a virDomain
  release    dropping the previous call's list (virDomainFree each)
A benchmark helper, not a test.
"""
import argparse
import socket
import statistics
import struct
import time

import libvirt
import libvirtmod

PROGRAM, VERSION = 0x20008086, 1
PROC_OPEN, PROC_AUTH_LIST, PROC_LIST_ALL = 1, 66, 273


class Raw:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(path)
        self.serial = 0

    def _read(self, n):
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise RuntimeError("connection closed")
            buf += chunk
        return buf

    def call(self, proc, body):
        self.serial += 1
        msg = struct.pack(">IIiiII", PROGRAM, VERSION, proc, 0, self.serial, 0) + body
        self.sock.sendall(struct.pack(">I", len(msg) + 4) + msg)
        length = struct.unpack(">I", self._read(4))[0]
        reply = self._read(length - 4)
        status = struct.unpack(">I", reply[20:24])[0]
        if status != 0:
            raise RuntimeError("procedure %d failed" % proc)
        return reply


def xdr_string(text):
    b = text.encode()
    return struct.pack(">I", len(b)) + b + b"\0" * (-len(b) % 4)


def median_ms(samples):
    return 1e3 * statistics.median(samples)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("socket")
    ap.add_argument("--calls", type=int, default=50)
    args = ap.parse_args()

    raw = Raw(args.socket)
    raw.call(PROC_AUTH_LIST, b"")
    raw.call(PROC_OPEN, struct.pack(">I", 1) + xdr_string("qemu:///system") + struct.pack(">I", 0))
    t_raw = []
    for _ in range(args.calls):
        t = time.perf_counter()
        raw.call(PROC_LIST_ALL, struct.pack(">iI", 1, 0))
        t_raw.append(time.perf_counter() - t)

    conn = libvirt.open("qemu+unix:///system?socket=" + args.socket)
    t_c, t_wrap, t_rel = [], [], []
    got = conn.listAllDomains(0)
    count = len(got)
    for _ in range(args.calls):
        t0 = time.perf_counter()
        ptrs = libvirtmod.virConnectListAllDomains(conn._o, 0)
        t1 = time.perf_counter()
        doms = [libvirt.virDomain(conn, _obj=p) for p in ptrs]
        t2 = time.perf_counter()
        got = doms
        t3 = time.perf_counter()
        t_c.append(t1 - t0)
        t_wrap.append(t2 - t0)
        t_rel.append(t3 - t0)
    print("%d domains, %d calls, medians:" % (count, args.calls))
    print("  raw RPC                        %.2f ms" % median_ms(t_raw))
    print("  libvirt.so call                %.2f ms" % median_ms(t_c))
    print("  + python wrapping              %.2f ms" % median_ms(t_wrap))
    print("  + release of the previous list %.2f ms" % median_ms(t_rel))
    conn.close()


if __name__ == "__main__":
    main()
