#!/bin/sh
# sf up --netns: K nodes, each a network namespace sf-nI with 10.250.0.I on
# bridge sfbr0 (no address on the host side: nothing is routed off the
# machine); the daemons join across the bridge; cut/heal take a node's
# link down/up; kill ends its daemon and ranks; down removes namespaces,
# bridge and state. Runs with the stand-in daemon, and with the real sfd
# once it has a cluster mode. Root only (skips otherwise).
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
. "$top_srcdir/tests/lib-cluster.sh"
need_netns

link_state() { ip -o link show "$1" 2>/dev/null | grep -o 'state [A-Z]*' | cut -d' ' -f2; }
ns_count() { ip netns list | awk '{print $1}' | grep -c '^sf-n[0-9]*$'; }
two_alive() { [ "$(nodes_alive)" = 2 ]; }
three_alive() { [ "$(nodes_alive)" = 3 ]; }

round() {
    label=$1
    export SF_SFD="$2"
    "$SF" up --netns --nodes 3 --wait 20 >"$TMP/out" 2>&1
    check "$label: sf up --netns --nodes 3 exits 0" 0 $?
    if ! [ -f "$CDIR/cluster" ]; then
        sed 's/^/    /' "$TMP/out"
        return
    fi
    check "$label: 3 namespaces" 3 "$(ns_count)"
    check "$label: bridge is up" UP "$(link_state sfbr0)"
    check "$label: bridge has no host address" 0 "$(ip -4 -o addr show dev sfbr0 | wc -l)"
    check "$label: n2 has 10.250.0.2" 1 \
        "$(ip -n sf-n2 -4 -o addr show dev eth0 | grep -c ' 10\.250\.0\.2/24 ')"
    check "$label: no default route inside" 0 "$(ip -n sf-n2 route show default | wc -l)"
    check_grep "$label: record names namespaced addresses" "^node n3 .* 10\.250\.0\.3:" "$CDIR/cluster"
    check "$label: all 3 see each other" 3 "$(nodes_alive)"
    d3=$(cat "$CDIR/n3/sfd.pid")
    check "$label: n3 daemon runs inside sf-n3" 1 "$(ip netns pids sf-n3 | grep -cx "$d3")"

    if [ "$label" = sfd ]; then
        # A job across the namespaces: ranks talk over the bridge.
        "$SFRUN" -n 6 sh -c 'echo "rank $OMPI_COMM_WORLD_RANK of $OMPI_COMM_WORLD_SIZE"' \
            </dev/null >"$TMP/jout" 2>"$TMP/jerr"
        check "$label: 6-rank job across 3 namespaced nodes exits 0" 0 $?
        check "$label: 6 ranks ran" 6 "$(grep -c '^rank [0-5] of 6$' "$TMP/jout")"
    fi
    "$SF" node cut n2 >"$TMP/out" 2>&1
    check "$label: node cut exits 0" 0 $?
    check "$label: n2 link is down" DOWN "$(link_state sfv2)"
    if [ "$label" = sfd ]; then
        # The stand-in has no keep-alives; sfd must notice the silence.
        wait_until two_alive
        check "$label: n1 declares the cut n2 gone" 2 "$(nodes_alive)"
    fi
    "$SF" node heal n2 >"$TMP/out" 2>&1
    check "$label: node heal exits 0" 0 $?
    check "$label: n2 link is up again" UP "$(link_state sfv2)"
    if [ "$label" = sfd ]; then
        wait_until three_alive
        check "$label: healed n2 is a member again" 3 "$(nodes_alive)"
    fi

    "$SF" node kill n3 >"$TMP/out" 2>&1
    check "$label: node kill exits 0" 0 $?
    check "$label: nothing runs in sf-n3" 0 "$(ip netns pids sf-n3 | wc -l)"
    wait_until two_alive
    check "$label: n1 sees n3 gone" 2 "$(nodes_alive)"

    "$SF" down >"$TMP/out" 2>&1
    check "$label: sf down exits 0" 0 $?
    check "$label: no namespaces left" 0 "$(ns_count)"
    check "$label: no bridge left" "" "$(link_state sfbr0)"
    check "$label: no host-side veth left" 0 "$(ip -o link show | grep -c ' sfv[0-9]*@')"
    check "$label: no daemon or rank left" 0 "$(live_procs "$CDIR/")"
    check "$label: no state dirs left" 0 "$(ls -d "$CDIR"/n* 2>/dev/null | wc -l)"
}

round stand-in "$FAKE_SFD"
if real_sfd_listens; then
    round sfd "$REAL_SFD"
else
    echo "note: sfd has no --listen yet: namespaced run of the real daemon not tested"
fi
finish
