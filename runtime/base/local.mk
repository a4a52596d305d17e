# runtime/base: build fragment (included by the top Makefile.am).
noinst_LTLIBRARIES += libsfbase.la
libsfbase_la_SOURCES = \
	runtime/base/sf_err.h runtime/base/sf_log.h runtime/base/sf_tun.h \
	runtime/base/sf_loop.h runtime/base/sf_wire.h runtime/base/sf_env.h \
	runtime/base/sf_crc.h runtime/base/base_int.h \
	runtime/base/err.c runtime/base/log.c runtime/base/tun.c \
	runtime/base/loop.c runtime/base/crc32c.c runtime/base/wire_schema.c \
	runtime/base/wire_decode.c runtime/base/wire_encode.c runtime/base/wire_io.c
# Hidden: the objects are linked statically into programs and libmpi.so, and
# libmpi must export only the MPI names.
libsfbase_la_CFLAGS = $(AM_CFLAGS) -fvisibility=hidden

check_PROGRAMS += tests/check_base
TESTS += tests/check_base
tests_check_base_SOURCES = tests/check_base.c
tests_check_base_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_base_LDADD = libsfbase.la $(CHECK_LIBS)

# Fuzzing. replay.c is the generic corpus driver (other modules link their
# own tests/fuzz/fuzz_*.c with it); make check replays the wire corpus.
check_PROGRAMS += tests/fuzz/replay_wire tests/fuzz/gen_wire_corpus
tests_fuzz_replay_wire_SOURCES = tests/fuzz/replay.c tests/fuzz/fuzz_wire.c
tests_fuzz_replay_wire_LDADD = libsfbase.la
tests_fuzz_gen_wire_corpus_SOURCES = tests/fuzz/gen_wire_corpus.c
tests_fuzz_gen_wire_corpus_LDADD = libsfbase.la
TESTS += tests/fuzz/run-wire.sh
EXTRA_DIST += tests/fuzz/run-wire.sh tests/fuzz/corpus/wire

# make fuzz-wire: a libFuzzer binary (clang only, never part of make check).
# Run: tests/fuzz/fuzz-wire -max_total_time=180 NEWDIR $(srcdir)/tests/fuzz/corpus/wire
FUZZ_WIRE_SRCS = tests/fuzz/fuzz_wire.c runtime/base/wire_decode.c \
	runtime/base/wire_encode.c runtime/base/wire_io.c runtime/base/wire_schema.c \
	runtime/base/crc32c.c runtime/base/err.c
FUZZ_WIRE_HDRS = runtime/base/sf_crc.h runtime/base/sf_wire.h runtime/base/sf_err.h runtime/base/base_int.h
.PHONY: fuzz-wire
if HAVE_CLANG
fuzz-wire: tests/fuzz/fuzz-wire
tests/fuzz/fuzz-wire: $(FUZZ_WIRE_SRCS:%=$(srcdir)/%) $(FUZZ_WIRE_HDRS:%=$(srcdir)/%)
	@$(MKDIR_P) tests/fuzz
	$(AM_V_CCLD)$(CLANG) -g -O1 -fsanitize=fuzzer,address,undefined \
	  -fno-sanitize-recover=undefined -I$(top_srcdir) -I$(top_builddir) -D_GNU_SOURCE \
	  -o $@ $(FUZZ_WIRE_SRCS:%=$(srcdir)/%) -lpthread
CLEANFILES += tests/fuzz/fuzz-wire
else
fuzz-wire:
	@echo "fuzz-wire needs clang (libFuzzer); configure did not find it" >&2; exit 1
endif
