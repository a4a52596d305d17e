#!/bin/sh
# `sf fs mount` on 3 namespaced nodes: ordinary tools on the FUSE mount
# (cp, sha256sum, tar, ls, mv, rm -r, dd into the middle of a file, append,
# truncate, chmod, touch), with every result read back through another node
# with `sf fs get`; then fusermount3 -u. Needs root and FUSE (skips
# otherwise).
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
. "$top_srcdir/tests/lib-cluster.sh"
need_netns
real_sfd_listens || skip "sfd has no --listen (cluster) mode yet"
[ -c /dev/fuse ] || skip "no /dev/fuse"
command -v fusermount3 >/dev/null 2>&1 || skip "no fusermount3 (Debian package fuse3)"
"$SF" fs mount 2>&1 | grep -q "without FUSE" && skip "sf was built without FUSE 3"
export SF_SFD="$REAL_SFD"
MNT=$TMP/mnt
mkdir -p "$MNT"
trap 'fusermount3 -u "$MNT" 2>/dev/null; cluster_cleanup' EXIT
. "$top_srcdir/tests/cluster/fs_client_lib.sh"
mounted() { grep -q " $MNT fuse" /proc/mounts; }

"$SF" up --netns --nodes 3 --wait 20 >"$TMP/out" 2>&1
check "sf up --netns --nodes 3" 0 $?
[ -f "$CDIR/cluster" ] || { sed 's/^/    /' "$TMP/out"; finish; }
wait_long fs_ready n1 n2 n3
check "the namespace answers" 0 $?

fs n1 mount "$MNT" >"$TMP/out" 2>&1
check "sf fs mount (through n1)" 0 $?
mounted
check "the mount is listed in /proc/mounts" 0 $?

# cp and sha256sum, read back through n2.
head -c $((5 * 1048576 + 3)) /dev/urandom >"$TMP/big"
cp "$TMP/big" "$MNT/big"
check "cp a 5 MiB file in" 0 $?
check "sha256sum through the mount" "$(sha256sum <"$TMP/big")" "$(sha256sum <"$MNT/big")"
fs n2 get /big "$TMP/big.n2"
cmp -s "$TMP/big" "$TMP/big.n2"
check "the file reads back bit-exact through n2" 0 $?
check "ls -l shows its size" $((5 * 1048576 + 3)) "$(stat -c %s "$MNT/big")"

# tar a source tree in, compare every file, tar it back out.
mkdir -p "$TMP/src"
cp -r "$top_srcdir/fs" "$top_srcdir/dht" "$TMP/src/"
(cd "$TMP/src" && find . -type f | sort | xargs sha256sum) >"$TMP/sums"
tar -C "$TMP/src" -cf - . | tar -C "$MNT" -xf -
check "tar -x into the mount" 0 $?
(cd "$MNT" && sha256sum -c --quiet "$TMP/sums") >"$TMP/out" 2>&1
check "sha256sum -c of every extracted file" 0 $?
mkdir -p "$TMP/src/deep/a/b/c" && echo leaf >"$TMP/src/deep/a/b/c/leaf" && cp -r "$TMP/src/deep" "$MNT/"
check "find walks nested directories on the mount" "$(cd "$TMP/src" && find deep | sort | tr '\n' ' ')" \
    "$(cd "$MNT" && find deep | sort | tr '\n' ' ')"
rm -r "$MNT/deep" "$TMP/src/deep"
check "file count" "$(find "$TMP/src" -type f | wc -l)" "$(find "$MNT/fs" "$MNT/dht" -type f | wc -l)"
mkdir -p "$TMP/out2"
tar -C "$MNT" -cf - fs dht | tar -C "$TMP/out2" -xf -
check "tar -c out of the mount" 0 $?
diff -r "$TMP/src" "$TMP/out2" >"$TMP/out" 2>&1
check "the round trip through tar is identical" 0 $?
check "modes survive (a file)" "$(stat -c %a "$TMP/src/fs/README.md")" \
    "$(stat -c %a "$MNT/fs/README.md")"
fs n3 get /fs/fs_block.c "$TMP/blk.n3" && cmp -s "$TMP/src/fs/fs_block.c" "$TMP/blk.n3"
check "an extracted file reads back through n3" 0 $?

# ls, mv, rm -r.
check "ls of the root" "big dht fs" "$(ls "$MNT" | tr '\n' ' ' | sed 's/ $//')"
mv "$MNT/fs" "$MNT/fs2"
check "mv a directory" 0 $?
check "its files moved with it" "$(sha256sum <"$TMP/src/fs/fs_inode.c")" \
    "$(sha256sum <"$MNT/fs2/fs_inode.c")"
rm -r "$MNT/fs2" "$MNT/dht"
check "rm -r" 0 $?
check "ls after rm -r" big "$(ls "$MNT")"
fs n2 stat /fs2 >/dev/null 2>&1
check "gone for the other nodes too" 1 $?

# Writes into the middle, append, truncate (read-modify-rewrite).
cp "$TMP/big" "$TMP/ref"
before=$(fs n1 status | sed -n 's/^writes=//p')
printf 'MIDDLE' | dd of="$MNT/big" bs=1 seek=3000000 conv=notrunc 2>/dev/null
printf 'MIDDLE' | dd of="$TMP/ref" bs=1 seek=3000000 conv=notrunc 2>/dev/null
cmp -s "$TMP/ref" "$MNT/big"
check "dd conv=notrunc into the middle" 0 $?
check "the edit rewrote 2 blocks (the changed one, the partial last one), not 6" 2 \
    "$(($(fs n1 status | sed -n 's/^writes=//p') - before))"
echo appended >>"$MNT/big"
echo appended >>"$TMP/ref"
cmp -s "$TMP/ref" "$MNT/big"
check "and an append" 0 $?
fs n2 get /big "$TMP/big.n2" && cmp -s "$TMP/ref" "$TMP/big.n2"
check "the edited file reads back through n2" 0 $?
# An append keeps the file's whole blocks: one block write through n1 for
# 8 MiB + 100 B plus a line (the partial last block with the line).
head -c $((8 * 1048576 + 100)) /dev/urandom >"$TMP/log"
cp "$TMP/log" "$MNT/log"
before=$(fs n1 status | sed -n 's/^writes=//p')
echo "one more line" >>"$MNT/log"
echo "one more line" >>"$TMP/log"
check "an append writes one block, not the file again" 1 \
    "$(($(fs n1 status | sed -n 's/^writes=//p') - before))"
fs n2 get /log "$TMP/log.n2" && cmp -s "$TMP/log" "$TMP/log.n2"
check "the appended file reads back through n2" 0 $?
python3 -c "
import os
fd = os.open('$MNT/log', os.O_RDWR)
assert os.read(fd, 5) == open('$TMP/log', 'rb').read(5)
os.ftruncate(fd, 0)
os.write(fd, b'fresh')
os.close(fd)
"
check "read, ftruncate to 0 and rewrite through one handle" fresh "$(fs n3 cat /log)"
truncate -s 1000 "$MNT/big"
check "truncate to 1000 bytes" 1000 "$(fs n3 stat /big | sed -n 's/^size: //p')"
head -c 1000 "$TMP/ref" | cmp -s - "$MNT/big"
check "the first 1000 bytes kept" 0 $?
chmod 600 "$MNT/big"
check "chmod" 600 "$(stat -c %a "$MNT/big")"
touch -d '2020-02-02 02:02:02 UTC' "$MNT/big"
check "touch -d sets the mtime" 1580608922 "$(stat -c %Y "$MNT/big")"
: >"$MNT/empty"
check "an empty file" 0 "$(fs n2 stat /empty | sed -n 's/^size: //p')"
mkdir "$MNT/dir" && rmdir "$MNT/dir"
check "mkdir and rmdir" 0 $?
df "$MNT" >/dev/null
check "statfs (df)" 0 $?

# Random edits (pwrite anywhere, ftruncate, pread, fsync, reopen) against
# the same edits on a local file; the result also read through n3.
if command -v python3 >/dev/null 2>&1; then
    for seed in 1 2 3; do
        python3 "$top_srcdir/tests/cluster/fs_fuse_edit.py" "$MNT/edit$seed" "$TMP/edit$seed" \
            $seed 80 >"$TMP/out" 2>&1
        check "random edits, seed $seed: mount and local file agree" 0 $?
        fs n3 get /edit$seed - | cmp -s - "$TMP/edit$seed"
        check "random edits, seed $seed: the committed file through n3" 0 $?
    done
else
    echo "    (no python3: random edits skipped)"
fi

# Ranks on every node with the mount as their working directory.
mkdir "$MNT/job"
(cd "$MNT/job" && "$SFRUN" --cluster "$CDIR" --map-by node -n 3 \
    sh -c 'echo "rank $SF_RANK of $SF_SIZE" >out.$SF_RANK && cat out.$SF_RANK') >"$TMP/job" 2>&1
check "sfrun -n 3 with its cwd on the mount" 0 $?
check "each rank wrote its file" "rank 0 of 3|rank 1 of 3|rank 2 of 3" \
    "$(for r in 0 1 2; do fs n2 cat /job/out.$r; done | paste -sd'|')"

fusermount3 -u "$MNT"
check "fusermount3 -u" 0 $?
wait_until sh -c "! grep -q ' $MNT fuse' /proc/mounts"
check "unmounted" 0 $?
"$SF" down >"$TMP/out" 2>&1
check "sf down" 0 $?
finish
