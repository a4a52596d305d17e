# runtime/rt: build fragment (included by the top Makefile.am).
noinst_LTLIBRARIES += libsfrt.la
libsfrt_la_SOURCES = \
	runtime/rt/sf_rt.h runtime/rt/rt_int.h \
	runtime/rt/rt_core.c runtime/rt/rt_match.c runtime/rt/rt_send.c \
	runtime/rt/rt_recv.c runtime/rt/rt_proto.c runtime/rt/rt_wireup.c
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
