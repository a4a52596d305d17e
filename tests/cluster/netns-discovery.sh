#!/bin/sh
# LAN discovery across real interfaces: two daemons in namespaces of their
# own on the bridge of `sf up --netns` (whose own daemons run with
# --no-autodiscover), started without --join, find each other by their
# multicast beacons over veth and bridge, and run a job together; a third
# with another key hears them but is not admitted. Root only (skips
# otherwise); the namespaces are named sf-nI so the shared cleanup removes
# them; nothing is routed off the machine.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
. "$top_srcdir/tests/lib-cluster.sh"
need_netns
real_sfd_listens || skip "sfd has no --listen (cluster) mode yet"
POKE=$top_builddir/tests/cluster/sfd_poke
RING=$top_builddir/examples/ring

export SF_SFD="$REAL_SFD"
"$SF" up --netns --nodes 1 --wait 20 >"$TMP/up" 2>&1
check "sf up --netns --nodes 1 exits 0" 0 $?

# node I: namespace sf-nI with 10.250.0.I on the bridge, a daemon bound there.
node() {
    i=$1 key=$2
    ip netns add "sf-n$i" &&
        ip link add "sfv$i" type veth peer name eth0 netns "sf-n$i" &&
        ip link set "sfv$i" master sfbr0 up &&
        ip -n "sf-n$i" addr add "10.250.0.$i/24" dev eth0 &&
        ip -n "sf-n$i" link set eth0 up &&
        ip -n "sf-n$i" link set lo up || fail "cannot make namespace sf-n$i"
    mkdir -p "$TMP/d$i"
    ip netns exec "sf-n$i" env SF_LOG_LEVEL=info "$REAL_SFD" --listen --state-dir "$TMP/d$i" \
        --port 7300 --bind "10.250.0.$i" --name "d$i" --cluster-key "$key" \
        >"$TMP/d$i.log" 2>&1 &
    wait_until test -s "$TMP/d$i/sfd.addr" || fail "daemon d$i did not start"
}
st() { "$POKE" status "$TMP/d$1/sfd.sock" | sed -n "s/^$2=//p"; }
peers_are() { [ "$(st "$1" peers)" = "$2" ]; }

node 8 "$CDIR/cluster.key"
node 9 "$CDIR/cluster.key"
wait_until peers_are 8 1
check "d8 found d9 by beacon across the bridge" 1 "$(st 8 peers)"
wait_until peers_are 9 1
check "d9 found d8" 1 "$(st 9 peers)"
check "beacons were heard" yes "$([ $(($(st 8 beacons_heard) + $(st 9 beacons_heard))) -ge 1 ] && echo yes)"

out=$TMP/job
"$SFRUN" --cluster "$TMP/d8" --map-by node -n 2 "$RING" 20 </dev/null >"$out" 2>&1
rc=$?
check "a job across the discovered pair exits 0" 0 $rc
[ $rc = 0 ] || sed 's/^/    /' "$out"

head -c 32 /dev/urandom >"$TMP/otherkey"
chmod 600 "$TMP/otherkey"
node 7 "$TMP/otherkey"
drops() { [ "$(st 8 drop_beacon)" -ge 1 ]; }
wait_until drops
check "d8 dropped the other key's beacons" yes "$(drops && echo yes)"
check "the other key's daemon stays alone" 0 "$(st 7 peers)"
check "d8 still has its one peer" 1 "$(st 8 peers)"
finish
