# dht/: Kademlia protocol core (no I/O) and its UDP binding; build fragment
# included by the top Makefile.am.
noinst_LTLIBRARIES += libsfdht.la
libsfdht_la_SOURCES = \
	dht/sf_dht.h dht/dht_int.h \
	dht/dht_node.c dht/dht_table.c dht/dht_lookup.c dht/dht_store.c \
	dht/dht_packet.c
libsfdht_la_CFLAGS = $(AM_CFLAGS) -fvisibility=hidden

# Hand-run benchmark: hops and messages per lookup at 100/1k/5k nodes.
noinst_PROGRAMS += bench/dht_hops
bench_dht_hops_SOURCES = bench/dht_hops.c dht/dht_sim.c dht/dht_sim.h
bench_dht_hops_LDADD = libsfdht.la libsfbase.la
