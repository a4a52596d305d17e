#!/bin/sh
# Keeps mpi-shim/COVERAGE.md and mpi.h true: the "Implemented" and "Not
# supported yet" lists must equal the strong (T) and weak (W) MPI_ symbols
# of the built libmpi; every binding in mpi-api.list must exist as MPI_x
# and PMPI_x at the same address; mpi.h's prototype block must be what
# mpi-api.sh generates from the list.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
LIB=$top_builddir/.libs/libmpi.so.40
DOC=$top_srcdir/mpi-shim/COVERAGE.md
LIST=$top_srcdir/mpi-shim/mpi-api.list
if [ ! -f "$LIB" ] || ! command -v nm >/dev/null; then
    echo "SKIP: $LIB or nm missing"
    exit 77
fi
nm -D --defined-only "$LIB" >"$TMP/nm"

section() { # the "- name" lines under heading $1
    awk -v h="## $1" '$0 == h { on = 1; next } /^## / { on = 0 } on && /^- / { print $2 }' "$DOC"
}
section "Implemented" >"$TMP/doc_impl"
section "Not supported yet" >"$TMP/doc_unsup"
awk '$2 == "T" && $3 ~ /^MPI_/ { print $3 }' "$TMP/nm" | sort >"$TMP/lib_impl"
awk '$2 == "W" && $3 ~ /^MPI_/ { print $3 }' "$TMP/nm" | sort >"$TMP/lib_unsup"

ntest=$((ntest + 1))
if diff -u "$TMP/doc_impl" "$TMP/lib_impl" >"$TMP/d1"; then ok "Implemented list matches libmpi"; else
    fail "COVERAGE.md 'Implemented' differs from libmpi's strong MPI_ symbols (- doc, + lib):"
    sed 's/^/    /' "$TMP/d1"; fi
ntest=$((ntest + 1))
if diff -u "$TMP/doc_unsup" "$TMP/lib_unsup" >"$TMP/d2"; then ok "Not-supported list matches libmpi"; else
    fail "COVERAGE.md 'Not supported yet' differs from libmpi's weak MPI_ symbols (- doc, + lib):"
    sed 's/^/    /' "$TMP/d2"; fi

# Every binding exists twice, PMPI_x and MPI_x at one address.
grep -v '^#' "$LIST" | cut -d'|' -f2 | sort >"$TMP/names"
awk '$3 ~ /^P?MPI_/ { print $3, $1, $2 }' "$TMP/nm" | sort >"$TMP/addr"
bad=0
while read -r n; do
    a=$(awk -v s="MPI_$n" '$1 == s { print $2 $3 }' "$TMP/addr")
    p=$(awk -v s="PMPI_$n" '$1 == s { print $2 $3 }' "$TMP/addr")
    if [ -z "$a" ] || [ "$a" != "$p" ]; then
        echo "    MPI_$n: '$a' vs PMPI_$n: '$p'"
        bad=$((bad + 1))
    fi
done <"$TMP/names"
check "every MPI_x has a PMPI_x twin at the same address" 0 "$bad"

# mpi.h's generated block is current.
awk '/BEGIN GENERATED PROTOTYPES/ { on = 1; next } /END GENERATED PROTOTYPES/ { on = 0 } on' \
    "$top_srcdir/mpi-shim/mpi.h" >"$TMP/hdr"
sh "$top_srcdir/mpi-shim/mpi-api.sh" protos "$LIST" >"$TMP/gen"
ntest=$((ntest + 1))
if cmp -s "$TMP/hdr" "$TMP/gen"; then ok "mpi.h prototypes match mpi-api.list"; else
    fail "mpi.h's prototype block is stale: run mpi-api.sh protos and paste it"; fi

# Nothing but the ABI's names and Starfish's documented application-level
# checkpoint API (checkpoint/sf_ckpt.h) leaves the library.
awk '$2 ~ /[TDBWRV]/ && $3 !~ /^(P?MPIX?_|ompi_|OMPI_C_|sf_ckpt_)/ { print $3 }' "$TMP/nm" >"$TMP/extra"
check "no internal symbols exported" "" "$(tr '\n' ' ' <"$TMP/extra")"
finish
