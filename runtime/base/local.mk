# runtime/base: build fragment (included by the top Makefile.am).
noinst_LTLIBRARIES += libsfbase.la
libsfbase_la_SOURCES = \
	runtime/base/sf_err.h runtime/base/sf_log.h runtime/base/sf_tun.h \
	runtime/base/sf_loop.h runtime/base/sf_wire.h runtime/base/sf_env.h \
	runtime/base/base_int.h \
	runtime/base/err.c runtime/base/log.c runtime/base/tun.c \
	runtime/base/loop.c runtime/base/crc32c.c runtime/base/wire_schema.c \
	runtime/base/wire_decode.c runtime/base/wire_encode.c runtime/base/wire_io.c

check_PROGRAMS += tests/check_base
TESTS += tests/check_base
tests_check_base_SOURCES = tests/check_base.c
tests_check_base_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_base_LDADD = libsfbase.la $(CHECK_LIBS)
