#!/bin/sh
# --ft=restart with the app backend on 3 namespaced nodes (real sfd): the
# Monte Carlo example (examples/mc_ckpt, checkpoints every 10 steps, 2 ranks
# per node) undisturbed; kill -9 of a rank on n2 after epoch 2, then of a
# rank on n1 (the coordinator's node) after epoch 4: the job rolls back
# twice and prints exactly the undisturbed output. Then a whole node dies
# (sf node kill n3) after a checkpoint: its ranks restart on the other two
# nodes from the images in the Starfish filesystem (two replicas), with
# the same output again. Every wait is bounded.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
. "$top_srcdir/tests/lib-cluster.sh"
. "$top_srcdir/tests/checkpoint/app_lib.sh"
need_netns
real_sfd_listens || skip "sfd has no --listen (cluster) mode yet"
export SF_SFD="$REAL_SFD"
# Each node keeps its images in its own state dir (STATE_DIR/ckpt).
unset SF_CKPT_STORE
committed_on() { [ "$(ls "$CDIR"/n*/ckpt/*/"$1"/COMMITTED 2>/dev/null | wc -l)" = 3 ]; }
committed() { committed_on "$1"; }
ARGS="60 20000 10"

"$SF" up --netns --nodes 3 --wait 20 >"$TMP/up" 2>&1
check "sf up --netns --nodes 3" 0 $?
[ -f "$CDIR/cluster" ] || { sed 's/^/    /' "$TMP/up"; finish; }

"$SFRUN" -n 6 -N 2 "$MC" $ARGS >"$TMP/ref.out" 2>"$TMP/ref.err"
check "undisturbed run on 3 nodes" "0 OK" "$? $(tail -1 "$TMP/ref.out")"

# Two failures in a row, on a part's node and on the coordinator's.
T=mc-ft-$$
start_bg two "$SFRUN" -n 6 -N 2 --ft=restart "$MC" $ARGS --pause-at 20 "$TMP/never" \
    --pause-at 40 "$TMP/never" --tag "$T"
wait_long committed 2
KEY=$(sed -n 's/^sfrun: checkpoints: key \([0-9]*\),.*/\1/p' "$TMP/two.err")
"$SF" ckpt "$KEY" >"$TMP/sfckpt.out" 2>&1
check_grep "sf ckpt JOB: the app backend's answer" "job $KEY uses the application-level backend.*last committed epoch: 2" "$TMP/sfckpt.out"
kill_rank "$T" 3
wait_long committed 4 && kill_rank "$T" 0
wait_bg two
check "images on every node, two epochs kept" "2 2 2" \
    "$(for n in n1 n2 n3; do ls "$CDIR"/$n/ckpt/*/ 2>/dev/null | wc -l; done | tr '\n' ' ' | sed 's/ $//')"
check_grep "first restart from epoch 2" "restarting every rank from checkpoint epoch 2 (restart 1 of" "$TMP/two.err"
recovered two "kill -9 on n2, then on n1" "restarting every rank from checkpoint epoch 4 (restart 2 of"
rm -rf "$CDIR"/n*/ckpt

# Images went to the Starfish filesystem, two epochs kept there too.
check "images in the filesystem, two epochs kept" "2" \
    "$("$SF" fs ls "/ckpt/$KEY" 2>/dev/null | grep -c '^[0-9]')"

# A node dies with its ranks after a checkpoint: its ranks restart on the
# two surviving nodes from the images in the filesystem.
T=mc-node-$$
start_bg node "$SFRUN" -n 6 -N 2 --ft=restart "$MC" $ARGS --pause-at 20 "$TMP/never" --tag "$T"
wait_long committed 2
"$SF" node kill n3 >"$TMP/kill.out" 2>&1
check "sf node kill n3" 0 $?
wait_bg node
check_grep "node lost: its ranks move" "2 ranks of a lost node restart on the surviving nodes" "$TMP/node.err"
recovered node "node n3 lost" "restarting every rank from checkpoint epoch 2 (restart 1 of"
finish
