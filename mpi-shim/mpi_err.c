/* MPI error handling: error classes and their strings, the error handler
 * objects and bindings, and sf_mpi__raise, through which every binding
 * reports. Error codes are the classes (no user-added codes yet). Runs on
 * the calling thread. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mpi-shim/shim_int.h"
#include "runtime/base/sf_err.h"

static const char *const class_str[] = {
    [MPI_SUCCESS] = "MPI_SUCCESS: no errors",
    [MPI_ERR_BUFFER] = "MPI_ERR_BUFFER: invalid buffer pointer",
    [MPI_ERR_COUNT] = "MPI_ERR_COUNT: invalid count argument",
    [MPI_ERR_TYPE] = "MPI_ERR_TYPE: invalid datatype",
    [MPI_ERR_TAG] = "MPI_ERR_TAG: invalid tag",
    [MPI_ERR_COMM] = "MPI_ERR_COMM: invalid communicator",
    [MPI_ERR_RANK] = "MPI_ERR_RANK: invalid rank",
    [MPI_ERR_REQUEST] = "MPI_ERR_REQUEST: invalid request",
    [MPI_ERR_ROOT] = "MPI_ERR_ROOT: invalid root",
    [MPI_ERR_GROUP] = "MPI_ERR_GROUP: invalid group",
    [MPI_ERR_OP] = "MPI_ERR_OP: invalid reduce operation",
    [MPI_ERR_TOPOLOGY] = "MPI_ERR_TOPOLOGY: invalid communicator topology",
    [MPI_ERR_DIMS] = "MPI_ERR_DIMS: invalid topology dimension",
    [MPI_ERR_ARG] = "MPI_ERR_ARG: invalid argument of some other kind",
    [MPI_ERR_UNKNOWN] = "MPI_ERR_UNKNOWN: unknown error",
    [MPI_ERR_TRUNCATE] = "MPI_ERR_TRUNCATE: message truncated",
    [MPI_ERR_OTHER] = "MPI_ERR_OTHER: known error not in this list",
    [MPI_ERR_INTERN] = "MPI_ERR_INTERN: internal error",
    [MPI_ERR_IN_STATUS] = "MPI_ERR_IN_STATUS: error code is in status",
    [MPI_ERR_PENDING] = "MPI_ERR_PENDING: pending request",
    [MPI_ERR_ACCESS] = "MPI_ERR_ACCESS: permission denied",
    [MPI_ERR_AMODE] = "MPI_ERR_AMODE: invalid mode argument",
    [MPI_ERR_ASSERT] = "MPI_ERR_ASSERT: invalid assert argument",
    [MPI_ERR_BAD_FILE] = "MPI_ERR_BAD_FILE: invalid file name",
    [MPI_ERR_BASE] = "MPI_ERR_BASE: invalid base",
    [MPI_ERR_CONVERSION] = "MPI_ERR_CONVERSION: error in a user data conversion function",
    [MPI_ERR_DISP] = "MPI_ERR_DISP: invalid displacement",
    [MPI_ERR_DUP_DATAREP] = "MPI_ERR_DUP_DATAREP: data representation identifier already registered",
    [MPI_ERR_FILE_EXISTS] = "MPI_ERR_FILE_EXISTS: file exists",
    [MPI_ERR_FILE_IN_USE] = "MPI_ERR_FILE_IN_USE: file operation could not complete, file in use",
    [MPI_ERR_FILE] = "MPI_ERR_FILE: invalid file",
    [MPI_ERR_INFO_KEY] = "MPI_ERR_INFO_KEY: info key too long",
    [MPI_ERR_INFO_NOKEY] = "MPI_ERR_INFO_NOKEY: info key not defined",
    [MPI_ERR_INFO_VALUE] = "MPI_ERR_INFO_VALUE: info value too long",
    [MPI_ERR_INFO] = "MPI_ERR_INFO: invalid info object",
    [MPI_ERR_IO] = "MPI_ERR_IO: input/output error",
    [MPI_ERR_KEYVAL] = "MPI_ERR_KEYVAL: invalid key value",
    [MPI_ERR_LOCKTYPE] = "MPI_ERR_LOCKTYPE: invalid lock type",
    [MPI_ERR_NAME] = "MPI_ERR_NAME: service name not published",
    [MPI_ERR_NO_MEM] = "MPI_ERR_NO_MEM: out of memory",
    [MPI_ERR_NOT_SAME] = "MPI_ERR_NOT_SAME: collective arguments differ between processes",
    [MPI_ERR_NO_SPACE] = "MPI_ERR_NO_SPACE: no space left on device",
    [MPI_ERR_NO_SUCH_FILE] = "MPI_ERR_NO_SUCH_FILE: no such file or directory",
    [MPI_ERR_PORT] = "MPI_ERR_PORT: invalid port name",
    [MPI_ERR_QUOTA] = "MPI_ERR_QUOTA: quota exceeded",
    [MPI_ERR_READ_ONLY] = "MPI_ERR_READ_ONLY: read-only file or file system",
    [MPI_ERR_RMA_CONFLICT] = "MPI_ERR_RMA_CONFLICT: conflicting accesses to a window",
    [MPI_ERR_RMA_SYNC] = "MPI_ERR_RMA_SYNC: erroneous RMA synchronization",
    [MPI_ERR_SERVICE] = "MPI_ERR_SERVICE: invalid service name",
    [MPI_ERR_SIZE] = "MPI_ERR_SIZE: invalid size",
    [MPI_ERR_SPAWN] = "MPI_ERR_SPAWN: could not spawn processes",
    [MPI_ERR_UNSUPPORTED_DATAREP] = "MPI_ERR_UNSUPPORTED_DATAREP: unsupported data representation",
    [MPI_ERR_UNSUPPORTED_OPERATION] = "MPI_ERR_UNSUPPORTED_OPERATION: operation not supported",
    [MPI_ERR_WIN] = "MPI_ERR_WIN: invalid window",
    [MPI_T_ERR_MEMORY] = "MPI_T_ERR_MEMORY: out of memory",
    [MPI_T_ERR_NOT_INITIALIZED] = "MPI_T_ERR_NOT_INITIALIZED: tools interface not initialized",
    [MPI_T_ERR_CANNOT_INIT] = "MPI_T_ERR_CANNOT_INIT: tools interface cannot be initialized",
    [MPI_T_ERR_INVALID_INDEX] = "MPI_T_ERR_INVALID_INDEX: invalid index",
    [MPI_T_ERR_INVALID_ITEM] = "MPI_T_ERR_INVALID_ITEM: invalid item index",
    [MPI_T_ERR_INVALID_HANDLE] = "MPI_T_ERR_INVALID_HANDLE: invalid handle",
    [MPI_T_ERR_OUT_OF_HANDLES] = "MPI_T_ERR_OUT_OF_HANDLES: no more handles",
    [MPI_T_ERR_OUT_OF_SESSIONS] = "MPI_T_ERR_OUT_OF_SESSIONS: no more sessions",
    [MPI_T_ERR_INVALID_SESSION] = "MPI_T_ERR_INVALID_SESSION: invalid session",
    [MPI_T_ERR_CVAR_SET_NOT_NOW] = "MPI_T_ERR_CVAR_SET_NOT_NOW: variable cannot be set now",
    [MPI_T_ERR_CVAR_SET_NEVER] = "MPI_T_ERR_CVAR_SET_NEVER: variable cannot be set",
    [MPI_T_ERR_PVAR_NO_STARTSTOP] = "MPI_T_ERR_PVAR_NO_STARTSTOP: variable cannot be started or stopped",
    [MPI_T_ERR_PVAR_NO_WRITE] = "MPI_T_ERR_PVAR_NO_WRITE: variable cannot be written or reset",
    [MPI_T_ERR_PVAR_NO_ATOMIC] = "MPI_T_ERR_PVAR_NO_ATOMIC: variable cannot be read and written atomically",
    [MPI_ERR_RMA_RANGE] = "MPI_ERR_RMA_RANGE: target memory is outside the window",
    [MPI_ERR_RMA_ATTACH] = "MPI_ERR_RMA_ATTACH: memory cannot be attached",
    [MPI_ERR_RMA_FLAVOR] = "MPI_ERR_RMA_FLAVOR: wrong window flavor",
    [MPI_ERR_RMA_SHARED] = "MPI_ERR_RMA_SHARED: memory cannot be shared",
    [MPI_T_ERR_INVALID] = "MPI_T_ERR_INVALID: invalid use of the tools interface",
    [MPI_T_ERR_INVALID_NAME] = "MPI_T_ERR_INVALID_NAME: no variable or category of that name",
};

static const char *class_string(int cls)
{
    if (cls >= 0 && cls < (int)(sizeof(class_str) / sizeof(class_str[0])) && class_str[cls]) {
        return class_str[cls];
    }
    if (cls == MPI_ERR_LASTCODE) {
        return "MPI_ERR_LASTCODE: last error code";
    }
    return sf_mpi__user_err_string(cls); /* MPI_Add_error_code/string, or NULL */
}

int sf_mpi__class_of(int rc)
{
    switch (rc) {
    case 0: return MPI_SUCCESS;
    case SF_ERR_TRUNCATE: return MPI_ERR_TRUNCATE;
    case SF_ERR_UNSUPPORTED: return MPI_ERR_UNSUPPORTED_OPERATION;
    case -ENOMEM: return MPI_ERR_NO_MEM;
    case -EINVAL: return MPI_ERR_ARG;
    case SF_ERR_CANCELLED: return MPI_SUCCESS; /* reported through the status */
    default: return rc > 0 && rc <= MPI_ERR_LASTCODE ? rc : MPI_ERR_OTHER;
    }
}

const char *sf_mpi__comm_name(MPI_Comm comm)
{
    if (!sf_mpi__comm_ok(comm)) {
        return "(invalid communicator)";
    }
    return comm->name[0] ? comm->name : "(unnamed communicator)";
}

static void fatal(const char *msg, int cls)
{
    const char *host = sf_mpi__st.host[0] ? sf_mpi__st.host : "?";
    fprintf(stderr,
            "Starfish: rank %d on %s: %s (%s)\n"
            "Starfish: the error handler is MPI_ERRORS_ARE_FATAL: aborting the job\n",
            sf_mpi__st.world_rank, host, msg, class_string(cls) ? class_string(cls) : "?");
    fflush(stderr);
    if (sf_mpi__st.rt != NULL) {
        sf_rt_abort(sf_mpi__st.rt, cls, msg);
    }
    _exit(cls > 0 && cls < 256 ? cls : 1);
}

static int call_handler(MPI_Comm comm, int cls, const char *msg)
{
    struct ompi_errhandler_t *eh = comm->errh;
    if (eh == NULL || eh->kind == SF_MPI_EH_FATAL || eh->kind == SF_MPI_EH_NULL) {
        fatal(msg, cls);
    }
    if (eh->kind == SF_MPI_EH_USER && eh->fn != NULL) {
        MPI_Comm c = comm;
        int code = cls;
        eh->fn(&c, &code);
    }
    return cls;
}

int sf_mpi__raise(MPI_Comm comm, int cls, const char *fn, const char *fmt, ...)
{
    /* Errors on no valid communicator are raised on MPI_COMM_WORLD. */
    if (!sf_mpi__comm_ok(comm) || comm->is_null) {
        comm = SF_COMM_WORLD;
    }
    if (comm->errh != NULL && comm->errh->kind == SF_MPI_EH_RETURN) {
        return cls; /* no formatting on the quiet path */
    }
    char msg[512];
    int n = snprintf(msg, sizeof(msg), "%s: ", fn);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
    va_end(ap);
    return call_handler(comm, cls, msg);
}

int sf_mpi__raise_rt(MPI_Comm comm, int rc, const char *fn)
{
    int cls = sf_mpi__class_of(rc);
    if (cls == MPI_SUCCESS) {
        return MPI_SUCCESS;
    }
    return sf_mpi__raise(comm, cls, fn, "%s on communicator %s", sf_strerror(rc),
                         sf_mpi__comm_name(comm));
}

int sf_mpi__unsupported(const char *fn)
{
    return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_UNSUPPORTED_OPERATION, fn,
                         "not supported by Starfish yet");
}

/* ---- bindings ---- */

int PMPI_Error_class(int errorcode, int *errorclass)
{
    SF_MPI_ENTER();
    int ucls = sf_mpi__user_err_class(errorcode); /* MPI_Add_error_code/class */
    if (ucls >= 0 && errorclass != NULL) {
        *errorclass = ucls;
        return MPI_SUCCESS;
    }
    if (class_string(errorcode) == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, "MPI_Error_class",
                             "unknown error code %d", errorcode);
    }
    if (errorclass == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, "MPI_Error_class", "errorclass is NULL");
    }
    *errorclass = errorcode;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Error_class);

int PMPI_Error_string(int errorcode, char *string, int *resultlen)
{
    SF_MPI_ENTER();
    const char *s = class_string(errorcode);
    if (s == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, "MPI_Error_string",
                             "unknown error code %d", errorcode);
    }
    if (string == NULL || resultlen == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, "MPI_Error_string",
                             "string or resultlen is NULL");
    }
    size_t len = strlen(s);
    if (len > MPI_MAX_ERROR_STRING - 1) {
        len = MPI_MAX_ERROR_STRING - 1;
    }
    memcpy(string, s, len);
    string[len] = '\0';
    *resultlen = (int)len;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Error_string);

static bool errh_ok(MPI_Errhandler e)
{
    return e != NULL && e->magic == SF_MPI_MAGIC_ERRH && e->kind != SF_MPI_EH_NULL;
}

int PMPI_Comm_set_errhandler(MPI_Comm comm, MPI_Errhandler errhandler)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Comm_set_errhandler";
    int err = sf_mpi__chk_init(fn);
    if (!err) {
        err = sf_mpi__chk_comm(fn, comm);
    }
    if (err) {
        return err;
    }
    if (!errh_ok(errhandler)) {
        return sf_mpi__raise(comm, MPI_ERR_ARG, fn, "invalid error handler");
    }
    struct ompi_errhandler_t *old = comm->errh;
    if (!errhandler->predefined) {
        errhandler->refcount++;
    }
    comm->errh = errhandler;
    if (old != NULL && !old->predefined && --old->refcount == 0) {
        old->magic = SF_MPI_MAGIC_DEAD;
        free(old);
    }
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Comm_set_errhandler);

int PMPI_Comm_get_errhandler(MPI_Comm comm, MPI_Errhandler *errhandler)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Comm_get_errhandler";
    int err = sf_mpi__chk_init(fn);
    if (!err) {
        err = sf_mpi__chk_comm(fn, comm);
    }
    if (err) {
        return err;
    }
    if (errhandler == NULL) {
        return sf_mpi__raise(comm, MPI_ERR_ARG, fn, "errhandler is NULL");
    }
    /* The caller gets a new reference (freed with MPI_Errhandler_free). */
    if (!comm->errh->predefined) {
        comm->errh->refcount++;
    }
    *errhandler = comm->errh;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Comm_get_errhandler);

int PMPI_Comm_create_errhandler(MPI_Comm_errhandler_function *function,
                                MPI_Errhandler *errhandler)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Comm_create_errhandler";
    int err = sf_mpi__chk_init(fn);
    if (err) {
        return err;
    }
    if (function == NULL || errhandler == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, fn, "function or errhandler is NULL");
    }
    struct ompi_errhandler_t *e = calloc(1, sizeof(*e));
    if (e == NULL) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_NO_MEM, fn, "out of memory");
    }
    e->magic = SF_MPI_MAGIC_ERRH;
    e->kind = SF_MPI_EH_USER;
    e->fn = function;
    e->refcount = 1;
    *errhandler = e;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Comm_create_errhandler);

int PMPI_Errhandler_free(MPI_Errhandler *errhandler)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Errhandler_free";
    int err = sf_mpi__chk_init(fn);
    if (err) {
        return err;
    }
    if (errhandler == NULL || !errh_ok(*errhandler)) {
        return sf_mpi__raise(SF_COMM_WORLD, MPI_ERR_ARG, fn, "invalid error handler");
    }
    struct ompi_errhandler_t *e = *errhandler;
    /* Freeing a predefined handler is allowed (it just drops the handle). */
    if (!e->predefined && --e->refcount == 0) {
        e->magic = SF_MPI_MAGIC_DEAD;
        free(e);
    }
    *errhandler = MPI_ERRHANDLER_NULL;
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Errhandler_free);

int PMPI_Comm_call_errhandler(MPI_Comm comm, int errorcode)
{
    SF_MPI_ENTER();
    static const char fn[] = "MPI_Comm_call_errhandler";
    int err = sf_mpi__chk_init(fn);
    if (!err) {
        err = sf_mpi__chk_comm(fn, comm);
    }
    if (err) {
        return err;
    }
    (void)sf_mpi__raise(comm, errorcode, fn, "error %d raised by the program on %s", errorcode,
                        sf_mpi__comm_name(comm));
    /* The standard: returns MPI_SUCCESS if the handler returned. */
    return MPI_SUCCESS;
}
SF_MPI_ALIAS(Comm_call_errhandler);
