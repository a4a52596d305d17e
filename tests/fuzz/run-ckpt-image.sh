#!/bin/sh
# make check: replay the checkpoint image fuzz corpus through the plain
# driver (no clang needed). A crash or broken invariant aborts the driver.
src=${top_srcdir:-$(dirname "$0")/../..}
build=${top_builddir:-.}
exec "$build/tests/fuzz/replay_ckpt_image" "$src/tests/fuzz/corpus/ckpt_image"
