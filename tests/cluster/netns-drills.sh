#!/bin/sh
# Fault drills on 4 namespaced nodes with the real sfd (--ft=abort): during
# a job, kill -9 one rank, kill a whole node (sf node kill), cut a node's
# link (sf node cut). Each time the job must end with an error naming the
# rank/node, no rank may be left in any namespace, membership must settle,
# and the next job must run to completion. Needs root and sfd's cluster
# mode (skips otherwise); every wait is bounded (tests/lib.sh wait_until).
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
. "$top_srcdir/tests/lib-cluster.sh"
need_netns
real_sfd_listens || skip "sfd has no --listen (cluster) mode yet"
export SF_SFD="$REAL_SFD"

alive_is() { [ "$(nodes_alive)" = "$1" ]; }
# ranks_in NODE: processes in the node's namespace other than its daemon.
ranks_in() {
    d=$(cat "$CDIR/$1/sfd.pid" 2>/dev/null)
    ip netns pids "sf-$1" 2>/dev/null | grep -vcx "${d:-none}"
}
no_ranks_anywhere() {
    for n in n1 n2 n3 n4; do
        [ "$(ranks_in $n)" = 0 ] || return 1
    done
}
# start_job N: a background job of N ranks that print "ready" then sleep;
# returns once all are ready (bounded).
start_job() {
    : >"$TMP/jout"
    : >"$TMP/jerr"
    "$SFRUN" --ft abort -n "$1" sh -c 'echo ready; exec sleep 60' </dev/null \
        >"$TMP/jout" 2>"$TMP/jerr" &
    job=$!
    wait_until lines_at_least "$TMP/jout" '^ready$' "$1"
    check "$2: all $1 ranks started" 0 $?
}
# end_job LABEL: the job ended on its own (bounded), not zero.
end_job() {
    wait_until proc_dead "$job"
    check "$1: the job ended by itself" 0 $?
    kill -KILL "$job" 2>/dev/null
    wait "$job"
    st=$?
    check "$1: the job failed" yes "$([ "$st" -ne 0 ] && echo yes || echo "no (status $st)")"
    wait_until no_ranks_anywhere
    check "$1: no rank left in any namespace" 0 $?
}
next_job() {
    "$SFRUN" -n "$1" sh -c 'echo "rank $OMPI_COMM_WORLD_RANK"' </dev/null >"$TMP/out" 2>"$TMP/err"
    check "$2: the next job exits 0" 0 $?
    check "$2: all $1 ranks of the next job ran" "$1" "$(grep -c '^rank [0-9]*$' "$TMP/out")"
}

"$SF" up --netns --nodes 4 --wait 20 >"$TMP/out" 2>&1
check "sf up --netns --nodes 4" 0 $?
[ -f "$CDIR/cluster" ] || { sed 's/^/    /' "$TMP/out"; finish; }
check "4 members" 4 "$(nodes_alive)"

# 1. kill -9 of one rank on n3.
start_job 8 "rank kill"
victim=$(ip netns pids sf-n3 | grep -vx "$(cat "$CDIR/n3/sfd.pid")" | head -n 1)
check "rank kill: found a rank on n3" yes "$([ -n "$victim" ] && echo yes)"
kill -KILL "$victim"
end_job "rank kill"
check_grep "rank kill: error says killed/signal" "[Kk]ill\|signal\|SIGKILL" "$TMP/jerr"
check "rank kill: membership unchanged" 4 "$(nodes_alive)"
next_job 8 "after rank kill"

# 2. a whole node dies (daemon and ranks at once).
start_job 8 "node kill"
"$SF" node kill n2 >"$TMP/out" 2>&1
check "node kill: sf node kill n2" 0 $?
end_job "node kill"
check_grep "node kill: error names n2" "n2" "$TMP/jerr"
wait_until alive_is 3
check "node kill: 3 members" 3 "$(nodes_alive)"
next_job 6 "after node kill"

# 3. n4's link is cut in the middle of a job.
start_job 6 "cut"
"$SF" node cut n4 >"$TMP/out" 2>&1
check "cut: sf node cut n4" 0 $?
end_job "cut"
check_grep "cut: error names n4" "n4" "$TMP/jerr"
wait_until alive_is 2
check "cut: 2 members while n4 is cut" 2 "$(nodes_alive)"
next_job 4 "during the cut"
"$SF" node heal n4 >"$TMP/out" 2>&1
check "heal: sf node heal n4" 0 $?
wait_until alive_is 3
check "heal: n4 rejoins (3 members)" 3 "$(nodes_alive)"
next_job 6 "after heal"

"$SF" down >"$TMP/out" 2>&1
check "sf down" 0 $?
check "no namespaces left" 0 "$(ip netns list | awk '{print $1}' | grep -c '^sf-n[0-9]*$')"
check "no daemon left" 0 "$(live_procs "$CDIR/")"
finish
