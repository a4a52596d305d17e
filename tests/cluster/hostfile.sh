#!/bin/sh
# sfrun placement flags end to end: hostfile errors name file and line and
# exit 2 before anything starts; bad --host/--map-by/-N are usage errors;
# this host alone without a cluster runs here; a remote host that cannot
# be reached fails.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
. "$top_srcdir/tests/lib-cluster.sh"

hf=$TMP/hosts
printf '# test\nnodeA slots=2\nnodeB slots=many\n' >"$hf"
"$SFRUN" --hostfile "$hf" -n 2 echo hi </dev/null >"$TMP/out" 2>"$TMP/err"
check "bad slots value: exit 2" 2 $?
check_grep "error names file and line 3" "$hf:3: slots needs a number" "$TMP/err"
check_nogrep "nothing ran" "hi" "$TMP/out"
printf 'nodeA\n\n  nodeB cpus=4 # comment\n' >"$hf"
"$SFRUN" --hostfile "$hf" -n 2 echo hi </dev/null >"$TMP/out" 2>"$TMP/err"
check "unknown attribute: exit 2" 2 $?
check_grep "unknown attribute on line 3" "$hf:3: unknown attribute 'cpus'" "$TMP/err"
printf 'node@A\n' >"$hf"
"$SFRUN" --hostfile "$hf" -n 1 true </dev/null >"$TMP/out" 2>"$TMP/err"
check "bad host name: exit 2" 2 $?
check_grep "bad host name on line 1" "$hf:1: bad host name 'node@A'" "$TMP/err"
"$SFRUN" --hostfile "$TMP/missing" -n 1 true </dev/null >"$TMP/out" 2>"$TMP/err"
check "missing hostfile: exit 2" 2 $?
check_grep "missing hostfile named" "cannot open hostfile $TMP/missing" "$TMP/err"
printf '# only comments\n' >"$hf"
"$SFRUN" --hostfile "$hf" -n 1 true </dev/null >"$TMP/out" 2>"$TMP/err"
check "empty hostfile: exit 2" 2 $?
"$SFRUN" --host 'a,,b' -n 1 true </dev/null >"$TMP/out" 2>"$TMP/err"
check "bad --host: exit 2" 2 $?
"$SFRUN" --map-by diagonal -n 1 true </dev/null >"$TMP/out" 2>"$TMP/err"
check "bad --map-by: exit 2" 2 $?
"$SFRUN" -N 0 -n 1 true </dev/null >"$TMP/out" 2>"$TMP/err"
check "bad -N: exit 2" 2 $?
"$SFRUN" --cluster "$TMP/nothing-here" -n 1 true </dev/null >"$TMP/out" 2>"$TMP/err"
check "--cluster without a cluster fails" 1 $?
check_grep "--cluster failure says where" "$TMP/nothing-here" "$TMP/err"

printf 'localhost slots=4\n' >"$hf"
"$SFRUN" --hostfile "$hf" -N 2 --map-by node -n 2 echo hi </dev/null >"$TMP/out" 2>"$TMP/err"
check "local hostfile without a cluster runs here" 0 $?
check "both ranks ran" 2 "$(grep -c '^hi$' "$TMP/out")"
check_nogrep "silently: this host was named" "warning" "$TMP/err"
# A remote host and no cluster: sfrun starts a daemon there over the
# launch agent (tests/cluster/launch.sh); one that cannot be reached fails
# the job before anything runs.
"$SFRUN" --host sf-elsewhere:2 --launch-agent false -n 2 echo hi </dev/null >"$TMP/out" 2>"$TMP/err"
check "unreachable remote host without a cluster: exit 1" 1 $?
check_nogrep "nothing ran" "hi" "$TMP/out"
check_grep "and says which host" "launch agent for host sf-elsewhere exited" "$TMP/err"
finish
