#!/usr/bin/env python3
"""gen-protocol.py: the one generator for modvirt's wire protocol.

Reads the protocol description (protocol.def) and emits:

  --header FILE    C types, codec prototypes, procedure numbers, server ops
  --source FILE    XDR codecs, procedure tables, server dispatch
  --client-header FILE / --client-source FILE   blocking client stubs
  --dump           a stable text dump of every procedure number and struct
                   layout (the golden file tests/data/protocol.dump guards it)

Description format (line oriented, '#' starts a comment):

  program NAME NUMBER VERSION      start a program section (remote, qemu, ...)
  const NAME VALUE                 a named number
  struct NAME ... end              fields, one per line: "FIELD TYPE"
  union NAME switch FIELD ... end  arms: "case VALUE FIELD TYPE"
  proc NUM NAME FAMILY ACCESS PRIO [args ... ] [ret ...] end
                                   a described call; "args"/"ret" each start
                                   a block of fields, or name a struct
                                   ("args remote_nonnull_domain")
  msg NUM NAME FAMILY ... end      a described server->client message; its
                                   fields form the payload ("args" block)
  todo NUM NAME FAMILY ACCESS [KIND]
                                   a procedure libvirt has that modvirt does
                                   not describe yet (answered 'unknown
                                   procedure', still routed by family)

FAMILY: domain storage network secret nodedev interface nwfilter
ACCESS: ro (never changes state) or rw
PRIO:   high or low

TYPE: int uint hyper uhyper double bool char uchar short ushort string opaque
or a struct/union name, with at most one suffix: ?  (optional), <N> (variable
length, N a number or a const), [N] (fixed length).  'string' alone has the
program's STRING_MAX bound; 'string?' is an optional string.

Only the Python 3 standard library is used.
"""

import argparse
import re
import sys

SCALARS = {
    # name: (C type, encoder suffix, size on the wire)
    "int": ("gint32", "i32"),
    "uint": ("guint32", "u32"),
    "hyper": ("gint64", "i64"),
    "uhyper": ("guint64", "u64"),
    "double": ("double", "double"),
    "bool": ("gint32", "i32"),
    "char": ("char", "char"),
    "uchar": ("guint8", "uchar"),
    "short": ("gint16", "short"),
    "ushort": ("guint16", "ushort"),
}

FAMILIES = ["domain", "storage", "network", "secret", "nodedev",
            "interface", "nwfilter"]


class DescError(Exception):
    pass


def camel(name):
    return "".join(p[:1].upper() + p[1:] for p in name.split("_") if p)


class Type:
    def __init__(self, base, kind, bound):
        self.base = base        # scalar name, "string", "opaque" or struct name
        self.kind = kind        # "plain", "optional", "var", "fixed"
        self.bound = bound      # resolved integer bound or None

    def __repr__(self):
        s = self.base
        if self.kind == "optional":
            s += "?"
        elif self.kind == "var":
            s += "<%d>" % self.bound
        elif self.kind == "fixed":
            s += "[%d]" % self.bound
        return s


class Field:
    def __init__(self, name, typ, case=None):
        self.name = name
        self.type = typ
        self.case = case


class Struct:
    def __init__(self, name, prog, is_union=False, discr=None):
        self.name = name
        self.prog = prog
        self.fields = []
        self.is_union = is_union
        self.discr = discr

    @property
    def ctype(self):
        return camel(self.name)


class Proc:
    def __init__(self, prog, num, name, family, access, prio, kind, described):
        self.prog = prog
        self.num = num
        self.name = name
        self.family = family
        self.access = access
        self.prio = prio
        self.kind = kind          # "call" or "msg"
        self.described = described
        self.args = None          # Struct or None (void)
        self.ret = None

    @property
    def lname(self):
        return self.name.lower()


class Program:
    def __init__(self, name, number, version):
        self.name = name
        self.number = number
        self.version = version
        self.procs = []


class Desc:
    def __init__(self):
        self.consts = {}
        self.structs = {}
        self.order = []           # structs in definition order
        self.programs = []


def parse(path):
    desc = Desc()
    prog = None
    lines = open(path, encoding="utf-8").read().split("\n")
    i = 0

    def err(msg):
        raise DescError("%s:%d: %s" % (path, i + 1, msg))

    def resolve(v):
        if re.fullmatch(r"0x[0-9a-fA-F]+|\d+", v):
            return int(v, 0)
        if v in desc.consts:
            return desc.consts[v]
        err("unknown constant '%s'" % v)

    def parse_type(text):
        m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)(\?|<([A-Za-z0-9_]+)>|\[([A-Za-z0-9_]+)\])?", text)
        if not m:
            err("bad type '%s'" % text)
        base = m.group(1)
        if base not in SCALARS and base not in ("string", "opaque") and base not in desc.structs:
            err("unknown type '%s'" % base)
        if m.group(2) is None:
            if base == "string":
                return Type(base, "var", desc.consts["STRING_MAX"])
            if base == "opaque":
                err("opaque needs a length")
            return Type(base, "plain", None)
        if m.group(2) == "?":
            if base in SCALARS or base == "opaque":
                err("only strings and structs can be optional")
            if base == "string":
                return Type(base, "optional", desc.consts["STRING_MAX"])
            return Type(base, "optional", None)
        if m.group(3):
            return Type(base, "var", resolve(m.group(3)))
        if base == "string":
            err("strings have no fixed length")
        return Type(base, "fixed", resolve(m.group(4)))

    def add_struct(s):
        if s.name in desc.structs:
            err("duplicate struct '%s'" % s.name)
        desc.structs[s.name] = s
        desc.order.append(s)

    def parse_fields(s, stop_words):
        nonlocal i
        names = set()
        while True:
            i += 1
            if i >= len(lines):
                err("missing 'end'")
            line = lines[i].split("#", 1)[0].strip()
            if not line:
                continue
            words = line.split()
            # 'end' alone closes a block, 'args'/'ret' alone or with a struct
            # name open one: fields may still be named end, args or ret
            if words[0] in stop_words and (
                    len(words) == 1 or (words[0] != "end" and len(words) == 2
                                        and words[1] in desc.structs)):
                return words
            if s.is_union:
                if len(words) != 4 or words[0] != "case":
                    err("union arms are 'case VALUE FIELD TYPE'")
                f = Field(words[2], parse_type(words[3]), resolve(words[1]))
            else:
                if len(words) != 2:
                    err("fields are 'NAME TYPE'")
                f = Field(words[0], parse_type(words[1]))
            if f.name in names:
                err("duplicate field '%s'" % f.name)
            names.add(f.name)
            s.fields.append(f)

    while i < len(lines):
        line = lines[i].split("#", 1)[0].strip()
        if not line:
            i += 1
            continue
        words = line.split()
        kw = words[0]
        if kw == "program":
            if len(words) != 4:
                err("program NAME NUMBER VERSION")
            prog = Program(words[1], int(words[2], 0), int(words[3], 0))
            desc.programs.append(prog)
        elif kw == "const":
            if len(words) != 3:
                err("const NAME VALUE")
            desc.consts[words[1]] = resolve(words[2])
        elif kw in ("struct", "union"):
            if kw == "struct":
                if len(words) != 2:
                    err("struct NAME")
                s = Struct(words[1], prog)
            else:
                if len(words) != 4 or words[2] != "switch":
                    err("union NAME switch FIELD")
                s = Struct(words[1], prog, True, words[3])
            last = parse_fields(s, ("end",))
            if last != ["end"]:
                err("expected 'end'")
            add_struct(s)
        elif kw in ("proc", "msg", "todo"):
            if prog is None:
                err("procedure outside a program")
            if kw == "msg":
                if len(words) != 4:
                    err("msg NUM NAME FAMILY")
                num, name, family = int(words[1]), words[2], words[3]
                access, prio, kind = "ro", "low", "msg"
            elif kw == "todo":
                if len(words) not in (5, 6):
                    err("todo NUM NAME FAMILY ACCESS [msg]")
                num, name, family, access = int(words[1]), words[2], words[3], words[4]
                prio = "low"
                kind = words[5] if len(words) == 6 else "call"
                if kind not in ("call", "msg"):
                    err("kind must be call or msg")
            else:
                if len(words) != 6:
                    err("proc NUM NAME FAMILY ACCESS PRIO")
                num, name, family, access, prio = int(words[1]), words[2], words[3], words[4], words[5]
                kind = "call"
            if family not in FAMILIES:
                err("unknown family '%s'" % family)
            if access not in ("ro", "rw"):
                err("access must be ro or rw")
            if prio not in ("high", "low"):
                err("priority must be high or low")
            if any(p.num == num for p in prog.procs):
                err("duplicate procedure number %d" % num)
            p = Proc(prog, num, name, family, access, prio, kind, kw != "todo")
            prog.procs.append(p)
            if kw != "todo":
                # blocks: args/ret, each fields or a struct name
                block = None
                while True:
                    i += 1
                    if i >= len(lines):
                        err("missing 'end'")
                    line = lines[i].split("#", 1)[0].strip()
                    if not line:
                        continue
                    w = line.split()
                    if w == ["end"]:
                        break
                    if w[0] in ("args", "ret"):
                        if kw == "msg" and w[0] == "ret":
                            err("messages have no 'ret'")
                        if getattr(p, w[0]) is not None:
                            err("duplicate '%s'" % w[0])
                        if len(w) == 2:
                            if w[1] not in desc.structs:
                                err("unknown struct '%s'" % w[1])
                            setattr(p, w[0], desc.structs[w[1]])
                            continue
                        suffix = "msg" if kw == "msg" else w[0]
                        s = Struct("%s_%s_%s" % (prog.name, p.lname, suffix), prog)
                        parse_fields(s, ("args", "ret", "end"))
                        add_struct(s)
                        setattr(p, w[0], s)
                        i -= 1   # re-read the stop word
                        continue
                    err("expected 'args', 'ret' or 'end'")
        else:
            err("unknown keyword '%s'" % kw)
        i += 1
    return desc


# ---------------------------------------------------------------- C output

def c_decl(f):
    """Declaration(s) of a field inside a C struct."""
    t = f.type
    if t.base == "string":
        return ["char *%s;" % f.name]
    if t.base == "opaque":
        if t.kind == "fixed":
            return ["guint8 %s[%d];" % (f.name, t.bound)]
        return ["guint32 %s_len;" % f.name, "guint8 *%s_val;" % f.name]
    ctype = SCALARS[t.base][0] if t.base in SCALARS else camel(t.base)
    if t.base == "char" and t.kind == "fixed":
        return ["char %s[%d];" % (f.name, t.bound)]
    if t.base == "char" and t.kind == "var":
        return ["guint32 %s_len;" % f.name, "char *%s_val;" % f.name]
    if t.kind == "plain":
        return ["%s %s;" % (ctype, f.name)]
    if t.kind == "optional":
        return ["%s *%s;" % (ctype, f.name)]
    if t.kind == "fixed":
        return ["%s %s[%d];" % (ctype, f.name, t.bound)]
    return ["guint32 %s_len;" % f.name, "%s *%s_val;" % (ctype, f.name)]


def enc_item(base, expr, out, ind):
    """Encode one element whose C lvalue is expr."""
    if base in SCALARS:
        out.append("%sif (!xdr_enc_%s(x, %s)) return false;" % (ind, SCALARS[base][1], expr))
    else:
        out.append("%sif (!xdr_enc_%s(x, &%s)) return false;" % (ind, base, expr))


def dec_item(base, expr, out, ind):
    if base in SCALARS:
        out.append("%sif (!xdr_dec_%s(x, &%s)) return false;" % (ind, SCALARS[base][1], expr))
    else:
        out.append("%sif (!xdr_dec_%s(x, &%s)) return false;" % (ind, base, expr))


def needs_free(desc, base):
    if base in SCALARS:
        return False
    if base in ("string", "opaque"):
        return True
    s = desc.structs[base]
    return any(field_needs_free(desc, f) for f in s.fields)


def field_needs_free(desc, f):
    t = f.type
    if t.base in ("string",):
        return True
    if t.base in ("opaque", "char"):
        return t.kind == "var"
    if t.kind in ("var", "optional"):
        return True
    return needs_free(desc, t.base)


def gen_field_enc(desc, f, v, out, ind="    "):
    t = f.type
    n = "%s%s" % (v, f.name)
    if t.base == "string":
        if t.kind == "optional":
            out.append("%sif (!xdr_enc_string_opt(x, %s, %d)) return false;" % (ind, n, t.bound))
        else:
            out.append("%sif (!xdr_enc_string(x, %s, %d)) return false;" % (ind, n, t.bound))
        return
    if t.base == "opaque":
        if t.kind == "fixed":
            out.append("%sif (!xdr_enc_opaque_fixed(x, %s, %d)) return false;" % (ind, n, t.bound))
        else:
            out.append("%sif (!xdr_enc_opaque_var(x, %s_val, %s_len, %d)) return false;" % (ind, n, n, t.bound))
        return
    if t.kind == "plain":
        enc_item(t.base, n, out, ind)
    elif t.kind == "optional":
        out.append("%sif (!xdr_enc_u32(x, %s ? 1 : 0)) return false;" % (ind, n))
        out.append("%sif (%s) {" % (ind, n))
        enc_item(t.base, "*" + n if t.base in SCALARS else "(*%s)" % n, out, ind + "    ")
        out.append("%s}" % ind)
    elif t.kind == "fixed":
        out.append("%sfor (guint32 i = 0; i < %d; i++) {" % (ind, t.bound))
        enc_item(t.base, "%s[i]" % n, out, ind + "    ")
        out.append("%s}" % ind)
    else:
        out.append("%sif (!xdr_enc_count(x, %s_len, %d)) return false;" % (ind, n, t.bound))
        out.append("%sfor (guint32 i = 0; i < %s_len; i++) {" % (ind, n))
        enc_item(t.base, "%s_val[i]" % n, out, ind + "    ")
        out.append("%s}" % ind)


def gen_field_dec(desc, f, v, out, ind="    "):
    t = f.type
    n = "%s%s" % (v, f.name)
    if t.base == "string":
        if t.kind == "optional":
            out.append("%sif (!xdr_dec_string_opt(x, &%s, %d)) return false;" % (ind, n, t.bound))
        else:
            out.append("%sif (!xdr_dec_string(x, &%s, %d)) return false;" % (ind, n, t.bound))
        return
    if t.base == "opaque":
        if t.kind == "fixed":
            out.append("%sif (!xdr_dec_opaque_fixed(x, %s, %d)) return false;" % (ind, n, t.bound))
        else:
            out.append("%sif (!xdr_dec_opaque_var(x, &%s_val, &%s_len, %d)) return false;" % (ind, n, n, t.bound))
        return
    ctype = SCALARS[t.base][0] if t.base in SCALARS else camel(t.base)
    if t.kind == "plain":
        dec_item(t.base, n, out, ind)
    elif t.kind == "optional":
        out.append("%s{" % ind)
        out.append("%s    guint32 present;" % ind)
        out.append("%s    if (!xdr_dec_bool(x, &present)) return false;" % ind)
        out.append("%s    if (present) {" % ind)
        out.append("%s        %s = g_new0(%s, 1);" % (ind, n, ctype))
        dec_item(t.base, "*" + n if t.base in SCALARS else "(*%s)" % n, out, ind + "        ")
        out.append("%s    }" % ind)
        out.append("%s}" % ind)
    elif t.kind == "fixed":
        out.append("%sfor (guint32 i = 0; i < %d; i++) {" % (ind, t.bound))
        dec_item(t.base, "%s[i]" % n, out, ind + "    ")
        out.append("%s}" % ind)
    else:
        out.append("%s{" % ind)
        out.append("%s    guint32 count;" % ind)
        out.append("%s    if (!xdr_dec_count(x, &count, %d)) return false;" % (ind, t.bound))
        out.append("%s    %s_val = count ? g_new0(%s, count) : NULL;" % (ind, n, ctype))
        out.append("%s    %s_len = count;" % (ind, n))
        out.append("%s    for (guint32 i = 0; i < count; i++) {" % ind)
        dec_item(t.base, "%s_val[i]" % n, out, ind + "        ")
        out.append("%s    }" % ind)
        out.append("%s}" % ind)


def gen_field_free(desc, f, v, out, ind="    "):
    t = f.type
    n = "%s%s" % (v, f.name)
    if t.base == "string":
        out.append("%sg_clear_pointer(&%s, g_free);" % (ind, n))
        return
    if t.base in ("opaque", "char") and t.kind == "var":
        out.append("%sg_clear_pointer(&%s_val, g_free);" % (ind, n))
        out.append("%s%s_len = 0;" % (ind, n))
        return
    if t.base in ("opaque",):
        return
    inner = needs_free(desc, t.base)
    if t.kind == "plain":
        if inner:
            out.append("%sxdr_free_%s(&%s);" % (ind, t.base, n))
    elif t.kind == "optional":
        out.append("%sif (%s) {" % (ind, n))
        if inner:
            out.append("%s    xdr_free_%s(%s);" % (ind, t.base, n))
        out.append("%s    g_clear_pointer(&%s, g_free);" % (ind, n))
        out.append("%s}" % ind)
    elif t.kind == "fixed":
        if inner:
            out.append("%sfor (guint32 i = 0; i < %d; i++)" % (ind, t.bound))
            out.append("%s    xdr_free_%s(&%s[i]);" % (ind, t.base, n))
    else:
        if inner:
            out.append("%sfor (guint32 i = 0; i < %s_len; i++)" % (ind, n))
            out.append("%s    xdr_free_%s(&%s_val[i]);" % (ind, t.base, n))
        out.append("%sg_clear_pointer(&%s_val, g_free);" % (ind, n))
        out.append("%s%s_len = 0;" % (ind, n))


def all_procs(desc):
    """Every procedure, sorted by (program number, procedure number): the
    order rpc_proc_lookup's binary search relies on."""
    for prog in sorted(desc.programs, key=lambda p: p.number):
        for p in sorted(prog.procs, key=lambda p: p.num):
            yield prog, p


def gen_header(desc, out):
    w = out.append
    w("/* generated by shared/rpc/gen-protocol.py from protocol.def, do not edit */")
    w("#pragma once")
    w("")
    w("#include <glib.h>")
    w("#include <stdbool.h>")
    w("#include \"rpc-xdr.h\"")
    w("")
    for name, val in desc.consts.items():
        w("#define RPC_%s %d" % (name, val))
    w("")
    for prog in desc.programs:
        w("#define %s_PROGRAM 0x%08x" % (prog.name.upper(), prog.number))
        w("#define %s_PROTOCOL_VERSION %d" % (prog.name.upper(), prog.version))
    w("")
    for prog in desc.programs:
        w("typedef enum {")
        w("    %s_PROC_NONE_ = 0," % prog.name.upper())
        for p in sorted(prog.procs, key=lambda p: p.num):
            w("    %s_PROC_%s = %d," % (prog.name.upper(), p.name, p.num))
        w("} %sProcedure;" % camel(prog.name))
        w("")
    for s in desc.order:
        w("typedef struct _%s %s;" % (s.ctype, s.ctype))
    w("")
    for s in desc.order:
        w("struct _%s {" % s.ctype)
        if s.is_union:
            w("    gint32 %s;" % s.discr)
            w("    union {")
            for f in s.fields:
                for d in c_decl(f):
                    w("        " + d)
            w("    } u;")
        else:
            if not s.fields:
                w("    char unused_;")
            for f in s.fields:
                for d in c_decl(f):
                    w("    " + d)
        w("};")
        w("bool xdr_enc_%s(XdrEncoder *x, const %s *v);" % (s.name, s.ctype))
        w("bool xdr_dec_%s(XdrDecoder *x, %s *v);" % (s.name, s.ctype))
        w("void xdr_free_%s(%s *v);" % (s.name, s.ctype))
        w("")
    # procedure info
    w("typedef enum {")
    for fam in FAMILIES:
        w("    RPC_FAMILY_%s," % fam.upper())
    w("    RPC_FAMILY_LAST")
    w("} RpcFamily;")
    w("")
    w("typedef bool (*RpcEncodeFunc)(XdrEncoder *x, const void *v);")
    w("typedef bool (*RpcDecodeFunc)(XdrDecoder *x, void *v);")
    w("typedef void (*RpcFreeFunc)(void *v);")
    w("")
    w("typedef struct {")
    w("    guint32 prog;")
    w("    gint32 proc;")
    w("    const char *name;")
    w("    RpcFamily family;")
    w("    bool readonly;       /* never changes state: allowed on -ro sockets */")
    w("    bool high_priority;")
    w("    bool is_message;     /* server->client message, not a call */")
    w("    bool described;      /* codecs exist; otherwise 'unknown procedure' */")
    w("    size_t args_size;")
    w("    size_t ret_size;")
    w("    RpcEncodeFunc enc_args;")
    w("    RpcDecodeFunc dec_args;")
    w("    RpcFreeFunc free_args;")
    w("    RpcEncodeFunc enc_ret;")
    w("    RpcDecodeFunc dec_ret;")
    w("    RpcFreeFunc free_ret;")
    w("} RpcProcInfo;")
    w("")
    w("/* The entry for (prog, proc), or NULL if modvirt has never heard of it. */")
    w("const RpcProcInfo *rpc_proc_lookup(guint32 prog, gint32 proc);")
    w("/* Every entry, sorted by (program, procedure); *ret_count set. */")
    w("const RpcProcInfo *rpc_proc_table(size_t *ret_count);")
    w("const char *rpc_family_name(RpcFamily family);")
    w("bool rpc_program_known(guint32 prog, guint32 vers);")
    w("")
    # server ops
    w("/* Opaque per-call context of the server (defined by shared/daemon). */")
    w("typedef struct _RpcServerCall RpcServerCall;")
    w("")
    for prog in desc.programs:
        calls = [p for p in prog.procs if p.described and p.kind == "call"]
        if not calls:
            continue
        ops = "%sServerOps" % camel(prog.name)
        w("typedef struct {")
        for p in sorted(calls, key=lambda p: p.num):
            params = ["RpcServerCall *call"]
            if p.args:
                params.append("const %s *args" % p.args.ctype)
            if p.ret:
                params.append("%s *ret" % p.ret.ctype)
            params.append("GError **error")
            w("    bool (*%s)(%s);" % (p.lname, ", ".join(params)))
        w("} %s;" % ops)
        w("")
        w("/* Calls the member of @ops for @proc with decoded @args, filling @ret.")
        w(" * Returns false with *ret_missing = true when @ops has no handler. */")
        w("bool %s_server_invoke(const %s *ops, gint32 proc, RpcServerCall *call,"
          % (prog.name, ops))
        w("        const void *args, void *ret, bool *ret_missing, GError **error);")
        w("")


def gen_source(desc, out, header_name):
    w = out.append
    w("/* generated by shared/rpc/gen-protocol.py from protocol.def, do not edit */")
    w("#include \"%s\"" % header_name)
    w("")
    used = set()
    for prog, p in all_procs(desc):
        for st in (p.args, p.ret):
            if st:
                used.add(st.name)
    for s in desc.order:
        for kind, gen_field, sig, bad in (
                ("enc", gen_field_enc, "XdrEncoder *x, const %s *v", "bad union discriminant"),
                ("dec", gen_field_dec, "XdrDecoder *x, %s *v", "unknown union discriminant")):
            body = []
            if s.is_union:
                ref = "v->%s" if kind == "enc" else "&v->%s"
                body.append("    if (!xdr_%s_i32(x, %s)) return false;" % (kind, ref % s.discr))
                body.append("    switch (v->%s) {" % s.discr)
                for f in s.fields:
                    body.append("    case %d:" % f.case)
                    gen_field(desc, f, "v->u.", body, "        ")
                    body.append("        return true;")
                body.append("    }")
                body.append("    return xdr_%s_fail(x, \"%s\");" % (kind, bad))
            else:
                for f in s.fields:
                    gen_field(desc, f, "v->", body)
                body.append("    return true;")
            w("bool\nxdr_%s_%s(%s)\n{" % (kind, s.name, sig % s.ctype))
            if not s.fields and not s.is_union:
                w("    (void)x; (void)v;")
            out.extend(body)
            w("}\n")
        body = []
        if s.is_union:
            body.append("    switch (v->%s) {" % s.discr)
            for f in s.fields:
                if field_needs_free(desc, f):
                    body.append("    case %d:" % f.case)
                    gen_field_free(desc, f, "v->u.", body, "        ")
                    body.append("        break;")
            body.append("    default:")
            body.append("        break;")
            body.append("    }")
        else:
            for f in s.fields:
                if field_needs_free(desc, f):
                    gen_field_free(desc, f, "v->", body)
        w("void\nxdr_free_%s(%s *v)\n{" % (s.name, s.ctype))
        if not body:
            w("    (void)v;")
        out.extend(body)
        w("}\n")
        if s.name not in used:
            continue
        for kind, sig in (("enc", "XdrEncoder *x, const void *v"),
                          ("dec", "XdrDecoder *x, void *v")):
            w("static bool\n%s_any_%s(%s)\n{\n    return xdr_%s_%s(x, v);\n}\n"
              % (kind, s.name, sig, kind, s.name))
        w("static void\nfree_any_%s(void *v)\n{\n    xdr_free_%s(v);\n}\n" % (s.name, s.name))

    w("static const RpcProcInfo rpc_procs[] = {")
    for prog, p in all_procs(desc):
        def codec(s):
            if not s:
                return "0, NULL, NULL, NULL"
            return "sizeof(%s), enc_any_%s, dec_any_%s, free_any_%s" % (s.ctype, s.name, s.name, s.name)
        a = codec(p.args).split(", ", 1)
        r = codec(p.ret).split(", ", 1)
        w("    { 0x%08x, %d, \"%s\", RPC_FAMILY_%s, %s, %s, %s, %s, %s, %s, %s, %s }," % (
            prog.number, p.num, p.name, p.family.upper(),
            "true" if p.access == "ro" else "false",
            "true" if p.prio == "high" else "false",
            "true" if p.kind == "msg" else "false",
            "true" if p.described else "false",
            a[0], r[0], a[1], r[1]))
    w("};")
    w("")
    w("static int\nrpc_proc_cmp(const void *key, const void *elem)\n{")
    w("    const RpcProcInfo *k = key, *e = elem;")
    w("    if (k->prog != e->prog)")
    w("        return k->prog < e->prog ? -1 : 1;")
    w("    return k->proc < e->proc ? -1 : (k->proc > e->proc ? 1 : 0);")
    w("}\n")
    w("const RpcProcInfo *\nrpc_proc_lookup(guint32 prog, gint32 proc)\n{")
    w("    RpcProcInfo key = { .prog = prog, .proc = proc };")
    w("    return bsearch(&key, rpc_procs, G_N_ELEMENTS(rpc_procs), sizeof(rpc_procs[0]), rpc_proc_cmp);")
    w("}\n")
    w("const RpcProcInfo *\nrpc_proc_table(size_t *ret_count)\n{")
    w("    *ret_count = G_N_ELEMENTS(rpc_procs);")
    w("    return rpc_procs;")
    w("}\n")
    w("static const char *const rpc_family_names[] = {")
    for fam in FAMILIES:
        w("    \"%s\"," % fam)
    w("};")
    w("G_STATIC_ASSERT(G_N_ELEMENTS(rpc_family_names) == RPC_FAMILY_LAST);\n")
    w("const char *\nrpc_family_name(RpcFamily family)\n{")
    w("    if ((int)family < 0 || family >= RPC_FAMILY_LAST)")
    w("        return \"unknown\";")
    w("    return rpc_family_names[family];")
    w("}\n")
    w("bool\nrpc_program_known(guint32 prog, guint32 vers)\n{")
    for prog in desc.programs:
        w("    if (prog == 0x%08x && vers == %d)" % (prog.number, prog.version))
        w("        return true;")
    w("    return false;")
    w("}\n")
    for prog in desc.programs:
        calls = [p for p in prog.procs if p.described and p.kind == "call"]
        if not calls:
            continue
        ops = "%sServerOps" % camel(prog.name)
        w("bool\n%s_server_invoke(const %s *ops, gint32 proc, RpcServerCall *call,"
          % (prog.name, ops))
        w("        const void *args, void *ret, bool *ret_missing, GError **error)\n{")
        w("    *ret_missing = false;")
        w("    (void)args; (void)ret;")
        w("    switch (proc) {")
        for p in sorted(calls, key=lambda p: p.num):
            params = ["call"]
            if p.args:
                params.append("args")
            if p.ret:
                params.append("ret")
            params.append("error")
            w("    case %d:" % p.num)
            w("        if (!ops->%s)" % p.lname)
            w("            break;")
            w("        return ops->%s(%s);" % (p.lname, ", ".join(params)))
        w("    default:")
        w("        break;")
        w("    }")
        w("    *ret_missing = true;")
        w("    return false;")
        w("}\n")


def gen_client_header(desc, out, proto_header):
    w = out.append
    w("/* generated by shared/rpc/gen-protocol.py from protocol.def, do not edit */")
    w("#pragma once")
    w("#include \"%s\"" % proto_header)
    w("#include \"rpc-client.h\"")
    w("")
    for prog, p in all_procs(desc):
        if not p.described or p.kind != "call":
            continue
        params = ["RpcClient *client"]
        if p.args:
            params.append("const %s *args" % p.args.ctype)
        if p.ret:
            params.append("%s *ret" % p.ret.ctype)
        params.append("GError **error")
        w("bool %s_call_%s(%s);" % (prog.name, p.lname, ", ".join(params)))


def gen_client_source(desc, out, header_name):
    w = out.append
    w("/* generated by shared/rpc/gen-protocol.py from protocol.def, do not edit */")
    w("#include \"%s\"" % header_name)
    w("")
    for prog, p in all_procs(desc):
        if not p.described or p.kind != "call":
            continue
        params = ["RpcClient *client"]
        if p.args:
            params.append("const %s *args" % p.args.ctype)
        if p.ret:
            params.append("%s *ret" % p.ret.ctype)
        params.append("GError **error")
        w("bool\n%s_call_%s(%s)\n{" % (prog.name, p.lname, ", ".join(params)))
        w("    return rpc_client_call(client, 0x%08x, %d, %d," % (prog.number, prog.version, p.num))
        if p.args:
            w("                           enc_any_wrap_%s, args," % p.args.name)
        else:
            w("                           NULL, NULL,")
        if p.ret:
            w("                           dec_any_wrap_%s, ret, error);" % p.ret.name)
        else:
            w("                           NULL, NULL, error);")
        w("}\n")


def gen_client_wrappers(desc, out):
    enc_used, dec_used = set(), set()
    for prog, p in all_procs(desc):
        if not p.described or p.kind != "call":
            continue
        if p.args:
            enc_used.add(p.args.name)
        if p.ret:
            dec_used.add(p.ret.name)
    res = []
    for s in desc.order:
        if s.name in enc_used:
            res.append("static bool\nenc_any_wrap_%s(XdrEncoder *x, const void *v)\n{\n    return xdr_enc_%s(x, v);\n}\n" % (s.name, s.name))
        if s.name in dec_used:
            res.append("static bool\ndec_any_wrap_%s(XdrDecoder *x, void *v)\n{\n    return xdr_dec_%s(x, v);\n}\n" % (s.name, s.name))
    # must come before the stubs: insert after includes
    out[2:2] = res


def gen_dump(desc, out):
    w = out.append
    w("# modvirt wire protocol dump: procedure numbers and struct layouts.")
    w("# Generated by gen-protocol.py --dump; changes only on purpose.")
    for name, val in sorted(desc.consts.items()):
        w("const %s %d" % (name, val))
    for s in desc.order:
        if s.is_union:
            w("union %s switch %s" % (s.name, s.discr))
            for f in s.fields:
                w("  case %d %s %r" % (f.case, f.name, f.type))
        else:
            w("struct %s" % s.name)
            for f in s.fields:
                w("  %s %r" % (f.name, f.type))
    for prog in desc.programs:
        w("program %s 0x%08x %d" % (prog.name, prog.number, prog.version))
        for p in sorted(prog.procs, key=lambda p: p.num):
            w("  %d %s %s %s %s %s%s%s" % (
                p.num, p.name, p.kind, p.family, p.access, p.prio,
                (" args=" + p.args.name) if p.args else "",
                (" ret=" + p.ret.name) if p.ret else ("" if p.described else " todo")))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("desc")
    ap.add_argument("--header")
    ap.add_argument("--source")
    ap.add_argument("--client-header")
    ap.add_argument("--client-source")
    ap.add_argument("--dump")
    a = ap.parse_args()
    try:
        desc = parse(a.desc)
    except DescError as e:
        print("gen-protocol: %s" % e, file=sys.stderr)
        return 1
    import os

    def write(path, lines):
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")

    if a.header:
        lines = []
        gen_header(desc, lines)
        write(a.header, lines)
    if a.source:
        lines = []
        gen_source(desc, lines, os.path.basename(a.header or "rpc-protocol.h"))
        write(a.source, lines)
    if a.client_header:
        lines = []
        gen_client_header(desc, lines, os.path.basename(a.header or "rpc-protocol.h"))
        write(a.client_header, lines)
    if a.client_source:
        lines = []
        gen_client_source(desc, lines, os.path.basename(a.client_header))
        gen_client_wrappers(desc, lines)
        write(a.client_source, lines)
    if a.dump:
        lines = []
        gen_dump(desc, lines)
        write(a.dump, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
