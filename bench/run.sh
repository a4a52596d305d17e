#!/bin/sh
# Runs the benchmarks against Starfish (build tree's sfrun + libmpi) and
# Debian's Open MPI, and prints one table per benchmark with both figures
# and the ratio starfish/ompi. Each program reports medians of 7 batches;
# this script repeats each program REPEAT times and prints the median of
# those. Launch latency (by default) and failure detection (only with
# --only detect) come from bench/launch.sh. Not a test: it never fails on
# numbers. Usage:
#   bench/run.sh [--quick] [--no-tcp] [--ranks "4 8"]
#                [--only pingpong|allreduce|coll|launch|detect]
# Environment: top_builddir (default .), OMPI_MPIRUN, BENCH_REPEAT (3).
set -u

B=${top_builddir:-.}
SFRUN=$B/launcher/sfrun
OMPIRUN=${OMPI_MPIRUN:-$(command -v mpirun.openmpi || true)}
REPEAT=${BENCH_REPEAT:-3}
RANKS="4 8"
TCP=1
ONLY=
while [ $# -gt 0 ]; do
    case $1 in
    --quick) REPEAT=1 ;;
    --no-tcp) TCP=0 ;;
    --ranks) RANKS=$2; shift ;;
    --only) ONLY=$2; shift ;;
    *) echo "usage: $0 [--quick] [--no-tcp] [--ranks \"4 8\"] [--only pingpong|allreduce|coll|launch|detect]" >&2
       exit 2 ;;
    esac
    shift
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/sfbench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT INT TERM

have_sf=1
[ -x "$SFRUN" ] && [ -e "$B/bench/pingpong" ] || have_sf=0
have_ompi=1
[ -n "$OMPIRUN" ] && [ -x "$B/bench/pingpong-ompi" ] || have_ompi=0
[ $have_sf = 1 ] || echo "note: Starfish side not built (need launcher/sfrun, bench/pingpong)"
[ $have_ompi = 1 ] || echo "note: Open MPI side not built (need mpirun.openmpi, bench/pingpong-ompi)"

# run IMPL NRANKS OUTFILE NET PROG: append the program's output REPEAT times.
run() {
    impl=$1 n=$2 out=$3 net=$4 prog=$5
    : > "$out"
    i=0
    while [ $i -lt "$REPEAT" ]; do
        if [ "$impl" = sf ]; then
            [ $have_sf = 1 ] || return 1
            if [ "$net" = tcp ]; then
                "$SFRUN" --oversubscribe --timeout 10m -x FI_PROVIDER=tcp -n "$n" "$B/bench/$prog" \
                    >> "$out" 2> "$out.err" || { echo "  (starfish $prog -n $n failed; see below)";
                                                 tail -3 "$out.err"; return 1; }
            else
                "$SFRUN" --oversubscribe --timeout 10m -n "$n" "$B/bench/$prog" \
                    >> "$out" 2> "$out.err" || { echo "  (starfish $prog -n $n failed; see below)";
                                                 tail -3 "$out.err"; return 1; }
            fi
        else
            [ $have_ompi = 1 ] || return 1
            if [ "$net" = tcp ]; then
                set -- --mca btl tcp,self
            else
                set --
            fi
            "$OMPIRUN" --allow-run-as-root --oversubscribe "$@" -n "$n" "$B/bench/$prog-ompi" \
                >> "$out" 2> "$out.err" || { echo "  (open mpi $prog -n $n failed; see below)";
                                             tail -3 "$out.err"; return 1; }
        fi
        i=$((i + 1))
    done
}

# table KIND TITLE UNIT: join $TMP/sf and $TMP/ompi lines "KIND SIZE VALUE"
# (several per size: one per repeat) into median rows.
table() {
    kind=$1 title=$2 unit=$3
    echo "  $title ($unit)"
    printf '  %10s %12s %12s %8s\n' size starfish open-mpi ratio
    awk -v kind="$kind" '
        function med(list,   a, n, i, j, t) {
            n = split(list, a, " ")
            if (n == 0) return ""
            for (i = 2; i <= n; i++) { t = a[i] + 0; for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
            return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
        }
        function human(b) {
            if (b >= 1048576) return (b / 1048576) " MiB"
            if (b >= 1024) return (b / 1024) " KiB"
            return b " B"
        }
        $1 != kind { next }
        { if (!($2 in seen)) { seen[$2] = 1; order[++ns] = $2 }
          vals[FILENAME ~ /\/sf$/ ? "sf" : "om", $2] = vals[FILENAME ~ /\/sf$/ ? "sf" : "om", $2] " " $3 }
        END {
            for (k = 1; k <= ns; k++) {
                s = order[k]; a = med(vals["sf", s]); b = med(vals["om", s])
                r = (a != "" && b != "" && b + 0 > 0) ? sprintf("%.2f", a / b) : "-"
                printf "  %10s %12s %12s %8s\n", human(s), a == "" ? "-" : sprintf("%.2f", a),
                       b == "" ? "-" : sprintf("%.2f", b), r
            }
        }' "$TMP/sf" "$TMP/ompi"
}

echo "Starfish vs Open MPI on $(hostname), $(nproc) cores; medians of $REPEAT run(s) x 7 batches"
echo "ratio = starfish / open-mpi (latency: lower is better; bandwidth: higher is better)"

if [ -z "$ONLY" ] || [ "$ONLY" = pingpong ]; then
    nets=shm
    [ $TCP = 1 ] && nets="shm tcp"
    for net in $nets; do
        echo
        if [ $net = shm ]; then
            echo "== ping-pong, 2 ranks on one node (Starfish shared memory vs Open MPI vader) =="
        else
            echo "== ping-pong, 2 ranks over TCP (Starfish FI_PROVIDER=tcp vs Open MPI btl tcp,self) =="
        fi
        run sf 2 "$TMP/sf" $net pingpong
        run ompi 2 "$TMP/ompi" $net pingpong
        table lat "latency" "us"
        table bw "bandwidth, window of 64 sends" "MB/s"
    done
fi

if [ -z "$ONLY" ] || [ "$ONLY" = allreduce ]; then
    for n in $RANKS; do
        echo
        echo "== MPI_Allreduce (MPI_SUM, doubles), $n ranks on $(nproc) cores =="
        run sf "$n" "$TMP/sf" shm allreduce
        run ompi "$n" "$TMP/ompi" shm allreduce
        table allreduce "time per call" "us"
    done
fi

if [ -z "$ONLY" ] || [ "$ONLY" = coll ]; then
    for n in $RANKS; do
        echo
        echo "== MPI_Bcast / MPI_Allgather / MPI_Alltoall (bytes), $n ranks on $(nproc) cores =="
        echo "   (size: the message for bcast, the whole receive buffer for the others)"
        run sf "$n" "$TMP/sf" shm coll
        run ompi "$n" "$TMP/ompi" shm coll
        table bcast "MPI_Bcast time per call" "us"
        table allgather "MPI_Allgather time per call" "us"
        table alltoall "MPI_Alltoall time per call" "us"
    done
fi

# Launch latency has its own rank counts (2..64); --ranks is for the
# collectives. Failure detection takes a minute or two: only on request.
if [ -z "$ONLY" ] || [ "$ONLY" = launch ]; then
    BENCH_REPEAT=$REPEAT top_builddir=$B OMPI_MPIRUN=$OMPIRUN \
        sh "$(dirname "$0")/launch.sh" launch
fi
if [ "$ONLY" = detect ]; then
    if [ $REPEAT = 1 ]; then
        set -- --trials 5
    else
        set --
    fi
    top_builddir=$B sh "$(dirname "$0")/launch.sh" detect "$@"
fi
