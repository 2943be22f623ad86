#!/bin/sh
# check-protocol-dump.sh [SRCDIR]: the wire protocol changes only on purpose.
#
# Regenerates the dump of procedure numbers and struct layouts from
# shared/rpc/protocol.def and compares it with the reviewed golden copy,
# tests/data/protocol.dump.  A difference fails the test and is printed;
# if the change is intended, rerun with MODVIRT_REGENERATE=1 to rewrite the
# golden file, and review its diff like code.  TAP output.

set -u

srcdir=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
gen=$srcdir/shared/rpc/gen-protocol.py
def=$srcdir/shared/rpc/protocol.def
golden=$srcdir/tests/data/protocol.dump
python=${PYTHON:-python3}

echo "1..1"
tmp=$(mktemp "${TMPDIR:-/tmp}/protocol.dump.XXXXXX") || {
    echo "not ok 1 - protocol dump # cannot create a temporary file"
    exit 1
}
trap 'rm -f "$tmp"' EXIT

if ! out=$("$python" "$gen" "$def" --dump "$tmp" 2>&1); then
    echo "not ok 1 - protocol dump: gen-protocol.py failed"
    printf '%s\n' "$out" | sed 's/^/# /'
    exit 1
fi

if [ "${MODVIRT_REGENERATE:-0}" = 1 ]; then
    if cmp -s "$tmp" "$golden"; then
        echo "ok 1 - protocol dump unchanged # MODVIRT_REGENERATE=1: nothing to rewrite"
    else
        cp "$tmp" "$golden" || { echo "not ok 1 - cannot write $golden"; exit 1; }
        echo "ok 1 - protocol dump # MODVIRT_REGENERATE=1: rewrote $golden; review its diff"
    fi
    exit 0
fi

if [ ! -f "$golden" ]; then
    echo "not ok 1 - protocol dump: no golden file $golden (MODVIRT_REGENERATE=1 creates it)"
    exit 1
fi

if diff -u "$golden" "$tmp" >"$tmp.diff" 2>&1; then
    rm -f "$tmp.diff"
    echo "ok 1 - protocol dump matches tests/data/protocol.dump"
    exit 0
fi
echo "not ok 1 - protocol dump differs from tests/data/protocol.dump"
echo "# Procedure numbers or struct layouts changed.  If that is intended,"
echo "# rerun with MODVIRT_REGENERATE=1 and commit the reviewed golden file."
sed 's/^/# /' "$tmp.diff"
rm -f "$tmp.diff"
exit 1
