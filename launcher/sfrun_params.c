/* sfrun --params: the tunables of the libraries that run inside ranks
 * (message engine, transports, collectives), of the DHT and of sfrun's own
 * daemon launching, each with its current value as the environment sets
 * it. sfd prints its own table. */
#include <stdio.h>

#include "config.h"
#include "dht/sf_dht.h"
#include "launcher/sfrun_int.h"
#include "mpi-shim/sf_coll.h"
#include "runtime/base/sf_tun.h"
#include "runtime/net/sf_net.h"
#include "runtime/rt/sf_rt.h"

void sfrun_print_params(FILE *out)
{
    sf_rt_params(out);
    sf_net_params(out);
    sf_coll_params(out);
    struct sf_dht_config dht;
    if (sf_dht_config_load(&dht) == 0) {
        sf_tun_print(&sf_dht_tun_table, &dht, out);
    }
    struct sfrun_launch_tun lt;
    if (sfrun_launch_tun_load(&lt) == 0) {
        sf_tun_print(&sfrun_launch_tun_table, &lt, out);
    }
}
