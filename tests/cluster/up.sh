#!/bin/sh
# sf up --nodes 3 with the real sfd on loopback: all three see each other,
# sf nodes lists them, a killed node leaves the membership, and sf down
# leaves no daemon, rank or state dir behind. Skips while sfd has no
# cluster (--listen) mode.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
. "$top_srcdir/tests/lib-cluster.sh"
real_sfd_listens || skip "sfd has no --listen (cluster) mode yet"
export SF_SFD="$REAL_SFD"
two_alive() { [ "$(nodes_alive)" = 2 ]; }

"$SF" up --nodes 3 --base-port 0 --wait 20 >"$TMP/out" 2>&1
check "sf up --nodes 3 exits 0" 0 $?
sed 's/^/    /' "$TMP/out"
check "all 3 see each other" 3 "$(nodes_alive)"
"$SF" nodes >"$TMP/out" 2>&1
check "sf nodes exits 0" 0 $?
for n in n1 n2 n3; do
    check_grep "sf nodes lists $n" "^$n " "$TMP/out"
done
check "3 daemons live" 3 "$(live_procs "$CDIR/")"
for n in n1 n2 n3; do
    check "$n wrote sfd.pid" yes "$([ -s "$CDIR/$n/sfd.pid" ] && echo yes)"
done
"$SF" status >"$TMP/out" 2>&1
check "sf status exits 0" 0 $?
check_grep "status shows drop counters" "^drop_bad_mac " "$TMP/out"
"$SF" jobs >"$TMP/out" 2>&1
check "sf jobs exits 0" 0 $?

# sfrun finds the cluster through its record, without flags.
"$SFRUN" -n 4 sh -c 'echo "rank $OMPI_COMM_WORLD_RANK of $OMPI_COMM_WORLD_SIZE"' </dev/null \
    >"$TMP/out" 2>"$TMP/err"
check "sfrun -n 4 on the recorded cluster exits 0" 0 $?
check "4 ranks ran" 4 "$(grep -c '^rank [0-3] of 4$' "$TMP/out")"
check_grep "the job ran on the cluster" "^jobs_run  *[1-9]" "$(
    "$SF" status >"$TMP/st" 2>&1
    echo "$TMP/st"
)"
# --cluster with one daemon's state dir.
"$SFRUN" --cluster "$CDIR/n2" -n 2 sh -c 'echo "rank $OMPI_COMM_WORLD_RANK"' </dev/null \
    >"$TMP/out" 2>"$TMP/err"
check "sfrun --cluster STATE_DIR exits 0" 0 $?
check "2 ranks ran" 2 "$(grep -c '^rank [01]$' "$TMP/out")"

# Placement flags reach the daemon (its placement is sfd's, sfd_place.c):
# local sizes show how ranks were spread.
ls_of() { "$SFRUN" "$@" sh -c 'echo "$OMPI_COMM_WORLD_RANK $OMPI_COMM_WORLD_LOCAL_SIZE"' \
    </dev/null 2>"$TMP/err" | sort -n | awk '{ printf "%s%s", sep, $2; sep = "," }'; }
check "--host n1:2,n3:2 -n 4: two per node" "2,2,2,2" "$(ls_of --host n1:2,n3:2 -n 4)"
check "--map-by node -n 4 over 3 nodes" "2,1,1,2" "$(ls_of --map-by node -n 4)"
check "-N 1 -n 3: one per node" "1,1,1" "$(ls_of -N 1 -n 3)"
printf '# one node\nn2 slots=3\n' >"$TMP/hf"
check "--hostfile with one node: all there" "3,3,3" "$(ls_of --hostfile "$TMP/hf" -n 3)"
"$SFRUN" --host n9 -n 1 true </dev/null >"$TMP/out" 2>"$TMP/err"
check "an unknown host is refused" 1 $?
check_grep "the refusal names it" "n9" "$TMP/err"

# A daemon with another key cannot join: its frames are dropped and
# counted (sf status shows the counter), the membership stays at 3.
"$SF" keygen "$TMP/other.key" >/dev/null
mkdir -m 700 "$CDIR/n-rogue" # n*: the cleanup trap finds its sfd.pid
"$REAL_SFD" --listen --state-dir "$CDIR/n-rogue" --port 0 --bind 127.0.0.1 --name rogue \
    --cluster-key "$TMP/other.key" --join "$(awk '$2 == "n1" { print $4 }' "$CDIR/cluster")" \
    </dev/null >"$TMP/rogue.log" 2>&1 &
rogue=$!
bad_mac_seen() { "$SF" status 2>/dev/null | awk '$1 == "drop_bad_mac" && $2 > 0 { f = 1 } END { exit !f }'; }
wait_until bad_mac_seen
check "wrongly-keyed frames are dropped and counted" 0 $?
check "the rogue is not a member" 3 "$(nodes_alive)"
kill "$rogue"
wait "$rogue"
rm -rf "$CDIR/n-rogue"

"$SF" node kill n3 >"$TMP/out" 2>&1
check "node kill n3 exits 0" 0 $?
wait_until two_alive
check "n1 sees n3 gone" 2 "$(nodes_alive)"

"$SF" down >"$TMP/out" 2>&1
check "sf down exits 0" 0 $?
check "no daemon left" 0 "$(live_procs "$CDIR/")"
check "no state dirs left" 0 "$(ls -d "$CDIR"/n* 2>/dev/null | wc -l)"
check "no record left" no "$([ -e "$CDIR/cluster" ] && echo yes || echo no)"
finish
