# bench: build fragment (included by the top Makefile.am).
# Each benchmark is one MPI source built twice: against Starfish (libtool
# program linking libmpi.la) and, when configure found it, against Debian's
# Open MPI (bench/NAME-ompi via $(OMPI_MPICC)). `make bench` builds both and
# runs bench/run.sh, which prints the comparison. Never part of make check.
sf_bench_progs = bench/pingpong bench/allreduce bench/coll bench/hello
noinst_PROGRAMS += $(sf_bench_progs)
bench_pingpong_SOURCES = bench/pingpong.c
bench_pingpong_CPPFLAGS = -I$(top_srcdir)/mpi-shim
bench_pingpong_LDADD = libmpi.la
bench_allreduce_SOURCES = bench/allreduce.c
bench_allreduce_CPPFLAGS = -I$(top_srcdir)/mpi-shim
bench_allreduce_LDADD = libmpi.la
bench_coll_SOURCES = bench/coll.c
bench_coll_CPPFLAGS = -I$(top_srcdir)/mpi-shim
bench_coll_LDADD = libmpi.la
bench_hello_SOURCES = bench/hello.c
bench_hello_CPPFLAGS = -I$(top_srcdir)/mpi-shim
bench_hello_LDADD = libmpi.la
EXTRA_DIST += bench/run.sh bench/launch.sh bench/README.md

sf_bench_ompi = bench/pingpong-ompi bench/allreduce-ompi bench/coll-ompi bench/hello-ompi
CLEANFILES += $(sf_bench_ompi)
bench/pingpong-ompi: $(srcdir)/bench/pingpong.c
	$(AM_V_CC)$(MKDIR_P) bench && $(OMPI_MPICC) -O2 -o $@ $(srcdir)/bench/pingpong.c
bench/allreduce-ompi: $(srcdir)/bench/allreduce.c
	$(AM_V_CC)$(MKDIR_P) bench && $(OMPI_MPICC) -O2 -o $@ $(srcdir)/bench/allreduce.c
bench/coll-ompi: $(srcdir)/bench/coll.c
	$(AM_V_CC)$(MKDIR_P) bench && $(OMPI_MPICC) -O2 -o $@ $(srcdir)/bench/coll.c
bench/hello-ompi: $(srcdir)/bench/hello.c
	$(AM_V_CC)$(MKDIR_P) bench && $(OMPI_MPICC) -O2 -o $@ $(srcdir)/bench/hello.c

if HAVE_OMPI
sf_bench_deps = $(sf_bench_progs) $(sf_bench_ompi)
else
sf_bench_deps = $(sf_bench_progs)
endif
.PHONY: bench
bench: $(sf_bench_deps) launcher/sfrun launcher/sf launcher/sfd/sfd
	top_builddir='$(abs_top_builddir)' OMPI_MPIRUN='$(OMPI_MPIRUN)' \
	  $(SHELL) $(srcdir)/bench/run.sh $(BENCH_ARGS)
