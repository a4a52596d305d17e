#!/bin/sh
# `sf fs` on 3 namespaced nodes (sf up --netns): put/get of 0 B, 1 B, one
# block and 100 blocks bit-exact (through one node, back through another,
# also via stdin/stdout), replicas per file, overwrite, the namespace
# commands (mkdir -p, ls, stat, mv, du, rm -r), status/scrub, and bad
# inputs (path traversal, over-long names, invalid UTF-8, missing files,
# usage) giving clear errors and exit codes 1 / 2. SF_FS_BIG=1 adds a
# 3 GiB file (about a minute here). Needs root (skips otherwise).
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
. "$top_srcdir/tests/lib-cluster.sh"
need_netns
real_sfd_listens || skip "sfd has no --listen (cluster) mode yet"
export SF_SFD="$REAL_SFD"
MiB=1048576
. "$top_srcdir/tests/cluster/fs_client_lib.sh"

# GC frees unreferenced blocks at once (no grace for writes in progress:
# this test runs gc only while nothing is being written).
export SF_FSBLK_GC_GRACE=0
"$SF" up --netns --nodes 3 --wait 20 >"$TMP/out" 2>&1
check "sf up --netns --nodes 3" 0 $?
[ -f "$CDIR/cluster" ] || { sed 's/^/    /' "$TMP/out"; finish; }
wait_long fs_ready n1 n2 n3
check "the namespace answers on n1 and n3" 0 $?

# 1. Sizes, bit-exact, written through n1 and read back through n2.
: >"$TMP/f0"
printf x >"$TMP/f1"
head -c $MiB /dev/urandom >"$TMP/fblk"
head -c $((100 * MiB)) /dev/urandom >"$TMP/f100"
for f in f0 f1 fblk f100; do
    fs n1 put "$TMP/$f" /$f 2>"$TMP/err"
    check "put $f through n1" 0 $?
    fs n2 get /$f "$TMP/$f.back" 2>"$TMP/err"
    check "get $f through n2" 0 $?
    cmp -s "$TMP/$f" "$TMP/$f.back"
    check "$f is bit-exact" 0 $?
done
check "stat: size of f100" $((100 * MiB)) "$(fs n3 stat /f100 | sed -n 's/^size: //p')"
check "stat: 100 blocks" "100 of $MiB bytes" "$(fs n3 stat /f100 | sed -n 's/^blocks: //p')"
check "stat: 2 replicas by default" 2 "$(fs n3 stat /f100 | sed -n 's/^replicas: //p')"
fs n2 cat /f1 >"$TMP/cat1"
check "cat f1" x "$(cat "$TMP/cat1")"

# stdin / stdout, replicas per file, overwrite.
head -c $((3 * MiB + 17)) /dev/urandom >"$TMP/fs"
fs n3 put -r 3 - /piped <"$TMP/fs"
check "put from stdin, 3 replicas" 0 $?
fs n1 get /piped - >"$TMP/fs.back"
check "get to stdout" 0 $?
cmp -s "$TMP/fs" "$TMP/fs.back"
check "stdin/stdout copy is bit-exact" 0 $?
check "stat: 3 replicas" 3 "$(fs n2 stat /piped | sed -n 's/^replicas: //p')"
fs n1 put -r 1 "$TMP/f1" /piped
check "overwrite with 1 replica" 0 $?
check "the new version is read" x "$(fs n2 cat /piped)"
check "its version grew" 2 "$(fs n2 stat /piped | sed -n 's/^version: //p')"

# truncate: shrink into the middle of a block, then grow with zeros.
fs n2 put "$TMP/fs" /t
fs n1 truncate -s 1500000 /t
check "truncate -s 1500000" 0 $?
head -c 1500000 "$TMP/fs" >"$TMP/t.ref"
fs n3 get /t - | cmp -s - "$TMP/t.ref"
check "the first 1500000 bytes kept" 0 $?
fs n1 truncate -s 1600000 /t
head -c 100000 /dev/zero >>"$TMP/t.ref"
fs n2 get /t - | cmp -s - "$TMP/t.ref"
check "grown with zeros" 0 $?
fs n1 rm /t

if [ "${SF_FS_BIG:-0}" = 1 ]; then
    head -c $((3 * 1024 * MiB)) /dev/urandom >"$TMP/big"
    sum=$(sha256sum <"$TMP/big" | cut -c1-64)
    fs n1 put "$TMP/big" /big
    check "big: put 3 GiB" 0 $?
    rm -f "$TMP/big"
    check "big: 3 GiB read back bit-exact" "$sum" "$(fs n2 get /big - | sha256sum | cut -c1-64)"
    fs n1 rm /big
else
    echo "    (SF_FS_BIG=1 adds a 3 GiB put/get)"
fi

# 2. The namespace.
fs n1 mkdir -p /d/e/f
check "mkdir -p /d/e/f" 0 $?
fs n2 mkdir -p /d/e
check "mkdir -p of existing dirs" 0 $?
fs n3 put "$TMP/fblk" /d/e/
check "put into a directory keeps the name" 0 $?
check "ls /d/e" "f/ fblk" "$(fs n1 ls /d/e | tr '\n' ' ' | sed 's/ $//')"
fs n2 mv /d/e/fblk /d/moved
check "mv" 0 $?
fs n1 get /d/moved "$TMP/moved" && cmp -s "$TMP/fblk" "$TMP/moved"
check "moved file is intact" 0 $?
fs n1 mv /f1 /d
check "mv into a directory" x "$(fs n3 cat /d/f1)"
fs n1 ls -l /d >"$TMP/ls"
check_grep "ls -l shows replicas and size" "r2 *$MiB .*moved" "$TMP/ls"
fs n1 du /d >"$TMP/du"
check "du: bytes and stored bytes of /d" "$((MiB + 1)) $((2 * MiB + 2)) 2 3" \
    "$(awk 'NR == 2 { print $1, $2, $3, $4 }' "$TMP/du")"
fs n2 rm /d >"$TMP/out" 2>&1
check "rm of a directory without -r fails" 1 $?
check_grep "and says to use -r" "rm -r" "$TMP/out"
fs n2 rm -r /d
check "rm -r /d" 0 $?
fs n1 stat /d >/dev/null 2>&1
check "/d is gone" 1 $?
fs n3 rm /f0 /fblk
check "rm two files" 0 $?
check "what is left" "f100 piped" "$(fs n1 ls | tr '\n' ' ' | sed 's/ $//')"

# 3. Status and scrub through the admin op.
fs n1 status >"$TMP/st" 2>&1
check "status" 0 $?
check_grep "status has key=value lines" "=" "$TMP/st"
fs n2 scrub >"$TMP/sc" 2>&1
check "scrub" 0 $?
check_grep "scrub reports nothing corrupt" "corrupt=0" "$TMP/sc"

# GC on every node after the removals: nothing a live file references is
# freed (what it frees is the block layer's business: printed, not checked).
blocks_before=$(find "$CDIR"/n*/fs/blocks -type f | wc -l)
for n in n1 n2 n3; do
    fs $n gc >"$TMP/gc" 2>&1
    check "gc on $n" 0 $?
done
sed 's/^/    gc n3: /' "$TMP/gc"
blocks_after=$(find "$CDIR"/n*/fs/blocks -type f | wc -l)
echo "    stored block files: $blocks_before before gc, $blocks_after after"
check_grep "gc reports what it deleted" "deleted=" "$TMP/gc"
fs n2 get /f100 - | cmp -s - "$TMP/f100"
check "after gc: f100 bit-exact" 0 $?
check "after gc: /piped intact" x "$(fs n3 cat /piped)"

# 4. Bad inputs: clear errors, exit 1; usage: exit 2; nothing changed.
bad() { # bad LABEL PATTERN CMD...: exit 1 with PATTERN on stderr
    label=$1
    pat=$2
    shift 2
    "$@" >"$TMP/out" 2>&1
    check "$label: exit 1" 1 $?
    check_grep "$label: says why" "$pat" "$TMP/out"
}
bad "path traversal" "no path traversal" fs n1 put "$TMP/f1" /a/../../etc
bad "'..' in get" "no path traversal" fs n1 get /../f100 "$TMP/x"
long=$(printf '%0300d' 0)
bad "a 300-byte name" "over 255 bytes" fs n1 put "$TMP/f1" "/$long"
bad "invalid UTF-8" "UTF-8" fs n1 mkdir "/$(printf 'bad\377name')"
bad "missing file" "/nope" fs n2 get /nope "$TMP/x"
[ ! -e "$TMP/x" ]
check "a failed get leaves no local file" 0 $?
bad "missing local file" "$TMP/none" fs n1 put "$TMP/none" /x
bad "missing directory" "/nodir" fs n1 put "$TMP/f1" /nodir/x
bad "mkdir of an existing name" "/f100" fs n1 mkdir /f100
bad "put to a missing directory named with a trailing /" "/newdir/: no such directory" \
    fs n1 put "$TMP/f1" /newdir/
bad "put from stdin into a directory" "name the file" fs n1 put - / </dev/null
bad "get of a directory" "directory" fs n1 get / "$TMP/x"
fs n1 >"$TMP/out" 2>&1
check "sf fs without a command: exit 2" 2 $?
fs n1 frobnicate >"$TMP/out" 2>&1
check "unknown command: exit 2" 2 $?
fs n1 put onlyone >"$TMP/out" 2>&1
check "put with one argument: exit 2" 2 $?
check "nothing else changed" "f100 piped" "$(fs n3 ls | tr '\n' ' ' | sed 's/ $//')"
fs n2 get /f100 "$TMP/f100.again" && cmp -s "$TMP/f100" "$TMP/f100.again"
check "f100 still bit-exact" 0 $?

"$SF" down >"$TMP/out" 2>&1
check "sf down" 0 $?
finish
