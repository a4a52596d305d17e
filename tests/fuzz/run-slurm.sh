#!/bin/sh
# make check: replay the Slurm task-count decoder's fuzz corpus through the
# plain driver (no clang needed). A crash or broken invariant aborts it.
src=${top_srcdir:-$(dirname "$0")/../..}
build=${top_builddir:-.}
exec "$build/tests/fuzz/replay_slurm" "$src/tests/fuzz/corpus/slurm"
