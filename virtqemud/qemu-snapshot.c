/*
 * qemu-snapshot.c: domain snapshots (see qemu-snapshot.h).
 *
 * Locking: snap_lock guards the per-domain lists (held only for memory
 * operations and the small metadata writes); creating and deleting take
 * the domain's state-change job, so they never overlap with a start, a
 * stop or another snapshot of the same domain.  QEMU and qemu-img are
 * called with no lock held.
 */
#define G_LOG_DOMAIN "virtqemud.snapshot"

#include "qemu-snapshot.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf-snapshot.h"
#include "conf-storage-chain.h"
#include "qemu-blockjob.h"
#include "qemu-command.h"
#include "qemu-process.h"
#include "qemu-security.h"
#include "util-error.h"
#include "util-file.h"
#include "util-image.h"

/* virDomainSnapshotCreateFlags */
enum {
    CREATE_REDEFINE = 1 << 0,
    CREATE_CURRENT = 1 << 1,
    CREATE_NO_METADATA = 1 << 2,
    CREATE_HALT = 1 << 3,
    CREATE_DISK_ONLY = 1 << 4,
    CREATE_REUSE_EXT = 1 << 5,
    CREATE_QUIESCE = 1 << 6,
    CREATE_ATOMIC = 1 << 7,
    CREATE_LIVE = 1 << 8,
    CREATE_VALIDATE = 1 << 9,
    CREATE_ALL = (1 << 10) - 1,
};
/* virDomainSnapshotListFlags (ROOTS and DESCENDANTS share bit 0) */
enum {
    LIST_ROOTS = 1 << 0,
    LIST_DESCENDANTS = 1 << 0,
    LIST_METADATA = 1 << 1,
    LIST_LEAVES = 1 << 2,
    LIST_NO_LEAVES = 1 << 3,
    LIST_NO_METADATA = 1 << 4,
    LIST_INACTIVE = 1 << 5,
    LIST_ACTIVE = 1 << 6,
    LIST_DISK_ONLY = 1 << 7,
    LIST_INTERNAL = 1 << 8,
    LIST_EXTERNAL = 1 << 9,
    LIST_TOPOLOGICAL = 1 << 10,
    LIST_ALL = (1 << 11) - 1,
    LIST_FILTERS_LEAVES = LIST_LEAVES | LIST_NO_LEAVES,
    LIST_FILTERS_METADATA = LIST_METADATA | LIST_NO_METADATA,
    LIST_FILTERS_STATUS = LIST_INACTIVE | LIST_ACTIVE | LIST_DISK_ONLY,
    LIST_FILTERS_LOCATION = LIST_INTERNAL | LIST_EXTERNAL,
};
/* virDomainSnapshotDeleteFlags */
enum {
    DELETE_CHILDREN = 1 << 0,
    DELETE_METADATA_ONLY = 1 << 1,
    DELETE_CHILDREN_ONLY = 1 << 2,
};
#define XML_SECURE 1            /* VIR_DOMAIN_SNAPSHOT_XML_SECURE */
#define SNAP_LIST_MAX 16384     /* DOMAIN_SNAPSHOT_LIST_MAX */

/* ------------------------------------------------------------------ */
/* the lists                                                           */
/* ------------------------------------------------------------------ */

typedef struct {
    char *dir;                  /* <configdir>/qemu/snapshot/<domain> */
    GHashTable *snaps;          /* name -> ConfSnapshotDef * (owned) */
    char *current;              /* name of the current snapshot, NULL: none */
} QemuSnapList;

static GMutex snap_lock;
static GHashTable *snap_lists;  /* domain uuid (string) -> QemuSnapList * */

static void
qemu_snap_list_free(gpointer data)
{
    QemuSnapList *list = data;

    g_free(list->dir);
    g_hash_table_unref(list->snaps);
    g_free(list->current);
    g_free(list);
}

static void
qemu_uuid_string(const unsigned char *u, char out[37])
{
    g_snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
               u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11],
               u[12], u[13], u[14], u[15]);
}

static char *
qemu_snap_file(const QemuSnapList *list, const char *name)
{
    g_autofree char *base = g_strdup_printf("%s.xml", name);

    return g_build_filename(list->dir, base, NULL);
}

static void
qemu_snap_load_dir_locked(QemuSnapList *list, const unsigned char *uuid)
{
    g_autoptr(GDir) dir = g_dir_open(list->dir, 0, NULL);
    const char *entry = NULL;

    while (dir && (entry = g_dir_read_name(dir))) {
        g_autofree char *path = NULL;
        g_autofree char *xml = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(ConfSnapshotDef) def = NULL;
        g_autofree char *name = NULL;
        bool current = false;

        if (entry[0] == '.' || !g_str_has_suffix(entry, ".xml"))
            continue;
        path = g_build_filename(list->dir, entry, NULL);
        if (!g_file_get_contents(path, &xml, NULL, &error) ||
            !(def = conf_snapshot_parse(xml, CONF_SNAPSHOT_PARSE_INTERNAL, &current, &error))) {
            g_warning("ignoring the snapshot metadata in '%s': %s", path, error->message);
            continue;
        }
        if (def->dom && memcmp(def->dom->uuid, uuid, 16) != 0) {
            g_warning("ignoring the snapshot metadata in '%s': it belongs to another domain", path);
            continue;
        }
        if (strlen(entry) != strlen(def->name) + 4 || strncmp(entry, def->name, strlen(def->name))) {
            g_warning("ignoring '%s': it describes snapshot '%s'", path, def->name);
            continue;
        }
        if (current) {
            if (list->current)
                g_warning("snapshots '%s' and '%s' both claim to be current", list->current,
                          def->name);
            g_free(list->current);
            list->current = g_strdup(def->name);
        }
        name = g_strdup(def->name);
        g_hash_table_insert(list->snaps, g_steal_pointer(&name), g_steal_pointer(&def));
    }
    g_debug("%u snapshots of the domain in '%s'", g_hash_table_size(list->snaps), list->dir);
}

/* @dom's list, read from disk on first use; snap_lock held. */
static QemuSnapList *
qemu_snap_list_locked(QemuDomain *dom)
{
    unsigned char uuid[16];
    g_autofree char *name = NULL;
    char key[37];
    QemuSnapList *list = NULL;

    g_mutex_lock(&dom->lock);
    memcpy(uuid, dom->def->uuid, 16);
    name = g_strdup(dom->def->name);
    g_mutex_unlock(&dom->lock);

    if (!snap_lists)
        snap_lists = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, qemu_snap_list_free);
    qemu_uuid_string(uuid, key);
    if ((list = g_hash_table_lookup(snap_lists, key)))
        return list;
    list = g_new0(QemuSnapList, 1);
    list->dir = g_build_filename(daemon_paths()->configdir, "qemu", "snapshot", name, NULL);
    list->snaps = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                        (GDestroyNotify)conf_snapshot_def_free);
    qemu_snap_load_dir_locked(list, uuid);
    g_hash_table_insert(snap_lists, g_strdup(key), list);
    return list;
}

static bool
qemu_snap_write_locked(QemuSnapList *list, const ConfSnapshotDef *def, GError **error)
{
    g_autofree char *path = qemu_snap_file(list, def->name);
    g_autofree char *xml = NULL;
    unsigned int flags = CONF_SNAPSHOT_FORMAT_INTERNAL | CONF_SNAPSHOT_FORMAT_SECURE;

    if (g_strcmp0(list->current, def->name) == 0)
        flags |= CONF_SNAPSHOT_FORMAT_CURRENT;
    if (g_mkdir_with_parents(list->dir, 0700) < 0) {
        util_error_set_errno(error, VIR_FROM_QEMU, errno, "cannot create directory '%s'",
                             list->dir);
        return false;
    }
    xml = conf_snapshot_format(def, NULL, flags);
    return util_file_write_atomic(path, xml, strlen(xml), 0600, error);
}

/* Make @name (may be NULL) current, rewriting the old current's file. */
static void
qemu_snap_set_current_locked(QemuSnapList *list, const char *name)
{
    g_autofree char *old = g_steal_pointer(&list->current);
    ConfSnapshotDef *olddef = NULL;

    list->current = g_strdup(name);
    if (old && g_strcmp0(old, name) != 0 && (olddef = g_hash_table_lookup(list->snaps, old))) {
        g_autoptr(GError) error = NULL;

        if (!qemu_snap_write_locked(list, olddef, &error))
            g_warning("failed to update old current snapshot '%s': %s", old, error->message);
    }
}

static ConfSnapshotDef *
qemu_snap_find_locked(QemuSnapList *list, const char *name, GError **error)
{
    ConfSnapshotDef *def = name ? g_hash_table_lookup(list->snaps, name) : NULL;

    if (!def)
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_NO_DOMAIN_SNAPSHOT,
                       "Domain snapshot not found: no domain snapshot with matching name '%s'",
                       name ? name : "");
    return def;
}

/* The parent of @def in @list: NULL for roots and for snapshots whose
 * parent is not known (as libvirt, these count as roots). */
static ConfSnapshotDef *
qemu_snap_parent_locked(QemuSnapList *list, const ConfSnapshotDef *def)
{
    return def->parent_name ? g_hash_table_lookup(list->snaps, def->parent_name) : NULL;
}

static int
qemu_snap_cmp_name(gconstpointer a, gconstpointer b)
{
    const ConfSnapshotDef *da = *(ConfSnapshotDef *const *)a;
    const ConfSnapshotDef *db = *(ConfSnapshotDef *const *)b;

    return strcmp(da->name, db->name);
}

/* The children of @parent (NULL: the roots), sorted by name. */
static GPtrArray *
qemu_snap_children_locked(QemuSnapList *list, const ConfSnapshotDef *parent)
{
    GPtrArray *ret = g_ptr_array_new();
    GHashTableIter it;
    gpointer value = NULL;

    g_hash_table_iter_init(&it, list->snaps);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        ConfSnapshotDef *def = value;

        if (qemu_snap_parent_locked(list, def) == parent)
            g_ptr_array_add(ret, def);
    }
    g_ptr_array_sort(ret, qemu_snap_cmp_name);
    return ret;
}

static bool
qemu_snap_is_leaf_locked(QemuSnapList *list, const ConfSnapshotDef *def)
{
    g_autoptr(GPtrArray) children = qemu_snap_children_locked(list, def);

    return children->len == 0;
}

/* libvirt's filter on the kind of snapshot (flags already sanitised) */
static bool
qemu_snap_matches_locked(QemuSnapList *list, const ConfSnapshotDef *def, unsigned int flags)
{
    if (flags & LIST_FILTERS_LEAVES) {
        bool leaf = qemu_snap_is_leaf_locked(list, def);

        if ((flags & LIST_LEAVES) ? !leaf : leaf)
            return false;
    }
    if (flags & LIST_FILTERS_STATUS) {
        if (!(flags & LIST_INACTIVE) && def->state == CONF_SNAPSHOT_STATE_SHUTOFF)
            return false;
        if (!(flags & LIST_DISK_ONLY) && def->state == CONF_SNAPSHOT_STATE_DISK_SNAPSHOT)
            return false;
        if (!(flags & LIST_ACTIVE) && def->state != CONF_SNAPSHOT_STATE_SHUTOFF &&
            def->state != CONF_SNAPSHOT_STATE_DISK_SNAPSHOT)
            return false;
    }
    if ((flags & LIST_INTERNAL) && conf_snapshot_is_external(def))
        return false;
    if ((flags & LIST_EXTERNAL) && !conf_snapshot_is_external(def))
        return false;
    return true;
}

/* Every snapshot below @from (NULL: the top), parents before children. */
static void
qemu_snap_walk_locked(QemuSnapList *list, const ConfSnapshotDef *from, bool deep, GPtrArray *out)
{
    g_autoptr(GPtrArray) children = qemu_snap_children_locked(list, from);

    for (guint i = 0; i < children->len; i++) {
        ConfSnapshotDef *child = g_ptr_array_index(children, i);

        g_ptr_array_add(out, child);
        if (deep)
            qemu_snap_walk_locked(list, child, deep, out);
    }
}

/* The snapshots a list call selects, in topological order.  @from NULL
 * lists the domain's (bit 0: roots only), else @from's (bit 0: all
 * descendants). */
static GPtrArray *
qemu_snap_select_locked(QemuSnapList *list, const ConfSnapshotDef *from, unsigned int flags)
{
    GPtrArray *all = g_ptr_array_new();
    GPtrArray *ret = g_ptr_array_new();
    bool deep = from ? (flags & LIST_DESCENDANTS) : !(flags & LIST_ROOTS);

    if ((flags & LIST_FILTERS_LEAVES) == LIST_FILTERS_LEAVES)
        flags &= ~(unsigned int)LIST_FILTERS_LEAVES;
    if ((flags & LIST_FILTERS_STATUS) == LIST_FILTERS_STATUS)
        flags &= ~(unsigned int)LIST_FILTERS_STATUS;
    if ((flags & LIST_FILTERS_LOCATION) == LIST_FILTERS_LOCATION)
        flags &= ~(unsigned int)LIST_FILTERS_LOCATION;
    /* every snapshot listed here has metadata */
    if ((flags & LIST_FILTERS_METADATA) == LIST_NO_METADATA) {
        g_ptr_array_unref(all);
        return ret;
    }
    qemu_snap_walk_locked(list, from, deep, all);
    for (guint i = 0; i < all->len; i++) {
        ConfSnapshotDef *def = g_ptr_array_index(all, i);

        if (qemu_snap_matches_locked(list, def, flags))
            g_ptr_array_add(ret, def);
    }
    g_ptr_array_unref(all);
    return ret;
}

int
qemu_snapshot_count(QemuDomain *dom, GError **error)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&snap_lock);

    return (int)g_hash_table_size(qemu_snap_list_locked(dom)->snaps);
}

bool
qemu_snapshot_discard_all_metadata(QemuDomain *dom, GError **error)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&snap_lock);
    QemuSnapList *list = qemu_snap_list_locked(dom);
    GHashTableIter it;
    gpointer key = NULL;
    bool ok = true;

    g_hash_table_iter_init(&it, list->snaps);
    while (g_hash_table_iter_next(&it, &key, NULL)) {
        g_autofree char *path = qemu_snap_file(list, key);

        if (unlink(path) < 0 && errno != ENOENT) {
            if (ok)
                util_error_set_errno(error, VIR_FROM_QEMU, errno, "cannot remove '%s'", path);
            ok = false;
            continue;
        }
        g_hash_table_iter_remove(&it);
    }
    if (ok) {
        g_clear_pointer(&list->current, g_free);
        if (rmdir(list->dir) < 0 && errno != ENOENT)
            g_debug("cannot remove '%s': %s", list->dir, g_strerror(errno));
    }
    return ok;
}

void
qemu_snapshot_cleanup(void)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&snap_lock);

    g_clear_pointer(&snap_lists, g_hash_table_destroy);
}

/* ------------------------------------------------------------------ */
/* helpers for creating                                                */
/* ------------------------------------------------------------------ */

/* Run qemu-img with @args; its stderr becomes the error message. */
static bool
qemu_snap_qemu_img(const char *const *args, GError **error)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_autofree char *err_text = NULL;
    g_autoptr(GError) local = NULL;
    int status = 0;

    g_ptr_array_add(argv, (gpointer)"qemu-img");
    for (size_t i = 0; args[i]; i++)
        g_ptr_array_add(argv, (gpointer)args[i]);
    g_ptr_array_add(argv, NULL);
    if (!g_spawn_sync(NULL, (char **)argv->pdata, NULL,
                      G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL,
                      &err_text, &status, &local)) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_OPERATION_FAILED,
                       "operation failed: cannot run qemu-img: %s", local->message);
        return false;
    }
    if (!g_spawn_check_wait_status(status, NULL)) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_OPERATION_FAILED,
                       "operation failed: qemu-img %s failed: %s", args[0],
                       g_strstrip(err_text ? err_text : g_strdup("")));
        return false;
    }
    return true;
}

/* One disk of the snapshot being made. */
typedef struct {
    ConfSnapshotDiskDef *sdisk;
    char *top_path;             /* the image the guest writes now */
    ConfStorageFormat top_format;
    char *top_node;             /* its format node (running domains) */
    char *backing_raw;          /* the backing name the overlay's header records */
    bool existed_empty;         /* the overlay was an empty file before */
    bool created;               /* we made the overlay */
    char *node_storage;         /* the overlay's nodes (running domains) */
    char *node_format;
    bool added_storage;
    bool added_format;
    bool labelled;              /* given to QEMU's user */
} QemuSnapDisk;

static void
qemu_snap_disk_free(gpointer data)
{
    QemuSnapDisk *d = data;

    g_free(d->top_path);
    g_free(d->backing_raw);
    g_free(d->top_node);
    g_free(d->node_storage);
    g_free(d->node_format);
    g_free(d);
}

static const char *
qemu_snap_format_name(ConfStorageFormat format)
{
    return conf_storage_format_to_string(format == CONF_STORAGE_FORMAT_NONE ? CONF_STORAGE_FORMAT_RAW
                                                                             : format);
}

/* libvirt's qemuSnapshotPrepareDiskExternal for a file, and the disk it
 * applies to */
static bool
qemu_snap_check_target(const ConfSnapshotDiskDef *sdisk, const ConfDomainDiskDef *disk,
                       bool reuse, bool *ret_existed_empty, GError **error)
{
    struct stat st;

    if (!disk->src->path || (disk->src->type != CONF_STORAGE_TYPE_FILE &&
                             disk->src->type != CONF_STORAGE_TYPE_BLOCK)) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_CONFIG_UNSUPPORTED,
                       "unsupported configuration: external snapshot of disk '%s' needs a "
                       "local file or block device as its source", sdisk->name);
        return false;
    }
    if (sdisk->type != CONF_STORAGE_TYPE_FILE) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_CONFIG_UNSUPPORTED,
                       "unsupported configuration: external snapshot of disk '%s' into a "
                       "block device is not supported", sdisk->name);
        return false;
    }
    if (g_strcmp0(sdisk->driver_type, "qcow2") != 0) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_CONFIG_UNSUPPORTED,
                       "unsupported configuration: external snapshot format for disk %s is "
                       "unsupported: %s", sdisk->name, sdisk->driver_type);
        return false;
    }
    *ret_existed_empty = false;
    if (stat(sdisk->path, &st) < 0) {
        if (errno != ENOENT) {
            util_error_set_errno(error, VIR_FROM_QEMU, errno, "unable to stat for disk %s: %s",
                                 sdisk->name, sdisk->path);
            return false;
        }
        if (reuse) {
            util_error_set_errno(error, VIR_FROM_QEMU, errno,
                                 "missing existing file for disk %s: %s", sdisk->name, sdisk->path);
            return false;
        }
        return true;
    }
    if (!S_ISREG(st.st_mode)) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_CONFIG_UNSUPPORTED,
                       "unsupported configuration: mismatch between configured type for snapshot "
                       "disk '%s' and the type of existing file '%s'", sdisk->name, sdisk->path);
        return false;
    }
    if (!reuse && st.st_size > 0) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_CONFIG_UNSUPPORTED,
                       "unsupported configuration: external snapshot file for disk %s already "
                       "exists and is not a block device: %s", sdisk->name, sdisk->path);
        return false;
    }
    *ret_existed_empty = !reuse;
    return true;
}

/* REUSE_EXT: the overlay must be qcow2 and its header must name (as QEMU
 * resolves the name, relative ones against the overlay's directory) the
 * image the disk uses now: QEMU ignores that name when it attaches the
 * overlay, but the next cold start follows it. */
static bool
qemu_snap_check_reused(QemuSnapDisk *d, GError **error)
{
    g_auto(UtilImageInfo) info = { 0 };
    g_autofree char *resolved = NULL;

    if (!util_image_probe(d->sdisk->path, UTIL_IMAGE_FORMAT_AUTO, &info, error))
        return false;
    if (info.format != UTIL_IMAGE_FORMAT_QCOW2) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_CONFIG_UNSUPPORTED,
                       "unsupported configuration: image '%s' to reuse for disk '%s' is %s, "
                       "not qcow2", d->sdisk->path, d->sdisk->name,
                       util_image_format_to_string(info.format));
        return false;
    }
    if (!info.backing_name || !util_image_backing_is_local(info.backing_name)) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_CONFIG_UNSUPPORTED,
                       "unsupported configuration: image '%s' to reuse for disk '%s' must name "
                       "'%s' as its backing file%s%s", d->sdisk->path, d->sdisk->name,
                       d->top_path, info.backing_name ? ", not " : "",
                       info.backing_name ? info.backing_name : "");
        return false;
    }
    resolved = util_image_resolve_backing(d->sdisk->path, info.backing_name);
    if (!util_file_same(resolved, d->top_path)) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_CONFIG_UNSUPPORTED,
                       "unsupported configuration: the backing file '%s' named by '%s' is not "
                       "the current image '%s' of disk '%s'", info.backing_name, d->sdisk->path,
                       d->top_path, d->sdisk->name);
        return false;
    }
    if (info.backing_format &&
        !g_str_equal(info.backing_format, qemu_snap_format_name(d->top_format))) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_CONFIG_UNSUPPORTED,
                       "unsupported configuration: image '%s' to reuse for disk '%s' says its "
                       "backing file is %s, but '%s' is %s", d->sdisk->path, d->sdisk->name,
                       info.backing_format, d->top_path, qemu_snap_format_name(d->top_format));
        return false;
    }
    d->backing_raw = g_strdup(info.backing_name);
    return true;
}

static void qemu_snap_remove_overlay(const QemuSnapDisk *d);

/* Make the overlay with qemu-img: backed by the current image (absolute
 * name, its format recorded), the size of the guest disk. */
static bool
qemu_snap_create_overlay(QemuSnapDisk *d, GError **error)
{
    const char *args[] = { "create", "-q", "-f", "qcow2", "-F", qemu_snap_format_name(d->top_format),
                           "-b", d->top_path, d->sdisk->path, NULL };
    uid_t uid;
    gid_t gid;

    d->created = true;
    d->backing_raw = g_strdup(d->top_path);
    if (!qemu_snap_qemu_img(args, error)) {
        qemu_snap_remove_overlay(d);
        d->created = false;
        return false;
    }
    /* it belongs to whom the image it replaces belongs (a running QEMU's
     * user gets it when it joins the chain, and gives it back) */
    if (geteuid() == 0 && qemu_security_owner(d->top_path, &uid, &gid) &&
        chown(d->sdisk->path, uid, gid) < 0)
        g_warning("cannot give '%s' to uid %u: %s", d->sdisk->path, (unsigned)uid,
                  g_strerror(errno));
    return true;
}

static void
qemu_snap_remove_overlay(const QemuSnapDisk *d)
{
    if (!d->created)
        return;
    if (d->existed_empty) {
        if (truncate(d->sdisk->path, 0) < 0)
            g_warning("cannot empty '%s' again: %s", d->sdisk->path, g_strerror(errno));
    } else if (unlink(d->sdisk->path) < 0 && errno != ENOENT) {
        g_warning("unable to remove just-created %s: %s", d->sdisk->path, g_strerror(errno));
    }
}

/* The first node number used neither in @live nor by QEMU (which may
 * still hold nodes a block job dropped from the definition). */
static gint64
qemu_snap_next_node_index(const ConfDomainDef *live, QemuMonitor *mon)
{
    g_autoptr(json_object) nodes = NULL;
    g_autoptr(GError) error = NULL;
    gint64 next = qemu_node_name_next(live, 1);

    if (!(nodes = qemu_monitor_query_named_block_nodes(mon, &error))) {
        g_debug("query-named-block-nodes: %s", error->message);
        return next;
    }
    for (size_t i = 0; json_object_is_type(nodes, json_type_array) &&
                       i < json_object_array_length(nodes); i++) {
        json_object *name = NULL;

        if (json_object_object_get_ex(json_object_array_get_idx(nodes, i), "node-name", &name))
            next = MAX(next, qemu_node_name_index(json_object_get_string(name), true) + 1);
    }
    return next;
}

static json_object *
qemu_snap_storage_props(const QemuSnapDisk *d)
{
    json_object *props = json_object_new_object();

    json_object_object_add(props, "driver", json_object_new_string("file"));
    json_object_object_add(props, "filename", json_object_new_string(d->sdisk->path));
    json_object_object_add(props, "node-name", json_object_new_string(d->node_storage));
    json_object_object_add(props, "auto-read-only", json_object_new_boolean(true));
    json_object_object_add(props, "discard", json_object_new_string("unmap"));
    return props;
}

static json_object *
qemu_snap_format_props(const QemuSnapDisk *d, const ConfDomainDiskDef *disk)
{
    json_object *props = json_object_new_object();

    json_object_object_add(props, "node-name", json_object_new_string(d->node_format));
    json_object_object_add(props, "read-only", json_object_new_boolean(false));
    if (disk->discard == CONF_DOMAIN_DISK_DISCARD_UNMAP)
        json_object_object_add(props, "discard", json_object_new_string("unmap"));
    else if (disk->discard == CONF_DOMAIN_DISK_DISCARD_IGNORE)
        json_object_object_add(props, "discard", json_object_new_string("ignore"));
    json_object_object_add(props, "driver", json_object_new_string("qcow2"));
    json_object_object_add(props, "file", json_object_new_string(d->node_storage));
    /* attached by blockdev-snapshot; QEMU must not open the header's name */
    json_object_object_add(props, "backing", NULL);
    return props;
}

/* Undo what the live procedure added to QEMU (format nodes first). */
static void
qemu_snap_del_nodes(QemuMonitor *mon, GPtrArray *disks)
{
    for (guint i = 0; i < disks->len; i++) {
        QemuSnapDisk *d = g_ptr_array_index(disks, i);
        g_autoptr(GError) e1 = NULL;
        g_autoptr(GError) e2 = NULL;

        if (d->added_format && !qemu_monitor_blockdev_del(mon, d->node_format, &e1))
            g_warning("blockdev-del %s: %s", d->node_format, e1->message);
        if (d->added_storage && !qemu_monitor_blockdev_del(mon, d->node_storage, &e2))
            g_warning("blockdev-del %s: %s", d->node_storage, e2->message);
        d->added_format = d->added_storage = false;
        if (d->labelled)
            qemu_security_restore_path(d->sdisk->path);
        d->labelled = false;
    }
}

/* The overlays become the disks' active layers, in one transaction. */
static bool
qemu_snap_live(QemuDomain *dom, const ConfDomainDef *live, GPtrArray *disks, GError **error)
{
    g_autoptr(QemuMonitor) mon = qemu_domain_get_monitor(dom, error);
    g_autoptr(json_object) reply = NULL;
    json_object *actions = NULL;
    json_object *args = NULL;
    gint64 next = 0;

    if (!mon)
        return false;
    /* from the domain's node counter as a block copy does, never below a
     * number in use, and the counter moves past what is taken here */
    next = qemu_snap_next_node_index(live, mon);
    g_mutex_lock(&dom->lock);
    if (dom->live) {
        next = MAX(next, (gint64)dom->live->node_name_index);
        dom->live->node_name_index = (unsigned int)MIN(next + disks->len, G_MAXINT);
    }
    g_mutex_unlock(&dom->lock);
    actions = json_object_new_array();
    for (guint i = 0; i < disks->len; i++) {
        QemuSnapDisk *d = g_ptr_array_index(disks, i);
        const ConfDomainDiskDef *disk = conf_domain_find_disk(live, d->sdisk->name);
        json_object *action = NULL;
        json_object *data = NULL;

        d->node_storage = g_strdup_printf(QEMU_NODE_PREFIX "%" G_GINT64_FORMAT "-storage", next);
        d->node_format = g_strdup_printf(QEMU_NODE_PREFIX "%" G_GINT64_FORMAT "-format", next);
        next++;
        if (!qemu_security_label_new(live, d->sdisk->path, error))
            goto fail;
        d->labelled = true;
        if (!qemu_monitor_blockdev_add(mon, qemu_snap_storage_props(d), error))
            goto fail;
        d->added_storage = true;
        if (!qemu_monitor_blockdev_add(mon, qemu_snap_format_props(d, disk), error))
            goto fail;
        d->added_format = true;
        action = json_object_new_object();
        data = json_object_new_object();
        json_object_object_add(data, "node", json_object_new_string(d->top_node));
        json_object_object_add(data, "overlay", json_object_new_string(d->node_format));
        json_object_object_add(action, "type", json_object_new_string("blockdev-snapshot"));
        json_object_object_add(action, "data", data);
        json_object_array_add(actions, action);
    }
    args = json_object_new_object();
    json_object_object_add(args, "actions", g_steal_pointer(&actions));
    if (!(reply = qemu_monitor_command(mon, "transaction", args, 0, error)))
        goto fail;
    return true;

fail:
    json_object_put(actions);
    qemu_snap_del_nodes(mon, disks);
    return false;
}

/* The overlay as a new active layer above @old (stolen). */
static ConfStorageSource *
qemu_snap_new_top(const QemuSnapDisk *d, ConfStorageSource *old)
{
    ConfStorageSource *src = conf_storage_source_new(CONF_STORAGE_TYPE_FILE);

    src->path = g_strdup(d->sdisk->path);
    src->format = CONF_STORAGE_FORMAT_QCOW2;
    src->node_name_storage = g_strdup(d->node_storage);
    src->node_name_format = g_strdup(d->node_format);
    src->backing = old;
    return src;
}

/* After success: the definitions follow (the persistent one only where
 * it still names the image the snapshot was taken of). */
static void
qemu_snap_update_defs(QemuDomain *dom, GPtrArray *disks, bool running)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&dom->lock);

    for (guint i = 0; i < disks->len; i++) {
        const QemuSnapDisk *d = g_ptr_array_index(disks, i);
        ConfDomainDiskDef *pdisk = conf_domain_find_disk(dom->def, d->sdisk->name);

        if (running && dom->live) {
            ConfDomainDiskDef *ldisk = conf_domain_find_disk(dom->live, d->sdisk->name);

            if (ldisk) {
                /* kept for later RELATIVE commits and pulls */
                g_free(ldisk->src->backing_name_raw);
                ldisk->src->backing_name_raw = g_strdup(d->backing_raw);
                ldisk->src = qemu_snap_new_top(d, ldisk->src);
            }
        }
        if (pdisk && g_strcmp0(pdisk->src->path, d->top_path) == 0 &&
            (!running || dom->persistent)) {
            conf_storage_source_free(pdisk->src);
            pdisk->src = conf_storage_source_new(CONF_STORAGE_TYPE_FILE);
            pdisk->src->path = g_strdup(d->sdisk->path);
            pdisk->src->format = CONF_STORAGE_FORMAT_QCOW2;
        }
    }
}

/* A copy of @def for the snapshot's metadata: no detected chains. */
static ConfDomainDef *
qemu_snap_domain_copy(const ConfDomainDef *def)
{
    ConfDomainDef *copy = conf_domain_copy(def);

    for (guint i = 0; i < copy->disks->len; i++) {
        ConfDomainDiskDef *disk = g_ptr_array_index(copy->disks, i);

        g_clear_pointer(&disk->src->backing, conf_storage_source_free);
        disk->src->backing_terminated = false;
    }
    return copy;
}

static bool
qemu_snap_check_name(const char *name, GError **error)
{
    if (strchr(name, '/')) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_XML_DETAIL,
                       "invalid snapshot name '%s': name can't contain '/'", name);
        return false;
    }
    if (name[0] == '.') {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_XML_DETAIL,
                       "invalid snapshot name '%s': name can't start with '.'", name);
        return false;
    }
    return true;
}

/* Which disks change and how (libvirt's qemuSnapshotPrepare, for the
 * external disk-only snapshots modvirt makes). */
static GPtrArray *
qemu_snap_prepare(ConfSnapshotDef *snap, const ConfDomainDef *base, bool running,
                  unsigned int flags, GError **error)
{
    g_autoptr(GPtrArray) disks = g_ptr_array_new_with_free_func(qemu_snap_disk_free);
    bool reuse = flags & CREATE_REUSE_EXT;
    bool internal = false;

    for (guint i = 0; i < snap->disks->len; i++) {
        ConfSnapshotDiskDef *sdisk = g_ptr_array_index(snap->disks, i);
        const ConfDomainDiskDef *disk = g_ptr_array_index(base->disks, i);
        QemuSnapDisk *d = NULL;

        switch (sdisk->snapshot) {
        case CONF_SNAPSHOT_LOCATION_NO:
            continue;
        case CONF_SNAPSHOT_LOCATION_INTERNAL:
            internal = true;
            continue;
        case CONF_SNAPSHOT_LOCATION_MANUAL:
            util_error_set(error, VIR_FROM_QEMU, VIR_ERR_OPERATION_UNSUPPORTED,
                           "Operation not supported: manual snapshot of disk '%s' is not "
                           "supported", sdisk->name);
            return NULL;
        case CONF_SNAPSHOT_LOCATION_EXTERNAL:
            break;
        case CONF_SNAPSHOT_LOCATION_DEFAULT:
        case CONF_SNAPSHOT_LOCATION_LAST:
            util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INTERNAL_ERROR,
                           "internal error: unexpected code path");
            return NULL;
        }
        if (!sdisk->driver_type)
            sdisk->driver_type = g_strdup("qcow2");
        d = g_new0(QemuSnapDisk, 1);
        d->sdisk = sdisk;
        d->top_path = g_strdup(disk->src->path);
        d->top_format = disk->src->format;
        d->top_node = g_strdup(disk->src->node_name_format);
        g_ptr_array_add(disks, d);
        if (!qemu_snap_check_target(sdisk, disk, reuse, &d->existed_empty, error))
            return NULL;
        if (running && !d->top_node) {
            util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INTERNAL_ERROR,
                           "internal error: disk '%s' has no node name", sdisk->name);
            return NULL;
        }
        for (guint j = 0; j + 1 < disks->len; j++) {
            const QemuSnapDisk *other = g_ptr_array_index(disks, j);

            if (g_str_equal(other->sdisk->path, sdisk->path)) {
                util_error_set(error, VIR_FROM_QEMU, VIR_ERR_CONFIG_UNSUPPORTED,
                               "unsupported configuration: disks '%s' and '%s' cannot both "
                               "use '%s' for their snapshot", other->sdisk->name, sdisk->name,
                               sdisk->path);
                return NULL;
            }
        }
    }
    if (internal && disks->len) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_CONFIG_UNSUPPORTED,
                       "unsupported configuration: mixing internal and external targets for a "
                       "snapshot is not yet supported");
        return NULL;
    }
    if (internal) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_OPERATION_UNSUPPORTED,
                       "Operation not supported: internal snapshots are not supported; take an "
                       "external disk-only snapshot (VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY)");
        return NULL;
    }
    if (!disks->len) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_CONFIG_UNSUPPORTED,
                       "unsupported configuration: disk-only snapshots require at least one "
                       "disk to be selected for snapshot");
        return NULL;
    }
    return g_steal_pointer(&disks);
}

/* Overlays in place (made, or checked with REUSE_EXT); on failure the
 * ones made here are gone again. */
static bool
qemu_snap_make_overlays(GPtrArray *disks, bool reuse, GError **error)
{
    for (guint i = 0; i < disks->len; i++) {
        QemuSnapDisk *d = g_ptr_array_index(disks, i);

        if (reuse ? qemu_snap_check_reused(d, error) : qemu_snap_create_overlay(d, error))
            continue;
        for (guint j = 0; j < i; j++)
            qemu_snap_remove_overlay(g_ptr_array_index(disks, j));
        return false;
    }
    return true;
}

/* The live chains must be what the image headers say. */
static void
qemu_snap_check_chains(QemuDomain *dom, GPtrArray *disks)
{
    for (guint i = 0; i < disks->len; i++) {
        const QemuSnapDisk *d = g_ptr_array_index(disks, i);
        g_autoptr(ConfStorageSource) chain = NULL;
        g_autoptr(GError) error = NULL;

        g_mutex_lock(&dom->lock);
        if (dom->live) {
            const ConfDomainDiskDef *disk = conf_domain_find_disk(dom->live, d->sdisk->name);

            chain = disk ? conf_storage_source_copy(disk->src) : NULL;
        }
        g_mutex_unlock(&dom->lock);
        if (chain && !conf_storage_chain_equal_headers(chain, &error))
            g_warning("disk '%s': the chain after the snapshot is not what the images say: %s",
                      d->sdisk->name, error->message);
    }
}

/* ------------------------------------------------------------------ */
/* create                                                              */
/* ------------------------------------------------------------------ */

static bool
qemu_snap_check_create_flags(unsigned int flags, GError **error)
{
    if (!qemu_check_flags(flags, CREATE_ALL, "virDomainSnapshotCreateXML", error))
        return false;
    if ((flags & CREATE_QUIESCE) && !(flags & CREATE_DISK_ONLY)) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INVALID_ARG,
                       "Flag 'VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY' is required by flag "
                       "'VIR_DOMAIN_SNAPSHOT_CREATE_QUIESCE'");
        return false;
    }
    if ((flags & CREATE_LIVE) && (flags & CREATE_REDEFINE)) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INVALID_ARG,
                       "Flags 'VIR_DOMAIN_SNAPSHOT_CREATE_LIVE' and "
                       "'VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE' are mutually exclusive");
        return false;
    }
    return true;
}

/* The snapshot's definition completed from the domain: state, the domain
 * as it is now, disks aligned with it. */
static bool
qemu_snap_fill_def(QemuDomain *dom, ConfSnapshotDef *snap, unsigned int flags,
                   ConfDomainDef **ret_base, bool *ret_running, GError **error)
{
    g_autoptr(ConfDomainDef) base = NULL;
    bool running = false;
    bool any_external = conf_snapshot_is_external(snap);

    g_mutex_lock(&dom->lock);
    running = dom->id >= 0 && dom->live;
    base = conf_domain_copy(running ? dom->live : dom->def);
    snap->dom = qemu_snap_domain_copy(base);
    if (running && dom->persistent)
        snap->inactive_dom = qemu_snap_domain_copy(dom->def);
    if (dom->state == QEMU_STATE_PMSUSPENDED) {
        g_mutex_unlock(&dom->lock);
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_OPERATION_UNSUPPORTED,
                       "Operation not supported: qemu doesn't support taking snapshots of "
                       "PMSUSPENDED guests");
        return false;
    }
    g_mutex_unlock(&dom->lock);

    if ((flags & CREATE_LIVE) && (!running || snap->memory != CONF_SNAPSHOT_LOCATION_EXTERNAL)) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_OPERATION_UNSUPPORTED,
                       "Operation not supported: live snapshot creation is supported only "
                       "during full system snapshots");
        return false;
    }
    if (!(flags & CREATE_DISK_ONLY) && (running || !any_external)) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_OPERATION_UNSUPPORTED,
                       "Operation not supported: only external disk-only snapshots are "
                       "supported (VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY)%s",
                       running ? "" : "; for a shut off domain, disks marked external also do");
        return false;
    }
    snap->state = running ? CONF_SNAPSHOT_STATE_DISK_SNAPSHOT : CONF_SNAPSHOT_STATE_SHUTOFF;
    snap->memory = CONF_SNAPSHOT_LOCATION_NO;
    if (!conf_snapshot_align_disks(snap, base, CONF_SNAPSHOT_LOCATION_EXTERNAL, error))
        return false;
    *ret_base = g_steal_pointer(&base);
    *ret_running = running;
    return true;
}

static bool
qemu_snap_do_create(QemuDomain *dom, ConfSnapshotDef *snap, unsigned int flags, GError **error)
{
    g_autoptr(ConfDomainDef) base = NULL;
    g_autoptr(GPtrArray) disks = NULL;
    bool running = false;
    bool reuse = flags & CREATE_REUSE_EXT;

    if (!(flags & CREATE_NO_METADATA) && !qemu_snap_check_name(snap->name, error))
        return false;
    if (!qemu_blockjob_check_no_mirror(dom, NULL, "snapshot", error))
        return false;
    if (!(flags & CREATE_NO_METADATA)) {
        g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&snap_lock);

        if (g_hash_table_contains(qemu_snap_list_locked(dom)->snaps, snap->name)) {
            util_error_set(error, VIR_FROM_QEMU, VIR_ERR_OPERATION_FAILED,
                           "operation failed: domain snapshot %s already exists", snap->name);
            return false;
        }
    }
    if (!qemu_snap_fill_def(dom, snap, flags, &base, &running, error))
        return false;
    if (!(disks = qemu_snap_prepare(snap, base, running, flags, error)))
        return false;
    if (running && (flags & CREATE_QUIESCE)) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_ARGUMENT_UNSUPPORTED,
                       "argument unsupported: QEMU guest agent is not configured");
        return false;
    }
    if (!qemu_snap_make_overlays(disks, reuse, error))
        return false;
    if (running && !qemu_snap_live(dom, base, disks, error)) {
        for (guint i = 0; i < disks->len; i++)
            qemu_snap_remove_overlay(g_ptr_array_index(disks, i));
        return false;
    }
    g_info("domain '%s': %s snapshot '%s' of %u disk(s) taken", dom->def->name,
           running ? "live" : "offline", snap->name, disks->len);
    qemu_snap_update_defs(dom, disks, running);
    if (running) {
        qemu_snap_check_chains(dom, disks);
        if (!qemu_process_save_status(dom, error))
            return false;
    }
    return qemu_domain_save_config(dom, error);
}

static bool
qemu_snap_store_new(QemuDomain *dom, ConfSnapshotDef **snapp, GError **error)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&snap_lock);
    QemuSnapList *list = qemu_snap_list_locked(dom);
    ConfSnapshotDef *snap = *snapp;
    g_autoptr(GError) local = NULL;

    g_free(snap->parent_name);
    snap->parent_name = g_strdup(list->current);
    g_hash_table_insert(list->snaps, g_strdup(snap->name), g_steal_pointer(snapp));
    qemu_snap_set_current_locked(list, snap->name);
    if (!qemu_snap_write_locked(list, snap, &local)) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INTERNAL_ERROR,
                       "internal error: unable to save metadata for snapshot %s: %s",
                       snap->name, local->message);
        return false;
    }
    return true;
}

/* libvirt's checks of a redefinition (virDomainSnapshotRedefinePrep) */
static bool
qemu_snap_check_redefine_locked(QemuSnapList *list, const ConfSnapshotDef *snap,
                                const unsigned char *uuid, unsigned int flags, GError **error)
{
    const ConfSnapshotDef *other = g_hash_table_lookup(list->snaps, snap->name);

    if (snap->parent_name) {
        const ConfSnapshotDef *p = NULL;

        if (g_str_equal(snap->parent_name, snap->name)) {
            util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INVALID_ARG,
                           "invalid argument: cannot set moment %s as its own parent", snap->name);
            return false;
        }
        if (!(p = g_hash_table_lookup(list->snaps, snap->parent_name))) {
            util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INVALID_ARG,
                           "invalid argument: parent %s for moment %s not found",
                           snap->parent_name, snap->name);
            return false;
        }
        for (guint hops = 0; p && hops <= g_hash_table_size(list->snaps); hops++) {
            if (g_str_equal(p->name, snap->name)) {
                util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INVALID_ARG,
                               "invalid argument: parent %s would create cycle to %s",
                               snap->parent_name, snap->name);
                return false;
            }
            p = qemu_snap_parent_locked(list, p);
        }
    }
    if ((flags & CREATE_DISK_ONLY) && snap->state != CONF_SNAPSHOT_STATE_DISK_SNAPSHOT) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INVALID_ARG,
                       "invalid argument: disk-only flag for snapshot %s requires disk-snapshot "
                       "state", snap->name);
        return false;
    }
    if (snap->dom && memcmp(snap->dom->uuid, uuid, 16) != 0) {
        char u[37];

        qemu_uuid_string(uuid, u);
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INVALID_ARG,
                       "invalid argument: definition for snapshot %s must use uuid %s",
                       snap->name, u);
        return false;
    }
    if (other) {
        bool was_online = other->state == CONF_SNAPSHOT_STATE_RUNNING ||
                          other->state == CONF_SNAPSHOT_STATE_PAUSED;
        bool online = snap->state == CONF_SNAPSHOT_STATE_RUNNING ||
                      snap->state == CONF_SNAPSHOT_STATE_PAUSED;

        if (was_online != online) {
            util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INVALID_ARG,
                           "invalid argument: cannot change between online and offline snapshot "
                           "state in snapshot %s", snap->name);
            return false;
        }
        if ((other->state == CONF_SNAPSHOT_STATE_DISK_SNAPSHOT) !=
            (snap->state == CONF_SNAPSHOT_STATE_DISK_SNAPSHOT)) {
            util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INVALID_ARG,
                           "invalid argument: cannot change between disk only and full system in "
                           "snapshot %s", snap->name);
            return false;
        }
    }
    return true;
}

static bool
qemu_snap_redefine(QemuDomain *dom, ConfSnapshotDef **snapp, unsigned int flags, GError **error)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&snap_lock);
    QemuSnapList *list = qemu_snap_list_locked(dom);
    ConfSnapshotDef *snap = *snapp;
    const ConfSnapshotDef *other = NULL;
    const ConfDomainDef *domdef = NULL;
    unsigned char uuid[16];
    bool was_current = false;

    g_mutex_lock(&dom->lock);
    memcpy(uuid, dom->def->uuid, 16);
    g_mutex_unlock(&dom->lock);
    if (!qemu_snap_check_name(snap->name, error) ||
        !qemu_snap_check_redefine_locked(list, snap, uuid, flags, error))
        return false;
    other = g_hash_table_lookup(list->snaps, snap->name);
    domdef = snap->dom ? snap->dom : other ? other->dom : NULL;
    if (!domdef) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INTERNAL_ERROR,
                       "internal error: missing domain in snapshot");
        return false;
    }
    if (!conf_snapshot_align_disks(snap, domdef,
                                   snap->state == CONF_SNAPSHOT_STATE_DISK_SNAPSHOT ||
                                   conf_snapshot_is_external(snap) ?
                                   CONF_SNAPSHOT_LOCATION_EXTERNAL : CONF_SNAPSHOT_LOCATION_INTERNAL,
                                   error))
        return false;
    if (!snap->dom && other && other->dom)
        snap->dom = conf_domain_copy(other->dom);
    was_current = g_strcmp0(list->current, snap->name) == 0;
    g_hash_table_replace(list->snaps, g_strdup(snap->name), g_steal_pointer(snapp));
    if (flags & CREATE_CURRENT)
        qemu_snap_set_current_locked(list, snap->name);
    else if (!was_current && g_strcmp0(list->current, snap->name) == 0)
        g_clear_pointer(&list->current, g_free);
    if (!qemu_snap_write_locked(list, snap, error)) {
        g_hash_table_remove(list->snaps, snap->name);
        return false;
    }
    return true;
}

static bool
qemu_snapshot_create_xml(RpcServerCall *call, const RemoteDomainSnapshotCreateXmlArgs *args,
                         RemoteDomainSnapshotCreateXmlRet *ret, GError **error)
{
    g_autoptr(QemuDomain) dom = NULL;
    g_autoptr(ConfSnapshotDef) snap = NULL;
    g_autofree char *name = NULL;
    unsigned int flags = args->flags;
    unsigned int parse_flags = 0;
    bool ok = false;
    bool running = false;
    bool persistent = false;

    if (!qemu_snap_check_create_flags(flags, error) || !(dom = qemu_domain_lookup(&args->dom, error)))
        return false;
    g_mutex_lock(&dom->lock);
    running = dom->id >= 0;
    persistent = dom->persistent;
    g_mutex_unlock(&dom->lock);
    if (!persistent && (flags & CREATE_HALT)) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_OPERATION_INVALID,
                       "Requested operation is not valid: cannot halt after transient domain "
                       "snapshot");
        return false;
    }
    if (flags & CREATE_REDEFINE)
        parse_flags |= CONF_SNAPSHOT_PARSE_REDEFINE;
    if ((flags & CREATE_DISK_ONLY) || !running)
        parse_flags |= CONF_SNAPSHOT_PARSE_OFFLINE;
    if (flags & CREATE_VALIDATE)
        parse_flags |= CONF_SNAPSHOT_PARSE_VALIDATE;
    if (!(snap = conf_snapshot_parse(args->xml_desc, parse_flags, NULL, error)))
        return false;
    name = g_strdup(snap->name);

    if (!qemu_domain_job_begin(dom, "virDomainSnapshotCreateXML", error))
        return false;
    if (flags & CREATE_REDEFINE) {
        ok = qemu_snap_redefine(dom, &snap, flags, error);
    } else {
        ok = qemu_snap_do_create(dom, snap, flags, error);
        if (ok && !(flags & CREATE_NO_METADATA))
            ok = qemu_snap_store_new(dom, &snap, error);
    }
    qemu_domain_job_end(dom);
    if (!ok)
        return false;

    if ((flags & CREATE_HALT) && !(flags & CREATE_REDEFINE) && running) {
        g_autoptr(GError) local = NULL;

        if (!qemu_process_destroy(dom, false, &local))
            g_warning("domain '%s': cannot halt after snapshot '%s': %s", dom->def->name, name,
                      local->message);
    }
    ret->snap.name = g_steal_pointer(&name);
    qemu_domain_make_ref(dom, &ret->snap.dom);
    return true;
}

/* ------------------------------------------------------------------ */
/* queries                                                             */
/* ------------------------------------------------------------------ */

/* Runs with snap_lock held and @list/@def set for the snapshot @ref names. */
#define QEMU_WITH_SNAPSHOT(ref, list, def, error)                               \
    g_autoptr(QemuDomain) dom_ = qemu_domain_lookup(&(ref)->dom, error);        \
    if (!dom_)                                                                   \
        return false;                                                            \
    g_autoptr(GMutexLocker) snap_locker_ = g_mutex_locker_new(&snap_lock);       \
    QemuSnapList *list = qemu_snap_list_locked(dom_);                            \
    ConfSnapshotDef *def = qemu_snap_find_locked(list, (ref)->name, error);      \
    if (!def)                                                                    \
        return false

static void
qemu_snap_make_ref(QemuDomain *dom, const char *name, RemoteNonnullDomainSnapshot *ret)
{
    ret->name = g_strdup(name);
    qemu_domain_make_ref(dom, &ret->dom);
}

static bool
qemu_snapshot_get_xml_desc(RpcServerCall *call, const RemoteDomainSnapshotGetXmlDescArgs *args,
                           RemoteDomainSnapshotGetXmlDescRet *ret, GError **error)
{
    if (!qemu_check_flags(args->flags, XML_SECURE, "virDomainSnapshotGetXMLDesc", error))
        return false;
    if ((args->flags & XML_SECURE) && daemon_client_readonly(daemon_call_client(call))) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_OPERATION_DENIED,
                       "operation forbidden: virDomainSnapshotGetXMLDesc with secure flag");
        return false;
    }
    {
        QEMU_WITH_SNAPSHOT(&args->snap, list, def, error);
        ret->xml = conf_snapshot_format(def, args->snap.dom.uuid,
                                        (args->flags & XML_SECURE) ? CONF_SNAPSHOT_FORMAT_SECURE : 0);
    }
    return true;
}

static GPtrArray *
qemu_snap_select_for(const RemoteNonnullDomain *ref, const char *from_name, unsigned int flags,
                     QemuDomain **ret_dom, GError **error)
{
    g_autoptr(QemuDomain) dom = NULL;
    g_autoptr(GMutexLocker) locker = NULL;
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GPtrArray) sel = NULL;
    QemuSnapList *list = NULL;
    const ConfSnapshotDef *from = NULL;

    if (!(dom = qemu_domain_lookup(ref, error)))
        return NULL;
    locker = g_mutex_locker_new(&snap_lock);
    list = qemu_snap_list_locked(dom);
    if (from_name && !(from = qemu_snap_find_locked(list, from_name, error)))
        return NULL;
    sel = qemu_snap_select_locked(list, from, flags);
    for (guint i = 0; i < sel->len; i++)
        g_ptr_array_add(names, g_strdup(((ConfSnapshotDef *)g_ptr_array_index(sel, i))->name));
    if (ret_dom)
        *ret_dom = g_steal_pointer(&dom);
    return g_steal_pointer(&names);
}

/* How many snapshots a count call selects: the domain's (@from NULL) or
 * @from's children. */
static bool
qemu_snap_count(const RemoteNonnullDomain *ref, const char *from, unsigned int flags,
                const char *api, gint32 *ret_num, GError **error)
{
    g_autoptr(GPtrArray) names = NULL;

    if (!qemu_check_flags(flags, LIST_ALL, api, error) ||
        !(names = qemu_snap_select_for(ref, from, flags, NULL, error)))
        return false;
    *ret_num = (gint32)names->len;
    return true;
}

/* The names a list-names call selects, at most @maxnames of them. */
static bool
qemu_snap_names(const RemoteNonnullDomain *ref, const char *from, gint32 maxnames,
                unsigned int flags, const char *api, guint32 *ret_len, RemoteName **ret_val,
                GError **error)
{
    g_autoptr(GPtrArray) names = NULL;

    if (!qemu_check_flags(flags, LIST_ALL, api, error))
        return false;
    if (maxnames < 0 || maxnames > SNAP_LIST_MAX) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_RPC,
                       "maxnames > REMOTE_DOMAIN_SNAPSHOT_LIST_MAX");
        return false;
    }
    if (!(names = qemu_snap_select_for(ref, from, flags, NULL, error)))
        return false;
    *ret_len = MIN(names->len, (guint)maxnames);
    *ret_val = g_new0(RemoteName, MAX(*ret_len, 1));
    for (guint i = 0; i < *ret_len; i++)
        (*ret_val)[i].name = g_strdup(g_ptr_array_index(names, i));
    return true;
}

static bool
qemu_snapshot_num(RpcServerCall *call, const RemoteDomainSnapshotNumArgs *args,
                  RemoteDomainSnapshotNumRet *ret, GError **error)
{
    return qemu_snap_count(&args->dom, NULL, args->flags, "virDomainSnapshotNum", &ret->num,
                           error);
}

static bool
qemu_snapshot_list_names(RpcServerCall *call, const RemoteDomainSnapshotListNamesArgs *args,
                         RemoteDomainSnapshotListNamesRet *ret, GError **error)
{
    return qemu_snap_names(&args->dom, NULL, args->maxnames, args->flags,
                           "virDomainSnapshotListNames", &ret->names_len, &ret->names_val,
                           error);
}

static bool
qemu_snapshot_num_children(RpcServerCall *call, const RemoteDomainSnapshotNumChildrenArgs *args,
                           RemoteDomainSnapshotNumChildrenRet *ret, GError **error)
{
    return qemu_snap_count(&args->snap.dom, args->snap.name, args->flags,
                           "virDomainSnapshotNumChildren", &ret->num, error);
}

static bool
qemu_snapshot_list_children_names(RpcServerCall *call,
                                  const RemoteDomainSnapshotListChildrenNamesArgs *args,
                                  RemoteDomainSnapshotListChildrenNamesRet *ret, GError **error)
{
    return qemu_snap_names(&args->snap.dom, args->snap.name, args->maxnames, args->flags,
                           "virDomainSnapshotListChildrenNames", &ret->names_len,
                           &ret->names_val, error);
}

static bool
qemu_snap_list_refs(const RemoteNonnullDomain *ref, const char *from, gint32 need_results,
                    unsigned int flags, const char *api, guint32 *ret_len,
                    RemoteNonnullDomainSnapshot **ret_val, gint32 *ret_count, GError **error)
{
    g_autoptr(QemuDomain) dom = NULL;
    g_autoptr(GPtrArray) names = NULL;

    if (!qemu_check_flags(flags, LIST_ALL, api, error) ||
        !(names = qemu_snap_select_for(ref, from, flags, &dom, error)))
        return false;
    if (names->len > SNAP_LIST_MAX) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_RPC,
                       "too many remote domain snapshots: %u > %d", names->len, SNAP_LIST_MAX);
        return false;
    }
    *ret_count = (gint32)names->len;
    if (need_results) {
        *ret_len = names->len;
        *ret_val = g_new0(RemoteNonnullDomainSnapshot, MAX(names->len, 1));
        for (guint i = 0; i < names->len; i++)
            qemu_snap_make_ref(dom, g_ptr_array_index(names, i), &(*ret_val)[i]);
    }
    return true;
}

static bool
qemu_snapshot_list_all(RpcServerCall *call, const RemoteDomainListAllSnapshotsArgs *args,
                       RemoteDomainListAllSnapshotsRet *ret, GError **error)
{
    return qemu_snap_list_refs(&args->dom, NULL, args->need_results, args->flags,
                               "virDomainListAllSnapshots", &ret->snapshots_len,
                               &ret->snapshots_val, &ret->ret, error);
}

static bool
qemu_snapshot_list_all_children(RpcServerCall *call,
                                const RemoteDomainSnapshotListAllChildrenArgs *args,
                                RemoteDomainSnapshotListAllChildrenRet *ret, GError **error)
{
    return qemu_snap_list_refs(&args->snapshot.dom, args->snapshot.name, args->need_results,
                               args->flags, "virDomainSnapshotListAllChildren",
                               &ret->snapshots_len, &ret->snapshots_val, &ret->ret, error);
}

static bool
qemu_snapshot_lookup_by_name(RpcServerCall *call, const RemoteDomainSnapshotLookupByNameArgs *args,
                             RemoteDomainSnapshotLookupByNameRet *ret, GError **error)
{
    const RemoteNonnullDomainSnapshot ref = { .name = args->name, .dom = args->dom };

    if (!qemu_check_flags(args->flags, 0, "virDomainSnapshotLookupByName", error))
        return false;
    {
        QEMU_WITH_SNAPSHOT(&ref, list, def, error);
        qemu_snap_make_ref(dom_, def->name, &ret->snap);
    }
    return true;
}

static bool
qemu_snapshot_has_current(RpcServerCall *call, const RemoteDomainHasCurrentSnapshotArgs *args,
                          RemoteDomainHasCurrentSnapshotRet *ret, GError **error)
{
    g_autoptr(QemuDomain) dom = NULL;
    g_autoptr(GMutexLocker) locker = NULL;

    if (!qemu_check_flags(args->flags, 0, "virDomainHasCurrentSnapshot", error) ||
        !(dom = qemu_domain_lookup(&args->dom, error)))
        return false;
    locker = g_mutex_locker_new(&snap_lock);
    ret->result = qemu_snap_list_locked(dom)->current != NULL;
    return true;
}

static bool
qemu_snapshot_current(RpcServerCall *call, const RemoteDomainSnapshotCurrentArgs *args,
                      RemoteDomainSnapshotCurrentRet *ret, GError **error)
{
    g_autoptr(QemuDomain) dom = NULL;
    g_autoptr(GMutexLocker) locker = NULL;
    QemuSnapList *list = NULL;

    if (!qemu_check_flags(args->flags, 0, "virDomainSnapshotCurrent", error) ||
        !(dom = qemu_domain_lookup(&args->dom, error)))
        return false;
    locker = g_mutex_locker_new(&snap_lock);
    list = qemu_snap_list_locked(dom);
    if (!list->current) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_NO_DOMAIN_SNAPSHOT,
                       "Domain snapshot not found: the domain does not have a current snapshot");
        return false;
    }
    qemu_snap_make_ref(dom, list->current, &ret->snap);
    return true;
}

static bool
qemu_snapshot_get_parent(RpcServerCall *call, const RemoteDomainSnapshotGetParentArgs *args,
                         RemoteDomainSnapshotGetParentRet *ret, GError **error)
{
    if (!qemu_check_flags(args->flags, 0, "virDomainSnapshotGetParent", error))
        return false;
    {
        QEMU_WITH_SNAPSHOT(&args->snap, list, def, error);
        if (!def->parent_name) {
            util_error_set(error, VIR_FROM_QEMU, VIR_ERR_NO_DOMAIN_SNAPSHOT,
                           "Domain snapshot not found: snapshot '%s' does not have a parent",
                           def->name);
            return false;
        }
        qemu_snap_make_ref(dom_, def->parent_name, &ret->snap);
    }
    return true;
}

static bool
qemu_snapshot_is_current(RpcServerCall *call, const RemoteDomainSnapshotIsCurrentArgs *args,
                         RemoteDomainSnapshotIsCurrentRet *ret, GError **error)
{
    if (!qemu_check_flags(args->flags, 0, "virDomainSnapshotIsCurrent", error))
        return false;
    {
        QEMU_WITH_SNAPSHOT(&args->snap, list, def, error);
        ret->current = g_strcmp0(list->current, def->name) == 0;
    }
    return true;
}

static bool
qemu_snapshot_has_metadata(RpcServerCall *call, const RemoteDomainSnapshotHasMetadataArgs *args,
                           RemoteDomainSnapshotHasMetadataRet *ret, GError **error)
{
    if (!qemu_check_flags(args->flags, 0, "virDomainSnapshotHasMetadata", error))
        return false;
    {
        QEMU_WITH_SNAPSHOT(&args->snap, list, def, error);
        ret->metadata = 1;
    }
    return true;
}

/* ------------------------------------------------------------------ */
/* delete                                                              */
/* ------------------------------------------------------------------ */

static char *qemu_snap_marker(const QemuSnapList *list, const char *name);

/* Forget @def (metadata only): its children move to its parent, and if
 * it was current its parent becomes current. */
static bool
qemu_snap_discard_locked(QemuSnapList *list, ConfSnapshotDef *def, GError **error)
{
    g_autoptr(GPtrArray) children = qemu_snap_children_locked(list, def);
    g_autofree char *path = qemu_snap_file(list, def->name);
    g_autofree char *name = g_strdup(def->name);
    ConfSnapshotDef *parent = qemu_snap_parent_locked(list, def);

    for (guint i = 0; i < children->len; i++) {
        ConfSnapshotDef *child = g_ptr_array_index(children, i);

        g_free(child->parent_name);
        child->parent_name = parent ? g_strdup(parent->name) : NULL;
        if (!qemu_snap_write_locked(list, child, error))
            return false;
    }
    if (g_strcmp0(list->current, name) == 0) {
        g_clear_pointer(&list->current, g_free);
        if (parent) {
            list->current = g_strdup(parent->name);
            if (!qemu_snap_write_locked(list, parent, error))
                return false;
        }
    }
    if (unlink(path) < 0 && errno != ENOENT)
        g_warning("Failed to unlink %s: %s", path, g_strerror(errno));
    {
        g_autofree char *marker = qemu_snap_marker(list, name);

        if (unlink(marker) < 0 && errno != ENOENT)
            g_warning("Failed to unlink %s: %s", marker, g_strerror(errno));
    }
    g_hash_table_remove(list->snaps, name);
    g_debug("snapshot '%s' metadata removed", name);
    return true;
}

/* ------------------------------------------------------------------ */
/* deleting external snapshots: merging their images                   */
/* ------------------------------------------------------------------ */

/* One disk of a snapshot to merge: the image the snapshot made for it
 * (@overlay, holding what was written after the snapshot) goes away by
 * being committed into the image below it, which held the disk's state at
 * the snapshot; or, when that image is also used by something else, that
 * image is pulled into @overlay instead and stays for its other users. */
typedef struct {
    char *dst;
    char *overlay;
    char *base;                 /* the image below @overlay */
    bool done;                  /* merged by an interrupted deletion */
    QemuMergeMode mode;
} QemuSnapMerge;

static void
qemu_snap_merge_free(gpointer data)
{
    QemuSnapMerge *m = data;

    g_free(m->dst);
    g_free(m->overlay);
    g_free(m->base);
    g_free(m);
}

/* The marker of a deletion under way: its disks whose image already left
 * the chain were merged by it (a deletion interrupted by a restart or a
 * failure on a later disk is simply asked for again). */
static char *
qemu_snap_marker(const QemuSnapList *list, const char *name)
{
    g_autofree char *base = g_strdup_printf("%s.deleting", name);

    return g_build_filename(list->dir, base, NULL);
}

/* A complete copy of @dst's chain: the live one of a running domain, else
 * the definition's, completed from the image headers. */
static ConfStorageSource *
qemu_snap_disk_chain(QemuDomain *dom, const char *dst, char **ret_dst, GError **error)
{
    g_autoptr(ConfStorageSource) chain = NULL;
    bool live = false;

    g_mutex_lock(&dom->lock);
    {
        const ConfDomainDef *def = dom->id >= 0 && dom->live ? dom->live : dom->def;
        ConfDomainDiskDef *disk = conf_domain_find_disk(def, dst);

        live = def == dom->live && dom->id >= 0;
        if (disk) {
            chain = conf_storage_source_copy(disk->src);
            *ret_dst = g_strdup(disk->dst);
        }
    }
    g_mutex_unlock(&dom->lock);
    if (!chain) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_OPERATION_INVALID,
                       "Requested operation is not valid: disk '%s' of the snapshot is no "
                       "longer in the domain", dst);
        return NULL;
    }
    if (!live && !qemu_blockjob_fill_chain(chain, error))
        return NULL;
    return g_steal_pointer(&chain);
}

/* Something other than @overlay relies on @base: another disk or another
 * domain has it in its chain, or an image another snapshot of @dom made
 * (off the current chain) backs onto it.  snap_lock held. */
static bool
qemu_snap_base_shared_locked(QemuDomain *self, QemuSnapList *list, const char *dst,
                             const char *overlay, const char *base, const ConfStorageSource *chain)
{
    g_autoptr(GPtrArray) all = qemu_domains_list();
    GHashTableIter iter;
    gpointer value;

    for (guint i = 0; i < all->len; i++) {
        QemuDomain *dom = g_ptr_array_index(all, i);
        g_autoptr(GPtrArray) chains = g_ptr_array_new_with_free_func(
            (GDestroyNotify)conf_storage_source_free);

        g_mutex_lock(&dom->lock);
        for (int which = 0; which < 2; which++) {
            const ConfDomainDef *def = which ? dom->def : (dom->id >= 0 ? dom->live : NULL);

            for (guint d = 0; def && d < def->disks->len; d++) {
                const ConfDomainDiskDef *disk = g_ptr_array_index(def->disks, d);

                if (dom == self && g_str_equal(disk->dst, dst))
                    continue;
                if (disk->src->path)
                    g_ptr_array_add(chains, conf_storage_source_copy(disk->src));
            }
        }
        g_mutex_unlock(&dom->lock);
        for (guint c = 0; c < chains->len; c++) {
            ConfStorageSource *other = g_ptr_array_index(chains, c);

            if (!other->backing && !other->backing_terminated)
                conf_storage_chain_fill(other, NULL);
            if (conf_storage_source_find(other, base, NULL)) {
                g_info("'%s' is also used by domain '%s'", base, dom->def->name);
                return true;
            }
        }
    }
    g_hash_table_iter_init(&iter, list->snaps);
    while (g_hash_table_iter_next(&iter, NULL, &value)) {
        const ConfSnapshotDef *other = value;

        for (guint d = 0; d < other->disks->len; d++) {
            const ConfSnapshotDiskDef *sd = g_ptr_array_index(other->disks, d);
            g_autoptr(ConfStorageSource) probe = NULL;

            if (sd->snapshot != CONF_SNAPSHOT_LOCATION_EXTERNAL || !sd->path ||
                g_str_equal(sd->path, overlay) || conf_storage_source_find(chain, sd->path, NULL) ||
                !g_file_test(sd->path, G_FILE_TEST_EXISTS))
                continue;
            probe = conf_storage_source_new(CONF_STORAGE_TYPE_FILE);
            probe->path = g_strdup(sd->path);
            if (conf_storage_chain_fill(probe, NULL) && probe->backing &&
                conf_storage_source_find(probe->backing, base, NULL)) {
                g_info("'%s' is also the backing file of '%s' (snapshot '%s')", base, sd->path,
                       other->name);
                return true;
            }
        }
    }
    return false;
}

/* What deleting @def takes, disk by disk, checked before anything is done
 * (@ret: QemuSnapMerge *); with @decide, how each disk is merged too (the
 * search for other users of the image below, which reads every domain's
 * chain).  snap_lock held. */
static bool
qemu_snap_plan_locked(QemuDomain *dom, QemuSnapList *list, const ConfSnapshotDef *def,
                      bool decide, GPtrArray *ret, GError **error)
{
    g_autofree char *marker = qemu_snap_marker(list, def->name);
    bool resuming = g_file_test(marker, G_FILE_TEST_EXISTS);

    for (guint i = 0; i < def->disks->len; i++) {
        const ConfSnapshotDiskDef *sd = g_ptr_array_index(def->disks, i);
        g_autoptr(ConfStorageSource) chain = NULL;
        QemuSnapMerge *m;
        ConfStorageSource *layer;

        if (sd->snapshot == CONF_SNAPSHOT_LOCATION_INTERNAL) {
            util_error_set(error, VIR_FROM_QEMU, VIR_ERR_OPERATION_UNSUPPORTED,
                           "Operation not supported: deleting the images of internal "
                           "snapshot '%s' is not supported; delete only its metadata with "
                           "VIR_DOMAIN_SNAPSHOT_DELETE_METADATA_ONLY", def->name);
            return false;
        }
        if (sd->snapshot != CONF_SNAPSHOT_LOCATION_EXTERNAL || !sd->path)
            continue;
        m = g_new0(QemuSnapMerge, 1);
        g_ptr_array_add(ret, m);
        if (!(chain = qemu_snap_disk_chain(dom, sd->name, &m->dst, error)) ||
            !qemu_blockjob_check_disk_free(dom, m->dst, sd->path, error))
            return false;
        m->overlay = g_strdup(sd->path);
        layer = conf_storage_source_find(chain, sd->path, NULL);
        if (!layer && resuming) {
            m->done = true;
            continue;
        }
        if (!layer) {
            util_error_set(error, VIR_FROM_QEMU, VIR_ERR_OPERATION_INVALID,
                           "Requested operation is not valid: image '%s' of snapshot '%s' "
                           "is no longer in the backing chain of disk '%s'; delete only the "
                           "snapshot's metadata with VIR_DOMAIN_SNAPSHOT_DELETE_METADATA_ONLY",
                           sd->path, def->name, sd->name);
            return false;
        }
        if (!layer->backing || !layer->backing->path) {
            util_error_set(error, VIR_FROM_QEMU, VIR_ERR_OPERATION_INVALID,
                           "Requested operation is not valid: image '%s' of snapshot '%s' "
                           "has no backing file to merge into", sd->path, def->name);
            return false;
        }
        m->base = g_strdup(layer->backing->path);
        if (decide && qemu_snap_base_shared_locked(dom, list, m->dst, sd->path, m->base, chain))
            m->mode = QEMU_MERGE_PULL;
    }
    return true;
}

/* In the recorded definitions of the other snapshots, what @m changed:
 * a commit replaces the merged image by the one below it, a pull drops
 * the image below it from the chains. */
static void
qemu_snap_follow_merge_locked(QemuSnapList *list, const ConfSnapshotDef *victim,
                              const QemuSnapMerge *m)
{
    GHashTableIter iter;
    gpointer value;

    g_hash_table_iter_init(&iter, list->snaps);
    while (g_hash_table_iter_next(&iter, NULL, &value)) {
        ConfSnapshotDef *other = value;
        bool changed = false;

        if (other == victim)
            continue;
        for (int which = 0; which < 2; which++) {
            ConfDomainDef *def = which ? other->inactive_dom : other->dom;
            ConfDomainDiskDef *disk = def ? conf_domain_find_disk(def, m->dst) : NULL;
            const char *gone = m->mode == QEMU_MERGE_COMMIT ? m->overlay : m->base;
            ConfStorageSource *prev = NULL;
            ConfStorageSource *s;

            if (!disk || !g_str_equal(disk->dst, m->dst) ||
                !(s = conf_storage_source_find(disk->src, gone, &prev)))
                continue;
            if (prev) {
                prev->backing = s->backing;
                s->backing = NULL;
                conf_storage_source_free(s);
            } else if (s->backing) {
                disk->src = s->backing;
                s->backing = NULL;
                conf_storage_source_free(s);
            } else if (m->mode == QEMU_MERGE_COMMIT) {
                g_free(s->path);
                s->path = g_strdup(m->base);
            } else {
                continue;
            }
            changed = true;
        }
        if (changed) {
            g_autoptr(GError) error = NULL;

            if (!qemu_snap_write_locked(list, other, &error))
                g_warning("cannot update snapshot '%s': %s", other->name, error->message);
        }
    }
}

/* Deletes @name and its images, merging them (see QemuSnapMerge); the
 * metadata goes last.  The state-change job is held, snap_lock is not. */
static bool
qemu_snap_merge_delete(QemuDomain *dom, const char *name, GError **error)
{
    g_autoptr(GPtrArray) plan = g_ptr_array_new_with_free_func(qemu_snap_merge_free);
    g_autofree char *marker = NULL;

    {
        g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&snap_lock);
        QemuSnapList *list = qemu_snap_list_locked(dom);
        ConfSnapshotDef *def = qemu_snap_find_locked(list, name, error);

        if (!def || !qemu_snap_plan_locked(dom, list, def, true, plan, error))
            return false;
        marker = qemu_snap_marker(list, name);
        if (plan->len && g_mkdir_with_parents(list->dir, 0700) == 0 &&
            !util_file_write_atomic(marker, name, strlen(name), 0600, error))
            return false;
    }
    for (guint i = 0; i < plan->len; i++) {
        QemuSnapMerge *m = g_ptr_array_index(plan, i);
        g_autoptr(GError) local = NULL;

        if (m->done)
            continue;
        g_info("domain '%s': deleting snapshot '%s': %s '%s' %s '%s' (disk %s)",
               dom->def->name, name, m->mode == QEMU_MERGE_COMMIT ? "committing" : "pulling",
               m->mode == QEMU_MERGE_COMMIT ? m->overlay : m->base,
               "into", m->mode == QEMU_MERGE_COMMIT ? m->base : m->overlay, m->dst);
        if (!qemu_blockjob_merge(dom, m->dst, m->overlay, m->mode, &local)) {
            util_error_set(error, VIR_FROM_QEMU, util_error_code(local),
                           "%s (deleting snapshot '%s'; disks merged so far stay merged, "
                           "deleting it again finishes the work)", local->message, name);
            return false;
        }
        {
            g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&snap_lock);
            QemuSnapList *list = qemu_snap_list_locked(dom);
            ConfSnapshotDef *def = g_hash_table_lookup(list->snaps, name);

            qemu_snap_follow_merge_locked(list, def, m);
        }
    }
    {
        g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&snap_lock);
        QemuSnapList *list = qemu_snap_list_locked(dom);
        ConfSnapshotDef *def = g_hash_table_lookup(list->snaps, name);

        if (def && !qemu_snap_discard_locked(list, def, error))
            return false;
    }
    return true;
}

static bool
qemu_snapshot_delete(RpcServerCall *call, const RemoteDomainSnapshotDeleteArgs *args,
                     GError **error)
{
    g_autoptr(QemuDomain) dom = NULL;
    g_autoptr(GPtrArray) victims = g_ptr_array_new_with_free_func(g_free);
    unsigned int flags = args->flags;
    bool ok = true;

    if (!qemu_check_flags(flags, DELETE_CHILDREN | DELETE_METADATA_ONLY | DELETE_CHILDREN_ONLY,
                          "virDomainSnapshotDelete", error))
        return false;
    if ((flags & DELETE_CHILDREN) && (flags & DELETE_CHILDREN_ONLY)) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INVALID_ARG,
                       "Flags 'VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN' and "
                       "'VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN_ONLY' are mutually exclusive");
        return false;
    }
    if (!(dom = qemu_domain_lookup(&args->snap.dom, error)) ||
        !qemu_domain_job_begin(dom, "virDomainSnapshotDelete", error))
        return false;
    if (!(flags & DELETE_METADATA_ONLY))
        qemu_blockjob_settle(dom);
    {
        g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&snap_lock);
        QemuSnapList *list = qemu_snap_list_locked(dom);
        ConfSnapshotDef *def = qemu_snap_find_locked(list, args->snap.name, error);
        g_autoptr(GPtrArray) below = g_ptr_array_new();

        if (!def) {
            ok = false;
        } else {
            if (flags & (DELETE_CHILDREN | DELETE_CHILDREN_ONLY))
                qemu_snap_walk_locked(list, def, true, below);
            /* children before their parents */
            for (guint i = below->len; i-- > 0;)
                g_ptr_array_add(victims, g_strdup(((ConfSnapshotDef *)g_ptr_array_index(below, i))->name));
            if (!(flags & DELETE_CHILDREN_ONLY))
                g_ptr_array_add(victims, g_strdup(def->name));
        }
        /* every victim checked before any image changes */
        for (guint i = 0; ok && !(flags & DELETE_METADATA_ONLY) && i < victims->len; i++) {
            const ConfSnapshotDef *v = g_hash_table_lookup(list->snaps, g_ptr_array_index(victims, i));
            g_autoptr(GPtrArray) plan = g_ptr_array_new_with_free_func(qemu_snap_merge_free);

            ok = v && qemu_snap_plan_locked(dom, list, v, false, plan, error);
        }
        for (guint i = 0; ok && (flags & DELETE_METADATA_ONLY) && i < victims->len; i++) {
            ConfSnapshotDef *v = g_hash_table_lookup(list->snaps, g_ptr_array_index(victims, i));

            ok = v && qemu_snap_discard_locked(list, v, error);
        }
    }
    for (guint i = 0; ok && !(flags & DELETE_METADATA_ONLY) && i < victims->len; i++)
        ok = qemu_snap_merge_delete(dom, g_ptr_array_index(victims, i), error);
    qemu_domain_job_end(dom);
    return ok;
}

void
qemu_snapshot_fill_ops(RemoteServerOps *ops)
{
    ops->domain_snapshot_create_xml = qemu_snapshot_create_xml;
    ops->domain_snapshot_get_xml_desc = qemu_snapshot_get_xml_desc;
    ops->domain_snapshot_num = qemu_snapshot_num;
    ops->domain_snapshot_list_names = qemu_snapshot_list_names;
    ops->domain_snapshot_lookup_by_name = qemu_snapshot_lookup_by_name;
    ops->domain_has_current_snapshot = qemu_snapshot_has_current;
    ops->domain_snapshot_current = qemu_snapshot_current;
    ops->domain_snapshot_delete = qemu_snapshot_delete;
    ops->domain_snapshot_get_parent = qemu_snapshot_get_parent;
    ops->domain_snapshot_is_current = qemu_snapshot_is_current;
    ops->domain_snapshot_has_metadata = qemu_snapshot_has_metadata;
    ops->domain_list_all_snapshots = qemu_snapshot_list_all;
    ops->domain_snapshot_list_all_children = qemu_snapshot_list_all_children;
    ops->domain_snapshot_num_children = qemu_snapshot_num_children;
    ops->domain_snapshot_list_children_names = qemu_snapshot_list_children_names;
}
