#!/bin/sh
# make check: replay the node-record and beacon decoders' fuzz corpus
# through the plain driver (no clang needed). A crash or broken invariant
# aborts the driver.
src=${top_srcdir:-$(dirname "$0")/../..}
build=${top_builddir:-.}
exec "$build/tests/fuzz/replay_sfd_record" "$src/tests/fuzz/corpus/sfd_record"
