#!/bin/sh
# make check: replay the filesystem record fuzz corpus (inode, dirent,
# list-block, name, path, resolve inputs) through the plain driver (no
# clang needed). A crash or broken invariant aborts the driver.
src=${top_srcdir:-$(dirname "$0")/../..}
build=${top_builddir:-.}
exec "$build/tests/fuzz/replay_fs_inode" "$src/tests/fuzz/corpus/fs_inode"
