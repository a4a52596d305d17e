#!/bin/sh
# sfrun --sim-nodes: K loopback daemons live exactly as long as one job.
# The 6-rank job across 3 daemons needs sfd's multi-node jobs (the
# "cluster" work); until sfd has --listen this skips.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
. "$top_srcdir/tests/lib-cluster.sh"
real_sfd_listens || skip "sfd has no --listen (cluster) mode yet"
export TMPDIR="$TMP"

"$SFRUN" --sim-nodes 3 -n 6 sh -c 'echo "rank $OMPI_COMM_WORLD_RANK of $OMPI_COMM_WORLD_SIZE"' \
    </dev/null >"$TMP/out" 2>"$TMP/err"
check "6 ranks on 3 sim nodes exit 0" 0 $?
for r in 0 1 2 3 4 5; do
    check_grep "rank $r ran" "^rank $r of 6\$" "$TMP/out"
done
check "exactly 6 lines" 6 "$(wc -l <"$TMP/out" | tr -d ' ')"
check "sim cluster removed" 0 "$(ls -d "$TMP"/sfsim-* 2>/dev/null | wc -l)"
check "no sim daemon left" 0 "$(live_procs "$TMP/sfsim-")"

"$SFRUN" --sim-nodes 3 -N 2 --map-by node -n 6 sh -c 'exit 0' </dev/null >"$TMP/out" 2>"$TMP/err"
check "-N 2 over 3 sim nodes exits 0" 0 $?
"$SFRUN" --sim-nodes 2 -n 2 sh -c 'exit $((OMPI_COMM_WORLD_RANK == 1 ? 3 : 0))' </dev/null \
    >"$TMP/out" 2>"$TMP/err"
check "a failing rank's status comes back" 3 $?
check "no sim daemon left after a failed job" 0 "$(live_procs "$TMP/sfsim-")"
check "sim cluster removed after a failed job" 0 "$(ls -d "$TMP"/sfsim-* 2>/dev/null | wc -l)"
finish
