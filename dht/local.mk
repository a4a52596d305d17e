# dht/: Kademlia protocol core (no I/O) and its UDP binding; build fragment
# included by the top Makefile.am.
noinst_LTLIBRARIES += libsfdht.la
libsfdht_la_SOURCES = \
	dht/sf_dht.h dht/dht_int.h \
	dht/dht_node.c dht/dht_table.c dht/dht_lookup.c dht/dht_store.c \
	dht/dht_packet.c dht/dht_udp.c
libsfdht_la_CFLAGS = $(AM_CFLAGS) -fvisibility=hidden
EXTRA_DIST += dht/README.md

# Hand-run benchmark: hops and messages per lookup at 100/1k/5k nodes.
noinst_PROGRAMS += bench/dht_hops
bench_dht_hops_SOURCES = bench/dht_hops.c dht/dht_sim.c dht/dht_sim.h
bench_dht_hops_LDADD = libsfdht.la libsfbase.la

# Check suite: unit tests plus 1,000-node simulations (SF_DHT_SIM_NODES=N
# for a smaller network, e.g. under valgrind) and a loopback UDP pair.
check_PROGRAMS += tests/check_dht
TESTS += tests/check_dht
tests_check_dht_SOURCES = tests/check_dht.c dht/dht_sim.c dht/dht_sim.h
tests_check_dht_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_dht_LDADD = libsfdht.la libsfbase.la $(CHECK_LIBS) -lm

# Packet fuzzing: make check replays the corpus through the generic driver
# (tests/fuzz/replay.c); make fuzz-dht builds the libFuzzer binary (clang).
# Run: tests/fuzz/fuzz-dht -max_total_time=180 NEWDIR $(srcdir)/tests/fuzz/corpus/dht
check_PROGRAMS += tests/fuzz/replay_dht tests/fuzz/gen_dht_corpus
tests_fuzz_gen_dht_corpus_SOURCES = tests/fuzz/gen_dht_corpus.c
tests_fuzz_gen_dht_corpus_LDADD = libsfdht.la libsfbase.la
tests_fuzz_replay_dht_SOURCES = tests/fuzz/replay.c tests/fuzz/fuzz_dht.c
tests_fuzz_replay_dht_LDADD = libsfdht.la libsfbase.la
TESTS += tests/fuzz/run-dht.sh
EXTRA_DIST += tests/fuzz/run-dht.sh tests/fuzz/corpus/dht
FUZZ_DHT_SRCS = tests/fuzz/fuzz_dht.c dht/dht_node.c dht/dht_table.c dht/dht_lookup.c \
	dht/dht_store.c dht/dht_packet.c runtime/base/err.c runtime/base/log.c \
	runtime/base/tun.c runtime/base/crc32c.c
FUZZ_DHT_HDRS = dht/sf_dht.h dht/dht_int.h
.PHONY: fuzz-dht
if HAVE_CLANG
fuzz-dht: tests/fuzz/fuzz-dht
tests/fuzz/fuzz-dht: $(FUZZ_DHT_SRCS:%=$(srcdir)/%) $(FUZZ_DHT_HDRS:%=$(srcdir)/%)
	@$(MKDIR_P) tests/fuzz
	$(AM_V_CCLD)$(CLANG) -g -O1 -fsanitize=fuzzer,address,undefined \
	  -fno-sanitize-recover=undefined -I$(top_srcdir) -I$(top_builddir) -D_GNU_SOURCE \
	  -o $@ $(FUZZ_DHT_SRCS:%=$(srcdir)/%) -lpthread
CLEANFILES += tests/fuzz/fuzz-dht
else
fuzz-dht:
	@echo "fuzz-dht needs clang (libFuzzer); configure did not find it" >&2; exit 1
endif
