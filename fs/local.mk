# fs/: the filesystem's first layer (block store, placement, record codecs;
# no network yet); build fragment included by the top Makefile.am.
noinst_LTLIBRARIES += libsffs.la
libsffs_la_SOURCES = \
	fs/sf_fs.h fs/fs_int.h \
	fs/fs_config.c fs/fs_block.c fs/fs_place.c fs/fs_name.c fs/fs_inode.c \
	fs/sf_fs_meta.h fs/fs_meta_codec.c fs/fs_meta.c
libsffs_la_CFLAGS = $(AM_CFLAGS) $(SODIUM_CFLAGS) -fvisibility=hidden
libsffs_la_LIBADD = $(SODIUM_LIBS)
EXTRA_DIST += fs/README.md

# Check suite: block store on temp dirs, placement/repair properties,
# record codecs.
check_PROGRAMS += tests/check_fs
TESTS += tests/check_fs
tests_check_fs_SOURCES = tests/check_fs.c
tests_check_fs_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_fs_LDADD = libsffs.la libsfdht.la libsfbase.la $(SODIUM_LIBS) $(CHECK_LIBS)

# Record-decoder fuzzing: make check replays the corpus through the generic
# driver (tests/fuzz/replay.c); make fuzz-fs-inode builds the libFuzzer
# binary (clang). Run:
#   tests/fuzz/fuzz-fs-inode -max_total_time=180 NEWDIR $(srcdir)/tests/fuzz/corpus/fs_inode
check_PROGRAMS += tests/fuzz/replay_fs_inode tests/fuzz/gen_fs_inode_corpus
tests_fuzz_gen_fs_inode_corpus_SOURCES = tests/fuzz/gen_fs_inode_corpus.c
tests_fuzz_gen_fs_inode_corpus_LDADD = libsffs.la libsfbase.la $(SODIUM_LIBS)
tests_fuzz_replay_fs_inode_SOURCES = tests/fuzz/replay.c tests/fuzz/fuzz_fs_inode.c
tests_fuzz_replay_fs_inode_LDADD = libsffs.la libsfbase.la $(SODIUM_LIBS)
TESTS += tests/fuzz/run-fs-inode.sh
EXTRA_DIST += tests/fuzz/run-fs-inode.sh tests/fuzz/corpus/fs_inode
FUZZ_FS_INODE_SRCS = tests/fuzz/fuzz_fs_inode.c fs/fs_inode.c fs/fs_name.c fs/fs_config.c \
	runtime/base/err.c runtime/base/log.c runtime/base/tun.c
FUZZ_FS_INODE_HDRS = fs/sf_fs.h fs/fs_int.h
.PHONY: fuzz-fs-inode
if HAVE_CLANG
fuzz-fs-inode: tests/fuzz/fuzz-fs-inode
tests/fuzz/fuzz-fs-inode: $(FUZZ_FS_INODE_SRCS:%=$(srcdir)/%) $(FUZZ_FS_INODE_HDRS:%=$(srcdir)/%)
	@$(MKDIR_P) tests/fuzz
	$(AM_V_CCLD)$(CLANG) -g -O1 -fsanitize=fuzzer,address,undefined \
	  -fno-sanitize-recover=undefined -I$(top_srcdir) -I$(top_builddir) -D_GNU_SOURCE \
	  $(SODIUM_CFLAGS) -o $@ $(FUZZ_FS_INODE_SRCS:%=$(srcdir)/%) $(SODIUM_LIBS) -lpthread
CLEANFILES += tests/fuzz/fuzz-fs-inode
else
fuzz-fs-inode:
	@echo "fuzz-fs-inode needs clang (libFuzzer); configure did not find it" >&2; exit 1
endif

# The client library (fs/sf_fs_client.h): the local sfd's fs ops over its
# Unix socket, streaming reader/writer, namespace calls. Linked into sf
# (sf fs ..., the FUSE mount) and, later, the checkpoint code.
noinst_LTLIBRARIES += libsffsclient.la
libsffsclient_la_SOURCES = \
	fs/sf_fs_client.h fs/fs_client_int.h \
	fs/fs_client.c fs/fs_client_pend.c fs/fs_client_ns.c fs/fs_client_io.c
libsffsclient_la_LIBADD = libsffs.la

# Client library tests: request table, block cutter, and the framing end to
# end against an in-test server over a socketpair.
check_PROGRAMS += tests/check_fs_client
TESTS += tests/check_fs_client
tests_check_fs_client_SOURCES = tests/check_fs_client.c
tests_check_fs_client_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_fs_client_LDADD = libsffsclient.la libsffs.la libsfdht.la libsfbase.la $(SODIUM_LIBS) \
	$(CHECK_LIBS)

# Metadata core on a simulated network (fs/fs_meta.c; sfd wiring in
# launcher/sfd/sfd_fs_meta.c).
check_PROGRAMS += tests/check_fs_meta
TESTS += tests/check_fs_meta
tests_check_fs_meta_SOURCES = tests/check_fs_meta.c
tests_check_fs_meta_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_fs_meta_LDADD = libsffs.la libsfdht.la libsfbase.la $(SODIUM_LIBS) $(CHECK_LIBS)

# sf fs and the FUSE mount on a namespaced cluster (root; skip otherwise).
# SF_FS_BIG=1 adds a 3 GiB put/get to fs_client.sh.
sf_fs_client_tests = tests/cluster/fs_client.sh tests/cluster/fs_fuse.sh \
	tests/cluster/fs_client_faults.sh
EXTRA_DIST += tests/cluster/fs_client_lib.sh tests/cluster/fs_fuse_edit.py
TESTS += $(sf_fs_client_tests)
EXTRA_DIST += $(sf_fs_client_tests)

# Metadata format fuzzing (fs/fs_meta_codec.c): make check replays the
# corpus; make fuzz-fs-meta builds the libFuzzer binary (clang). Run:
#   tests/fuzz/fuzz-fs-meta -max_total_time=180 NEWDIR $(srcdir)/tests/fuzz/corpus/fs_meta
# Regenerate the seeds with tests/fuzz/gen_fs_meta_corpus DIR.
check_PROGRAMS += tests/fuzz/replay_fs_meta tests/fuzz/gen_fs_meta_corpus
tests_fuzz_replay_fs_meta_SOURCES = tests/fuzz/replay.c tests/fuzz/fuzz_fs_meta.c
tests_fuzz_replay_fs_meta_LDADD = libsffs.la libsfdht.la libsfbase.la $(SODIUM_LIBS)
tests_fuzz_gen_fs_meta_corpus_SOURCES = tests/fuzz/gen_fs_meta_corpus.c
tests_fuzz_gen_fs_meta_corpus_LDADD = libsffs.la libsfdht.la libsfbase.la $(SODIUM_LIBS)
TESTS += tests/fuzz/run-fs-meta.sh
EXTRA_DIST += tests/fuzz/run-fs-meta.sh tests/fuzz/corpus/fs_meta
FUZZ_FS_META_SRCS = tests/fuzz/fuzz_fs_meta.c fs/fs_meta_codec.c fs/fs_inode.c fs/fs_name.c \
	fs/fs_config.c runtime/base/err.c runtime/base/log.c runtime/base/tun.c runtime/base/crc32c.c
.PHONY: fuzz-fs-meta
if HAVE_CLANG
fuzz-fs-meta: tests/fuzz/fuzz-fs-meta
tests/fuzz/fuzz-fs-meta: $(FUZZ_FS_META_SRCS:%=$(srcdir)/%) $(srcdir)/fs/sf_fs_meta.h
	@$(MKDIR_P) tests/fuzz
	$(AM_V_CCLD)$(CLANG) -g -O1 -fsanitize=fuzzer,address,undefined \
	  -fno-sanitize-recover=undefined -I$(top_srcdir) -I$(top_builddir) -D_GNU_SOURCE \
	  $(SODIUM_CFLAGS) -o $@ $(FUZZ_FS_META_SRCS:%=$(srcdir)/%) $(SODIUM_LIBS) -lpthread
CLEANFILES += tests/fuzz/fuzz-fs-meta
else
fuzz-fs-meta:
	@echo "fuzz-fs-meta needs clang (libFuzzer); configure did not find it" >&2; exit 1
endif
