/* Error handling: with MPI_ERRORS_RETURN bad arguments return their class
 * (rank, comm, tag, count, type, root, request), strings exist for every
 * class, unsupported functions return MPI_ERR_UNSUPPORTED_OPERATION, a
 * user error handler is called with the class. Any size >= 1. */
#include "mt.h"

static int handler_calls, handler_code;
static void handler(MPI_Comm *comm, int *code, ...)
{
    handler_calls++;
    handler_code = *code;
}

int main(int argc, char **argv)
{
    mt_init(&argc, &argv);
    int v = 0, cls;
    MPI_Win win;
    char s[MPI_MAX_ERROR_STRING];
    int len;

    OK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
    MPI_Errhandler eh;
    OK(MPI_Comm_get_errhandler(MPI_COMM_WORLD, &eh));
    CHECK(eh == MPI_ERRORS_RETURN, "get_errhandler");

    SAY("bad rank, tag, count, datatype, root return their classes");
    CHECK(MPI_Send(&v, 1, MPI_INT, mt_size + 3, 0, MPI_COMM_WORLD) == MPI_ERR_RANK, "rank");
    CHECK(MPI_Send(&v, 1, MPI_INT, -7, 0, MPI_COMM_WORLD) == MPI_ERR_RANK, "negative rank");
    CHECK(MPI_Send(&v, 1, MPI_INT, 0, -5, MPI_COMM_WORLD) == MPI_ERR_TAG, "tag");
    CHECK(MPI_Send(&v, -1, MPI_INT, 0, 0, MPI_COMM_WORLD) == MPI_ERR_COUNT, "count");
    CHECK(MPI_Send(&v, 1, MPI_DATATYPE_NULL, 0, 0, MPI_COMM_WORLD) == MPI_ERR_TYPE, "type");
    CHECK(MPI_Send(NULL, 1, MPI_INT, 0, 0, MPI_COMM_WORLD) == MPI_ERR_BUFFER, "buffer");
    CHECK(MPI_Bcast(&v, 1, MPI_INT, mt_size, MPI_COMM_WORLD) == MPI_ERR_ROOT, "root");
    CHECK(MPI_Recv(&v, 1, MPI_INT, 0, MPI_ANY_TAG - 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE) ==
              MPI_ERR_TAG, "recv tag");
    CHECK(MPI_Allreduce(&v, &v, 1, MPI_INT, MPI_OP_NULL, MPI_COMM_WORLD) == MPI_ERR_OP, "op");
    CHECK(MPI_Allreduce(&v, &v, 1, MPI_DOUBLE_INT, MPI_SUM, MPI_COMM_WORLD) == MPI_ERR_OP,
          "sum on a pair type");
    MPI_Request bad = MPI_REQUEST_NULL;
    CHECK(MPI_Start(&bad) == MPI_ERR_REQUEST, "start null request");
    CHECK(MPI_Type_free(&(MPI_Datatype){MPI_INT}) == MPI_ERR_TYPE, "free predefined type");

    SAY("bad communicators: MPI_COMM_NULL and garbage give MPI_ERR_COMM");
    CHECK(MPI_Send(&v, 1, MPI_INT, 0, 0, MPI_COMM_NULL) == MPI_ERR_COMM, "comm null");
    int junk[64] = {0};
    CHECK(MPI_Barrier((MPI_Comm)(void *)junk) == MPI_ERR_COMM, "garbage comm");

    SAY("unsupported functions return MPI_ERR_UNSUPPORTED_OPERATION");
    cls = MPI_Win_create(&v, sizeof(v), 1, MPI_INFO_NULL, MPI_COMM_WORLD, &win);
    CHECK(cls == MPI_ERR_UNSUPPORTED_OPERATION, "win_create: %d", cls);

    SAY("every class has a string; error_class is the identity on classes");
    for (int c = 0; c <= 73; c++) {
        OK(MPI_Error_string(c, s, &len));
        CHECK(len > 0 && (int)strlen(s) == len, "string for %d", c);
        OK(MPI_Error_class(c, &cls));
        CHECK(cls == c, "class of %d", c);
    }
    CHECK(MPI_Error_string(MPI_ERR_LASTCODE + 50, s, &len) == MPI_ERR_ARG, "bad code");
    OK(MPI_Error_string(MPI_ERR_TRUNCATE, s, &len));
    CHECK(strstr(s, "truncat") != NULL, "truncate string: %s", s);

    SAY("user error handler is called with the class; dup inherits it");
    MPI_Errhandler mine;
    OK(MPI_Comm_create_errhandler(handler, &mine));
    MPI_Comm dup;
    OK(MPI_Comm_dup(MPI_COMM_WORLD, &dup));
    OK(MPI_Comm_set_errhandler(dup, mine));
    OK(MPI_Errhandler_free(&mine));
    CHECK(mine == MPI_ERRHANDLER_NULL, "errhandler_free");
    int rc = MPI_Send(&v, 1, MPI_INT, mt_size, 0, dup);
    CHECK(rc == MPI_ERR_RANK && handler_calls == 1 && handler_code == MPI_ERR_RANK,
          "handler calls %d code %d rc %d", handler_calls, handler_code, rc);
    OK(MPI_Comm_call_errhandler(dup, MPI_ERR_OTHER));
    CHECK(handler_calls == 2 && handler_code == MPI_ERR_OTHER, "call_errhandler");
    MPI_Comm dup2;
    OK(MPI_Comm_dup(dup, &dup2));
    OK(MPI_Comm_free(&dup));
    MPI_Send(&v, 1, MPI_INT, -9, 0, dup2);
    CHECK(handler_calls == 3, "dup did not inherit the handler");
    OK(MPI_Comm_free(&dup2));

    OK(MPI_Finalize());
    SAY("errors: all checks passed");
    return 0;
}
