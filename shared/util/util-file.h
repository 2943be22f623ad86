/*
 * util-file.h: files that hold state.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <sys/types.h>

/* @a and @b name the same file: the same string, or the same inode. */
bool util_file_same(const char *a, const char *b);

/* Write @len bytes to @path whole or not at all: a temporary file in the
 * same directory, fsync, rename over @path, fsync of the directory. */
bool util_file_write_atomic(const char *path, const char *data, size_t len,
                            mode_t mode, GError **error);

/* A directory of state files written whole or not at all, as
 * util_file_write_atomic does (the data is synced before the rename that
 * publishes it, and the directory after it, so a file is on disk, complete,
 * when the write returns, and a crash never leaves a partial one under its
 * name), but without allocating or freeing an inode per write: a removed
 * file's inode stays in the directory, emptied, as "spare.N" (at most
 * UTIL_FILE_DIR_MAX_SPARES of them), and the next write fills a spare
 * instead of creating a file; a file written over an existing one trades
 * places with it (RENAME_EXCHANGE) so that the old inode becomes a spare
 * too.  Spares stay in the same directory so that taking one is a rename
 * within it, made durable by the one directory sync.  On file systems
 * where creating a file is slow (ext4 without a journal scans every inode
 * freed in the last minutes on each allocation) this is most of a write's
 * cost.  Users must ignore the "spare.N" names (and names starting with
 * '.').  Thread-safe. */
typedef struct _UtilFileDir UtilFileDir;

#define UTIL_FILE_DIR_MAX_SPARES 1024

UtilFileDir *util_file_dir_new(const char *path);
void util_file_dir_free(UtilFileDir *dir);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(UtilFileDir, util_file_dir_free)

const char *util_file_dir_path(const UtilFileDir *dir);
/* Write @name (a plain file name, no '/') in @dir. */
bool util_file_dir_write(UtilFileDir *dir, const char *name, const char *data, size_t len,
                         mode_t mode, GError **error);
/* Remove @name from @dir; true when it did not exist.  Its inode is kept
 * as an (empty) spare. */
bool util_file_dir_remove(UtilFileDir *dir, const char *name, GError **error);
/* How many spare inodes @dir holds (tests). */
guint util_file_dir_spares(UtilFileDir *dir);
