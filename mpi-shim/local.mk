# mpi-shim: build fragment (included by the top Makefile.am).

# --- helper "mpi": libmpi.so.40 (bindings, predefined objects, mpi.h) ----
# Open MPI 4.x C ABI; exports limited by libmpi.map. unsupported.c (weak
# "not supported yet" definitions of every binding) is generated from
# mpi-api.list; strong definitions in mpi_*.c replace them at link time.
# Installed in $(pkglibdir) and $(pkgincludedir) (lib/starfish, include/starfish),
# off the loader's default path: Starfish's libmpi.so.40 must not replace
# Open MPI's for programs started by Open MPI's own mpirun. sfrun puts it
# first for its ranks; sfcc links with an rpath to it.
pkglib_LTLIBRARIES += libmpi.la
pkginclude_HEADERS += mpi-shim/mpi.h mpi-shim/mpi-ext.h
libmpi_la_SOURCES = mpi-shim/mpi.h mpi-shim/mpi-ext.h mpi-shim/shim_int.h \
	mpi-shim/mpi_objects.c mpi-shim/mpi_err.c mpi-shim/mpi_check.c \
	mpi-shim/mpi_init.c mpi-shim/mpi_type.c mpi-shim/mpi_pt2pt.c \
	mpi-shim/mpi_req.c mpi-shim/mpi_comm.c mpi-shim/mpi_coll.c \
	mpi-shim/mpi_misc.c mpi-shim/dt_build.c mpi-shim/dt_pack.c mpi-shim/dt_engine.c \
	mpi-shim/mpi_group.c mpi-shim/mpi_attr.c mpi-shim/mpi_info.c mpi-shim/mpi_topo.c \
	mpi-shim/mpi_f2c.c mpi-shim/mpi_greq.c mpi-shim/mpi_compat.c \
	mpi-shim/mpi_thread.c
nodist_libmpi_la_SOURCES = mpi-shim/unsupported.c
libmpi_la_LIBADD = libsfcoll.la libsfrt.la libsfnet.la libsfbase.la \
	$(HWLOC_LIBS) -lm
# checkpoint/: the app backend's API (sf_ckpt.h), exported by name in libmpi.map
libmpi_la_LIBADD += libsfckptapp.la
libmpi_la_LDFLAGS = -version-info 40:0:0 -no-undefined \
	-Wl,--version-script=$(srcdir)/mpi-shim/libmpi.map
EXTRA_libmpi_la_DEPENDENCIES = mpi-shim/libmpi.map
EXTRA_DIST += mpi-shim/mpi-api.list mpi-shim/mpi-api.sh mpi-shim/libmpi.map \
	mpi-shim/COVERAGE.md
CLEANFILES += mpi-shim/unsupported.c

mpi-shim/unsupported.c: $(srcdir)/mpi-shim/mpi-api.list $(srcdir)/mpi-shim/mpi-api.sh
	$(AM_V_GEN)$(MKDIR_P) mpi-shim && \
	  $(SHELL) $(srcdir)/mpi-shim/mpi-api.sh stubs $(srcdir)/mpi-shim/mpi-api.list > $@.tmp && \
	  mv $@.tmp $@

# --- helper "coll": reduction kernels and collective algorithms ----------
# libsfcoll.la is linked into libmpi (libmpi_la_LIBADD += libsfcoll.la).
noinst_LTLIBRARIES += libsfcoll.la
libsfcoll_la_SOURCES = mpi-shim/op.c mpi-shim/sf_op.h mpi-shim/sf_coll.h mpi-shim/coll_int.h \
	mpi-shim/coll_util.c mpi-shim/coll_barrier.c mpi-shim/coll_bcast.c \
	mpi-shim/coll_reduce.c mpi-shim/coll_allreduce.c mpi-shim/coll_sched.c mpi-shim/coll_nb.c \
	mpi-shim/coll_inter.c
# -fvect-cost-model=dynamic survives a later -O2 in CFLAGS: at -O2 alone gcc 12
# vectorises only 2 of the kernel loops, with it all of them.
libsfcoll_la_CFLAGS = $(AM_CFLAGS) -O3 -fvect-cost-model=dynamic -fvisibility=hidden

check_PROGRAMS += tests/check_op
TESTS += tests/check_op
tests_check_op_SOURCES = tests/check_op.c
tests_check_op_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_op_LDADD = libsfcoll.la $(CHECK_LIBS)

# The collectives run over an in-test stand-in for sf_rt (threads as ranks).
check_PROGRAMS += tests/check_coll
TESTS += tests/check_coll
tests_check_coll_SOURCES = tests/check_coll.c
tests_check_coll_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) -pthread
tests_check_coll_LDADD = libsfcoll.la libsfbase.la $(CHECK_LIBS) -lpthread

# --- helper "mpi": MPI semantics programs (tests/mpi) and the ABI test ----
sf_mpi_test_cppflags = -I$(top_srcdir)/mpi-shim
check_PROGRAMS += tests/mpi/p2p_basic tests/mpi/p2p_probe tests/mpi/p2p_req \
	tests/mpi/p2p_bsend tests/mpi/errors tests/mpi/fatal tests/mpi/env_coll
# --- helper "comm": communicators, groups, attributes, info, topologies ---
check_PROGRAMS += tests/mpi/comm tests/mpi/attr tests/mpi/topo
tests_mpi_comm_SOURCES = tests/mpi/comm.c tests/mpi/mt.h
tests_mpi_comm_CPPFLAGS = $(sf_mpi_test_cppflags)
tests_mpi_comm_LDADD = libmpi.la
tests_mpi_attr_SOURCES = tests/mpi/attr.c tests/mpi/mt.h
tests_mpi_attr_CPPFLAGS = $(sf_mpi_test_cppflags)
tests_mpi_attr_LDADD = libmpi.la
tests_mpi_topo_SOURCES = tests/mpi/topo.c tests/mpi/mt.h
tests_mpi_topo_CPPFLAGS = $(sf_mpi_test_cppflags)
tests_mpi_topo_LDADD = libmpi.la
# non-blocking neighbourhood and inter-communicator collectives
check_PROGRAMS += tests/mpi/nbr_icoll
tests_mpi_nbr_icoll_SOURCES = tests/mpi/nbr_icoll.c tests/mpi/mt.h
tests_mpi_nbr_icoll_CPPFLAGS = $(sf_mpi_test_cppflags)
tests_mpi_nbr_icoll_LDADD = libmpi.la
tests_mpi_p2p_basic_SOURCES = tests/mpi/p2p_basic.c tests/mpi/mt.h
tests_mpi_p2p_basic_CPPFLAGS = $(sf_mpi_test_cppflags)
tests_mpi_p2p_basic_LDADD = libmpi.la
tests_mpi_p2p_probe_SOURCES = tests/mpi/p2p_probe.c tests/mpi/mt.h
tests_mpi_p2p_probe_CPPFLAGS = $(sf_mpi_test_cppflags)
tests_mpi_p2p_probe_LDADD = libmpi.la
tests_mpi_p2p_req_SOURCES = tests/mpi/p2p_req.c tests/mpi/mt.h
tests_mpi_p2p_req_CPPFLAGS = $(sf_mpi_test_cppflags)
tests_mpi_p2p_req_LDADD = libmpi.la
tests_mpi_p2p_bsend_SOURCES = tests/mpi/p2p_bsend.c tests/mpi/mt.h
tests_mpi_p2p_bsend_CPPFLAGS = $(sf_mpi_test_cppflags)
tests_mpi_p2p_bsend_LDADD = libmpi.la
tests_mpi_errors_SOURCES = tests/mpi/errors.c tests/mpi/mt.h
tests_mpi_errors_CPPFLAGS = $(sf_mpi_test_cppflags)
tests_mpi_errors_LDADD = libmpi.la
tests_mpi_fatal_SOURCES = tests/mpi/fatal.c tests/mpi/mt.h
tests_mpi_fatal_CPPFLAGS = $(sf_mpi_test_cppflags)
tests_mpi_fatal_LDADD = libmpi.la
check_PROGRAMS += tests/mpi/coll_all
tests_mpi_coll_all_SOURCES = tests/mpi/coll_all.c tests/mpi/mt.h
tests_mpi_coll_all_CPPFLAGS = $(sf_mpi_test_cppflags)
tests_mpi_coll_all_LDADD = libmpi.la
tests_mpi_env_coll_SOURCES = tests/mpi/env_coll.c tests/mpi/mt.h
tests_mpi_env_coll_CPPFLAGS = $(sf_mpi_test_cppflags)
tests_mpi_env_coll_LDADD = libmpi.la
TESTS += tests/mpi/run.sh tests/mpi/coverage.sh tests/mpi/thread_entry.sh
EXTRA_DIST += tests/mpi/run.sh tests/mpi/coverage.sh tests/mpi/thread_entry.sh
if HAVE_OMPI
TESTS += tests/abi/run.sh
endif
EXTRA_DIST += tests/abi/run.sh
CLEANFILES += tests/abi/ompi_env_coll tests/abi/ompi_p2p_basic tests/abi/ompi_p2p_req \
	tests/abi/ompi_comm tests/abi/ompi_attr tests/abi/ompi_topo \
	tests/abi/ompi_p2p_probe tests/abi/ompi_conform tests/abi/ompi_conform2 tests/abi/ompi_inter \
	tests/abi/ompi_threads

# --- helper "dtype": derived datatypes ---------------------------------
# The Check suite runs MPI as a singleton and links the pack engine
# (dt_engine.c, hidden inside libmpi) a second time to test it directly.
check_PROGRAMS += tests/check_dtype tests/mpi/dtype
TESTS += tests/check_dtype
tests_check_dtype_SOURCES = tests/check_dtype.c mpi-shim/dt_engine.c
tests_check_dtype_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_dtype_LDADD = libmpi.la $(CHECK_LIBS)
tests_mpi_dtype_SOURCES = tests/mpi/dtype.c tests/mpi/mt.h
tests_mpi_dtype_CPPFLAGS = $(sf_mpi_test_cppflags)
tests_mpi_dtype_LDADD = libmpi.la
# --- helper "mpicov": large non-contiguous messages, conformance programs ---
check_PROGRAMS += tests/mpi/dt_big
tests_mpi_dt_big_SOURCES = tests/mpi/dt_big.c tests/mpi/mt.h
tests_mpi_dt_big_CPPFLAGS = $(sf_mpi_test_cppflags)
tests_mpi_dt_big_LDADD = libmpi.la
check_PROGRAMS += tests/mpi/inter
tests_mpi_inter_SOURCES = tests/mpi/inter.c tests/mpi/mt.h
tests_mpi_inter_CPPFLAGS = $(sf_mpi_test_cppflags)
tests_mpi_inter_LDADD = libmpi.la
check_PROGRAMS += tests/mpi/conform
tests_mpi_conform_SOURCES = tests/mpi/conform.c tests/mpi/mt.h
tests_mpi_conform_CPPFLAGS = $(sf_mpi_test_cppflags)
tests_mpi_conform_LDADD = libmpi.la
check_PROGRAMS += tests/mpi/conform2
tests_mpi_conform2_SOURCES = tests/mpi/conform2.c tests/mpi/mt.h
tests_mpi_conform2_CPPFLAGS = $(sf_mpi_test_cppflags)
tests_mpi_conform2_LDADD = libmpi.la
check_PROGRAMS += tests/mpi/abort_code tests/mpi/threads
tests_mpi_threads_SOURCES = tests/mpi/threads.c tests/mpi/mt.h
tests_mpi_threads_CPPFLAGS = $(sf_mpi_test_cppflags)
tests_mpi_threads_CFLAGS = $(AM_CFLAGS) -pthread
tests_mpi_threads_LDADD = libmpi.la -lpthread
tests_mpi_abort_code_SOURCES = tests/mpi/abort_code.c tests/mpi/mt.h
tests_mpi_abort_code_CPPFLAGS = $(sf_mpi_test_cppflags)
tests_mpi_abort_code_LDADD = libmpi.la
