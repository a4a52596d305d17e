#!/bin/sh
# make check: replay the filesystem metadata fuzz corpus (record lists,
# entry values, entry lists, log frames) through the plain driver (no clang
# needed). A crash or broken invariant aborts the driver.
src=${top_srcdir:-$(dirname "$0")/../..}
build=${top_builddir:-.}
exec "$build/tests/fuzz/replay_fs_meta" "$src/tests/fuzz/corpus/fs_meta"
