#!/bin/sh
# Filesystem benchmark (run by hand, never by make check): on a private
# namespaced cluster (sf up --netns, root) or loopback daemons, one client
# writes and reads a file sequentially with replication 2 (`sf fs put/get`)
# next to dd on the local disk in the same run (conv=fsync, page cache
# dropped before reads when allowed), ratios printed; then metadata ops per
# second: create, stat and unlink of small files through the FUSE mount vs
# the local disk. Numbers: bench/README.md "Filesystem".
#
#   top_builddir=. sh ../bench/fs.sh [--size MiB] [--files N] [--nodes K]
#                                    [--cluster netns|loopback] [--cached]
# Defaults: 1024 MiB, 10000 files, 3 nodes, netns when root.
set -u
: "${top_builddir:=$(cd "$(dirname "$0")/.." && pwd)}"
SF=$top_builddir/launcher/sf
export SF_SFD="$top_builddir/launcher/sfd/sfd"
SIZE=1024
FILES=10000
NODES=3
MODE=
DROP=1
while [ $# -gt 0 ]; do
    case $1 in
    --size) SIZE=$2; shift ;;
    --files) FILES=$2; shift ;;
    --nodes) NODES=$2; shift ;;
    --cluster) MODE=$2; shift ;;
    --cached) DROP=0 ;;
    *) echo "usage: fs.sh [--size MiB] [--files N] [--nodes K] [--cluster netns|loopback] [--cached]" >&2
       exit 2 ;;
    esac
    shift
done
if [ -z "$MODE" ]; then
    if [ "$(id -u)" = 0 ] && ! ip link show sfbr0 >/dev/null 2>&1; then MODE=netns; else MODE=loopback; fi
fi
[ -x "$SF" ] && [ -x "$SF_SFD" ] || { echo "fs.sh: build sf and sfd first ($SF)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "fs.sh: needs python3 for the metadata loop" >&2; exit 1; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sfbench-fs.XXXXXX")
export SF_CLUSTER_DIR="$WORK/c"
unset SF_CLUSTER XDG_RUNTIME_DIR
MNT=$WORK/mnt
SRC=/dev/shm/sfbench-fs.$$
cleanup() {
    fusermount3 -u "$MNT" 2>/dev/null
    [ -f "$SF_CLUSTER_DIR/cluster" ] && "$SF" down --grace 2 >/dev/null 2>&1
    rm -rf "$WORK" "$SRC"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

now() { date +%s.%N; }
drop() {
    sync
    if [ "$DROP" = 1 ] && [ -w /proc/sys/vm/drop_caches ]; then
        echo 3 >/proc/sys/vm/drop_caches
        return 0
    fi
    return 1
}
rate() { awk -v b="$1" -v t="$2" 'BEGIN { printf "%.0f", b / 1048576 / t }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

up_opt=
if [ "$MODE" = netns ]; then
    # The namespace tests' lock (tests/lib-cluster.sh): one user of sfbr0
    # and sf-nI at a time.
    exec 9>/run/lock/starfish-netns.lock 2>/dev/null || exec 9>/tmp/starfish-netns.lock
    flock -w 300 9 || { echo "fs.sh: the namespace lock stayed taken" >&2; exit 1; }
    up_opt=--netns
fi
[ "$MODE" = loopback ] && up_opt="--base-port 0"
"$SF" up $up_opt --nodes "$NODES" --wait 30 >"$WORK/up.out" 2>&1 || {
    cat "$WORK/up.out"
    exit 1
}
i=0
until "$SF" fs ls / >/dev/null 2>&1; do
    i=$((i + 1))
    [ $i -lt 600 ] || { echo "fs.sh: the namespace never answered" >&2; exit 1; }
    sleep 0.05
done

echo "Starfish filesystem: $NODES nodes ($MODE), replication 2, block $(
    "$SF" fs status 2>/dev/null | sed -n 's/^block_size=//p') B, $(nproc) cores, $(date -u +%F)"
head -c $((SIZE * 1048576)) /dev/urandom >"$SRC"
BYTES=$((SIZE * 1048576))
dropped=no
# Sequential write: local disk (dd, fsync at the end) vs sf fs put (every
# block durable on 2 nodes before it is acknowledged).
t0=$(now)
dd if="$SRC" of="$WORK/local" bs=1M conv=fsync status=none
t1=$(now)
lw=$(echo "$t1 - $t0" | bc -l)
t0=$(now)
"$SF" fs put "$SRC" /bench || exit 1
t1=$(now)
sw=$(echo "$t1 - $t0" | bc -l)
# Sequential read.
drop && dropped=yes
t0=$(now)
dd if="$WORK/local" of=/dev/null bs=1M status=none
t1=$(now)
lr=$(echo "$t1 - $t0" | bc -l)
drop
t0=$(now)
"$SF" fs get /bench - | cmp -s - "$SRC" || { echo "fs.sh: read back differs" >&2; exit 1; }
t1=$(now)
sr=$(echo "$t1 - $t0" | bc -l)
rm -f "$SRC" "$WORK/local"
printf "\n%-28s %10s %10s %8s\n" "sequential, $SIZE MiB" "local MB/s" "sf MB/s" "sf/local"
printf "%-28s %10s %10s %8s\n" "write (fsync / 2 replicas)" "$(rate $BYTES "$lw")" "$(rate $BYTES "$sw")" \
    "$(ratio "$lw" "$sw")"
printf "%-28s %10s %10s %8s\n" "read (caches dropped: $dropped)" "$(rate $BYTES "$lr")" \
    "$(rate $BYTES "$sr")" "$(ratio "$lr" "$sr")"
echo "(the sf read includes cmp against the source in memory)"

# Metadata: create (open O_CREAT + close), stat, unlink of empty files.
mkdir -p "$MNT" "$WORK/meta"
"$SF" fs mount "$MNT" || exit 1
mkdir "$MNT/meta"
meta() {
    python3 - "$1" "$FILES" <<'EOF'
import os, sys, time
d, n = sys.argv[1], int(sys.argv[2])
names = [os.path.join(d, "f%05d" % i) for i in range(n)]
out = []
t = time.monotonic()
for p in names:
    os.close(os.open(p, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o644))
out.append(n / (time.monotonic() - t))
t = time.monotonic()
for p in names:
    os.stat(p)
out.append(n / (time.monotonic() - t))
t = time.monotonic()
for p in names:
    os.unlink(p)
out.append(n / (time.monotonic() - t))
print(" ".join("%.0f" % x for x in out))
EOF
}
set -- $(meta "$WORK/meta")
l_c=$1 l_s=$2 l_u=$3
set -- $(meta "$MNT/meta")
s_c=$1 s_s=$2 s_u=$3
printf "\n%-28s %10s %10s %8s\n" "metadata, $FILES files" "local op/s" "FUSE op/s" "sf/local"
printf "%-28s %10s %10s %8s\n" "create" "$l_c" "$s_c" "$(ratio "$s_c" "$l_c")"
printf "%-28s %10s %10s %8s\n" "stat" "$l_s" "$s_s" "$(ratio "$s_s" "$l_s")"
printf "%-28s %10s %10s %8s\n" "unlink" "$l_u" "$s_u" "$(ratio "$s_u" "$l_u")"
echo "(stat through FUSE: the kernel caches attributes for 1 s, so most stats right after"
echo " the creates are answered by the kernel; the rest cost a lookup round trip)"
