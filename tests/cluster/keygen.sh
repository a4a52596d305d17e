#!/bin/sh
# sf keygen: a 32-byte key file, mode 0600, never overwritten without
# --force; the default place is the cluster dir.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
. "$top_srcdir/tests/lib-cluster.sh"

k=$TMP/k1
umask 022
"$SF" keygen "$k" >"$TMP/out" 2>&1
check "keygen FILE exits 0" 0 $?
check "key is 32 bytes" 32 "$(stat -c %s "$k")"
check "key mode is 0600 whatever the umask" 600 "$(stat -c %a "$k")"
cp "$k" "$TMP/k1.copy"
"$SF" keygen "$k" >"$TMP/out" 2>&1
check "keygen refuses to overwrite" 1 $?
check_grep "says why and how" "exists; use --force" "$TMP/out"
check "refused key untouched" 0 "$(cmp -s "$k" "$TMP/k1.copy"; echo $?)"
"$SF" keygen --force "$k" >"$TMP/out" 2>&1
check "keygen --force exits 0" 0 $?
check "--force writes a new key" 1 "$(cmp -s "$k" "$TMP/k1.copy"; echo $?)"
check "forced key mode is 0600" 600 "$(stat -c %a "$k")"
check "no temporary file left" 0 "$(ls "$TMP" | grep -c 'tmp')"
"$SF" keygen >"$TMP/out" 2>&1
check "keygen without FILE exits 0" 0 $?
check "default key in the cluster dir" 32 "$(stat -c %s "$CDIR/cluster.key")"
check "cluster dir is private" 700 "$(stat -c %a "$CDIR")"
"$SF" keygen "$TMP/no/such/dir/k" >"$TMP/out" 2>&1
check "unwritable place fails" 1 $?
"$SF" keygen --bogus "$k" >"$TMP/out" 2>&1
check "unknown option is a usage error" 2 $?
"$SF" keygen a b >"$TMP/out" 2>&1
check "two files is a usage error" 2 $?
finish
