#!/bin/sh
# make check: replay the message engine's packet fuzz corpus through the
# plain driver (no clang needed). A crash aborts the driver.
src=${top_srcdir:-$(dirname "$0")/../..}
build=${top_builddir:-.}
exec "$build/tests/fuzz/replay_rt" "$src/tests/fuzz/corpus/rt"
