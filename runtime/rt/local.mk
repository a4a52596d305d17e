# runtime/rt: build fragment (included by the top Makefile.am).
noinst_LTLIBRARIES += libsfrt.la
libsfrt_la_SOURCES = \
	runtime/rt/sf_rt.h runtime/rt/rt_int.h \
	runtime/rt/rt_core.c runtime/rt/rt_match.c runtime/rt/rt_send.c \
	runtime/rt/rt_recv.c runtime/rt/rt_proto.c runtime/rt/rt_wireup.c \
	runtime/rt/rt_quiesce.c
libsfrt_la_CFLAGS = $(AM_CFLAGS) $(FABRIC_CFLAGS)

check_PROGRAMS += tests/check_rt
TESTS += tests/check_rt
tests_check_rt_SOURCES = tests/check_rt.c
tests_check_rt_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_rt_LDADD = libsfrt.la libsfnet.la libsfbase.la $(CHECK_LIBS)

# Hand-run engine ping-pong over shm (compare with bench/net_pingpong).
noinst_PROGRAMS += runtime/rt/rt_pingpong
runtime_rt_rt_pingpong_SOURCES = runtime/rt/rt_pingpong.c
runtime_rt_rt_pingpong_LDADD = libsfrt.la libsfnet.la libsfbase.la

# Packet-decoder fuzzing: make check replays the corpus with the plain
# driver; make fuzz-rt builds the libFuzzer binary (clang only).
# Run: tests/fuzz/fuzz-rt -max_total_time=180 NEWDIR $(srcdir)/tests/fuzz/corpus/rt
check_PROGRAMS += tests/fuzz/replay_rt
tests_fuzz_replay_rt_SOURCES = tests/fuzz/replay.c tests/fuzz/fuzz_rt.c
tests_fuzz_replay_rt_LDADD = libsfrt.la libsfnet.la libsfbase.la
TESTS += tests/fuzz/run-rt.sh
EXTRA_DIST += tests/fuzz/run-rt.sh tests/fuzz/corpus/rt
FUZZ_RT_SRCS = tests/fuzz/fuzz_rt.c runtime/rt/rt_core.c runtime/rt/rt_match.c \
	runtime/rt/rt_send.c runtime/rt/rt_recv.c runtime/rt/rt_proto.c runtime/rt/rt_quiesce.c \
	runtime/base/err.c runtime/base/log.c runtime/base/tun.c runtime/base/wire_io.c \
	runtime/base/wire_decode.c runtime/base/wire_encode.c runtime/base/wire_schema.c \
	runtime/base/crc32c.c
.PHONY: fuzz-rt
if HAVE_CLANG
fuzz-rt: tests/fuzz/fuzz-rt
tests/fuzz/fuzz-rt: $(FUZZ_RT_SRCS:%=$(srcdir)/%)
	@$(MKDIR_P) tests/fuzz
	$(AM_V_CCLD)$(CLANG) -g -O1 -fsanitize=fuzzer,address,undefined \
	  -fno-sanitize-recover=undefined -I$(top_srcdir) -I$(top_builddir) -D_GNU_SOURCE \
	  -o $@ $(FUZZ_RT_SRCS:%=$(srcdir)/%) -lpthread
CLEANFILES += tests/fuzz/fuzz-rt
else
fuzz-rt:
	@echo "fuzz-rt needs clang (libFuzzer); configure did not find it" >&2; exit 1
endif
