/* `sf fs` internals shared by launcher/sf_fs.c (the commands) and
 * launcher/sf_fs_mount.c (the FUSE mount). Not a library; the sf program
 * only. */
#ifndef SF_FS_INT_H
#define SF_FS_INT_H

#include "fs/sf_fs_client.h"

/* Connect a filesystem client to the local daemon of DIR (as sf status
 * finds it, sf_local_connect). Prints why on failure. 0 or an error. */
int sf_fs_cli_connect(const char *dir, struct sf_fs_client **out);
/* Print "sf fs: PATH: reason" (the client's message when it has one, c
 * may be NULL) and return the failure exit code 1. */
int sf_fs_cli_fail(struct sf_fs_client *c, const char *path, int rc);
/* `sf fs mount [-f] DIR`: argv are the words after "mount". Exit code. */
int sf_fs_mount_main(const char *dir, int argc, char **argv);

#endif
