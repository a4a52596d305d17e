#!/bin/sh
# Stand-in for ssh in the launch tests: `launch-agent.sh HOST COMMAND...`
# runs COMMAND as ssh would (the words joined into one line for sh -c), on
# this machine, or inside the network namespace named in
# $SF_TEST_AGENT_NS_<HOST with . and - as _> when that is set. Logs each
# call to $SF_TEST_AGENT_LOG. SF_TEST_AGENT_FAIL=HOST makes the call for
# HOST fail the way ssh does for an unreachable host (exit 255).
host=$1
shift
if [ -n "$SF_TEST_AGENT_LOG" ]; then
    echo "$host" >>"$SF_TEST_AGENT_LOG"
fi
if [ "$host" = "$SF_TEST_AGENT_FAIL" ]; then
    echo "ssh: connect to host $host port 22: Connection refused" >&2
    exit 255
fi
var=SF_TEST_AGENT_NS_$(echo "$host" | tr '.-' '__')
eval "ns=\${$var:-}"
if [ -n "$ns" ]; then
    exec ip netns exec "$ns" sh -c "$*"
fi
exec sh -c "$*"
