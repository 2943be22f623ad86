#!/usr/bin/env python3
"""check-layering.py [SRCDIR]: includes respect the layers of STYLE.md section 1.

    Layers only look down: util < conf, rpc < blockjob < daemon < the daemons.
    A daemon includes only its own headers and shared/; daemons talk to each
    other only through the RPC.

Every quoted #include in the C sources is mapped to the file it resolves to
in the tree (the including file's directory first, then the unique file of
that name anywhere in the source tree or among the headers meson generates,
found from the `output:` lists of the meson.build files), and each rule is
one TAP test that lists its offenders as `# file:line: ...` lines.

Rules:
  1. every quoted include resolves to exactly one file in the tree
  2. every shared/ module has a place in the layer table below
  3. shared/ modules include only their own layer's module or lower ones
     (util < conf, rpc < blockjob < daemon; conf and rpc do not include
     each other)
  4. shared/ never includes a daemon's, client/ or tools/ headers
  5. a daemon includes only its own headers, shared/ and include/
  6. client/ and tools/ never include shared/daemon or a daemon's headers

include/ (the public API) and the build's configuration header may be
included from anywhere.  tests/, bench/ and docs/ are not checked.
Python 3 standard library only.
"""

import os
import re
import sys

# shared/ modules and their rank; a module may include only its own headers
# and those of strictly lower ranks.  Add new modules here on purpose.
SHARED_RANKS = {
    "util": 0,
    "conf": 1,
    "rpc": 1,
    "qemu-monitor": 2,   # STYLE.md lists it beside blockjob; no QEMU knowledge in blockjob
    "blockjob": 2,
    "daemon": 3,
}

# the daemons' directories (virtproxyd lives in proxyd/)
DAEMON_DIRS = {"proxyd", "virtqemud", "virtxend", "virtlxcd", "virtstoraged",
               "virtnetworkd"}
UNCHECKED_TOPS = {"tests", "bench", "docs", "systemd-units"}
SOURCE_EXT = (".c", ".h")
INCLUDE_RE = re.compile(r'^\s*#\s*include\s*"([^"]+)"')
MESON_OUTPUT_RE = re.compile(r"output\s*:\s*(\[[^\]]*\]|'[^']*')", re.S)


def is_build_dir(path):
    return os.path.exists(os.path.join(path, "meson-private")) or \
        os.path.exists(os.path.join(path, "build.ninja"))


def walk_tree(srcdir):
    """Relative paths of the source files and the meson.build files."""
    sources, mesons = [], []
    for root, dirs, files in os.walk(srcdir):
        rel_root = os.path.relpath(root, srcdir)
        keep = []
        for d in sorted(dirs):
            full = os.path.join(root, d)
            if d.startswith(".") or d == "subprojects" or is_build_dir(full):
                continue
            keep.append(d)
        dirs[:] = keep
        for f in sorted(files):
            rel = os.path.normpath(os.path.join(rel_root, f))
            if f.endswith(SOURCE_EXT):
                sources.append(rel)
            elif f == "meson.build":
                mesons.append(rel)
    return sources, mesons


def generated_headers(srcdir, mesons):
    """Headers that meson generates, as if they lived in the source
    directory of the meson.build that makes them."""
    out = []
    for m in mesons:
        with open(os.path.join(srcdir, m), encoding="utf-8", errors="replace") as f:
            text = f.read()
        for match in MESON_OUTPUT_RE.finditer(text):
            for name in re.findall(r"'([^']+)'", match.group(1)):
                if name.endswith(".h") and "@" not in name:
                    out.append(os.path.normpath(os.path.join(os.path.dirname(m), name)))
    return out


def module_of(path):
    """(kind, name) for a tree path."""
    parts = path.split(os.sep)
    top = parts[0]
    if len(parts) == 1:
        return ("config", top)
    if top == "shared":
        return ("shared", parts[1] if len(parts) > 2 else "")
    if top in DAEMON_DIRS or (top.startswith("virt") and top.endswith("d")):
        return ("daemon", top)
    if top in ("include", "client", "tools"):
        return (top, top)
    return ("other", top)


class Resolver:
    def __init__(self, files):
        self.files = set(files)
        self.by_name = {}
        for f in files:
            self.by_name.setdefault(os.path.basename(f), []).append(f)

    def resolve(self, includer, name):
        """The tree file @name resolves to from @includer: (path, None) or
        (None, reason)."""
        here = os.path.normpath(os.path.join(os.path.dirname(includer), name))
        if here in self.files:
            return here, None
        for base in ("", "include"):
            p = os.path.normpath(os.path.join(base, name))
            if p in self.files:
                return p, None
        cands = sorted(f for f in self.by_name.get(os.path.basename(name), [])
                       if f == name or f.endswith(os.sep + name))
        if len(cands) == 1:
            return cands[0], None
        if not cands:
            return None, "not found in the tree"
        return None, "ambiguous: " + ", ".join(cands)


def main(argv):
    srcdir = os.path.abspath(argv[1] if len(argv) > 1 else
                             os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
    sources, mesons = walk_tree(srcdir)
    resolver = Resolver(sources + generated_headers(srcdir, mesons))

    rules = [
        ("quoted includes resolve to exactly one file in the tree", []),
        ("every shared/ module has a layer (util < conf, rpc < blockjob < daemon)", []),
        ("shared/ layers only look down", []),
        ("shared/ never includes daemon, client/ or tools/ headers", []),
        ("a daemon includes only its own headers, shared/ and include/", []),
        ("client/ and tools/ never include shared/daemon or a daemon's headers", []),
    ]
    unresolved, unknown_mod, down, shared_up, daemon_out, client_out = (r[1] for r in rules)

    for mod in sorted({module_of(f)[1] for f in sources if module_of(f)[0] == "shared"}):
        if mod and mod not in SHARED_RANKS:
            unknown_mod.append("shared/%s: not in the layer table of check-layering.py" % mod)

    for src in sources:
        kind, name = module_of(src)
        if kind in ("other", "config") or src.split(os.sep)[0] in UNCHECKED_TOPS:
            continue
        try:
            with open(os.path.join(srcdir, src), encoding="utf-8", errors="replace") as f:
                lines = f.readlines()
        except OSError as e:
            unresolved.append("%s: cannot read: %s" % (src, e))
            continue
        for lineno, line in enumerate(lines, 1):
            m = INCLUDE_RE.match(line)
            if not m:
                continue
            inc = m.group(1)
            where = '%s:%d: #include "%s"' % (src, lineno, inc)
            target, why = resolver.resolve(src, inc)
            if target is None:
                unresolved.append("%s: %s" % (where, why))
                continue
            tkind, tname = module_of(target)
            if tkind in ("include", "config"):
                continue
            desc = "%s -> %s" % (where, target)
            if kind == "shared":
                if tkind == "shared":
                    if tname == name:
                        continue
                    if name not in SHARED_RANKS or tname not in SHARED_RANKS:
                        continue    # reported by the layer-table rule
                    if SHARED_RANKS[tname] >= SHARED_RANKS[name]:
                        down.append("%s (shared/%s may not include shared/%s)" % (desc, name, tname))
                elif tkind in ("daemon", "client", "tools"):
                    shared_up.append("%s (shared/ may not include %s/)" % (desc, tname))
                elif tkind == "other":
                    shared_up.append("%s (shared/ may not include %s/)" % (desc, tname))
            elif kind == "daemon":
                if tkind == "shared" or (tkind == "daemon" and tname == name):
                    continue
                daemon_out.append("%s (%s/ may include only its own headers, shared/ and include/)"
                                  % (desc, name))
            elif kind in ("client", "tools"):
                if tkind == "daemon" or (tkind == "shared" and tname == "daemon"):
                    client_out.append("%s (%s/ may not include %s)"
                                      % (desc, name, "shared/daemon" if tkind == "shared"
                                         else tname + "/"))

    print("1..%d" % len(rules))
    failed = 0
    for i, (title, offenders) in enumerate(rules, 1):
        if offenders:
            failed += 1
            print("not ok %d - %s" % (i, title))
            for o in offenders:
                print("# %s" % o)
        else:
            print("ok %d - %s" % (i, title))
    print("# checked %d files under %s" % (len(sources), srcdir))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
