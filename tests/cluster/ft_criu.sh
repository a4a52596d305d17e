#!/bin/sh
# --ft=restart with the transparent (CRIU) backend on one cluster daemon:
# examples/mc_ckpt runs unmodified as far as checkpoints go (its own
# sf_ckpt_checkpoint calls are refused: the job has no app backend), sfd
# takes CRIU epochs every 0.5 s (--ckpt-interval) and on `sf ckpt JOB`;
# kill -9 of a rank after an epoch is committed restores every rank from
# it and the job ends with the undisturbed answer. Needs root and a
# working CRIU (scripts/setup builds it); every wait is bounded.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
. "$top_srcdir/tests/checkpoint/app_lib.sh"
[ "$(id -u)" = 0 ] || { echo "SKIP: CRIU needs root here"; exit 77; }
CRIU=${SF_CRIU:-$top_builddir/criu/sbin/criu}
[ -x "$CRIU" ] || CRIU=$top_srcdir/_build/criu/sbin/criu
[ -x "$CRIU" ] || CRIU=$(command -v criu || true)
if [ -z "$CRIU" ] || ! "$CRIU" check >/dev/null 2>&1; then
    ntest=$((ntest + 1))
    fail "no working criu: run scripts/setup (it builds CRIU 4.2 into _build/criu)"
    finish
fi
export SF_CRIU=$CRIU
unset SF_CKPT_STORE
SFD=$top_builddir/launcher/sfd/sfd
SF=$top_builddir/launcher/sf
MARK=sfftcriu$$
SF_SFD_DISCOVERY_PORT=$((20000 + $$ % 20000))
export SF_SFD_DISCOVERY_PORT
cleanup() {
    [ -n "${sfdpid:-}" ] && kill -9 "$sfdpid" 2>/dev/null
    for p in $(pgrep -f -- "$MARK"); do kill -9 "$p" 2>/dev/null; done
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM
head -c 32 /dev/urandom >"$TMP/key"
chmod 600 "$TMP/key"
"$SFD" --listen --state-dir "$TMP/sfd" --port 0 --bind 127.0.0.1 --name "$MARK" \
    --cluster-key "$TMP/key" --no-autodiscover >"$TMP/sfd.log" 2>&1 &
sfdpid=$!
wait_until test -S "$TMP/sfd/sfd.sock" || fail "sfd did not start"
committed() { ls "$TMP"/sfd/ckpt/*/"$1"/COMMITTED >/dev/null 2>&1; }
# Long enough (tens of seconds) for epochs, sf ckpt and the kill to land
# mid-run: a CRIU epoch needs the ranks inside MPI calls, so they cannot be
# parked on a file as the app-backend tests do.
ARGS="100000 40000 100"

"$SFRUN" --cluster "$TMP/sfd" -n 2 "$MC" $ARGS >"$TMP/ref.out" 2>/dev/null
check "undisturbed run" "0 OK" "$? $(tail -1 "$TMP/ref.out")"

start_bg criu "$SFRUN" --cluster "$TMP/sfd" -n 2 --ft=restart --ckpt=criu --ckpt-interval 0.5 \
    "$MC" $ARGS --tag "$MARK"
wait_long committed 1
KEY=$(sed -n 's/^sfrun: checkpoints: key \([0-9]*\),.*/\1/p' "$TMP/criu.err")
JOB=$(ls "$TMP/sfd/ckpt")
SF_CLUSTER="$TMP/sfd" "$SF" ckpt "$JOB" >"$TMP/sfckpt.out" 2>&1
check_grep "sf ckpt JOB takes a CRIU epoch" "job $JOB: checkpoint epoch [0-9]* committed" "$TMP/sfckpt.out"
kill_rank "$MARK" 1
wait_bg criu
check "kill -9 of a rank, CRIU restore: job exits 0" 0 "$(cat "$TMP/criu.rc")"
check "with the undisturbed answer" "$(tail -2 "$TMP/ref.out")" "$(tail -2 "$TMP/criu.out")"
check_grep "the restore is announced" "restoring every rank from CRIU checkpoint epoch" "$TMP/criu.err"
check_grep "the backend is named" "(transparent CRIU backend)" "$TMP/criu.err"
[ -n "$KEY" ] || fail "no checkpoint key announced"
finish
