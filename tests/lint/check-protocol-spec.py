#!/usr/bin/env python3
"""check-protocol-spec.py [SRCDIR]: protocol.def's layouts are the spec's.

Generates the protocol dump from shared/rpc/protocol.def (gen-protocol.py
--dump) and compares every described procedure's args, ret and message
struct with the layout spec/rpc-wire.md gives it, as recorded in the table
of tests/data/wire/gen-wire.py (which also writes the golden payloads):
field order, field names, types (nested structs expanded, a struct of one
field counts as that field) and array/string maxima.  Byte-level round
trips cannot see two fields of one type swapped (capacity and allocation,
state and reason); this does.

Also checks the reference structs of spec 3.1, remote_error (1.8), the
typed-parameter union (3.2) and the program numbers (1.3).

TAP: one test per spec payload; payloads of procedures protocol.def does
not describe yet are reported as skipped.  Python 3 standard library only.
"""

import importlib.util
import os
import re
import subprocess
import sys
import tempfile

PROGRAMS = {"remote": (0x20008086, 1), "qemu": (0x20008087, 1), "lxc": (0x00068000, 1),
            "keepalive": (0x6b656570, 1), "admin": (0x06900690, 1)}


def load_spec(srcdir):
    path = os.path.join(srcdir, "tests", "data", "wire", "gen-wire.py")
    spec = importlib.util.spec_from_file_location("modvirt_gen_wire", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class Dump:
    def __init__(self, text):
        self.structs = {}       # name -> [(field, type string)]
        self.unions = {}        # name -> [(case, field, type string)]
        self.programs = {}      # name -> (number, version)
        self.procs = {}         # (program, num) -> dict
        cur = None
        prog = None
        for line in text.splitlines():
            if not line or line.startswith("#"):
                continue
            w = line.split()
            if line.startswith("  "):
                if cur is not None and cur[0] == "struct":
                    self.structs[cur[1]].append((w[0], w[1]))
                elif cur is not None and cur[0] == "union":
                    self.unions[cur[1]].append((int(w[1]), w[2], w[3]))
                elif cur is not None and cur[0] == "program":
                    p = {"num": int(w[0]), "name": w[1], "kind": w[2], "family": w[3],
                         "access": w[4], "prio": w[5], "args": None, "ret": None,
                         "described": w[-1] != "todo"}
                    for extra in w[6:]:
                        if extra.startswith("args="):
                            p["args"] = extra[5:]
                        elif extra.startswith("ret="):
                            p["ret"] = extra[4:]
                    self.procs[(prog, p["num"])] = p
                continue
            if w[0] == "struct":
                cur = ("struct", w[1])
                self.structs[w[1]] = []
            elif w[0] == "union":
                cur = ("union", w[1])
                self.unions[w[1]] = []
            elif w[0] == "program":
                prog = w[1]
                cur = ("program", w[1])
                self.programs[w[1]] = (int(w[2], 16), int(w[3]))
            else:
                cur = None

    def node(self, typestr, spec):
        m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)(\?|<(\d+)>|\[(\d+)\])?", typestr)
        if not m:
            raise ValueError("cannot read type %r" % typestr)
        base, suffix = m.group(1), m.group(2)
        var = int(m.group(3)) if m.group(3) else None
        fixed = int(m.group(4)) if m.group(4) else None
        if base == "bool":
            base = "int"
        if base == "string":
            if suffix == "?":
                return ("opt", "string")
            return "string" if var == spec.STRING_MAX else ("string", var)
        if base == "opaque":
            return ("opaque", fixed) if fixed is not None else ("opaque_var", var)
        if base in spec.SCALARS:
            inner = base
        elif base in self.structs:
            inner = spec.rec(*[(f, self.node(t, spec)) for f, t in self.structs[base]])
        elif base in self.unions:
            inner = ("union", tuple((c, self.node(t, spec)) for c, _, t in self.unions[base]))
        else:
            raise ValueError("unknown type %r" % base)
        if suffix == "?":
            return ("opt", inner)
        if var is not None:
            return ("array", var, inner)
        if fixed is not None:
            return ("fixed", fixed, inner)
        return inner

    def layout(self, struct_name, spec):
        return [(f, self.node(t, spec)) for f, t in self.structs[struct_name]]


def show(node):
    if isinstance(node, str):
        return node
    kind = node[0]
    if kind == "opt":
        return show(node[1]) + "?"
    if kind in ("opaque", "string", "opaque_var"):
        return "%s<%s>" % (kind, node[1]) if kind != "opaque" else "opaque[%d]" % node[1]
    if kind == "array":
        return "%s<%s>" % (show(node[2]), node[1])
    if kind == "fixed":
        return "%s[%d]" % (show(node[2]), node[1])
    if kind == "struct":
        return "{" + "; ".join("%s: %s" % (n, show(t)) for n, t in node[1]) + "}"
    if kind == "union":
        return "union{" + "; ".join("%d: %s" % (c, show(t)) for c, t in node[1]) + "}"
    return repr(node)


def compare(got, want):
    """Differences between two top-level field lists."""
    out = []
    for i in range(max(len(got), len(want))):
        g = got[i] if i < len(got) else None
        w = want[i] if i < len(want) else None
        if g == w:
            continue
        out.append("field %d: protocol.def has %s, the spec says %s" % (
            i + 1, "%s: %s" % (g[0], show(g[1])) if g else "nothing",
            "%s: %s" % (w[0], show(w[1])) if w else "nothing"))
    return out


def main(argv):
    srcdir = os.path.abspath(argv[1] if len(argv) > 1 else
                             os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
    gen = os.path.join(srcdir, "shared", "rpc", "gen-protocol.py")
    desc = os.path.join(srcdir, "shared", "rpc", "protocol.def")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "protocol.dump")
        r = subprocess.run([sys.executable, gen, desc, "--dump", out], capture_output=True,
                           text=True, timeout=60)
        if r.returncode != 0:
            print("1..1")
            print("not ok 1 - gen-protocol.py --dump failed")
            for line in (r.stdout + r.stderr).splitlines():
                print("# " + line)
            return 1
        with open(out, encoding="utf-8") as f:
            dump = Dump(f.read())
    spec = load_spec(srcdir)
    results = []

    def result(ok, desc, diag=(), skip=None):
        results.append((ok, desc, list(diag), skip))

    # program numbers (1.3)
    diag = []
    for name, want in PROGRAMS.items():
        got = dump.programs.get(name)
        if got != want:
            diag.append("program %s: protocol.def has %s, the spec says 0x%08x version %d"
                        % (name, "0x%08x version %d" % got if got else "nothing", want[0], want[1]))
    result(not diag, "program numbers and versions (spec 1.3)", diag)

    # reference structs, remote_error, typed parameters
    for sname, key in sorted(spec.REF_STRUCTS.items()):
        if sname not in dump.structs:
            result(True, "%s (spec 3.1)" % sname, skip="not in protocol.def")
            continue
        want = spec.REF_LAYOUTS[key]
        got = spec.rec(*dump.layout(sname, spec))
        result(got == want, "%s (spec 3.1)" % sname,
               [] if got == want else ["protocol.def: %s" % show(got), "spec: %s" % show(want)])
    for sname, want, what in (("remote_error", spec.ERROR_LAYOUT, "spec 1.8"),
                              ("remote_typed_param", spec.TYPED_PARAM, "spec 3.2")):
        if sname not in dump.structs:
            result(False, "%s (%s)" % (sname, what), ["not in protocol.def"])
            continue
        got = spec.rec(*dump.layout(sname, spec))
        result(got == want, "%s (%s)" % (sname, what),
               [] if got == want else ["protocol.def: %s" % show(got), "spec: %s" % show(want)])

    # every payload of the spec table
    for prog, num, name, kind, fields in spec.entries():
        title = "%s %d %s %s" % (prog, num, name, kind)
        p = dump.procs.get((prog, num))
        if p is None:
            result(False, title, ["protocol.def has no procedure %d in program %s" % (num, prog)])
            continue
        if p["name"] != name:
            result(False, title, ["protocol.def names procedure %d %s" % (num, p["name"])])
            continue
        if not p["described"]:
            result(True, title, skip="not described in protocol.def yet")
            continue
        want_kind = "msg" if p["kind"] == "msg" else None
        if kind == "msg" and p["kind"] != "msg":
            result(False, title, ["protocol.def describes it as a call, the spec as a message"])
            continue
        if kind != "msg" and want_kind == "msg":
            result(False, title, ["protocol.def describes it as a message, the spec as a call"])
            continue
        sname = p["ret"] if kind == "ret" else p["args"]
        want = spec.layout(fields)
        if sname is None:
            result(not want, title, ["protocol.def has a void %s" % kind] if want else [])
            continue
        try:
            got = dump.layout(sname, spec)
        except ValueError as e:
            result(False, title, [str(e)])
            continue
        diffs = compare(got, want)
        result(not diffs, title, diffs)

    # described payloads the spec table does not cover
    covered = {(prog, num, "ret" if kind == "ret" else "args")
               for prog, num, _, kind, _ in spec.entries()}
    extra = []
    for (prog, num), p in sorted(dump.procs.items()):
        if not p["described"]:
            continue
        for k in ("args", "ret"):
            if p[k] and (prog, num, k) not in covered:
                extra.append("%s %d %s %s (%s)" % (prog, num, p["name"], k, p[k]))

    print("1..%d" % len(results))
    failed = 0
    for i, (ok, desc, diag, skip) in enumerate(results, 1):
        if skip:
            print("ok %d - %s # SKIP %s" % (i, desc, skip))
            continue
        print("%s %d - %s" % ("ok" if ok else "not ok", i, desc))
        for d in diag:
            print("# " + d)
        if not ok:
            failed += 1
    if extra:
        print("# described payloads with no layout in the spec table (add them to "
              "tests/data/wire/gen-wire.py when the spec has them):")
        for e in extra:
            print("#   " + e)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
