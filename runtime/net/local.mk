# runtime/net: build fragment (included by the top Makefile.am).
# libsfnet.la: the transports (own shared memory, libfabric RDM).
noinst_LTLIBRARIES += libsfnet.la
libsfnet_la_SOURCES = \
	runtime/net/sf_net.h \
	runtime/net/net_int.h \
	runtime/net/net_shm.c \
	runtime/net/net_ofi.c
libsfnet_la_CFLAGS = $(AM_CFLAGS) $(FABRIC_CFLAGS)

# Raw transport latency/bandwidth (run by hand).
noinst_PROGRAMS += bench/net_pingpong
bench_net_pingpong_SOURCES = bench/net_pingpong.c
bench_net_pingpong_LDADD = libsfnet.la libsfbase.la

# Check suite: every transport between forked processes.
check_PROGRAMS += tests/check_net
TESTS += tests/check_net
tests_check_net_SOURCES = tests/check_net.c
tests_check_net_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_net_LDADD = libsfnet.la libsfbase.la $(CHECK_LIBS)
