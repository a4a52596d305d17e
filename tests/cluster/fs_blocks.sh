#!/bin/sh
# The filesystem's block layer on 4 namespaced nodes (sf up --netns), driven
# through the local sockets by tests/cluster/fs_poke: blocks of 0 B, 1 B,
# one block and 100 blocks are written with 2 replicas (each on exactly 2
# nodes); a link cut during a write never yields a success with fewer
# copies; kill -9 of one daemon, repair, kill -9 of another, repair: every
# block reads back bit-exact and has 2 copies again; bytes flipped in stored
# blocks are found by reads and scrub and repaired; GC frees the blocks no
# file references and keeps a named file's (sf fs put). Every wait is a poll
# with a bound. Needs root (skips otherwise).
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
. "$top_srcdir/tests/lib-cluster.sh"
. "$top_srcdir/tests/cluster/fs_client_lib.sh" # fs NODE ARGS, wait_long CMD
need_netns
real_sfd_listens || skip "sfd has no --listen (cluster) mode yet"
export SF_SFD="$REAL_SFD"
POKE=$top_builddir/tests/cluster/fs_poke
MiB=1048576
# GC (section 5) frees unreferenced blocks of any age, not only those put
# more than 15 minutes ago: this test's blocks are seconds old.
export SF_FSBLK_GC_GRACE=0

# stat_of NODE KEY: one value of the node's block-layer status.
stat_of() { "$POKE" "$CDIR/$1/sfd.sock" status 2>/dev/null | sed -n "s/^$2=//p"; }
# settled N NODES...: each node counts N members and has no repair left.
settled() {
    want=$1
    shift
    for n in "$@"; do
        [ "$(stat_of "$n" members)" = "$want" ] || return 1
        [ "$(stat_of "$n" repair_pending)" = 0 ] || return 1
        [ "$(stat_of "$n" under_replicated)" = 0 ] || return 1
    done
}
# copies ID NODES...: how many of the nodes hold block ID on disk.
copies() {
    id=$1
    shift
    c=0
    for n in "$@"; do
        d=$(echo "$id" | cut -c1-2)
        r=$(echo "$id" | cut -c3-)
        [ -f "$CDIR/$n/fs/blocks/$d/$r" ] && c=$((c + 1))
    done
    echo $c
}
# all_have K IDFILES -- NODES...: every listed block has exactly K copies.
all_have() {
    k=$1
    shift
    files=
    while [ "$1" != -- ]; do
        files="$files $1"
        shift
    done
    shift
    bad=0
    for id in $(cat $files | sort -u); do
        got=$(copies "$id" "$@")
        if [ "$got" != "$k" ]; then
            echo "    block $id: $got copies on $*"
            bad=$((bad + 1))
        fi
    done
    echo "$bad"
}
# read_all NODE LABEL: every file reads back bit-exact through NODE.
read_all() {
    for f in f0 f1 fblk f100; do
        "$POKE" "$CDIR/$1/sfd.sock" get "$TMP/$f.ids" "$TMP/$f.back" 2>"$TMP/err"
        check "$2: read $f through $1" 0 $?
        cmp -s "$TMP/$f" "$TMP/$f.back"
        check "$2: $f is bit-exact" 0 $?
    done
}

"$SF" up --netns --nodes 4 --wait 20 >"$TMP/out" 2>&1
check "sf up --netns --nodes 4" 0 $?
[ -f "$CDIR/cluster" ] || { sed 's/^/    /' "$TMP/out"; finish; }
wait_long settled 4 n1 n2 n3 n4
check "the block layer of all 4 counts 4 members" 0 $?
check "block size is 1 MiB" $MiB "$(stat_of n1 block_size)"

# 1. Writes: 0 B, 1 B, one block, 100 blocks (through two different nodes).
: >"$TMP/f0"
printf x >"$TMP/f1"
head -c $MiB /dev/urandom >"$TMP/fblk"
head -c $((100 * MiB)) /dev/urandom >"$TMP/f100"
for f in f0 f1 fblk; do
    "$POKE" "$CDIR/n1/sfd.sock" put 0 "$TMP/$f" "$TMP/$f.ids" 2>"$TMP/err"
    check "write $f through n1" 0 $?
done
"$POKE" "$CDIR/n2/sfd.sock" put 2 "$TMP/f100" "$TMP/f100.ids" 2>"$TMP/err"
check "write 100 blocks through n2" 0 $?
check "100 block ids" 100 "$(grep -c '^[0-9a-f]\{64\}$' "$TMP/f100.ids")"
check "the 0 B block is BLAKE2b-256 of nothing" \
    "$(b2sum -l 256 </dev/null | cut -c1-64)" "$(cat "$TMP/f0.ids")"
# A file with a name (sf fs: blocks through this layer, the inode through
# the metadata layer), 20 blocks: its block list is a block too.
head -c $((20 * MiB + 12345)) /dev/urandom >"$TMP/fref"
wait_long fs_ready n1 n2 n3 n4
check "the namespace answers through all 4" 0 $?
fs n1 put "$TMP/fref" /fref >"$TMP/out" 2>&1
check "sf fs put of a 21-block file" 0 $?
# A file with 3 replicas (its blocks also written by fs_poke, which tells
# their ids): repair keeps 3 copies, not the default 2.
head -c $((5 * MiB)) /dev/urandom >"$TMP/fr3"
"$POKE" "$CDIR/n3/sfd.sock" put 3 "$TMP/fr3" "$TMP/fr3.ids" 2>"$TMP/err"
check "write 5 blocks with 3 replicas through n3" 0 $?
fs n3 put -r 3 "$TMP/fr3" /fr3 >"$TMP/out" 2>&1
check "sf fs put -r 3 of the same 5 blocks" 0 $?
check "r=3: every block on exactly 3 of 4 nodes" 0 "$(all_have 3 "$TMP/fr3.ids" -- n1 n2 n3 n4 | tail -n 1)"
IDS="$TMP/f0.ids $TMP/f1.ids $TMP/fblk.ids $TMP/f100.ids"
check "every block on exactly 2 of 4 nodes" 0 "$(all_have 2 $IDS -- n1 n2 n3 n4 | tail -n 1)"
read_all n3 "4 nodes"
# Block frames share the control connections with keep-alives: none of
# them may have gone missing long enough for a verdict.
check "no member declared gone during the transfers" 0 \
    "$("$SF" status 2>/dev/null | awk '$1 == "peers_gone" { print $2 }')"

# 2. A link cut during a write: the write fails or succeeds, and every block
# it reported written has 2 copies on disk.
head -c $((40 * MiB)) /dev/urandom >"$TMP/fcut"
base=$(stat_of n4 peer_puts)
"$POKE" "$CDIR/n1/sfd.sock" put 2 "$TMP/fcut" "$TMP/fcut.ids" >"$TMP/cut.out" 2>&1 &
writer=$!
puts_moved() { [ "$(stat_of n4 peer_puts)" != "$base" ]; }
wait_until puts_moved
check "cut: n4 is receiving blocks of the write" 0 $?
"$SF" node cut n4 >"$TMP/out" 2>&1
check "cut: sf node cut n4" 0 $?
wait_long proc_dead "$writer"
check "cut: the write ended" 0 $?
wait "$writer"
wst=$?
echo "    the write during the cut exited $wst: $(grep -c '^[0-9a-f]\{64\}$' "$TMP/fcut.ids") of 40 blocks reported written"
check "cut: the writer exited 0 or 1 (a clean error)" yes "$([ $wst -le 1 ] && echo yes)"
[ $wst = 1 ] && check_grep "cut: the error names a node" "n[0-9]\|node" "$TMP/cut.out"
grep '^[0-9a-f]\{64\}$' "$TMP/fcut.ids" >"$TMP/fcut.ok"
check "cut: every block reported written has >= 2 copies" 0 "$(
    bad=0
    for id in $(cat "$TMP/fcut.ok"); do
        [ "$(copies "$id" n1 n2 n3 n4)" -ge 2 ] || bad=$((bad + 1))
    done
    echo $bad
)"
"$SF" node heal n4 >"$TMP/out" 2>&1
check "heal: sf node heal n4" 0 $?
wait_long settled 4 n1 n2 n3 n4
check "heal: 4 members, repair settled" 0 $?
check "heal: every block on exactly 2 of 4 nodes" 0 "$(all_have 2 $IDS -- n1 n2 n3 n4 | tail -n 1)"
check "heal: r=3 blocks on exactly 3 of 4" 0 "$(all_have 3 "$TMP/fr3.ids" -- n1 n2 n3 n4 | tail -n 1)"

# 3. kill -9 one daemon; repair; kill -9 another; repair.
kill -KILL "$(cat "$CDIR/n2/sfd.pid")"
wait_long settled 3 n1 n3 n4
check "kill n2: the 3 others settle (repair done)" 0 $?
check "kill n2: every block on exactly 2 of n1 n3 n4" 0 "$(all_have 2 $IDS -- n1 n3 n4 | tail -n 1)"
check "kill n2: nothing lost (n1)" 0 "$(stat_of n1 lost)"
check "kill n2: r=3 blocks on all 3 survivors" 0 "$(all_have 3 "$TMP/fr3.ids" -- n1 n3 n4 | tail -n 1)"
read_all n4 "after n2"
kill -KILL "$(cat "$CDIR/n3/sfd.pid")"
wait_long settled 2 n1 n4
check "kill n3: n1 and n4 settle (repair done)" 0 $?
check "kill n3: every block on both survivors" 0 "$(all_have 2 $IDS "$TMP/fr3.ids" -- n1 n4 | tail -n 1)"
read_all n1 "after n3"
echo "    repair copies: n1 $(stat_of n1 copies_done), n4 $(stat_of n4 copies_done)"

# 4. Flip bytes in every stored block of f100 on n4: reads find the bad
# copies on n4 where it is the primary and repair them; scrub finds the rest.
for id in $(cat "$TMP/f100.ids"); do
    f="$CDIR/n4/fs/blocks/$(echo "$id" | cut -c1-2)/$(echo "$id" | cut -c3-)"
    printf 'FLIP' | dd of="$f" bs=1 seek=4096 conv=notrunc 2>/dev/null
done
check "flip: n4's copies no longer match their names" 100 "$(
    cd "$CDIR/n4/fs/blocks" && for id in $(cat "$TMP/f100.ids"); do
        p="$(echo "$id" | cut -c1-2)/$(echo "$id" | cut -c3-)"
        [ "$(b2sum -l 256 "$p" | cut -c1-64)" = "$id" ] || echo bad
    done | grep -c bad
)"
"$POKE" "$CDIR/n1/sfd.sock" get "$TMP/f100.ids" "$TMP/f100.back" 2>"$TMP/err"
check "flip: read of f100 through n1" 0 $?
cmp -s "$TMP/f100" "$TMP/f100.back"
check "flip: f100 is bit-exact" 0 $?
found=$(stat_of n4 corrupt_found)
echo "    reads found $found corrupt copies on n4; n1 repaired $(stat_of n1 corrupt_repaired)"
check "flip: reads found corrupt copies on n4" yes "$([ "${found:-0}" -gt 0 ] && echo yes)"
"$POKE" "$CDIR/n4/sfd.sock" scrub >"$TMP/scrub" 2>&1
check "flip: scrub on n4 exits 0 (all repaired)" 0 $?
sed 's/^/    scrub: /' "$TMP/scrub"
check "flip: scrub found the rest" $((100 - found)) "$(sed -n 's/^corrupt=//p' "$TMP/scrub")"
# n4_bad: copies on n4 that are missing or do not match their names.
n4_bad() {
    (cd "$CDIR/n4/fs/blocks" && for id in $(cat $IDS | sort -u); do
        p="$(echo "$id" | cut -c1-2)/$(echo "$id" | cut -c3-)"
        [ "$(b2sum -l 256 "$p" 2>/dev/null | cut -c1-64)" = "$id" ] || echo bad
    done | grep -c bad)
}
n4_good() { [ "$(n4_bad)" = 0 ]; }
# (the reads' re-puts to n4 are acknowledged after the reads return)
wait_long n4_good
check "flip: every copy on n4 matches its name again" 0 "$(n4_bad)"
"$POKE" "$CDIR/n4/sfd.sock" scrub >"$TMP/scrub" 2>&1
check "flip: a second scrub finds nothing" 0 "$(sed -n 's/^corrupt=//p' "$TMP/scrub")"

# 5. GC: the blocks written by fs_poke belong to no file and go; the named
# file's blocks (data and block list) stay. Blocks re-put in the last
# second survive a GC (the file clock's grain): poll until all are gone.
refs_before=$(find "$CDIR/n1/fs/blocks" -type f | wc -l)
gc_all() {
    for n in n1 n4; do
        "$POKE" "$CDIR/$n/sfd.sock" gc >"$TMP/gc.$n" 2>&1 || return 1
    done
    for n in n1 n4; do
        [ "$(find "$CDIR/$n/fs/blocks" -type f | wc -l)" = 27 ] || return 1
    done
}
wait_long gc_all
check "gc: n1 and n4 come down to the named files' 27 blocks (26 data, 1 list)" 0 $?
check "gc: no block written by fs_poke is left" 0 "$(all_have 0 $IDS -- n1 n4 | tail -n 1)"
sed 's/^/    gc n1: /' "$TMP/gc.n1"
check_grep "gc: n1 saw the named files" "^files=[2-9]" "$TMP/gc.n1"
check_grep "gc: n1 saw its block list" "^list_blocks=[1-9]" "$TMP/gc.n1"
echo "    n1 held $refs_before blocks before the GC"
fs n4 get /fref "$TMP/fref.back" >"$TMP/out" 2>&1
check "gc: sf fs get of the named file through n4" 0 $?
cmp -s "$TMP/fref" "$TMP/fref.back"
check "gc: the named file is bit-exact" 0 $?
fs n1 get /fr3 "$TMP/fr3.back" >"$TMP/out" 2>&1
check "gc: sf fs get of the r=3 file through n1" 0 $?
cmp -s "$TMP/fr3" "$TMP/fr3.back"
check "gc: the r=3 file is bit-exact" 0 $?

"$SF" down >"$TMP/out" 2>&1
check "sf down" 0 $?
finish
