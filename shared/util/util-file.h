/*
 * util-file.h: files that hold state.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <sys/types.h>

/* Write @len bytes to @path whole or not at all: a temporary file in the
 * same directory, fsync, rename over @path, fsync of the directory. */
bool util_file_write_atomic(const char *path, const char *data, size_t len,
                            mode_t mode, GError **error);
