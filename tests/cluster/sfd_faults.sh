#!/bin/sh
# Failures in jobs across three loopback sfd daemons: a rank failing or
# killed on another node, SIGINT to sfrun, sfrun killed (lost client), a
# daemon that stops answering (SIGSTOP: keep-alives stop, like a cut link)
# and the coordinating daemon killed. Each ends the job as --ft=abort says
# and leaves no rank running; the stopped daemon rejoins when it wakes.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"

. "$top_srcdir/tests/cluster/sfd_lib.sh"

three
out=$TMP/out
ranks_running() { [ "$(pgrep -f "$MARK" | wc -l)" -ge 7 ]; } # 6 ranks + sfrun

# A rank on another node exits 3: the job's status is 3, naming rank and host.
"$SFRUN" --cluster "$TMP/n1" -n 6 sh -c "[ \$SF_RANK = 3 ] && exit 3; exec sleep 60" \
    </dev/null >"$out" 2>&1
check "remote rank's exit status is the job's" 3 $?
check_grep "message names rank and host" "rank 3 on host n2 exited with status 3" "$out"

# A rank on another node is killed.
"$SFRUN" --cluster "$TMP/n1" -n 6 "$RING" 100000000 "$MARK" </dev/null >"$out" 2>&1 &
job=$!
wait_until ranks_running
pid5=$(pgrep -f "$MARK" | while read -r p; do
    grep -q '^SF_RANK=5$' /proc/$p/environ 2>/dev/null && tr '\0' '\n' </proc/$p/environ |
        grep -q '^SF_HOSTNAME=n3$' && echo $p; done | head -n 1)
[ -n "$pid5" ] && kill -9 "$pid5"
end_job $job
check "killed remote rank: 128+9" 137 $?
check_grep "message names the killed rank" "rank 5 on host n3 was killed by signal 9" "$out"
wait_until no_proc_matching "$MARK"
check "no rank left after a remote rank died" 0 $?

# SIGINT to sfrun reaches every node.
"$SFRUN" --cluster "$TMP/n2" -n 6 "$RING" 100000000 "$MARK" </dev/null >"$out" 2>&1 &
job=$!
wait_until ranks_running
kill -INT $job
end_job $job
check "SIGINT: 128+2" 130 $?
wait_until no_proc_matching "$MARK"
check "no rank left after SIGINT" 0 $?

# sfrun killed outright: the coordinator kills the job everywhere.
"$SFRUN" --cluster "$TMP/n3" -n 6 "$RING" 100000000 "$MARK" </dev/null >"$out" 2>&1 &
job=$!
wait_until ranks_running
kill -9 $job
wait_until no_proc_matching "$MARK"
check "no rank left after sfrun was killed" 0 $?

# A daemon goes silent: declared gone after the failure timeout.
"$SFRUN" --cluster "$TMP/n1" -n 6 "$RING" 100000000 "$MARK" </dev/null >"$out" 2>&1 &
job=$!
wait_until ranks_running
wait_until lines_at_least "$TMP/n2.log" "ranks here" 2
t0=$(date +%s%N)
kill -STOP "$(cat "$TMP/n2.pid")"
end_job $job
rc=$?
ms=$(ms_since "$t0")
echo "job ended ${ms} ms after the daemon stopped"
check "silent node ends the job" 1 $rc
check_grep "message names the silent node" "node n2 .*missed keep-alives.*lost ranks 2,3" "$out"
[ $ms -le 2000 ] && r=yes || r="no ($ms ms)"
check "ended within the failure timeout + 1 s" yes "$r"
kill -CONT "$(cat "$TMP/n2.pid")"
wait_until no_proc_matching "$MARK"
check "the woken daemon killed its ranks" 0 $?
wait_until peers_are n1 2
check "n2 rejoined" 2 "$(stat_val n1 peers)"
"$SFRUN" --cluster "$TMP/n1" -n 6 "$RING" 20 "$MARK" </dev/null >"$out" 2>&1
check "next job runs" 0 $?

# The coordinator itself is killed: sfrun reports the lost daemon and the
# other nodes kill their parts of the job.
"$SFRUN" --cluster "$TMP/n1" -n 6 "$RING" 100000000 "$MARK" </dev/null >"$out" 2>&1 &
job=$!
wait_until ranks_running
wait_until lines_at_least "$TMP/n3.log" "ranks here" 3
kill -9 "$(cat "$TMP/n1.pid")"
end_job $job
check "sfrun fails when its daemon dies" 1 $?
check_grep "sfrun says the daemon is lost" "lost" "$out"
wait_until no_proc_matching "$MARK"
check "no rank left after the coordinator died" 0 $?
wait_until peers_are n2 1
check "n2 and n3 still see each other" 1 "$(stat_val n2 peers)"
finish
