/*
 * qemu-domain.c: virtqemud's domain registry and the procedures on
 * definitions: define, undefine, lookups, lists, XML, info, state and
 * autostart, with DEFINED/UNDEFINED lifecycle events.
 *
 * Locking: the registry's GRWLock and each domain's mutex are only ever
 * held for a few memory operations, so the high-priority procedures here
 * may run on the daemon's main loop.  Definitions on disk are written
 * whole (temporary file, fsync, rename) before the registry changes.
 */
#define G_LOG_DOMAIN "virtqemud.domain"

#include "qemu-domain.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qemu-blockjob.h"
#include "qemu-process.h"
#include "qemu-snapshot.h"
#include "util-error.h"
#include "util-file.h"
#include "util-process.h"

/* event details of DEFINED and UNDEFINED */
#define EVENT_DEFINED_ADDED 0
#define EVENT_DEFINED_UPDATED 1
#define EVENT_UNDEFINED_REMOVED 0
/* virDomainEventID */
#define DOMAIN_EVENT_ID_LIFECYCLE 0
#define DOMAIN_EVENT_ID_REBOOT 1
#define DOMAIN_EVENT_ID_IO_ERROR 4
#define DOMAIN_EVENT_ID_IO_ERROR_REASON 6

/* virConnectListAllDomainsFlags */
enum {
    LIST_ACTIVE = 1 << 0,
    LIST_INACTIVE = 1 << 1,
    LIST_PERSISTENT = 1 << 2,
    LIST_TRANSIENT = 1 << 3,
    LIST_RUNNING = 1 << 4,
    LIST_PAUSED = 1 << 5,
    LIST_SHUTOFF = 1 << 6,
    LIST_OTHER = 1 << 7,
    LIST_MANAGEDSAVE = 1 << 8,
    LIST_NO_MANAGEDSAVE = 1 << 9,
    LIST_AUTOSTART = 1 << 10,
    LIST_NO_AUTOSTART = 1 << 11,
    LIST_HAS_SNAPSHOT = 1 << 12,
    LIST_NO_SNAPSHOT = 1 << 13,
    LIST_HAS_CHECKPOINT = 1 << 14,
    LIST_NO_CHECKPOINT = 1 << 15,
    LIST_ALL_FLAGS = (1 << 16) - 1,
};

/* An entry of the registry's by-name order: what a list needs of a domain
 * that never changes while it is registered (a redefinition keeps name and
 * UUID), copied side by side, so that listing a thousand domains touches
 * each domain's own memory once, for its run state. */
typedef struct {
    QemuDomain *dom;
    const char *name;          /* in QemuSorted.names */
    guint8 uuid[16];
} QemuSortedEntry;

typedef struct {
    GArray *entries;           /* QemuSortedEntry, by name */
    char *names;               /* the names, one after the other */
} QemuSorted;

typedef struct {
    GRWLock lock;
    GHashTable *by_uuid;       /* 16-byte uuid (GBytes) -> QemuDomain* (a reference) */
    GHashTable *by_name;       /* name -> QemuDomain* (borrowed from by_uuid) */
    /* every domain sorted by name, for the lists; rebuilt by the first
     * reader after a change (under @lock for reading and @sorted_lock),
     * dropped by every writer that adds or removes a domain */
    GMutex sorted_lock;
    QemuSorted *sorted;        /* NULL when stale */
    char *configdir;           /* <configdir>/qemu */
    UtilFileDir *configfiles;  /* the definitions in it */
    char *autostartdir;        /* <configdir>/qemu/autostart */
    char *rundir;              /* <rundir>/qemu: status files, monitor sockets */
    char *logdir;              /* <logdir>/qemu */
    int job_wait_ms;           /* how long a state change waits for a busy domain */
} QemuRegistry;

static QemuRegistry registry;

/* ------------------------------------------------------------ objects */

static QemuDomain *
qemu_domain_new(ConfDomainDef *def)
{
    QemuDomain *dom = g_new0(QemuDomain, 1);

    dom->refs = 1;
    g_mutex_init(&dom->lock);
    dom->def = def;
    g_cond_init(&dom->job_cond);
    dom->state = QEMU_STATE_SHUTOFF;
    dom->id = -1;
    dom->pid = -1;
    dom->stop_reason = -1;
    return dom;
}

QemuDomain *
qemu_domain_ref(QemuDomain *dom)
{
    g_atomic_int_inc(&dom->refs);
    return dom;
}

void
qemu_domain_unref(QemuDomain *dom)
{
    if (!dom || !g_atomic_int_dec_and_test(&dom->refs))
        return;
    conf_domain_def_free(dom->def);
    conf_domain_def_free(dom->live);
    if (dom->mon) {
        qemu_monitor_close(dom->mon);
        qemu_monitor_unref(dom->mon);
    }
    g_free(dom->monitor_path);
    g_free(dom->libdir);
    if (dom->blockjobs)
        g_ptr_array_unref(dom->blockjobs);
    g_cond_clear(&dom->job_cond);
    g_mutex_clear(&dom->lock);
    g_free(dom);
}

static GBytes *
qemu_uuid_key(const guint8 *uuid)
{
    return g_bytes_new(uuid, 16);
}

static void
qemu_uuid_format(const guint8 *uuid, char out[37])
{
    g_snprintf(out, 37,
               "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
               uuid[0], uuid[1], uuid[2], uuid[3], uuid[4], uuid[5], uuid[6], uuid[7],
               uuid[8], uuid[9], uuid[10], uuid[11], uuid[12], uuid[13], uuid[14], uuid[15]);
}

static char *
qemu_autostart_path(const char *name)
{
    return g_strdup_printf("%s/%s.xml", registry.autostartdir, name);
}

static char *
qemu_config_file(const char *name)
{
    return g_strconcat(name, ".xml", NULL);
}

static void
qemu_sorted_free(QemuSorted *sorted)
{
    g_array_unref(sorted->entries);
    g_free(sorted->names);
    g_free(sorted);
}

/* The by-name order is out of date; write lock held. */
static void
qemu_registry_changed_locked(void)
{
    g_clear_pointer(&registry.sorted, qemu_sorted_free);
}

/* Registry insert; write lock held. */
static void
qemu_registry_add_locked(QemuDomain *dom)
{
    g_hash_table_insert(registry.by_uuid, qemu_uuid_key(dom->def->uuid), dom);
    g_hash_table_insert(registry.by_name, g_strdup(dom->def->name), dom);
    qemu_registry_changed_locked();
}

static void
qemu_registry_remove_locked(QemuDomain *dom)
{
    g_autoptr(GBytes) key = qemu_uuid_key(dom->def->uuid);

    qemu_registry_changed_locked();
    g_hash_table_remove(registry.by_name, dom->def->name);
    g_hash_table_remove(registry.by_uuid, key);
}

static gint
qemu_sorted_entry_cmp(gconstpointer a, gconstpointer b)
{
    return strcmp(((const QemuSortedEntry *)a)->name, ((const QemuSortedEntry *)b)->name);
}

/* Every domain sorted by name; read lock held, valid while it is. */
static const GArray *
qemu_registry_sorted_locked(void)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&registry.sorted_lock);
    QemuSorted *sorted;
    GHashTableIter it;
    gpointer value;
    size_t size = 0;
    char *p;

    if (registry.sorted)
        return registry.sorted->entries;
    sorted = g_new0(QemuSorted, 1);
    sorted->entries = g_array_sized_new(FALSE, FALSE, sizeof(QemuSortedEntry),
                                        g_hash_table_size(registry.by_uuid));
    g_hash_table_iter_init(&it, registry.by_uuid);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        const ConfDomainDef *def = ((QemuDomain *)value)->def;
        QemuSortedEntry e = { value, def->name, { 0 } };

        memcpy(e.uuid, def->uuid, 16);
        g_array_append_val(sorted->entries, e);
        size += strlen(def->name) + 1;
    }
    g_array_sort(sorted->entries, qemu_sorted_entry_cmp);
    p = sorted->names = g_malloc(size + 1);
    for (guint i = 0; i < sorted->entries->len; i++) {
        QemuSortedEntry *e = &g_array_index(sorted->entries, QemuSortedEntry, i);
        size_t n = strlen(e->name) + 1;

        memcpy(p, e->name, n);
        e->name = p;
        p += n;
    }
    registry.sorted = sorted;
    return sorted->entries;
}

GPtrArray *
qemu_domains_list(void)
{
    GPtrArray *all = g_ptr_array_new_with_free_func((GDestroyNotify)qemu_domain_unref);
    GHashTableIter it;
    gpointer value;

    g_rw_lock_reader_lock(&registry.lock);
    g_hash_table_iter_init(&it, registry.by_uuid);
    while (g_hash_table_iter_next(&it, NULL, &value))
        g_ptr_array_add(all, qemu_domain_ref(value));
    g_rw_lock_reader_unlock(&registry.lock);
    return all;
}

static bool qemu_check_clash_locked(const ConfDomainDef *def, QemuDomain **ret_same,
                                    GError **error);

QemuDomain *
qemu_domain_add_transient(ConfDomainDef *def, GError **error)
{
    QemuDomain *same = NULL;
    QemuDomain *dom;

    g_rw_lock_writer_lock(&registry.lock);
    if (!qemu_check_clash_locked(def, &same, error)) {
        g_rw_lock_writer_unlock(&registry.lock);
        return NULL;
    }
    if (same) {
        /* a defined domain of that name and UUID: createXML starts it with
         * this definition as the live one, as libvirt does */
        g_mutex_lock(&same->lock);
        if (same->id >= 0 || same->job) {
            g_mutex_unlock(&same->lock);
            g_rw_lock_writer_unlock(&registry.lock);
            util_error_set(error, VIR_FROM_QEMU, VIR_ERR_OPERATION_INVALID,
                           "Requested operation is not valid: domain '%s' is already active",
                           def->name);
            return NULL;
        }
        g_mutex_unlock(&same->lock);
        g_rw_lock_writer_unlock(&registry.lock);
        return qemu_domain_ref(same);
    }
    dom = qemu_domain_new(def);
    qemu_registry_add_locked(dom);
    qemu_domain_ref(dom);
    g_rw_lock_writer_unlock(&registry.lock);
    return dom;
}

void
qemu_domain_remove_if_gone(QemuDomain *dom)
{
    g_autoptr(GBytes) key = qemu_uuid_key(dom->def->uuid);

    g_rw_lock_writer_lock(&registry.lock);
    g_mutex_lock(&dom->lock);
    if (!dom->persistent && dom->id < 0 && !dom->job &&
        g_hash_table_lookup(registry.by_uuid, key) == dom) {
        g_mutex_unlock(&dom->lock);
        qemu_registry_remove_locked(dom);
    } else {
        g_mutex_unlock(&dom->lock);
    }
    g_rw_lock_writer_unlock(&registry.lock);
}

/* The domain a client's reference names: libvirt resolves by UUID. */
QemuDomain *
qemu_domain_find_uuid(const guint8 *uuid)
{
    g_autoptr(GBytes) key = qemu_uuid_key(uuid);
    QemuDomain *dom;

    g_rw_lock_reader_lock(&registry.lock);
    dom = g_hash_table_lookup(registry.by_uuid, key);
    if (dom)
        qemu_domain_ref(dom);
    g_rw_lock_reader_unlock(&registry.lock);
    return dom;
}

QemuDomain *
qemu_domain_lookup(const RemoteNonnullDomain *ref, GError **error)
{
    QemuDomain *dom = qemu_domain_find_uuid(ref->uuid);

    if (!dom) {
        char uuid[37];
        qemu_uuid_format(ref->uuid, uuid);
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_NO_DOMAIN,
                       "Domain not found: no domain with matching uuid '%s' (%s)",
                       uuid, ref->name ? ref->name : "");
    }
    return dom;
}

void
qemu_domain_make_ref(QemuDomain *dom, RemoteNonnullDomain *ret)
{
    g_mutex_lock(&dom->lock);
    ret->name = g_strdup(dom->def->name);
    memcpy(ret->uuid, dom->def->uuid, 16);
    ret->id = dom->id;
    g_mutex_unlock(&dom->lock);
}

bool
qemu_check_flags(unsigned int flags, unsigned int allowed, const char *api, GError **error)
{
    if (flags & ~allowed) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INVALID_ARG,
                       "unsupported flags (0x%x) in function %s", flags & ~allowed, api);
        return false;
    }
    return true;
}

/* ------------------------------------------------------------ events */

typedef struct {
    RemoteNonnullDomain dom;
    int event;
    int detail;
} QemuLifecycleEvent;

static void
qemu_send_lifecycle(DaemonClient *client, const DaemonEventCallback *cb, gpointer data)
{
    QemuLifecycleEvent *ev = data;

    if (cb->legacy) {
        RemoteDomainEventLifecyclePayload msg = { ev->dom, ev->event, ev->detail };
        daemon_client_send_event(client, REMOTE_PROC_DOMAIN_EVENT_LIFECYCLE,
                                 (RpcEncodeFunc)xdr_enc_remote_domain_event_lifecycle_payload,
                                 &msg);
    } else {
        RemoteDomainEventCallbackLifecycleMsg msg = {
            cb->callback_id, { ev->dom, ev->event, ev->detail }
        };
        daemon_client_send_event(client, REMOTE_PROC_DOMAIN_EVENT_CALLBACK_LIFECYCLE,
                                 (RpcEncodeFunc)xdr_enc_remote_domain_event_callback_lifecycle_msg,
                                 &msg);
    }
}

void
qemu_emit_lifecycle(QemuDomain *dom, int event, int detail)
{
    QemuLifecycleEvent ev = { { 0 }, event, detail };

    qemu_domain_make_ref(dom, &ev.dom);
    g_debug("domain '%s': lifecycle event %d detail %d", ev.dom.name, event, detail);
    daemon_events_emit(RPC_FAMILY_DOMAIN, DOMAIN_EVENT_ID_LIFECYCLE, ev.dom.uuid,
                       qemu_send_lifecycle, &ev);
    xdr_free_remote_nonnull_domain(&ev.dom);
}

static void
qemu_send_reboot(DaemonClient *client, const DaemonEventCallback *cb, gpointer data)
{
    RemoteNonnullDomain *ref = data;

    if (cb->legacy) {
        RemoteDomainEventRebootPayload msg = { *ref };
        daemon_client_send_event(client, REMOTE_PROC_DOMAIN_EVENT_REBOOT,
                                 (RpcEncodeFunc)xdr_enc_remote_domain_event_reboot_payload,
                                 &msg);
    } else {
        RemoteDomainEventCallbackRebootMsg msg = { cb->callback_id, { *ref } };
        daemon_client_send_event(client, REMOTE_PROC_DOMAIN_EVENT_CALLBACK_REBOOT,
                                 (RpcEncodeFunc)xdr_enc_remote_domain_event_callback_reboot_msg,
                                 &msg);
    }
}

/* Events found while reconnecting after a restart (a guest that ended
 * while virtqemud was away, a block job that finished meanwhile) happen
 * before any client could register for them, since the client's
 * connection is what starts virtqemud.  They are kept for
 * QEMU_BACKLOG_SECONDS and replayed to every callback for their event
 * registered in that time. */
#define QEMU_BACKLOG_SECONDS 60
#define QEMU_REPLAY_DELAY_MS 250

typedef struct {
    int event_id;
    guint8 uuid[16];
    DaemonEventSendFunc send;
    gpointer data;
    GDestroyNotify free_data;
} QemuBacklogEvent;

static GMutex qemu_backlog_lock;
static GPtrArray *qemu_backlog;        /* QemuBacklogEvent * */
static gint64 qemu_backlog_until;

static void
qemu_backlog_event_free(gpointer data)
{
    QemuBacklogEvent *ev = data;

    if (ev->free_data)
        ev->free_data(ev->data);
    g_free(ev);
}

void
qemu_backlog_add(const guint8 *uuid, int event_id, DaemonEventSendFunc send, gpointer data,
                 GDestroyNotify free_data)
{
    QemuBacklogEvent *ev = g_new0(QemuBacklogEvent, 1);

    ev->event_id = event_id;
    memcpy(ev->uuid, uuid, 16);
    ev->send = send;
    ev->data = data;
    ev->free_data = free_data;
    g_mutex_lock(&qemu_backlog_lock);
    if (!qemu_backlog)
        qemu_backlog = g_ptr_array_new_with_free_func(qemu_backlog_event_free);
    /* what is older than the window is not replayed any more: drop it */
    if (g_get_monotonic_time() >= qemu_backlog_until)
        g_ptr_array_set_size(qemu_backlog, 0);
    g_ptr_array_add(qemu_backlog, ev);
    qemu_backlog_until = g_get_monotonic_time() + QEMU_BACKLOG_SECONDS * G_USEC_PER_SEC;
    g_mutex_unlock(&qemu_backlog_lock);
}

static void
qemu_lifecycle_event_free(gpointer data)
{
    QemuLifecycleEvent *ev = data;

    xdr_free_remote_nonnull_domain(&ev->dom);
    g_free(ev);
}

void
qemu_emit_lifecycle_replayable(QemuDomain *dom, int event, int detail)
{
    QemuLifecycleEvent *ev = g_new0(QemuLifecycleEvent, 1);

    qemu_domain_make_ref(dom, &ev->dom);
    ev->event = event;
    ev->detail = detail;
    qemu_backlog_add(ev->dom.uuid, DOMAIN_EVENT_ID_LIFECYCLE, qemu_send_lifecycle, ev,
                     qemu_lifecycle_event_free);
    qemu_emit_lifecycle(dom, event, detail);
}

typedef struct {
    DaemonClient *client;
    DaemonEventCallback cb;
} QemuReplay;

static gboolean
qemu_replay_backlog(gpointer data)
{
    QemuReplay *r = data;

    g_mutex_lock(&qemu_backlog_lock);
    for (guint i = 0; qemu_backlog && i < qemu_backlog->len &&
         g_get_monotonic_time() < qemu_backlog_until; i++) {
        QemuBacklogEvent *ev = g_ptr_array_index(qemu_backlog, i);

        if (ev->event_id != r->cb.event_id ||
            (r->cb.has_filter && memcmp(r->cb.uuid, ev->uuid, 16) != 0))
            continue;
        ev->send(r->client, &r->cb, ev->data);
    }
    g_mutex_unlock(&qemu_backlog_lock);
    daemon_client_unref(r->client);
    g_free(r);
    return G_SOURCE_REMOVE;
}

static bool
qemu_event_register(RpcServerCall *call, const RemoteConnectDomainEventCallbackRegisterAnyArgs *args,
                    RemoteConnectDomainEventCallbackRegisterAnyRet *ret, GError **error)
{
    QemuReplay *r;
    GSource *later;
    bool pending;

    if (!daemon_common_ops.connect_domain_event_callback_register_any(call, args, ret, error))
        return false;
    g_mutex_lock(&qemu_backlog_lock);
    pending = qemu_backlog && qemu_backlog->len && g_get_monotonic_time() < qemu_backlog_until;
    g_mutex_unlock(&qemu_backlog_lock);
    if (!pending)
        return true;
    /* well after the reply: libvirt's client library stores the callback
     * id only once the reply is back in the calling thread, and drops
     * events that arrive for an id it does not know yet */
    r = g_new0(QemuReplay, 1);
    r->client = daemon_client_ref(daemon_call_client(call));
    r->cb.callback_id = ret->callbackID;
    r->cb.family = RPC_FAMILY_DOMAIN;
    r->cb.event_id = args->eventID;
    if (args->dom) {
        r->cb.has_filter = true;
        memcpy(r->cb.uuid, args->dom->uuid, 16);
    }
    later = g_timeout_source_new(QEMU_REPLAY_DELAY_MS);
    g_source_set_callback(later, qemu_replay_backlog, r, NULL);
    g_source_attach(later, daemon_main_context());
    g_source_unref(later);
    return true;
}

void
qemu_emit_reboot(QemuDomain *dom)
{
    RemoteNonnullDomain ref = { 0 };

    qemu_domain_make_ref(dom, &ref);
    g_debug("domain '%s': reboot event", ref.name);
    daemon_events_emit(RPC_FAMILY_DOMAIN, DOMAIN_EVENT_ID_REBOOT, ref.uuid,
                       qemu_send_reboot, &ref);
    xdr_free_remote_nonnull_domain(&ref);
}

static void
qemu_send_io_error(DaemonClient *client, const DaemonEventCallback *cb, gpointer data)
{
    const RemoteDomainEventIoErrorReasonPayload *ev = data;
    RemoteDomainEventIoErrorPayload payload = {
        ev->dom, ev->srcPath, ev->devAlias, ev->action,
    };

    if (cb->legacy) {
        daemon_client_send_event(client, REMOTE_PROC_DOMAIN_EVENT_IO_ERROR,
                                 (RpcEncodeFunc)xdr_enc_remote_domain_event_io_error_payload,
                                 &payload);
    } else {
        RemoteDomainEventCallbackIoErrorMsg msg = { cb->callback_id, payload };

        daemon_client_send_event(client, REMOTE_PROC_DOMAIN_EVENT_CALLBACK_IO_ERROR,
                                 (RpcEncodeFunc)xdr_enc_remote_domain_event_callback_io_error_msg,
                                 &msg);
    }
}

static void
qemu_send_io_error_reason(DaemonClient *client, const DaemonEventCallback *cb, gpointer data)
{
    const RemoteDomainEventIoErrorReasonPayload *ev = data;

    if (cb->legacy) {
        daemon_client_send_event(
            client, REMOTE_PROC_DOMAIN_EVENT_IO_ERROR_REASON,
            (RpcEncodeFunc)xdr_enc_remote_domain_event_io_error_reason_payload, ev);
    } else {
        RemoteDomainEventCallbackIoErrorReasonMsg msg = { cb->callback_id, *ev };

        daemon_client_send_event(
            client, REMOTE_PROC_DOMAIN_EVENT_CALLBACK_IO_ERROR_REASON,
            (RpcEncodeFunc)xdr_enc_remote_domain_event_callback_io_error_reason_msg, &msg);
    }
}

void
qemu_emit_io_error(QemuDomain *dom, const char *src_path, const char *alias, int action,
                   const char *reason)
{
    RemoteDomainEventIoErrorReasonPayload ev = {
        { 0 }, (char *)src_path, (char *)alias, action, (char *)reason,
    };

    qemu_domain_make_ref(dom, &ev.dom);
    g_info("domain '%s': I/O error on '%s' (%s): action %d%s%s", ev.dom.name, alias, src_path,
           action, *reason ? ", " : "", reason);
    daemon_events_emit(RPC_FAMILY_DOMAIN, DOMAIN_EVENT_ID_IO_ERROR, ev.dom.uuid,
                       qemu_send_io_error, &ev);
    daemon_events_emit(RPC_FAMILY_DOMAIN, DOMAIN_EVENT_ID_IO_ERROR_REASON, ev.dom.uuid,
                       qemu_send_io_error_reason, &ev);
    xdr_free_remote_nonnull_domain(&ev.dom);
}

/* ------------------------------------------------------------ jobs */

bool
qemu_domain_job_begin(QemuDomain *dom, const char *api, GError **error)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)registry.job_wait_ms * 1000;

    g_mutex_lock(&dom->lock);
    while (dom->job) {
        if (!g_cond_wait_until(&dom->job_cond, &dom->lock, deadline) && dom->job) {
            const char *holder = dom->job;
            gint64 secs = (g_get_monotonic_time() - dom->job_since) / G_USEC_PER_SEC;

            g_mutex_unlock(&dom->lock);
            util_error_set(error, VIR_FROM_QEMU, VIR_ERR_OPERATION_TIMEOUT,
                           "Timed out during operation: cannot acquire state change lock "
                           "(held by %s for %" G_GINT64_FORMAT " s)", holder, secs);
            return false;
        }
    }
    dom->job = api;
    dom->job_since = g_get_monotonic_time();
    g_mutex_unlock(&dom->lock);
    return true;
}

void
qemu_domain_job_end(QemuDomain *dom)
{
    g_mutex_lock(&dom->lock);
    dom->job = NULL;
    g_cond_signal(&dom->job_cond);
    g_mutex_unlock(&dom->lock);
    /* a transient domain ends with its last job once it no longer runs */
    qemu_domain_remove_if_gone(dom);
}

const char *
qemu_driver_rundir(void)
{
    return registry.rundir;
}

const char *
qemu_driver_logdir(void)
{
    return registry.logdir;
}

/* ------------------------------------------------------------ load */

static void
qemu_domains_load_one(const char *path)
{
    g_autofree char *xml = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(ConfDomainDef) def = NULL;
    g_autofree char *base = g_path_get_basename(path);
    g_autofree char *autostart = NULL;
    g_autoptr(GBytes) key = NULL;
    QemuDomain *dom;

    if (!g_file_get_contents(path, &xml, NULL, &error) ||
        !(def = conf_domain_parse(xml, 0, &error))) {
        g_warning("ignoring the definition in '%s': %s", path, error->message);
        return;
    }
    if (!g_str_has_suffix(base, ".xml") ||
        strlen(base) != strlen(def->name) + 4 || strncmp(base, def->name, strlen(def->name))) {
        g_warning("ignoring '%s': it defines domain '%s', not what its file name says",
                  path, def->name);
        return;
    }
    key = qemu_uuid_key(def->uuid);
    if (g_hash_table_contains(registry.by_uuid, key)) {
        g_warning("ignoring '%s': another definition has the same uuid", path);
        return;
    }
    autostart = qemu_autostart_path(def->name);
    dom = qemu_domain_new(g_steal_pointer(&def));
    dom->persistent = true;
    dom->autostart = g_file_test(autostart, G_FILE_TEST_EXISTS);
    qemu_registry_add_locked(dom);
}

bool
qemu_domains_init(GError **error)
{
    const DaemonPaths *paths = daemon_paths();
    g_autoptr(GDir) dir = NULL;
    g_autoptr(GError) local = NULL;
    const char *entry;

    g_rw_lock_init(&registry.lock);
    registry.by_uuid = g_hash_table_new_full(g_bytes_hash, g_bytes_equal,
                                             (GDestroyNotify)g_bytes_unref,
                                             (GDestroyNotify)qemu_domain_unref);
    registry.by_name = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    registry.configdir = g_build_filename(paths->configdir, "qemu", NULL);
    registry.configfiles = util_file_dir_new(registry.configdir);
    registry.autostartdir = g_build_filename(registry.configdir, "autostart", NULL);
    registry.rundir = g_build_filename(paths->rundir, "qemu", NULL);
    registry.logdir = g_build_filename(paths->logdir, "qemu", NULL);
    registry.job_wait_ms = 30000;
    if (g_getenv("MODVIRT_QEMU_JOB_WAIT_MS"))
        registry.job_wait_ms = (int)g_ascii_strtoll(g_getenv("MODVIRT_QEMU_JOB_WAIT_MS"), NULL, 10);
    if (registry.job_wait_ms <= 0)
        registry.job_wait_ms = 30000;
    for (const char *const *d = (const char *const[]){ registry.autostartdir, registry.logdir, NULL };
         *d; d++) {
        if (g_mkdir_with_parents(*d, 0755) < 0) {
            util_error_set_errno(error, VIR_FROM_QEMU, errno, "cannot create '%s'", *d);
            return false;
        }
    }
    /* 0711: QEMU, maybe another user, must reach its own directory in it;
     * the status files in it are 0600 */
    if (g_mkdir_with_parents(registry.rundir, 0711) < 0 || chmod(registry.rundir, 0711) < 0) {
        util_error_set_errno(error, VIR_FROM_QEMU, errno, "cannot create '%s'", registry.rundir);
        return false;
    }
    dir = g_dir_open(registry.configdir, 0, &local);
    if (!dir) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_SYSTEM_ERROR, "cannot read '%s': %s",
                       registry.configdir, local->message);
        return false;
    }
    g_rw_lock_writer_lock(&registry.lock);
    while ((entry = g_dir_read_name(dir))) {
        g_autofree char *path = NULL;

        if (entry[0] == '.' || !g_str_has_suffix(entry, ".xml"))
            continue;
        path = g_build_filename(registry.configdir, entry, NULL);
        qemu_domains_load_one(path);
    }
    g_debug("%u domain definitions loaded", g_hash_table_size(registry.by_uuid));
    g_rw_lock_writer_unlock(&registry.lock);
    qemu_process_reconnect_all();
    qemu_process_autostart_once();
    return true;
}

void
qemu_domains_cleanup(void)
{
    if (registry.by_uuid)
        qemu_process_detach_all();
    qemu_snapshot_cleanup();
    g_clear_pointer(&registry.by_name, g_hash_table_destroy);
    g_clear_pointer(&registry.by_uuid, g_hash_table_destroy);
    g_clear_pointer(&registry.sorted, qemu_sorted_free);
    g_clear_pointer(&registry.configfiles, util_file_dir_free);
    g_clear_pointer(&registry.configdir, g_free);
    g_clear_pointer(&registry.autostartdir, g_free);
    g_clear_pointer(&registry.rundir, g_free);
    g_clear_pointer(&registry.logdir, g_free);
}

/* ------------------------------------------------------------ define */

bool
qemu_check_def(const ConfDomainDef *def, GError **error)
{
    if (def->virt_type != CONF_DOMAIN_VIRT_QEMU && def->virt_type != CONF_DOMAIN_VIRT_KVM) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_CONFIG_UNSUPPORTED,
                       "unsupported configuration: virtualization type '%s' is not served by virtqemud",
                       conf_domain_virt_type_to_string(def->virt_type));
        return false;
    }
    if (def->emulator && !g_file_test(def->emulator, G_FILE_TEST_IS_EXECUTABLE)) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_CONFIG_UNSUPPORTED,
                       "Cannot check QEMU binary %s: %s", def->emulator,
                       g_file_test(def->emulator, G_FILE_TEST_EXISTS) ?
                       "not executable" : "No such file or directory");
        return false;
    }
    return true;
}

ConfDomainDef *
qemu_domain_parse_def(const char *xml, bool validate, GError **error)
{
    g_autoptr(ConfDomainDef) def = conf_domain_parse(xml, validate ? CONF_DOMAIN_PARSE_VALIDATE : 0,
                                                     error);

    if (!def || !qemu_check_def(def, error) || !qemu_process_postparse(def, error))
        return NULL;
    return g_steal_pointer(&def);
}

bool
qemu_domain_save_config(QemuDomain *dom, GError **error)
{
    g_autofree char *text = NULL;
    g_autofree char *file = NULL;

    g_mutex_lock(&dom->lock);
    if (!dom->persistent) {
        g_mutex_unlock(&dom->lock);
        return true;
    }
    text = conf_domain_format(dom->def, CONF_DOMAIN_FORMAT_INACTIVE | CONF_DOMAIN_FORMAT_SECURE);
    file = qemu_config_file(dom->def->name);
    g_mutex_unlock(&dom->lock);
    return util_file_dir_write(registry.configfiles, file, text, strlen(text), 0600, error);
}

/* Another domain with @def's name or UUID but not both is a clash; the
 * domain with both (a redefinition) is returned in @ret_same. */
static bool
qemu_check_clash_locked(const ConfDomainDef *def, QemuDomain **ret_same, GError **error)
{
    g_autoptr(GBytes) key = qemu_uuid_key(def->uuid);
    QemuDomain *by_uuid = g_hash_table_lookup(registry.by_uuid, key);
    QemuDomain *by_name = g_hash_table_lookup(registry.by_name, def->name);
    char uuid[37];

    qemu_uuid_format(def->uuid, uuid);
    if (by_uuid && !g_str_equal(by_uuid->def->name, def->name)) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_OPERATION_FAILED,
                       "domain '%s' is already defined with uuid %s", by_uuid->def->name, uuid);
        return false;
    }
    if (!by_uuid && by_name) {
        char other[37];
        qemu_uuid_format(by_name->def->uuid, other);
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_OPERATION_FAILED,
                       "domain '%s' already exists with uuid %s", def->name, other);
        return false;
    }
    *ret_same = by_uuid;
    return true;
}

static bool
qemu_define(RpcServerCall *call, const char *xml, unsigned int flags, RemoteNonnullDomain *ret,
            GError **error)
{
    g_autoptr(ConfDomainDef) def = NULL;
    g_autofree char *text = NULL;
    g_autofree char *file = NULL;
    QemuDomain *by_uuid = NULL;
    QemuDomain *dom;
    bool updated = false;

    if (!qemu_check_flags(flags, 1, "virDomainDefineXMLFlags", error))
        return false;
    if (!(def = qemu_domain_parse_def(xml, flags & 1, error)))
        return false;
    text = conf_domain_format(def, CONF_DOMAIN_FORMAT_INACTIVE | CONF_DOMAIN_FORMAT_SECURE);
    file = qemu_config_file(def->name);

    /* one writer at a time: the check, the file and the registry agree */
    g_rw_lock_writer_lock(&registry.lock);
    if (!qemu_check_clash_locked(def, &by_uuid, error)) {
        g_rw_lock_writer_unlock(&registry.lock);
        return false;
    }
    /* block jobs: a running transient domain with a copy mirror stays
     * transient (the mirror cannot be re-established from a definition) */
    if (by_uuid && !by_uuid->persistent &&
        !qemu_blockjob_check_no_mirror(by_uuid, NULL, "make the domain persistent", error)) {
        g_rw_lock_writer_unlock(&registry.lock);
        return false;
    }
    if (!util_file_dir_write(registry.configfiles, file, text, strlen(text), 0600, error)) {
        g_rw_lock_writer_unlock(&registry.lock);
        return false;
    }
    if (by_uuid) {
        dom = by_uuid;
        g_mutex_lock(&dom->lock);
        conf_domain_def_free(dom->def);
        dom->def = g_steal_pointer(&def);
        dom->persistent = true;
        g_mutex_unlock(&dom->lock);
        updated = true;
    } else {
        dom = qemu_domain_new(g_steal_pointer(&def));
        dom->persistent = true;
        qemu_registry_add_locked(dom);
    }
    qemu_domain_ref(dom);
    g_rw_lock_writer_unlock(&registry.lock);

    g_info("domain '%s' %s", dom->def->name, updated ? "redefined" : "defined");
    qemu_domain_make_ref(dom, ret);
    qemu_emit_lifecycle(dom, QEMU_EVENT_DEFINED, updated ? EVENT_DEFINED_UPDATED : EVENT_DEFINED_ADDED);
    qemu_domain_unref(dom);
    return true;
}

static bool
qemu_define_xml(RpcServerCall *call, const RemoteDomainDefineXmlArgs *args,
                RemoteDomainDefineXmlRet *ret, GError **error)
{
    return qemu_define(call, args->xml, 0, &ret->dom, error);
}

static bool
qemu_define_xml_flags(RpcServerCall *call, const RemoteDomainDefineXmlFlagsArgs *args,
                      RemoteDomainDefineXmlFlagsRet *ret, GError **error)
{
    return qemu_define(call, args->xml, args->flags, &ret->dom, error);
}

static bool
qemu_undefine(const RemoteNonnullDomain *ref, unsigned int flags, GError **error)
{
    g_autoptr(QemuDomain) dom = NULL;
    g_autofree char *file = NULL;
    g_autofree char *autostart = NULL;

    /* managed save, snapshot metadata, nvram, keep nvram, checkpoints, tpm,
     * keep tpm: nothing of these exists yet, so each is trivially honoured */
    if (!qemu_check_flags(flags, 0x7f, "virDomainUndefineFlags", error))
        return false;
    if (!(dom = qemu_domain_lookup(ref, error)))
        return false;
    {
        /* as libvirt: snapshot metadata goes only when asked (flag 0x2) */
        int snaps = qemu_snapshot_count(dom, error);

        if (snaps < 0)
            return false;
        if (snaps > 0 && !(flags & 0x2) && dom->id < 0) {
            util_error_set(error, VIR_FROM_QEMU, VIR_ERR_OPERATION_INVALID,
                           "Requested operation is not valid: cannot delete inactive domain "
                           "with %d snapshots", snaps);
            return false;
        }
        if (snaps > 0 && (flags & 0x2) && !qemu_snapshot_discard_all_metadata(dom, error))
            return false;
    }
    g_rw_lock_writer_lock(&registry.lock);
    if (!dom->persistent) {
        g_rw_lock_writer_unlock(&registry.lock);
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_OPERATION_INVALID,
                       "Requested operation is not valid: cannot undefine transient domain");
        return false;
    }
    /* block jobs: the definition a pivot updates must not go away meanwhile */
    if (!qemu_blockjob_check_no_mirror(dom, NULL, "undefine the domain", error)) {
        g_rw_lock_writer_unlock(&registry.lock);
        return false;
    }
    file = qemu_config_file(dom->def->name);
    autostart = qemu_autostart_path(dom->def->name);
    if (unlink(autostart) < 0 && errno != ENOENT) {
        g_rw_lock_writer_unlock(&registry.lock);
        util_error_set_errno(error, VIR_FROM_QEMU, errno, "Failed to delete autostart link '%s'",
                             autostart);
        return false;
    }
    if (!util_file_dir_remove(registry.configfiles, file, error)) {
        g_rw_lock_writer_unlock(&registry.lock);
        return false;
    }
    dom->autostart = false;
    dom->persistent = false;
    if (dom->id < 0)
        qemu_registry_remove_locked(dom);
    g_rw_lock_writer_unlock(&registry.lock);
    g_info("domain '%s' undefined", dom->def->name);
    qemu_emit_lifecycle(dom, QEMU_EVENT_UNDEFINED, EVENT_UNDEFINED_REMOVED);
    return true;
}

static bool
qemu_undefine_plain(RpcServerCall *call, const RemoteDomainUndefineArgs *args, GError **error)
{
    return qemu_undefine(&args->dom, 0, error);
}

static bool
qemu_undefine_flags(RpcServerCall *call, const RemoteDomainUndefineFlagsArgs *args,
                    GError **error)
{
    return qemu_undefine(&args->dom, args->flags, error);
}

/* ------------------------------------------------------------ lookups */

static bool
qemu_lookup_by_name(RpcServerCall *call, const RemoteDomainLookupByNameArgs *args,
                    RemoteDomainLookupByNameRet *ret, GError **error)
{
    QemuDomain *dom;

    g_rw_lock_reader_lock(&registry.lock);
    dom = g_hash_table_lookup(registry.by_name, args->name);
    if (dom)
        qemu_domain_make_ref(dom, &ret->dom);
    g_rw_lock_reader_unlock(&registry.lock);
    if (!dom) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_NO_DOMAIN,
                       "Domain not found: no domain with matching name '%s'", args->name);
        return false;
    }
    return true;
}

static bool
qemu_lookup_by_uuid(RpcServerCall *call, const RemoteDomainLookupByUuidArgs *args,
                    RemoteDomainLookupByUuidRet *ret, GError **error)
{
    RemoteNonnullDomain ref = { (char *)"", { 0 }, -1 };
    g_autoptr(QemuDomain) dom = NULL;

    memcpy(ref.uuid, args->uuid, 16);
    if (!(dom = qemu_domain_lookup(&ref, error)))
        return false;
    qemu_domain_make_ref(dom, &ret->dom);
    return true;
}

static bool
qemu_lookup_by_id(RpcServerCall *call, const RemoteDomainLookupByIdArgs *args,
                  RemoteDomainLookupByIdRet *ret, GError **error)
{
    GHashTableIter it;
    gpointer value;
    bool found = false;

    g_rw_lock_reader_lock(&registry.lock);
    g_hash_table_iter_init(&it, registry.by_uuid);
    while (!found && g_hash_table_iter_next(&it, NULL, &value)) {
        QemuDomain *dom = value;
        if (args->id >= 0 && dom->id == args->id) {
            qemu_domain_make_ref(dom, &ret->dom);
            found = true;
        }
    }
    g_rw_lock_reader_unlock(&registry.lock);
    if (!found) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_NO_DOMAIN,
                       "Domain not found: no domain with matching id %d", args->id);
        return false;
    }
    return true;
}

/* ------------------------------------------------------------ lists */

static bool
qemu_domain_matches(QemuDomain *dom, unsigned int flags)
{
    bool active = dom->id >= 0;

    if ((flags & (LIST_ACTIVE | LIST_INACTIVE)) &&
        !((flags & LIST_ACTIVE && active) || (flags & LIST_INACTIVE && !active)))
        return false;
    if ((flags & (LIST_PERSISTENT | LIST_TRANSIENT)) &&
        !((flags & LIST_PERSISTENT && dom->persistent) ||
          (flags & LIST_TRANSIENT && !dom->persistent)))
        return false;
    if (flags & (LIST_RUNNING | LIST_PAUSED | LIST_SHUTOFF | LIST_OTHER)) {
        bool running = dom->state == QEMU_STATE_RUNNING;
        bool paused = dom->state == QEMU_STATE_PAUSED;
        bool shutoff = dom->state == QEMU_STATE_SHUTOFF;
        bool other = !running && !paused && !shutoff;
        if (!((flags & LIST_RUNNING && running) || (flags & LIST_PAUSED && paused) ||
              (flags & LIST_SHUTOFF && shutoff) || (flags & LIST_OTHER && other)))
            return false;
    }
    /* no managed save images, snapshots or checkpoints exist yet */
    if ((flags & (LIST_MANAGEDSAVE | LIST_NO_MANAGEDSAVE)) == LIST_MANAGEDSAVE)
        return false;
    if ((flags & (LIST_AUTOSTART | LIST_NO_AUTOSTART)) &&
        !((flags & LIST_AUTOSTART && dom->autostart) ||
          (flags & LIST_NO_AUTOSTART && !dom->autostart)))
        return false;
    if ((flags & (LIST_HAS_SNAPSHOT | LIST_NO_SNAPSHOT)) == LIST_HAS_SNAPSHOT)
        return false;
    if ((flags & (LIST_HAS_CHECKPOINT | LIST_NO_CHECKPOINT)) == LIST_HAS_CHECKPOINT)
        return false;
    return true;
}

/* Call @fn (may be NULL) for every domain matching @flags, by name, with
 * the domain locked; the number of matches.  No copy of the registry, no
 * sorting unless it changed since the last list. */
typedef void (*QemuDomainVisit)(const QemuSortedEntry *e, gpointer data);
#define QEMU_VISIT_PREFETCH 8

static guint
qemu_domains_visit(unsigned int flags, QemuDomainVisit fn, gpointer data)
{
    const GArray *sorted;
    guint n = 0;

    g_rw_lock_reader_lock(&registry.lock);
    sorted = qemu_registry_sorted_locked();
    for (guint i = 0; i < sorted->len; i++) {
        const QemuSortedEntry *e = &g_array_index(sorted, QemuSortedEntry, i);
        QemuDomain *dom = e->dom;

        /* the domains are all over the heap: ask for the next ones early
         * rather than wait for each in turn */
        if (i + QEMU_VISIT_PREFETCH < sorted->len) {
            const QemuDomain *ahead =
                g_array_index(sorted, QemuSortedEntry, i + QEMU_VISIT_PREFETCH).dom;
            __builtin_prefetch(&ahead->lock, 1);
            __builtin_prefetch(&ahead->id, 0);
        }
        g_mutex_lock(&dom->lock);
        if (qemu_domain_matches(dom, flags)) {
            if (fn)
                fn(e, data);
            n++;
        }
        g_mutex_unlock(&dom->lock);
    }
    g_rw_lock_reader_unlock(&registry.lock);
    return n;
}

static void
qemu_visit_add_ref(const QemuSortedEntry *e, gpointer data)
{
    RemoteNonnullDomain ref = { g_strdup(e->name), { 0 }, e->dom->id };

    memcpy(ref.uuid, e->uuid, 16);
    g_array_append_val((GArray *)data, ref);
}

static bool
qemu_list_all(RpcServerCall *call, const RemoteConnectListAllDomainsArgs *args,
              RemoteConnectListAllDomainsRet *ret, GError **error)
{
    g_autoptr(GArray) refs = NULL;
    guint n;

    if (!qemu_check_flags(args->flags, LIST_ALL_FLAGS, "virConnectListAllDomains", error))
        return false;
    if (!args->need_results) {
        ret->ret = qemu_domains_visit(args->flags, NULL, NULL);
        return true;
    }
    refs = g_array_new(FALSE, TRUE, sizeof(RemoteNonnullDomain));
    g_array_set_clear_func(refs, (GDestroyNotify)xdr_free_remote_nonnull_domain);
    n = qemu_domains_visit(args->flags, qemu_visit_add_ref, refs);
    if (n > RPC_DOMAIN_LIST_MAX) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_RPC,
                       "too many domains '%u' for limit '%d'", n, RPC_DOMAIN_LIST_MAX);
        return false;
    }
    ret->ret = n;
    ret->domains_len = n;
    g_array_set_clear_func(refs, NULL);
    ret->domains_val = (RemoteNonnullDomain *)(void *)g_array_free(g_steal_pointer(&refs), FALSE);
    return true;
}

static bool
qemu_num_of_domains(RpcServerCall *call, RemoteConnectNumOfDomainsRet *ret, GError **error)
{
    ret->num = qemu_domains_visit(LIST_ACTIVE, NULL, NULL);
    return true;
}

static bool
qemu_num_of_defined(RpcServerCall *call, RemoteConnectNumOfDefinedDomainsRet *ret,
                    GError **error)
{
    ret->num = qemu_domains_visit(LIST_INACTIVE, NULL, NULL);
    return true;
}

static bool
qemu_check_max(int max, const char *what, GError **error)
{
    if (max < 0 || max > RPC_DOMAIN_LIST_MAX) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_RPC,
                       "too many remote %s: %d > %d", what, max, RPC_DOMAIN_LIST_MAX);
        return false;
    }
    return true;
}

/* The first @max ids or names of a list */
typedef struct {
    GArray *out;
    guint max;
} QemuVisitFirst;

static void
qemu_visit_add_id(const QemuSortedEntry *e, gpointer data)
{
    QemuVisitFirst *v = data;

    if (v->out->len < v->max)
        g_array_append_val(v->out, e->dom->id);
}

static void
qemu_visit_add_name(const QemuSortedEntry *e, gpointer data)
{
    QemuVisitFirst *v = data;

    if (v->out->len < v->max) {
        RemoteName name = { g_strdup(e->name) };
        g_array_append_val(v->out, name);
    }
}

static bool
qemu_list_domains(RpcServerCall *call, const RemoteConnectListDomainsArgs *args,
                  RemoteConnectListDomainsRet *ret, GError **error)
{
    QemuVisitFirst v = { NULL, args->maxids };

    if (!qemu_check_max(args->maxids, "domain IDs", error))
        return false;
    /* zero-terminated: never an empty allocation */
    v.out = g_array_new(TRUE, TRUE, sizeof(gint32));
    qemu_domains_visit(LIST_ACTIVE, qemu_visit_add_id, &v);
    ret->ids_len = v.out->len;
    ret->ids_val = (gint32 *)(void *)g_array_free(v.out, FALSE);
    return true;
}

static bool
qemu_list_defined(RpcServerCall *call, const RemoteConnectListDefinedDomainsArgs *args,
                  RemoteConnectListDefinedDomainsRet *ret, GError **error)
{
    QemuVisitFirst v = { NULL, args->maxnames };

    if (!qemu_check_max(args->maxnames, "domain names", error))
        return false;
    v.out = g_array_new(TRUE, TRUE, sizeof(RemoteName));
    qemu_domains_visit(LIST_INACTIVE, qemu_visit_add_name, &v);
    ret->names_len = v.out->len;
    ret->names_val = (RemoteName *)(void *)g_array_free(v.out, FALSE);
    return true;
}

/* ------------------------------------------------------------ queries */

/* Run @fn with the domain locked; the common shape of the getters. */
#define QEMU_WITH_DOMAIN(ref, dom, error)                                    \
    g_autoptr(QemuDomain) dom = qemu_domain_lookup(ref, error);             \
    if (!dom)                                                                \
        return false;                                                        \
    g_autoptr(GMutexLocker) dom##_locker = g_mutex_locker_new(&dom->lock)

static bool
qemu_get_xml_desc(RpcServerCall *call, const RemoteDomainGetXmlDescArgs *args,
                  RemoteDomainGetXmlDescRet *ret, GError **error)
{
    unsigned int conf_flags = 0;

    /* secure, inactive, update-cpu, migratable */
    if (!qemu_check_flags(args->flags, 0xf, "virDomainGetXMLDesc", error))
        return false;
    if ((args->flags & 1) && daemon_client_readonly(daemon_call_client(call))) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_OPERATION_DENIED,
                       "operation forbidden: virDomainGetXMLDesc with secure flag");
        return false;
    }
    {
        QEMU_WITH_DOMAIN(&args->dom, dom, error);
        if (args->flags & 1)
            conf_flags |= CONF_DOMAIN_FORMAT_SECURE;
        if ((args->flags & 2) || !dom->live)
            conf_flags |= CONF_DOMAIN_FORMAT_INACTIVE;
        ret->xml = conf_domain_format((args->flags & 2) || !dom->live ? dom->def : dom->live,
                                      conf_flags);
    }
    return true;
}

static bool
qemu_get_info(RpcServerCall *call, const RemoteDomainGetInfoArgs *args,
              RemoteDomainGetInfoRet *ret, GError **error)
{
    QEMU_WITH_DOMAIN(&args->dom, dom, error);
    const ConfDomainDef *def = dom->live ? dom->live : dom->def;

    ret->state = dom->state;
    ret->maxMem = def->memory_kib;
    ret->memory = def->current_memory_kib;
    ret->nrVirtCpu = def->vcpus;
    ret->cpuTime = dom->pid > 0 ? util_process_cpu_time(dom->pid) : 0;
    return true;
}

static bool
qemu_get_state(RpcServerCall *call, const RemoteDomainGetStateArgs *args,
               RemoteDomainGetStateRet *ret, GError **error)
{
    if (!qemu_check_flags(args->flags, 0, "virDomainGetState", error))
        return false;
    {
        QEMU_WITH_DOMAIN(&args->dom, dom, error);
        ret->state = dom->state;
        ret->reason = dom->reason;
    }
    return true;
}

/* virDomainDiskErrorCode from query-block's "io-status" */
static int
qemu_disk_error_code(const char *io_status)
{
    if (!io_status || g_str_equal(io_status, "ok"))
        return 0;                               /* VIR_DOMAIN_DISK_ERROR_NONE */
    if (g_str_equal(io_status, "nospace"))
        return 2;                               /* VIR_DOMAIN_DISK_ERROR_NO_SPACE */
    return 1;                                   /* VIR_DOMAIN_DISK_ERROR_UNSPEC */
}

/* virDomainGetDiskErrors: the disks whose last I/O failed, from QEMU's
 * io-status (kept while the guest is paused by the error, cleared when it
 * goes on).  maxerrors 0 asks how many there could be: the disk count. */
static bool
qemu_get_disk_errors(RpcServerCall *call, const RemoteDomainGetDiskErrorsArgs *args,
                     RemoteDomainGetDiskErrorsRet *ret, GError **error)
{
    g_autoptr(QemuDomain) dom = NULL;
    g_autoptr(QemuMonitor) mon = NULL;
    g_autoptr(json_object) blocks = NULL;
    g_autoptr(GPtrArray) disks = g_ptr_array_new_with_free_func(g_free);   /* alias, dst */

    if (!qemu_check_flags(args->flags, 0, "virDomainGetDiskErrors", error))
        return false;
    if (args->maxerrors > RPC_DOMAIN_DISK_ERRORS_MAX) {
        util_error_set(error, VIR_FROM_RPC, VIR_ERR_RPC, "maxerrors too large");
        return false;
    }
    if (!(dom = qemu_domain_lookup(&args->dom, error)))
        return false;
    g_mutex_lock(&dom->lock);
    for (guint i = 0; dom->id >= 0 && dom->live && i < dom->live->disks->len; i++) {
        const ConfDomainDiskDef *disk = g_ptr_array_index(dom->live->disks, i);

        g_ptr_array_add(disks, g_strdup(disk->info.alias ? disk->info.alias : ""));
        g_ptr_array_add(disks, g_strdup(disk->dst));
    }
    g_mutex_unlock(&dom->lock);
    if (!(mon = qemu_domain_get_monitor(dom, error)))
        return false;
    if (args->maxerrors == 0) {
        ret->nerrors = disks->len / 2;
        return true;
    }
    if (!(blocks = qemu_monitor_command(mon, "query-block", NULL, 0, error)))
        return false;
    ret->errors_val = g_new0(RemoteDomainDiskError, args->maxerrors);
    for (guint i = 0; i + 1 < disks->len && ret->errors_len < args->maxerrors; i += 2) {
        const char *alias = g_ptr_array_index(disks, i);
        g_autofree char *prefix = g_strdup_printf("/machine/peripheral/%s/", alias);

        for (size_t k = 0; json_object_is_type(blocks, json_type_array) &&
                           k < json_object_array_length(blocks); k++) {
            json_object *b = json_object_array_get_idx(blocks, k);
            json_object *v = NULL;
            const char *qdev = json_object_object_get_ex(b, "qdev", &v) ?
                               json_object_get_string(v) : NULL;
            int code;

            if (!*alias || !qdev || (!g_str_equal(qdev, alias) && !g_str_has_prefix(qdev, prefix)))
                continue;
            code = qemu_disk_error_code(json_object_object_get_ex(b, "io-status", &v) ?
                                        json_object_get_string(v) : NULL);
            if (code) {
                RemoteDomainDiskError *e = &ret->errors_val[ret->errors_len++];

                e->disk = g_strdup(g_ptr_array_index(disks, i + 1));
                e->error = code;
            }
            break;
        }
    }
    ret->nerrors = ret->errors_len;
    return true;
}

static bool
qemu_is_active(RpcServerCall *call, const RemoteDomainIsActiveArgs *args,
               RemoteDomainIsActiveRet *ret, GError **error)
{
    QEMU_WITH_DOMAIN(&args->dom, dom, error);
    ret->active = dom->id >= 0;
    return true;
}

static bool
qemu_is_persistent(RpcServerCall *call, const RemoteDomainIsPersistentArgs *args,
                   RemoteDomainIsPersistentRet *ret, GError **error)
{
    QEMU_WITH_DOMAIN(&args->dom, dom, error);
    ret->persistent = dom->persistent;
    return true;
}

static bool
qemu_is_updated(RpcServerCall *call, const RemoteDomainIsUpdatedArgs *args,
                RemoteDomainIsUpdatedRet *ret, GError **error)
{
    QEMU_WITH_DOMAIN(&args->dom, dom, error);
    ret->updated = 0;
    return true;
}

static bool
qemu_get_os_type(RpcServerCall *call, const RemoteDomainGetOsTypeArgs *args,
                 RemoteDomainGetOsTypeRet *ret, GError **error)
{
    QEMU_WITH_DOMAIN(&args->dom, dom, error);
    ret->type = g_strdup(conf_domain_os_type_to_string((dom->live ? dom->live : dom->def)->os.type));
    return true;
}

static bool
qemu_get_max_memory(RpcServerCall *call, const RemoteDomainGetMaxMemoryArgs *args,
                    RemoteDomainGetMaxMemoryRet *ret, GError **error)
{
    QEMU_WITH_DOMAIN(&args->dom, dom, error);
    ret->memory = (dom->live ? dom->live : dom->def)->memory_kib;
    return true;
}

/* virDomainVcpuFlags: current 0, live 1, config 2, maximum 4, guest 8 */
static bool
qemu_vcpus(QemuDomain *dom, unsigned int flags, gint32 *ret_num, GError **error)
{
    bool live = (flags & 1) || (!(flags & 2) && dom->id >= 0);

    if ((flags & 1) && (flags & 2)) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INVALID_ARG,
                       "invalid argument: flags 'affect live' and 'affect config' are mutually exclusive");
        return false;
    }
    if (live && dom->id < 0) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_OPERATION_INVALID,
                       "Requested operation is not valid: domain is not running");
        return false;
    }
    if (flags & 8) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_ARGUMENT_UNSUPPORTED,
                       "argument unsupported: asking the guest agent for vCPUs is not supported yet");
        return false;
    }
    *ret_num = (live ? dom->live : dom->def)->vcpus;
    return true;
}

static bool
qemu_get_vcpus_flags(RpcServerCall *call, const RemoteDomainGetVcpusFlagsArgs *args,
                     RemoteDomainGetVcpusFlagsRet *ret, GError **error)
{
    if (!qemu_check_flags(args->flags, 0xf, "virDomainGetVcpusFlags", error))
        return false;
    {
        QEMU_WITH_DOMAIN(&args->dom, dom, error);
        return qemu_vcpus(dom, args->flags, &ret->num, error);
    }
}

static bool
qemu_get_max_vcpus(RpcServerCall *call, const RemoteDomainGetMaxVcpusArgs *args,
                   RemoteDomainGetMaxVcpusRet *ret, GError **error)
{
    QEMU_WITH_DOMAIN(&args->dom, dom, error);
    return qemu_vcpus(dom, 1 | 4, &ret->num, error);
}

static bool
qemu_get_autostart(RpcServerCall *call, const RemoteDomainGetAutostartArgs *args,
                   RemoteDomainGetAutostartRet *ret, GError **error)
{
    QEMU_WITH_DOMAIN(&args->dom, dom, error);
    ret->autostart = dom->autostart;
    return true;
}

static bool
qemu_set_autostart(RpcServerCall *call, const RemoteDomainSetAutostartArgs *args,
                   GError **error)
{
    g_autoptr(QemuDomain) dom = qemu_domain_lookup(&args->dom, error);
    g_autofree char *link = NULL;
    g_autofree char *target = NULL;
    bool want = args->autostart != 0;

    if (!dom)
        return false;
    g_rw_lock_writer_lock(&registry.lock);
    if (!dom->persistent) {
        g_rw_lock_writer_unlock(&registry.lock);
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_OPERATION_INVALID,
                       "Requested operation is not valid: cannot set autostart for transient domain");
        return false;
    }
    link = qemu_autostart_path(dom->def->name);
    target = g_strdup_printf("../%s.xml", dom->def->name);
    if (want && !dom->autostart) {
        unlink(link);
        if (symlink(target, link) < 0) {
            g_rw_lock_writer_unlock(&registry.lock);
            util_error_set_errno(error, VIR_FROM_QEMU, errno,
                                 "Failed to create symlink '%s' to '%s'", link, target);
            return false;
        }
    } else if (!want && dom->autostart && unlink(link) < 0 && errno != ENOENT) {
        g_rw_lock_writer_unlock(&registry.lock);
        util_error_set_errno(error, VIR_FROM_QEMU, errno, "Failed to delete symlink '%s'", link);
        return false;
    }
    dom->autostart = want;
    g_rw_lock_writer_unlock(&registry.lock);
    return true;
}

static bool
qemu_get_security_label(RpcServerCall *call, const RemoteDomainGetSecurityLabelArgs *args,
                        RemoteDomainGetSecurityLabelRet *ret, GError **error)
{
    QEMU_WITH_DOMAIN(&args->dom, dom, error);
    /* no security driver: an empty label, counted with its NUL as libvirt does */
    ret->label_len = 1;
    ret->label_val = g_strdup("");
    ret->enforcing = 0;
    return true;
}

static bool
qemu_has_managed_save(RpcServerCall *call, const RemoteDomainHasManagedSaveImageArgs *args,
                      RemoteDomainHasManagedSaveImageRet *ret, GError **error)
{
    if (!qemu_check_flags(args->flags, 0, "virDomainHasManagedSaveImage", error))
        return false;
    {
        QEMU_WITH_DOMAIN(&args->dom, dom, error);
        ret->result = 0;
    }
    return true;
}

void
qemu_domain_fill_ops(RemoteServerOps *ops)
{
    ops->domain_define_xml = qemu_define_xml;
    ops->domain_define_xml_flags = qemu_define_xml_flags;
    ops->domain_undefine = qemu_undefine_plain;
    ops->domain_undefine_flags = qemu_undefine_flags;
    ops->domain_lookup_by_name = qemu_lookup_by_name;
    ops->domain_lookup_by_uuid = qemu_lookup_by_uuid;
    ops->domain_lookup_by_id = qemu_lookup_by_id;
    ops->connect_list_all_domains = qemu_list_all;
    ops->connect_num_of_domains = qemu_num_of_domains;
    ops->connect_num_of_defined_domains = qemu_num_of_defined;
    ops->connect_list_domains = qemu_list_domains;
    ops->connect_list_defined_domains = qemu_list_defined;
    ops->domain_get_xml_desc = qemu_get_xml_desc;
    ops->domain_get_info = qemu_get_info;
    ops->domain_get_state = qemu_get_state;
    ops->domain_get_disk_errors = qemu_get_disk_errors;
    ops->domain_is_active = qemu_is_active;
    ops->domain_is_persistent = qemu_is_persistent;
    ops->domain_is_updated = qemu_is_updated;
    ops->domain_get_os_type = qemu_get_os_type;
    ops->domain_get_max_memory = qemu_get_max_memory;
    ops->domain_get_max_vcpus = qemu_get_max_vcpus;
    ops->domain_get_vcpus_flags = qemu_get_vcpus_flags;
    ops->domain_get_autostart = qemu_get_autostart;
    ops->domain_set_autostart = qemu_set_autostart;
    ops->domain_get_security_label = qemu_get_security_label;
    ops->domain_has_managed_save_image = qemu_has_managed_save;
    ops->connect_domain_event_callback_register_any = qemu_event_register;
    qemu_lifecycle_fill_ops(ops);
    qemu_blockjob_fill_ops(ops);
    qemu_snapshot_fill_ops(ops);
}
