#!/bin/sh
# make check: replay the daemon control-port fuzz corpus through the plain
# driver (no clang needed). A crash aborts the driver.
src=${top_srcdir:-$(dirname "$0")/../..}
build=${top_builddir:-.}
exec "$build/tests/fuzz/replay_sfd" "$src/tests/fuzz/corpus/sfd"
