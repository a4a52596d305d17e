#!/bin/sh
# Three sfd daemons on loopback ports (private state dirs, one cluster
# key): membership, a 6-rank MPI job across them, kill -9 of a daemon in
# the middle of a job (--ft=abort ends it naming the node, nothing left
# running), rejoin with the same node id, a wrong-key daemon that cannot
# join, garbage and replayed frames dropped and counted while jobs still run,
# a remote client with (and without) the key on the control port.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"

. "$top_srcdir/tests/cluster/sfd_lib.sh"

three

# A job across the three nodes: 2 ranks each, MPI over tcp between nodes.
out=$TMP/out
"$SFRUN" --cluster "$TMP/n1" -n 6 sh -c 'echo "rank $SF_RANK on $SF_HOSTNAME node $SF_NODE_ID"' \
    </dev/null >"$out" 2>&1
check "shell job exit 0" 0 $?
for n in n1 n2 n3; do
    check "2 ranks on $n" 2 "$(grep -c " on $n node" "$out")"
done
"$SFRUN" --cluster "$TMP/n2" -n 6 "$RING" 20 "$MARK" </dev/null >"$out" 2>&1
check "6-rank MPI ring across 3 daemons exit 0" 0 $?
check_grep "ring result" "token *300 (expected 300)" "$out"
"$SFRUN" --cluster "$TMP/n3" -n 6 --map-by node sh -c 'echo "r$SF_RANK $SF_HOSTNAME"' \
    </dev/null >"$out" 2>&1
check_grep "--map-by node: rank 1 on the second node" "^r1 n1$" "$out"

"$SFRUN" --cluster "$TMP/n1" -H n2,n3 -n 4 sh -c 'echo "r$SF_RANK $SF_HOSTNAME"' \
    </dev/null >"$out" 2>&1
check "--host n2,n3: no rank on n1" 0 "$(grep -c ' n1$' "$out")"
check "--host n2,n3: 2 ranks on n3" 2 "$(grep -c ' n3$' "$out")"
"$SFRUN" --cluster "$TMP/n1" -N 1 -n 3 sh -c 'echo "r$SF_RANK $SF_HOSTNAME"' \
    </dev/null >"$out" 2>&1
check "-N 1: one rank per node" "r0 n1 r1 n2 r2 n3" "$(sort "$out" | tr '\n' ' ' | sed 's/ $//')"

# A remote client with the key submits over the TCP control port; without
# the key it gets nothing.
"$POKE" submit "$(addr n2)" "$TMP/key" 6 sh -c 'echo "r$SF_RANK $SF_HOSTNAME"' >"$out" 2>&1
check "remote client job exit 0" 0 $?
check "remote client gets all ranks' output" 6 "$(grep -c '^r[0-5] n[123]$' "$out")"
"$POKE" submit "$(addr n2)" "$TMP/key" 2 sh -c 'exit 4' >"$out" 2>&1
check "remote client gets the job's status" 4 $?
head -c 32 /dev/urandom >"$TMP/otherkey"
chmod 600 "$TMP/otherkey"
"$POKE" submit "$(addr n2)" "$TMP/otherkey" 1 sh -c 'echo should-not-run' >"$out" 2>&1
check "wrong-key client refused" 1 $?
check_nogrep "wrong-key client ran nothing" "should-not-run" "$out"

# Output of a rank on another node to a reader that starts late: the
# coordinator pauses the node (JOB_FLOW) instead of buffering it all.
"$SFRUN" --cluster "$TMP/n1" -H n2 -n 1 sh -c 'yes 0123456789abcdef | head -c 60000000' \
    </dev/null 2>"$out" | { sleep 1; wc -c; } >"$out.count"
check "60 MB of remote output arrive whole" 60000000 "$(tr -d ' ' <"$out.count")"
rss=$(ps -o rss= -p "$(cat "$TMP/n1.pid")" | tr -d ' ')
echo "coordinator RSS after the stream: $rss kB"

# Two jobs at once, submitted to different daemons.
"$SFRUN" --cluster "$TMP/n1" -n 6 "$RING" 20 "$MARK" </dev/null >"$out.a" 2>&1 &
ja=$!
"$SFRUN" --cluster "$TMP/n3" -n 6 "$RING" 20 "$MARK" </dev/null >"$out.b" 2>&1
rb=$?
wait $ja
check "two concurrent jobs: first exit 0" 0 $?
check "two concurrent jobs: second exit 0" 0 $rb

# kill -9 a daemon in the middle of a long job.
"$SFRUN" --cluster "$TMP/n1" -n 6 "$RING" 100000000 "$MARK" </dev/null >"$out" 2>&1 &
job=$!
ranks_running() { [ "$(pgrep -f "$MARK" | wc -l)" -ge 7 ]; } # 6 ranks + sfrun
wait_until ranks_running
check "6 ranks running" 0 $?
wait_until lines_at_least "$TMP/n3.log" "ranks here" 1
t0=$(date +%s%N)
kill -9 "$(cat "$TMP/n3.pid")"
end_job $job
rc=$?
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
echo "job ended ${ms} ms after the kill"
check "job fails after a node is killed" 1 $rc
check_grep "message names the node and ranks" "node n3 .*lost ranks 4,5" "$out"
[ $ms -le 2000 ] && r=yes || r="no ($ms ms)"
check "ended within the failure timeout + 1 s" yes "$r"
wait_until no_proc_matching "$MARK"
check "no rank left running" 0 $?
wait_until peers_are n1 1
check "n1 dropped n3" 1 "$(stat_val n1 peers)"

# n3 comes back with the same node id: it joins as a new member.
start n3 "$(addr n2)"
wait_until peers_are n1 2
check "n3 rejoined" 2 "$(stat_val n1 peers)"
"$SFRUN" --cluster "$TMP/n1" -n 6 "$RING" 20 "$MARK" </dev/null >"$out" 2>&1
check "next job after the rejoin exit 0" 0 $?

# Without --cluster-key a daemon makes its own key (mode 0600) in its
# state dir (mode 0700).
SF_LOG_LEVEL=error "$SFD" --listen --state-dir "$TMP/solo" --port 0 --bind 127.0.0.1 \
    >"$TMP/solo.log" 2>&1 &
solo=$!
pids="$pids $solo"
wait_until test -s "$TMP/solo/sfd.addr"
check "key created with mode 0600" "600 32" "$(stat -c '%a %s' "$TMP/solo/cluster.key")"
check "state dir mode 0700" 700 "$(stat -c %a "$TMP/solo")"
kill $solo
wait_until proc_gone $solo
check "clean exit removes the socket" no "$(test -e "$TMP/solo/sfd.sock" && echo yes || echo no)"

# A daemon with another key cannot join.
head -c 32 /dev/urandom >"$TMP/badkey"
chmod 600 "$TMP/badkey"
before=$(stat_val n1 drop_bad_mac)
start bad "$(addr n1)" "$TMP/badkey"
wait_until stat_ge n1 drop_bad_mac $((before + 1))
check "wrong-key frames counted" 0 $?
check "wrong-key daemon has no peers" 0 "$(stat_val bad peers)"
check "cluster unchanged" 2 "$(stat_val n1 peers)"
kill "$(cat "$TMP/bad.pid")"

# Garbage and replayed frames on the control port.
"$POKE" garbage "$(addr n1)"
check "garbage connection is closed" 0 $?
wait_until stat_ge n1 drop_garbage 1
check "garbage counted" 0 $?
mac0=$(stat_val n1 drop_bad_mac)
"$POKE" replay "$(addr n1)" "$TMP/key"
check "replay session handled" 0 $?
wait_until stat_ge n1 drop_replay 1
r=$?
check "replayed frame counted" 0 $r
[ $r = 0 ] || grep -e poke -e replay -e MAC -e bad "$TMP/n1.log"
wait_until stat_ge n1 drop_bad_mac $((mac0 + 1))
check "recorded session replayed: bad MAC counted" 0 $?
check "cluster unchanged after the attacks" 2 "$(stat_val n1 peers)"
"$SFRUN" --cluster "$TMP/n2" -n 6 "$RING" 20 "$MARK" </dev/null >"$out" 2>&1
r=$?
check "a job still runs after the attacks" 0 $r
[ $r = 0 ] || cat "$out"

# Orderly exit: GOODBYE, so n1 names it as gone by goodbye, not a crash.
kill "$(cat "$TMP/n2.pid")"
wait_until peers_are n1 1
check_grep "goodbye seen" "n2 .*left (goodbye)" "$TMP/n1.log"
finish
