# Shared helpers for the cluster scripts (tests/cluster/): the sf tool, a
# private cluster dir per test, the real or the stand-in daemon, and a trap
# that takes everything down (daemons, namespaces, bridge) even when a check
# fails or the script is interrupted. Sourced after tests/lib.sh. POSIX sh.
SF=$top_builddir/launcher/sf
FAKE_SFD=$top_builddir/tests/cluster/fake_sfd
REAL_SFD=$top_builddir/launcher/sfd/sfd
CDIR=$TMP/c
export SF_CLUSTER_DIR="$CDIR"
# Never pick up a cluster the user has running.
unset SF_CLUSTER XDG_RUNTIME_DIR
export HOME="$TMP"

cluster_cleanup() {
    if [ -f "$CDIR/cluster" ]; then
        "$SF" down --grace 2 >/dev/null 2>&1
    fi
    # Daemons an interrupted `sf up` started before writing its record:
    # by the pids they wrote, if they are still ours (cmdline names CDIR).
    for f in "$CDIR"/n*/sfd.pid; do
        [ -f "$f" ] || continue
        p=$(cat "$f")
        if tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q -- "$CDIR/"; then
            kill -KILL "$p" 2>/dev/null
        fi
    done
    if [ -n "$NETNS_LOCKED" ]; then
        # Our namespaces only: the lock says no other test owns them.
        for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep '^sf-n[0-9]*$'); do
            for p in $(ip netns pids "$ns" 2>/dev/null); do
                kill -KILL "$p" 2>/dev/null
            done
            ip netns del "$ns" 2>/dev/null
        done
        for v in $(ip -o link show 2>/dev/null | sed -n 's/^[0-9]*: \(sfv[0-9]*\)@.*/\1/p'); do
            ip link del "$v" 2>/dev/null
        done
        ip link del sfbr0 2>/dev/null
    fi
    rm -rf "$TMP"
}
trap 'cluster_cleanup' EXIT
trap 'exit 130' INT TERM HUP

# The real daemon has a cluster mode once `sfd --help` lists --listen.
real_sfd_listens() { "$REAL_SFD" --help 2>&1 | grep -q -- '--listen'; }

skip() {
    echo "SKIP: $*"
    exit 77
}

# need_netns: root, ip netns, and the namespace names to ourselves
# (tests using sfbr0/sf-nI run one at a time under a lock).
need_netns() {
    [ "$(id -u)" = 0 ] || skip "not root: network namespaces need root"
    command -v ip >/dev/null 2>&1 || skip "no ip command (iproute2)"
    ip netns list >/dev/null 2>&1 || skip "ip netns does not work here"
    if ! ip netns add sf-probe-$$ 2>/dev/null; then
        skip "cannot create network namespaces here"
    fi
    ip netns del sf-probe-$$
    command -v flock >/dev/null 2>&1 || skip "no flock to serialise namespace tests"
    exec 9>/run/lock/starfish-netns.lock 2>/dev/null || exec 9>/tmp/starfish-netns.lock
    flock -w 120 9 || skip "another namespace test held the lock for 120 s"
    NETNS_LOCKED=1
    if ip link show sfbr0 >/dev/null 2>&1; then
        skip "bridge sfbr0 exists (a cluster is up outside this test): not touching it"
    fi
}

# live_procs PATTERN: count live (non-zombie) processes whose command line
# matches PATTERN.
live_procs() {
    ps -eo stat=,comm=,args= |
        awk -v p="$1" '$1 !~ /^Z/ && $2 != "awk" && $2 != "ps" && index($0, p) { n++ }
            END { print n + 0 }'
}

# nodes_alive: how many nodes node 1 counts as members: sfd's "peers N"
# (connected peers) plus itself, else the rows `sf nodes` marks alive.
nodes_alive() {
    p=$("$SF" status 2>/dev/null | awk '$1 == "peers" { print $2 }')
    if [ -n "$p" ]; then
        echo $((p + 1))
        return
    fi
    "$SF" nodes 2>/dev/null | awk '!c { for (i = 1; i <= NF; i++) if ($i == "STATE") c = i; next }
        $c == "alive" || $c == "self" { n++ } END { print n + 0 }'
}

# proc_dead PID: gone or a zombie (init here may reap late).
proc_dead() {
    [ ! -e "/proc/$1/stat" ] || [ "$(awk '{ sub(/.*\) /, ""); print substr($0, 1, 1) }' "/proc/$1/stat" 2>/dev/null)" = Z ]
}
