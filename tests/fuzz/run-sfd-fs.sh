#!/bin/sh
# make check: replay the block layer's fuzz corpus (launcher/sfd/sfd_fs.c
# ops against a real store) through the plain driver. A crash aborts it.
src=${top_srcdir:-$(dirname "$0")/../..}
build=${top_builddir:-.}
exec "$build/tests/fuzz/replay_sfd_fs" "$src/tests/fuzz/corpus/sfd_fs"
