# Shared helpers for the shell tests: paths into the build tree, failure
# reporting and bounded waits. Sourced, not run. POSIX sh.
: "${top_builddir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_srcdir:=$top_builddir}"
SFRUN=$top_builddir/launcher/sfrun
SFCC=$top_builddir/launcher/sfcc-uninstalled
TMP=$(mktemp -d "${TMPDIR:-/tmp}/sftest.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
nfail=0
ntest=0
# Tests run the same inside a Slurm allocation (make check under salloc):
# sfrun would otherwise start daemons on the allocation's nodes.
for v in $(env | sed -n 's/^\(SLURM_[A-Za-z0-9_]*\)=.*/\1/p'); do
    unset "$v"
done

fail() {
    echo "FAIL: $*"
    nfail=$((nfail + 1))
}

ok() {
    echo "ok: $*"
}

# check NAME EXPECTED ACTUAL
check() {
    ntest=$((ntest + 1))
    if [ "$2" = "$3" ]; then ok "$1"; else fail "$1: expected '$2', got '$3'"; fi
}

# check_grep NAME PATTERN FILE: the file holds a line matching PATTERN.
check_grep() {
    ntest=$((ntest + 1))
    if grep -q -- "$2" "$3"; then ok "$1"; else
        fail "$1: no line matching '$2' in:"; sed 's/^/    /' "$3"; fi
}

check_nogrep() {
    ntest=$((ntest + 1))
    if grep -q -- "$2" "$3"; then fail "$1: unexpected '$2' in:"; sed 's/^/    /' "$3"; else
        ok "$1"; fi
}

# wait_polls N CMD...: poll CMD every 50 ms, at most N times; 0 once it
# succeeds. A bound on waiting for an outcome, not a delay standing in for one.
# (Its variables have names no polled function uses: sh has no locals.)
wait_polls() {
    _wp_max=$1
    shift
    _wp_i=0
    while [ "$_wp_i" -lt "$_wp_max" ]; do
        if "$@"; then return 0; fi
        sleep 0.05
        _wp_i=$((_wp_i + 1))
    done
    return 1
}
# wait_until CMD...: up to 10 s. wait_long CMD...: up to 60 s (a loaded
# machine starts ranks and daemons slowly).
wait_until() { wait_polls 200 "$@"; }
wait_long() { wait_polls 1200 "$@"; }

no_proc_matching() { ! pgrep -f -- "$1" >/dev/null; }
proc_gone() { ! kill -0 "$1" 2>/dev/null; }
lines_at_least() { [ "$(grep -c -- "$2" "$1" 2>/dev/null)" -ge "$3" ]; }

finish() {
    echo "$((ntest - nfail)) of $ntest checks passed"
    [ "$nfail" -eq 0 ]
    exit $?
}
