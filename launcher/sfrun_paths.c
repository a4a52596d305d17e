/* Where things are: the sfd program, the directory of Starfish's
 * libmpi.so.40, and whether the user's program can be executed. Build tree
 * vs installed is decided at run time from where sfrun itself lives, with
 * the configure-time paths (SF_BINDIR, SF_LIBDIR) for the installed case.
 * Single-threaded. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "launcher/sfrun_int.h"

#ifndef SF_BINDIR
#define SF_BINDIR "/usr/local/bin"
#endif
#ifndef SF_LIBDIR
#define SF_LIBDIR "/usr/local/lib/starfish"
#endif

char *sfrun_self_dir(void)
{
    char buf[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
    if (n <= 0) {
        return NULL;
    }
    buf[n] = '\0';
    char *slash = strrchr(buf, '/');
    if (slash == NULL) {
        return NULL;
    }
    *slash = '\0';
    return strdup(buf[0] != '\0' ? buf : "/");
}

static char *join(const char *a, const char *b)
{
    size_t l = strlen(a) + strlen(b) + 2;
    char *p = malloc(l);
    if (p != NULL) {
        snprintf(p, l, "%s/%s", a, b);
    }
    return p;
}

static bool is_exec_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, X_OK) == 0;
}

/* sfrun's own directory is the build tree's launcher/ when config.status
 * sits one level up. */
static bool in_build_tree(const char *self_dir)
{
    char *p = join(self_dir, "../config.status");
    bool yes = p != NULL && access(p, F_OK) == 0;
    free(p);
    return yes;
}

char *sfrun_find_sfd(const char *self_dir)
{
    const char *env = getenv("SF_SFD");
    if (env != NULL && env[0] != '\0') {
        if (!is_exec_file(env)) {
            fprintf(stderr, "sfrun: SF_SFD=%s is not an executable file\n", env);
            return NULL;
        }
        return strdup(env);
    }
    /* Installed next to sfrun; in the build tree under sfd/. */
    const char *rel[] = {"sfd", "sfd/sfd"};
    for (size_t i = 0; self_dir != NULL && i < sizeof(rel) / sizeof(rel[0]); i++) {
        char *p = join(self_dir, rel[i]);
        if (p != NULL && is_exec_file(p)) {
            return p;
        }
        free(p);
    }
    char *p = join(SF_BINDIR, "sfd");
    if (p != NULL && is_exec_file(p)) {
        return p;
    }
    free(p);
    fprintf(stderr,
            "sfrun: cannot find the Starfish daemon 'sfd' (looked next to sfrun in %s, in "
            "sfd/ of a build tree and in %s); set SF_SFD to its path\n",
            self_dir != NULL ? self_dir : "?", SF_BINDIR);
    return NULL;
}

static char *dir_with_libmpi(const char *dir)
{
    char *p = join(dir, "libmpi.so.40");
    bool ok = p != NULL && access(p, R_OK) == 0;
    free(p);
    if (!ok) {
        return NULL;
    }
    char real[PATH_MAX];
    return strdup(realpath(dir, real) != NULL ? real : dir);
}

char *sfrun_find_libmpi(const char *self_dir)
{
    const char *env = getenv("SF_LIBMPI_DIR");
    if (env != NULL && env[0] != '\0') {
        return strdup(env);
    }
    char *found = NULL;
    if (self_dir != NULL && in_build_tree(self_dir)) {
        /* libtool keeps the uninstalled shared library in .libs/ of the
         * directory its .la is declared in. */
        const char *rel[] = {"../mpi-shim/.libs", "../.libs"};
        for (size_t i = 0; found == NULL && i < sizeof(rel) / sizeof(rel[0]); i++) {
            char *d = join(self_dir, rel[i]);
            if (d != NULL) {
                found = dir_with_libmpi(d);
            }
            free(d);
        }
        return found; /* never mix an installed libmpi into a build-tree run */
    }
    found = dir_with_libmpi(SF_LIBDIR);
    if (found == NULL && self_dir != NULL) {
        char *d = join(self_dir, "../lib/starfish"); /* relocated install */
        if (d != NULL) {
            found = dir_with_libmpi(d);
        }
        free(d);
    }
    return found;
}

int sfrun_check_program(const char *prog, const char *path)
{
    struct stat st;
    if (strchr(prog, '/') != NULL) {
        if (stat(prog, &st) != 0) {
            fprintf(stderr, "sfrun: cannot run '%s': %s\n", prog, strerror(errno));
            return errno == ENOENT || errno == ENOTDIR ? SFRUN_EXIT_NOTFOUND : SFRUN_EXIT_NOEXEC;
        }
        if (S_ISDIR(st.st_mode)) {
            fprintf(stderr, "sfrun: cannot run '%s': Is a directory\n", prog);
            return SFRUN_EXIT_NOEXEC;
        }
        if (access(prog, X_OK) != 0) {
            fprintf(stderr, "sfrun: cannot run '%s': %s\n", prog, strerror(errno));
            return SFRUN_EXIT_NOEXEC;
        }
        return 0;
    }
    if (path == NULL) {
        path = "/usr/local/bin:/usr/bin:/bin";
    }
    bool seen_noexec = false;
    const char *p = path;
    for (;;) {
        const char *end = strchrnul(p, ':');
        size_t dl = (size_t)(end - p);
        char buf[PATH_MAX];
        if (dl == 0) {
            snprintf(buf, sizeof(buf), "./%s", prog);
        } else {
            snprintf(buf, sizeof(buf), "%.*s/%s", (int)dl, p, prog);
        }
        if (stat(buf, &st) == 0 && S_ISREG(st.st_mode)) {
            if (access(buf, X_OK) == 0) {
                return 0;
            }
            seen_noexec = true;
        }
        if (*end == '\0') {
            break;
        }
        p = end + 1;
    }
    if (seen_noexec) {
        fprintf(stderr, "sfrun: cannot run '%s': Permission denied\n", prog);
        return SFRUN_EXIT_NOEXEC;
    }
    fprintf(stderr, "sfrun: '%s': command not found\n", prog);
    return SFRUN_EXIT_NOTFOUND;
}
