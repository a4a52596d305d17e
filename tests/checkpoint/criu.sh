#!/bin/sh
# The CRIU that scripts/setup provides (scripts/build-criu: the distro's
# if it works here, else CRIU 4.2 built into _build/criu) checkpoints and
# restores for real on this kernel, the way ranks will run: a counter
# process in its own PID namespace (so a restore never collides on PIDs)
# is dumped (it stops), restored, and counts on from where it stopped.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
[ "$(id -u)" = 0 ] || { echo "SKIP: CRIU needs root here"; exit 77; }
CRIU=$top_builddir/criu/sbin/criu
[ -x "$CRIU" ] || CRIU=$(command -v criu || true)
if [ -z "$CRIU" ]; then
    ntest=$((ntest + 1))
    fail "no criu: run scripts/setup (it builds CRIU 4.2 into _build/criu when needed)"
    finish
fi
cleanup() {
    [ -n "${pid:-}" ] && kill -9 "$pid" 2>/dev/null
    pkill -9 -f "sfckpt-counter-$$" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

"$CRIU" check >"$TMP/check" 2>&1
check "criu check passes ($CRIU)" 0 $?
grep -v "^Warn" "$TMP/check" | sed 's/^/    /'

count=$TMP/count
unshare --pid --fork setsid sh -c \
    "i=0; while :; do i=\$((i + 1)); echo \$i >$count.new; mv $count.new $count; sleep 0.02; done # sfckpt-counter-$$" \
    </dev/null >/dev/null 2>&1 &
at_least() { [ -s "$count" ] && [ "$(cat "$count")" -ge "$1" ]; }
wait_until at_least 5 || fail "the counter did not start"
pid=$(pgrep -f "^sh -c i=0.*sfckpt-counter-$$" | head -1)
check "counter runs in its own PID namespace" yes \
    "$([ -n "$pid" ] && [ "$(readlink /proc/$pid/ns/pid)" != "$(readlink /proc/self/ns/pid)" ] && echo yes)"

mkdir "$TMP/img"
"$CRIU" dump -t "$pid" -D "$TMP/img" -o dump.log --network-lock nftables >"$TMP/dump.out" 2>&1
rc=$?
check "dump exits 0" 0 $rc
[ $rc = 0 ] || grep -h Error "$TMP/img/dump.log" "$TMP/dump.out" | sed 's/^/    /'
wait_until proc_gone "$pid"
check "the dumped process is gone" yes "$(proc_gone "$pid" && echo yes)"
stopped=$(cat "$count")

"$CRIU" restore -d -D "$TMP/img" -o restore.log --network-lock nftables >"$TMP/restore.out" 2>&1
rc=$?
check "restore exits 0" 0 $rc
check "it did not start over (count $(cat "$count") >= $stopped)" yes "$(at_least "$stopped" && echo yes)"
[ $rc = 0 ] || grep -h Error "$TMP/img/restore.log" "$TMP/restore.out" | sed 's/^/    /'
wait_until at_least $((stopped + 3))
check "the restored counter counts on from $stopped" yes "$(at_least $((stopped + 3)) && echo yes)"
pid=$(pgrep -f "^sh -c i=0.*sfckpt-counter-$$" | head -1)
check "it runs under its old PID-namespace tree" yes \
    "$([ -n "$pid" ] && [ "$(readlink /proc/$pid/ns/pid)" != "$(readlink /proc/self/ns/pid)" ] && echo yes)"
finish
