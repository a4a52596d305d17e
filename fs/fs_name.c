/* Name and path validation for the filesystem's namespace: one component
 * (UTF-8, no '/', no NUL, not "." or "..", <= 255 bytes) and canonical
 * absolute paths. Does not normalise (the CLI resolves "." and ".." before
 * asking); pure, any thread. */
#include <errno.h>
#include <string.h>

#include "fs/fs_int.h"

/* Strict UTF-8 (RFC 3629): shortest form only, no surrogates, at most
 * U+10FFFF. Returns 0 or -EILSEQ. */
static int utf8_check(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        uint32_t cp, min;
        if (c >= 0xc2 && c <= 0xdf) {
            n = 1, cp = c & 0x1f, min = 0x80;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2, cp = c & 0x0f, min = 0x800;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return -EILSEQ; /* continuation byte, C0/C1 overlong lead, > F4 */
        }
        if (len - i - 1 < n) {
            return -EILSEQ;
        }
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80) {
                return -EILSEQ;
            }
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            return -EILSEQ;
        }
        i += n + 1;
    }
    return 0;
}

int sf_fs_name_check(const char *name, size_t len)
{
    if (name == NULL || len == 0) {
        return -EINVAL;
    }
    if (len > SF_FS_NAME_MAX) {
        return -ENAMETOOLONG;
    }
    if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.')) {
        return -EINVAL;
    }
    if (memchr(name, '/', len) != NULL || memchr(name, '\0', len) != NULL) {
        return -EINVAL;
    }
    return utf8_check((const uint8_t *)name, len);
}

int sf_fs_path_check(const char *path, size_t *bad_off)
{
    size_t off = 0;
    int rc = 0;
    if (path == NULL || path[0] != '/') {
        rc = -EINVAL; /* relative paths are resolved by the caller */
        goto out;
    }
    size_t len = strnlen(path, SF_FS_PATH_MAX + 1);
    if (len > SF_FS_PATH_MAX) {
        rc = -ENAMETOOLONG;
        goto out;
    }
    if (len == 1) {
        return 0; /* the root */
    }
    off = 1;
    for (;;) {
        const char *end = memchr(path + off, '/', len - off);
        size_t clen = end != NULL ? (size_t)(end - (path + off)) : len - off;
        rc = sf_fs_name_check(path + off, clen); /* empty: "//" or a trailing '/' */
        if (rc != 0 || end == NULL) {
            break;
        }
        off += clen + 1;
    }
out:
    if (rc != 0 && bad_off != NULL) {
        *bad_off = off;
    }
    return rc;
}
