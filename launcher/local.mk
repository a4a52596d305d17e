# launcher: build fragment (included by the top Makefile.am).
# sfrun links the convenience libraries statically: the build-tree binary
# is the real program (no libtool wrapper), so it can find sfd and libmpi
# relative to /proc/self/exe.
bin_PROGRAMS += launcher/sfrun
launcher_sfrun_SOURCES = \
	launcher/sfrun_int.h \
	launcher/sf_int.h \
	launcher/sfrun.c \
	launcher/sfrun_args.c \
	launcher/sfrun_paths.c \
	launcher/sfrun_params.c \
	launcher/sfrun_launch.c \
	launcher/sf_hosts.c \
	launcher/sf_cluster.c \
	launcher/sf_keygen.c \
	launcher/sf_query.c
launcher_sfrun_CPPFLAGS = $(AM_CPPFLAGS) -DSF_BINDIR='"$(bindir)"' -DSF_LIBDIR='"$(pkglibdir)"'
launcher_sfrun_LDADD = libsfcoll.la libsfrt.la libsfnet.la libsfdht.la libsfbase.la

# sf: the admin tool (keygen, up/down, node drills, status/nodes/jobs).
bin_PROGRAMS += launcher/sf
launcher_sf_SOURCES = \
	launcher/sf_int.h \
	launcher/sf.c \
	launcher/sf_cluster.c \
	launcher/sf_hosts.c \
	launcher/sf_keygen.c \
	launcher/sf_query.c \
	launcher/sfrun_paths.c \
	launcher/sf_fs_int.h launcher/sf_fs.c launcher/sf_fs_mount.c
launcher_sf_CPPFLAGS = $(launcher_sfrun_CPPFLAGS)
launcher_sf_CFLAGS = $(AM_CFLAGS) $(FUSE3_CFLAGS)
launcher_sf_LDADD = libsffsclient.la libsffs.la libsfdht.la libsfbase.la $(SODIUM_LIBS) \
	$(FUSE3_LIBS)

# sfcc: installed wrapper (installed paths) and a build-tree twin used by
# the tests (source tree's mpi.h, build tree's .libs).
bin_SCRIPTS += launcher/sfcc
check_SCRIPTS += launcher/sfcc-uninstalled
EXTRA_DIST += launcher/sfcc.in
CLEANFILES += launcher/sfcc launcher/sfcc-uninstalled
sf_sfcc_gen = $(MKDIR_P) launcher && sed -e 's|%CC%|$(CC)|g'

launcher/sfcc: $(srcdir)/launcher/sfcc.in Makefile
	$(AM_V_GEN)$(sf_sfcc_gen) -e 's|%INCFLAGS%|-I$(pkgincludedir)|g' \
	  -e 's|%LIBDIRS%|$(pkglibdir)|g' $(srcdir)/launcher/sfcc.in > $@.tmp && \
	  chmod +x $@.tmp && mv $@.tmp $@

launcher/sfcc-uninstalled: $(srcdir)/launcher/sfcc.in Makefile
	$(AM_V_GEN)$(sf_sfcc_gen) \
	  -e 's|%INCFLAGS%|-I$(abs_top_builddir)/mpi-shim -I$(abs_top_srcdir)/mpi-shim|g' \
	  -e 's|%LIBDIRS%|$(abs_top_builddir)/mpi-shim/.libs $(abs_top_builddir)/.libs|g' \
	  $(srcdir)/launcher/sfcc.in > $@.tmp && chmod +x $@.tmp && mv $@.tmp $@

# mpirun, mpiexec -> sfrun; mpicc -> sfcc (in the installed bindir).
install_exec_hooks += sf-launcher-install-links
sf-launcher-install-links:
	cd $(DESTDIR)$(bindir) && \
	  for l in mpirun mpiexec; do rm -f $$l && $(LN_S) sfrun $$l || exit 1; done && \
	  rm -f mpicc && $(LN_S) sfcc mpicc
.PHONY: sf-launcher-install-links
# The top Makefile.am has no uninstall-hook list; this is the only one.
uninstall-hook:
	rm -f $(DESTDIR)$(bindir)/mpirun $(DESTDIR)$(bindir)/mpiexec $(DESTDIR)$(bindir)/mpicc

# Launcher tests: shell scripts over the build tree, plus a hand-made rank
# that does sfd's wire-up without libmpi.
check_PROGRAMS += tests/launcher/fake_rank
tests_launcher_fake_rank_SOURCES = tests/launcher/fake_rank.c
tests_launcher_fake_rank_LDADD = libsfbase.la
EXTRA_DIST += tests/lib.sh
sf_launcher_tests = tests/launcher/basic.sh tests/launcher/failures.sh tests/launcher/signals.sh \
	tests/launcher/mpi.sh tests/launcher/install.sh
TESTS += $(sf_launcher_tests)
EXTRA_DIST += $(sf_launcher_tests) tests/launcher/mpi_ranks.c

check_PROGRAMS += tests/check_sfrun
TESTS += tests/check_sfrun
tests_check_sfrun_SOURCES = tests/check_sfrun.c launcher/sfrun_args.c launcher/sfrun_paths.c \
	launcher/sf_hosts.c
tests_check_sfrun_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_sfrun_LDADD = libsfbase.la $(CHECK_LIBS)

# The admin tools' pure parts (host lists, key file, rows, cluster record).
check_PROGRAMS += tests/check_sf
TESTS += tests/check_sf
tests_check_sf_SOURCES = tests/check_sf.c launcher/sf_hosts.c launcher/sf_keygen.c \
	launcher/sf_query.c launcher/sf_cluster.c
tests_check_sf_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_sf_LDADD = libsfbase.la $(CHECK_LIBS)

# Cluster tools tests (tests/cluster/): a stand-in daemon for the tools'
# process/namespace handling, and scripts over the real sfd (which skip
# while sfd has no --listen mode).
check_PROGRAMS += tests/cluster/fake_sfd
tests_cluster_fake_sfd_SOURCES = tests/cluster/fake_sfd.c
tests_cluster_fake_sfd_LDADD = libsfbase.la
EXTRA_DIST += tests/lib-cluster.sh
sf_cluster_tests = tests/cluster/keygen.sh tests/cluster/hostfile.sh tests/cluster/tools.sh \
	tests/cluster/up.sh tests/cluster/netns.sh tests/cluster/sim.sh \
	tests/cluster/netns-drills.sh tests/cluster/launch.sh tests/cluster/slurm.sh
TESTS += $(sf_cluster_tests)
EXTRA_DIST += $(sf_cluster_tests) tests/cluster/launch-agent.sh

# Host list parser fuzzing: make check replays the corpus through the
# generic driver; make fuzz-hosts builds the libFuzzer binary (clang).
check_PROGRAMS += tests/fuzz/replay_hosts
tests_fuzz_replay_hosts_SOURCES = tests/fuzz/replay.c tests/fuzz/fuzz_hosts.c launcher/sf_hosts.c
tests_fuzz_replay_hosts_LDADD = libsfbase.la
TESTS += tests/fuzz/run-hosts.sh
EXTRA_DIST += tests/fuzz/run-hosts.sh tests/fuzz/corpus/hosts
FUZZ_HOSTS_SRCS = tests/fuzz/fuzz_hosts.c launcher/sf_hosts.c
.PHONY: fuzz-hosts
if HAVE_CLANG
fuzz-hosts: tests/fuzz/fuzz-hosts
tests/fuzz/fuzz-hosts: $(FUZZ_HOSTS_SRCS:%=$(srcdir)/%) $(srcdir)/launcher/sf_int.h
	@$(MKDIR_P) tests/fuzz
	$(AM_V_CCLD)$(CLANG) -g -O1 -fsanitize=fuzzer,address,undefined \
	  -fno-sanitize-recover=undefined -I$(top_srcdir) -I$(top_builddir) -D_GNU_SOURCE \
	  -o $@ $(FUZZ_HOSTS_SRCS:%=$(srcdir)/%)
CLEANFILES += tests/fuzz/fuzz-hosts
else
fuzz-hosts:
	@echo "fuzz-hosts needs clang (libFuzzer); configure did not find it" >&2; exit 1
endif

# Slurm's task counts (SLURM_TASKS_PER_NODE, decoded in sf_hosts.c; its
# Check tests are in check_sf): a fuzz target whose corpus make check
# replays (make fuzz-slurm builds the libFuzzer binary with clang).
check_PROGRAMS += tests/fuzz/replay_slurm
tests_fuzz_replay_slurm_SOURCES = tests/fuzz/replay.c tests/fuzz/fuzz_slurm.c launcher/sf_hosts.c
tests_fuzz_replay_slurm_LDADD = libsfbase.la
TESTS += tests/fuzz/run-slurm.sh
EXTRA_DIST += tests/fuzz/run-slurm.sh tests/fuzz/corpus/slurm
FUZZ_SLURM_SRCS = tests/fuzz/fuzz_slurm.c launcher/sf_hosts.c
.PHONY: fuzz-slurm
if HAVE_CLANG
fuzz-slurm: tests/fuzz/fuzz-slurm
tests/fuzz/fuzz-slurm: $(FUZZ_SLURM_SRCS:%=$(srcdir)/%) $(srcdir)/launcher/sf_int.h
	@$(MKDIR_P) tests/fuzz
	$(AM_V_CCLD)$(CLANG) -g -O1 -fsanitize=fuzzer,address,undefined \
	  -fno-sanitize-recover=undefined -I$(top_srcdir) -I$(top_builddir) -D_GNU_SOURCE \
	  -o $@ $(FUZZ_SLURM_SRCS:%=$(srcdir)/%)
CLEANFILES += tests/fuzz/fuzz-slurm
else
fuzz-slurm:
	@echo "fuzz-slurm needs clang (libFuzzer); configure did not find it" >&2; exit 1
endif
