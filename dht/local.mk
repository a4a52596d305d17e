# dht/: Kademlia protocol core (no I/O) and its UDP binding; build fragment
# included by the top Makefile.am.
noinst_LTLIBRARIES += libsfdht.la
libsfdht_la_SOURCES = \
	dht/sf_dht.h dht/dht_int.h \
	dht/dht_node.c dht/dht_table.c dht/dht_lookup.c dht/dht_store.c \
	dht/dht_packet.c dht/dht_udp.c
libsfdht_la_CFLAGS = $(AM_CFLAGS) -fvisibility=hidden

# Hand-run benchmark: hops and messages per lookup at 100/1k/5k nodes.
noinst_PROGRAMS += bench/dht_hops
bench_dht_hops_SOURCES = bench/dht_hops.c dht/dht_sim.c dht/dht_sim.h
bench_dht_hops_LDADD = libsfdht.la libsfbase.la

# Check suite: unit tests plus 1,000-node simulations (SF_DHT_SIM_NODES=N
# for a smaller network, e.g. under valgrind) and a loopback UDP pair.
check_PROGRAMS += tests/check_dht
TESTS += tests/check_dht
tests_check_dht_SOURCES = tests/check_dht.c dht/dht_sim.c dht/dht_sim.h
tests_check_dht_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_dht_LDADD = libsfdht.la libsfbase.la $(CHECK_LIBS) -lm
