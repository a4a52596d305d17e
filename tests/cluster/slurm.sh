#!/bin/sh
# sfrun inside a Slurm allocation, on a real slurmctld + slurmd set up here:
# own munge key and socket, own slurm.conf, ports and state in the test's
# temp dir (a system-wide Slurm or munge is not touched). Two slurmd run as
# two nodes of one host (slurmd -N); an sbatch script calls sfrun, which
# starts one sfd per allocated node with srun; the job's output and exit
# status come back through Slurm, and nothing is left running. Skips only
# when the Slurm or munge programs are missing.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
. "$top_srcdir/tests/lib-cluster.sh"
# The ranks' stand-in: a sleep whose argument names this run, so leftovers
# are counted for this script only (another test may run the same).
NAP=997.$$
for p in munged slurmctld slurmd sbatch srun scontrol sinfo squeue scancel; do
    command -v $p >/dev/null 2>&1 || PATH=$PATH:/usr/sbin
    command -v $p >/dev/null 2>&1 || skip "no $p (Debian packages slurm-wlm and munge)"
done
real_sfd_listens || skip "sfd has no --listen (cluster) mode"
export TMPDIR="$TMP"
# slurmd runs jobs as their owner: root, or this user for its own jobs.
me=$(id -un)
host=$(hostname -s)
S=$TMP/slurm
mkdir -p "$S/munge" "$S/ctld" "$S/spool"
chmod 755 "$TMP" "$S"
chmod 700 "$S/munge"

# Two ports no one listens on (not Slurm's defaults 6817/6818).
port_free() { ! ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }
base=$((20000 + $$ % 20000))
while ! port_free $base || ! port_free $((base + 1)) || ! port_free $((base + 2)); do
    base=$((base + 3))
done

pids=""
slurm_cleanup() {
    if [ -n "$pids" ]; then
        # Jobs first (their steps run under slurmstepd, outside slurmd).
        SLURM_CONF=$S/slurm.conf scancel --full --quiet -u "$me" 2>/dev/null
        i=0
        while [ $i -lt 100 ] && [ -n "$(SLURM_CONF=$S/slurm.conf squeue -h 2>/dev/null)" ]; do
            sleep 0.1
            i=$((i + 1))
        done
        kill $pids 2>/dev/null
        for p in $pids; do
            i=0
            while [ $i -lt 100 ] && kill -0 "$p" 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
            kill -KILL "$p" 2>/dev/null
        done
        wait 2>/dev/null
    fi
    cluster_cleanup
}
trap 'slurm_cleanup' EXIT

dd if=/dev/urandom of="$S/munge/key" bs=1024 count=1 2>/dev/null
chmod 600 "$S/munge/key"
munged -F -f --key-file="$S/munge/key" --socket="$S/munge/sock" --pid-file="$S/munge/pid" \
    --log-file="$S/munge/log" --seed-file="$S/munge/seed" >"$S/munged.out" 2>&1 &
pids="$!"

# Two nodes on this host: slurmd -N NAME, each on its own port.
cat >"$S/slurm.conf" <<EOF
ClusterName=sftest
SlurmctldHost=localhost
SlurmctldPort=$base
SlurmUser=$me
SlurmdUser=$me
AuthType=auth/munge
AuthInfo=socket=$S/munge/sock
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/builtin
StateSaveLocation=$S/ctld
SlurmdSpoolDir=$S/spool/%n
SlurmctldPidFile=$S/ctld.pid
SlurmdPidFile=$S/slurmd-%n.pid
SlurmctldLogFile=$S/ctld.log
SlurmdLogFile=$S/slurmd-%n.log
ReturnToService=2
MpiDefault=none
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
KillWait=5
NodeName=sfn1 NodeHostname=$host NodeAddr=127.0.0.1 Port=$((base + 1)) CPUs=1 State=UNKNOWN
NodeName=sfn2 NodeHostname=$host NodeAddr=127.0.0.1 Port=$((base + 2)) CPUs=1 State=UNKNOWN
PartitionName=sft Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF="$S/slurm.conf"
unset SLURM_JOB_ID SLURM_JOB_NODELIST

wait_file() { [ -S "$1" ]; }
wait_until wait_file "$S/munge/sock"
check "munged is up" 0 $?
slurmctld -D -i >"$S/ctld.out" 2>&1 &
pids="$pids $!"
for n in sfn1 sfn2; do
    slurmd -D -N $n >"$S/slurmd-$n.out" 2>&1 &
    pids="$pids $!"
done
both_idle() { [ "$(sinfo -h -N -o '%N %T' 2>/dev/null | grep -c ' idle$')" = 2 ]; }
i=0
while [ $i -lt 4 ] && ! both_idle; do wait_until both_idle; i=$((i + 1)); done
check "both Slurm nodes are idle" 0 "$(both_idle && echo 0 || sinfo -N)"
if ! both_idle; then
    tail -n 5 "$S"/*.log "$S"/*.out
    finish
fi

# The batch scripts: sfrun starts its daemons with srun, one per node;
# without -n it runs $SLURM_NTASKS ranks (pi says "on 2 ranks"), placed by
# Slurm's tasks per node (one on each here, though each node has 2 cores).
cat >"$S/pi.sh" <<EOF
#!/bin/sh
echo "allocation \$SLURM_JOB_NODELIST"
exec "$SFRUN" "$top_builddir/examples/pi"
EOF
cat >"$S/rank.sh" <<'EOF'
p=$(sed "s/.*) . \([0-9]*\).*/\1/" /proc/self/stat); while [ "$p" -gt 1 ] && [ "$(cat /proc/$p/comm)" != sfd ]; do p=$(sed "s/.*) . \([0-9]*\).*/\1/" /proc/$p/stat); done
echo "rank $OMPI_COMM_WORLD_RANK on $(tr '\0' ' ' </proc/$p/cmdline | sed -n 's/.*--name \([^ ]*\).*/\1/p')"
EOF
cat >"$S/where.sh" <<EOF
#!/bin/sh
"$SFRUN" sh "$S/rank.sh" || exit \$?
exec "$SFRUN" --host sfn2 -n 1 sh "$S/rank.sh"
EOF
cat >"$S/hold.sh" <<EOF
#!/bin/sh
exec "$SFRUN" -N 1 -n 2 sh -c "echo started; exec sleep $NAP"
EOF
cat >"$S/fail.sh" <<EOF
#!/bin/sh
"$SFRUN" -N 1 -n 2 sh -c 'exit \$((OMPI_COMM_WORLD_RANK == 1 ? 7 : 0))'
EOF
chmod +x "$S"/*.sh
cd "$S" || exit 1

timeout 100 sbatch --wait -N 2 -n 2 -o "$S/pi.out" "$S/pi.sh" >"$TMP/sb" 2>&1
check "sbatch of sfrun examples/pi exits 0" 0 $?
check_grep "the job had both nodes" "^allocation sfn\[1-2\]\$" "$S/pi.out"
check_grep "pi ran and checked its answer" "^OK\$" "$S/pi.out"
check_grep "on 2 ranks" "on 2 ranks" "$S/pi.out"
check "no daemon left after the job" 0 "$(live_procs "$TMP/sfjob-")"
check_grep "sfn2's daemon came from an srun step" "launch task StepId=[0-9]*\.0" "$S/slurmd-sfn2.log"

timeout 100 sbatch --wait -N 2 -n 2 -o "$S/where.out" "$S/where.sh" >"$TMP/sb" 2>&1
check "sbatch of sfrun (where) exits 0" 0 $?
check_grep "rank 0 ran in sfn1's daemon" "^rank 0 on sfn1\$" "$S/where.out"
check_grep "rank 1 ran in sfn2's daemon" "^rank 1 on sfn2\$" "$S/where.out"
check_grep "--host sfn2 inside the allocation" "^rank 0 on sfn2\$" "$S/where.out"

# scancel of a running job: Slurm signals the batch script (sfrun) and the
# daemons' step; nothing of the job is left.
sbatch -N 2 -n 2 -o "$S/hold.out" "$S/hold.sh" >"$TMP/sb" 2>&1
check "sbatch of a long job" 0 $?
two_started() { [ -f "$S/hold.out" ] && lines_at_least "$S/hold.out" '^started$' 2; }
wait_until two_started || wait_until two_started
check "its 2 ranks started" 2 "$(grep -c '^started$' "$S/hold.out")"
scancel "$(sed -n 's/^Submitted batch job //p' "$TMP/sb")"
queue_empty() { [ -z "$(squeue -h)" ]; }
nothing_left() { [ "$(live_procs "$TMP/sfjob-") $(live_procs "sleep $NAP")" = "0 0" ]; }
wait_until queue_empty
wait_until nothing_left
check "no daemon or rank left after scancel" "0 0" "$(live_procs "$TMP/sfjob-") $(live_procs "sleep $NAP")"

# A node's daemon dies mid-job: the job ends naming that node only (the
# srun step keeps the other node's daemon until sfrun stops it).
timeout 100 sbatch --wait -N 2 -n 2 -o "$S/lost.out" "$S/hold.sh" >"$TMP/sb" 2>&1 &
sb=$!
lost_started() { [ -f "$S/lost.out" ] && lines_at_least "$S/lost.out" '^started$' 2; }
wait_until lost_started || wait_until lost_started
pkill -KILL -f -- "$TMP/sfjob-.*/r-sfn2 --port"
check "the daemon to lose was found and killed" 0 $?
wait $sb
check "job with a lost node fails through sbatch --wait" 1 $?
check_grep "naming the lost node and its rank" "node sfn2 .*lost rank 1 " "$S/lost.out"
check_nogrep "and only that node (sfn1 may be who saw it go)" "node sfn1" "$S/lost.out"
check_nogrep "daemons' tasks end cleanly for srun" "srun: error" "$S/pi.out"
wait_until nothing_left
check "no daemon or rank left after a lost node" "0 0" "$(live_procs "$TMP/sfjob-") $(live_procs "sleep $NAP")"

timeout 100 sbatch --wait -N 2 -n 2 -o "$S/fail.out" "$S/fail.sh" >"$TMP/sb" 2>&1
check "a failing rank's status comes back through sbatch --wait" 7 $?
check "no daemon left after the failed job" 0 "$(live_procs "$TMP/sfjob-")"
check "job dirs removed" 0 "$(ls -d "$TMP"/sfjob-* 2>/dev/null | wc -l)"
check "no job left in the queue" "" "$(squeue -h)"
for f in pi where fail hold lost; do
    if [ "$nfail" -gt 0 ]; then
        echo "--- $f.out"
        sed 's/^/    /' "$S/$f.out"
    fi
done
finish
