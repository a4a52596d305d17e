#!/bin/sh
# ABI test: programs built by Open MPI's own mpicc (Debian's mpicc.openmpi)
# run unchanged under sfrun and load Starfish's libmpi.so.40, not Open
# MPI's: each prints MPI_Get_library_version and we grep for "Starfish".
# Also checks that the binaries carry no RPATH/RUNPATH that would defeat
# LD_LIBRARY_PATH. Skips (77) without mpicc.openmpi or sfrun.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
MPICC=${REF_MPICC:-$(command -v mpicc.openmpi)}
# Open MPI's wrappers read OMPI_MPICC (and OMPI_CC) from the environment as
# "the compiler to run"; a user's setting must not redirect this test.
unset OMPI_MPICC OMPI_CC
if [ -z "$MPICC" ] || [ ! -x "$SFRUN" ]; then
    echo "SKIP: needs Open MPI's mpicc (got '${MPICC}') and $SFRUN"
    exit 77
fi
B=$top_builddir/tests/abi
mkdir -p "$B"
for p in env_coll p2p_basic p2p_req p2p_probe comm attr topo coll_all conform conform2 inter; do
    ntest=$((ntest + 1))
    if "$MPICC" -O2 -o "$B/ompi_$p" "$top_srcdir/tests/mpi/$p.c" >"$TMP/cc" 2>&1; then
        ok "built $p with $MPICC"
    else
        fail "$MPICC failed on $p:"
        sed 's/^/    /' "$TMP/cc"
        finish
    fi
done
ntest=$((ntest + 1))
if "$MPICC" -O2 -pthread -o "$B/ompi_threads" "$top_srcdir/tests/mpi/threads.c" >"$TMP/cc" 2>&1; then
    ok "built threads with $MPICC"
else
    fail "$MPICC failed on threads:"
    sed 's/^/    /' "$TMP/cc"
fi

# The dynamic section must not pin Open MPI's library directory.
ntest=$((ntest + 1))
if readelf -d "$B/ompi_env_coll" | grep -qE 'RPATH|RUNPATH'; then
    fail "mpicc.openmpi binaries carry RPATH/RUNPATH:"
    readelf -d "$B/ompi_env_coll" | grep -E 'RPATH|RUNPATH' | sed 's/^/    /'
else
    ok "no RPATH/RUNPATH in mpicc.openmpi binaries (LD_LIBRARY_PATH decides)"
fi
check "binary needs libmpi.so.40" "yes" \
    "$(readelf -d "$B/ompi_env_coll" | grep -q 'NEEDED.*\[libmpi.so.40\]' && echo yes)"

for n in 1 2 4; do
    ntest=$((ntest + 1))
    if "$SFRUN" -n $n --timeout 300 "$B/ompi_env_coll" >"$TMP/out" 2>&1 &&
        grep -q "^library: Starfish" "$TMP/out"; then
        ok "ompi_env_coll -n $n ran on Starfish's libmpi ($(sed -n 's/^library: //p' "$TMP/out"))"
    else
        fail "ompi_env_coll -n $n did not run on Starfish's libmpi:"
        sed 's/^/    /' "$TMP/out"
    fi
done
for p in p2p_basic p2p_req p2p_probe comm attr topo coll_all conform conform2 inter; do
    ntest=$((ntest + 1))
    if "$SFRUN" -n 4 --timeout 300 "$B/ompi_$p" >"$TMP/out" 2>&1; then
        ok "ompi_$p -n 4"
    else
        fail "ompi_$p -n 4:"
        tail -n 20 "$TMP/out" | sed 's/^/    /'
    fi
done
# MPI_THREAD_MULTIPLE (opt-in) from an Open MPI-built program.
ntest=$((ntest + 1))
if "$SFRUN" -n 4 -x SF_MPI_THREAD_LEVEL=multiple --timeout 300 "$B/ompi_threads" >"$TMP/out" 2>&1; then
    ok "ompi_threads -n 4 (MPI_THREAD_MULTIPLE)"
else
    fail "ompi_threads -n 4 (MPI_THREAD_MULTIPLE):"
    tail -n 20 "$TMP/out" | sed 's/^/    /'
fi
finish
