# runtime/sfd: build fragment (included by the top Makefile.am).
# sfd links the convenience libraries statically, so the binary in the build
# tree is the real program (no libtool wrapper) and sfrun can exec it.
bin_PROGRAMS += runtime/sfd/sfd
runtime_sfd_sfd_SOURCES = \
	runtime/sfd/sfd_int.h \
	runtime/sfd/sfd_main.c \
	runtime/sfd/sfd_client.c \
	runtime/sfd/sfd_job.c \
	runtime/sfd/sfd_spawn.c \
	runtime/sfd/sfd_io.c \
	runtime/sfd/sfd_auth.c \
	runtime/sfd/sfd_place.c \
	runtime/sfd/sfd_peer.c
runtime_sfd_sfd_CFLAGS = $(AM_CFLAGS) $(HWLOC_CFLAGS) $(SODIUM_CFLAGS)
runtime_sfd_sfd_LDADD = libsfnet.la libsfbase.la $(HWLOC_LIBS) $(SODIUM_LIBS)
