#!/bin/sh
# Signals and clean-up: --timeout, Ctrl-C (SIGINT to sfrun) reaching every
# rank, SIGUSR1 forwarding, and kill -9 of sfrun leaving nothing behind.
# Ranks carry a unique marker in argv so leftovers can be found.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"

out=$TMP/out err=$TMP/err
mark=sftest-marker-$$

"$SFRUN" --timeout 0.5 -n 3 sh -c 'if [ $OMPI_COMM_WORLD_RANK = 1 ]; then exit 0; fi; while :; do sleep 0.2; done' \
    "$mark-t" </dev/null >"$out" 2>"$err"
check "--timeout exits 110" 110 $?
check_grep "timeout message names the ranks still running" \
    "sfrun: job timed out after 0.5 s; ranks still running: 0,2" "$err"
wait_until no_proc_matching "$mark-t" || fail "ranks left after --timeout"

# Ctrl-C: every rank gets SIGINT; sfrun exits 130; nothing remains.
script='trap "echo rank \$OMPI_COMM_WORLD_RANK got INT; exit 0" INT
        trap "echo rank \$OMPI_COMM_WORLD_RANK got USR1" USR1
        echo ready; while :; do sleep 0.1; done'
: >"$out" # the last job's "ready" lines must not count
"$SFRUN" -n 3 sh -c "$script" "$mark-i" </dev/null >"$out" 2>"$err" &
runpid=$!
if wait_until lines_at_least "$out" ready 3; then
    kill -USR1 $runpid
    wait_until lines_at_least "$out" "got USR1" 3 || fail "SIGUSR1 did not reach every rank"
    kill -INT $runpid
else
    kill -9 $runpid # never wait on a job that did not start as expected
fi
wait $runpid
check "SIGINT: sfrun exits 130" 130 $?
check "every rank got SIGINT" 3 "$(grep -c 'got INT' "$out")"
check "every rank got SIGUSR1" 3 "$(grep -c 'got USR1' "$out")"
wait_until no_proc_matching "$mark-i"
check "no rank left after SIGINT" 0 "$(pgrep -f -- "$mark-i" | wc -l)"

# A rank that ignores SIGTERM is SIGKILLed after the grace period.
: >"$out" # the last job's "ready" lines must not count
SF_SFD_KILL_GRACE=200ms "$SFRUN" -n 2 sh -c 'trap "" TERM; echo ready; while :; do sleep 0.1; done' \
    "$mark-g" </dev/null >"$out" 2>"$err" &
runpid=$!
wait_until lines_at_least "$out" ready 2 && kill -TERM $runpid || kill -9 $runpid
wait $runpid
check "SIGTERM: sfrun exits 143 even if ranks ignore it" 143 $?
wait_until no_proc_matching "$mark-g"
check "no rank left after SIGKILL escalation" 0 "$(pgrep -f -- "$mark-g" | wc -l)"

# kill -9 of sfrun: sfd and the ranks go too.
: >"$out" # the last job's "ready" lines must not count
"$SFRUN" -n 3 sh -c 'echo ready; while :; do sleep 0.1; done' "$mark-k" </dev/null >"$out" 2>"$err" &
runpid=$!
if wait_until lines_at_least "$out" ready 3; then
    sfdpid=$(pgrep -P $runpid)
    kill -9 $runpid
    wait $runpid 2>/dev/null
    wait_until proc_gone "$sfdpid"
    check "sfd gone after kill -9 of sfrun" 1 "$(proc_gone "$sfdpid" && echo 1)"
    wait_until no_proc_matching "$mark-k"
    check "no rank left after kill -9 of sfrun" 0 "$(pgrep -f -- "$mark-k" | wc -l)"
else
    fail "ranks did not start"
    kill -9 $runpid
fi
# kill -9 of sfd: sfrun reports the lost daemon and exits 1; ranks die
# with their parent.
: >"$out" # the last job's "ready" lines must not count
"$SFRUN" -n 2 sh -c 'echo ready; while :; do sleep 0.1; done' "$mark-d" </dev/null >"$out" 2>"$err" &
runpid=$!
if wait_until lines_at_least "$out" ready 2; then
    kill -9 "$(pgrep -P $runpid)" || kill -9 $runpid
    wait $runpid
    check "sfrun exits 1 when sfd dies" 1 $?
    check_grep "and says so" "lost the Starfish daemon" "$err"
    wait_until no_proc_matching "$mark-d"
    check "no rank left after sfd died" 0 "$(pgrep -f -- "$mark-d" | wc -l)"
else
    fail "ranks did not start"
    kill -9 $runpid
fi
finish
