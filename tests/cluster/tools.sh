#!/bin/sh
# sf up/nodes/status/node kill/down on loopback with the stand-in daemon
# (tests/cluster/fake_sfd): the tools' process handling without depending
# on sfd's cluster mode. Everything started is gone afterwards.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
. "$top_srcdir/tests/lib-cluster.sh"
export SF_SFD="$FAKE_SFD"

"$SF" up --nodes 3 --base-port 0 --wait 10 >"$TMP/out" 2>&1
check "sf up --nodes 3 exits 0" 0 $?
check "up lists 3 nodes" 3 "$(grep -c '^n[123] ' "$TMP/out")"
check "record has 3 node lines" 3 "$(grep -c '^node n[123] ' "$CDIR/cluster")"
check "sf nodes: 3 alive" 3 "$(nodes_alive)"
"$SF" status >"$TMP/out" 2>&1
check "sf status exits 0" 0 $?
check_grep "status asked what=0" "^what *0" "$TMP/out"
"$SF" jobs >"$TMP/out" 2>&1
check "sf jobs exits 0" 0 $?
check "3 daemons and 3 ranks live" 6 "$(live_procs "$CDIR/")"
check "state dirs are private" 700 "$(stat -c %a "$CDIR/n2")"

"$SF" up --nodes 2 --base-port 0 >"$TMP/out" 2>&1
check "second up refused while one runs" 1 $?
check_grep "says a cluster is up" "already up" "$TMP/out"

rank2=$(cat "$CDIR/n2/rank.pid")
d2=$(cat "$CDIR/n2/sfd.pid")
"$SF" node kill n2 >"$TMP/out" 2>&1
check "node kill exits 0" 0 $?
wait_until proc_dead "$d2"
check "n2 daemon gone" 0 $?
wait_until proc_dead "$rank2"
check "n2 rank gone with it" 0 $?
check "the others live on" 4 "$(live_procs "$CDIR/")"
two_alive() { [ "$(nodes_alive)" = 2 ]; }
wait_until two_alive
check "n1 sees n2 gone" 2 "$(nodes_alive)"
"$SF" node kill n2 >"$TMP/out" 2>&1
check "killing a dead node fails" 1 $?
"$SF" node cut n1 >"$TMP/out" 2>&1
check "cut on loopback fails" 1 $?
check_grep "cut says it needs --netns" "netns" "$TMP/out"
"$SF" node kill n9 >"$TMP/out" 2>&1
check "unknown node fails" 1 $?

"$SF" where >"$TMP/out" 2>&1
check "sf where exits 0" 0 $?
check_grep "where shows n2 not running" "^n2 .*(not running)" "$TMP/out"

"$SF" down >"$TMP/out" 2>&1
check "sf down exits 0" 0 $?
check "no daemon or rank left" 0 "$(live_procs "$CDIR/")"
check "no state dirs left" 0 "$(ls -d "$CDIR"/n* 2>/dev/null | wc -l)"
check "no record left" no "$([ -e "$CDIR/cluster" ] && echo yes || echo no)"
"$SF" nodes >"$TMP/out" 2>&1
check "sf nodes after down fails" 1 $?

# A record whose daemons are all dead: sfrun says so and runs here.
"$SF" up --nodes 1 --base-port 0 >"$TMP/out" 2>&1
check "one-node up" 0 $?
"$SF" node kill n1 >"$TMP/out" 2>&1
env -u SF_SFD "$SFRUN" -n 2 echo here </dev/null >"$TMP/out" 2>"$TMP/err"
check "sfrun with a dead cluster still runs" 0 $?
check "both ranks ran here" 2 "$(grep -c '^here$' "$TMP/out")"
check_grep "and warns about the cluster" "running on this host only" "$TMP/err"
"$SF" down >"$TMP/out" 2>&1
check "down of a dead cluster exits 0" 0 $?

# A daemon that cannot start: up fails, says why, leaves nothing.
SF_SFD=/bin/false "$SF" up --nodes 2 --base-port 0 --wait 5 >"$TMP/out" 2>&1
check "up with a failing daemon fails" 1 $?
check_grep "names the node" "node n1" "$TMP/out"
check "failed up leaves no record" no "$([ -e "$CDIR/cluster" ] && echo yes || echo no)"
finish
