#!/bin/sh
# How jobs end: exit codes, signals, missing MPI_Finalize, MPI_Abort,
# wire-up with a hand-made rank, refused and malformed requests.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"

FAKE=$top_builddir/tests/launcher/fake_rank
out=$TMP/out err=$TMP/err

"$SFRUN" -n 4 "$FAKE" ok </dev/null >"$out" 2>"$err"
check "wire-up: 4 ranks finalize, exit 0" 0 $?
check "every rank got a correct address table" 4 "$(grep -c 'table ok (4 entries)' "$out")"

# Rank 2 fails, the others would block forever: the job must end now.
"$SFRUN" -n 3 sh -c 'if [ $OMPI_COMM_WORLD_RANK = 2 ]; then exit 7; fi; exec sleep 1000' \
    </dev/null >"$out" 2>"$err"
check "failing rank's status" 7 $?
check_grep "message names rank, host and status" "rank 2 on host .* exited with status 7" "$err"

# Two ranks fail together: the lower rank's status wins, whichever exit
# sfd reads first. sfd is stopped while both exit, so it sees them in one
# batch; then it is continued.
go=$TMP/go
"$SFRUN" -n 3 sh -c "case \$OMPI_COMM_WORLD_RANK in
    1) while [ ! -e $go ]; do sleep 0.01; done; exit 4 ;;
    2) while [ ! -e $go ]; do sleep 0.01; done; exit 9 ;;
    *) exec sleep 1000 ;;
    esac" </dev/null >"$out" 2>"$err" &
runpid=$!
# The ranks are children of the job's init (pid 1 of its PID namespace),
# sfd's only child; the init reaps them and reports each exit through a
# pipe: once only rank 0 is left and the init waits again, both reports
# are in the pipe for sfd to read in one batch.
sfd_of_run() {
    sfdpid=$(pgrep -P $runpid) && initpid=$(pgrep -P "$sfdpid") &&
        [ "$(pgrep -P "$initpid" | wc -l)" -eq 3 ]
}
zombies() { [ "$(pgrep -P "$initpid" | wc -l)" -eq 1 ] && [ "$(cat /proc/$initpid/wchan)" = do_wait ]; }
if wait_until sfd_of_run; then
    kill -STOP "$sfdpid"
    touch "$go"
    wait_until zombies || fail "ranks 1 and 2 did not exit"
    kill -CONT "$sfdpid"
else
    touch "$go" # let the job end either way
fi
wait $runpid
check "lowest failed rank's status wins" 4 $?
check_grep "and its message" "rank 1 on host .* exited with status 4" "$err"

"$SFRUN" -n 2 sh -c 'if [ $OMPI_COMM_WORLD_RANK = 1 ]; then kill -9 $$; fi; exec sleep 1000' \
    </dev/null >"$out" 2>"$err"
check "rank killed by signal 9: 128+9" 137 $?
check_grep "signal message" "rank 1 on host .* was killed by signal 9 (Killed)" "$err"

"$SFRUN" -n 3 "$FAKE" hang nofin hang </dev/null >"$out" 2>"$err"
check "exit 0 without MPI_Finalize fails the job" 1 $?
check_grep "finalize message" "rank 1 on host .* exited without calling MPI_Finalize" "$err"

"$SFRUN" -n 3 "$FAKE" hang exit:3 </dev/null >"$out" 2>"$err"
check "exit 3 after finalize" 3 $?

"$SFRUN" -n 2 "$FAKE" sig:11 hang </dev/null >"$out" 2>"$err"
check "segfaulting rank: 139" 139 $?

"$SFRUN" -n 3 "$FAKE" hang hang abort:5 </dev/null >"$out" 2>"$err"
check "MPI_Abort code" 5 $?
check_grep "abort message" "rank 2 called MPI_Abort(5): fake abort" "$err"

# Rank 0 never publishes an address: nobody may get a table.
"$SFRUN" --timeout 300ms -n 2 "$FAKE" nowire ok </dev/null >"$out" 2>"$err"
check "incomplete wire-up times out" 110 $?
check "no table without every rank's address" 0 "$(grep -c 'table ok' "$out")"

"$SFRUN" -n 1 /nonexistent/prog </dev/null >"$out" 2>"$err"
check "missing program path: 127" 127 $?
check_grep "names the missing program" "/nonexistent/prog" "$err"
"$SFRUN" -n 1 sf-no-such-command-xyz </dev/null >"$out" 2>"$err"
check "command not in PATH: 127" 127 $?
check_grep "command not found message" "sf-no-such-command-xyz': command not found" "$err"
printf 'echo hi\n' >"$TMP/noexec"
chmod 644 "$TMP/noexec"
"$SFRUN" -n 1 "$TMP/noexec" </dev/null >"$out" 2>"$err"
check "not executable: 126" 126 $?
check_grep "permission message" "noexec': Permission denied" "$err"

"$SFRUN" -n abc true </dev/null >"$out" 2>"$err"
check "bad -n: 2" 2 $?
check_grep "bad -n message" "sfrun: -n needs a positive number, got 'abc'" "$err"
"$SFRUN" -n 0 true </dev/null >"$out" 2>"$err"
check "-n 0: 2" 2 $?
"$SFRUN" --no-such-flag true </dev/null >"$out" 2>"$err"
check "unknown flag: 2" 2 $?
check_grep "unknown flag message" "unknown option '--no-such-flag'" "$err"
"$SFRUN" -n 2 </dev/null >"$out" 2>"$err"
check "no program: 2" 2 $?
"$SFRUN" --timeout soon true </dev/null >"$out" 2>"$err"
check "bad --timeout: 2" 2 $?
"$SFRUN" --bind-to socket true </dev/null >"$out" 2>"$err"
check "bad --bind-to: 2" 2 $?

cores=$(nproc)
many=$((cores + 1))
"$SFRUN" -n $many --nooversubscribe true </dev/null >"$out" 2>"$err"
check "--nooversubscribe refuses $many ranks on $cores cores" 1 $?
check_grep "refusal names the counts" "not enough slots: $many ranks requested" "$err"
"$SFRUN" -n $many true </dev/null >"$out" 2>"$err"
check "oversubscription runs by default" 0 $?
check_grep "with a one-line notice" "oversubscribed" "$err"
"$SFRUN" -n $many --oversubscribe true </dev/null >"$out" 2>"$err"
check "--oversubscribe runs" 0 $?
check_nogrep "without the notice" "oversubscribed" "$err"
finish
