#!/bin/sh
# sfrun basics with plain programs: rank environment, -x, stdin to rank 0
# only, --tag-output, informational flags, sfcc -show.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"

out=$TMP/out err=$TMP/err
"$SFRUN" -n 3 sh -c 'echo "r=$OMPI_COMM_WORLD_RANK s=$OMPI_COMM_WORLD_SIZE lr=$OMPI_COMM_WORLD_LOCAL_RANK ls=$OMPI_COMM_WORLD_LOCAL_SIZE p=$PMI_RANK/$PMI_SIZE sf=$SF_RANK/$SF_SIZE"' \
    </dev/null >"$out" 2>"$err"
check "3 ranks exit 0" 0 $?
for r in 0 1 2; do
    check_grep "rank $r environment" "^r=$r s=3 lr=$r ls=3 p=$r/3 sf=$r/3\$" "$out"
done
check "3 lines of output" 3 "$(wc -l <"$out" | tr -d ' ')"

"$SFRUN" -n 2 sh -c 'test -n "$SF_SFD_FD" && test -n "$SF_SHM_FD" && test -e /proc/self/fd/$SF_SHM_FD && echo fds-ok' \
    </dev/null >"$out" 2>"$err"
check "control socket and shm segment are inherited" 2 "$(grep -c fds-ok "$out")"

"$SFRUN" -n 2 sh -c '[ -t 1 ] && echo "stdout tty"; [ -t 2 ] || echo "stderr pipe"' </dev/null >"$out" 2>"$err"
check "rank stdout is a terminal (line-buffered stdio)" 2 "$(grep -c 'stdout tty' "$out")"
check "rank stderr is a pipe" 2 "$(grep -c 'stderr pipe' "$out")"
SF_SFD_STDOUT_PTY=0 "$SFRUN" -n 1 sh -c '[ -t 1 ] || echo "stdout pipe"' </dev/null >"$out" 2>"$err"
check "SF_SFD_STDOUT_PTY=0 gives a pipe" "stdout pipe" "$(cat "$out")"
"$SFRUN" -n 4 --oversubscribe sh -c 'seq 1 50000' </dev/null >"$out" 2>"$err"
check "no output lost when ranks exit at once" 200000 "$(wc -l <"$out" | tr -d ' ')"

export SF_TEST_INHERITED=inh
SF_TEST_NAMED=named "$SFRUN" -n 2 -x SF_TEST_NAMED -x SF_TEST_SET=val -x SF_TEST_INHERITED=over \
    sh -c 'echo "$SF_TEST_NAMED $SF_TEST_SET $SF_TEST_INHERITED"' </dev/null >"$out" 2>"$err"
check "-x exit 0" 0 $?
check "-x VAR, VAR=val and override reach every rank" 2 "$(grep -c '^named val over$' "$out")"

printf 'line one\nline two\n' | "$SFRUN" -n 3 sh -c 'n=$(cat | wc -l); echo "rank $OMPI_COMM_WORLD_RANK read $n"' \
    >"$out" 2>"$err"
check "stdin job exit 0" 0 $?
check_grep "rank 0 reads stdin" "^rank 0 read 2$" "$out"
check_grep "rank 1 gets no stdin" "^rank 1 read 0$" "$out"
check_grep "rank 2 gets no stdin" "^rank 2 read 0$" "$out"

# Large stdin echoed back by rank 0: stdin and output flow at once (a
# launcher that blocks on either side deadlocks here).
head -c 8000000 /dev/urandom >"$TMP/big"
want=$(cksum <"$TMP/big")
got=$("$SFRUN" -n 2 cat <"$TMP/big" 2>"$err" | cksum)
check "8 MB from a file through rank 0 and back" "$want" "$got"
got=$(cat "$TMP/big" | "$SFRUN" -n 1 cat 2>"$err" | cksum)
check "8 MB from a pipe through rank 0 and back" "$want" "$got"

# A rank 0 that reads its stdin late: sfrun sends only a window ahead of
# what rank 0 consumed, so the daemon holds little of 200 MB (its peak
# memory, read by rank 0 from /proc of its sfd ancestor: the rank's parent
# is the job's init, whose parent is the daemon).
head -c 200000000 /dev/zero | "$SFRUN" -n 1 sh -c \
    'sleep 1; wc -c; p=$(sed "s/.*) . \([0-9]*\).*/\1/" /proc/self/stat)
     while [ "$p" -gt 1 ] && [ "$(cat /proc/$p/comm)" != sfd ]; do p=$(sed "s/.*) . \([0-9]*\).*/\1/" /proc/$p/stat); done
     sed -n "s/^VmHWM:[[:space:]]*\([0-9]*\) kB/hwm \1/p" /proc/$p/status' \
    >"$out" 2>"$err"
check "200 MB to a late reader: all of it arrives" 200000000 "$(sed -n 1p "$out" | tr -d ' ')"
hwm=$(sed -n 's/^hwm //p' "$out")
check "the daemon's memory stays bounded (peak ${hwm:-?} kB < 100 MB)" yes \
    "$([ -n "$hwm" ] && [ "$hwm" -lt 100000 ] && echo yes)"

"$SFRUN" -n 2 --tag-output sh -c 'printf "a\nb"; echo e >&2' </dev/null >"$out" 2>"$err"
check "tag-output exit 0" 0 $?
check_grep "tagged stdout line" '^\[1,1\]<stdout>:a$' "$out"
check_grep "partial last line flushed with its tag" '^\[1,0\]<stdout>:b$' "$out"
check_grep "tagged stderr" '^\[1,0\]<stderr>:e$' "$err"

"$SFRUN" --version >"$out" 2>&1
check "--version exit 0" 0 $?
check_grep "--version names Starfish" "Starfish" "$out"
"$SFRUN" --help >"$out" 2>&1
check_grep "--help shows usage" "usage: sfrun" "$out"
"$SFRUN" --params >"$out" 2>&1
check "--params exit 0" 0 $?
check_grep "--params lists sfd tunables" "^SF_SFD_KILL_GRACE=" "$out"
for var in SF_RT_EAGER_LIMIT SF_NET_SHM_CMA SF_NET_OFI_MAX_PKT SF_COLL_ALLREDUCE_LARGE SF_DHT_K; do
    check_grep "--params lists $var" "^$var=" "$out"
done
SF_RT_EAGER_LIMIT=32k "$SFRUN" --params >"$out" 2>&1
check_grep "--params shows an override" "^SF_RT_EAGER_LIMIT=32k" "$out"

"$SFRUN" --allow-run-as-root --mca btl self -n 1 true </dev/null >"$out" 2>"$err"
check "Open MPI flags accepted" 0 $?
check_grep "--mca warns" "ignoring Open MPI parameter --mca btl self" "$err"

"$SFRUN" -n 1 --oversubscribe --bind-to core sh -c 'echo $SF_OVERSUBSCRIBED' </dev/null >"$out" 2>"$err"
check "--bind-to core exit 0" 0 $?
check "one rank is not oversubscribed" 0 "$(cat "$out")"

if [ "$(nproc)" -ge 2 ]; then
    "$SFRUN" -n 2 --tag-output --bind-to core sh -c 'grep Cpus_allowed_list /proc/self/status' \
        </dev/null >"$out" 2>"$err"
    check_grep "--bind-to core binds rank 0 to one cpu" '^\[1,0\]<stdout>:Cpus_allowed_list:[[:space:]]*[0-9]*$' "$out"
    check_grep "--bind-to core binds rank 1 to one cpu" '^\[1,1\]<stdout>:Cpus_allowed_list:[[:space:]]*[0-9]*$' "$out"
fi

if [ -x "$SFCC" ]; then
    "$SFCC" -show -o x x.c >"$out" 2>&1
    check_grep "sfcc -show adds libmpi" "x.c.*-lmpi" "$out"
    "$SFCC" --showme:compile >"$out" 2>&1
    check_grep "sfcc --showme:compile names mpi.h's dir" "mpi-shim" "$out"
    "$SFCC" -show -c x.c >"$out" 2>&1
    check_nogrep "sfcc -c does not link" "-lmpi" "$out"
fi
finish
