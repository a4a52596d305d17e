#!/bin/sh
# CRIU checkpoints of running MPI jobs on one node: a 2- and a 4-rank
# tests/checkpoint/ckpt_ring (messages all the time, large ones checked
# word by word) is checkpointed mid-run through its sfd (ckpt_poke drives
# CKPT_PREPARE until `sf ckpt` does), then (a) goes on to the answer of an
# undisturbed run, and (b) after running on past the checkpoint, has all
# its ranks killed (kill -9 of the part's init, which takes its PID
# namespace) and restored from the image, and still ends with exactly that
# answer. Over Starfish's shared memory and over libfabric tcp.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
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
SFD=$top_builddir/launcher/sfd/sfd
POKE=$top_builddir/tests/checkpoint/ckpt_poke
RING=$top_builddir/tests/checkpoint/ckpt_ring
MARK=sfckpt$$
SF_SFD_DISCOVERY_PORT=$((20000 + $$ % 20000))
export SF_SFD_DISCOVERY_PORT
cleanup() {
    [ -n "${sfdpid:-}" ] && kill -9 "$sfdpid" 2>/dev/null
    pkill -9 -f "$MARK" 2>/dev/null
    rm -rf /dev/shm/starfish-*-job-*-ckpt-* 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM
head -c 32 /dev/urandom >"$TMP/key"
chmod 600 "$TMP/key"
# Rank stdout is sfd's default pty, stderr a pipe: the restore hands CRIU
# new ones for both.
"$SFD" --listen --state-dir "$TMP/sfd" --port 0 --bind 127.0.0.1 --name "$MARK" \
    --cluster-key "$TMP/key" --no-autodiscover >"$TMP/sfd.log" 2>&1 &
sfdpid=$!
wait_until test -S "$TMP/sfd/sfd.sock" || fail "sfd did not start"
SOCK=$TMP/sfd/sfd.sock
ITERS=1500

at_iter() { grep -q "^iter $2\$" "$1" 2>/dev/null; }
job_id() { "$POKE" jobs "$SOCK" | head -1; }

# case NP LABEL [sfrun options]
case_run() {
    np=$1 label=$2
    shift 2
    "$SFRUN" --cluster "$TMP/sfd" "$@" -n "$np" "$RING" "$ITERS" >"$TMP/ref.$label" 2>&1
    check "$label: undisturbed run" 0 $?
    ref=$(sed -n 's/^answer //p' "$TMP/ref.$label")

    # (a) checkpoint, carry on
    "$SFRUN" --cluster "$TMP/sfd" "$@" -n "$np" "$RING" "$ITERS" 500 >"$TMP/a.$label" 2>&1 &
    run=$!
    wait_until at_iter "$TMP/a.$label" 300 || fail "$label: the job did not get to iteration 300"
    job=$(job_id)
    "$POKE" checkpoint "$SOCK" "$job" 1 "$TMP/img-a-$label" >"$TMP/ck.$label" 2>&1
    check "$label: checkpoint mid-run" 0 $?
    sed 's/^/    /' "$TMP/ck.$label"
    wait $run
    check "$label: the job goes on to exit 0" 0 $?
    check "$label: and to the undisturbed answer" "$ref" "$(sed -n 's/^answer //p' "$TMP/a.$label")"

    # (b) checkpoint, run on, kill every rank, restore, finish
    "$SFRUN" --cluster "$TMP/sfd" "$@" -n "$np" "$RING" "$ITERS" 500 >"$TMP/b.$label" 2>&1 &
    run=$!
    wait_until at_iter "$TMP/b.$label" 300 || fail "$label: the job did not get to iteration 300"
    job=$(job_id)
    "$POKE" checkpoint "$SOCK" "$job" 1 "$TMP/img-b-$label" >"$TMP/ck.$label" 2>&1
    check "$label: second checkpoint" 0 $?
    sed 's/^/    /' "$TMP/ck.$label"
    wait_until at_iter "$TMP/b.$label" 600 || fail "$label: the job did not run on past it"
    "$POKE" restore "$SOCK" "$job" 1 "$TMP/img-b-$label" >"$TMP/rs.$label" 2>&1
    check "$label: kill -9 of every rank and restore from the image" 0 $?
    sed 's/^/    /' "$TMP/rs.$label"
    wait $run
    check "$label: the restored job exits 0" 0 $?
    check "$label: with exactly the undisturbed answer" "$ref" \
        "$(sed -n 's/^answer //p' "$TMP/b.$label")"
    if [ "$(sed -n 's/^answer //p' "$TMP/b.$label")" != "$ref" ]; then
        tail -5 "$TMP/b.$label" | sed 's/^/    /'
        tail -20 "$TMP/sfd.log" | sed 's/^/    /'
    fi
}

case_run 2 shm-2
case_run 4 shm-4
case_run 2 tcp-2 -x FI_PROVIDER=tcp
case_run 4 tcp-4 -x FI_PROVIDER=tcp
finish
