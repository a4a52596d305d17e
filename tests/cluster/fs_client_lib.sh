# Helpers of the sf fs cluster tests (fs_client.sh, fs_fuse.sh), sourced
# after tests/lib-cluster.sh. POSIX sh.

# fs NODE ARGS...: `sf fs ARGS` through node NODE's daemon.
fs() {
    n=$1
    shift
    "$SF" --dir "$CDIR/$n" fs "$@"
}
# fs_ready NODES...: the namespace answers through each node.
fs_ready() {
    for n in "$@"; do
        fs "$n" ls / >/dev/null 2>&1 || return 1
    done
}
