/*
 * util-file.c: files that hold state.
 */
#define G_LOG_DOMAIN "modvirt.util"

#include "util-file.h"

#include <dirent.h>
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

/* ------------------------------------------------------------ directories */

#define SPARE_PREFIX "spare."

struct _UtilFileDir {
    GMutex lock;
    char *path;
    GPtrArray *spares;          /* names of spare files (char *); NULL until scanned */
    guint64 next;               /* the next ".spare.N" to try */
};

UtilFileDir *
util_file_dir_new(const char *path)
{
    UtilFileDir *dir = g_new0(UtilFileDir, 1);

    g_mutex_init(&dir->lock);
    dir->path = g_strdup(path);
    return dir;
}

void
util_file_dir_free(UtilFileDir *dir)
{
    if (!dir)
        return;
    if (dir->spares)
        g_ptr_array_unref(dir->spares);
    g_free(dir->path);
    g_mutex_clear(&dir->lock);
    g_free(dir);
}

const char *
util_file_dir_path(const UtilFileDir *dir)
{
    return dir->path;
}

/* The spares a previous run left (found on first use); lock held. */
static void
util_file_dir_scan_locked(UtilFileDir *dir, int dfd)
{
    g_autofd_mv int fd = -1;
    DIR *d;
    struct dirent *ent;

    if (dir->spares)
        return;
    dir->spares = g_ptr_array_new_with_free_func(g_free);
    if ((fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
        !(d = fdopendir(g_steal_fd(&fd))))
        return;
    while ((ent = readdir(d))) {
        const char *num = ent->d_name + strlen(SPARE_PREFIX);
        char *end = NULL;
        guint64 n;

        if (!g_str_has_prefix(ent->d_name, SPARE_PREFIX) || !g_ascii_isdigit(*num))
            continue;
        n = g_ascii_strtoull(num, &end, 10);
        if (*end || (ent->d_type != DT_REG && ent->d_type != DT_UNKNOWN))
            continue;
        if (dir->spares->len < UTIL_FILE_DIR_MAX_SPARES)
            g_ptr_array_add(dir->spares, g_strdup(ent->d_name));
        else
            unlinkat(dfd, ent->d_name, 0);
        dir->next = MAX(dir->next, n + 1);
    }
    closedir(d);
}

static char *
util_file_dir_take_spare(UtilFileDir *dir, int dfd)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&dir->lock);

    util_file_dir_scan_locked(dir, dfd);
    if (!dir->spares->len)
        return NULL;
    return g_ptr_array_steal_index_fast(dir->spares, dir->spares->len - 1);
}

static char *
util_file_dir_new_spare_name(UtilFileDir *dir, int dfd)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&dir->lock);

    util_file_dir_scan_locked(dir, dfd);
    return g_strdup_printf(SPARE_PREFIX "%" G_GUINT64_FORMAT, dir->next++);
}

/* Keep @name (a file of ours in @dfd) as a spare once it is emptied; or
 * remove it when it cannot be used or there are enough. */
static void
util_file_dir_keep_spare(UtilFileDir *dir, int dfd, char *name)
{
    g_autofree char *owned = name;
    g_autofd_mv int fd = openat(dfd, name, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;

    /* never truncate what is linked elsewhere too (a definition) */
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1 ||
        (st.st_size > 0 && ftruncate(fd, 0) < 0)) {
        unlinkat(dfd, name, 0);
        return;
    }
    g_mutex_lock(&dir->lock);
    if (dir->spares->len < UTIL_FILE_DIR_MAX_SPARES) {
        g_ptr_array_add(dir->spares, g_steal_pointer(&owned));
    } else {
        unlinkat(dfd, name, 0);
    }
    g_mutex_unlock(&dir->lock);
}

/* A file to write, in @ret_name: a spare of ours if there is one, else a
 * new one under a spare's name (so that what a crash leaves is a spare). */
static int
util_file_dir_open_spare(UtilFileDir *dir, int dfd, mode_t mode, char **ret_name,
                         struct stat *ret_st, GError **error)
{
    char *name;

    while ((name = util_file_dir_take_spare(dir, dfd))) {
        int fd = openat(dfd, name, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);

        if (fd >= 0 && fstat(fd, ret_st) == 0 && S_ISREG(ret_st->st_mode) &&
            ret_st->st_nlink == 1 && ret_st->st_uid == geteuid()) {
            *ret_name = name;
            return fd;
        }
        if (fd >= 0)
            close(fd);
        unlinkat(dfd, name, 0);
        g_free(name);
    }
    for (int tries = 0; tries < 100; tries++) {
        int fd;

        name = util_file_dir_new_spare_name(dir, dfd);
        fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
        if (fd >= 0) {
            memset(ret_st, 0, sizeof(*ret_st));
            ret_st->st_nlink = 1;           /* new: mode to set, size 0 */
            *ret_name = name;
            return fd;
        }
        g_free(name);
        if (errno != EEXIST)
            break;
    }
    util_error_set_errno(error, VIR_FROM_NONE, errno, "cannot create a file in '%s'", dir->path);
    return -1;
}

bool
util_file_dir_write(UtilFileDir *dir, const char *name, const char *data, size_t len,
                    mode_t mode, GError **error)
{
    g_autofd_mv int dfd = open(dir->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    g_autofd_mv int fd = -1;
    g_autofree char *tmp = NULL;
    struct stat st;
    bool exchanged = false;
    bool meta;
    size_t done = 0;

    if (dfd < 0) {
        util_error_set_errno(error, VIR_FROM_NONE, errno, "cannot open directory '%s'", dir->path);
        return false;
    }
    if ((fd = util_file_dir_open_spare(dir, dfd, mode, &tmp, &st, error)) < 0)
        return false;
    while (done < len) {
        ssize_t n = pwrite(fd, data + done, len - done, done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            goto fail;
        done += n;
    }
    if (st.st_size > (off_t)len && ftruncate(fd, len) < 0)
        goto fail;
    /* the data (and the size) must be on disk before the name is; the
     * inode's other metadata only matters when the mode changes */
    meta = (st.st_mode & 07777) != (mode & 07777);
    if (meta && fchmod(fd, mode) < 0)
        goto fail;
    if ((meta ? fsync(fd) : fdatasync(fd)) < 0)
        goto fail;
    if (close(g_steal_fd(&fd)) < 0)
        goto fail;
    /* over an existing file: trade places, the old inode becomes a spare;
     * where renameat2 has no flags, plainly */
    if (renameat2(dfd, tmp, dfd, name, RENAME_NOREPLACE) < 0) {
        if (errno == EEXIST && renameat2(dfd, tmp, dfd, name, RENAME_EXCHANGE) == 0)
            exchanged = true;
        else if ((errno != EEXIST && errno != ENOENT && errno != EINVAL && errno != ENOSYS) ||
                 renameat(dfd, tmp, dfd, name) < 0)
            goto fail;
    }
    if (fsync(dfd) < 0) {
        int err = errno;
        util_error_set_errno(error, VIR_FROM_NONE, err, "cannot sync directory '%s'", dir->path);
        if (exchanged)
            util_file_dir_keep_spare(dir, dfd, g_steal_pointer(&tmp));
        return false;
    }
    if (exchanged)
        util_file_dir_keep_spare(dir, dfd, g_steal_pointer(&tmp));
    return true;

 fail:
    util_error_set_errno(error, VIR_FROM_NONE, errno, "cannot write '%s/%s'", dir->path, name);
    unlinkat(dfd, tmp, 0);
    return false;
}

bool
util_file_dir_remove(UtilFileDir *dir, const char *name, GError **error)
{
    g_autofd_mv int dfd = open(dir->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (dfd < 0) {
        util_error_set_errno(error, VIR_FROM_NONE, errno, "cannot open directory '%s'", dir->path);
        return false;
    }
    for (int tries = 0; tries < 100; tries++) {
        g_autofree char *spare = util_file_dir_new_spare_name(dir, dfd);

        if (renameat2(dfd, name, dfd, spare, RENAME_NOREPLACE) == 0) {
            util_file_dir_keep_spare(dir, dfd, g_steal_pointer(&spare));
            return true;
        }
        if (errno == ENOENT)
            return true;
        if (errno != EEXIST)
            break;
    }
    /* no renameat2 here: plainly */
    if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT) {
        util_error_set_errno(error, VIR_FROM_NONE, errno, "cannot remove '%s/%s'", dir->path, name);
        return false;
    }
    return true;
}

guint
util_file_dir_spares(UtilFileDir *dir)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&dir->lock);

    return dir->spares ? dir->spares->len : 0;
}

bool
util_file_same(const char *a, const char *b)
{
    struct stat sa;
    struct stat sb;

    if (strcmp(a, b) == 0)
        return true;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 &&
           sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}
