# checkpoint: build fragment (included by the top Makefile.am). No code
# yet; the test proves the CRIU that scripts/setup provides works here.
TESTS += tests/checkpoint/criu.sh
EXTRA_DIST += tests/checkpoint/criu.sh
