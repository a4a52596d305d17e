#!/bin/sh
# Launch latency (bench/hello under sfrun and mpirun.openmpi on this
# machine, and under sfrun on a private 4-node cluster) and failure
# detection (kill or cut a node of a fresh private cluster: time to the
# verdict and to the job's end); see bench/README.md. Not a test: never
# fails on numbers; never touches a user's cluster; every wait is bounded.
# Usage: bench/launch.sh [launch|detect] [--repeat R] [--ranks "2 4 8"]
#            [--trials T] [--cluster netns|loopback|none] [--quick]
# Environment: top_builddir (default .), OMPI_MPIRUN, BENCH_REPEAT (3).
set -u

B=${top_builddir:-.}
SFRUN=$B/launcher/sfrun
SF=$B/launcher/sf
SFD=$B/launcher/sfd/sfd
OMPIRUN=${OMPI_MPIRUN:-$(command -v mpirun.openmpi || true)}
REPEAT=${BENCH_REPEAT:-3}
RANKS="2 4 8 16 32 64"
TRIALS=20
CLUSTER=auto
MODE=launch
usage() {
    echo "usage: $0 [launch|detect] [--repeat R] [--ranks \"2 4 8\"] [--trials T] [--cluster netns|loopback|none] [--quick]" >&2
    exit 2
}
while [ $# -gt 0 ]; do
    case $1 in
    launch | detect) MODE=$1 ;;
    --repeat) [ $# -ge 2 ] || usage; REPEAT=$2; shift ;;
    --quick) REPEAT=1; TRIALS=5 ;;
    --ranks) [ $# -ge 2 ] || usage; RANKS=$2; shift ;;
    --trials) [ $# -ge 2 ] || usage; TRIALS=$2; shift ;;
    --cluster) [ $# -ge 2 ] || usage; CLUSTER=$2; shift ;;
    *) usage ;;
    esac
    shift
done
case $REPEAT in '' | *[!0-9]*) usage ;; esac
case $TRIALS in '' | *[!0-9]*) usage ;; esac
[ "$REPEAT" -ge 1 ] && [ "$REPEAT" -le 100 ] || usage
[ "$TRIALS" -ge 1 ] && [ "$TRIALS" -le 200 ] || usage

TMP=$(mktemp -d "${TMPDIR:-/tmp}/sfbench.XXXXXX") || exit 1
CDIR=$TMP/c
# Our own cluster dir only: never a record or daemon of the user's.
export SF_CLUSTER_DIR="$CDIR"
unset SF_CLUSTER
export SF_SFD="$SFD"
mkdir -p "$CDIR"

cluster_down() {
    if [ -f "$CDIR/cluster" ]; then
        "$SF" down --grace 2 >/dev/null 2>&1
    fi
    # Daemons an interrupted `sf up` started before writing its record,
    # by the pids they wrote, if their command line still names our dir.
    for f in "$CDIR"/n*/sfd.pid; do
        [ -f "$f" ] || continue
        p=$(cat "$f")
        if tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q -- "$CDIR/"; then
            kill -KILL "$p" 2>/dev/null
        fi
    done
}
cleanup() {
    [ -n "${tailpid:-}" ] && kill "$tailpid" 2>/dev/null
    [ -n "${job:-}" ] && kill -KILL "$job" 2>/dev/null
    cluster_down
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

now_ns() { date +%s%N; }

# Which kind of cluster: namespaced needs root, working `ip netns`, no
# bridge sfbr0 already (someone else's cluster) and the namespace lock
# the cluster tests take (tests/lib-cluster.sh), held until we exit.
pick_cluster() {
    [ "$CLUSTER" = auto ] || return 0
    CLUSTER=loopback
    why=
    if [ "$(id -u)" != 0 ]; then
        why="not root"
    elif ! command -v ip >/dev/null 2>&1 || ! ip netns list >/dev/null 2>&1; then
        why="no working ip netns"
    elif ! command -v flock >/dev/null 2>&1; then
        why="no flock"
    elif ip link show sfbr0 >/dev/null 2>&1; then
        why="bridge sfbr0 exists (a namespaced cluster is up)"
    else
        { exec 9>/run/lock/starfish-netns.lock; } 2>/dev/null || exec 9>/tmp/starfish-netns.lock
        if flock -n 9; then
            CLUSTER=netns
        else
            why="a cluster test holds the namespace lock"
        fi
    fi
    [ -n "$why" ] && echo "note: loopback daemons instead of network namespaces: $why"
    return 0
}

# cluster_up: a fresh private 4-node cluster; 0 when all 4 see each other.
cluster_up() {
    cluster_down
    # 9>&-: the daemons must not inherit (and keep) the namespace lock.
    if [ "$CLUSTER" = netns ]; then
        "$SF" up --netns --nodes 4 --wait 30 >"$TMP/up.out" 2>&1 9>&-
    else
        "$SF" up --nodes 4 --base-port 0 --wait 30 >"$TMP/up.out" 2>&1 9>&-
    fi
    rc=$?
    if [ $rc != 0 ]; then
        echo "  (sf up failed:)"
        sed 's/^/    /' "$TMP/up.out" | tail -5
    fi
    return $rc
}

# median / stats of the numbers on stdin (one per line).
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
stats() {
    sort -g | awk '{ a[NR] = $1 }
        END {
            if (NR == 0) { print "     -        -        -        -      0"; exit }
            med = NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
            k = int(0.9 * NR); if (k < 0.9 * NR) k++   # nearest rank
            printf "%8.1f %8.1f %8.1f %8.1f %6d\n", a[1], med, a[k], a[NR], NR
        }'
}

# ---- launch latency ------------------------------------------------------

# One timed run; appends "RANKS SECONDS" to OUT, or says why not.
timed() {
    what=$1 n=$2 out=$3
    t0=$(now_ns)
    case $what in
    sf | cl)
        "$SFRUN" --oversubscribe --timeout 120 $mapby -n "$n" "$HELLO" </dev/null >"$TMP/o" 2>&1 ;;
    om)
        timeout 300 "$OMPIRUN" --allow-run-as-root --oversubscribe -n "$n" "$B/bench/hello-ompi" \
            </dev/null >"$TMP/o" 2>&1 ;;
    esac
    rc=$?
    t1=$(now_ns)
    if [ $rc = 0 ]; then
        echo "$n $(((t1 - t0) / 1000))" | awk '{ printf "%d %.4f\n", $1, $2 / 1e6 }' >>"$out"
    else
        echo "  ($what -n $n failed, status $rc:)"
        tail -3 "$TMP/o" | sed 's/^/    /'
    fi
}

launch() {
    # The uninstalled program, not libtool's wrapper script (a shell per
    # rank would be timed too); sfrun puts the build's libmpi first.
    HELLO=$B/bench/.libs/hello
    [ -x "$HELLO" ] || HELLO=$B/bench/hello
    case $HELLO in /*) ;; *) HELLO=$(pwd)/$HELLO ;; esac
    have_sf=1
    [ -x "$SFRUN" ] && [ -x "$HELLO" ] || have_sf=0
    have_om=1
    [ -n "$OMPIRUN" ] && [ -x "$B/bench/hello-ompi" ] || have_om=0
    [ $have_sf = 1 ] || echo "note: Starfish side not built (need launcher/sfrun, bench/hello)"
    [ $have_om = 1 ] || echo "note: Open MPI side not built (need mpirun.openmpi, bench/hello-ompi)"
    : >"$TMP/sf"
    : >"$TMP/om"
    : >"$TMP/cl"
    mapby=
    # One untimed run each: programs and libraries into the page cache.
    [ $have_sf = 1 ] && timed sf 2 /dev/null
    [ $have_om = 1 ] && timed om 2 /dev/null
    for n in $RANKS; do
        r=0
        while [ $r -lt "$REPEAT" ]; do
            [ $have_sf = 1 ] && timed sf "$n" "$TMP/sf"
            [ $have_om = 1 ] && timed om "$n" "$TMP/om"
            r=$((r + 1))
        done
    done
    clabel=
    if [ $have_sf = 1 ] && [ "$CLUSTER" != none ] && [ -x "$SF" ] && [ -x "$SFD" ]; then
        pick_cluster
        if cluster_up; then
            clabel="sf 4 nodes ($CLUSTER)"
            mapby="--map-by node"
            timed cl 4 /dev/null
            for n in $RANKS; do
                r=0
                while [ $r -lt "$REPEAT" ]; do
                    timed cl "$n" "$TMP/cl"
                    r=$((r + 1))
                done
            done
            cluster_down
        fi
    fi

    echo
    echo "== launch latency: bench/hello (MPI_Init, MPI_Barrier, MPI_Finalize), start to exit =="
    echo "   seconds, median of $REPEAT; $(nproc) cores; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "   starfish: sfrun --oversubscribe -n N (embedded daemon)"
    echo "   open-mpi: mpirun.openmpi --allow-run-as-root --oversubscribe -n N"
    [ -n "$clabel" ] && echo "   cluster:  sfrun --oversubscribe --map-by node -n N on \`sf up --nodes 4$([ "$CLUSTER" = netns ] && echo ' --netns')\`"
    [ -n "$clabel" ] && echo "             (ratio against Open MPI on one node: it is not run across the namespaces)"
    printf '  %6s %10s %10s %7s %12s %7s\n' ranks starfish open-mpi ratio cluster ratio
    for n in $RANKS; do
        a=$(awk -v n="$n" '$1 == n { print $2 }' "$TMP/sf" | median)
        b=$(awk -v n="$n" '$1 == n { print $2 }' "$TMP/om" | median)
        c=$(awk -v n="$n" '$1 == n { print $2 }' "$TMP/cl" | median)
        echo "$n $a $b $c" | awk '
            function r(x, y) { return (x != "-" && y != "-" && y + 0 > 0) ? sprintf("%.2f", x / y) : "-" }
            function f(x) { return x == "-" ? "-" : sprintf("%.3f", x) }
            { printf "  %6d %10s %10s %7s %12s %7s\n", $1, f($2), f($3), r($2, $3), f($4), r($4, $3) }'
    done
}

# ---- failure detection ---------------------------------------------------

# lines_ready FILE N: FILE holds at least N "ready" lines.
lines_ready() { [ "$(grep -c '^ready' "$1" 2>/dev/null)" -ge "$2" ]; }

# trial ACTION (kill|cut): one measurement on a fresh cluster; appends
# "VERDICT_MS JOBEND_MS" to $TMP/ACTION, or says why not.
trial() {
    act=$1
    cluster_up || return 1
    : >"$TMP/jout"
    "$SFRUN" --ft abort --timeout 60 --map-by node -n 4 sh -c 'echo ready; exec sleep 50' \
        </dev/null >"$TMP/jout" 2>"$TMP/jerr" &
    job=$!
    i=0
    while ! lines_ready "$TMP/jout" 4 && [ $i -lt 1500 ] && kill -0 "$job" 2>/dev/null; do
        sleep 0.02
        i=$((i + 1))
    done
    if ! lines_ready "$TMP/jout" 4; then
        echo "  (trial $act: the job did not start on all nodes:)"
        tail -3 "$TMP/jerr" | sed 's/^/    /'
        kill "$job" 2>/dev/null
        wait "$job"
        job=
        return 1
    fi
    # n1 is the daemon sfrun talks to: it ends the job. Its verdict is the
    # log line declare_gone writes; tail -f follows the log as it grows.
    rm -f "$TMP/tv" "$TMP/tailpid"
    (
        timeout 30 tail -n +1 -f "$CDIR/n1/sfd.log" 2>/dev/null &
        echo $! >"$TMP/tailpid"
        wait
    ) | {
        grep -m1 -q 'node n2 (.*\(connection lost\|missed keep-alives\|declared gone\)' &&
            now_ns >"$TMP/tv"
    } &
    watcher=$!
    i=0
    while [ ! -s "$TMP/tailpid" ] && [ $i -lt 500 ]; do
        sleep 0.01
        i=$((i + 1))
    done
    tailpid=$(cat "$TMP/tailpid" 2>/dev/null)
    t0=$(now_ns)
    "$SF" node "$act" n2 >"$TMP/act.out" 2>&1
    src=$?
    wait "$job" # sfrun's --timeout bounds this
    jst=$?
    t2=$(now_ns)
    job=
    i=0
    while [ ! -s "$TMP/tv" ] && [ $i -lt 300 ]; do
        sleep 0.01
        i=$((i + 1))
    done
    kill "$tailpid" 2>/dev/null
    wait "$watcher"
    tailpid=
    if [ $src != 0 ]; then
        echo "  (sf node $act n2 failed:)"
        sed 's/^/    /' "$TMP/act.out" | tail -3
        return 1
    fi
    tv=$(cat "$TMP/tv" 2>/dev/null)
    named=no
    grep -q 'n2' "$TMP/jerr" && named=yes
    if [ -z "$tv" ]; then
        echo "  (trial $act: no verdict on n2 in n1's log)"
        tv=0
    elif [ "$tv" -lt "$t0" ]; then
        echo "  (trial $act: n1 declared n2 gone before the $act: not counted)"
        return 1
    elif [ "$tv" -gt "$t2" ]; then
        # Seen through tail/grep/date, the line can lag (up to ~20 ms under
        # load); sfd logs the verdict before it ends the job, so sfrun's
        # exit bounds it.
        tv=$t2
    fi
    echo "$(((tv - t0) / 1000)) $(((t2 - t0) / 1000)) $jst $named" |
        awk '{ printf "%s %.1f %s %s\n", ($1 > 0 ? sprintf("%.1f", $1 / 1000) : "-"), $2 / 1000, $3, $4 }' \
            >>"$TMP/$act"
    return 0
}

detect() {
    for f in "$SFRUN" "$SF" "$SFD"; do
        [ -x "$f" ] || { echo "note: $f not built: no detection benchmark"; return 0; }
    done
    [ "$CLUSTER" = none ] && { echo "note: --cluster none: no detection benchmark"; return 0; }
    pick_cluster
    acts=kill
    [ "$CLUSTER" = netns ] && acts="kill cut"
    ft=$("$SFRUN" --params 2>/dev/null | awk -F'[= ]+' '$1 == "SF_SFD_FAIL_TIMEOUT" { print $2 }')
    ka=$("$SFRUN" --params 2>/dev/null | awk -F'[= ]+' '$1 == "SF_SFD_KEEPALIVE" { print $2 }')
    for act in $acts; do
        : >"$TMP/$act"
        t=0
        while [ "$t" -lt "$TRIALS" ]; do
            trial "$act"
            t=$((t + 1))
        done
        cluster_down
    done
    echo
    echo "== failure detection: 4-node cluster ($CLUSTER), one rank per node, node n2 lost =="
    echo "   SF_SFD_FAIL_TIMEOUT=${ft:-?} s, SF_SFD_KEEPALIVE=${ka:-?} s; $TRIALS trials each; ms from the start of"
    echo "   \`sf node kill|cut n2\` to n1's verdict (its log line) and to sfrun's exit (--ft abort)"
    printf '  %-26s %8s %8s %8s %8s %6s\n' "" min median p90 max trials
    for act in $acts; do
        case $act in
        kill) what="kill -9 (sf node kill)" ;;
        cut) what="link cut (sf node cut)" ;;
        esac
        printf '  %-26s %s\n' "$what: verdict" "$(awk '$1 != "-" { print $1 }' "$TMP/$act" | stats)"
        printf '  %-26s %s\n' "$what: job end" "$(awk '{ print $2 }' "$TMP/$act" | stats)"
        printf '  %-26s %s\n' "  verdict to job end" "$(awk '$1 != "-" { print $2 - $1 }' "$TMP/$act" | stats)"
        bad=$(awk '$3 == 0 || $4 != "yes"' "$TMP/$act" | wc -l)
        [ "$bad" = 0 ] || echo "  ($act: $bad job(s) exited 0 or without naming n2)"
    done
}

if [ "$MODE" = launch ]; then
    launch
else
    detect
fi
