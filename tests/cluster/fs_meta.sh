#!/bin/sh
# The filesystem's namespace on 4 namespaced nodes (sf up --netns), driven
# through each node's local socket by tests/cluster/fs_meta_poke: mkdir,
# create, commit, readdir, rename (within and across directories), unlink
# and rmdir issued on different nodes and seen by all; concurrent creates of
# one name from 4 nodes (exactly one wins); bad paths refused with clear
# errors; a node cut off while names are deleted and a file committed comes
# back stale and loses; kill -9 of a node holding records, then of a second
# one: the whole namespace still reads the same. Every wait is a poll with a bound.
# Needs root (skips otherwise).
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
. "$top_srcdir/tests/lib-cluster.sh"
. "$top_srcdir/tests/cluster/fs_client_lib.sh"
need_netns
real_sfd_listens || skip "sfd has no --listen (cluster) mode yet"
export SF_SFD="$REAL_SFD"
POKE=$top_builddir/tests/cluster/fs_meta_poke

# p NODE VERB ARGS...: run the poke against a node's socket.
p() {
    n=$1
    shift
    "$POKE" "$CDIR/$n/sfd.sock" "$@"
}
stat_of() { p "$1" status "fsmeta_$2" 2>/dev/null; }
# members N NODES...: each node's metadata view counts N members.
members() {
    want=$1
    shift
    for n in "$@"; do
        [ "$(stat_of "$n" members)" = "$want" ] || return 1
    done
}
# same_live NODES...: every node holds the same number of live records
# (with R = 3 and 3 nodes, each holds every group: the pushes are done).
same_live() {
    first=$(stat_of "$1" live)
    for n in "$@"; do
        [ "$(stat_of "$n" live)" = "$first" ] || return 1
    done
}
# snapshot NODE FILE: the whole tree as seen through NODE.
snapshot() {
    {
        for d in / /d /e /many /during; do
            echo "== $d"
            p "$1" ls "$d"
        done
        p "$1" lookup /e/c | sed 's/ fid=.*//'
    } >"$2" 2>&1
}

"$SF" up --netns --nodes 4 --wait 20 >"$TMP/out" 2>&1
check "sf up --netns --nodes 4" 0 $?
[ -f "$CDIR/cluster" ] || { sed 's/^/    /' "$TMP/out"; finish; }
wait_long members 4 n1 n2 n3 n4
check "the metadata of all 4 counts 4 members" 0 $?

# 1. The namespace across nodes.
p n1 mkdir /d >"$TMP/o" 2>&1
check "mkdir /d on n1" 0 $?
p n2 create /d/a >"$TMP/o" 2>&1
check "create /d/a on n2" 0 $?
p n3 lookup /d/a >"$TMP/o" 2>&1
check "lookup /d/a on n3" 0 $?
check_grep "/d/a is an empty file" "kind=file size=0" "$TMP/o"
v=$(sed -n 's/.*version=\([0-9]*\).*/\1/p' "$TMP/o")
p n4 commit /d/a "$v" 5000000 >"$TMP/o" 2>&1
check "commit /d/a (5 MB, expect version $v) on n4" 0 $?
p n1 commit /d/a "$v" 7 >"$TMP/o" 2>&1
check "a second commit on the same version is refused (ESTALE)" 5 $?
check_grep "the refusal says a newer version exists" "committed meanwhile" "$TMP/o"
p n2 lookup /d/a >"$TMP/o" 2>&1
check_grep "n2 sees the committed size" "size=5000000" "$TMP/o"
p n3 create /d/a >"$TMP/o" 2>&1
check "create of an existing name: EEXIST" 3 $?
p n2 mkdir /e >"$TMP/o" 2>&1
check "mkdir /e on n2" 0 $?
p n3 rename /d/a /d/b >"$TMP/o" 2>&1
check "rename /d/a -> /d/b on n3" 0 $?
p n4 rename /d/b /e/c >"$TMP/o" 2>&1
check "rename /d/b -> /e/c (across directories) on n4" 0 $?
p n1 lookup /d/b >"$TMP/o" 2>&1
check "/d/b is gone" 4 $?
p n1 lookup /e/c >"$TMP/o" 2>&1
check_grep "/e/c keeps the file" "size=5000000" "$TMP/o"
p n2 rmdir /e >"$TMP/o" 2>&1
check "rmdir of a non-empty directory fails" 1 $?
check_grep "it says why" "not empty" "$TMP/o"
p n3 create /d/gone >"$TMP/o" 2>&1 && p n4 unlink /d/gone >"$TMP/o" 2>&1
check "create then unlink /d/gone" 0 $?
p n1 lookup /d/gone >"$TMP/o" 2>&1
check "/d/gone stays gone" 4 $?
p n1 mkdir /tmpdir >"$TMP/o" 2>&1 && p n2 rmdir /tmpdir >"$TMP/o" 2>&1
check "mkdir then rmdir /tmpdir" 0 $?

# 2. Four nodes create one name at once: exactly one wins, the rest EEXIST.
for n in n1 n2 n3 n4; do
    (p $n create /d/race >"$TMP/race.$n" 2>&1; echo $? >"$TMP/race.$n.rc") &
done
wait
won=0
lost=0
for n in n1 n2 n3 n4; do
    case $(cat "$TMP/race.$n.rc") in
    0) won=$((won + 1)) ;;
    3) lost=$((lost + 1)) ;;
    esac
done
check "concurrent create: one winner" 1 $won
check "concurrent create: three EEXIST" 3 $lost

# 3. Bad paths.
p n1 create /d/../x >"$TMP/o" 2>&1
check "'..' is refused" 1 $?
check_grep "with a reason" "invalid path" "$TMP/o"
long=$(printf '%0300d' 0)
p n1 create "/d/$long" >"$TMP/o" 2>&1
check "a 300-byte name is refused" 1 $?
check_grep "as too long" "too long" "$TMP/o"
p n1 create "$(printf '/d/\377x')" >"$TMP/o" 2>&1
check "invalid UTF-8 is refused" 1 $?
check_grep "as not UTF-8" "UTF-8" "$TMP/o"

# 4. A directory of 60 files made through all nodes, listed in pages.
p n1 mkdir /many >"$TMP/o" 2>&1
i=0
bad=0
while [ $i -lt 60 ]; do
    p n$((i % 4 + 1)) create "/many/f$i" >"$TMP/o" 2>&1 || bad=$((bad + 1))
    i=$((i + 1))
done
check "60 creates in /many" 0 $bad
check "ls /many on n3 lists 60" 60 "$(p n3 ls /many | wc -l)"

# 5. Cut n3 off; while it is away, delete names and commit a new version;
# heal: it comes back with its stale records, which lose everywhere.
"$SF" node cut n3 >"$TMP/out" 2>&1
check "cut: sf node cut n3" 0 $?
wait_long members 3 n1 n2 n4
check "cut: the others count 3 members" 0 $?
bad=0
for i in 0 1 2 3 4 5 6 7 8 9; do
    p n$((i % 2 + 1)) unlink "/many/f$i" >"$TMP/o" 2>&1 || bad=$((bad + 1))
done
check "cut: 10 unlinks while n3 is away" 0 $bad
v=$(p n4 lookup /e/c | sed -n 's/.*version=\([0-9]*\).*/\1/p')
p n4 commit /e/c "$v" 6000000 >"$TMP/o" 2>&1
check "cut: commit /e/c while n3 is away" 0 $?
p n2 mkdir /during >"$TMP/o" 2>&1
check "cut: mkdir /during while n3 is away" 0 $?
"$SF" node heal n3 >"$TMP/out" 2>&1
check "heal: sf node heal n3" 0 $?
wait_long members 4 n1 n2 n3 n4
check "heal: all 4 count 4 members again" 0 $?
p n3 lookup /many/f3 >"$TMP/o" 2>&1
check "heal: a name deleted during the cut stays deleted through n3" 4 $?
p n3 lookup /e/c >"$TMP/o" 2>&1
check_grep "heal: n3 sees the version committed during the cut" "size=6000000" "$TMP/o"
check "heal: ls /many through n3 lists 50" 50 "$(p n3 ls /many | wc -l)"
p n3 lookup /during >"$TMP/o" 2>&1
check "heal: n3 sees /during" 0 $?

snapshot n1 "$TMP/before"
check "the snapshot lists /e/c" 1 "$(grep -c '^c file 6000000' "$TMP/before")"
for n in n2 n3 n4; do
    snapshot $n "$TMP/view.$n"
    cmp -s "$TMP/before" "$TMP/view.$n"
    check "$n sees the same tree as n1" 0 $?
done

# 6. kill -9 a node holding records (the one holding the most), then a second.
victim=
most=-1
for n in n2 n3 n4; do
    r=$(stat_of $n records)
    if [ "${r:-0}" -gt $most ]; then
        most=$r
        victim=$n
    fi
done
echo "    killing $victim ($most records)"
kill -KILL "$(cat "$CDIR/$victim/sfd.pid")"
rest=$(for n in n1 n2 n3 n4; do [ $n = $victim ] || echo $n; done)
wait_long members 3 $rest
check "kill $victim: the 3 others count 3 members" 0 $?
wait_long same_live $rest
check "kill $victim: the 3 others hold every live record" 0 $?
for n in $rest; do
    snapshot $n "$TMP/after1.$n"
    cmp -s "$TMP/before" "$TMP/after1.$n"
    check "kill $victim: $n still sees the whole tree" 0 $?
done
p n1 create /d/after-kill >"$TMP/o" 2>&1
check "kill $victim: creates still work" 0 $?
p n1 unlink /d/after-kill >"$TMP/o" 2>&1
second=$(echo $rest | tr ' ' '\n' | grep -v '^n1$' | head -n 1)
kill -KILL "$(cat "$CDIR/$second/sfd.pid")"
last=$(echo $rest | tr ' ' '\n' | grep -v "^$second\$")
wait_long members 2 $last
check "kill $second: the 2 others count 2 members" 0 $?
for n in $last; do
    snapshot $n "$TMP/after2.$n"
    cmp -s "$TMP/before" "$TMP/after2.$n"
    check "kill $second: $n still sees the whole tree" 0 $?
    [ $? = 0 ] || diff "$TMP/before" "$TMP/after2.$n" | head -n 10 | sed 's/^/    /'
done
p n1 mkdir /late >"$TMP/o" 2>&1
check "kill $second: mkdir still works on 2 nodes" 0 $?

"$SF" down >"$TMP/out" 2>&1
check "sf down" 0 $?
finish
