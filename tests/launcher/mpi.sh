#!/bin/sh
# sfrun with real MPI programs on Starfish's libmpi: built with sfcc, and
# built with Open MPI's mpicc (sfrun must make Starfish's libmpi.so.40 win).
# Skips when the build tree has no libmpi.so.40 or no compiler.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"

if [ ! -e "$top_builddir/.libs/libmpi.so.40" ] && [ ! -e "$top_builddir/mpi-shim/.libs/libmpi.so.40" ]; then
    echo "SKIP: libmpi.so.40 not built"
    exit 77
fi
src=$top_srcdir/tests/launcher/mpi_ranks.c
prog=$TMP/mpi_ranks
if ! "$SFCC" -o "$prog" "$src" >"$TMP/cc.log" 2>&1; then
    cat "$TMP/cc.log"
    echo "SKIP: sfcc cannot build an MPI program"
    exit 77
fi
out=$TMP/out err=$TMP/err

"$SFRUN" -n 3 --oversubscribe "$prog" ok </dev/null >"$out" 2>"$err"
check "sfcc-built program runs" 0 $?
check "every rank says hello" 3 "$(grep -c '^hello from [0-2] of 3$' "$out")"

"$SFRUN" -n 3 --oversubscribe "$prog" abort </dev/null >"$out" 2>"$err"
check "MPI_Abort(3) ends the job with 3" 3 $?
check_grep "abort message" "rank 1 called MPI_Abort(3)" "$err"

"$SFRUN" -n 3 --oversubscribe "$prog" nofin </dev/null >"$out" 2>"$err"
check "exit without MPI_Finalize ends the job" 1 $?
check_grep "finalize message" "rank 1 on host .* exited without calling MPI_Finalize" "$err"

"$SFRUN" -n 3 --oversubscribe "$prog" segv </dev/null >"$out" 2>"$err"
check "a crashing MPI rank is reported as killed by SIGSEGV" 139 $?
check_grep "segv message" "rank 1 on host .* was killed by signal 11" "$err"

# Open MPI's wrapper takes $OMPI_MPICC as its own underlying compiler: drop
# it from the environment or mpicc.openmpi runs itself forever.
ompicc=$REF_MPICC
if [ -n "$ompicc" ] && env -u OMPI_MPICC "$ompicc" -o "$prog.ompi" "$src" >"$TMP/cc.log" 2>&1; then
    "$SFRUN" -n 2 sh -c "ldd $prog.ompi" </dev/null >"$out" 2>"$err"
    check_grep "Open MPI binary resolves Starfish's libmpi" "libmpi.so.40 => $top_builddir/" "$out"
    "$SFRUN" -n 2 "$prog.ompi" ok </dev/null >"$out" 2>"$err"
    check "Open MPI-built program runs on sfrun" 0 $?
    check "both ranks say hello" 2 "$(grep -c '^hello from [01] of 2$' "$out")"
fi
finish
