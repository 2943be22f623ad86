/*
 * conf-storage-chain.c: completing a disk's backing chain from the image
 * headers, and checking a chain against them.  See the header for the
 * rules (libvirt 9's).
 */
#define G_LOG_DOMAIN "modvirt.conf.chain"

#include "conf-storage-chain.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "util-error.h"
#include "util-file.h"
#include "util-image.h"

static UtilImageFormat
chain_image_format(ConfStorageFormat format)
{
    switch (format) {
    case CONF_STORAGE_FORMAT_NONE:
    case CONF_STORAGE_FORMAT_RAW:
        return UTIL_IMAGE_FORMAT_RAW;
    case CONF_STORAGE_FORMAT_QCOW2:
        return UTIL_IMAGE_FORMAT_QCOW2;
    case CONF_STORAGE_FORMAT_LAST:
        break;
    }
    return UTIL_IMAGE_FORMAT_RAW;
}

static ConfStorageFormat
chain_conf_format(UtilImageFormat format)
{
    switch (format) {
    case UTIL_IMAGE_FORMAT_QCOW2:
        return CONF_STORAGE_FORMAT_QCOW2;
    case UTIL_IMAGE_FORMAT_AUTO:
    case UTIL_IMAGE_FORMAT_RAW:
    case UTIL_IMAGE_FORMAT_LAST:
        break;
    }
    return CONF_STORAGE_FORMAT_RAW;
}

static bool
chain_check_volume(const ConfStorageSource *src, GError **error)
{
    if (src->type != CONF_STORAGE_TYPE_VOLUME)
        return true;
    util_error_set(error, VIR_FROM_STORAGE, VIR_ERR_CONFIG_UNSUPPORTED,
                   "backing chains of storage volumes ('%s/%s') are not supported",
                   src->pool ? src->pool : "", src->volume ? src->volume : "");
    return false;
}

/* Stats a layer; libvirt's report of one that cannot be reached. */
static bool
chain_stat(const char *path, const char *top_path, struct stat *ret_st, GError **error)
{
    if (stat(path, ret_st) == 0)
        return true;
    if (strcmp(path, top_path) == 0)
        util_error_set_errno(error, VIR_FROM_STORAGE, errno,
                             "Cannot access storage file '%s'", path);
    else
        util_error_set_errno(error, VIR_FROM_STORAGE, errno,
                             "Cannot access backing file '%s' of storage file '%s'",
                             path, top_path);
    return false;
}

static void
chain_error_nested(GError **error, const char *path)
{
    util_error_set(error, VIR_FROM_STORAGE, VIR_ERR_INTERNAL_ERROR,
                   "backing store for %s is self-referential or too deeply nested", path);
}

static void
chain_error_unprobed(GError **error, const char *name, const char *overlay)
{
    util_error_set(error, VIR_FROM_STORAGE, VIR_ERR_OPERATION_INVALID,
                   "format of backing image '%s' of image '%s' was not specified in the "
                   "image metadata (See https://libvirt.org/kbase/backing_chains.html for "
                   "troubleshooting)", name, overlay);
}

/* The format of the backing file @path named @name by @overlay, whose
 * header says @header_format (NULL: not said). */
static bool
chain_backing_format(const char *overlay, const char *name, const char *header_format,
                     const char *path, ConfStorageFormat *ret_format, GError **error)
{
    g_auto(UtilImageInfo) probed = { 0 };
    int fmt;

    if (header_format) {
        fmt = util_image_format_from_string(header_format);
        if (fmt < 0) {
            util_error_set(error, VIR_FROM_STORAGE, VIR_ERR_CONFIG_UNSUPPORTED,
                           "unsupported format '%s' of backing image '%s' of image '%s'",
                           header_format, name, overlay);
            return false;
        }
        *ret_format = chain_conf_format(fmt);
        return true;
    }
    if (!util_image_probe(path, UTIL_IMAGE_FORMAT_AUTO, &probed, error))
        return false;
    if (probed.backing_name) {
        chain_error_unprobed(error, name, overlay);
        return false;
    }
    *ret_format = chain_conf_format(probed.format);
    return true;
}

typedef struct {
    dev_t dev;
    ino_t ino;
} ChainFileId;

static bool
chain_seen(const GArray *seen, dev_t dev, ino_t ino)
{
    for (guint i = 0; i < seen->len; i++) {
        const ChainFileId *id = &g_array_index(seen, ChainFileId, i);

        if (id->dev == dev && id->ino == ino)
            return true;
    }
    return false;
}

/* Reads the headers below @end (the last known layer, @depth layers deep;
 * @seen holds the files of the layers above it) and returns the detected
 * layers, the last one terminated. */
static bool
chain_detect(const ConfStorageSource *end, const char *top_path, guint depth,
             GArray *seen, GPtrArray *names, ConfStorageSource **ret_head, GError **error)
{
    g_autoptr(ConfStorageSource) head = NULL;
    ConfStorageSource **tail = &head;
    g_autofree char *cur_path = g_strdup(end->path);
    ConfStorageFormat cur_format = end->format;

    for (;;) {
        g_auto(UtilImageInfo) info = { 0 };
        g_autofree char *path = NULL;
        ConfStorageSource *layer;
        ConfStorageFormat format;
        ChainFileId id;
        struct stat st;

        if (!util_image_probe(cur_path, chain_image_format(cur_format), &info, error))
            return false;
        id.dev = info.dev;
        id.ino = info.ino;
        g_array_append_val(seen, id);
        if (!info.backing_name)
            break;

        if (!util_image_backing_is_local(info.backing_name)) {
            util_error_set(error, VIR_FROM_STORAGE, VIR_ERR_CONFIG_UNSUPPORTED,
                           "backing store '%s' of image '%s' is not a local file, "
                           "which is not supported", info.backing_name, cur_path);
            return false;
        }
        path = util_image_resolve_backing(cur_path, info.backing_name);
        if (++depth > CONF_STORAGE_CHAIN_MAX_DEPTH) {
            chain_error_nested(error, cur_path);
            return false;
        }
        if (!chain_stat(path, top_path, &st, error))
            return false;
        if (chain_seen(seen, st.st_dev, st.st_ino)) {
            chain_error_nested(error, cur_path);
            return false;
        }
        if (!chain_backing_format(cur_path, info.backing_name, info.backing_format,
                                  path, &format, error))
            return false;

        layer = conf_storage_source_new(S_ISBLK(st.st_mode) ? CONF_STORAGE_TYPE_BLOCK
                                                            : CONF_STORAGE_TYPE_FILE);
        layer->path = g_strdup(path);
        layer->format = format;
        g_ptr_array_add(names, g_strdup(info.backing_name));
        /* formatting costs more than reading a header: only when shown */
        if (!g_log_writer_default_would_drop(G_LOG_LEVEL_DEBUG, G_LOG_DOMAIN))
            g_debug("'%s': backing '%s' -> '%s' (%s)", cur_path, info.backing_name, path,
                    conf_storage_format_to_string(format));
        *tail = layer;
        tail = &layer->backing;
        g_free(cur_path);
        cur_path = g_steal_pointer(&path);
        cur_format = format;
    }
    *ret_head = g_steal_pointer(&head);
    return true;
}

bool
conf_storage_chain_fill_full(ConfStorageSource *top, GPtrArray **ret_names, GError **error)
{
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GArray) seen = g_array_new(FALSE, FALSE, sizeof(ChainFileId));
    g_autoptr(ConfStorageSource) detected = NULL;
    ConfStorageSource *end = NULL;
    ConfStorageSource *last;
    guint depth = 0;

    if (!chain_check_volume(top, error))
        return false;
    if (top->path) {
        /* the given layers: trusted, but they must exist */
        for (ConfStorageSource *n = top; n; n = n->backing) {
            struct stat st;

            if (!chain_check_volume(n, error))
                return false;
            if (!n->path) {
                util_error_set(error, VIR_FROM_STORAGE, VIR_ERR_INTERNAL_ERROR,
                               "backing store of '%s' has no path", top->path);
                return false;
            }
            if (!chain_stat(n->path, top->path, &st, error))
                return false;
            if (n->backing) {
                ChainFileId id = { st.st_dev, st.st_ino };

                g_array_append_val(seen, id);
            }
            g_ptr_array_add(names, NULL);
            depth++;
            end = n;
        }
        if (depth > CONF_STORAGE_CHAIN_MAX_DEPTH) {
            util_error_set(error, VIR_FROM_STORAGE, VIR_ERR_OPERATION_UNSUPPORTED,
                           "backing chains more than %d layers deep are not supported",
                           CONF_STORAGE_CHAIN_MAX_DEPTH);
            return false;
        }
        if (!end->backing_terminated &&
            !chain_detect(end, top->path, depth, seen, names, &detected, error))
            return false;
    } else {
        g_ptr_array_add(names, NULL);
    }

    /* success: apply */
    if (end && !end->backing_terminated) {
        end->backing = g_steal_pointer(&detected);
        for (last = end; last->backing; last = last->backing)
            ;
        last->backing_terminated = true;
    }
    if (top->path && top->format == CONF_STORAGE_FORMAT_NONE)
        top->format = CONF_STORAGE_FORMAT_RAW;
    if (ret_names)
        *ret_names = g_steal_pointer(&names);
    return true;
}

bool
conf_storage_chain_fill(ConfStorageSource *top, GError **error)
{
    return conf_storage_chain_fill_full(top, NULL, error);
}

bool
conf_storage_chain_read_backing_name(const ConfStorageSource *layer, char **ret_name,
                                     GError **error)
{
    g_auto(UtilImageInfo) info = { 0 };

    if (!chain_check_volume(layer, error))
        return false;
    if (!layer->path) {
        *ret_name = NULL;
        return true;
    }
    if (!util_image_probe(layer->path, chain_image_format(layer->format), &info, error))
        return false;
    *ret_name = g_steal_pointer(&info.backing_name);
    return true;
}

char *
conf_storage_chain_describe(const ConfStorageSource *top)
{
    GString *out = g_string_new(NULL);
    const ConfStorageSource *n;

    if (!top->path && top->type != CONF_STORAGE_TYPE_VOLUME)
        return g_string_free(g_string_append(out, "(empty)\n"), FALSE);
    for (n = top; n; n = n->backing) {
        if (n->type == CONF_STORAGE_TYPE_VOLUME)
            g_string_append_printf(out, "%s/%s", n->pool ? n->pool : "",
                                   n->volume ? n->volume : "");
        else
            g_string_append(out, n->path ? n->path : "(no path)");
        g_string_append_printf(out, " %s\n", conf_storage_format_to_string(n->format));
        if (!n->backing && !n->backing_terminated)
            g_string_append(out, "(rest of the chain not known)\n");
    }
    return g_string_free(out, FALSE);
}

#define chain_mismatch(error, top_path, fmt, ...) \
    util_error_set(error, VIR_FROM_STORAGE, VIR_ERR_OPERATION_FAILED, \
                   "backing chain of '%s' does not match the image headers: " fmt, \
                   top_path, __VA_ARGS__)

/* Checks the link from @n (a qcow2 layer whose header names @info's
 * backing file) to n->backing. */
static bool
chain_check_link(const char *top_path, const ConfStorageSource *n, const UtilImageInfo *info,
                 GError **error)
{
    g_autofree char *expected = NULL;
    ConfStorageFormat format;

    if (!n->backing) {
        if (n->backing_terminated)
            chain_mismatch(error, top_path, "image '%s' has backing file '%s' but the chain "
                           "ends there", n->path, info->backing_name);
        else
            chain_mismatch(error, top_path, "the chain is not known below image '%s', "
                           "whose backing file is '%s'", n->path, info->backing_name);
        return false;
    }
    if (!chain_check_volume(n->backing, error))
        return false;
    if (!util_image_backing_is_local(info->backing_name)) {
        chain_mismatch(error, top_path, "image '%s' has backing store '%s', which is not a "
                       "local file", n->path, info->backing_name);
        return false;
    }
    expected = util_image_resolve_backing(n->path, info->backing_name);
    if (!n->backing->path || !util_file_same(expected, n->backing->path)) {
        chain_mismatch(error, top_path, "backing file of image '%s' is '%s' ('%s'), not '%s'",
                       n->path, info->backing_name, expected,
                       n->backing->path ? n->backing->path : "");
        return false;
    }
    if (!chain_backing_format(n->path, info->backing_name, info->backing_format,
                              expected, &format, error))
        return false;
    if (format != chain_conf_format(chain_image_format(n->backing->format))) {
        chain_mismatch(error, top_path, "backing file '%s' of image '%s' has format '%s', "
                       "not '%s'", info->backing_name, n->path,
                       conf_storage_format_to_string(format),
                       conf_storage_format_to_string(n->backing->format));
        return false;
    }
    return true;
}

bool
conf_storage_chain_equal_headers(const ConfStorageSource *top, GError **error)
{
    guint depth = 0;

    if (!chain_check_volume(top, error))
        return false;
    for (const ConfStorageSource *n = top; n && n->path; n = n->backing) {
        g_auto(UtilImageInfo) info = { 0 };

        if (++depth > CONF_STORAGE_CHAIN_MAX_DEPTH) {
            chain_error_nested(error, top->path);
            return false;
        }
        if (!chain_check_volume(n, error) ||
            !util_image_probe(n->path, chain_image_format(n->format), &info, error))
            return false;
        if (!info.backing_name) {
            if (n->backing) {
                chain_mismatch(error, top->path, "image '%s' has no backing file but the "
                               "chain continues with '%s'", n->path,
                               n->backing->path ? n->backing->path : "");
                return false;
            }
            return true;
        }
        if (!chain_check_link(top->path, n, &info, error))
            return false;
    }
    return true;
}
