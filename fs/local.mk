# fs/: the filesystem's first layer (block store, placement, record codecs;
# no network yet); build fragment included by the top Makefile.am.
noinst_LTLIBRARIES += libsffs.la
libsffs_la_SOURCES = \
	fs/sf_fs.h fs/fs_int.h \
	fs/fs_config.c fs/fs_block.c fs/fs_place.c fs/fs_name.c fs/fs_inode.c
libsffs_la_CFLAGS = $(AM_CFLAGS) $(SODIUM_CFLAGS) -fvisibility=hidden
libsffs_la_LIBADD = $(SODIUM_LIBS)
EXTRA_DIST += fs/README.md

# Check suite: block store on temp dirs, placement/repair properties,
# record codecs.
check_PROGRAMS += tests/check_fs
TESTS += tests/check_fs
tests_check_fs_SOURCES = tests/check_fs.c
tests_check_fs_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_fs_LDADD = libsffs.la libsfdht.la libsfbase.la $(SODIUM_LIBS) $(CHECK_LIBS)
