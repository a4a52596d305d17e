/* The table of sfd's tunables (SF_SFD_<NAME>), apart from main so the
 * fuzz target and tests link the daemon's code without its entry point.
 * Data only. */
#include <stddef.h>

#include "launcher/sfd/sfd_int.h"

static const struct sf_tun sfd_tun_items[] = {
    {"kill_grace", SF_TUN_DOUBLE, "2s",
     "time ranks get between SIGTERM and SIGKILL when a job ends",
     offsetof(struct sf_sfd_tun, kill_grace)},
    {"output_chunk", SF_TUN_SIZE, "64k", "bytes read from a rank's stdout/stderr per message",
     offsetof(struct sf_sfd_tun, output_chunk)},
    {"stdout_pty", SF_TUN_BOOL, "1",
     "give ranks a raw pseudo-terminal as stdout (line-buffered, like Open MPI); 0: a pipe",
     offsetof(struct sf_sfd_tun, stdout_pty)},
    {"fail_timeout", SF_TUN_DOUBLE, "1s",
     "silence after which another daemon is declared gone (its jobs end under --ft=abort)",
     offsetof(struct sf_sfd_tun, fail_timeout)},
    {"keepalive", SF_TUN_DOUBLE, "0.25s", "interval of keep-alives between daemons",
     offsetof(struct sf_sfd_tun, keepalive)},
    {"record_ttl", SF_TUN_DOUBLE, "10s",
     "lifetime of a node's record in the DHT after the node stops refreshing it",
     offsetof(struct sf_sfd_tun, record_ttl)},
    {"discovery_port", SF_TUN_INT, "7399",
     "UDP port of the LAN discovery beacons (multicast group 239.255.83.70)",
     offsetof(struct sf_sfd_tun, discovery_port)},
};
const struct sf_tun_table sf_sfd__tun_table = {"sfd", sfd_tun_items,
                                               sizeof(sfd_tun_items) / sizeof(sfd_tun_items[0])};
