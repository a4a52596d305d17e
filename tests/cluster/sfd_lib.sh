# Helpers of the sfd cluster tests: daemons on free loopback ports with
# private state dirs under $TMP, their status, cleanup by pid and marker.
# Sourced after tests/lib.sh, not run. POSIX sh.
SFD=$top_builddir/launcher/sfd/sfd
POKE=$top_builddir/tests/cluster/sfd_poke
RING=$top_builddir/examples/ring
"$SFRUN" --help 2>&1 | grep -q -- '--cluster' || { echo "SKIP: sfrun has no --cluster"; exit 77; }
[ -x "$RING" ] || { echo "SKIP: examples/ring not built"; exit 77; }

MARK=sfdclu$$
# LAN beacons stay among this script's daemons (all on 127.0.0.1).
SF_SFD_DISCOVERY_PORT=$((20000 + $$ % 20000))
export SF_SFD_DISCOVERY_PORT
pids=""
cleanup() {
    for p in $pids; do kill -CONT "$p" 2>/dev/null; kill -9 "$p" 2>/dev/null; done
    pkill -9 -f "$MARK" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

head -c 32 /dev/urandom >"$TMP/key"
chmod 600 "$TMP/key"

# start NAME [JOIN] [KEY]: a daemon on a free port; its pid in $TMP/NAME.pid.
start() {
    j=""
    [ -n "$2" ] && j="--join $2"
    SF_LOG_LEVEL=info "$SFD" --listen --state-dir "$TMP/$1" --port 0 --bind 127.0.0.1 \
        --name "$1" --cluster-key "${3:-$TMP/key}" $j >"$TMP/$1.log" 2>&1 &
    echo $! >"$TMP/$1.pid"
    pids="$pids $!"
    wait_until test -s "$TMP/$1/sfd.addr" || fail "$1 did not start"
}
addr() { tr -d '\n' <"$TMP/$1/sfd.addr"; }
status() { "$POKE" status "$TMP/$1/sfd.sock"; }
stat_val() { status "$1" | sed -n "s/^$2=//p"; }
peers_are() { [ "$(stat_val "$1" peers)" = "$2" ]; }
stat_ge() { v=$(stat_val "$1" "$2"); [ -n "$v" ] && [ "$v" -ge "$3" ]; }
# ms_since T0: milliseconds since a $(date +%s%N) stamp.
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }

# three: n1, n2, n3 that see each other.
three() {
    start n1
    start n2 "$(addr n1)"
    start n3 "$(addr n1)"
    for n in n1 n2 n3; do
        wait_until peers_are $n 2
        check "$n sees the two others" 2 "$(stat_val $n peers)"
    done
}

# end_job PID: wait (bounded) for a background sfrun; its status, or 124
# after killing it if it did not end (the daemons' logs are shown then).
end_job() {
    if ! wait_until proc_gone "$1"; then
        echo "sfrun $1 did not end; daemon logs:"
        tail -n 20 "$TMP"/n*.log
        kill -9 "$1" 2>/dev/null
        wait "$1" 2>/dev/null
        return 124
    fi
    wait "$1"
}
