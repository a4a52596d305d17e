/* Starfish error codes: 0 or a negative errno everywhere; project codes from
 * -4000 down. sf_strerror() names any of them. No state, any thread. */
#ifndef SF_ERR_H
#define SF_ERR_H

enum {
    SF_ERR_BASE = -4000,
    SF_ERR_PROTO = -4001,     /* peer sent something that is not our protocol */
    SF_ERR_VERSION = -4002,   /* peer speaks another wire version */
    SF_ERR_CHECKSUM = -4003,  /* message failed its checksum */
    SF_ERR_TRUNCATE = -4004,  /* message longer than the receive buffer */
    SF_ERR_PEER_GONE = -4005, /* the peer process or node is gone */
    SF_ERR_CANCELLED = -4006, /* operation was cancelled */
    SF_ERR_ABORTED = -4007,   /* the job is being torn down */
    SF_ERR_CONFIG = -4008,    /* bad tunable or environment */
    SF_ERR_TRANSPORT = -4009, /* the fabric reported an error */
    SF_ERR_UNSUPPORTED = -4010,
    SF_ERR_LAST = -4011,
};

/* Human-readable name of a code (negative errno or SF_ERR_*); never NULL,
 * returns a static string. */
const char *sf_strerror(int code);

#endif
