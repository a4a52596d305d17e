/* Buffered sends: Bsend/Ibsend/Bsend_init copy into the attached buffer
 * (MPI_BSEND_OVERHEAD per message), MPI_ERR_BUFFER when it is full or
 * absent, detach waits for the messages and returns the buffer.
 * Any size >= 1. */
#include "mt.h"

int main(int argc, char **argv)
{
    mt_init(&argc, &argv);
    int right = (mt_rank + 1) % mt_size, left = (mt_rank + mt_size - 1) % mt_size;

    SAY("bsend without an attached buffer: MPI_ERR_BUFFER (MPI_ERRORS_RETURN)");
    OK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
    int v = mt_rank;
    int rc = MPI_Bsend(&v, 1, MPI_INT, right, 1, MPI_COMM_WORLD);
    CHECK(rc == MPI_ERR_BUFFER, "rc %d", rc);

    SAY("bsend: 10 messages of 100 ints fit in 10 * (400 + MPI_BSEND_OVERHEAD) bytes");
    int size = 10 * (100 * (int)sizeof(int) + MPI_BSEND_OVERHEAD);
    char *buf = malloc((size_t)size);
    OK(MPI_Buffer_attach(buf, size));
    int msg[100];
    for (int k = 0; k < 10; k++) {
        for (int i = 0; i < 100; i++) {
            msg[i] = k * 1000 + i + mt_rank;
        }
        OK(MPI_Bsend(msg, 100, MPI_INT, right, 2, MPI_COMM_WORLD));
        msg[0] = -1; /* the buffer is ours again at once */
    }
    SAY("bsend: a message larger than the buffer minus MPI_BSEND_OVERHEAD: MPI_ERR_BUFFER");
    /* Whether in-flight messages have freed room depends on timing; a
     * message that can never fit fails deterministically. */
    char *huge = calloc((size_t)size, 1);
    rc = MPI_Bsend(huge, size - MPI_BSEND_OVERHEAD + 1, MPI_BYTE, right, 2, MPI_COMM_WORLD);
    CHECK(rc == MPI_ERR_BUFFER, "rc %d", rc);
    free(huge);
    OK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_ARE_FATAL));
    for (int k = 0; k < 10; k++) {
        int in[100];
        OK(MPI_Recv(in, 100, MPI_INT, left, 2, MPI_COMM_WORLD, MPI_STATUS_IGNORE));
        CHECK(in[0] == k * 1000 + left && in[99] == k * 1000 + 99 + left, "message %d", k);
    }
    /* Detach waits until the buffered messages are gone; reattach empty. */
    void *back = NULL;
    int bsize = 0;
    OK(MPI_Buffer_detach(&back, &bsize));
    CHECK(back == buf && bsize == size, "detach gave %p/%d", back, bsize);
    OK(MPI_Buffer_attach(buf, size));
    SAY("ibsend and bsend_init complete at once; detach returns the buffer");
    MPI_Request r, p;
    OK(MPI_Ibsend(&v, 1, MPI_INT, right, 3, MPI_COMM_WORLD, &r));
    OK(MPI_Bsend_init(&v, 1, MPI_INT, right, 4, MPI_COMM_WORLD, &p));
    OK(MPI_Start(&p));
    OK(MPI_Wait(&p, MPI_STATUS_IGNORE));
    OK(MPI_Wait(&r, MPI_STATUS_IGNORE));
    OK(MPI_Request_free(&p));
    int g3 = -1, g4 = -1;
    OK(MPI_Recv(&g4, 1, MPI_INT, left, 4, MPI_COMM_WORLD, MPI_STATUS_IGNORE));
    OK(MPI_Recv(&g3, 1, MPI_INT, left, 3, MPI_COMM_WORLD, MPI_STATUS_IGNORE));
    CHECK(g3 == left && g4 == left, "g3 %d g4 %d", g3, g4);
    OK(MPI_Buffer_detach(&back, &bsize));
    CHECK(back == buf && bsize == size, "detach gave %p/%d", back, bsize);
    free(buf);

    OK(MPI_Finalize());
    SAY("p2p_bsend: all checks passed");
    return 0;
}
