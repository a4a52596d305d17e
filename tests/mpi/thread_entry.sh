#!/bin/sh
# Every binding defined in mpi-shim (PMPI_x, also those made by macros)
# must open with SF_MPI_ENTER() or SF_MPI_NOLOCK() (shim_int.h), so that
# at MPI_THREAD_MULTIPLE no MPI call runs outside the critical section.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
awk '
    # a definition: type words, then PMPI_name( ; not a call (no = or return)
    /^[ \t]*[A-Za-z_][A-Za-z_0-9 \t*]*[ \t*]PMPI_[A-Za-z_0-9#]+\(/ && !/[=;]/ && !/return/ {
        name = $0; sub(/.*PMPI_/, "PMPI_", name); sub(/\(.*/, "", name)
        want = FILENAME ": " name; next
    }
    want != "" && /^[ \t]*\{[ \t\\]*$/ { brace = 1; next }
    brace {
        if ($0 !~ /SF_MPI_(ENTER|NOLOCK)\(\)/) print want
        n++; want = ""; brace = 0
    }
    END { print n " bindings" > "/dev/stderr" }
' "$top_srcdir"/mpi-shim/*.c >"$TMP/missing" 2>"$TMP/count"
check "bindings checked ($(cat "$TMP/count"))" 1 "$(awk '{ print ($1 > 200) }' "$TMP/count")"
check "every binding enters the thread section" "" "$(tr '\n' ' ' <"$TMP/missing")"
finish
