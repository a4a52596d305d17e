# runtime/net: build fragment (included by the top Makefile.am).
# libsfnet.la: the transports (own shared memory, libfabric RDM).
noinst_LTLIBRARIES += libsfnet.la
libsfnet_la_SOURCES = \
	runtime/net/sf_net.h \
	runtime/net/net_int.h \
	runtime/net/net_shm.c
libsfnet_la_CFLAGS = $(AM_CFLAGS) $(FABRIC_CFLAGS)
libsfnet_la_LIBADD = $(FABRIC_LIBS)
