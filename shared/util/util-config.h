/*
 * util-config.h: libvirt-style configuration files: "key = value" lines,
 * '#' comments, values optionally in double quotes.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

/* Called for each setting; @value has its quotes removed.  Return false
 * with @error set to stop reading. */
typedef bool (*UtilConfigFunc)(const char *path, int line, const char *key, const char *value,
                               gpointer data, GError **error);

/* Read @path, calling @func for every setting.  A missing file is an
 * empty one.  Unreadable files and lines that are not settings are
 * VIR_ERR_CONF_SYNTAX (domain VIR_FROM_CONF) naming the file and line. */
bool util_config_read(const char *path, UtilConfigFunc func, gpointer data, GError **error);
