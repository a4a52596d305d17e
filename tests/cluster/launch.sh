#!/bin/sh
# sfrun --hostfile/--host with no cluster running: daemons started for the
# job through a launch agent (tests/cluster/launch-agent.sh stands in for
# ssh: it runs the command here, or in a network namespace per host) join
# a hub, run the job, and are gone afterwards -- also after a failing job,
# Ctrl-C, kill -9 of sfrun, and an unreachable host. Real sfd throughout.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
. "$top_srcdir/tests/lib-cluster.sh"
# The ranks' stand-in: a sleep whose argument names this run, so leftovers
# are counted for this script only (another test may run the same).
NAP=997.$$
real_sfd_listens || skip "sfd has no --listen (cluster) mode"
export TMPDIR="$TMP"
AGENT=$top_srcdir/tests/cluster/launch-agent.sh
export SF_TEST_AGENT_LOG="$TMP/agent.log"
# Which daemon runs a rank: the --name on the command line of its nearest
# sfd ancestor (its parent is the job's init, the init's parent sfd).
cat >"$TMP/where.sh" <<'EOF'
p=$(sed "s/.*) . \([0-9]*\).*/\1/" /proc/self/stat); while [ "$p" -gt 1 ] && [ "$(cat /proc/$p/comm)" != sfd ]; do p=$(sed "s/.*) . \([0-9]*\).*/\1/" /proc/$p/stat); done
echo "rank $OMPI_COMM_WORLD_RANK on $(tr '\0' ' ' </proc/$p/cmdline | sed -n 's/.*--name \([^ ]*\).*/\1/p')"
EOF
left() { live_procs "$TMP/sfjob-"; }
none_left() { [ "$(left)" = 0 ] && [ "$(live_procs "sleep $NAP")" = 0 ]; }
no_job_dirs() { [ -z "$(ls -d "$TMP"/sfjob-* 2>/dev/null)" ]; }
# A background job's 4 ranks are running (up to 20 s on a busy machine).
four_started() { lines_at_least "$TMP/out" '^started$' 4; }
wait_started() { wait_until four_started || wait_until four_started; }
# reap PID: the background sfrun's status, bounded: one that does not end
# is killed (and fails the check that follows) instead of hanging the test.
reap() {
    if ! wait_until proc_gone "$1"; then
        echo "sfrun (pid $1) did not end: killing it"
        ps -eo pid,ppid,stat,args | grep -e sfjob -e "sleep $NAP" | grep -v grep | cut -c1-160
        kill -KILL "$1"
    fi
    wait "$1"
}

printf 'hostA slots=2\nhostB slots=2\n' >"$TMP/hf"
"$SFRUN" --hostfile "$TMP/hf" --launch-agent "$AGENT" -n 4 sh "$TMP/where.sh" \
    </dev/null >"$TMP/out" 2>"$TMP/err"
check "hostfile job over the agent exits 0" 0 $?
check "agent called once per host" "hostA hostB" "$(sort "$TMP/agent.log" | tr '\n' ' ' | sed 's/ $//')"
for r in 0 1; do check_grep "rank $r on hostA" "^rank $r on hostA\$" "$TMP/out"; done
for r in 2 3; do check_grep "rank $r on hostB" "^rank $r on hostB\$" "$TMP/out"; done
check "no daemon left" 0 "$(left)"
check "job dir removed" 0 "$(ls -d "$TMP"/sfjob-* 2>/dev/null | wc -l)"
check_nogrep "quiet start-up" "." "$TMP/err"

# An MPI example across the two daemons, ranks alternating between them.
"$SFRUN" --host hostA,hostB --map-by node --launch-agent "$AGENT" -n 4 \
    "$top_builddir/examples/pi" </dev/null >"$TMP/out" 2>"$TMP/err"
check "examples/pi on 2 launched daemons exits 0" 0 $?
check_grep "pi says OK" "^OK\$" "$TMP/out"

# The job dir's path crosses two shells (ssh's and sh -c): quotes and
# blanks in it must survive.
odd="$TMP/it's a dir"
mkdir -p "$odd"
TMPDIR="$odd" "$SFRUN" --hostfile "$TMP/hf" --launch-agent "$AGENT" -n 2 sh "$TMP/where.sh" \
    </dev/null >"$TMP/out" 2>"$TMP/err"
check "job dir with a quote and blanks: exit 0" 0 $?
check "both ranks ran" 2 "$(grep -c '^rank [01] on hostA$' "$TMP/out")"
check "that job dir removed" "" "$(ls -A "$odd")"

# This host listed too: its daemon is the hub, the other is launched.
: >"$TMP/agent.log"
"$SFRUN" --host localhost,hostB --map-by node --launch-agent "$AGENT" -n 2 sh "$TMP/where.sh" \
    </dev/null >"$TMP/out" 2>"$TMP/err"
check "localhost + remote exits 0" 0 $?
check_grep "rank 0 on the hub (localhost)" "^rank 0 on localhost\$" "$TMP/out"
check_grep "rank 1 on hostB" "^rank 1 on hostB\$" "$TMP/out"
check "no agent for localhost" "hostB" "$(cat "$TMP/agent.log")"

# Open MPI's spelling of the agent option.
"$SFRUN" --mca plm_rsh_agent "$AGENT" --host hostA -n 1 sh "$TMP/where.sh" \
    </dev/null >"$TMP/out" 2>"$TMP/err"
check "--mca plm_rsh_agent works" 0 $?
check_grep "rank 0 on hostA" "^rank 0 on hostA\$" "$TMP/out"

# A failing rank: its status comes back, the daemons go.
"$SFRUN" --hostfile "$TMP/hf" --launch-agent "$AGENT" -n 4 \
    sh -c 'exit $((OMPI_COMM_WORLD_RANK == 3 ? 5 : 0))' </dev/null >"$TMP/out" 2>"$TMP/err"
check "failing rank's status comes back" 5 $?
check "no daemon left after a failed job" 0 "$(left)"

# Ctrl-C: sfrun forwards it, the job ends, everything started is stopped.
"$SFRUN" --hostfile "$TMP/hf" --launch-agent "$AGENT" -n 4 \
    sh -c "echo started; exec sleep $NAP" </dev/null >"$TMP/out" 2>"$TMP/err" &
pid=$!
wait_started
check "4 ranks started" 4 "$(grep -c '^started$' "$TMP/out")"
kill -INT $pid
reap $pid
check "sfrun exits 130 after SIGINT" 130 $?
wait_until none_left
check "no daemon or rank left after SIGINT" "0 0" "$(left) $(live_procs "sleep $NAP")"
check "job dir removed after SIGINT" 0 "$(ls -d "$TMP"/sfjob-* 2>/dev/null | wc -l)"

# kill -9 of sfrun: every watchdog (the hub's here too) sees its stdin end
# and stops its daemon and ranks and removes its state.
"$SFRUN" --hostfile "$TMP/hf" --launch-agent "$AGENT" -n 4 \
    sh -c "echo started; exec sleep $NAP" </dev/null >"$TMP/out" 2>"$TMP/err" &
pid=$!
wait_started
kill -KILL $pid
wait $pid 2>/dev/null
wait_until none_left
check "no daemon or rank left after kill -9 of sfrun" "0 0" "$(left) $(live_procs "sleep $NAP")"
wait_until no_job_dirs
check "state dirs and key removed after kill -9" "" "$(ls -d "$TMP"/sfjob-* 2>/dev/null)"

# A launched daemon dies in the middle of the job (a lost host): the job
# ends naming it (--ft=abort), the other daemons are stopped.
"$SFRUN" --hostfile "$TMP/hf" --launch-agent "$AGENT" -n 4 \
    sh -c "echo started; exec sleep $NAP" </dev/null >"$TMP/out" 2>"$TMP/err" &
pid=$!
wait_started
pkill -KILL -f -- "$TMP/sfjob-.*/r-hostB --port"
check "the daemon to lose was found and killed" 0 $?
reap $pid
check "job with a lost host fails" 1 $?
check_grep "and names the host and its ranks" "node hostB .*lost ranks 2,3" "$TMP/err"
check_nogrep "no shell job notices" "Killed" "$TMP/err"
wait_until none_left
check "no daemon or rank left after a lost host" "0 0" "$(left) $(live_procs "sleep $NAP")"
check "job dir removed after a lost host" 0 "$(ls -d "$TMP"/sfjob-* 2>/dev/null | wc -l)"

# An unreachable host: a clear error, exit 1, the other host's daemon gone.
SF_TEST_AGENT_FAIL=hostB "$SFRUN" --hostfile "$TMP/hf" --launch-agent "$AGENT" -n 2 true \
    </dev/null >"$TMP/out" 2>"$TMP/err"
check "unreachable host: exit 1" 1 $?
check_grep "ssh's own error is shown" "connect to host hostB" "$TMP/err"
check_grep "sfrun names the host" "sfrun: launch agent for host hostB exited" "$TMP/err"
check "nothing left after a failed launch" 0 "$(left)"
check "job dir removed after a failed launch" 0 "$(ls -d "$TMP"/sfjob-* 2>/dev/null | wc -l)"

# A daemon that cannot start: its last words are the error.
printf '#!/bin/sh\necho "fake sfd: cannot listen" >&2\nexit 1\n' >"$TMP/badsfd"
chmod +x "$TMP/badsfd"
SF_SFD="$TMP/badsfd" "$SFRUN" --hostfile "$TMP/hf" --launch-agent "$AGENT" -n 2 true \
    </dev/null >"$TMP/out" 2>"$TMP/err"
check "daemon that cannot start: exit 1" 1 $?
check_grep "its error is shown" "did not start: fake sfd: cannot listen" "$TMP/err"
check "job dir removed after a failed daemon" 0 "$(ls -d "$TMP"/sfjob-* 2>/dev/null | wc -l)"

# A launch agent that does not exist.
"$SFRUN" --host hostA --launch-agent "$TMP/no-such-agent" -n 1 true </dev/null >"$TMP/out" 2>"$TMP/err"
check "missing agent: exit 1" 1 $?
check_grep "says it cannot run the agent" "cannot run launch agent $TMP/no-such-agent" "$TMP/err"
check "nothing left after a missing agent" 0 "$(left)"

# Hosts in network namespaces, reached over a bridge: the agent enters the
# namespace named for the host; the hub here joins them through the
# bridge's address. Root only; the names (sfl-*) are this test's own.
if [ "$(id -u)" = 0 ] && command -v ip >/dev/null 2>&1 && ip netns add sfl-probe-$$ 2>/dev/null; then
    ip netns del sfl-probe-$$
    exec 8>/run/lock/starfish-launch-netns.lock 2>/dev/null || exec 8>/tmp/starfish-launch-netns.lock
    flock -w 60 8 || skip "another launch test held the namespace lock for 60 s"
    ns_cleanup() {
        for n in 1 2; do
            for p in $(ip netns pids sfl-n$n 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
            ip link del sflv$n 2>/dev/null
            ip netns del sfl-n$n 2>/dev/null
        done
        ip link del sflbr0 2>/dev/null
    }
    trap 'ns_cleanup; cluster_cleanup' EXIT
    ns_cleanup
    ip link add sflbr0 type bridge && ip addr add 10.251.0.254/24 dev sflbr0 && ip link set sflbr0 up
    for n in 1 2; do
        ip netns add sfl-n$n
        ip link add sflv$n type veth peer name eth0 netns sfl-n$n
        ip link set sflv$n master sflbr0 up
        ip -n sfl-n$n addr add 10.251.0.$n/24 dev eth0
        ip -n sfl-n$n link set eth0 up
        ip -n sfl-n$n link set lo up
    done
    export SF_TEST_AGENT_NS_10_251_0_1=sfl-n1 SF_TEST_AGENT_NS_10_251_0_2=sfl-n2
    printf '10.251.0.1 slots=2\n10.251.0.2 slots=2\n' >"$TMP/hfns"
    "$SFRUN" --hostfile "$TMP/hfns" --map-by node --launch-agent "$AGENT" -n 4 \
        "$top_builddir/examples/pi" </dev/null >"$TMP/out" 2>"$TMP/err"
    check "examples/pi across 2 namespaced hosts exits 0" 0 $?
    check_grep "pi says OK" "^OK\$" "$TMP/out"
    "$SFRUN" --hostfile "$TMP/hfns" --launch-agent "$AGENT" -n 4 sh "$TMP/where.sh" \
        </dev/null >"$TMP/out" 2>"$TMP/err"
    check "2 ranks in sfl-n1's daemon" 2 "$(grep -c 'on 10\.251\.0\.1$' "$TMP/out")"
    check "2 ranks in sfl-n2's daemon" 2 "$(grep -c 'on 10\.251\.0\.2$' "$TMP/out")"
    check "nothing left in the namespaces" 0 "$( (ip netns pids sfl-n1; ip netns pids sfl-n2) | wc -l)"
    check "nothing left here" 0 "$(left)"
    ns_cleanup
else
    echo "note: not root or no network namespaces: namespaced hosts not tested"
fi
finish
