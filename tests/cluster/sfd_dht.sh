#!/bin/sh
# Daemons in the DHT, for real on loopback: three daemons started without
# --join find each other by LAN beacons; every node's record is readable
# by all; a daemon with another key is heard but not admitted; garbage on
# the DHT port is dropped and counted; the record of a node killed with
# -9 expires; a node that exits cleanly is gone at once and its record
# with it; --no-autodiscover daemons stay alone; daemons run ahead of
# their ranks' priority.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
. "$top_srcdir/tests/cluster/sfd_lib.sh"
SF_SFD_RECORD_TTL=2s
export SF_SFD_RECORD_TTL

start n1
start n2
start n3
for n in n1 n2 n3; do
    wait_until peers_are $n 2
    check "$n found the two others without --join" 2 "$(stat_val $n peers)"
done
records_are() { [ "$(stat_val "$1" dht_records)" = "$2" ]; }
for n in n1 n2 n3; do
    wait_until records_are $n 3
    check "$n reads three node records" 3 "$(stat_val $n dht_records)"
done
check "beacons on" on "$(stat_val n1 autodiscover)"

# As root the daemons run ahead of their ranks (keep-alives on a busy
# node); the ranks get the priority the daemons started with.
if [ "$(id -u)" = 0 ]; then
    "$SFRUN" --cluster "$TMP/n1" -n 1 sh -c 'ps -o ni= -p $$' </dev/null >"$TMP/ni" 2>&1
    check "daemon at nice -5, rank at 0" "-5 0" \
        "$(ps -o ni= -p "$(cat "$TMP/n1.pid")" | tr -d ' ') $(tr -d ' ' <"$TMP/ni")"
fi

# A job across the discovered nodes.
out=$TMP/job.out
"$SFRUN" --cluster "$TMP/n1" --map-by node -n 3 "$RING" 20 "$MARK" </dev/null >"$out" 2>&1
rc=$?
check "job across discovered nodes exit 0" 0 $rc
[ $rc = 0 ] || sed 's/^/    /' "$out"

# Another key: its beacons are dropped, it stays alone.
head -c 32 /dev/urandom >"$TMP/badkey"
chmod 600 "$TMP/badkey"
before=$(stat_val n1 drop_beacon)
start bad "" "$TMP/badkey"
wait_until stat_ge n1 drop_beacon $((before + 1))
check "wrong-key beacons dropped and counted" yes "$(stat_ge n1 drop_beacon $((before + 1)) && echo yes)"
check "wrong-key daemon has no peers" 0 "$(stat_val bad peers)"
check "members unchanged" 2 "$(stat_val n1 peers)"

# Garbage and a wrongly keyed packet on the DHT's UDP port.
port=$(stat_val n1 port)
before=$(stat_val n1 drop_dht)
bash -c "printf 'not a dht packet' >/dev/udp/127.0.0.1/$port; head -c 300 /dev/urandom >/dev/udp/127.0.0.1/$port"
wait_until stat_ge n1 drop_dht $((before + 2))
check "garbage on the DHT port dropped and counted" yes "$(stat_ge n1 drop_dht $((before + 2)) && echo yes)"
check "n1 still serves" 2 "$(stat_val n1 peers)"

# kill -9: the membership verdict drops n3 at once, its record expires.
kill -9 "$(cat "$TMP/n3.pid")"
wait_until peers_are n1 1
check "n3 declared gone" 1 "$(stat_val n1 peers)"
wait_until records_are n1 2
check "n3's record expired" 2 "$(stat_val n1 dht_records)"

# Clean exit: goodbye, and the record goes with the node.
kill "$(cat "$TMP/n2.pid")"
wait_until peers_are n1 0
check "n2 left" 0 "$(stat_val n1 peers)"
wait_until records_are n1 1
check "n2's record gone" 1 "$(stat_val n1 dht_records)"

# --no-autodiscover: no beacons, so no peers without --join.
SF_LOG_LEVEL=info "$SFD" --listen --state-dir "$TMP/quiet" --port 0 --bind 127.0.0.1 \
    --name quiet --cluster-key "$TMP/key" --no-autodiscover >"$TMP/quiet.log" 2>&1 &
pids="$pids $!"
wait_until test -s "$TMP/quiet/sfd.addr"
check "no-autodiscover reported" off "$(stat_val quiet autodiscover)"
start n4
wait_until peers_are n4 1
check "a beaconing node finds n1" 1 "$(stat_val n4 peers)"
check "the quiet node sent no beacon" 0 "$(stat_val quiet beacons_sent)"
check "the quiet node stays alone" 0 "$(stat_val quiet peers)"
# Without --bind a node that joined no one never gets a PONG: its record
# takes its address from a control connection (--no-autodiscover: with no
# --bind, beacons would go out on the default interface).
SF_LOG_LEVEL=error "$SFD" --listen --state-dir "$TMP/w1" --port 0 --name w1 \
    --cluster-key "$TMP/key" --no-autodiscover >"$TMP/w1.log" 2>&1 &
pids="$pids $!"
wait_until test -s "$TMP/w1/sfd.addr" || fail "w1 did not start"
SF_LOG_LEVEL=error "$SFD" --listen --state-dir "$TMP/w2" --port 0 --name w2 \
    --cluster-key "$TMP/key" --no-autodiscover --join "$(addr w1)" >"$TMP/w2.log" 2>&1 &
pids="$pids $!"
wait_until records_are w1 2 || wait_until records_are w1 2 # reads every 5 s
check "unbound nodes publish both records" 2 "$(stat_val w1 dht_records)"
finish
