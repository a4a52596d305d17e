# Helpers for the app-backend checkpoint tests (tests/checkpoint/app.sh,
# tests/cluster/ft*.sh): run examples/mc_ckpt in the background, wait for a
# committed epoch, kill ranks by their SF_RANK. Sourced after tests/lib.sh.
# Every wait is bounded; none stands in for an outcome.
MC=$top_builddir/examples/mc_ckpt
export SF_CKPT_STORE="$TMP/store"

# committed E: some job's epoch E is committed in the store.
committed() { ls "$SF_CKPT_STORE"/*/"$1"/COMMITTED >/dev/null 2>&1; }


# rank_pid TAG R: pid of rank R of the run whose command line holds TAG.
rank_pid() {
    for p in $(pgrep -f -- "$1"); do
        if tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "SF_RANK=$2"; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

# kill_rank TAG R: SIGKILL rank R (after waiting for it to exist).
kill_rank() {
    wait_long rank_pid "$1" "$2" >/dev/null || return 1
    kill -9 "$(rank_pid "$1" "$2")"
}

# start_bg NAME CMD...: run CMD with stdout NAME.out, stderr NAME.err, exit
# status into NAME.rc once it ends.
start_bg() {
    name=$1
    shift
    ("$@" >"$TMP/$name.out" 2>"$TMP/$name.err"; echo $? >"$TMP/$name.rc") &
}

# finished NAME: its exit status is written.
finished() { [ -s "$TMP/$1.rc" ]; }

# wait_bg NAME: wait (bounded: 120 s) for it; on a hang show the state.
wait_bg() {
    i=0
    while [ $i -lt 2400 ] && ! finished "$1"; do
        sleep 0.05
        i=$((i + 1))
    done
    if ! finished "$1"; then
        echo "(run $1 did not end within 120 s; its stderr:)"
        sed 's/^/    /' "$TMP/$1.err"
        echo 999 >"$TMP/$1.rc"
    fi
}

# same_output NAME REF: stdout identical to the reference run's.
same_output() {
    ntest=$((ntest + 1))
    if cmp -s "$TMP/$2.out" "$TMP/$1.out" && grep -qx OK "$TMP/$1.out"; then
        ok "$1: the same answer and output as an undisturbed run"
    else
        fail "$1: output differs from the undisturbed run (or no OK):"
        diff "$TMP/$2.out" "$TMP/$1.out" | sed 's/^/    /'
        sed 's/^/    stderr: /' "$TMP/$1.err"
    fi
}

# recovered NAME LABEL PATTERN: the run ended with status 0, printed what
# the undisturbed run "ref" printed, and its stderr matches PATTERN.
recovered() {
    wait_bg "$1"
    check "$2: job exits 0" 0 "$(cat "$TMP/$1.rc")"
    same_output "$1" ref
    check_grep "$2: restart announced" "$3" "$TMP/$1.err"
}
