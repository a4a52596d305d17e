# examples: build fragment (included by the top Makefile.am).
# Plain MPI programs: they include only <mpi.h> (Starfish's, from mpi-shim/)
# and link libmpi, exactly as a user's program built with sfcc would.
noinst_PROGRAMS += examples/pi examples/ring examples/laplace examples/heat examples/sort \
	examples/matmul
sf_examples_cppflags = -I$(top_srcdir)/mpi-shim
examples_pi_SOURCES = examples/pi.c
examples_pi_CPPFLAGS = $(sf_examples_cppflags)
examples_pi_LDADD = libmpi.la -lm
examples_ring_SOURCES = examples/ring.c
examples_ring_CPPFLAGS = $(sf_examples_cppflags)
examples_ring_LDADD = libmpi.la
examples_laplace_SOURCES = examples/laplace.c
examples_laplace_CPPFLAGS = $(sf_examples_cppflags)
examples_laplace_LDADD = libmpi.la -lm
examples_heat_SOURCES = examples/heat.c
examples_heat_CPPFLAGS = $(sf_examples_cppflags)
examples_heat_LDADD = libmpi.la -lm
examples_sort_SOURCES = examples/sort.c
examples_sort_CPPFLAGS = $(sf_examples_cppflags)
examples_sort_LDADD = libmpi.la
examples_matmul_SOURCES = examples/matmul.c
examples_matmul_CPPFLAGS = $(sf_examples_cppflags)
examples_matmul_LDADD = libmpi.la
EXTRA_DIST += examples/README.md
TESTS += tests/examples.sh
EXTRA_DIST += tests/examples.sh
