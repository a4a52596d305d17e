/* Probe semantics: Probe/Iprobe report source, tag and size without
 * receiving; Mprobe/Improbe remove the message from matching so a later
 * wildcard receive cannot take it; Mrecv/Imrecv receive it; PROC_NULL gives
 * MPI_MESSAGE_NO_PROC. Any size >= 1. */
#include "mt.h"

int main(int argc, char **argv)
{
    mt_init(&argc, &argv);
    int right = (mt_rank + 1) % mt_size, left = (mt_rank + mt_size - 1) % mt_size;
    MPI_Status st;
    int n;

    SAY("probe: blocking probe sees the size, then the receive gets it");
    {
        int v[5] = {mt_rank, 1, 2, 3, 4}, got[5] = {0};
        MPI_Request r;
        OK(MPI_Isend(v, 5, MPI_INT, right, 21, MPI_COMM_WORLD, &r));
        OK(MPI_Probe(MPI_ANY_SOURCE, 21, MPI_COMM_WORLD, &st));
        OK(MPI_Get_count(&st, MPI_INT, &n));
        CHECK(st.MPI_SOURCE == left && st.MPI_TAG == 21 && n == 5, "src %d n %d", st.MPI_SOURCE, n);
        OK(MPI_Recv(got, n, MPI_INT, st.MPI_SOURCE, st.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE));
        CHECK(got[0] == left && got[4] == 4, "got %d", got[0]);
        OK(MPI_Wait(&r, MPI_STATUS_IGNORE));
    }

    SAY("iprobe: false before the message is sent, true once it arrived");
    {
        int flag = 1;
        OK(MPI_Iprobe(MPI_ANY_SOURCE, 22, MPI_COMM_WORLD, &flag, &st));
        CHECK(!flag, "iprobe found a message nobody sent");
        OK(MPI_Barrier(MPI_COMM_WORLD));
        int v = mt_rank;
        MPI_Request r;
        OK(MPI_Isend(&v, 1, MPI_INT, right, 22, MPI_COMM_WORLD, &r));
        flag = 0;
        while (!flag) {
            OK(MPI_Iprobe(left, 22, MPI_COMM_WORLD, &flag, &st));
        }
        CHECK(st.MPI_SOURCE == left && st.MPI_TAG == 22, "iprobe status");
        OK(MPI_Recv(&v, 1, MPI_INT, left, 22, MPI_COMM_WORLD, MPI_STATUS_IGNORE));
        CHECK(v == left, "v %d", v);
        OK(MPI_Wait(&r, MPI_STATUS_IGNORE));
        OK(MPI_Iprobe(MPI_PROC_NULL, 22, MPI_COMM_WORLD, &flag, &st));
        CHECK(flag && st.MPI_SOURCE == MPI_PROC_NULL, "iprobe PROC_NULL");
    }

    SAY("mprobe: a matched message is invisible to later receives and probes");
    {
        int a = 100 + mt_rank, b = 200 + mt_rank, x = 0, y = 0, flag = 1;
        MPI_Request r[2];
        MPI_Message m;
        OK(MPI_Isend(&a, 1, MPI_INT, right, 23, MPI_COMM_WORLD, &r[0]));
        OK(MPI_Mprobe(left, 23, MPI_COMM_WORLD, &m, &st));
        CHECK(m != MPI_MESSAGE_NULL && st.MPI_SOURCE == left, "mprobe");
        OK(MPI_Iprobe(left, 23, MPI_COMM_WORLD, &flag, MPI_STATUS_IGNORE));
        CHECK(!flag, "matched message still visible to iprobe");
        /* Everyone has probed before anyone sends the second message. */
        OK(MPI_Barrier(MPI_COMM_WORLD));
        OK(MPI_Isend(&b, 1, MPI_INT, right, 23, MPI_COMM_WORLD, &r[1]));
        OK(MPI_Recv(&y, 1, MPI_INT, left, 23, MPI_COMM_WORLD, MPI_STATUS_IGNORE));
        CHECK(y == 200 + left, "the receive took the mprobed message: %d", y);
        OK(MPI_Mrecv(&x, 1, MPI_INT, &m, &st));
        CHECK(x == 100 + left && m == MPI_MESSAGE_NULL, "mrecv %d", x);
        OK(MPI_Waitall(2, r, MPI_STATUSES_IGNORE));
    }

    SAY("improbe + imrecv, and MPI_MESSAGE_NO_PROC for MPI_PROC_NULL");
    {
        double d = mt_rank + 0.5, e = 0;
        int flag = 0;
        MPI_Request r, rr;
        MPI_Message m;
        OK(MPI_Isend(&d, 1, MPI_DOUBLE, right, 24, MPI_COMM_WORLD, &r));
        while (!flag) {
            OK(MPI_Improbe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &m, &st));
        }
        CHECK(st.MPI_TAG == 24, "tag %d", st.MPI_TAG);
        OK(MPI_Imrecv(&e, 1, MPI_DOUBLE, &m, &rr));
        OK(MPI_Wait(&rr, &st));
        CHECK(e == left + 0.5 && st.MPI_SOURCE == left, "imrecv %g", e);
        OK(MPI_Wait(&r, MPI_STATUS_IGNORE));
        OK(MPI_Mprobe(MPI_PROC_NULL, 0, MPI_COMM_WORLD, &m, &st));
        CHECK(m == MPI_MESSAGE_NO_PROC, "no_proc");
        OK(MPI_Mrecv(&e, 1, MPI_DOUBLE, &m, &st));
        CHECK(m == MPI_MESSAGE_NULL && st.MPI_SOURCE == MPI_PROC_NULL, "mrecv no_proc");
    }

    OK(MPI_Finalize());
    SAY("p2p_probe: all checks passed");
    return 0;
}
