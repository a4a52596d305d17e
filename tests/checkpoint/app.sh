#!/bin/sh
# Application-level checkpoints and --ft=restart on one node (sfrun's own
# daemon): examples/mc_ckpt (a Monte Carlo pi that checks its answer and
# checkpoints every 10 steps) undisturbed, then with kill -9 of a rank
# while every rank waits after the checkpoint of step 20 (and again after
# step 40), and during a checkpoint: the job rolls back and prints exactly
# the undisturbed output.
# Then the refusals: failure before any checkpoint, --max-restarts
# exceeded, a job without checkpoints, --restart-from of a killed job.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
. "$top_srcdir/tests/checkpoint/app_lib.sh"
N=3
ARGS="60 20000 10"

"$SFRUN" -n $N "$MC" $ARGS >"$TMP/ref.out" 2>"$TMP/ref.err"
check "undisturbed run" "0 OK" "$? $(tail -1 "$TMP/ref.out")"

# With checkpoints on, undisturbed: same output, epochs committed, only
# the last two kept.
"$SFRUN" -n $N --ckpt=app "$MC" $ARGS >"$TMP/plain.out" 2>"$TMP/plain.err"
echo 0 >"$TMP/plain.rc"
same_output plain ref
check "two epochs kept (garbage collected)" "4 5" "$(ls "$SF_CKPT_STORE"/*/ | sort -n | tr '\n' ' ' | sed 's/ $//')"
check_grep "sfrun names the checkpoint key" "sfrun: checkpoints: key [0-9]*, images in" "$TMP/plain.err"
rm -rf "$SF_CKPT_STORE"

# kill -9 of rank 1 after epoch 2 (step 20) is committed.
T=mc-one-$$
start_bg one "$SFRUN" -n $N --ft=restart --ckpt=app "$MC" $ARGS --pause-at 20 "$TMP/never" --tag "$T"
wait_long committed 2 && kill_rank "$T" 1
recovered one "kill -9 of a rank" "restarting every rank from checkpoint epoch 2 (restart 1 of at most 3)"
rm -rf "$SF_CKPT_STORE"

# Two failures in a row: rank 2 after epoch 2, then rank 0 after epoch 4.
T=mc-two-$$
start_bg two "$SFRUN" -n $N --ft=restart --ckpt=app "$MC" $ARGS --pause-at 20 "$TMP/never" \
    --pause-at 40 "$TMP/never" --tag "$T"
wait_long committed 2 && kill_rank "$T" 2
wait_long committed 4 && kill_rank "$T" 0
recovered two "two failures in a row" "restarting every rank from checkpoint epoch 4 (restart 2 of at most 3)"
rm -rf "$SF_CKPT_STORE"

# A failure during a checkpoint: ranks 0 and 2 stored epoch 3 and wait for
# its commit, rank 1 never gets there (killed): epoch 3 is never used, the
# job restarts from epoch 2.
T=mc-during-$$
start_bg during "$SFRUN" -n $N --ft=restart --ckpt=app "$MC" $ARGS --stall 1 30 "$TMP/never" \
    --tag "$T"
images3() { [ "$(ls "$SF_CKPT_STORE"/*/3/ 2>/dev/null | grep -c '^rank-[02]$')" = 2 ]; }
wait_long images3 && kill_rank "$T" 1
recovered during "failure during a checkpoint (epoch 2, not the incomplete 3)" "restarting every rank from checkpoint epoch 2"
rm -rf "$SF_CKPT_STORE"

# --max-restarts 1 and two failures: a clear error, not a hang.
T=mc-max-$$
start_bg max "$SFRUN" -n $N --ft=restart --ckpt=app --max-restarts 1 "$MC" $ARGS --pause-at 20 "$TMP/never" \
    --pause-at 40 "$TMP/never" --tag "$T"
wait_long committed 2 && kill_rank "$T" 1
wait_long committed 4 && kill_rank "$T" 1
wait_bg max
check "--max-restarts exceeded: the job fails" 137 "$(cat "$TMP/max.rc")"
check_grep "--max-restarts named" "rank 1 on host .* was killed by signal 9 (Killed); --ft=restart gave up: 1 restart already (--max-restarts 1)" "$TMP/max.err"
KEY=$(sed -n 's/^sfrun: checkpoints: key \([0-9]*\),.*/\1/p' "$TMP/max.err")

# --restart-from the job just killed: it ends with the undisturbed answer.
"$SFRUN" -n $N --restart-from "$KEY" "$MC" $ARGS >"$TMP/from.out" 2>"$TMP/from.err"
echo $? >"$TMP/from.rc"
check "--restart-from $KEY exits 0" 0 "$(cat "$TMP/from.rc")"
check_grep "--restart-from computes the right answer" "^OK$" "$TMP/from.out"
check "--restart-from prints from epoch 4 on" "$(sed -n '/^step 50/,$p' "$TMP/ref.out")" "$(cat "$TMP/from.out")"
"$SFRUN" -n 2 --restart-from "$KEY" "$MC" $ARGS >"$TMP/from2.out" 2>"$TMP/from2.err"
check_grep "--restart-from with another -n is refused" "has images of 3 ranks, this job runs 2: restart with -n 3" "$TMP/from2.err"
"$SFRUN" -n $N --restart-from 999:1 "$MC" $ARGS >"$TMP/from3.out" 2>"$TMP/from3.err"
check_grep "--restart-from of an unknown job is refused" "epoch 1 of job 999 is not committed" "$TMP/from3.err"
rm -rf "$SF_CKPT_STORE"

# A failure before any checkpoint: the job ends and says why.
T=mc-early-$$
start_bg early "$SFRUN" -n $N --ft=restart --ckpt=app "$MC" $ARGS --pause-at 0 "$TMP/never" --tag "$T"
kill_rank "$T" 1
wait_bg early
check "failure before any checkpoint: the job fails" 137 "$(cat "$TMP/early.rc")"
check_grep "no checkpoint named" "cannot restart: no checkpoint was committed yet (the program has not completed sf_ckpt_checkpoint() on every rank)" "$TMP/early.err"

# A job without checkpoints: the program is told, and runs unprotected.
"$SFRUN" -n 2 "$MC" 20 1000 10 >"$TMP/off.out" 2>"$TMP/off.err"
check_grep "checkpoint without --ckpt is refused to the program" "checkpoint at step 10 failed (Operation not supported)" "$TMP/off.err"
"$SFRUN" -n 2 --ckpt=app --ckpt-interval 5 "$MC" 20 1000 10 >"$TMP/iv.out" 2>"$TMP/iv.err"
check_grep "--ckpt-interval with the app backend is refused" "--ckpt-interval needs the transparent (CRIU) backend" "$TMP/iv.err"
finish
