# mpi-shim: build fragment (included by the top Makefile.am).

# --- helper "coll": reduction kernels and collective algorithms ----------
# libsfcoll.la is linked into libmpi (libmpi_la_LIBADD += libsfcoll.la).
noinst_LTLIBRARIES += libsfcoll.la
libsfcoll_la_SOURCES = mpi-shim/op.c mpi-shim/sf_op.h
# -fvect-cost-model=dynamic survives a later -O2 in CFLAGS: at -O2 alone gcc 12
# vectorises only 2 of the kernel loops, with it all of them.
libsfcoll_la_CFLAGS = $(AM_CFLAGS) -O3 -fvect-cost-model=dynamic -fvisibility=hidden

check_PROGRAMS += tests/check_op
TESTS += tests/check_op
tests_check_op_SOURCES = tests/check_op.c
tests_check_op_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_op_LDADD = libsfcoll.la $(CHECK_LIBS)
