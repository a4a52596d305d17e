#!/bin/sh
# The examples check their own answers: each runs at 1, 3 and 4 ranks on
# the default data path and at 4 ranks over libfabric's tcp and shm, and
# the three built by Open MPI's mpicc (when there is one) run on
# Starfish's libmpi too. A run passes when it exits 0 and prints "OK".
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
E=$top_builddir/examples
progs="pi ring laplace heat sort matmul"
run() {
    name=$1
    shift
    ntest=$((ntest + 1))
    if "$@" </dev/null >"$TMP/out" 2>&1 && grep -qx OK "$TMP/out"; then
        ok "$name"
    else
        fail "$name:"
        sed 's/^/    /' "$TMP/out"
    fi
}
for p in $progs; do
    for n in 1 3 4; do
        run "$p -n $n" "$SFRUN" -n $n --timeout 120 "$E/$p"
    done
    for prov in tcp shm; do
        run "$p -n 4 (FI_PROVIDER=$prov)" "$SFRUN" -n 4 -x FI_PROVIDER=$prov --timeout 120 "$E/$p"
    done
done
MPICC=${REF_MPICC:-$(command -v mpicc.openmpi || true)}
unset OMPI_MPICC OMPI_CC
if [ -n "$MPICC" ]; then
    for p in heat sort matmul; do
        if "$MPICC" -O2 -o "$TMP/ompi_$p" "$top_srcdir/examples/$p.c" -lm >"$TMP/cc" 2>&1; then
            run "$p built by $MPICC, -n 4" "$SFRUN" -n 4 --timeout 120 "$TMP/ompi_$p"
        else
            ntest=$((ntest + 1))
            fail "$MPICC failed on $p:"
            sed 's/^/    /' "$TMP/cc"
        fi
    done
fi
finish
