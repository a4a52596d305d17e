# launcher/sfd: build fragment (included by the top Makefile.am).
# sfd links the convenience libraries statically, so the binary in the build
# tree is the real program (no libtool wrapper) and sfrun can exec it.
bin_PROGRAMS += launcher/sfd/sfd
launcher_sfd_sfd_SOURCES = \
	launcher/sfd/sfd_int.h \
	launcher/sfd/sfd_main.c \
	launcher/sfd/sfd_tun.c \
	launcher/sfd/sfd_client.c \
	launcher/sfd/sfd_job.c \
	launcher/sfd/sfd_spawn.c \
	launcher/sfd/sfd_io.c \
	launcher/sfd/sfd_auth.c \
	launcher/sfd/sfd_place.c \
	launcher/sfd/sfd_peer.c \
	launcher/sfd/sfd_record.c \
	launcher/sfd/sfd_dht.c \
	launcher/sfd/sfd_fs_meta.c launcher/sfd/sfd_fs.c launcher/sfd/sfd_fs_plan.h launcher/sfd/sfd_fs_plan.c
launcher_sfd_sfd_CFLAGS = $(AM_CFLAGS) $(HWLOC_CFLAGS) $(SODIUM_CFLAGS)
launcher_sfd_sfd_LDADD = libsffs.la libsfdht.la libsfnet.la libsfbase.la $(HWLOC_LIBS) $(SODIUM_LIBS) \
	-lpthread

# The daemon's code without its entry point, for the tests and the fuzz
# target below (compiled again per program: automake per-target flags).
sf_sfd_core = launcher/sfd/sfd_tun.c launcher/sfd/sfd_client.c launcher/sfd/sfd_job.c \
	launcher/sfd/sfd_spawn.c launcher/sfd/sfd_io.c launcher/sfd/sfd_auth.c \
	launcher/sfd/sfd_place.c launcher/sfd/sfd_peer.c launcher/sfd/sfd_record.c \
	launcher/sfd/sfd_dht.c launcher/sfd/sfd_fs_meta.c launcher/sfd/sfd_fs.c launcher/sfd/sfd_fs_plan.c
sf_sfd_libs = libsffs.la libsfdht.la libsfnet.la libsfbase.la $(HWLOC_LIBS) $(SODIUM_LIBS)

# Check suite: placement, the MAC layer, node records and beacons.
check_PROGRAMS += tests/check_sfd
TESTS += tests/check_sfd
tests_check_sfd_SOURCES = tests/check_sfd.c launcher/sfd/sfd_auth.c launcher/sfd/sfd_place.c \
	launcher/sfd/sfd_record.c
tests_check_sfd_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(SODIUM_CFLAGS)
tests_check_sfd_LDADD = libsfbase.la $(SODIUM_LIBS) $(CHECK_LIBS)

# Check suite for the block layer's pure part (the per-node repair planner).
check_PROGRAMS += tests/check_sfd_fs
TESTS += tests/check_sfd_fs
tests_check_sfd_fs_SOURCES = tests/check_sfd_fs.c launcher/sfd/sfd_fs_plan.c
tests_check_sfd_fs_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(SODIUM_CFLAGS)
tests_check_sfd_fs_LDADD = libsffs.la libsfdht.la libsfbase.la $(SODIUM_LIBS) $(CHECK_LIBS)

# Fuzz target for the control port (authentication + dispatch); make check
# replays its corpus. gen_sfd_corpus rewrites the corpus (run by hand).
check_PROGRAMS += tests/fuzz/replay_sfd tests/fuzz/gen_sfd_corpus
tests_fuzz_replay_sfd_SOURCES = tests/fuzz/replay.c tests/fuzz/fuzz_sfd.c $(sf_sfd_core)
tests_fuzz_replay_sfd_CFLAGS = $(AM_CFLAGS) $(HWLOC_CFLAGS) $(SODIUM_CFLAGS)
tests_fuzz_replay_sfd_LDADD = $(sf_sfd_libs)
tests_fuzz_gen_sfd_corpus_SOURCES = tests/fuzz/gen_sfd_corpus.c launcher/sfd/sfd_auth.c
tests_fuzz_gen_sfd_corpus_CFLAGS = $(AM_CFLAGS) $(SODIUM_CFLAGS)
tests_fuzz_gen_sfd_corpus_LDADD = libsfbase.la $(SODIUM_LIBS)
TESTS += tests/fuzz/run-sfd.sh
EXTRA_DIST += tests/fuzz/run-sfd.sh tests/fuzz/corpus/sfd

# Cluster tests: real daemons on loopback ports, each with its own state dir.
check_PROGRAMS += tests/cluster/sfd_poke
tests_cluster_sfd_poke_SOURCES = tests/cluster/sfd_poke.c launcher/sfd/sfd_auth.c
tests_cluster_sfd_poke_CFLAGS = $(AM_CFLAGS) $(SODIUM_CFLAGS)
tests_cluster_sfd_poke_LDADD = libsfbase.la $(SODIUM_LIBS)
check_PROGRAMS += tests/cluster/fs_poke
tests_cluster_fs_poke_SOURCES = tests/cluster/fs_poke.c
tests_cluster_fs_poke_LDADD = libsfbase.la
sf_sfd_cluster_tests = tests/cluster/sfd_cluster.sh tests/cluster/sfd_faults.sh \
	tests/cluster/sfd_dht.sh tests/cluster/netns-discovery.sh
TESTS += $(sf_sfd_cluster_tests)
EXTRA_DIST += $(sf_sfd_cluster_tests) tests/cluster/sfd_lib.sh
# The filesystem's block layer on namespaced nodes (root; skips otherwise).
TESTS += tests/cluster/fs_blocks.sh

# The filesystem's metadata (sfd_fs_meta.c): a namespace test client and
# the namespaced-cluster test.
check_PROGRAMS += tests/cluster/fs_meta_poke
tests_cluster_fs_meta_poke_SOURCES = tests/cluster/fs_meta_poke.c
tests_cluster_fs_meta_poke_LDADD = libsffs.la libsfdht.la libsfbase.la $(SODIUM_LIBS)
TESTS += tests/cluster/fs_meta.sh
EXTRA_DIST += tests/cluster/fs_meta.sh
EXTRA_DIST += tests/cluster/fs_blocks.sh

# make fuzz-sfd: a libFuzzer binary (clang only, never part of make check).
# Run: tests/fuzz/fuzz-sfd -max_total_time=180 NEWDIR $(srcdir)/tests/fuzz/corpus/sfd
.PHONY: fuzz-sfd
if HAVE_CLANG
fuzz-sfd: tests/fuzz/fuzz-sfd
tests/fuzz/fuzz-sfd: $(srcdir)/tests/fuzz/fuzz_sfd.c $(sf_sfd_core:%=$(srcdir)/%) libsffs.la libsfdht.la libsfnet.la libsfbase.la
	@$(MKDIR_P) tests/fuzz
	$(AM_V_CCLD)$(CLANG) -g -O1 -fsanitize=fuzzer,address,undefined \
	  -fno-sanitize-recover=undefined -I$(top_srcdir) -I$(top_builddir) -D_GNU_SOURCE \
	  $(HWLOC_CFLAGS) $(SODIUM_CFLAGS) -o $@ $(srcdir)/tests/fuzz/fuzz_sfd.c \
	  $(sf_sfd_core:%=$(srcdir)/%) .libs/libsffs.a .libs/libsfdht.a .libs/libsfnet.a .libs/libsfbase.a \
	  $(HWLOC_LIBS) $(SODIUM_LIBS) -lutil -lpthread
CLEANFILES += tests/fuzz/fuzz-sfd
else
fuzz-sfd:
	@echo "fuzz-sfd needs clang (libFuzzer); configure did not find it" >&2; exit 1
endif

# Fuzz target for the block layer's ops (sfd_fs.c) against a real store;
# make check replays its corpus; gen_sfd_fs_corpus rewrites the seeds (by
# hand). make fuzz-sfd-fs builds the libFuzzer binary. Run:
#   ASAN_OPTIONS=detect_leaks=0 tests/fuzz/fuzz-sfd-fs -max_total_time=120 NEWDIR \
#     $(srcdir)/tests/fuzz/corpus/sfd_fs
check_PROGRAMS += tests/fuzz/replay_sfd_fs tests/fuzz/gen_sfd_fs_corpus
tests_fuzz_replay_sfd_fs_SOURCES = tests/fuzz/replay.c tests/fuzz/fuzz_sfd_fs.c $(sf_sfd_core)
tests_fuzz_replay_sfd_fs_CFLAGS = $(AM_CFLAGS) $(HWLOC_CFLAGS) $(SODIUM_CFLAGS)
tests_fuzz_replay_sfd_fs_LDADD = $(sf_sfd_libs) -lpthread
tests_fuzz_gen_sfd_fs_corpus_SOURCES = tests/fuzz/gen_sfd_fs_corpus.c
tests_fuzz_gen_sfd_fs_corpus_LDADD = libsffs.la libsfdht.la libsfbase.la $(SODIUM_LIBS)
TESTS += tests/fuzz/run-sfd-fs.sh
EXTRA_DIST += tests/fuzz/run-sfd-fs.sh tests/fuzz/corpus/sfd_fs
.PHONY: fuzz-sfd-fs
if HAVE_CLANG
fuzz-sfd-fs: tests/fuzz/fuzz-sfd-fs
tests/fuzz/fuzz-sfd-fs: $(srcdir)/tests/fuzz/fuzz_sfd_fs.c $(sf_sfd_core:%=$(srcdir)/%) libsffs.la libsfdht.la libsfnet.la libsfbase.la
	@$(MKDIR_P) tests/fuzz
	$(AM_V_CCLD)$(CLANG) -g -O1 -fsanitize=fuzzer,address,undefined \
	  -fno-sanitize-recover=undefined -I$(top_srcdir) -I$(top_builddir) -D_GNU_SOURCE \
	  $(HWLOC_CFLAGS) $(SODIUM_CFLAGS) -o $@ $(srcdir)/tests/fuzz/fuzz_sfd_fs.c \
	  $(sf_sfd_core:%=$(srcdir)/%) .libs/libsffs.a .libs/libsfdht.a .libs/libsfnet.a .libs/libsfbase.a \
	  $(HWLOC_LIBS) $(SODIUM_LIBS) -lutil -lpthread
CLEANFILES += tests/fuzz/fuzz-sfd-fs
else
fuzz-sfd-fs:
	@echo "fuzz-sfd-fs needs clang (libFuzzer); configure did not find it" >&2; exit 1
endif

# Fuzz target for the node record (DHT) and the LAN beacon decoders; make
# check replays its corpus; make fuzz-sfd-record builds the libFuzzer binary.
# Run: tests/fuzz/fuzz-sfd-record -max_total_time=120 NEWDIR $(srcdir)/tests/fuzz/corpus/sfd_record
FUZZ_SFD_RECORD_SRCS = tests/fuzz/fuzz_sfd_record.c launcher/sfd/sfd_record.c \
	launcher/sfd/sfd_auth.c
check_PROGRAMS += tests/fuzz/replay_sfd_record
tests_fuzz_replay_sfd_record_SOURCES = tests/fuzz/replay.c $(FUZZ_SFD_RECORD_SRCS)
tests_fuzz_replay_sfd_record_CFLAGS = $(AM_CFLAGS) $(SODIUM_CFLAGS)
tests_fuzz_replay_sfd_record_LDADD = libsfbase.la $(SODIUM_LIBS)
TESTS += tests/fuzz/run-sfd-record.sh
EXTRA_DIST += tests/fuzz/run-sfd-record.sh tests/fuzz/corpus/sfd_record
.PHONY: fuzz-sfd-record
if HAVE_CLANG
fuzz-sfd-record: tests/fuzz/fuzz-sfd-record
tests/fuzz/fuzz-sfd-record: $(FUZZ_SFD_RECORD_SRCS:%=$(srcdir)/%) libsfbase.la
	@$(MKDIR_P) tests/fuzz
	$(AM_V_CCLD)$(CLANG) -g -O1 -fsanitize=fuzzer,address,undefined \
	  -fno-sanitize-recover=undefined -I$(top_srcdir) -I$(top_builddir) -D_GNU_SOURCE \
	  $(SODIUM_CFLAGS) -o $@ $(FUZZ_SFD_RECORD_SRCS:%=$(srcdir)/%) .libs/libsfbase.a \
	  $(SODIUM_LIBS)
CLEANFILES += tests/fuzz/fuzz-sfd-record
else
fuzz-sfd-record:
	@echo "fuzz-sfd-record needs clang (libFuzzer); configure did not find it" >&2; exit 1
endif

# Checkpoint coordination and --ft=restart (helper "ckptcoord").
launcher_sfd_sfd_SOURCES += launcher/sfd/sfd_ckpt.h launcher/sfd/sfd_ckpt.c \
	launcher/sfd/sfd_recover.c
sf_sfd_core += launcher/sfd/sfd_ckpt.c launcher/sfd/sfd_recover.c

# CRIU checkpoints of a job's local ranks (helper "ckptcriu").
launcher_sfd_sfd_SOURCES += launcher/sfd/sfd_ckpt_criu.c
launcher_sfd_sfd_LDADD += libsfckpt.la
sf_sfd_core += launcher/sfd/sfd_ckpt_criu.c
sf_sfd_libs += libsfckpt.la
