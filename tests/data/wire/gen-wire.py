#!/usr/bin/env python3
"""gen-wire.py [DIR]: write the annotated golden payloads of tests/data/wire.

Each file holds the XDR payload (args, ret or event message) of one libvirt
procedure with sample values, one field per line with a comment, written
from the layouts in spec/rpc-wire.md (sections 2, 3, 4.3 and 5) by this
small independent encoder, never from gen-protocol.py.  test-xdr decodes
each file with the generated codec of the procedure, re-encodes it and
compares the bytes; files for procedures protocol.def does not describe yet
wait for them.  Review a regenerated file's diff like code.

Python 3 standard library only.
"""

import os
import struct
import sys

U_VM1 = bytes.fromhex("c7a5fdbdcdaf9455926a82a0e9b1d1b5")
U_VM2 = bytes.fromhex("5f1b5d3a0c8e4b7f9a2d6e4c3b2a1908")
U_NET = bytes.fromhex("1d8bb1e8d0c04c7a8e0f1b6a9e4e2b11")
U_POOL = bytes.fromhex("00112233445566778899aabbccddeeff")

DOM1 = ("vm1", U_VM1, 3)           # running, id 3
DOM2 = ("vm2", U_VM2, -1)          # inactive
DOM1_OFF = ("vm1", U_VM1, -1)      # vm1 after it stopped
NET = ("default", U_NET)
POOL = ("images", U_POOL)
VOL = ("images", "vm1.qcow2", "/var/lib/images/vm1.qcow2")
VOL2 = ("images", "vm1-clone.qcow2", "/var/lib/images/vm1-clone.qcow2")
SNAP = ("s1", DOM1)
SNAP2 = ("s2", DOM1)
DISK = "/var/lib/images/vm1.qcow2"


class Writer:
    def __init__(self):
        self.lines = []

    def add(self, b, note):
        self.lines.append((b, note))

    # scalars
    def int(self, v, n): self.add(struct.pack(">i", v), "%s: int %d" % (n, v))
    def uint(self, v, n): self.add(struct.pack(">I", v), "%s: unsigned int %d" % (n, v))
    def hyper(self, v, n): self.add(struct.pack(">q", v), "%s: hyper %d" % (n, v))
    def uhyper(self, v, n): self.add(struct.pack(">Q", v), "%s: unsigned hyper %d" % (n, v))
    def uchar(self, v, n): self.add(struct.pack(">I", v), "%s: unsigned char %d (one word)" % (n, v))
    def char(self, v, n): self.add(struct.pack(">i", v), "%s: char %d (one word)" % (n, v))
    def ushort(self, v, n): self.add(struct.pack(">I", v), "%s: unsigned short %d (one word)" % (n, v))
    def double(self, v, n): self.add(struct.pack(">d", v), "%s: double %r" % (n, v))

    def str(self, s, n):
        b = s.encode()
        pad = (4 - len(b) % 4) % 4
        self.add(struct.pack(">I", len(b)), "%s: string length %d" % (n, len(b)))
        if b:
            for i in range(0, len(b), 16):
                chunk = b[i:i + 16]
                last = i + 16 >= len(b)
                self.add(chunk + (b"\0" * pad if last else b""),
                         "%s: %r%s" % (n, chunk.decode(), " + %d pad" % pad if last and pad else ""))

    def ostr(self, s, n):
        if s is None:
            self.add(struct.pack(">I", 0), "%s: absent" % n)
        else:
            self.add(struct.pack(">I", 1), "%s: present" % n)
            self.str(s, n)

    def uuid(self, u, n):
        self.add(u, "%s: opaque[16] uuid %s" % (n, u.hex()))

    def chars(self, s, n, nul=True):
        b = s.encode() + (b"\0" if nul else b"")
        self.add(struct.pack(">I", len(b)), "%s: char<N> count %d%s" % (n, len(b), " (NUL counted)" if nul else ""))
        for c in b:
            self.add(struct.pack(">i", c), "%s: %r" % (n, chr(c)))

    def fixed_chars(self, s, size, n):
        for i in range(size):
            c = s[i] if i < len(s) else "\0"
            self.add(struct.pack(">i", ord(c)), "%s[%d]: %r" % (n, i, c))

    # references (spec 3.1)
    def dom(self, d, n="dom"):
        self.str(d[0], n + ".name")
        self.uuid(d[1], n + ".uuid")
        self.int(d[2], n + ".id")

    def net(self, v, n="net"):
        self.str(v[0], n + ".name")
        self.uuid(v[1], n + ".uuid")

    def pool(self, v, n="pool"):
        self.str(v[0], n + ".name")
        self.uuid(v[1], n + ".uuid")

    def vol(self, v, n="vol"):
        self.str(v[0], n + ".pool")
        self.str(v[1], n + ".name")
        self.str(v[2], n + ".key")

    def snap(self, v, n="snap"):
        self.str(v[0], n + ".name")
        self.dom(v[1], n + ".dom")

    def optional(self, kind, v, n):
        if v is None:
            self.add(struct.pack(">I", 0), "%s: absent" % n)
        else:
            self.add(struct.pack(">I", 1), "%s: present" % n)
            getattr(self, kind)(v, n)

    def array(self, kind, items, n):
        self.add(struct.pack(">I", len(items)), "%s: count %d" % (n, len(items)))
        for i, v in enumerate(items):
            getattr(self, kind)(v, "%s[%d]" % (n, i))

    def typed_params(self, params, n="params"):
        arms = {1: "int", 2: "uint", 3: "hyper", 4: "uhyper", 5: "double", 6: "int", 7: "str"}
        self.add(struct.pack(">I", len(params)), "%s: count %d" % (n, len(params)))
        for i, (field, t, v) in enumerate(params):
            self.str(field, "%s[%d].field" % (n, i))
            self.int(t, "%s[%d].value.type" % (n, i))
            getattr(self, arms[t])(v, "%s[%d].value" % (n, i))

    def lease(self, le, n):
        iface, expiry, typ, mac, iaid, ip, prefix, host, clientid = le
        self.str(iface, n + ".iface")
        self.hyper(expiry, n + ".expirytime")
        self.int(typ, n + ".type")
        self.ostr(mac, n + ".mac")
        self.ostr(iaid, n + ".iaid")
        self.str(ip, n + ".ipaddr")
        self.uint(prefix, n + ".prefix")
        self.ostr(host, n + ".hostname")
        self.ostr(clientid, n + ".clientid")

    def diskerr(self, de, n):
        self.str(de[0], n + ".disk")
        self.int(de[1], n + ".error")

    def write(self, path, title):
        total = sum(len(b) for b, _ in self.lines)
        with open(path, "w", encoding="utf-8") as f:
            f.write("# %s\n" % title)
            f.write("# %d bytes of XDR, layout from spec/rpc-wire.md; written by gen-wire.py\n" % total)
            for b, note in self.lines:
                hexw = " ".join(b[i:i + 4].hex() for i in range(0, len(b), 4))
                f.write("%-40s # %s\n" % (hexw, note))


# (program, number, NAME, kind, [(method, value, field name), ...])
P = []


def proc(num, name, args=None, ret=None, prog="remote"):
    if args is not None:
        P.append((prog, num, name, "args", args))
    if ret is not None:
        P.append((prog, num, name, "ret", ret))


def msg(num, name, fields, prog="remote"):
    P.append((prog, num, name, "msg", fields))


D = [("dom", DOM1, "dom")]
DF = lambda f: [("dom", DOM1, "dom"), ("uint", f, "flags")]
XML = "<domain type='kvm'><name>vm1</name></domain>"

# ---- 5.1 connection, auth, host
proc(1, "CONNECT_OPEN", args=[("ostr", "qemu:///system", "name"), ("uint", 0, "flags")])
proc(3, "CONNECT_GET_TYPE", ret=[("str", "QEMU", "type")])
proc(4, "CONNECT_GET_VERSION", ret=[("uhyper", 7002000, "hv_ver")])
proc(5, "CONNECT_GET_MAX_VCPUS", args=[("ostr", "kvm", "type")], ret=[("int", 288, "max_vcpus")])
proc(6, "NODE_GET_INFO", ret=[("fixed_chars", ("x86_64", 32), "model"), ("uhyper", 16318412, "memory"),
                              ("int", 8, "cpus"), ("int", 2400, "mhz"), ("int", 1, "nodes"),
                              ("int", 1, "sockets"), ("int", 4, "cores"), ("int", 2, "threads")])
proc(7, "CONNECT_GET_CAPABILITIES", ret=[("str", "<capabilities/>", "capabilities")])
proc(59, "CONNECT_GET_HOSTNAME", ret=[("str", "host1.example.org", "hostname")])
proc(60, "CONNECT_SUPPORTS_FEATURE", args=[("int", 10, "feature")], ret=[("int", 1, "supported")])
proc(66, "AUTH_LIST", ret=[("array", ("int", [2, 0]), "types", 20)])
proc(67, "AUTH_SASL_INIT", ret=[("str", "DIGEST-MD5,GSSAPI", "mechlist")])
proc(68, "AUTH_SASL_START", args=[("str", "SCRAM-SHA-256", "mech"), ("int", 0, "nil"), ("chars_raw", "n,,", "data", 65536)],
     ret=[("int", 0, "complete"), ("int", 0, "nil"), ("chars_raw", "r=ab", "data", 65536)])
proc(69, "AUTH_SASL_STEP", args=[("int", 0, "nil"), ("chars_raw", "c=biws", "data", 65536)],
     ret=[("int", 1, "complete"), ("int", 1, "nil"), ("chars_raw", "", "data", 65536)])
proc(70, "AUTH_POLKIT", ret=[("int", 1, "complete")])
proc(102, "NODE_GET_FREE_MEMORY", ret=[("uhyper", 8589934592, "freeMem")])
proc(110, "CONNECT_GET_URI", ret=[("str", "qemu:///system", "uri")])
proc(122, "NODE_GET_SECURITY_MODEL", ret=[("chars", "none", "model", 257), ("chars", "0", "doi", 257)])
proc(149, "CONNECT_IS_SECURE", ret=[("int", 1, "secure")])
proc(157, "CONNECT_GET_LIB_VERSION", ret=[("uhyper", 9000000, "lib_ver")])
proc(203, "CONNECT_GET_SYSINFO", args=[("uint", 0, "flags")], ret=[("str", "<sysinfo type='smbios'/>", "sysinfo")])
proc(342, "CONNECT_GET_DOMAIN_CAPABILITIES",
     args=[("ostr", None, "emulatorbin"), ("ostr", "x86_64", "arch"), ("ostr", None, "machine"),
           ("ostr", "kvm", "virttype"), ("uint", 0, "flags")],
     ret=[("str", "<domainCapabilities/>", "capabilities")])
proc(419, "CONNECT_SET_IDENTITY",
     args=[("typed_params", [("user-name", 7, "root"), ("unix-user-id", 4, 0), ("group-name", 7, "root"),
                             ("unix-group-id", 4, 0), ("process-id", 3, 4242),
                             ("process-time", 4, 123456789)], "params", 20),
           ("uint", 0, "flags")])

# ---- 5.2 domains
proc(273, "CONNECT_LIST_ALL_DOMAINS", args=[("int", 1, "need_results"), ("uint", 3, "flags")],
     ret=[("array", ("dom", [DOM1, DOM2]), "domains", 16384), ("uint", 2, "ret")])
proc(51, "CONNECT_NUM_OF_DOMAINS", ret=[("int", 1, "num")])
proc(37, "CONNECT_LIST_DOMAINS", args=[("int", 16, "maxids")], ret=[("array", ("int", [3]), "ids", 16384)])
proc(25, "CONNECT_NUM_OF_DEFINED_DOMAINS", ret=[("int", 1, "num")])
proc(21, "CONNECT_LIST_DEFINED_DOMAINS", args=[("int", 16, "maxnames")],
     ret=[("array", ("str", ["vm2"]), "names", 16384)])
proc(22, "DOMAIN_LOOKUP_BY_ID", args=[("int", 3, "id")], ret=D)
proc(23, "DOMAIN_LOOKUP_BY_NAME", args=[("str", "vm1", "name")], ret=D)
proc(24, "DOMAIN_LOOKUP_BY_UUID", args=[("uuid", U_VM1, "uuid")], ret=D)
proc(11, "DOMAIN_DEFINE_XML", args=[("str", XML, "xml")], ret=[("dom", DOM2, "dom")])
proc(350, "DOMAIN_DEFINE_XML_FLAGS", args=[("str", XML, "xml"), ("uint", 1, "flags")], ret=[("dom", DOM2, "dom")])
proc(35, "DOMAIN_UNDEFINE", args=[("dom", DOM2, "dom")])
proc(231, "DOMAIN_UNDEFINE_FLAGS", args=[("dom", DOM2, "dom"), ("uint", 2, "flags")])
proc(9, "DOMAIN_CREATE", args=[("dom", DOM2, "dom")])
proc(196, "DOMAIN_CREATE_WITH_FLAGS", args=[("dom", DOM2, "dom"), ("uint", 1, "flags")],
     ret=[("dom", ("vm2", U_VM2, 4), "dom")])
proc(10, "DOMAIN_CREATE_XML", args=[("str", XML, "xml_desc"), ("uint", 0, "flags")], ret=D)
proc(12, "DOMAIN_DESTROY", args=D)
proc(234, "DOMAIN_DESTROY_FLAGS", args=DF(1))
proc(33, "DOMAIN_SHUTDOWN", args=D)
proc(258, "DOMAIN_SHUTDOWN_FLAGS", args=DF(1))
proc(27, "DOMAIN_REBOOT", args=DF(0))
proc(34, "DOMAIN_SUSPEND", args=D)
proc(28, "DOMAIN_RESUME", args=D)
proc(16, "DOMAIN_GET_INFO", args=D,
     ret=[("uchar", 1, "state"), ("uhyper", 2097152, "maxMem"), ("uhyper", 1048576, "memory"),
          ("ushort", 2, "nrVirtCpu"), ("uhyper", 123456789012, "cpuTime")])
proc(212, "DOMAIN_GET_STATE", args=DF(0), ret=[("int", 1, "state"), ("int", 1, "reason")])
proc(14, "DOMAIN_GET_XML_DESC", args=DF(2), ret=[("str", XML, "xml")])
proc(15, "DOMAIN_GET_AUTOSTART", args=D, ret=[("int", 1, "autostart")])
proc(29, "DOMAIN_SET_AUTOSTART", args=[("dom", DOM1, "dom"), ("int", 1, "autostart")])
proc(150, "DOMAIN_IS_ACTIVE", args=D, ret=[("int", 1, "active")])
proc(151, "DOMAIN_IS_PERSISTENT", args=D, ret=[("int", 1, "persistent")])
proc(202, "DOMAIN_IS_UPDATED", args=D, ret=[("int", 0, "updated")])
proc(19, "DOMAIN_GET_OS_TYPE", args=D, ret=[("str", "hvm", "type")])
proc(17, "DOMAIN_GET_MAX_MEMORY", args=D, ret=[("uhyper", 2097152, "memory")])
proc(18, "DOMAIN_GET_MAX_VCPUS", args=D, ret=[("int", 4, "num")])
proc(200, "DOMAIN_GET_VCPUS_FLAGS", args=DF(1), ret=[("int", 2, "num")])
proc(121, "DOMAIN_GET_SECURITY_LABEL", args=D,
     ret=[("chars", "libvirt-c7a5fdbd", "label", 4097), ("int", 1, "enforcing")])
proc(183, "DOMAIN_HAS_MANAGED_SAVE_IMAGE", args=DF(0), ret=[("int", 0, "result")])
proc(426, "DOMAIN_GET_MESSAGES", args=DF(0),
     ret=[("array", ("str", ["tainted: custom monitor control commands issued"]), "msgs", 2048)])
proc(160, "DOMAIN_ATTACH_DEVICE_FLAGS", args=[("dom", DOM1, "dom"), ("str", "<disk type='file'/>", "xml"), ("uint", 1, "flags")])
proc(161, "DOMAIN_DETACH_DEVICE_FLAGS", args=[("dom", DOM1, "dom"), ("str", "<disk type='file'/>", "xml"), ("uint", 3, "flags")])
proc(174, "DOMAIN_UPDATE_DEVICE_FLAGS", args=[("dom", DOM1, "dom"), ("str", "<disk type='file'/>", "xml"), ("uint", 2, "flags")])
proc(163, "DOMAIN_GET_JOB_INFO", args=D,
     ret=[("int", 2, "type")] + [("uhyper", 1000 * (i + 1), f) for i, f in enumerate(
         ["timeElapsed", "timeRemaining", "dataTotal", "dataProcessed", "dataRemaining", "memTotal",
          "memProcessed", "memRemaining", "fileTotal", "fileProcessed", "fileRemaining"])])

# ---- 5.3 block devices and jobs
DP = lambda: [("dom", DOM1, "dom"), ("str", DISK, "path")]
proc(194, "DOMAIN_GET_BLOCK_INFO", args=[("dom", DOM1, "dom"), ("str", "vda", "path"), ("uint", 0, "flags")],
     ret=[("uhyper", 1073741824, "allocation"), ("uhyper", 10737418240, "capacity"), ("uhyper", 1074003968, "physical")])
proc(237, "DOMAIN_BLOCK_JOB_ABORT", args=DP() + [("uint", 2, "flags")])
proc(238, "DOMAIN_GET_BLOCK_JOB_INFO", args=DP() + [("uint", 0, "flags")],
     ret=[("int", 1, "found"), ("int", 4, "type"), ("uhyper", 0, "bandwidth"),
          ("uhyper", 524288, "cur"), ("uhyper", 1048576, "end")])
proc(239, "DOMAIN_BLOCK_JOB_SET_SPEED", args=DP() + [("uhyper", 10, "bandwidth"), ("uint", 0, "flags")])
proc(240, "DOMAIN_BLOCK_PULL", args=DP() + [("uhyper", 64 << 20, "bandwidth"), ("uint", 64, "flags")])
proc(266, "DOMAIN_BLOCK_REBASE", args=DP() + [("ostr", "/var/lib/images/base.qcow2", "base"),
                                              ("uhyper", 0, "bandwidth"), ("uint", 1, "flags")])
proc(290, "DOMAIN_BLOCK_COMMIT", args=[("dom", DOM1, "dom"), ("str", "vda", "disk"), ("ostr", None, "base"),
                                      ("ostr", None, "top"), ("uhyper", 0, "bandwidth"), ("uint", 4, "flags")])
proc(345, "DOMAIN_BLOCK_COPY", args=DP() + [("str", "<disk type='file'><source file='/tmp/copy.qcow2'/></disk>", "destxml"),
                                            ("typed_params", [("bandwidth", 4, 1048576), ("granularity", 2, 65536),
                                                              ("buf-size", 4, 8388608)], "params", 16),
                                            ("uint", 2, "flags")])

# ---- 5.4 snapshots
proc(185, "DOMAIN_SNAPSHOT_CREATE_XML", args=[("dom", DOM1, "dom"), ("str", "<domainsnapshot/>", "xml_desc"),
                                             ("uint", 16, "flags")], ret=[("snap", SNAP, "snap")])
proc(274, "DOMAIN_LIST_ALL_SNAPSHOTS", args=[("dom", DOM1, "dom"), ("int", 1, "need_results"), ("uint", 0, "flags")],
     ret=[("array", ("snap", [SNAP, SNAP2]), "snapshots", 16384), ("int", 2, "ret")])
proc(275, "DOMAIN_SNAPSHOT_LIST_ALL_CHILDREN", args=[("snap", SNAP, "snapshot"), ("int", 1, "need_results"),
                                                    ("uint", 1, "flags")],
     ret=[("array", ("snap", [SNAP2]), "snapshots", 16384), ("int", 1, "ret")])
proc(189, "DOMAIN_SNAPSHOT_LOOKUP_BY_NAME", args=[("dom", DOM1, "dom"), ("str", "s1", "name"), ("uint", 0, "flags")],
     ret=[("snap", SNAP, "snap")])
proc(186, "DOMAIN_SNAPSHOT_GET_XML_DESC", args=[("snap", SNAP, "snap"), ("uint", 1, "flags")],
     ret=[("str", "<domainsnapshot><name>s1</name></domainsnapshot>", "xml")])
proc(192, "DOMAIN_REVERT_TO_SNAPSHOT", args=[("snap", SNAP, "snap"), ("uint", 0, "flags")])
proc(246, "DOMAIN_SNAPSHOT_NUM_CHILDREN", args=[("snap", SNAP, "snap"), ("uint", 0, "flags")],
     ret=[("int", 1, "num")])
proc(247, "DOMAIN_SNAPSHOT_LIST_CHILDREN_NAMES", args=[("snap", SNAP, "snap"), ("int", 16, "maxnames"),
                                                       ("uint", 0, "flags")],
     ret=[("array", ("str", ["s2"]), "names", 16384)])
proc(193, "DOMAIN_SNAPSHOT_DELETE", args=[("snap", SNAP, "snap"), ("uint", 1, "flags")])
proc(191, "DOMAIN_SNAPSHOT_CURRENT", args=DF(0), ret=[("snap", SNAP2, "snap")])
proc(190, "DOMAIN_HAS_CURRENT_SNAPSHOT", args=DF(0), ret=[("int", 1, "result")])
proc(244, "DOMAIN_SNAPSHOT_GET_PARENT", args=[("snap", SNAP2, "snap"), ("uint", 0, "flags")], ret=[("snap", SNAP, "snap")])
proc(271, "DOMAIN_SNAPSHOT_IS_CURRENT", args=[("snap", SNAP2, "snap"), ("uint", 0, "flags")], ret=[("int", 1, "current")])
proc(272, "DOMAIN_SNAPSHOT_HAS_METADATA", args=[("snap", SNAP, "snap"), ("uint", 0, "flags")], ret=[("int", 1, "metadata")])
proc(187, "DOMAIN_SNAPSHOT_NUM", args=DF(0), ret=[("int", 2, "num")])
proc(188, "DOMAIN_SNAPSHOT_LIST_NAMES", args=[("dom", DOM1, "dom"), ("int", 16, "maxnames"), ("uint", 0, "flags")],
     ret=[("array", ("str", ["s1", "s2"]), "names", 16384)])

# ---- 5.5 storage
PL = [("pool", POOL, "pool")]
PF = lambda f: [("pool", POOL, "pool"), ("uint", f, "flags")]
VL = [("vol", VOL, "vol")]
POOLXML = "<pool type='dir'><name>images</name></pool>"
VOLXML = "<volume><name>vm1.qcow2</name></volume>"
proc(281, "CONNECT_LIST_ALL_STORAGE_POOLS", args=[("int", 1, "need_results"), ("uint", 0, "flags")],
     ret=[("array", ("pool", [POOL]), "pools", 16384), ("uint", 1, "ret")])
proc(84, "STORAGE_POOL_LOOKUP_BY_NAME", args=[("str", "images", "name")], ret=PL)
proc(85, "STORAGE_POOL_LOOKUP_BY_UUID", args=[("uuid", U_POOL, "uuid")], ret=PL)
proc(86, "STORAGE_POOL_LOOKUP_BY_VOLUME", args=VL, ret=PL)
proc(77, "STORAGE_POOL_DEFINE_XML", args=[("str", POOLXML, "xml"), ("uint", 0, "flags")], ret=PL)
proc(76, "STORAGE_POOL_CREATE_XML", args=[("str", POOLXML, "xml"), ("uint", 0, "flags")], ret=PL)
proc(79, "STORAGE_POOL_BUILD", args=PF(4))
proc(78, "STORAGE_POOL_CREATE", args=PF(0))
proc(80, "STORAGE_POOL_DESTROY", args=PL)
proc(82, "STORAGE_POOL_UNDEFINE", args=PL)
proc(83, "STORAGE_POOL_REFRESH", args=PF(0))
proc(87, "STORAGE_POOL_GET_INFO", args=PL,
     ret=[("uchar", 2, "state"), ("uhyper", 107374182400, "capacity"), ("uhyper", 21474836480, "allocation"),
          ("uhyper", 85899345920, "available")])
proc(88, "STORAGE_POOL_GET_XML_DESC", args=PF(1), ret=[("str", POOLXML, "xml")])
proc(89, "STORAGE_POOL_GET_AUTOSTART", args=PL, ret=[("int", 1, "autostart")])
proc(90, "STORAGE_POOL_SET_AUTOSTART", args=[("pool", POOL, "pool"), ("int", 0, "autostart")])
proc(154, "STORAGE_POOL_IS_ACTIVE", args=PL, ret=[("int", 1, "active")])
proc(155, "STORAGE_POOL_IS_PERSISTENT", args=PL, ret=[("int", 1, "persistent")])
proc(91, "STORAGE_POOL_NUM_OF_VOLUMES", args=PL, ret=[("int", 2, "num")])
proc(92, "STORAGE_POOL_LIST_VOLUMES", args=[("pool", POOL, "pool"), ("int", 16, "maxnames")],
     ret=[("array", ("str", ["vm1.qcow2", "vm1-clone.qcow2"]), "names", 16384)])
proc(282, "STORAGE_POOL_LIST_ALL_VOLUMES", args=[("pool", POOL, "pool"), ("int", 1, "need_results"), ("uint", 0, "flags")],
     ret=[("array", ("vol", [VOL, VOL2]), "vols", 16384), ("uint", 2, "ret")])
proc(93, "STORAGE_VOL_CREATE_XML", args=[("pool", POOL, "pool"), ("str", VOLXML, "xml"), ("uint", 1, "flags")], ret=VL)
proc(125, "STORAGE_VOL_CREATE_XML_FROM", args=[("pool", POOL, "pool"), ("str", VOLXML, "xml"),
                                              ("vol", VOL, "clonevol"), ("uint", 0, "flags")],
     ret=[("vol", VOL2, "vol")])
proc(95, "STORAGE_VOL_LOOKUP_BY_NAME", args=[("pool", POOL, "pool"), ("str", "vm1.qcow2", "name")], ret=VL)
proc(96, "STORAGE_VOL_LOOKUP_BY_KEY", args=[("str", VOL[2], "key")], ret=VL)
proc(97, "STORAGE_VOL_LOOKUP_BY_PATH", args=[("str", VOL[2], "path")], ret=VL)
proc(98, "STORAGE_VOL_GET_INFO", args=VL,
     ret=[("char", 0, "type"), ("uhyper", 10737418240, "capacity"), ("uhyper", 1073741824, "allocation")])
proc(378, "STORAGE_VOL_GET_INFO_FLAGS", args=[("vol", VOL, "vol"), ("uint", 1, "flags")],
     ret=[("char", 0, "type"), ("uhyper", 10737418240, "capacity"), ("uhyper", 1074003968, "allocation")])
proc(99, "STORAGE_VOL_GET_XML_DESC", args=[("vol", VOL, "vol"), ("uint", 0, "flags")], ret=[("str", VOLXML, "xml")])
proc(94, "STORAGE_VOL_DELETE", args=[("vol", VOL2, "vol"), ("uint", 0, "flags")])
proc(100, "STORAGE_VOL_GET_PATH", args=VL, ret=[("str", VOL[2], "name")])
proc(260, "STORAGE_VOL_RESIZE", args=[("vol", VOL, "vol"), ("uhyper", 21474836480, "capacity"), ("uint", 0, "flags")])
proc(165, "STORAGE_VOL_WIPE", args=[("vol", VOL2, "vol"), ("uint", 0, "flags")])

# ---- 5.6 networks
NL = [("net", NET, "net")]
NETXML = "<network><name>default</name></network>"
proc(283, "CONNECT_LIST_ALL_NETWORKS", args=[("int", 1, "need_results"), ("uint", 2, "flags")],
     ret=[("array", ("net", [NET]), "nets", 16384), ("uint", 1, "ret")])
proc(46, "NETWORK_LOOKUP_BY_NAME", args=[("str", "default", "name")], ret=NL)
proc(47, "NETWORK_LOOKUP_BY_UUID", args=[("uuid", U_NET, "uuid")], ret=NL)
proc(41, "NETWORK_DEFINE_XML", args=[("str", NETXML, "xml")], ret=NL)
proc(432, "NETWORK_DEFINE_XML_FLAGS", args=[("str", NETXML, "xml"), ("uint", 1, "flags")], ret=NL)
proc(40, "NETWORK_CREATE_XML", args=[("str", NETXML, "xml")], ret=NL)
proc(39, "NETWORK_CREATE", args=NL)
proc(42, "NETWORK_DESTROY", args=NL)
proc(49, "NETWORK_UNDEFINE", args=NL)
proc(43, "NETWORK_GET_XML_DESC", args=[("net", NET, "net"), ("uint", 1, "flags")], ret=[("str", NETXML, "xml")])
proc(44, "NETWORK_GET_AUTOSTART", args=NL, ret=[("int", 1, "autostart")])
proc(48, "NETWORK_SET_AUTOSTART", args=[("net", NET, "net"), ("int", 1, "autostart")])
proc(152, "NETWORK_IS_ACTIVE", args=NL, ret=[("int", 1, "active")])
proc(153, "NETWORK_IS_PERSISTENT", args=NL, ret=[("int", 1, "persistent")])
proc(45, "NETWORK_GET_BRIDGE_NAME", args=NL, ret=[("str", "virbr0", "name")])
proc(341, "NETWORK_GET_DHCP_LEASES", args=[("net", NET, "net"), ("ostr", None, "mac"), ("int", 1, "need_results"),
                                          ("uint", 0, "flags")],
     ret=[("array", ("lease", [("virbr0", 1700000000, 0, "52:54:00:12:34:56", None, "192.168.122.10", 24,
                                "vm1", "01:52:54:00:12:34:56")]), "leases", 65536), ("uint", 1, "ret")])

# ---- 4.3 events
proc(105, "CONNECT_DOMAIN_EVENT_REGISTER", ret=[("int", 1, "cb_registered")])
proc(106, "CONNECT_DOMAIN_EVENT_DEREGISTER", ret=[("int", 0, "cb_registered")])
proc(167, "CONNECT_DOMAIN_EVENT_REGISTER_ANY", args=[("int", 0, "eventID")])
proc(168, "CONNECT_DOMAIN_EVENT_DEREGISTER_ANY", args=[("int", 15, "eventID")])
proc(316, "CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY", args=[("int", 8, "eventID"), ("optional", ("dom", DOM1), "dom")],
     ret=[("int", 2, "callbackID")])
proc(317, "CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY", args=[("int", 2, "callbackID")])
proc(313, "CONNECT_NETWORK_EVENT_REGISTER_ANY", args=[("int", 0, "eventID"), ("optional", ("net", NET), "net")],
     ret=[("int", 7, "callbackID")])
proc(314, "CONNECT_NETWORK_EVENT_DEREGISTER_ANY", args=[("int", 7, "callbackID")])
proc(368, "CONNECT_STORAGE_POOL_EVENT_REGISTER_ANY", args=[("int", 1, "eventID"), ("optional", ("pool", None), "pool")],
     ret=[("int", 3, "callbackID")])
proc(369, "CONNECT_STORAGE_POOL_EVENT_DEREGISTER_ANY", args=[("int", 3, "callbackID")])
msg(318, "DOMAIN_EVENT_CALLBACK_LIFECYCLE", [("int", 2, "callbackID"), ("dom", DOM1_OFF, "msg.dom"),
                                              ("int", 5, "msg.event"), ("int", 1, "msg.detail")])
msg(107, "DOMAIN_EVENT_LIFECYCLE", [("dom", DOM1, "dom"), ("int", 2, "event"), ("int", 0, "detail")])
msg(326, "DOMAIN_EVENT_CALLBACK_BLOCK_JOB", [("int", 5, "callbackID"), ("dom", DOM1, "msg.dom"), ("str", DISK, "msg.path"),
                                             ("int", 3, "msg.type"), ("int", 0, "msg.status")])
msg(241, "DOMAIN_EVENT_BLOCK_JOB", [("dom", DOM1, "dom"), ("str", DISK, "path"), ("int", 4, "type"), ("int", 3, "status")])
msg(339, "DOMAIN_EVENT_BLOCK_JOB_2", [("int", 6, "callbackID"), ("dom", DOM1, "dom"), ("str", "vda", "dst"),
                                      ("int", 2, "type"), ("int", 3, "status")])
msg(169, "DOMAIN_EVENT_REBOOT", [("dom", DOM1, "dom")])
# I/O errors and disk errors: layouts from libvirt's remote_protocol.x
# (remote_domain_event_io_error[_reason]_msg and their callback forms,
# remote_domain_get_disk_errors_args/_ret)
msg(172, "DOMAIN_EVENT_IO_ERROR", [("dom", DOM1, "dom"), ("str", DISK, "srcPath"),
                                   ("str", "virtio-disk0", "devAlias"), ("int", 1, "action")])
msg(195, "DOMAIN_EVENT_IO_ERROR_REASON", [("dom", DOM1, "dom"), ("str", DISK, "srcPath"),
                                          ("str", "virtio-disk0", "devAlias"), ("int", 1, "action"),
                                          ("str", "enospc", "reason")])
msg(322, "DOMAIN_EVENT_CALLBACK_IO_ERROR", [("int", 3, "callbackID"), ("dom", DOM1, "msg.dom"),
                                            ("str", DISK, "msg.srcPath"),
                                            ("str", "virtio-disk0", "msg.devAlias"),
                                            ("int", 2, "msg.action")])
msg(324, "DOMAIN_EVENT_CALLBACK_IO_ERROR_REASON", [("int", 3, "callbackID"), ("dom", DOM1, "msg.dom"),
                                                   ("str", DISK, "msg.srcPath"),
                                                   ("str", "virtio-disk0", "msg.devAlias"),
                                                   ("int", 1, "msg.action"),
                                                   ("str", "enospc", "msg.reason")])
proc(263, "DOMAIN_GET_DISK_ERRORS", args=[("dom", DOM1, "dom"), ("uint", 2, "maxerrors"), ("uint", 0, "flags")],
     ret=[("array", ("diskerr", [("vda", 2)]), "errors", 256), ("int", 1, "nerrors")])
msg(319, "DOMAIN_EVENT_CALLBACK_REBOOT", [("int", 4, "callbackID"), ("dom", DOM1, "msg.dom")])
msg(362, "CONNECT_EVENT_CONNECTION_CLOSED", [("int", 1, "reason")])
msg(315, "NETWORK_EVENT_LIFECYCLE", [("int", 7, "callbackID"), ("net", NET, "net"), ("int", 2, "event"), ("int", 0, "detail")])
msg(370, "STORAGE_POOL_EVENT_LIFECYCLE", [("int", 3, "callbackID"), ("pool", POOL, "pool"), ("int", 2, "event"),
                                          ("int", 0, "detail")])

# ---- 6.3 admin
proc(1, "CONNECT_OPEN", args=[("uint", 0, "flags")], prog="admin")
proc(3, "CONNECT_GET_LIB_VERSION", ret=[("uhyper", 9000000, "libVer")], prog="admin")


# ---------------------------------------------------------------- layouts
#
# The same table, read as layouts for tests/lint/check-protocol-spec.py:
# a field is (name, node); a node is a scalar name ("int", "uhyper", ...),
# "string" (bounded by STRING_MAX), ("string", N), ("opt", node),
# ("opaque", N), ("fixed", N, node), ("array", N, node),
# ("struct", ((name, node), ...)) or ("union", ((case, node), ...)).
# A struct of one field is that field's node (remote_name == string).

STRING_MAX = 4194304
SCALARS = ("int", "uint", "hyper", "uhyper", "double", "char", "uchar", "short", "ushort")


def rec(*fields):
    if len(fields) == 1:
        return fields[0][1]
    return ("struct", tuple(fields))


UUID = ("opaque", 16)
REF_LAYOUTS = {       # spec 3.1, and the DHCP lease of 5.6
    "dom": rec(("name", "string"), ("uuid", UUID), ("id", "int")),
    "net": rec(("name", "string"), ("uuid", UUID)),
    "pool": rec(("name", "string"), ("uuid", UUID)),
    "vol": rec(("pool", "string"), ("name", "string"), ("key", "string")),
    "lease": rec(("iface", "string"), ("expirytime", "hyper"), ("type", "int"),
                    ("mac", ("opt", "string")), ("iaid", ("opt", "string")), ("ipaddr", "string"),
                    ("prefix", "uint"), ("hostname", ("opt", "string")),
                    ("clientid", ("opt", "string"))),
    # remote_domain_disk_error (libvirt's remote_protocol.x)
    "diskerr": rec(("disk", "string"), ("error", "int")),
}
REF_LAYOUTS["snap"] = rec(("name", "string"), ("dom", REF_LAYOUTS["dom"]))
REF_STRUCTS = {       # protocol.def's names for them
    "remote_nonnull_domain": "dom", "remote_nonnull_network": "net",
    "remote_nonnull_storage_pool": "pool", "remote_nonnull_storage_vol": "vol",
    "remote_nonnull_domain_snapshot": "snap",
}
TYPED_PARAM = rec(("field", "string"),
                     ("value", ("union", ((1, "int"), (2, "uint"), (3, "hyper"), (4, "uhyper"),
                                          (5, "double"), (6, "int"), (7, "string")))))
ERROR_LAYOUT = rec(  # spec 1.8
    ("code", "int"), ("domain", "int"), ("message", ("opt", "string")), ("level", "int"),
    ("dom", ("opt", REF_LAYOUTS["dom"])), ("str1", ("opt", "string")),
    ("str2", ("opt", "string")), ("str3", ("opt", "string")), ("int1", "int"), ("int2", "int"),
    ("net", ("opt", REF_LAYOUTS["net"])))


def node_of(method, value, bound):
    if method in SCALARS:
        return method
    if method == "str":
        return "string"
    if method == "ostr":
        return ("opt", "string")
    if method == "uuid":
        return UUID
    if method in REF_LAYOUTS:
        return REF_LAYOUTS[method]
    if method in ("chars", "chars_raw"):
        return ("array", bound, "char")
    if method == "fixed_chars":
        return ("fixed", value[1], "char")
    if method == "array":
        return ("array", bound, node_of(value[0], None, None))
    if method == "optional":
        return ("opt", node_of(value[0], None, None))
    if method == "typed_params":
        return ("array", bound, TYPED_PARAM)
    raise ValueError("no layout for %s" % method)


def layout(fields):
    """The top-level (name, node) list of a payload; 'msg.x' fields form a
    nested struct 'msg'."""
    out = []
    for f in fields:
        method, value, name = f[:3]
        bound = f[3] if len(f) > 3 else None
        node = node_of(method, value, bound)
        if "." in name:
            outer, inner = name.split(".", 1)
            if out and out[-1][0] == outer and isinstance(out[-1][1], list):
                out[-1][1].append((inner, node))
            else:
                out.append((outer, [(inner, node)]))
        else:
            out.append((name, node))
    return [(n, rec(*v) if isinstance(v, list) else v) for n, v in out]


def entries():
    """(program, number, NAME, kind, fields) of every payload in the table."""
    return list(P)


def emit(w, method, value, name):
    if method == "fixed_chars":
        w.fixed_chars(value[0], value[1], name)
    elif method == "chars_raw":
        w.chars(value, name, nul=False)
    elif method == "array":
        w.array(value[0], value[1], name)
    elif method == "optional":
        w.optional(value[0], value[1], name)
    else:
        getattr(w, method)(value, name)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    seen = set()
    for prog, num, name, kind, fields in P:
        fname = "%s-%03d-%s.%s" % (prog, num, name.lower().replace("_", "-"), kind)
        assert fname not in seen, fname
        seen.add(fname)
        w = Writer()
        for f in fields:
            emit(w, f[0], f[1], f[2])
        w.write(os.path.join(out, fname), "%s %d %s %s" % (prog, num, name, kind))
    print("wrote %d files in %s" % (len(seen), out))


if __name__ == "__main__":
    main()
