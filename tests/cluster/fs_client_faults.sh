#!/bin/sh
# Whole files through `sf fs` while nodes fail, on 4 namespaced nodes: a
# link cut during a put leaves either the complete new file or none (never
# a partial one); kill -9 of one node, repair, kill -9 of another, repair:
# every file (and the directory tree) still reads back bit-exact through
# each survivor. Every wait is a poll with a bound. Needs root.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
. "$top_srcdir/tests/lib-cluster.sh"
need_netns
real_sfd_listens || skip "sfd has no --listen (cluster) mode yet"
export SF_SFD="$REAL_SFD"
. "$top_srcdir/tests/cluster/fs_client_lib.sh"
MiB=1048576

# st NODE KEY: one value of the node's filesystem status.
st() { fs "$1" status 2>/dev/null | sed -n "s/^$2=//p"; }
# settled N NODES...: each counts N members and has no repair left.
settled() {
    want=$1
    shift
    for n in "$@"; do
        [ "$(st "$n" members)" = "$want" ] || return 1
        [ "$(st "$n" repair_pending)" = 0 ] || return 1
        [ "$(st "$n" under_replicated)" = 0 ] || return 1
    done
}
# all_read NODE LABEL: every file reads back bit-exact through NODE.
all_read() {
    for f in f0 f1 fblk f100 d/a/x d/b/y; do
        fs "$1" get /$f - 2>"$TMP/err" | cmp -s - "$TMP/$(echo $f | tr / _)"
        check "$2: /$f bit-exact through $1" 0 $?
    done
    check "$2: the tree lists the same through $1" "a/ b/" "$(fs "$1" ls /d | tr '\n' ' ' | sed 's/ $//')"
}

"$SF" up --netns --nodes 4 --wait 20 >"$TMP/out" 2>&1
check "sf up --netns --nodes 4" 0 $?
[ -f "$CDIR/cluster" ] || { sed 's/^/    /' "$TMP/out"; finish; }
wait_long fs_ready n1 n2 n3 n4
check "the namespace answers on all 4" 0 $?
wait_long settled 4 n1 n2 n3 n4
check "the block layer counts 4 members" 0 $?

: >"$TMP/f0"
printf x >"$TMP/f1"
head -c $MiB /dev/urandom >"$TMP/fblk"
head -c $((100 * MiB)) /dev/urandom >"$TMP/f100"
head -c 5000 /dev/urandom >"$TMP/d_a_x"
head -c $((2 * MiB + 1)) /dev/urandom >"$TMP/d_b_y"
for f in f0 f1 fblk f100; do
    fs n1 put "$TMP/$f" /$f 2>"$TMP/err"
    check "put $f" 0 $?
done
fs n2 mkdir -p /d/a /d/b && fs n2 put "$TMP/d_a_x" /d/a/x && fs n2 put "$TMP/d_b_y" /d/b/y
check "a small tree" 0 $?

# 1. Cut n4's link during a 60 MiB put through n1: the put ends either way;
# a success means the whole file, a failure means no file.
head -c $((60 * MiB)) /dev/urandom >"$TMP/fcut"
base=$(st n1 writes)
fs n1 put "$TMP/fcut" /fcut >"$TMP/cut.out" 2>&1 &
putter=$!
moved() { [ "$(st n1 writes)" != "$base" ]; }
wait_until moved
check "cut: the put is under way" 0 $?
"$SF" node cut n4 >"$TMP/out" 2>&1
check "cut: sf node cut n4" 0 $?
wait_long proc_dead "$putter"
check "cut: the put ended" 0 $?
wait "$putter"
pst=$?
echo "    the put during the cut exited $pst: $(head -c 200 "$TMP/cut.out")"
check "cut: exit 0 or 1" yes "$([ $pst -le 1 ] && echo yes)"
if [ $pst = 0 ]; then
    fs n2 get /fcut - | cmp -s - "$TMP/fcut"
    check "cut: the file that was committed is whole" 0 $?
else
    check_grep "cut: the error says why" "sf fs: /fcut" "$TMP/cut.out"
    fs n2 stat /fcut >/dev/null 2>&1
    check "cut: no partial file is visible" 1 $?
fi
"$SF" node heal n4 >"$TMP/out" 2>&1
check "heal: sf node heal n4" 0 $?
wait_long settled 4 n1 n2 n3 n4
check "heal: 4 members, repair settled" 0 $?
all_read n3 "after the cut"

# 2. kill -9 one daemon; repair; kill -9 another; repair.
kill -KILL "$(cat "$CDIR/n4/sfd.pid")"
wait_long settled 3 n1 n2 n3
check "kill n4: the 3 others settle" 0 $?
all_read n1 "after n4"
kill -KILL "$(cat "$CDIR/n3/sfd.pid")"
wait_long settled 2 n1 n2
check "kill n3: n1 and n2 settle" 0 $?
all_read n2 "after n3"
all_read n1 "after n3"
fs n1 put "$TMP/fblk" /after 2>"$TMP/err"
check "a new file can still be written with 2 nodes" 0 $?
check "and read" "$(sha256sum <"$TMP/fblk")" "$(fs n2 get /after - | sha256sum)"

"$SF" down >"$TMP/out" 2>&1
check "sf down" 0 $?
finish
