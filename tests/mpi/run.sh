#!/bin/sh
# Runs the MPI semantics programs of tests/mpi: as singletons (no sfrun),
# then under sfrun with 2 and 4 ranks on each data path (and the
# communicator programs with 3 and 8 ranks): Starfish's own
# shared memory (default), libfabric shm and libfabric tcp (-x FI_PROVIDER).
# fatal.c must end the job with the error handler's message. Skips (77)
# the sfrun part when sfrun is not built. SF_MPI_RUN_QUICK=1: default path only.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
T=$top_builddir/tests/mpi
progs="p2p_basic p2p_probe p2p_req p2p_bsend errors env_coll dtype comm attr topo coll_all nbr_icoll
    conform conform2 inter dt_big"

# run NAME CMD...: the command exits 0 (output kept on failure).
run() {
    name=$1
    shift
    ntest=$((ntest + 1))
    if "$@" >"$TMP/out" 2>&1; then ok "$name"; else
        rc=$?
        fail "$name (exit $rc):"
        tail -n 25 "$TMP/out" | sed 's/^/    /'
    fi
}

for p in $progs; do
    run "$p singleton" env -u SF_SFD_FD "$T/$p"
done

ntest=$((ntest + 1))
if env -u SF_SFD_FD "$T/fatal" >"$TMP/fatal" 2>&1; then
    fail "fatal singleton: exited 0"
elif grep -q "MPI_Send: invalid rank 6 (size 1) on communicator MPI_COMM_WORLD" "$TMP/fatal"; then
    ok "fatal singleton: aborted with the handler's message"
else
    fail "fatal singleton: no error handler message in:"
    sed 's/^/    /' "$TMP/fatal"
fi

# MPI_Abort's code is the exit status, alone and under sfrun.
abort_check() {
    name=$1
    shift
    ntest=$((ntest + 1))
    "$@" >"$TMP/abort" 2>&1
    rc=$?
    if [ "$rc" -eq 7 ]; then ok "$name: exit status 7 from MPI_Abort"; else
        fail "$name: exit status $rc, want 7:"
        sed 's/^/    /' "$TMP/abort"
    fi
}
abort_check "abort_code singleton" env -u SF_SFD_FD "$T/abort_code"

# MPI_THREAD_MULTIPLE is opt-in (SF_MPI_THREAD_LEVEL); without it the
# library provides SERIALIZED.
run "threads singleton" env -u SF_SFD_FD SF_MPI_THREAD_LEVEL=multiple "$T/threads"
run "threads singleton, capped" env -u SF_SFD_FD -u SF_MPI_THREAD_LEVEL "$T/threads" capped

if [ ! -x "$SFRUN" ]; then
    echo "SKIP: $SFRUN not built; only singleton runs done"
    [ "$nfail" -eq 0 ] || finish
    exit 77
fi

# Communicator/topology programs and all collectives also at odd and
# oversubscribed sizes (uneven splits, 3 x 1 and 4 x 2 grids, unequal
# inter-communicator halves, non-power-of-two collective algorithms).
for n in 3 8; do
    for p in comm attr topo coll_all nbr_icoll conform conform2 inter; do
        run "$p -n $n" "$SFRUN" -n $n --timeout 300 "$T/$p"
    done
done

# Large non-contiguous messages also with the shared memory transport's
# streaming (no process_vm_readv): segments pushed through the rings.
run "dt_big -n 2 (shm streaming)" "$SFRUN" -n 2 -x SF_NET_SHM_CMA=0 --timeout 300 "$T/dt_big"

paths="default shm tcp"
[ "${SF_MPI_RUN_QUICK:-0}" = 1 ] && paths=default
for path in $paths; do
    case $path in
    default) x= ;;
    *) x="-x FI_PROVIDER=$path" ;;
    esac
    for n in 2 4; do
        for p in $progs; do
            # shellcheck disable=SC2086
            run "$p -n $n ($path)" "$SFRUN" -n $n $x --timeout 300 "$T/$p"
        done
        # shellcheck disable=SC2086
        run "threads -n $n ($path)" "$SFRUN" -n $n $x -x SF_MPI_THREAD_LEVEL=multiple \
            --timeout 300 "$T/threads"
        # shellcheck disable=SC2086
        abort_check "abort_code -n $n ($path)" "$SFRUN" -n $n $x --timeout 120 "$T/abort_code"
        # The abort must come from the error handler, naming call and comm.
        ntest=$((ntest + 1))
        # shellcheck disable=SC2086
        if "$SFRUN" -n $n $x --timeout 120 "$T/fatal" >"$TMP/fatal" 2>&1; then
            fail "fatal -n $n ($path): the job exited 0"
            sed 's/^/    /' "$TMP/fatal"
        elif grep -q "MPI_Send: invalid rank $((n + 5)) (size $n) on communicator MPI_COMM_WORLD" \
            "$TMP/fatal"; then
            ok "fatal -n $n ($path): job aborted with the handler's message"
        else
            fail "fatal -n $n ($path): no error handler message in:"
            sed 's/^/    /' "$TMP/fatal"
        fi
    done
done
finish
