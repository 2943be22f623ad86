/*
 * qemu-blockjob.c: block jobs on running domains: commit, active commit,
 * pull (and rebase), copy, abort and pivot, speed, progress, and their
 * events; restart recovery.
 *
 * Who does what.  The API handlers (RPC worker threads) resolve the chain,
 * register the job (state NEW, saved) before the start command, send it
 * and feed the reply.  QEMU's events arrive on the main context and are
 * queued, translated into shared/blockjob events, to one worker thread
 * ("bj" below), which applies them and performs every effect the state
 * machine asks for (query-jobs, updating the definition, events,
 * job-dismiss, blockdev-del, unlinking DELETE'd files) in order, with
 * blocking QMP calls.  Effects never run on the main context and never
 * with a domain lock held across a QEMU call.
 */
#define G_LOG_DOMAIN "virtqemud.blockjob"

#include "qemu-blockjob.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "blockjob.h"
#include "conf-storage-chain.h"
#include "qemu-command.h"
#include "qemu-process.h"
#include "qemu-security.h"
#include "util-error.h"
#include "util-file.h"
#include "util-image.h"

/* virDomainEventID */
#define BJ_EVENT_ID_BLOCK_JOB 8
#define BJ_EVENT_ID_BLOCK_JOB_2 16

/* virDomainBlockRebaseFlags (BlockPull: only BANDWIDTH_BYTES) */
enum {
    BJ_REBASE_SHALLOW = 1 << 0,
    BJ_REBASE_REUSE_EXT = 1 << 1,
    BJ_REBASE_COPY_RAW = 1 << 2,
    BJ_REBASE_COPY = 1 << 3,
    BJ_REBASE_RELATIVE = 1 << 4,
    BJ_REBASE_COPY_DEV = 1 << 5,
    BJ_REBASE_BANDWIDTH_BYTES = 1 << 6,
};
/* virDomainBlockCopyFlags */
enum {
    BJ_COPY_SHALLOW = 1 << 0,
    BJ_COPY_REUSE_EXT = 1 << 1,
    BJ_COPY_TRANSIENT_JOB = 1 << 2,
    BJ_COPY_SYNCHRONOUS_WRITES = 1 << 3,
};
/* virDomainBlockJobAbortFlags, InfoFlags, SetSpeedFlags */
enum {
    BJ_ABORT_ASYNC = 1 << 0,
    BJ_ABORT_PIVOT = 1 << 1,
    BJ_INFO_BANDWIDTH_BYTES = 1 << 0,
    BJ_SPEED_BANDWIDTH_BYTES = 1 << 0,
};
/* virTypedParameterType */
enum {
    BJ_PARAM_UINT = 2,
    BJ_PARAM_ULLONG = 4,
};

#define BJ_MAX_BYTES_PER_SEC ((unsigned long long)G_MAXINT64)
#define BJ_WAIT_POLL_US 20000

/* ------------------------------------------------------------ side data */

/* What the daemon keeps about a job besides its persisted record: the
 * last progress QEMU reported (GetBlockJobInfo runs on the main loop and
 * cannot ask QEMU then), the graph nodes that left the chain and must be
 * deleted at the end, and how the job ended (for a waiting abort).  Keyed
 * by "<domain>/<job id>". */
typedef struct {
    bool have_progress;
    guint64 offset;
    guint64 len;
    guint64 speed;
    bool ended;
    BlockJobStatus outcome;
    char *error;
} BjSide;

static GMutex bj_side_lock;
static GHashTable *bj_sides;
/* domains whose saved jobs have not met QEMU's yet after a restart */
static GHashTable *bj_reconciling;

/* Threads waiting for a job to change (an API waiting for its end, a
 * merge waiting for READY) sleep until any job record changes. */
static GMutex bj_wait_lock;
static GCond bj_wait_cond;
static guint64 bj_wait_gen;

static guint64
bj_changes(void)
{
    guint64 gen;

    g_mutex_lock(&bj_wait_lock);
    gen = bj_wait_gen;
    g_mutex_unlock(&bj_wait_lock);
    return gen;
}

static void
bj_changed(void)
{
    g_mutex_lock(&bj_wait_lock);
    bj_wait_gen++;
    g_cond_broadcast(&bj_wait_cond);
    g_mutex_unlock(&bj_wait_lock);
}

/* Sleeps until a change after @seen (BJ_WAIT_POLL_US at most). */
static void
bj_wait_change(guint64 seen)
{
    gint64 deadline = g_get_monotonic_time() + BJ_WAIT_POLL_US;

    g_mutex_lock(&bj_wait_lock);
    while (bj_wait_gen == seen && g_cond_wait_until(&bj_wait_cond, &bj_wait_lock, deadline))
        ;
    g_mutex_unlock(&bj_wait_lock);
}

static void
bj_side_free(gpointer data)
{
    BjSide *side = data;

    g_free(side->error);
    g_free(side);
}

static char *
bj_side_key(QemuDomain *dom, const char *id)
{
    return g_strdup_printf("%p/%s", (void *)dom, id);
}

/* The side data of @id, created on demand; bj_side_lock held. */
static BjSide *
bj_side_locked(QemuDomain *dom, const char *id)
{
    g_autofree char *key = bj_side_key(dom, id);
    BjSide *side;

    if (!bj_sides)
        bj_sides = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, bj_side_free);
    side = g_hash_table_lookup(bj_sides, key);
    if (!side) {
        side = g_new0(BjSide, 1);
        g_hash_table_insert(bj_sides, g_steal_pointer(&key), side);
    }
    return side;
}

/* Forget the side data of every job of @dom (QEMU is gone). */
static void
bj_side_remove_all(QemuDomain *dom)
{
    g_autofree char *prefix = g_strdup_printf("%p/", (void *)dom);
    GHashTableIter iter;
    gpointer key;

    g_mutex_lock(&bj_side_lock);
    if (bj_sides) {
        g_hash_table_iter_init(&iter, bj_sides);
        while (g_hash_table_iter_next(&iter, &key, NULL)) {
            if (g_str_has_prefix(key, prefix))
                g_hash_table_iter_remove(&iter);
        }
    }
    g_mutex_unlock(&bj_side_lock);
}

static void
bj_side_remove(QemuDomain *dom, const char *id)
{
    g_autofree char *key = bj_side_key(dom, id);

    g_mutex_lock(&bj_side_lock);
    if (bj_sides)
        g_hash_table_remove(bj_sides, key);
    g_mutex_unlock(&bj_side_lock);
}

/* ------------------------------------------------------------ small helpers */

static const char *
bj_json_str(json_object *obj, const char *key)
{
    json_object *v = NULL;

    if (!obj || !json_object_is_type(obj, json_type_object) ||
        !json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

static bool
bj_json_u64(json_object *obj, const char *key, guint64 *ret)
{
    json_object *v = NULL;
    gint64 n;

    if (!obj || !json_object_is_type(obj, json_type_object) ||
        !json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_int))
        return false;
    n = json_object_get_int64(v);
    if (n < 0)
        return false;
    *ret = (guint64)n;
    return true;
}

static void
bj_json_free(gpointer obj)
{
    json_object_put(obj);
}

static void
bj_save(QemuDomain *dom)
{
    g_autoptr(GError) error = NULL;

    if (!qemu_process_save_status(dom, &error))
        g_warning("domain '%s': cannot save its status: %s", dom->def->name, error->message);
}

static BlockJob *
bj_find_locked(QemuDomain *dom, const char *id)
{
    for (guint i = 0; dom->blockjobs && i < dom->blockjobs->len; i++) {
        BlockJob *job = g_ptr_array_index(dom->blockjobs, i);

        if (g_str_equal(job->id, id))
            return job;
    }
    return NULL;
}

static BlockJob *
bj_find_disk_locked(QemuDomain *dom, const char *dst)
{
    for (guint i = 0; dom->blockjobs && i < dom->blockjobs->len; i++) {
        BlockJob *job = g_ptr_array_index(dom->blockjobs, i);

        if (g_str_equal(job->disk, dst))
            return job;
    }
    return NULL;
}

static void
bj_drop_locked(QemuDomain *dom, const char *id)
{
    for (guint i = 0; dom->blockjobs && i < dom->blockjobs->len; i++) {
        BlockJob *job = g_ptr_array_index(dom->blockjobs, i);

        if (g_str_equal(job->id, id)) {
            g_ptr_array_remove_index(dom->blockjobs, i);
            bj_changed();
            return;
        }
    }
}

static void
bj_add_locked(QemuDomain *dom, BlockJob *job)
{
    if (!dom->blockjobs)
        dom->blockjobs = g_ptr_array_new_with_free_func((GDestroyNotify)blockjob_free);
    g_ptr_array_add(dom->blockjobs, job);
}

/* The live disk whose target is @dst, NULL if the domain does not run. */
static ConfDomainDiskDef *
bj_live_disk_locked(QemuDomain *dom, const char *dst)
{
    if (!dom->live)
        return NULL;
    for (guint i = 0; i < dom->live->disks->len; i++) {
        ConfDomainDiskDef *disk = g_ptr_array_index(dom->live->disks, i);

        if (g_str_equal(disk->dst, dst))
            return disk;
    }
    return NULL;
}

/* The layer whose format node is @node in @top's chain; its overlay in
 * @ret_parent (NULL for @top itself). */
static ConfStorageSource *
bj_layer_by_node(ConfStorageSource *top, const char *node, ConfStorageSource **ret_parent)
{
    ConfStorageSource *parent = NULL;

    for (ConfStorageSource *s = top; node && s; parent = s, s = s->backing) {
        if (g_strcmp0(s->node_name_format, node) == 0) {
            if (ret_parent)
                *ret_parent = parent;
            return s;
        }
    }
    return NULL;
}

static void
bj_sync_mirror_locked(QemuDomain *dom, const BlockJob *job)
{
    ConfDomainDiskDef *disk = bj_live_disk_locked(dom, job->disk);
    const char *ready = blockjob_mirror_ready(job);

    bj_changed();
    if (!disk || !disk->mirror)
        return;
    if (!ready)
        disk->mirror_ready = CONF_DOMAIN_DISK_MIRROR_READY_NONE;
    else if (g_str_equal(ready, "yes"))
        disk->mirror_ready = CONF_DOMAIN_DISK_MIRROR_READY_YES;
    else if (g_str_equal(ready, "abort"))
        disk->mirror_ready = CONF_DOMAIN_DISK_MIRROR_READY_ABORT;
    else if (g_str_equal(ready, "pivot"))
        disk->mirror_ready = CONF_DOMAIN_DISK_MIRROR_READY_PIVOT;
}

static bool
bj_require_running_locked(QemuDomain *dom, GError **error)
{
    if (dom->id < 0 || !dom->live) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_OPERATION_INVALID,
                       "Requested operation is not valid: domain is not running");
        return false;
    }
    return true;
}

/* The disk @name names ("vda" or the active layer's path) in @def. */
static ConfDomainDiskDef *
bj_disk(const ConfDomainDef *def, const char *name, GError **error)
{
    ConfDomainDiskDef *disk = name ? conf_domain_find_disk(def, name) : NULL;

    if (!disk) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INVALID_ARG,
                       "invalid argument: disk '%s' not found in domain", name ? name : "");
        return NULL;
    }
    if (!disk->src->path ||
        (disk->src->type != CONF_STORAGE_TYPE_FILE && disk->src->type != CONF_STORAGE_TYPE_BLOCK)) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INVALID_ARG,
                       "invalid argument: disk '%s' has no local source for a block job",
                       disk->dst);
        return NULL;
    }
    return disk;
}

bool
qemu_blockjob_scale_bandwidth(unsigned long long bandwidth, bool bytes,
                              unsigned long long *ret_bytes, GError **error)
{
    if (!bytes) {
        if (bandwidth > BJ_MAX_BYTES_PER_SEC >> 20) {
            util_error_set(error, VIR_FROM_QEMU, VIR_ERR_OVERFLOW,
                           "numerical overflow: bandwidth must be less than %llu",
                           (BJ_MAX_BYTES_PER_SEC >> 20) + 1);
            return false;
        }
        bandwidth <<= 20;
    } else if (bandwidth > BJ_MAX_BYTES_PER_SEC) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_OVERFLOW,
                       "numerical overflow: bandwidth must be less than %llu",
                       BJ_MAX_BYTES_PER_SEC + 1);
        return false;
    }
    *ret_bytes = bandwidth;
    return true;
}

/* ------------------------------------------------------------ chains */

bool
qemu_blockjob_fill_chain(ConfStorageSource *top, GError **error)
{
    g_autoptr(GPtrArray) names = NULL;
    guint i = 0;

    if (!conf_storage_chain_fill_full(top, &names, error))
        return false;
    for (ConfStorageSource *s = top; s && names && i < names->len; s = s->backing, i++) {
        const char *name = g_ptr_array_index(names, i);

        if (name) {
            g_free(s->backing_name_raw);
            s->backing_name_raw = g_strdup(name);
        }
    }
    return true;
}

/* The chain member @name names below (and including) @from: "vda[N]"
 * (N counted from the active layer, 0) or a path matching the layer's
 * path or the name its overlay's header records.  @ret_index: its index. */
static ConfStorageSource *
bj_lookup_layer(const ConfDomainDiskDef *disk, const char *name, GError **error)
{
    const char *bracket = strchr(name, '[');
    ConfStorageSource *s = disk->src;

    if (bracket && g_str_has_suffix(name, "]")) {
        g_autofree char *target = g_strndup(name, bracket - name);
        g_autofree char *num = g_strndup(bracket + 1, strlen(bracket + 1) - 1);
        guint64 idx = 0;

        if (!g_str_equal(target, disk->dst) ||
            !g_ascii_string_to_unsigned(num, 10, 0, G_MAXINT, &idx, NULL)) {
            util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INVALID_ARG,
                           "invalid argument: invalid backing chain index '%s' for disk '%s'",
                           name, disk->dst);
            return NULL;
        }
        for (guint64 i = 0; s && i < idx; i++)
            s = s->backing;
        if (!s) {
            util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INVALID_ARG,
                           "invalid argument: could not find image '%s' in chain for '%s'",
                           name, disk->dst);
            return NULL;
        }
        return s;
    }
    for (; s; s = s->backing) {
        if (g_strcmp0(s->path, name) == 0 || g_strcmp0(s->backing_name_raw, name) == 0)
            return s;
    }
    util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INVALID_ARG,
                   "invalid argument: could not find image '%s' in chain for '%s'",
                   name, disk->dst);
    return NULL;
}

static bool
bj_is_below(const ConfStorageSource *top, const ConfStorageSource *layer)
{
    for (const ConfStorageSource *s = top->backing; s; s = s->backing) {
        if (s == layer)
            return true;
    }
    return false;
}

bool
qemu_blockjob_resolve_commit(const ConfDomainDiskDef *disk, const char *base, const char *top,
                             unsigned int flags, ConfStorageSource **ret_top,
                             ConfStorageSource **ret_base, ConfStorageSource **ret_top_parent,
                             GError **error)
{
    ConfStorageSource *top_src = disk->src;
    ConfStorageSource *base_src = NULL;
    ConfStorageSource *parent = NULL;

    if (top && !(top_src = bj_lookup_layer(disk, top, error)))
        return false;
    if (!top_src->backing) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INVALID_ARG,
                       "invalid argument: top '%s' in chain for '%s' has no backing file",
                       top_src->path, disk->dst);
        return false;
    }
    if (base) {
        if (!(base_src = bj_lookup_layer(disk, base, error)))
            return false;
        if (!bj_is_below(top_src, base_src)) {
            util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INVALID_ARG,
                           "invalid argument: could not find base image '%s' below '%s' in "
                           "chain for '%s'", base, top_src->path, disk->dst);
            return false;
        }
        if ((flags & QEMU_COMMIT_SHALLOW) && base_src != top_src->backing) {
            util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INVALID_ARG,
                           "invalid argument: base '%s' is not immediately below '%s' in "
                           "chain for '%s'", base, top_src->path, disk->dst);
            return false;
        }
    } else if (flags & QEMU_COMMIT_SHALLOW) {
        base_src = top_src->backing;
    } else {
        for (base_src = top_src->backing; base_src->backing; base_src = base_src->backing)
            ;
    }
    if (top_src == disk->src && !(flags & QEMU_COMMIT_ACTIVE)) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INVALID_ARG,
                       "invalid argument: commit of '%s' active layer requires active flag",
                       disk->dst);
        return false;
    }
    if (top_src != disk->src && (flags & QEMU_COMMIT_ACTIVE)) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INVALID_ARG,
                       "invalid argument: active commit requested but '%s' is not active",
                       top_src->path);
        return false;
    }
    for (ConfStorageSource *s = disk->src; s && s != top_src; s = s->backing)
        parent = s;
    *ret_top = top_src;
    *ret_base = base_src;
    *ret_top_parent = parent;
    return true;
}

char *
qemu_blockjob_backing_name(const ConfStorageSource *overlay, const ConfStorageSource *base,
                           bool relative, GError **error)
{
    g_autoptr(GString) rel = NULL;

    if (!relative)
        return g_strdup(base->path);
    rel = g_string_new(NULL);
    for (const ConfStorageSource *s = overlay->backing; s; s = s->backing) {
        const char *raw = s->backing_name_raw;

        if (!raw || g_path_is_absolute(raw))
            break;
        if (s == base) {
            g_string_append(rel, raw);
            return g_string_free(g_steal_pointer(&rel), FALSE);
        }
        {
            g_autofree char *dir = g_path_get_dirname(raw);

            if (!g_str_equal(dir, "."))
                g_string_append_printf(rel, "%s/", dir);
        }
    }
    util_error_set(error, VIR_FROM_QEMU, VIR_ERR_OPERATION_INVALID,
                   "Requested operation is not valid: cannot keep relative backing "
                   "relationship: '%s' is not recorded relative to '%s'",
                   base->path, overlay->path);
    return NULL;
}

static bool
bj_check_nodes(const ConfDomainDiskDef *disk, const ConfStorageSource *upto, GError **error)
{
    for (const ConfStorageSource *s = disk->src; s; s = s->backing) {
        if (!s->node_name_format || !s->path) {
            util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INTERNAL_ERROR,
                           "internal error: layer '%s' of disk '%s' has no node name",
                           s->path ? s->path : "(none)", disk->dst);
            return false;
        }
        if (s == upto)
            break;
    }
    return true;
}

/* ------------------------------------------------------------ events to clients */

typedef struct {
    RemoteNonnullDomain dom;
    char *path;
    char *dst;
    int type;
    int status;
} BjClientEvent;

static void
bj_send_path(DaemonClient *client, const DaemonEventCallback *cb, gpointer data)
{
    BjClientEvent *ev = data;
    RemoteDomainEventBlockJobPayload payload = { ev->dom, ev->path, ev->type, ev->status };

    if (cb->legacy) {
        daemon_client_send_event(client, REMOTE_PROC_DOMAIN_EVENT_BLOCK_JOB,
                                 (RpcEncodeFunc)xdr_enc_remote_domain_event_block_job_payload,
                                 &payload);
    } else {
        RemoteDomainEventCallbackBlockJobMsg msg = { cb->callback_id, payload };

        daemon_client_send_event(client, REMOTE_PROC_DOMAIN_EVENT_CALLBACK_BLOCK_JOB,
                                 (RpcEncodeFunc)xdr_enc_remote_domain_event_callback_block_job_msg,
                                 &msg);
    }
}

static void
bj_send_target(DaemonClient *client, const DaemonEventCallback *cb, gpointer data)
{
    BjClientEvent *ev = data;
    RemoteDomainEventBlockJob2Msg msg = { cb->callback_id, ev->dom, ev->dst, ev->type, ev->status };

    if (cb->legacy)
        return;
    daemon_client_send_event(client, REMOTE_PROC_DOMAIN_EVENT_BLOCK_JOB_2,
                             (RpcEncodeFunc)xdr_enc_remote_domain_event_block_job_2_msg, &msg);
}

static void
bj_client_event_free(gpointer data)
{
    BjClientEvent *ev = data;

    xdr_free_remote_nonnull_domain(&ev->dom);
    g_free(ev->path);
    g_free(ev->dst);
    g_free(ev);
}

/* Set on the worker while it reconciles the jobs of a domain found again
 * after a restart: what it reports then is kept for late callbacks. */
static __thread bool bj_reconnecting;

/* Keep @ev for the @event_id callbacks registered soon after: a job that
 * ended while virtqemud was away (the client whose connection started
 * virtqemud registers them only then). */
static void
bj_keep_for_replay(const BjClientEvent *ev, int event_id, DaemonEventSendFunc send)
{
    BjClientEvent *copy = g_new0(BjClientEvent, 1);

    copy->dom = ev->dom;
    copy->dom.name = g_strdup(ev->dom.name);
    copy->path = g_strdup(ev->path);
    copy->dst = g_strdup(ev->dst);
    copy->type = ev->type;
    copy->status = ev->status;
    qemu_backlog_add(ev->dom.uuid, event_id, send, copy, bj_client_event_free);
}

/* BLOCK_JOB (with the active layer's path, local files and devices only)
 * and BLOCK_JOB_2 (with the target).  No lock held. */
static void
bj_emit(QemuDomain *dom, const char *dst, const char *path, int type, int status)
{
    BjClientEvent ev = { { 0 }, (char *)path, (char *)dst, type, status };

    qemu_domain_make_ref(dom, &ev.dom);
    g_info("domain '%s': block job on '%s' (type %d): status %s", ev.dom.name, dst, type,
           blockjob_status_to_string(status));
    if (path && bj_reconnecting)
        bj_keep_for_replay(&ev, BJ_EVENT_ID_BLOCK_JOB, bj_send_path);
    if (path)
        daemon_events_emit(RPC_FAMILY_DOMAIN, BJ_EVENT_ID_BLOCK_JOB, ev.dom.uuid, bj_send_path,
                           &ev);
    if (bj_reconnecting)
        bj_keep_for_replay(&ev, BJ_EVENT_ID_BLOCK_JOB_2, bj_send_target);
    daemon_events_emit(RPC_FAMILY_DOMAIN, BJ_EVENT_ID_BLOCK_JOB_2, ev.dom.uuid, bj_send_target,
                       &ev);
    xdr_free_remote_nonnull_domain(&ev.dom);
}

/* Emit @status for @id's job, with the path of the disk's active layer now. */
static void
bj_emit_job(QemuDomain *dom, const char *id, BlockJobStatus status)
{
    g_autofree char *dst = NULL;
    g_autofree char *path = NULL;
    int type = 0;

    g_mutex_lock(&dom->lock);
    {
        BlockJob *job = bj_find_locked(dom, id);
        ConfDomainDiskDef *disk = job ? bj_live_disk_locked(dom, job->disk) : NULL;

        if (job) {
            dst = g_strdup(job->disk);
            type = job->type;
        }
        if (disk)
            path = g_strdup(disk->src->path);
    }
    g_mutex_unlock(&dom->lock);
    if (dst)
        bj_emit(dom, dst, path, type, status);
}

/* ------------------------------------------------------------ the worker */

typedef enum {
    BJ_ITEM_EVENT,      /* feed an event to a job */
    BJ_ITEM_EFFECT,     /* perform a step an API thread got */
    BJ_ITEM_RECONNECT,  /* reconcile every job with QEMU's after a restart */
    BJ_ITEM_EMIT,       /* send an event (domain stopped) */
} BjItemKind;

typedef struct {
    BjItemKind kind;
    QemuDomain *dom;
    char *id;
    BlockJobEvent event;
    char *detail;
    BlockJobStep step;
    char *dst;
    char *path;
    int type;
    int status;
    bool replay;        /* EMIT: found while reconnecting, kept for replay */
} BjItem;

static GThreadPool *bj_pool;

static void bj_worker(gpointer data, gpointer user_data);

static void
bj_item_free(BjItem *item)
{
    qemu_domain_unref(item->dom);
    g_free(item->id);
    g_free(item->detail);
    g_free(item->dst);
    g_free(item->path);
    g_free(item);
}

static void
bj_push(BjItem *item)
{
    static gsize once;

    if (g_once_init_enter(&once)) {
        bj_pool = g_thread_pool_new(bj_worker, NULL, 1, FALSE, NULL);
        g_once_init_leave(&once, 1);
    }
    g_thread_pool_push(bj_pool, item, NULL);
}

static BjItem *
bj_item_new(BjItemKind kind, QemuDomain *dom, const char *id)
{
    BjItem *item = g_new0(BjItem, 1);

    item->kind = kind;
    item->dom = qemu_domain_ref(dom);
    item->id = g_strdup(id);
    return item;
}

static void
bj_push_step(QemuDomain *dom, const char *id, const BlockJobStep *step)
{
    BjItem *item;

    if (step->effect == BLOCKJOB_EFFECT_NONE && !step->persist)
        return;
    item = bj_item_new(BJ_ITEM_EFFECT, dom, id);
    item->step = *step;
    bj_push(item);
}

/* What query-jobs says about @id, as an event; @ret_detail: QEMU's error. */
static BlockJobEvent
bj_query_outcome(QemuDomain *dom, const char *id, char **ret_detail)
{
    g_autoptr(QemuMonitor) mon = qemu_domain_get_monitor(dom, NULL);
    g_autoptr(json_object) jobs = NULL;
    g_autoptr(GError) error = NULL;

    if (!mon)
        return BLOCKJOB_EVENT_DOMAIN_STOPPED;
    if (!(jobs = qemu_monitor_query_jobs(mon, &error))) {
        g_warning("domain '%s': query-jobs failed: %s", dom->def->name, error->message);
        return BLOCKJOB_EVENT_VANISHED;
    }
    for (size_t i = 0; json_object_is_type(jobs, json_type_array) &&
                       i < json_object_array_length(jobs); i++) {
        json_object *j = json_object_array_get_idx(jobs, i);
        const char *status = bj_json_str(j, "status");
        const char *err = bj_json_str(j, "error");

        if (g_strcmp0(bj_json_str(j, "id"), id) != 0 || !status)
            continue;
        if (g_str_equal(status, "concluded")) {
            if (err) {
                *ret_detail = g_strdup(err);
                return BLOCKJOB_EVENT_FAILED;
            }
            return BLOCKJOB_EVENT_COMPLETED;
        }
        if (g_str_equal(status, "ready") || g_str_equal(status, "standby"))
            return BLOCKJOB_EVENT_READY;
        if (g_str_equal(status, "null"))
            return BLOCKJOB_EVENT_VANISHED;
        return BLOCKJOB_EVENT_RUNNING;
    }
    return BLOCKJOB_EVENT_VANISHED;
}

/* query-block's entry for the device whose id is @alias: the node it is
 * attached to and the file names of its chain, top first. */
static bool
bj_query_device(QemuMonitor *mon, const char *alias, char **ret_node, GPtrArray **ret_files)
{
    g_autoptr(json_object) blocks = qemu_monitor_command(mon, "query-block", NULL, 0, NULL);
    g_autofree char *prefix = g_strdup_printf("/machine/peripheral/%s/", alias);

    for (size_t i = 0; blocks && json_object_is_type(blocks, json_type_array) &&
                       i < json_object_array_length(blocks); i++) {
        json_object *b = json_object_array_get_idx(blocks, i);
        const char *qdev = bj_json_str(b, "qdev");
        json_object *inserted = NULL;
        json_object *image = NULL;
        GPtrArray *files;

        if (!qdev || (!g_str_equal(qdev, alias) && !g_str_has_prefix(qdev, prefix)))
            continue;
        if (!json_object_object_get_ex(b, "inserted", &inserted))
            return false;
        files = g_ptr_array_new_with_free_func(g_free);
        json_object_object_get_ex(inserted, "image", &image);
        for (int depth = 0; image && depth < CONF_STORAGE_CHAIN_MAX_DEPTH; depth++) {
            json_object *next = NULL;

            g_ptr_array_add(files, g_strdup(bj_json_str(image, "filename")));
            if (!json_object_object_get_ex(image, "backing-image", &next))
                break;
            image = next;
        }
        *ret_node = g_strdup(bj_json_str(inserted, "node-name"));
        *ret_files = files;
        return true;
    }
    return false;
}

/* Whether the block graph shows @id's change (spec 3.7, job vanished). */
static BlockJobEvent
bj_reconcile(QemuDomain *dom, const char *id)
{
    g_autoptr(QemuMonitor) mon = qemu_domain_get_monitor(dom, NULL);
    g_autoptr(BlockJob) job = NULL;
    g_autoptr(GPtrArray) files = NULL;
    g_autofree char *alias = NULL;
    g_autofree char *node = NULL;
    g_autofree char *top_path = NULL;
    g_autofree char *base_path = NULL;
    bool done = false;

    g_mutex_lock(&dom->lock);
    {
        BlockJob *cur = bj_find_locked(dom, id);
        ConfDomainDiskDef *disk = cur ? bj_live_disk_locked(dom, cur->disk) : NULL;

        if (cur && disk) {
            ConfStorageSource *top = bj_layer_by_node(disk->src, cur->top_node, NULL);
            ConfStorageSource *base = bj_layer_by_node(disk->src, cur->base_node, NULL);

            job = blockjob_copy(cur);
            alias = g_strdup(disk->info.alias);
            top_path = top ? g_strdup(top->path) : NULL;
            base_path = base ? g_strdup(base->path) : NULL;
        }
    }
    g_mutex_unlock(&dom->lock);
    if (!job || !mon || !alias || !bj_query_device(mon, alias, &node, &files))
        return BLOCKJOB_EVENT_GRAPH_UNCHANGED;
    switch (job->type) {
    case BLOCKJOB_TYPE_COPY:
        done = job->mirror && g_strcmp0(node, job->mirror->node_name_format) == 0;
        break;
    case BLOCKJOB_TYPE_ACTIVE_COMMIT:
        done = g_strcmp0(node, job->base_node) == 0;
        break;
    case BLOCKJOB_TYPE_COMMIT:
        done = top_path != NULL;
        for (guint i = 0; i < files->len; i++) {
            if (g_strcmp0(g_ptr_array_index(files, i), top_path) == 0)
                done = false;
        }
        break;
    case BLOCKJOB_TYPE_PULL:
        done = base_path ? files->len >= 2 && g_strcmp0(g_ptr_array_index(files, 1), base_path) == 0
                         : files->len == 1;
        break;
    case BLOCKJOB_TYPE_LAST:
        break;
    }
    g_info("domain '%s': block job '%s' gone from QEMU; the graph shows it %s", dom->def->name,
           id, done ? "done" : "not done");
    return done ? BLOCKJOB_EVENT_GRAPH_DONE : BLOCKJOB_EVENT_GRAPH_UNCHANGED;
}

static void
bj_resend(QemuDomain *dom, const char *id)
{
    g_autoptr(QemuMonitor) mon = qemu_domain_get_monitor(dom, NULL);
    g_autoptr(json_object) reply = NULL;
    g_autoptr(GError) error = NULL;
    json_object *args = json_object_new_object();
    BlockJobState state = BLOCKJOB_STATE_LAST;

    g_mutex_lock(&dom->lock);
    {
        BlockJob *job = bj_find_locked(dom, id);
        if (job)
            state = job->state;
    }
    g_mutex_unlock(&dom->lock);
    if (!mon || (state != BLOCKJOB_STATE_PIVOTING && state != BLOCKJOB_STATE_ABORTING)) {
        json_object_put(args);
        return;
    }
    if (state == BLOCKJOB_STATE_PIVOTING) {
        json_object_object_add(args, "id", json_object_new_string(id));
        reply = qemu_monitor_command(mon, "job-complete", args, 0, &error);
    } else {
        json_object_object_add(args, "device", json_object_new_string(id));
        reply = qemu_monitor_command(mon, "block-job-cancel", args, 0, &error);
    }
    if (!reply)
        g_info("domain '%s': resending the end of block job '%s': %s", dom->def->name, id,
               error->message);
}

/* The persistent disk follows a change of the live disk's top, if it
 * still names the old top (spec 7.17).  @dom->lock held. */
static bool
bj_update_persistent_locked(QemuDomain *dom, const char *dst, const char *old_path,
                            const ConfDomainDiskDef *live_disk)
{
    ConfDomainDiskDef *pdisk;

    if (!dom->persistent || !dom->def || dom->def == dom->live)
        return false;
    pdisk = conf_domain_find_disk(dom->def, dst);
    if (!pdisk || g_strcmp0(pdisk->src->path, old_path) != 0 || !g_str_equal(pdisk->dst, dst))
        return false;
    if (g_str_equal(old_path, live_disk->src->path) && !pdisk->src->backing &&
        !pdisk->src->backing_terminated)
        return false;
    g_free(pdisk->src->path);
    pdisk->src->path = g_strdup(live_disk->src->path);
    pdisk->src->type = live_disk->src->type;
    pdisk->src->format = live_disk->src->format;
    if (pdisk->src->backing || pdisk->src->backing_terminated) {
        /* the user gave the chain: give the new one, without runtime data */
        conf_storage_source_free(pdisk->src->backing);
        pdisk->src->backing = conf_storage_source_copy(live_disk->src->backing);
        pdisk->src->backing_terminated = live_disk->src->backing_terminated;
        for (ConfStorageSource *s = pdisk->src->backing; s; s = s->backing) {
            g_clear_pointer(&s->node_name_storage, g_free);
            g_clear_pointer(&s->node_name_format, g_free);
            g_clear_pointer(&s->backing_name_raw, g_free);
        }
    }
    return true;
}

/* Record the layers of @from down to (not including) @stop in @job, for
 * the clean-up: their nodes to delete, their images to give back. */
static void
bj_leftover_add(BlockJob *job, const ConfStorageSource *from, const ConfStorageSource *stop)
{
    for (const ConfStorageSource *s = from; s && s != stop; s = s->backing) {
        if (s->path)
            blockjob_strings_add(job->leftover_paths, s->path);
        if (s->node_name_format)
            blockjob_strings_add(job->leftover_nodes, s->node_name_format);
        if (s->node_name_storage)
            blockjob_strings_add(job->leftover_nodes, s->node_name_storage);
    }
}

/* Cut @parent's chain so that @base is directly below it. */
static void
bj_splice(BlockJob *job, ConfStorageSource *parent, ConfStorageSource *base)
{
    ConfStorageSource *cut = parent->backing;
    ConfStorageSource *prev = NULL;
    ConfStorageSource *s = cut;

    for (; s && s != base; s = s->backing)
        prev = s;
    if (!prev || (base && !s))
        return;
    bj_leftover_add(job, cut, base);
    prev->backing = NULL;
    parent->backing = base;
    if (!base)
        parent->backing_terminated = true;
    conf_storage_source_free(cut);
}

/* FINISH: apply the outcome to the live (and persistent) definition. */
static void
bj_finish(QemuDomain *dom, const char *id)
{
    g_autofree char *mirror_backing_name = NULL;
    g_autofree char *mirror_path = NULL;
    g_autofree char *old_path = NULL;
    bool shallow = false;
    bool config_changed = false;

    /* the header of a copy destination, read before taking the lock */
    g_mutex_lock(&dom->lock);
    {
        BlockJob *job = bj_find_locked(dom, id);

        if (job && job->type == BLOCKJOB_TYPE_COPY && job->mirror &&
            blockjob_finish_kind(job) == BLOCKJOB_FINISH_PIVOT) {
            mirror_path = g_strdup(job->mirror->path);
            shallow = job->flags & BLOCKJOB_FLAG_SHALLOW;
        }
    }
    g_mutex_unlock(&dom->lock);
    if (mirror_path && shallow) {
        g_autoptr(ConfStorageSource) probe = conf_storage_source_new(CONF_STORAGE_TYPE_FILE);

        probe->path = g_strdup(mirror_path);
        probe->format = CONF_STORAGE_FORMAT_QCOW2;
        if (!conf_storage_chain_read_backing_name(probe, &mirror_backing_name, NULL))
            mirror_backing_name = NULL;
    }

    g_mutex_lock(&dom->lock);
    {
        BlockJob *job = bj_find_locked(dom, id);
        ConfDomainDiskDef *disk = job ? bj_live_disk_locked(dom, job->disk) : NULL;
        BlockJobFinish kind;

        if (!job || !disk) {
            g_mutex_unlock(&dom->lock);
            return;
        }
        kind = blockjob_finish_kind(job);
        old_path = g_strdup(disk->src->path);
        g_debug("domain '%s': block job '%s' ends: %s", dom->def->name, id,
                blockjob_finish_to_string(kind));
        switch (kind) {
        case BLOCKJOB_FINISH_KEEP_CHAIN:
            break;
        case BLOCKJOB_FINISH_DROP_MIRROR:
            if (job->type == BLOCKJOB_TYPE_COPY && job->mirror)
                bj_leftover_add(job, job->mirror, NULL);
            break;
        case BLOCKJOB_FINISH_PULL: {
            ConfStorageSource *top = bj_layer_by_node(disk->src, job->top_node, NULL);
            ConfStorageSource *base = bj_layer_by_node(disk->src, job->base_node, NULL);

            if (top && (base || !job->base_node)) {
                bj_splice(job, top, base);
                if (!base && top->backing) {
                    bj_leftover_add(job, top->backing, NULL);
                    conf_storage_source_free(top->backing);
                    top->backing = NULL;
                    top->backing_terminated = true;
                }
                if (base) {
                    g_free(base->backing_name_raw);
                    base->backing_name_raw = g_strdup(job->backing_name);
                }
            }
            break;
        }
        case BLOCKJOB_FINISH_COMMIT: {
            ConfStorageSource *parent = bj_layer_by_node(disk->src, job->top_parent_node, NULL);
            ConfStorageSource *base = parent ? bj_layer_by_node(parent, job->base_node, NULL)
                                             : NULL;

            if (parent && base) {
                bj_splice(job, parent, base);
                g_free(base->backing_name_raw);
                base->backing_name_raw = g_strdup(job->backing_name);
            }
            break;
        }
        case BLOCKJOB_FINISH_PIVOT:
            if (job->type == BLOCKJOB_TYPE_COPY && job->mirror) {
                ConfStorageSource *next = conf_storage_source_copy(job->mirror);

                if (shallow) {
                    next->backing = g_steal_pointer(&disk->src->backing);
                    next->backing_terminated = disk->src->backing_terminated;
                    if (next->backing) {
                        g_free(next->backing->backing_name_raw);
                        next->backing->backing_name_raw = g_steal_pointer(&mirror_backing_name);
                    }
                } else {
                    conf_storage_source_free(next->backing);
                    next->backing = NULL;
                    next->backing_terminated = true;
                }
                bj_leftover_add(job, disk->src, next->backing);
                conf_storage_source_free(disk->src);
                disk->src = next;
            } else if (job->type == BLOCKJOB_TYPE_ACTIVE_COMMIT) {
                ConfStorageSource *prev = NULL;
                ConfStorageSource *base = bj_layer_by_node(disk->src, job->base_node, &prev);

                if (base && prev) {
                    bj_leftover_add(job, disk->src, base);
                    prev->backing = NULL;
                    conf_storage_source_free(disk->src);
                    disk->src = base;
                    g_clear_pointer(&base->backing_name_raw, g_free);
                }
            }
            break;
        case BLOCKJOB_FINISH_LAST:
            break;
        }
        if (blockjob_type_is_two_phase(job->type))
            g_clear_pointer(&disk->mirror, conf_storage_source_free);
        config_changed = bj_update_persistent_locked(dom, job->disk, old_path, disk);
    }
    g_mutex_unlock(&dom->lock);
    /* the definition first: the status file saved with 'processed' next
     * is what says the end is applied (a restart before it redoes this
     * function, which finds the chain already changed and changes nothing) */
    if (config_changed) {
        g_autoptr(GError) error = NULL;

        if (!qemu_domain_save_config(dom, &error))
            g_warning("domain '%s': cannot save its definition: %s", dom->def->name,
                      error->message);
    }
}

/* @path is still a layer of one of @dom's live chains (a copy aborted
 * onto an image the disk also uses, say). */
static bool
bj_live_uses_path(QemuDomain *dom, const char *path)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&dom->lock);

    for (guint d = 0; dom->live && d < dom->live->disks->len; d++) {
        const ConfDomainDiskDef *disk = g_ptr_array_index(dom->live->disks, d);

        if (conf_storage_source_find(disk->src, path, NULL))
            return true;
    }
    return false;
}

/* CLEANUP: dismiss, delete the graph nodes that left, unlink DELETE'd
 * files, drop the record. */
static void
bj_cleanup(QemuDomain *dom, const char *id)
{
    g_autoptr(QemuMonitor) mon = qemu_domain_get_monitor(dom, NULL);
    g_autoptr(BlockJob) job = NULL;
    GPtrArray *nodes;
    GPtrArray *paths;

    g_mutex_lock(&dom->lock);
    {
        BlockJob *cur = bj_find_locked(dom, id);
        if (cur)
            job = blockjob_copy(cur);
    }
    g_mutex_unlock(&dom->lock);
    if (!job)
        return;
    nodes = job->leftover_nodes;
    paths = job->leftover_paths;
    g_mutex_lock(&bj_side_lock);
    {
        BjSide *side = bj_side_locked(dom, id);

        side->ended = true;
        side->outcome = job->outcome;
        g_free(side->error);
        side->error = g_strdup(job->error);
        side->have_progress = false;
    }
    g_mutex_unlock(&bj_side_lock);

    if (mon) {
        json_object *args = json_object_new_object();
        g_autoptr(json_object) reply = NULL;
        g_autoptr(GError) error = NULL;

        json_object_object_add(args, "id", json_object_new_string(id));
        if (!(reply = qemu_monitor_command(mon, "job-dismiss", args, 0, &error)))
            g_debug("domain '%s': job-dismiss '%s': %s", dom->def->name, id, error->message);
        for (guint i = 0; nodes && i < nodes->len; i++) {
            g_autoptr(GError) del_error = NULL;

            if (!qemu_monitor_blockdev_del(mon, g_ptr_array_index(nodes, i), &del_error))
                g_debug("domain '%s': blockdev-del '%s': %s", dom->def->name,
                        (char *)g_ptr_array_index(nodes, i), del_error->message);
        }
    }
    /* the images QEMU no longer opens go back to their owners */
    for (guint i = 0; paths && i < paths->len; i++) {
        const char *path = g_ptr_array_index(paths, i);

        if (!bj_live_uses_path(dom, path))
            qemu_security_restore_path(path);
    }
    if (blockjob_finish_deletes(job)) {
        for (guint i = 0; job->delete_paths && i < job->delete_paths->len; i++) {
            const char *path = g_ptr_array_index(job->delete_paths, i);

            if (unlink(path) < 0 && errno != ENOENT)
                g_warning("domain '%s': cannot delete '%s' after the commit: %s",
                          dom->def->name, path, g_strerror(errno));
            else
                g_info("domain '%s': deleted '%s' after the commit", dom->def->name, path);
        }
    }
    g_mutex_lock(&dom->lock);
    bj_drop_locked(dom, id);
    g_mutex_unlock(&dom->lock);
    bj_save(dom);
}

/* Performs @step for @id and whatever follows from it. Worker thread. */
static void
bj_run(QemuDomain *dom, const char *id, BlockJobStep step)
{
    for (int guard = 0; guard < 32; guard++) {
        g_autofree char *detail = NULL;
        g_autoptr(GError) error = NULL;
        BlockJobEvent next = BLOCKJOB_EVENT_LAST;
        bool ok = false;

        if (step.persist)
            bj_save(dom);
        switch (step.effect) {
        case BLOCKJOB_EFFECT_NONE:
            return;
        case BLOCKJOB_EFFECT_EMIT_READY:
            bj_emit_job(dom, id, BLOCKJOB_STATUS_READY);
            return;
        case BLOCKJOB_EFFECT_QUERY_OUTCOME:
            next = bj_query_outcome(dom, id, &detail);
            break;
        case BLOCKJOB_EFFECT_RECONCILE:
            next = bj_reconcile(dom, id);
            break;
        case BLOCKJOB_EFFECT_RESEND_REQUEST:
            bj_resend(dom, id);
            return;
        case BLOCKJOB_EFFECT_DISCARD:
            g_mutex_lock(&dom->lock);
            {
                BlockJob *job = bj_find_locked(dom, id);
                ConfDomainDiskDef *disk = job ? bj_live_disk_locked(dom, job->disk) : NULL;

                if (disk && job && blockjob_type_is_two_phase(job->type))
                    g_clear_pointer(&disk->mirror, conf_storage_source_free);
                bj_drop_locked(dom, id);
            }
            g_mutex_unlock(&dom->lock);
            bj_side_remove(dom, id);
            bj_save(dom);
            return;
        case BLOCKJOB_EFFECT_FINISH:
            bj_finish(dom, id);
            next = BLOCKJOB_EVENT_PROCESSED;
            break;
        case BLOCKJOB_EFFECT_EMIT_EVENT: {
            BlockJobStatus outcome = BLOCKJOB_STATUS_FAILED;

            g_mutex_lock(&dom->lock);
            {
                BlockJob *job = bj_find_locked(dom, id);
                if (job)
                    outcome = job->outcome;
            }
            g_mutex_unlock(&dom->lock);
            bj_emit_job(dom, id, outcome);
            next = BLOCKJOB_EVENT_REPORTED;
            break;
        }
        case BLOCKJOB_EFFECT_CLEANUP:
            bj_cleanup(dom, id);
            return;
        case BLOCKJOB_EFFECT_LAST:
            return;
        }
        g_mutex_lock(&dom->lock);
        {
            BlockJob *job = bj_find_locked(dom, id);

            if (job) {
                ok = blockjob_apply_event(job, next, detail, &step, &error);
                bj_sync_mirror_locked(dom, job);
            }
        }
        g_mutex_unlock(&dom->lock);
        if (!ok) {
            if (error)
                g_info("domain '%s': %s", dom->def->name, error->message);
            return;
        }
    }
    g_warning("domain '%s': block job '%s' does not settle", dom->def->name, id);
}

/* Feeds @event to @id's job and performs what follows.  Worker thread. */
static void
bj_feed(QemuDomain *dom, const char *id, BlockJobEvent event, const char *detail)
{
    g_autoptr(GError) error = NULL;
    BlockJobStep step = { 0 };
    bool ok = false;

    g_mutex_lock(&dom->lock);
    {
        BlockJob *job = bj_find_locked(dom, id);

        if (job) {
            ok = blockjob_apply_event(job, event, detail, &step, &error);
            bj_sync_mirror_locked(dom, job);
        }
    }
    g_mutex_unlock(&dom->lock);
    if (!ok) {
        if (error)
            g_debug("domain '%s': %s", dom->def->name, error->message);
        return;
    }
    bj_run(dom, id, step);
}

/* After a restart: each saved job learns what QEMU says about it. */
static void
bj_reconnect(QemuDomain *dom)
{
    g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func(g_free);

    g_mutex_lock(&dom->lock);
    for (guint i = 0; dom->blockjobs && i < dom->blockjobs->len; i++)
        g_ptr_array_add(ids, g_strdup(((BlockJob *)g_ptr_array_index(dom->blockjobs, i))->id));
    g_mutex_unlock(&dom->lock);
    bj_reconnecting = true;
    for (guint i = 0; i < ids->len; i++) {
        const char *id = g_ptr_array_index(ids, i);
        g_autofree char *detail = NULL;
        BlockJobEvent event = bj_query_outcome(dom, id, &detail);

        g_info("domain '%s': block job '%s' after the restart: QEMU says %s", dom->def->name, id,
               blockjob_event_to_string(event));
        bj_feed(dom, id, event, detail);
    }
    bj_reconnecting = false;
    bj_save(dom);
    g_mutex_lock(&bj_side_lock);
    if (bj_reconciling)
        g_hash_table_remove(bj_reconciling, dom);
    g_mutex_unlock(&bj_side_lock);
    bj_changed();
}

/* A job's saved state may be older than QEMU's until the reconcile after
 * a restart has run: requests about it wait for that (a few seconds). */
static void
bj_wait_reconciled(QemuDomain *dom)
{
    gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;

    while (g_get_monotonic_time() < deadline) {
        guint64 seen = bj_changes();
        bool pending;

        g_mutex_lock(&bj_side_lock);
        pending = bj_reconciling && g_hash_table_contains(bj_reconciling, dom);
        g_mutex_unlock(&bj_side_lock);
        if (!pending)
            return;
        bj_wait_change(seen);
    }
}

static void
bj_worker(gpointer data, gpointer user_data)
{
    BjItem *item = data;

    switch (item->kind) {
    case BJ_ITEM_EVENT:
        bj_feed(item->dom, item->id, item->event, item->detail);
        break;
    case BJ_ITEM_EFFECT:
        bj_run(item->dom, item->id, item->step);
        break;
    case BJ_ITEM_RECONNECT:
        bj_reconnect(item->dom);
        break;
    case BJ_ITEM_EMIT:
        bj_reconnecting = item->replay;
        bj_emit(item->dom, item->dst, item->path, item->type, item->status);
        bj_reconnecting = false;
        break;
    }
    bj_item_free(item);
}

/* ------------------------------------------------------------ hooks */

void
qemu_blockjob_handle_event(QemuDomain *dom, const char *name, json_object *data)
{
    const char *id = NULL;
    BlockJobEvent event = BLOCKJOB_EVENT_LAST;
    const char *detail = NULL;
    BjItem *item;

    if (g_str_equal(name, "JOB_STATUS_CHANGE")) {
        const char *status = bj_json_str(data, "status");

        id = bj_json_str(data, "id");
        if (!status)
            return;
        if (g_str_equal(status, "ready") || g_str_equal(status, "standby"))
            event = BLOCKJOB_EVENT_READY;
        else if (g_str_equal(status, "concluded"))
            event = BLOCKJOB_EVENT_CONCLUDED;
        else if (g_str_equal(status, "null"))
            return;
        else
            event = BLOCKJOB_EVENT_RUNNING;
    } else {
        guint64 offset = 0;
        guint64 len = 0;
        guint64 speed = 0;

        id = bj_json_str(data, "device");
        if (g_str_equal(name, "BLOCK_JOB_READY")) {
            /* JOB_STATUS_CHANGE 'ready' came first and said it: a second
             * READY would make a pivot sent in between go out twice */
            event = BLOCKJOB_EVENT_LAST;
        } else if (g_str_equal(name, "BLOCK_JOB_COMPLETED")) {
            detail = bj_json_str(data, "error");
            event = detail ? BLOCKJOB_EVENT_FAILED : BLOCKJOB_EVENT_COMPLETED;
        } else if (g_str_equal(name, "BLOCK_JOB_CANCELLED")) {
            event = BLOCKJOB_EVENT_CANCELLED;
        } else {
            /* BLOCK_JOB_ERROR, BLOCK_JOB_PENDING: no state change */
            g_debug("domain '%s': %s for '%s'", dom->def->name, name, id ? id : "?");
            return;
        }
        if (id && bj_json_u64(data, "offset", &offset) && bj_json_u64(data, "len", &len)) {
            g_mutex_lock(&bj_side_lock);
            {
                BjSide *side = bj_side_locked(dom, id);

                side->have_progress = true;
                side->offset = offset;
                side->len = len;
                if (bj_json_u64(data, "speed", &speed))
                    side->speed = speed;
            }
            g_mutex_unlock(&bj_side_lock);
        }
    }
    if (!id || event == BLOCKJOB_EVENT_LAST)
        return;
    g_debug("domain '%s': QMP %s for job '%s' -> %s", dom->def->name, name, id,
            blockjob_event_to_string(event));
    item = bj_item_new(BJ_ITEM_EVENT, dom, id);
    item->event = event;
    item->detail = g_strdup(detail);
    bj_push(item);
}

char *
qemu_blockjob_format_status_locked(QemuDomain *dom)
{
    g_autoptr(GString) out = NULL;

    if (!dom->blockjobs || dom->blockjobs->len == 0)
        return NULL;
    out = g_string_new(NULL);
    blockjob_format_list(out, dom->blockjobs, 2);
    return g_string_free(g_steal_pointer(&out), FALSE);
}

bool
qemu_blockjob_load_status_locked(QemuDomain *dom, const char *extra_xml, GError **error)
{
    g_autofree char *wrapped = g_strdup_printf("<extra>%s</extra>", extra_xml);
    xmlDoc *doc = xmlReadMemory(wrapped, (int)strlen(wrapped), "status.xml", NULL,
                                XML_PARSE_NONET);
    GPtrArray *jobs = NULL;
    xmlNode *root;

    if (!doc) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INTERNAL_ERROR,
                       "internal error: malformed block jobs in the status file");
        return false;
    }
    root = xmlDocGetRootElement(doc);
    for (xmlNode *n = root ? root->children : NULL; n; n = n->next) {
        if (n->type == XML_ELEMENT_NODE && g_str_equal((const char *)n->name, "blockjobs")) {
            jobs = blockjob_parse_list_node(n, error);
            if (!jobs) {
                xmlFreeDoc(doc);
                return false;
            }
            break;
        }
    }
    xmlFreeDoc(doc);
    if (!jobs)
        return true;
    g_clear_pointer(&dom->blockjobs, g_ptr_array_unref);
    dom->blockjobs = jobs;
    g_ptr_array_set_free_func(dom->blockjobs, (GDestroyNotify)blockjob_free);
    return true;
}

static gboolean
bj_reconnect_later(gpointer data)
{
    bj_push(bj_item_new(BJ_ITEM_RECONNECT, data, NULL));
    return G_SOURCE_REMOVE;
}

/* The reconcile runs right after the monitor is back; what it reports
 * (jobs that ended while virtqemud was away) is kept and replayed to the
 * block-job callbacks registered in the minute after, like the lifecycle
 * events found then (qemu_backlog_add).  MODVIRT_BLOCKJOB_RECONNECT_DELAY_MS
 * delays it (tests). */
void
qemu_blockjob_reconnected(QemuDomain *dom, QemuMonitor *mon)
{
    const char *env = g_getenv("MODVIRT_BLOCKJOB_RECONNECT_DELAY_MS");
    guint delay = env ? (guint)g_ascii_strtoull(env, NULL, 10) : 0;
    GSource *timer;
    bool any;

    g_mutex_lock(&dom->lock);
    any = dom->blockjobs && dom->blockjobs->len > 0;
    g_mutex_unlock(&dom->lock);
    if (!any)
        return;
    g_mutex_lock(&bj_side_lock);
    if (!bj_reconciling)
        bj_reconciling = g_hash_table_new(NULL, NULL);
    g_hash_table_add(bj_reconciling, dom);
    g_mutex_unlock(&bj_side_lock);
    timer = g_timeout_source_new(delay);
    g_source_set_callback(timer, bj_reconnect_later, qemu_domain_ref(dom),
                          (GDestroyNotify)qemu_domain_unref);
    g_source_attach(timer, daemon_main_context());
    g_source_unref(timer);
}

void
qemu_blockjob_domain_stopped_locked(QemuDomain *dom)
{
    for (guint i = 0; dom->blockjobs && i < dom->blockjobs->len; i++) {
        BlockJob *job = g_ptr_array_index(dom->blockjobs, i);
        ConfDomainDiskDef *disk = bj_live_disk_locked(dom, job->disk);
        BjItem *item;
        int status;

        switch (job->state) {
        case BLOCKJOB_STATE_REPORTED:
            continue;
        case BLOCKJOB_STATE_CONCLUDED:
        case BLOCKJOB_STATE_PROCESSED:
            status = job->outcome;
            break;
        case BLOCKJOB_STATE_NEW:
        case BLOCKJOB_STATE_RUNNING:
        case BLOCKJOB_STATE_READY:
        case BLOCKJOB_STATE_ABORTING:
        case BLOCKJOB_STATE_PIVOTING:
        case BLOCKJOB_STATE_LAST:
        default:
            status = job->state == BLOCKJOB_STATE_ABORTING ? BLOCKJOB_STATUS_CANCELED
                                                            : BLOCKJOB_STATUS_FAILED;
            break;
        }
        g_info("domain '%s': QEMU ended during block job '%s'", dom->def->name, job->id);
        if (job->state == BLOCKJOB_STATE_NEW)
            continue;
        item = bj_item_new(BJ_ITEM_EMIT, dom, job->id);
        item->dst = g_strdup(job->disk);
        item->path = disk ? g_strdup(disk->src->path) : NULL;
        item->type = job->type;
        item->status = status;
        item->replay = dom->reconnecting;
        bj_push(item);
        if (disk)
            g_clear_pointer(&disk->mirror, conf_storage_source_free);
    }
    if (dom->blockjobs)
        g_ptr_array_set_size(dom->blockjobs, 0);
    bj_side_remove_all(dom);
    bj_changed();
}

bool
qemu_blockjob_check_no_mirror(QemuDomain *dom, const char *disk, const char *what,
                              GError **error)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&dom->lock);

    for (guint i = 0; dom->blockjobs && i < dom->blockjobs->len; i++) {
        BlockJob *job = g_ptr_array_index(dom->blockjobs, i);

        if (!blockjob_has_mirror(job) || (disk && !g_str_equal(job->disk, disk)))
            continue;
        if (disk)
            util_error_set(error, VIR_FROM_QEMU, VIR_ERR_BLOCK_COPY_ACTIVE,
                           "block copy still active: disk '%s' is in an active block copy "
                           "job (cannot %s)", disk, what);
        else
            util_error_set(error, VIR_FROM_QEMU, VIR_ERR_BLOCK_COPY_ACTIVE,
                           "block copy still active: domain has active block copy job "
                           "(cannot %s)", what);
        return false;
    }
    return true;
}

/* ------------------------------------------------------------ starting jobs */

/* Registers @job (state NEW, saved), adds @nodes (blockdev-add, in order),
 * sends @cmd with @args and feeds the reply.  Takes @job, @args and @nodes.
 * The caller holds the domain's state-change job. */
static bool
bj_start(QemuDomain *dom, BlockJob *job_in, ConfStorageSource *mirror_in,
         ConfDomainDiskMirrorJob mirror_job, GPtrArray *nodes_in, const char *cmd,
         json_object *args, GError **error)
{
    g_autoptr(BlockJob) job = job_in;
    g_autoptr(ConfStorageSource) mirror = mirror_in;
    g_autoptr(GPtrArray) nodes = nodes_in;
    g_autoptr(GPtrArray) added = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(QemuMonitor) mon = NULL;
    g_autoptr(json_object) reply = NULL;
    g_autoptr(GError) local = NULL;
    g_autofree char *id = g_strdup(job->id);
    BlockJobStep step = { 0 };
    bool ok = false;

    g_mutex_lock(&dom->lock);
    {
        ConfDomainDiskDef *disk = bj_live_disk_locked(dom, job->disk);

        if (!disk || blockjob_check_action(bj_find_disk_locked(dom, job->disk), job->disk,
                                           BLOCKJOB_ACTION_START, error) < 0 ||
            !bj_require_running_locked(dom, error)) {
            g_mutex_unlock(&dom->lock);
            json_object_put(args);
            return false;
        }
        if (mirror) {
            disk->mirror = g_steal_pointer(&mirror);
            disk->mirror_job = mirror_job;
            disk->mirror_ready = CONF_DOMAIN_DISK_MIRROR_READY_NONE;
        }
        bj_add_locked(dom, g_steal_pointer(&job));
    }
    g_mutex_unlock(&dom->lock);
    bj_save(dom);

    if (!(mon = qemu_domain_get_monitor(dom, &local))) {
        json_object_put(args);
        goto failed;
    }
    for (guint i = 0; nodes && i < nodes->len; i++) {
        json_object *props = g_ptr_array_index(nodes, i);
        const char *name = bj_json_str(props, "node-name");
        g_autofree char *keep = g_strdup(name);

        g_ptr_array_index(nodes, i) = NULL;
        if (!qemu_monitor_blockdev_add(mon, props, &local)) {
            json_object_put(args);
            goto failed;
        }
        g_ptr_array_add(added, g_steal_pointer(&keep));
    }
    g_info("domain '%s': starting block job '%s' (%s)", dom->def->name, id, cmd);
    if (!(reply = qemu_monitor_command(mon, cmd, args, 0, &local)))
        goto failed;

    g_mutex_lock(&dom->lock);
    {
        BlockJob *cur = bj_find_locked(dom, id);

        if (cur) {
            ok = blockjob_apply_event(cur, BLOCKJOB_EVENT_START_OK, NULL, &step, NULL);
            bj_sync_mirror_locked(dom, cur);
        }
    }
    g_mutex_unlock(&dom->lock);
    bj_save(dom);
    if (ok)
        bj_push_step(dom, id, &step);
    return true;

 failed:
    g_mutex_lock(&dom->lock);
    {
        BlockJob *cur = bj_find_locked(dom, id);
        ConfDomainDiskDef *disk = cur ? bj_live_disk_locked(dom, cur->disk) : NULL;

        if (cur && blockjob_apply_event(cur, BLOCKJOB_EVENT_START_FAILED, NULL, &step, NULL) &&
            step.effect == BLOCKJOB_EFFECT_DISCARD) {
            if (disk && blockjob_type_is_two_phase(cur->type))
                g_clear_pointer(&disk->mirror, conf_storage_source_free);
            bj_drop_locked(dom, id);
        }
    }
    g_mutex_unlock(&dom->lock);
    bj_side_remove(dom, id);
    bj_save(dom);
    for (guint i = added->len; mon && i-- > 0;)
        qemu_monitor_blockdev_del(mon, g_ptr_array_index(added, i), NULL);
    g_propagate_error(error, g_steal_pointer(&local));
    return false;
}

static QemuDomain *
bj_begin(const RemoteNonnullDomain *ref, const char *api, GError **error)
{
    g_autoptr(QemuDomain) dom = qemu_domain_lookup(ref, error);

    if (!dom || !qemu_domain_job_begin(dom, api, error))
        return NULL;
    bj_wait_reconciled(dom);
    return g_steal_pointer(&dom);
}

/* A job whose end is already applied and reported (the user sees no job
 * any more) keeps its record until QEMU's job is dismissed: a new job on
 * @path waits for that, a little while. */
static void
bj_wait_ended(QemuDomain *dom, const char *path)
{
    gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;

    while (g_get_monotonic_time() < deadline) {
        guint64 seen = bj_changes();
        bool busy = false;

        g_mutex_lock(&dom->lock);
        {
            ConfDomainDiskDef *disk = dom->live && path ? conf_domain_find_disk(dom->live, path)
                                                        : NULL;
            BlockJob *job = disk ? bj_find_disk_locked(dom, disk->dst) : NULL;

            busy = job && (job->state == BLOCKJOB_STATE_PROCESSED ||
                           job->state == BLOCKJOB_STATE_REPORTED ||
                           job->state == BLOCKJOB_STATE_CONCLUDED);
        }
        g_mutex_unlock(&dom->lock);
        if (!busy)
            return;
        bj_wait_change(seen);
    }
}

static void
bj_end(QemuDomain *dom)
{
    qemu_domain_job_end(dom);
    qemu_domain_unref(dom);
}

/* Starts the commit of @top into @base on @name (already resolved by the
 * API's rules), the caller holding the domain's state-change job and the
 * domain running; @ret_id: the job's id. */
static bool
bj_commit_begun(QemuDomain *dom, const char *name, const char *base_name, const char *top_name,
                unsigned long long bandwidth, unsigned int flags, char **ret_id, GError **error)
{
    g_autoptr(BlockJob) job = NULL;
    g_autoptr(ConfStorageSource) mirror = NULL;
    g_autofree char *id = NULL;
    json_object *qargs = NULL;

    g_mutex_lock(&dom->lock);
    {
        ConfDomainDiskDef *disk = NULL;
        ConfStorageSource *top = NULL;
        ConfStorageSource *base = NULL;
        ConfStorageSource *parent = NULL;
        g_autofree char *backing = NULL;

        if (!bj_require_running_locked(dom, error) ||
            !(disk = bj_disk(dom->live, name, error)) ||
            blockjob_check_action(bj_find_disk_locked(dom, disk->dst), disk->dst,
                                  BLOCKJOB_ACTION_START, error) < 0 ||
            !qemu_blockjob_resolve_commit(disk, base_name, top_name, flags, &top, &base,
                                          &parent, error) ||
            !bj_check_nodes(disk, base, error) ||
            (parent && !(backing = qemu_blockjob_backing_name(
                             parent, base, flags & QEMU_COMMIT_RELATIVE, error)))) {
            g_mutex_unlock(&dom->lock);
            return false;
        }
        job = blockjob_new(parent ? BLOCKJOB_TYPE_COMMIT : BLOCKJOB_TYPE_ACTIVE_COMMIT,
                           disk->dst, top->node_name_format);
        job->top_node = g_strdup(top->node_name_format);
        job->base_node = g_strdup(base->node_name_format);
        job->top_parent_node = parent ? g_strdup(parent->node_name_format) : NULL;
        job->backing_name = g_strdup(backing);
        job->bandwidth = bandwidth;
        if (flags & QEMU_COMMIT_SHALLOW)
            job->flags |= BLOCKJOB_FLAG_SHALLOW;
        if (flags & QEMU_COMMIT_RELATIVE)
            job->flags |= BLOCKJOB_FLAG_RELATIVE;
        if (flags & QEMU_COMMIT_DELETE) {
            job->flags |= BLOCKJOB_FLAG_DELETE;
            job->delete_paths = g_ptr_array_new_with_free_func(g_free);
            for (ConfStorageSource *s = top; s && s != base; s = s->backing)
                g_ptr_array_add(job->delete_paths, g_strdup(s->path));
        }
        if (!parent) {
            mirror = conf_storage_source_new(base->type);
            mirror->path = g_strdup(base->path);
            mirror->format = base->format;
        }
        id = g_strdup(job->id);
        qargs = json_object_new_object();
        json_object_object_add(qargs, "job-id", json_object_new_string(job->id));
        json_object_object_add(qargs, "device", json_object_new_string(disk->src->node_name_format));
        json_object_object_add(qargs, "top-node", json_object_new_string(top->node_name_format));
        json_object_object_add(qargs, "base-node", json_object_new_string(base->node_name_format));
        if (backing)
            json_object_object_add(qargs, "backing-file", json_object_new_string(backing));
        if (bandwidth)
            json_object_object_add(qargs, "speed", json_object_new_int64((gint64)bandwidth));
        json_object_object_add(qargs, "auto-finalize", json_object_new_boolean(true));
        json_object_object_add(qargs, "auto-dismiss", json_object_new_boolean(false));
    }
    g_mutex_unlock(&dom->lock);
    if (!bj_start(dom, g_steal_pointer(&job), g_steal_pointer(&mirror),
                  CONF_DOMAIN_DISK_MIRROR_JOB_ACTIVE_COMMIT, NULL, "block-commit", qargs, error))
        return false;
    if (ret_id)
        *ret_id = g_steal_pointer(&id);
    return true;
}

static bool
bj_commit(RpcServerCall *call, const RemoteDomainBlockCommitArgs *args, GError **error)
{
    unsigned long long bandwidth = 0;
    QemuDomain *dom;
    bool running;
    bool ok;

    if (!qemu_check_flags(args->flags, 0x1f, "virDomainBlockCommit", error) ||
        !qemu_blockjob_scale_bandwidth(args->bandwidth,
                                       args->flags & QEMU_COMMIT_BANDWIDTH_BYTES, &bandwidth,
                                       error))
        return false;
    if (!(dom = bj_begin(&args->dom, "virDomainBlockCommit", error)))
        return false;
    bj_wait_ended(dom, args->disk);
    g_mutex_lock(&dom->lock);
    running = dom->id >= 0 && dom->live;
    g_mutex_unlock(&dom->lock);
    if (running)
        ok = bj_commit_begun(dom, args->disk, args->base, args->top, bandwidth, args->flags,
                             NULL, error);
    else
        ok = qemu_offline_commit(dom, args->disk, args->base, args->top, bandwidth, args->flags,
                                 error);
    bj_end(dom);
    return ok;
}

/* ------------------------------------------------------------ copy */

typedef struct {
    ConfStorageType type;
    char *path;
    ConfStorageFormat format;   /* NONE: not given */
} BjDest;

static void
bj_dest_clear(BjDest *dest)
{
    g_clear_pointer(&dest->path, g_free);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(BjDest, bj_dest_clear)

/* The host side of a <disk> destination: type, <source>, <driver type>. */
static bool
bj_parse_dest(const char *xml, BjDest *ret, GError **error)
{
    xmlDoc *doc = xmlReadMemory(xml, (int)strnlen(xml, 1 << 20), "destxml", NULL,
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
    xmlChar *type = NULL;
    bool ok = false;

    if (!root || !g_str_equal((const char *)root->name, "disk")) {
        util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                       "XML error: destination must be a <disk> element");
        goto out;
    }
    type = xmlGetProp(root, (const xmlChar *)"type");
    if (!type || g_str_equal((const char *)type, "file"))
        ret->type = CONF_STORAGE_TYPE_FILE;
    else if (g_str_equal((const char *)type, "block"))
        ret->type = CONF_STORAGE_TYPE_BLOCK;
    else {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_CONFIG_UNSUPPORTED,
                       "unsupported configuration: block copy to a disk of type '%s'",
                       (const char *)type);
        goto out;
    }
    for (xmlNode *n = root->children; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE)
            continue;
        if (g_str_equal((const char *)n->name, "source")) {
            xmlChar *p = xmlGetProp(n, (const xmlChar *)(ret->type == CONF_STORAGE_TYPE_FILE
                                                          ? "file" : "dev"));
            g_free(ret->path);
            ret->path = p ? g_strdup((const char *)p) : NULL;
            xmlFree(p);
        } else if (g_str_equal((const char *)n->name, "driver")) {
            xmlChar *f = xmlGetProp(n, (const xmlChar *)"type");
            int format = f ? util_image_format_from_string((const char *)f) : -1;

            if (f && format < 0) {
                util_error_set(error, VIR_FROM_QEMU, VIR_ERR_CONFIG_UNSUPPORTED,
                               "unsupported configuration: block copy to format '%s'",
                               (const char *)f);
                xmlFree(f);
                goto out;
            }
            ret->format = !f ? CONF_STORAGE_FORMAT_NONE
                          : format == UTIL_IMAGE_FORMAT_RAW ? CONF_STORAGE_FORMAT_RAW
                                                            : CONF_STORAGE_FORMAT_QCOW2;
            xmlFree(f);
        }
    }
    if (!ret->path || !g_path_is_absolute(ret->path)) {
        util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                       "XML error: destination needs an absolute <source> path");
        goto out;
    }
    ok = true;
 out:
    xmlFree(type);
    if (doc)
        xmlFreeDoc(doc);
    return ok;
}

typedef struct {
    unsigned long long bandwidth;
    unsigned int granularity;
    unsigned long long buf_size;
} BjCopyParams;

static bool
bj_parse_params(const RemoteTypedParam *params, guint n, BjCopyParams *ret, GError **error)
{
    for (guint i = 0; i < n; i++) {
        const RemoteTypedParam *p = &params[i];
        const char *name = p->field ? p->field : "";
        bool is_ull = p->value.type == BJ_PARAM_ULLONG;

        if (g_str_equal(name, "bandwidth") && is_ull) {
            if (p->value.u.ul > BJ_MAX_BYTES_PER_SEC) {
                util_error_set(error, VIR_FROM_QEMU, VIR_ERR_OVERFLOW,
                               "numerical overflow: bandwidth must be less than %llu",
                               BJ_MAX_BYTES_PER_SEC + 1);
                return false;
            }
            ret->bandwidth = p->value.u.ul;
        } else if (g_str_equal(name, "granularity") && p->value.type == BJ_PARAM_UINT) {
            unsigned int g = p->value.u.ui;

            if (g && ((g & (g - 1)) != 0 || g < 512 || g > 64 * 1024 * 1024)) {
                util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INVALID_ARG,
                               "invalid argument: granularity must be a power of 2 between "
                               "512 and 64 MiB");
                return false;
            }
            ret->granularity = g;
        } else if (g_str_equal(name, "buf-size") && is_ull) {
            ret->buf_size = p->value.u.ul;
        } else {
            util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INVALID_ARG,
                           "invalid argument: parameter '%s' not supported or of the wrong "
                           "type", name);
            return false;
        }
    }
    return true;
}

bool
qemu_blockjob_run_tool(const char *const *argv, GError **error)
{
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    g_autoptr(GError) local = NULL;
    int status = 0;

    if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_CLOEXEC_PIPES,
                      NULL, NULL, &out, &err, &status, &local) ||
        !g_spawn_check_wait_status(status, NULL)) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_OPERATION_FAILED,
                       "operation failed: %s failed: %s", argv[0],
                       local ? local->message : g_strstrip(err ? err : g_strdup("")));
        return false;
    }
    return true;
}

/* A reused shallow copy's destination must back onto the source's
 * backing file: after the pivot the guest reads through it. */
static bool
bj_check_reused_backing(const char *dest, const char *dst, const char *backing, GError **error)
{
    g_auto(UtilImageInfo) info = { 0 };
    g_autofree char *resolved = NULL;

    if (!util_image_probe(dest, UTIL_IMAGE_FORMAT_AUTO, &info, error))
        return false;
    if (info.backing_name && util_image_backing_is_local(info.backing_name))
        resolved = util_image_resolve_backing(dest, info.backing_name);
    if (!resolved || !util_file_same(resolved, backing)) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_CONFIG_UNSUPPORTED,
                       "unsupported configuration: the reused destination '%s' of a shallow "
                       "copy of disk '%s' must name '%s' as its backing file%s%s", dest, dst,
                       backing, info.backing_name ? ", not " : "",
                       info.backing_name ? info.backing_name : "");
        return false;
    }
    return true;
}

/* Copy @disk (or the disk named by @path) of @ref to @dest. */
static bool
bj_copy(const RemoteNonnullDomain *ref, const char *path, BjDest *dest,
        const BjCopyParams *params, unsigned int flags, GError **error)
{
    g_autoptr(BlockJob) job = NULL;
    g_autoptr(ConfStorageSource) mirror = NULL;
    g_autoptr(GPtrArray) nodes = g_ptr_array_new_with_free_func(bj_json_free);
    g_autofree char *src_path = NULL;
    g_autofree char *backing_path = NULL;
    g_autofree char *device_node = NULL;
    g_autofree char *backing_node = NULL;
    g_autofree char *dst = NULL;
    ConfStorageFormat src_format = CONF_STORAGE_FORMAT_RAW;
    ConfStorageFormat backing_format = CONF_STORAGE_FORMAT_RAW;
    bool shallow = flags & BJ_COPY_SHALLOW;
    bool reuse = flags & BJ_COPY_REUSE_EXT;
    bool created = false;
    bool labelled = false;
    json_object *qargs = NULL;
    json_object *props = NULL;
    struct stat st;
    QemuDomain *dom;
    unsigned int n;
    bool ok;

    if (!(dom = bj_begin(ref, "virDomainBlockCopy", error)))
        return false;
    bj_wait_ended(dom, path);
    g_mutex_lock(&dom->lock);
    {
        ConfDomainDiskDef *disk = NULL;

        if (!bj_require_running_locked(dom, error) || !(disk = bj_disk(dom->live, path, error)) ||
            blockjob_check_action(bj_find_disk_locked(dom, disk->dst), disk->dst,
                                  BLOCKJOB_ACTION_START, error) < 0 ||
            !bj_check_nodes(disk, NULL, error)) {
            g_mutex_unlock(&dom->lock);
            bj_end(dom);
            return false;
        }
        dst = g_strdup(disk->dst);
        src_path = g_strdup(disk->src->path);
        src_format = disk->src->format;
        device_node = g_strdup(disk->src->node_name_format);
        if (disk->src->backing) {
            backing_path = g_strdup(disk->src->backing->path);
            backing_format = disk->src->backing->format;
            backing_node = g_strdup(disk->src->backing->node_name_format);
        }
    }
    g_mutex_unlock(&dom->lock);

    if (dest->format == CONF_STORAGE_FORMAT_NONE && !reuse)
        dest->format = src_format;
    if (dest->format == CONF_STORAGE_FORMAT_NONE) {
        g_auto(UtilImageInfo) info = { 0 };

        if (!util_image_probe(dest->path, UTIL_IMAGE_FORMAT_AUTO, &info, NULL))
            dest->format = CONF_STORAGE_FORMAT_RAW;
        else
            dest->format = info.format == UTIL_IMAGE_FORMAT_QCOW2 ? CONF_STORAGE_FORMAT_QCOW2
                                                                  : CONF_STORAGE_FORMAT_RAW;
    }
    if (shallow && backing_path && dest->format == CONF_STORAGE_FORMAT_RAW) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_CONFIG_UNSUPPORTED,
                       "unsupported configuration: shallow copy of disk '%s' to a raw "
                       "destination: it has a backing file", dst);
        bj_end(dom);
        return false;
    }
    if (!shallow)
        g_clear_pointer(&backing_node, g_free);
    if (stat(dest->path, &st) < 0) {
        if (reuse || errno != ENOENT || dest->type == CONF_STORAGE_TYPE_BLOCK) {
            util_error_set_errno(error, VIR_FROM_QEMU, errno, "unable to stat for disk %s: %s",
                                 dst, dest->path);
            bj_end(dom);
            return false;
        }
    } else if (!reuse && S_ISREG(st.st_mode) && st.st_size > 0) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_CONFIG_UNSUPPORTED,
                       "unsupported configuration: external destination file for disk %s "
                       "already exists and is not a block device: %s", dst, dest->path);
        bj_end(dom);
        return false;
    }
    if (reuse && shallow && backing_path && !bj_check_reused_backing(dest->path, dst,
                                                                      backing_path, error)) {
        bj_end(dom);
        return false;
    }
    if (!reuse && dest->type == CONF_STORAGE_TYPE_FILE) {
        g_auto(UtilImageInfo) info = { 0 };
        g_autofree char *size = NULL;
        const char *argv[16];
        int i = 0;

        if (!util_image_probe(src_path, src_format == CONF_STORAGE_FORMAT_QCOW2
                                        ? UTIL_IMAGE_FORMAT_QCOW2 : UTIL_IMAGE_FORMAT_RAW,
                              &info, error)) {
            bj_end(dom);
            return false;
        }
        size = g_strdup_printf("%" G_GUINT64_FORMAT, info.virtual_size);
        argv[i++] = "qemu-img";
        argv[i++] = "create";
        argv[i++] = "-q";
        argv[i++] = "-f";
        argv[i++] = conf_storage_format_to_string(dest->format);
        if (shallow && backing_path) {
            argv[i++] = "-F";
            argv[i++] = conf_storage_format_to_string(backing_format);
            argv[i++] = "-b";
            argv[i++] = backing_path;
        }
        argv[i++] = dest->path;
        argv[i++] = size;
        argv[i] = NULL;
        if (!qemu_blockjob_run_tool(argv, error)) {
            bj_end(dom);
            return false;
        }
        created = true;
    }

    g_mutex_lock(&dom->lock);
    if (!dom->live->node_name_index)
        dom->live->node_name_index = 1;
    qemu_command_assign_names_counter(dom->live, &dom->live->node_name_index);
    n = dom->live->node_name_index++;
    g_mutex_unlock(&dom->lock);

    mirror = conf_storage_source_new(dest->type);
    mirror->path = g_strdup(dest->path);
    mirror->format = dest->format;
    mirror->node_name_storage = g_strdup_printf(QEMU_NODE_PREFIX "%u-storage", n);
    mirror->node_name_format = g_strdup_printf(QEMU_NODE_PREFIX "%u-format", n);

    props = json_object_new_object();
    json_object_object_add(props, "driver", json_object_new_string(
                               dest->type == CONF_STORAGE_TYPE_BLOCK ? "host_device" : "file"));
    json_object_object_add(props, "filename", json_object_new_string(dest->path));
    json_object_object_add(props, "node-name", json_object_new_string(mirror->node_name_storage));
    json_object_object_add(props, "auto-read-only", json_object_new_boolean(true));
    json_object_object_add(props, "discard", json_object_new_string("unmap"));
    g_ptr_array_add(nodes, props);
    props = json_object_new_object();
    json_object_object_add(props, "driver", json_object_new_string(
                               conf_storage_format_to_string(dest->format)));
    json_object_object_add(props, "file", json_object_new_string(mirror->node_name_storage));
    json_object_object_add(props, "node-name", json_object_new_string(mirror->node_name_format));
    if (dest->format == CONF_STORAGE_FORMAT_QCOW2)
        json_object_object_add(props, "backing",
                               backing_node ? json_object_new_string(backing_node) : NULL);
    g_ptr_array_add(nodes, props);

    job = blockjob_new(BLOCKJOB_TYPE_COPY, dst, device_node);
    job->top_node = g_strdup(device_node);
    job->mirror = conf_storage_source_copy(mirror);
    job->bandwidth = params->bandwidth;
    if (shallow)
        job->flags |= BLOCKJOB_FLAG_SHALLOW;
    if (reuse)
        job->flags |= BLOCKJOB_FLAG_REUSE_EXT;
    if (flags & BJ_COPY_TRANSIENT_JOB)
        job->flags |= BLOCKJOB_FLAG_TRANSIENT;
    if (flags & BJ_COPY_SYNCHRONOUS_WRITES)
        job->flags |= BLOCKJOB_FLAG_SYNC_WRITES;

    qargs = json_object_new_object();
    json_object_object_add(qargs, "job-id", json_object_new_string(job->id));
    json_object_object_add(qargs, "device", json_object_new_string(device_node));
    json_object_object_add(qargs, "target", json_object_new_string(mirror->node_name_format));
    json_object_object_add(qargs, "sync", json_object_new_string(shallow ? "top" : "full"));
    if (params->bandwidth)
        json_object_object_add(qargs, "speed", json_object_new_int64((gint64)params->bandwidth));
    if (params->granularity)
        json_object_object_add(qargs, "granularity", json_object_new_int64(params->granularity));
    if (params->buf_size)
        json_object_object_add(qargs, "buf-size",
                               json_object_new_int64((gint64)MIN(params->buf_size, G_MAXINT64)));
    if (flags & BJ_COPY_SYNCHRONOUS_WRITES)
        json_object_object_add(qargs, "copy-mode", json_object_new_string("write-blocking"));
    json_object_object_add(qargs, "auto-dismiss", json_object_new_boolean(false));

    /* QEMU opens the destination as the user it runs as (if QEMU is gone
     * meanwhile, bj_start says so) */
    g_mutex_lock(&dom->lock);
    ok = !dom->live || (labelled = qemu_security_label_new(dom->live, dest->path, error));
    g_mutex_unlock(&dom->lock);
    ok = ok && bj_start(dom, g_steal_pointer(&job), g_steal_pointer(&mirror),
                              CONF_DOMAIN_DISK_MIRROR_JOB_COPY, g_steal_pointer(&nodes),
                              "blockdev-mirror", g_steal_pointer(&qargs), error);
    if (!ok && labelled)
        qemu_security_restore_path(dest->path);
    json_object_put(qargs);
    if (!ok && created)
        unlink(dest->path);
    bj_end(dom);
    return ok;
}

static bool
bj_block_copy(RpcServerCall *call, const RemoteDomainBlockCopyArgs *args, GError **error)
{
    g_auto(BjDest) dest = { 0 };
    BjCopyParams params = { 0 };

    if (!qemu_check_flags(args->flags, 0xf, "virDomainBlockCopy", error) ||
        !bj_parse_params(args->params_val, args->params_len, &params, error) ||
        !bj_parse_dest(args->destxml, &dest, error))
        return false;
    return bj_copy(&args->dom, args->path, &dest, &params, args->flags, error);
}

/* Starts streaming into @top_name (NULL: the active layer) of @path's
 * chain everything above @base (NULL: the whole chain), the caller
 * holding the domain's state-change job; @ret_id: the job's id. */
static bool
bj_pull_begun(QemuDomain *dom, const char *path, const char *top_name, const char *base,
              unsigned long long bandwidth, unsigned int flags, char **ret_id, GError **error)
{
    g_autoptr(BlockJob) job = NULL;
    g_autofree char *id = NULL;
    json_object *qargs = NULL;

    g_mutex_lock(&dom->lock);
    {
        ConfDomainDiskDef *disk = NULL;
        ConfStorageSource *top = NULL;
        ConfStorageSource *base_src = NULL;
        g_autofree char *backing = NULL;

        if (!bj_require_running_locked(dom, error) || !(disk = bj_disk(dom->live, path, error)) ||
            blockjob_check_action(bj_find_disk_locked(dom, disk->dst), disk->dst,
                                  BLOCKJOB_ACTION_START, error) < 0 ||
            !(top = top_name ? bj_lookup_layer(disk, top_name, error) : disk->src) ||
            (base && !(base_src = bj_lookup_layer(disk, base, error))) ||
            !bj_check_nodes(disk, base_src, error)) {
            g_mutex_unlock(&dom->lock);
            return false;
        }
        if (base_src && !bj_is_below(top, base_src)) {
            if (base_src == disk->src)
                util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INVALID_ARG,
                               "invalid argument: base '%s' is the active layer of disk '%s'",
                               base, disk->dst);
            else
                util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INVALID_ARG,
                               "invalid argument: could not find base image '%s' below '%s' "
                               "in chain for '%s'", base, top->path, disk->dst);
            g_mutex_unlock(&dom->lock);
            return false;
        }
        if (base_src && !(backing = qemu_blockjob_backing_name(
                              top, base_src, flags & BJ_REBASE_RELATIVE, error))) {
            g_mutex_unlock(&dom->lock);
            return false;
        }
        job = blockjob_new(BLOCKJOB_TYPE_PULL, disk->dst, top->node_name_format);
        job->top_node = g_strdup(top->node_name_format);
        job->base_node = base_src ? g_strdup(base_src->node_name_format) : NULL;
        job->backing_name = g_strdup(backing);
        job->bandwidth = bandwidth;
        if (flags & BJ_REBASE_RELATIVE)
            job->flags |= BLOCKJOB_FLAG_RELATIVE;
        id = g_strdup(job->id);
        qargs = json_object_new_object();
        json_object_object_add(qargs, "job-id", json_object_new_string(job->id));
        json_object_object_add(qargs, "device", json_object_new_string(top->node_name_format));
        if (base_src) {
            json_object_object_add(qargs, "base-node",
                                   json_object_new_string(base_src->node_name_format));
            json_object_object_add(qargs, "backing-file", json_object_new_string(backing));
        }
        if (bandwidth)
            json_object_object_add(qargs, "speed", json_object_new_int64((gint64)bandwidth));
        json_object_object_add(qargs, "auto-dismiss", json_object_new_boolean(false));
    }
    g_mutex_unlock(&dom->lock);
    if (!bj_start(dom, g_steal_pointer(&job), NULL, CONF_DOMAIN_DISK_MIRROR_JOB_COPY, NULL,
                  "block-stream", qargs, error))
        return false;
    if (ret_id)
        *ret_id = g_steal_pointer(&id);
    return true;
}

static bool
bj_pull_start(const RemoteNonnullDomain *ref, const char *path, const char *base,
              unsigned long long bandwidth, unsigned int flags, GError **error)
{
    QemuDomain *dom;
    bool ok;

    if (!(dom = bj_begin(ref, "virDomainBlockPull", error)))
        return false;
    bj_wait_ended(dom, path);
    ok = bj_pull_begun(dom, path, NULL, base, bandwidth, flags, NULL, error);
    bj_end(dom);
    return ok;
}

static bool
bj_rebase_common(const RemoteNonnullDomain *ref, const char *path, const char *base,
                 unsigned long long bandwidth, unsigned int flags, const char *api,
                 GError **error)
{
    unsigned long long bytes = 0;

    if (!qemu_check_flags(flags, 0x7f, api, error))
        return false;
    if (flags & BJ_REBASE_COPY) {
        g_auto(BjDest) dest = { 0 };
        BjCopyParams params = { 0 };
        unsigned int copy_flags = 0;

        if (flags & BJ_REBASE_RELATIVE) {
            util_error_set(error, VIR_FROM_QEMU, VIR_ERR_ARGUMENT_UNSUPPORTED,
                           "argument unsupported: Relative backing during copy not supported yet");
            return false;
        }
        if (!base || !g_path_is_absolute(base)) {
            util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INVALID_ARG,
                           "invalid argument: block copy needs an absolute destination path");
            return false;
        }
        if (!qemu_blockjob_scale_bandwidth(bandwidth, flags & BJ_REBASE_BANDWIDTH_BYTES,
                                           &params.bandwidth, error))
            return false;
        dest.type = (flags & BJ_REBASE_COPY_DEV) ? CONF_STORAGE_TYPE_BLOCK
                                                 : CONF_STORAGE_TYPE_FILE;
        dest.path = g_strdup(base);
        dest.format = (flags & BJ_REBASE_COPY_RAW) ? CONF_STORAGE_FORMAT_RAW
                                                   : CONF_STORAGE_FORMAT_NONE;
        if (flags & BJ_REBASE_SHALLOW)
            copy_flags |= BJ_COPY_SHALLOW;
        if (flags & BJ_REBASE_REUSE_EXT)
            copy_flags |= BJ_COPY_REUSE_EXT;
        /* the old API: the copy is a transient job (libvirt's rule) */
        copy_flags |= BJ_COPY_TRANSIENT_JOB;
        return bj_copy(ref, path, &dest, &params, copy_flags, error);
    }
    if (flags & ~(unsigned int)(BJ_REBASE_RELATIVE | BJ_REBASE_BANDWIDTH_BYTES)) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INVALID_ARG,
                       "invalid argument: flags (0x%x) need VIR_DOMAIN_BLOCK_REBASE_COPY",
                       flags & ~(unsigned int)(BJ_REBASE_RELATIVE | BJ_REBASE_BANDWIDTH_BYTES));
        return false;
    }
    if ((flags & BJ_REBASE_RELATIVE) && !base) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INVALID_ARG,
                       "invalid argument: flag VIR_DOMAIN_BLOCK_REBASE_RELATIVE is valid "
                       "only with non-null base");
        return false;
    }
    if (!qemu_blockjob_scale_bandwidth(bandwidth, flags & BJ_REBASE_BANDWIDTH_BYTES, &bytes,
                                       error))
        return false;
    return bj_pull_start(ref, path, base, bytes, flags, error);
}

static bool
bj_block_pull(RpcServerCall *call, const RemoteDomainBlockPullArgs *args, GError **error)
{
    if (!qemu_check_flags(args->flags, BJ_REBASE_BANDWIDTH_BYTES, "virDomainBlockPull", error))
        return false;
    return bj_rebase_common(&args->dom, args->path, NULL, args->bandwidth, args->flags,
                            "virDomainBlockPull", error);
}

static bool
bj_block_rebase(RpcServerCall *call, const RemoteDomainBlockRebaseArgs *args, GError **error)
{
    return bj_rebase_common(&args->dom, args->path, args->base, args->bandwidth, args->flags,
                            "virDomainBlockRebase", error);
}

/* ------------------------------------------------------------ abort, speed, info */

/* The job on the disk @path names, a copy (NULL: none) and the target. */
static bool
bj_disk_job_locked(QemuDomain *dom, const char *path, char **ret_dst, BlockJob **ret_job,
                   GError **error)
{
    ConfDomainDiskDef *disk;
    BlockJob *job;

    if (!bj_require_running_locked(dom, error) || !(disk = bj_disk(dom->live, path, error)))
        return false;
    job = bj_find_disk_locked(dom, disk->dst);
    *ret_dst = g_strdup(disk->dst);
    *ret_job = job;
    return true;
}

/* Sends what @action asks of @id's job to QEMU: job-complete for a pivot,
 * block-job-cancel for an abort after READY (the copy keeps its point in
 * time), job-cancel otherwise.  The action is already applied to the
 * record; a refusal by QEMU is fed back to it.  State-change job held. */
static bool
bj_send_request(QemuDomain *dom, const char *id, BlockJobAction action, bool soft, GError **error)
{
    g_autoptr(QemuMonitor) mon = NULL;
    g_autoptr(json_object) reply = NULL;
    g_autoptr(GError) local = NULL;
    BlockJobStep step = { 0 };

    if ((mon = qemu_domain_get_monitor(dom, &local))) {
        json_object *qargs = json_object_new_object();

        if (action == BLOCKJOB_ACTION_PIVOT) {
            json_object_object_add(qargs, "id", json_object_new_string(id));
            reply = qemu_monitor_command(mon, "job-complete", qargs, 0, &local);
        } else if (soft) {
            /* a ready mirror keeps its point-in-time copy (spec 3.3) */
            json_object_object_add(qargs, "device", json_object_new_string(id));
            reply = qemu_monitor_command(mon, "block-job-cancel", qargs, 0, &local);
        } else {
            json_object_object_add(qargs, "id", json_object_new_string(id));
            reply = qemu_monitor_command(mon, "job-cancel", qargs, 0, &local);
        }
    }
    if (reply)
        return true;
    g_mutex_lock(&dom->lock);
    {
        BlockJob *job = bj_find_locked(dom, id);

        if (job && blockjob_apply_event(job, BLOCKJOB_EVENT_REQUEST_FAILED, NULL, &step, NULL))
            bj_sync_mirror_locked(dom, job);
    }
    g_mutex_unlock(&dom->lock);
    bj_save(dom);
    g_propagate_error(error, g_steal_pointer(&local));
    return false;
}

/* Waits until @id's record is gone: its end applied to the definition,
 * its event sent.  The outcome (FAILED when QEMU ended first; COMPLETED
 * when the record went without a known end) and QEMU's error. */
static BlockJobStatus
bj_wait_gone(QemuDomain *dom, const char *id, char **ret_error)
{
    for (;;) {
        guint64 seen = bj_changes();
        BlockJobStatus outcome = BLOCKJOB_STATUS_COMPLETED;
        bool gone;
        bool stopped;

        g_mutex_lock(&dom->lock);
        gone = !bj_find_locked(dom, id);
        stopped = dom->id < 0;
        g_mutex_unlock(&dom->lock);
        if (gone) {
            g_mutex_lock(&bj_side_lock);
            {
                BjSide *side = bj_side_locked(dom, id);

                if (stopped) {
                    outcome = BLOCKJOB_STATUS_FAILED;
                } else if (side->ended) {
                    outcome = side->outcome;
                    if (ret_error)
                        *ret_error = g_strdup(side->error);
                }
            }
            g_mutex_unlock(&bj_side_lock);
            bj_side_remove(dom, id);
            return outcome;
        }
        bj_wait_change(seen);
    }
}

/* Waits until @id is READY (true) or its record is gone (false). */
static bool
bj_wait_ready(QemuDomain *dom, const char *id)
{
    for (;;) {
        guint64 seen = bj_changes();
        BlockJob *job;
        bool ready;

        g_mutex_lock(&dom->lock);
        job = bj_find_locked(dom, id);
        ready = job && job->ready;
        g_mutex_unlock(&dom->lock);
        if (!job || ready)
            return ready;
        bj_wait_change(seen);
    }
}

static bool
bj_abort(RpcServerCall *call, const RemoteDomainBlockJobAbortArgs *args, GError **error)
{
    g_autofree char *dst = NULL;
    g_autofree char *id = NULL;
    bool pivot = args->flags & BJ_ABORT_PIVOT;
    BlockJobAction action = pivot ? BLOCKJOB_ACTION_PIVOT
                            : (args->flags & BJ_ABORT_ASYNC) ? BLOCKJOB_ACTION_ABORT_ASYNC
                                                              : BLOCKJOB_ACTION_ABORT;
    bool soft = false;
    QemuDomain *dom;

    if (!qemu_check_flags(args->flags, BJ_ABORT_ASYNC | BJ_ABORT_PIVOT,
                          "virDomainBlockJobAbort", error) ||
        !(dom = bj_begin(&args->dom, "virDomainBlockJobAbort", error)))
        return false;
    g_mutex_lock(&dom->lock);
    {
        BlockJob *job = NULL;

        if (!bj_disk_job_locked(dom, args->path, &dst, &job, error) ||
            blockjob_check_action(job, dst, action, error) < 0 ||
            !blockjob_apply_action(job, action, error)) {
            g_mutex_unlock(&dom->lock);
            bj_end(dom);
            return false;
        }
        id = g_strdup(job->id);
        soft = blockjob_type_is_two_phase(job->type) && job->ready;
        bj_sync_mirror_locked(dom, job);
    }
    g_mutex_unlock(&dom->lock);
    bj_save(dom);

    if (!bj_send_request(dom, id, action, soft, error)) {
        bj_end(dom);
        return false;
    }
    qemu_domain_job_end(dom);

    /* synchronous: return once the end is applied to the definition (a
     * new job may start on the disk at once) */
    if (!(args->flags & BJ_ABORT_ASYNC) &&
        bj_wait_gone(dom, id, NULL) != BLOCKJOB_STATUS_COMPLETED && pivot) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_OPERATION_FAILED,
                       "operation failed: pivot of disk '%s' failed", dst);
        qemu_domain_unref(dom);
        return false;
    }
    qemu_domain_unref(dom);
    return true;
}

static bool
bj_set_speed(RpcServerCall *call, const RemoteDomainBlockJobSetSpeedArgs *args, GError **error)
{
    g_autofree char *dst = NULL;
    g_autofree char *id = NULL;
    g_autoptr(QemuMonitor) mon = NULL;
    g_autoptr(json_object) reply = NULL;
    unsigned long long bytes = 0;
    json_object *qargs;
    QemuDomain *dom;

    if (!qemu_check_flags(args->flags, BJ_SPEED_BANDWIDTH_BYTES, "virDomainBlockJobSetSpeed",
                          error) ||
        !qemu_blockjob_scale_bandwidth(args->bandwidth, args->flags & BJ_SPEED_BANDWIDTH_BYTES,
                                       &bytes, error) ||
        !(dom = bj_begin(&args->dom, "virDomainBlockJobSetSpeed", error)))
        return false;
    g_mutex_lock(&dom->lock);
    {
        BlockJob *job = NULL;

        if (!bj_disk_job_locked(dom, args->path, &dst, &job, error) ||
            blockjob_check_action(job, dst, BLOCKJOB_ACTION_SET_SPEED, error) < 0) {
            g_mutex_unlock(&dom->lock);
            bj_end(dom);
            return false;
        }
        id = g_strdup(job->id);
    }
    g_mutex_unlock(&dom->lock);
    if (!(mon = qemu_domain_get_monitor(dom, error))) {
        bj_end(dom);
        return false;
    }
    qargs = json_object_new_object();
    json_object_object_add(qargs, "device", json_object_new_string(id));
    json_object_object_add(qargs, "speed", json_object_new_int64((gint64)bytes));
    if (!(reply = qemu_monitor_command(mon, "block-job-set-speed", qargs, 0, error))) {
        bj_end(dom);
        return false;
    }
    g_mutex_lock(&dom->lock);
    {
        BlockJob *job = bj_find_locked(dom, id);
        if (job)
            job->bandwidth = bytes;
    }
    g_mutex_unlock(&dom->lock);
    g_mutex_lock(&bj_side_lock);
    bj_side_locked(dom, id)->speed = bytes;
    g_mutex_unlock(&bj_side_lock);
    bj_save(dom);
    bj_end(dom);
    return true;
}

/* Record the progress of each of @dom's jobs from @reply, QEMU's answer
 * to query-block-jobs (a job QEMU no longer lists has no progress). */
static void
bj_progress_update(QemuDomain *dom, json_object *reply)
{
    g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func(g_free);

    if (reply && json_object_is_type(reply, json_type_array)) {
        g_mutex_lock(&dom->lock);
        for (guint i = 0; dom->blockjobs && i < dom->blockjobs->len; i++)
            g_ptr_array_add(ids, g_strdup(((BlockJob *)g_ptr_array_index(dom->blockjobs, i))->id));
        g_mutex_unlock(&dom->lock);
        g_mutex_lock(&bj_side_lock);
        for (guint k = 0; k < ids->len; k++) {
            const char *id = g_ptr_array_index(ids, k);
            BjSide *side = bj_side_locked(dom, id);

            side->have_progress = false;
            for (size_t i = 0; i < json_object_array_length(reply); i++) {
                json_object *j = json_object_array_get_idx(reply, i);
                guint64 offset = 0;
                guint64 len = 0;
                guint64 speed = 0;

                if (g_strcmp0(bj_json_str(j, "device"), id) != 0 ||
                    !bj_json_u64(j, "offset", &offset) || !bj_json_u64(j, "len", &len))
                    continue;
                side->have_progress = true;
                side->offset = offset;
                side->len = len;
                if (bj_json_u64(j, "speed", &speed))
                    side->speed = speed;
            }
        }
        g_mutex_unlock(&bj_side_lock);
    }
}

/* A progress query QEMU does not answer within this long is left behind
 * and the call answers from the last progress QEMU gave. */
#define BJ_INFO_QUERY_TIMEOUT_MS 1000

/* Runs on a worker: asks QEMU for the job's progress now, so that a
 * client polling a job sees it advance (virsh blockjob --info, --wait). */
static bool
bj_get_info(RpcServerCall *call, const RemoteDomainGetBlockJobInfoArgs *args,
            RemoteDomainGetBlockJobInfoRet *ret, GError **error)
{
    g_autoptr(QemuDomain) dom = NULL;
    g_autofree char *dst = NULL;
    g_autoptr(BlockJob) job = NULL;
    g_autoptr(QemuMonitor) mon = NULL;
    g_autofree char *name = NULL;
    BlockJobInfo info = { 0 };
    int rc;

    if (!qemu_check_flags(args->flags, BJ_INFO_BANDWIDTH_BYTES, "virDomainGetBlockJobInfo",
                          error) ||
        !(dom = qemu_domain_lookup(&args->dom, error)))
        return false;
    g_mutex_lock(&dom->lock);
    {
        BlockJob *cur = NULL;

        if (!bj_disk_job_locked(dom, args->path, &dst, &cur, error) ||
            (rc = blockjob_check_action(cur, dst, BLOCKJOB_ACTION_INFO, error)) < 0) {
            g_mutex_unlock(&dom->lock);
            return false;
        }
        if (rc > 0)
            job = blockjob_copy(cur);
        if (dom->mon)
            mon = qemu_monitor_ref(dom->mon);
        name = g_strdup(dom->def->name);
    }
    g_mutex_unlock(&dom->lock);
    if (!job) {
        ret->found = 0;
        return true;
    }
    if (mon) {
        g_autoptr(GError) qerr = NULL;
        json_object *reply = qemu_monitor_command(mon, "query-block-jobs", NULL,
                                                  BJ_INFO_QUERY_TIMEOUT_MS, &qerr);

        if (reply)
            bj_progress_update(dom, reply);
        else
            g_warning("domain '%s': block job '%s': progress not refreshed: %s", name,
                      job->id, qerr->message);
        json_object_put(reply);
    }
    g_mutex_lock(&bj_side_lock);
    {
        BjSide *side = bj_side_locked(dom, job->id);

        blockjob_info(job, side->have_progress, side->offset, side->len,
                      side->have_progress ? side->speed : job->bandwidth,
                      args->flags & BJ_INFO_BANDWIDTH_BYTES, &info);
    }
    g_mutex_unlock(&bj_side_lock);
    ret->found = 1;
    ret->type = info.type;
    ret->bandwidth = info.bandwidth;
    ret->cur = info.cur;
    ret->end = info.end;
    return true;
}

static bool
bj_get_block_info(RpcServerCall *call, const RemoteDomainGetBlockInfoArgs *args,
                  RemoteDomainGetBlockInfoRet *ret, GError **error)
{
    g_autoptr(QemuDomain) dom = NULL;
    g_autofree char *path = NULL;
    g_auto(UtilImageInfo) info = { 0 };
    ConfStorageFormat format = CONF_STORAGE_FORMAT_RAW;
    struct stat st;

    if (!qemu_check_flags(args->flags, 0, "virDomainGetBlockInfo", error) ||
        !(dom = qemu_domain_lookup(&args->dom, error)))
        return false;
    g_mutex_lock(&dom->lock);
    {
        ConfDomainDiskDef *disk = bj_disk(dom->live ? dom->live : dom->def, args->path, error);

        if (disk) {
            path = g_strdup(disk->src->path);
            format = disk->src->format;
        }
    }
    g_mutex_unlock(&dom->lock);
    if (!path)
        return false;
    if (stat(path, &st) < 0) {
        util_error_set_errno(error, VIR_FROM_QEMU, errno, "cannot stat file '%s'", path);
        return false;
    }
    if (!util_image_probe(path, format == CONF_STORAGE_FORMAT_QCOW2 ? UTIL_IMAGE_FORMAT_QCOW2
                                                                    : UTIL_IMAGE_FORMAT_RAW,
                          &info, error))
        return false;
    ret->capacity = info.virtual_size;
    ret->physical = info.physical_size;
    ret->allocation = S_ISREG(st.st_mode) ? (guint64)st.st_blocks * 512 : info.physical_size;
    return true;
}

/* ------------------------------------------------------------ merging */

void
qemu_blockjob_settle(QemuDomain *dom)
{
    g_autoptr(GPtrArray) dsts = g_ptr_array_new_with_free_func(g_free);

    bj_wait_reconciled(dom);
    g_mutex_lock(&dom->lock);
    for (guint i = 0; dom->blockjobs && i < dom->blockjobs->len; i++)
        g_ptr_array_add(dsts, g_strdup(((BlockJob *)g_ptr_array_index(dom->blockjobs, i))->disk));
    g_mutex_unlock(&dom->lock);
    for (guint i = 0; i < dsts->len; i++)
        bj_wait_ended(dom, g_ptr_array_index(dsts, i));
}

/* @job is the active commit of @disk's active layer @top into the layer
 * below it: what an interrupted merge of @top left (taken over). */
static bool
bj_is_merge_of(const BlockJob *job, const ConfDomainDiskDef *disk, const char *top)
{
    return job && disk && job->type == BLOCKJOB_TYPE_ACTIVE_COMMIT &&
           g_strcmp0(disk->src->path, top) == 0 && disk->src->backing &&
           g_strcmp0(job->top_node, disk->src->node_name_format) == 0 &&
           g_strcmp0(job->base_node, disk->src->backing->node_name_format) == 0;
}

bool
qemu_blockjob_check_disk_free(QemuDomain *dom, const char *dst, const char *top,
                              GError **error)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&dom->lock);
    BlockJob *job;

    if (dom->id < 0 || !dom->live)
        return true;
    job = bj_find_disk_locked(dom, dst);
    if (bj_is_merge_of(job, bj_live_disk_locked(dom, dst), top))
        return true;
    return blockjob_check_action(job, dst, BLOCKJOB_ACTION_START, error) >= 0;
}

/* What qemu_blockjob_merge() needs to know of the layer it merges. */
typedef struct {
    char *base;                 /* the layer's backing file */
    char *below;                /* what that backs onto, NULL: nothing */
    bool active;                /* the layer is the disk's active layer */
    bool relative;              /* keep a relative backing name */
    char *adopt;                /* a READY active commit of these layers */
} BjMergePlan;

static void
bj_merge_plan_clear(BjMergePlan *plan)
{
    g_free(plan->base);
    g_free(plan->below);
    g_free(plan->adopt);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(BjMergePlan, bj_merge_plan_clear)

static bool
bj_merge_plan(const ConfDomainDiskDef *disk, const char *path, QemuMergeMode mode,
              BjMergePlan *plan, GError **error)
{
    ConfStorageSource *parent = NULL;
    ConfStorageSource *layer = conf_storage_source_find(disk->src, path, &parent);
    g_autoptr(GError) local = NULL;
    g_autofree char *name = NULL;

    if (!layer || !layer->backing) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_OPERATION_INVALID,
                       "Requested operation is not valid: image '%s' is not a layer with a "
                       "backing file in the chain of disk '%s'", path, disk->dst);
        return false;
    }
    plan->base = g_strdup(layer->backing->path);
    plan->below = layer->backing->backing ? g_strdup(layer->backing->backing->path) : NULL;
    plan->active = !parent;
    if (mode == QEMU_MERGE_COMMIT && parent)
        name = qemu_blockjob_backing_name(parent, layer->backing, true, &local);
    else if (mode == QEMU_MERGE_PULL && layer->backing->backing)
        name = qemu_blockjob_backing_name(layer, layer->backing->backing, true, &local);
    plan->relative = name != NULL;
    return true;
}

bool
qemu_blockjob_merge(QemuDomain *dom, const char *name, const char *path, QemuMergeMode mode,
                    GError **error)
{
    g_auto(BjMergePlan) plan = { 0 };
    g_autofree char *id = NULL;
    g_autofree char *qemu_error = NULL;
    unsigned int flags = 0;
    BlockJobStatus outcome;
    bool running;

    bj_wait_reconciled(dom);
    bj_wait_ended(dom, name);
    g_mutex_lock(&dom->lock);
    running = dom->id >= 0 && dom->live;
    if (running) {
        ConfDomainDiskDef *disk = bj_disk(dom->live, name, error);
        BlockJob *job = disk ? bj_find_disk_locked(dom, disk->dst) : NULL;

        if (!disk || !bj_merge_plan(disk, path, mode, &plan, error)) {
            g_mutex_unlock(&dom->lock);
            return false;
        }
        if (bj_is_merge_of(job, disk, path))
            plan.adopt = g_strdup(job->id);
    }
    g_mutex_unlock(&dom->lock);

    if (!running) {
        g_autofree char *dst = NULL;
        g_autoptr(ConfStorageSource) chain = NULL;
        ConfDomainDiskDef view = { 0 };
        bool given;

        if (!(chain = qemu_offline_chain(dom, name, &dst, &given, error)))
            return false;
        view.dst = dst;
        view.src = chain;
        if (!bj_merge_plan(&view, path, mode, &plan, error))
            return false;
    }
    flags = QEMU_COMMIT_DELETE | (plan.active ? QEMU_COMMIT_ACTIVE : 0) |
            (plan.relative ? QEMU_COMMIT_RELATIVE : 0);
    if (!running && mode == QEMU_MERGE_PULL)
        return qemu_offline_pull(dom, name, path, plan.relative, error);
    if (!running)
        return qemu_offline_commit(dom, name, plan.base, path, 0, flags, error);

    if (mode == QEMU_MERGE_PULL) {
        if (!bj_pull_begun(dom, name, path, plan.below, 0,
                           plan.relative ? BJ_REBASE_RELATIVE : 0, &id, error))
            return false;
    } else if (plan.adopt) {
        g_info("domain '%s': taking over the ready commit '%s' of '%s'", dom->def->name,
               plan.adopt, path);
        id = g_steal_pointer(&plan.adopt);
    } else if (!bj_commit_begun(dom, name, plan.base, path, 0, flags, &id, error)) {
        return false;
    }
    if (mode == QEMU_MERGE_COMMIT && plan.active && bj_wait_ready(dom, id)) {
        bool pivot = false;

        g_mutex_lock(&dom->lock);
        {
            BlockJob *job = bj_find_locked(dom, id);

            if (job && job->state == BLOCKJOB_STATE_PIVOTING)
                job = NULL;     /* a pivot sent before a restart: it ends */
            if (job && !(pivot = blockjob_apply_action(job, BLOCKJOB_ACTION_PIVOT, error))) {
                g_mutex_unlock(&dom->lock);
                return false;
            }
            if (job)
                bj_sync_mirror_locked(dom, job);
        }
        g_mutex_unlock(&dom->lock);
        if (pivot) {
            bj_save(dom);
            if (!bj_send_request(dom, id, BLOCKJOB_ACTION_PIVOT, false, error))
                return false;
        }
    }
    outcome = bj_wait_gone(dom, id, &qemu_error);
    if (outcome != BLOCKJOB_STATUS_COMPLETED) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_OPERATION_FAILED,
                       "operation failed: %s of '%s' into '%s' on disk '%s' %s%s%s",
                       mode == QEMU_MERGE_COMMIT ? "block commit" : "block pull",
                       mode == QEMU_MERGE_COMMIT ? path : plan.base,
                       mode == QEMU_MERGE_COMMIT ? plan.base : path, name,
                       outcome == BLOCKJOB_STATUS_CANCELED ? "was canceled" : "failed",
                       qemu_error ? ": " : "", qemu_error ? qemu_error : "");
        return false;
    }
    return true;
}

void
qemu_blockjob_fill_ops(RemoteServerOps *ops)
{
    ops->domain_block_commit = bj_commit;
    ops->domain_block_pull = bj_block_pull;
    ops->domain_block_rebase = bj_block_rebase;
    ops->domain_block_copy = bj_block_copy;
    ops->domain_block_job_abort = bj_abort;
    ops->domain_block_job_set_speed = bj_set_speed;
    ops->domain_get_block_job_info = bj_get_info;
    ops->domain_get_block_info = bj_get_block_info;
}
