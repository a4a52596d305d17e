#!/bin/sh
# Turns mpi-api.list (one MPI binding per line) into C text: 'protos' prints
# mpi.h's prototype block (MPI_ and PMPI_), 'stubs' prints unsupported.c,
# the weak "not supported by Starfish yet" definitions that any strong
# definition elsewhere in libmpi replaces at link time. Run at build time
# (stubs) and by hand when the list changes (protos, pasted into mpi.h;
# tests/mpi/coverage.sh checks that mpi.h still matches).
set -eu
mode=${1:?usage: mpi-api.sh protos|stubs LIST}
list=${2:?usage: mpi-api.sh protos|stubs LIST}

case $mode in
protos)
    awk -F'|' '
    /^#/ || NF < 3 { next }
    {
        dep = ($4 == "deprecated") ? " MPI_DEPRECATED_(\"MPI_" $2 " is deprecated\")" : ""
        printf "%s MPI_%s(%s)%s;\n", $1, $2, $3, dep
        printf "%s PMPI_%s(%s)%s;\n", $1, $2, $3, dep
    }' "$list"
    ;;
stubs)
    cat <<'EOF'
/* Generated from mpi-shim/mpi-api.list by mpi-shim/mpi-api.sh: do not edit.
 * Weak definitions of every MPI-3.1 binding, reporting "not supported by
 * Starfish yet" through the error handler; a strong definition elsewhere in
 * libmpi overrides both names. Runs on the caller's thread. */
#include "mpi-shim/shim_int.h"

EOF
    awk -F'|' '
    /^#/ || NF < 3 { next }
    {
        ret = $1; name = $2; params = $3
        if (name ~ /^T_/) {
            # The tools interface reports errors by return code only.
            body = "    return " (name == "T_init_thread" ? "MPI_T_ERR_CANNOT_INIT" : "MPI_T_ERR_NOT_INITIALIZED") ";"
        } else if (ret == "int") {
            body = "    SF_MPI_ENTER();\n    return sf_mpi__unsupported(\"MPI_" name "\");"
        } else {
            body = "    SF_MPI_ENTER();\n    (void)sf_mpi__unsupported(\"MPI_" name "\");\n    return (" ret ")0;"
        }
        printf "__attribute__((weak)) %s PMPI_%s(%s)\n{\n%s\n}\n", ret, name, params, body
        printf "extern __typeof__(PMPI_%s) MPI_%s __attribute__((weak, alias(\"PMPI_%s\")));\n\n", name, name, name
    }' "$list"
    ;;
*)
    echo "mpi-api.sh: unknown mode $mode" >&2
    exit 2
    ;;
esac
