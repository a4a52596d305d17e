/* `sf keygen`: the cluster key, 32 bytes from getrandom(2) in a file only
 * its owner can read. Never overwrites unless asked; a forced overwrite
 * goes through a temporary file and rename so a reader never sees half a
 * key. Does not print the key. Single-threaded. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "launcher/sf_int.h"

static int fill_random(unsigned char *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = getrandom(buf + got, len - got, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return -errno;
        }
        got += (size_t)n;
    }
    return 0;
}

static int write_key(int fd, const unsigned char *key)
{
    size_t off = 0;
    while (off < SF_KEY_LEN) {
        ssize_t n = write(fd, key + off, SF_KEY_LEN - off);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return -errno;
        }
        off += (size_t)n;
    }
    /* The key is worthless if a crash leaves an empty file behind. */
    if (fsync(fd) != 0) {
        return -errno;
    }
    return 0;
}

int sf_keygen(const char *path, bool force)
{
    unsigned char key[SF_KEY_LEN];
    int rc = fill_random(key, sizeof(key));
    if (rc != 0) {
        return rc;
    }
    if (!force) {
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0) {
            rc = -errno;
        } else {
            /* The umask can only clear bits; set exactly 0600 anyway. */
            rc = fchmod(fd, 0600) != 0 ? -errno : write_key(fd, key);
            if (close(fd) != 0 && rc == 0) {
                rc = -errno;
            }
            if (rc != 0) {
                unlink(path);
            }
        }
        memset(key, 0, sizeof(key));
        return rc;
    }
    rc = sf_write_file_atomic(path, key, sizeof(key));
    memset(key, 0, sizeof(key));
    return rc;
}
