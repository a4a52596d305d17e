#!/bin/sh
# The installed layout: `make install` into a scratch DESTDIR puts libmpi.so.40
# and mpi.h only under lib/starfish and include/starfish (never where they
# would replace Open MPI's for Open MPI's own jobs), installs the mpirun,
# mpiexec and mpicc names, and the relocated sfrun still gives an Open-MPI
# built program Starfish's library while mpirun.openmpi gives it Open MPI's.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
dest=$TMP/root
if ! make -C "$top_builddir" -s install DESTDIR="$dest" >"$TMP/install.log" 2>&1; then
    sed 's/^/    /' "$TMP/install.log"
    echo "FAIL: make install"; exit 1
fi
prefix=$(sed -n 's/^prefix = //p' "$top_builddir/Makefile")
root=$dest$prefix
check "libmpi only in lib/starfish" "" "$(ls "$root/lib" | grep '^libmpi' || true)"
check "libmpi.so.40 in lib/starfish" yes "$([ -e "$root/lib/starfish/libmpi.so.40" ] && echo yes)"
check "mpi.h only in include/starfish" "no yes" \
    "$([ -e "$root/include/mpi.h" ] && echo yes || echo no) $([ -e "$root/include/starfish/mpi.h" ] && echo yes)"
for name in mpirun mpiexec mpicc sfcc sfrun sf sfd; do
    check "bin/$name installed" yes "$([ -x "$root/bin/$name" ] && echo yes)"
done
check "mpirun is sfrun" sfrun "$(basename "$(readlink "$root/bin/mpirun")")"

MPICC=${REF_MPICC:-$(command -v mpicc.openmpi)}
unset OMPI_MPICC OMPI_CC
if [ -n "$MPICC" ]; then
    cat >"$TMP/v.c" <<'C'
#include <mpi.h>
#include <stdio.h>
int main(int argc, char **argv)
{
    char v[MPI_MAX_LIBRARY_VERSION_STRING];
    int len, rank;
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Get_library_version(v, &len);
    if (rank == 0) printf("%.40s\n", v);
    MPI_Finalize();
    return 0;
}
C
    "$MPICC" -o "$TMP/v" "$TMP/v.c"
    # The relocated sfrun finds sfd beside itself and libmpi in ../lib/starfish.
    SF_SFD= "$root/bin/sfrun" -n 2 "$TMP/v" >"$TMP/sf.out" 2>"$TMP/sf.err"
    check_grep "installed sfrun loads Starfish's libmpi" "^Starfish" "$TMP/sf.out"
    if [ -n "${REF_MPIRUN:-}" ]; then
        "$REF_MPIRUN" --allow-run-as-root --oversubscribe -n 2 "$TMP/v" >"$TMP/om.out" 2>&1
        check_grep "Open MPI's mpirun still loads Open MPI's libmpi" "^Open MPI" "$TMP/om.out"
    fi
fi
finish
