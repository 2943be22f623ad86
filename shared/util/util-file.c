/*
 * util-file.c: files that hold state.
 */
#define G_LOG_DOMAIN "modvirt.util"

#include "util-file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util-error.h"

bool
util_file_write_atomic(const char *path, const char *data, size_t len, mode_t mode,
                       GError **error)
{
    g_autofree char *dir = g_path_get_dirname(path);
    g_autofree char *base = g_path_get_basename(path);
    g_autofree char *tmp = g_strdup_printf("%s/.%s.XXXXXX", dir, base);
    g_autofd_mv int fd = -1;
    g_autofd_mv int dfd = -1;
    size_t done = 0;

    fd = g_mkstemp_full(tmp, O_WRONLY | O_CLOEXEC, mode);
    if (fd < 0) {
        util_error_set_errno(error, VIR_FROM_NONE, errno, "cannot create a file in '%s'", dir);
        return false;
    }
    while (done < len) {
        ssize_t n = write(fd, data + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            goto fail;
        done += n;
    }
    if (fchmod(fd, mode) < 0 || fsync(fd) < 0)
        goto fail;
    if (close(g_steal_fd(&fd)) < 0)
        goto fail;
    if (rename(tmp, path) < 0)
        goto fail;
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0)
        fsync(dfd);
    return true;

 fail:
    util_error_set_errno(error, VIR_FROM_NONE, errno, "cannot write '%s'", path);
    unlink(tmp);
    return false;
}
