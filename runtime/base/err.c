/* sf_strerror: names for negative errno values and the SF_ERR_* codes.
 * Returns static strings only (no per-thread buffers), so any thread may
 * call it and keep the pointer. */
#include "runtime/base/sf_err.h"

#include <string.h>

static const char *const sf_names[] = {
    [0] = "starfish error",
    [1] = "protocol violation by peer",
    [2] = "peer speaks another wire version",
    [3] = "message checksum mismatch",
    [4] = "message truncated",
    [5] = "peer process or node is gone",
    [6] = "operation cancelled",
    [7] = "job is being torn down",
    [8] = "bad tunable or environment setting",
    [9] = "fabric transport error",
    [10] = "operation not supported",
};

const char *sf_strerror(int code)
{
    if (code == 0) {
        return "success";
    }
    if (code <= SF_ERR_BASE && code > SF_ERR_LAST) {
        return sf_names[SF_ERR_BASE - code];
    }
    /* Accept errno of either sign: callers sometimes pass errno itself. */
    long e = code < 0 ? -(long)code : code; /* long: -INT_MIN overflows int */
    if (e < -SF_ERR_BASE) {
        /* strerrordesc_np returns a static description or NULL, unlike
         * strerror which may format into a shared buffer. */
        const char *s = strerrordesc_np((int)e);
        if (s != NULL) {
            return s;
        }
    }
    return "unknown error code";
}
