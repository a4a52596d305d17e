# checkpoint: build fragment (included by the top Makefile.am).
TESTS += tests/checkpoint/criu.sh
EXTRA_DIST += tests/checkpoint/criu.sh

# --- helper "ckptcoord": the app backend (sf_ckpt.h) ----------------------
# libsfckptapp.la is linked into libmpi.so.40 (mpi-shim/local.mk adds it to
# libmpi_la_LIBADD; libmpi.map exports the sf_ckpt_* API by name).
pkginclude_HEADERS += checkpoint/sf_ckpt.h
noinst_LTLIBRARIES += libsfckptapp.la
libsfckptapp_la_SOURCES = checkpoint/sf_ckpt.h checkpoint/ckpt_app_int.h \
	checkpoint/ckpt_app_image.c checkpoint/ckpt_app.c
# Images may go to the Starfish filesystem (fs/sf_fs_client.h).
libsfckptapp_la_LIBADD = libsffsclient.la libsfdht.la $(SODIUM_LIBS)

check_PROGRAMS += tests/check_ckpt_app
TESTS += tests/check_ckpt_app
tests_check_ckpt_app_SOURCES = tests/check_ckpt_app.c
tests_check_ckpt_app_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_ckpt_app_LDADD = libsfckptapp.la libsfbase.la $(CHECK_LIBS)

# Fuzz target for the image decoder; make check replays its corpus, make
# fuzz-ckpt-image builds the libFuzzer binary:
#   tests/fuzz/fuzz-ckpt-image -max_total_time=120 NEWDIR $(srcdir)/tests/fuzz/corpus/ckpt_image
FUZZ_CKPT_IMAGE_SRCS = tests/fuzz/fuzz_ckpt_image.c checkpoint/ckpt_app_image.c
check_PROGRAMS += tests/fuzz/replay_ckpt_image
tests_fuzz_replay_ckpt_image_SOURCES = tests/fuzz/replay.c tests/fuzz/fuzz_ckpt_image.c
tests_fuzz_replay_ckpt_image_LDADD = libsfckptapp.la libsfbase.la
TESTS += tests/fuzz/run-ckpt-image.sh
EXTRA_DIST += tests/fuzz/run-ckpt-image.sh tests/fuzz/corpus/ckpt_image
.PHONY: fuzz-ckpt-image
if HAVE_CLANG
fuzz-ckpt-image: tests/fuzz/fuzz-ckpt-image
tests/fuzz/fuzz-ckpt-image: $(FUZZ_CKPT_IMAGE_SRCS:%=$(srcdir)/%) libsfbase.la
	@$(MKDIR_P) tests/fuzz
	$(AM_V_CCLD)$(CLANG) -g -O1 -fsanitize=fuzzer,address,undefined \
	  -fno-sanitize-recover=undefined -I$(top_srcdir) -I$(top_builddir) -D_GNU_SOURCE \
	  -o $@ $(FUZZ_CKPT_IMAGE_SRCS:%=$(srcdir)/%) .libs/libsfbase.a
CLEANFILES += tests/fuzz/fuzz-ckpt-image
else
fuzz-ckpt-image:
	@echo "fuzz-ckpt-image needs clang (libFuzzer); configure did not find it" >&2; exit 1
endif

# The example that uses the API (examples/mc_ckpt.c), built as examples are.
noinst_PROGRAMS += examples/mc_ckpt
examples_mc_ckpt_SOURCES = examples/mc_ckpt.c
examples_mc_ckpt_CPPFLAGS = -I$(top_srcdir)/mpi-shim -I$(top_srcdir)/checkpoint
examples_mc_ckpt_LDADD = libmpi.la -lm

# One-node test of the app backend and --ft=restart (sfrun's own daemon).
TESTS += tests/checkpoint/app.sh
EXTRA_DIST += tests/checkpoint/app.sh tests/checkpoint/app_lib.sh

# --- helper "ckptcriu": the CRIU backend (sf_ckpt_criu.h), linked into sfd --
noinst_LTLIBRARIES += libsfckpt.la
libsfckpt_la_SOURCES = checkpoint/sf_ckpt_criu.h checkpoint/ckpt_criu.c
libsfckpt_la_CPPFLAGS = $(AM_CPPFLAGS) \
	-DSF_CRIU_BUILD='"$(abs_top_builddir)/criu/sbin/criu"' \
	-DSF_CRIU_SRC='"$(abs_top_srcdir)/_build/criu/sbin/criu"'

# --ft=restart across namespaced nodes (needs root; skips otherwise).
TESTS += tests/cluster/ft.sh
EXTRA_DIST += tests/cluster/ft.sh

check_PROGRAMS += tests/checkpoint/ckpt_poke tests/checkpoint/ckpt_ring
tests_checkpoint_ckpt_poke_SOURCES = tests/checkpoint/ckpt_poke.c
tests_checkpoint_ckpt_poke_LDADD = libsfbase.la
tests_checkpoint_ckpt_ring_SOURCES = tests/checkpoint/ckpt_ring.c
tests_checkpoint_ckpt_ring_CPPFLAGS = -I$(top_srcdir)/mpi-shim
tests_checkpoint_ckpt_ring_LDADD = libmpi.la
# CRIU checkpoint/restore of running MPI jobs on one node (shm and tcp).
TESTS += tests/checkpoint/criu_ring.sh
EXTRA_DIST += tests/checkpoint/criu_ring.sh

# --ft=restart with the CRIU backend on one cluster daemon (root + CRIU).
TESTS += tests/cluster/ft_criu.sh
EXTRA_DIST += tests/cluster/ft_criu.sh
