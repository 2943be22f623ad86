/*
 * qemu-monitor.c: a QMP client on a GMainContext.
 *
 * Locking.  Fields marked "ctx" are touched only by the thread that owns
 * the context (iterating it, or holding it through
 * g_main_context_acquire()); fields marked "lock" are shared with other
 * threads under mon->lock.  Callbacks are always called without the lock.
 * Socket writes happen in the context thread too: other threads queue a
 * line and schedule a flush.
 */
#define G_LOG_DOMAIN "modvirt.qemu-monitor"

#include "qemu-monitor.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <glib-unix.h>

#define QEMU_MONITOR_READ_CHUNK 65536
#define QEMU_MONITOR_READ_ROUNDS 16
#define QEMU_MONITOR_JSON_DEPTH 1024
#define QEMU_MONITOR_TIMED_OUT_MAX 1024
#define QEMU_MONITOR_CONNECT_RETRY_MS 10
#define QEMU_MONITOR_EXCERPT 80
/* a blocking caller re-checks whether it must drive the context itself */
#define QEMU_MONITOR_WAIT_SLICE_US (50 * G_TIME_SPAN_MILLISECOND)
/* a blocking caller gives up by itself this long after the command's
 * timeout, should the context not run at all */
#define QEMU_MONITOR_WAIT_GRACE_US (1 * G_TIME_SPAN_SECOND)

typedef enum {
    QEMU_MONITOR_STATE_CONNECTING,    /* connect(2) in progress */
    QEMU_MONITOR_STATE_GREETING,      /* waiting for {"QMP": ...} */
    QEMU_MONITOR_STATE_NEGOTIATING,   /* qmp_capabilities sent */
    QEMU_MONITOR_STATE_READY,
    QEMU_MONITOR_STATE_CLOSED,
    QEMU_MONITOR_STATE_LAST
} QemuMonitorState;

static const char *const qemu_monitor_state_names[] = {
    [QEMU_MONITOR_STATE_CONNECTING] = "connecting",
    [QEMU_MONITOR_STATE_GREETING] = "greeting",
    [QEMU_MONITOR_STATE_NEGOTIATING] = "negotiating",
    [QEMU_MONITOR_STATE_READY] = "ready",
    [QEMU_MONITOR_STATE_CLOSED] = "closed",
};
G_STATIC_ASSERT(G_N_ELEMENTS(qemu_monitor_state_names) == QEMU_MONITOR_STATE_LAST);

static const char *const qemu_monitor_run_state_names[] = {
    [QEMU_MONITOR_RUN_STATE_UNKNOWN] = "unknown",
    [QEMU_MONITOR_RUN_STATE_DEBUG] = "debug",
    [QEMU_MONITOR_RUN_STATE_INMIGRATE] = "inmigrate",
    [QEMU_MONITOR_RUN_STATE_INTERNAL_ERROR] = "internal-error",
    [QEMU_MONITOR_RUN_STATE_IO_ERROR] = "io-error",
    [QEMU_MONITOR_RUN_STATE_PAUSED] = "paused",
    [QEMU_MONITOR_RUN_STATE_POSTMIGRATE] = "postmigrate",
    [QEMU_MONITOR_RUN_STATE_PRELAUNCH] = "prelaunch",
    [QEMU_MONITOR_RUN_STATE_FINISH_MIGRATE] = "finish-migrate",
    [QEMU_MONITOR_RUN_STATE_RESTORE_VM] = "restore-vm",
    [QEMU_MONITOR_RUN_STATE_RUNNING] = "running",
    [QEMU_MONITOR_RUN_STATE_SAVE_VM] = "save-vm",
    [QEMU_MONITOR_RUN_STATE_SHUTDOWN] = "shutdown",
    [QEMU_MONITOR_RUN_STATE_SUSPENDED] = "suspended",
    [QEMU_MONITOR_RUN_STATE_WATCHDOG] = "watchdog",
    [QEMU_MONITOR_RUN_STATE_GUEST_PANICKED] = "guest-panicked",
    [QEMU_MONITOR_RUN_STATE_COLO] = "colo",
    [QEMU_MONITOR_RUN_STATE_PRECONFIG] = "preconfig",
};
G_STATIC_ASSERT(G_N_ELEMENTS(qemu_monitor_run_state_names) == QEMU_MONITOR_RUN_STATE_LAST);

/* One command sent or about to be sent, keyed by its id. */
typedef struct {
    guint64 serial;
    char *id;
    char *cmd;
    int timeout_ms;
    QemuMonitorReplyFunc cb;
    gpointer data;
    GSource *timer;        /* owned reference; NULL without timeout */
} QemuMonitorPending;

/* One line to write. */
typedef struct {
    guint64 serial;
    char *data;
    size_t len;
    size_t off;
} QemuMonitorOut;

struct _QemuMonitor {
    gint refs;
    GMainContext *ctx;
    QemuMonitorCallbacks cb;
    gpointer opaque;
    char *path;                 /* for messages */
    size_t max_line;
    int open_timeout_ms;

    /* ctx */
    int fd;
    GSource *io;                /* holds a reference to the monitor */
    gpointer io_tag;
    GSource *handshake_timer;
    GSource *retry_timer;
    char *rbuf;
    size_t rlen;
    size_t rsize;
    size_t scan;                /* rbuf[0..scan) holds no newline */
    json_tokener *tok;

    /* lock */
    GMutex lock;
    GCond cond;                 /* broadcast on state change and replies */
    QemuMonitorState state;
    bool close_requested;
    char *close_reason;
    GError *handshake_error;    /* what ready() was told, for wait_ready */
    bool responsive;
    int default_timeout_ms;
    guint64 next_serial;
    GHashTable *pending;        /* id -> QemuMonitorPending* */
    GQueue held;                /* QemuMonitorOut*, before the handshake ends */
    GQueue outq;                /* QemuMonitorOut*, to write */
    bool want_out;              /* G_IO_OUT is watched */
    bool flush_scheduled;
    GHashTable *timed_out;      /* id -> command name, sent and expired */
    GQueue timed_out_order;     /* ids (borrowed from timed_out), oldest first */
    bool have_greeting;
    int ver_major;
    int ver_minor;
    int ver_micro;
};

typedef struct {
    GSource base;
    QemuMonitor *mon;           /* a reference */
} QemuMonitorSource;

static void qemu_monitor_flush_and_watch(QemuMonitor *mon);
static void qemu_monitor_teardown(QemuMonitor *mon, int code, const char *reason,
                                  bool by_owner);

/* ---------------------------------------------------------------------- */
/* small helpers                                                          */

static void
qemu_monitor_pending_free(QemuMonitorPending *p)
{
    if (!p)
        return;
    if (p->timer) {
        g_source_destroy(p->timer);
        g_source_unref(p->timer);
    }
    g_free(p->id);
    g_free(p->cmd);
    g_free(p);
}

static void
qemu_monitor_out_free(gpointer ptr)
{
    QemuMonitorOut *o = ptr;

    g_free(o->data);
    g_free(o);
}

static gint
qemu_monitor_pending_cmp(gconstpointer a, gconstpointer b)
{
    const QemuMonitorPending *pa = a;
    const QemuMonitorPending *pb = b;

    return pa->serial < pb->serial ? -1 : pa->serial > pb->serial;
}

/* The start of @text for a log or an error message. */
static char *
qemu_monitor_excerpt(const char *text, size_t len)
{
    g_autofree char *cut = g_strndup(text, MIN(len, (size_t)QEMU_MONITOR_EXCERPT));
    g_autofree char *esc = g_strescape(cut, "\"");

    if (len > QEMU_MONITOR_EXCERPT)
        return g_strdup_printf("%s...", esc);
    return g_steal_pointer(&esc);
}

static void
qemu_monitor_set_state_locked(QemuMonitor *mon, QemuMonitorState state)
{
    if (mon->state == state)
        return;
    g_debug("monitor %p '%s': state %s -> %s", (void *)mon, mon->path,
            qemu_monitor_state_names[mon->state], qemu_monitor_state_names[state]);
    mon->state = state;
    g_cond_broadcast(&mon->cond);
}

static void
qemu_monitor_set_responsive_locked(QemuMonitor *mon, bool responsive)
{
    if (mon->responsive == responsive)
        return;
    g_debug("monitor %p '%s': %s -> %s", (void *)mon, mon->path,
            mon->responsive ? "responsive" : "unresponsive",
            responsive ? "responsive" : "unresponsive");
    mon->responsive = responsive;
}

static int
qemu_monitor_resolve_timeout_locked(QemuMonitor *mon, int timeout_ms)
{
    if (timeout_ms > 0)
        return timeout_ms;
    if (timeout_ms < 0)
        return -1;
    return mon->default_timeout_ms;
}

/* Call @cb with @error later, in the context thread. */
typedef struct {
    QemuMonitor *mon;
    QemuMonitorReplyFunc cb;
    gpointer data;
    GError *error;
} QemuMonitorLateError;

static void
qemu_monitor_late_error_free(gpointer ptr)
{
    QemuMonitorLateError *le = ptr;

    qemu_monitor_unref(le->mon);
    g_clear_error(&le->error);
    g_free(le);
}

static gboolean
qemu_monitor_late_error_cb(gpointer ptr)
{
    QemuMonitorLateError *le = ptr;

    le->cb(le->mon, NULL, le->error, le->data);
    return G_SOURCE_REMOVE;
}

static void
qemu_monitor_fail_later(QemuMonitor *mon, QemuMonitorReplyFunc cb, gpointer data,
                        GError *error)
{
    QemuMonitorLateError *le;
    GSource *s;

    if (!cb) {
        g_error_free(error);
        return;
    }
    le = g_new0(QemuMonitorLateError, 1);
    le->mon = qemu_monitor_ref(mon);
    le->cb = cb;
    le->data = data;
    le->error = error;
    s = g_idle_source_new();
    g_source_set_priority(s, G_PRIORITY_DEFAULT);
    g_source_set_callback(s, qemu_monitor_late_error_cb, le, qemu_monitor_late_error_free);
    g_source_attach(s, mon->ctx);
    g_source_unref(s);
}

/* ---------------------------------------------------------------------- */
/* writing                                                                */

static gboolean
qemu_monitor_flush_idle_cb(gpointer data)
{
    QemuMonitor *mon = data;

    g_mutex_lock(&mon->lock);
    mon->flush_scheduled = false;
    g_mutex_unlock(&mon->lock);
    qemu_monitor_flush_and_watch(mon);
    return G_SOURCE_REMOVE;
}

/* Make the context thread write the queue soon. */
static void
qemu_monitor_kick_locked(QemuMonitor *mon)
{
    GSource *s;

    if (mon->flush_scheduled || mon->want_out || g_queue_is_empty(&mon->outq))
        return;
    mon->flush_scheduled = true;
    s = g_idle_source_new();
    g_source_set_priority(s, G_PRIORITY_DEFAULT);
    g_source_set_callback(s, qemu_monitor_flush_idle_cb, qemu_monitor_ref(mon),
                          (GDestroyNotify)qemu_monitor_unref);
    g_source_attach(s, mon->ctx);
    g_source_unref(s);
}

/* Write what the socket takes.  Returns 0, or an errno on a fatal error. */
static int
qemu_monitor_write_locked(QemuMonitor *mon)
{
    while (!g_queue_is_empty(&mon->outq)) {
        QemuMonitorOut *o = g_queue_peek_head(&mon->outq);
        ssize_t n = send(mon->fd, o->data + o->off, o->len - o->off,
                         MSG_NOSIGNAL | MSG_DONTWAIT);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            return errno;
        }
        o->off += n;
        if (o->off == o->len)
            qemu_monitor_out_free(g_queue_pop_head(&mon->outq));
    }
    return 0;
}

static void
qemu_monitor_update_watch(QemuMonitor *mon)
{
    GIOCondition cond = G_IO_IN;

    if (!mon->io || !mon->io_tag)
        return;
    g_mutex_lock(&mon->lock);
    mon->want_out = !g_queue_is_empty(&mon->outq);
    if (mon->want_out)
        cond |= G_IO_OUT;
    g_mutex_unlock(&mon->lock);
    g_source_modify_unix_fd(mon->io, mon->io_tag, cond);
}

static void qemu_monitor_read(QemuMonitor *mon);

/* Context thread: write the queue, then watch for what is left. */
static void
qemu_monitor_flush_and_watch(QemuMonitor *mon)
{
    g_autoptr(QemuMonitor) hold = qemu_monitor_ref(mon);
    int err = 0;

    g_mutex_lock(&mon->lock);
    if (mon->state == QEMU_MONITOR_STATE_CLOSED ||
        mon->state == QEMU_MONITOR_STATE_CONNECTING) {
        g_mutex_unlock(&mon->lock);
        return;
    }
    err = qemu_monitor_write_locked(mon);
    g_mutex_unlock(&mon->lock);
    if (err) {
        g_autofree char *why = g_strdup_printf("write failed: %s", g_strerror(err));

        /* take what QEMU said before it went away (a reply to 'quit') */
        qemu_monitor_read(mon);
        qemu_monitor_teardown(mon, VIR_ERR_OPERATION_FAILED, why, false);
        return;
    }
    qemu_monitor_update_watch(mon);
}

/* ---------------------------------------------------------------------- */
/* commands                                                               */

static gboolean qemu_monitor_timeout_cb(gpointer data);

typedef struct {
    QemuMonitor *mon;
    char *id;
} QemuMonitorTimerData;

static void
qemu_monitor_timer_data_free(gpointer ptr)
{
    QemuMonitorTimerData *td = ptr;

    qemu_monitor_unref(td->mon);
    g_free(td->id);
    g_free(td);
}

/* Queue a command.  Returns false with @error when the monitor is closed
 * or the arguments are not an object; @args is consumed either way. */
static bool
qemu_monitor_submit(QemuMonitor *mon, const char *cmd, json_object *args,
                    int timeout_ms, QemuMonitorReplyFunc cb, gpointer data,
                    bool handshake, char **ret_id, GError **error)
{
    g_autoptr(json_object) msg = json_object_new_object();
    g_autoptr(json_object) owned_args = args;
    QemuMonitorPending *p;
    QemuMonitorOut *o;
    const char *text;

    if (owned_args && !json_object_is_type(owned_args, json_type_object)) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INVALID_ARG,
                       "arguments of QEMU command '%s' must be a JSON object", cmd);
        return false;
    }

    g_mutex_lock(&mon->lock);
    if (mon->state == QEMU_MONITOR_STATE_CLOSED || mon->close_requested) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_OPERATION_FAILED,
                       "QEMU monitor closed: %s",
                       mon->close_reason ? mon->close_reason : "closed by its owner");
        g_mutex_unlock(&mon->lock);
        return false;
    }

    p = g_new0(QemuMonitorPending, 1);
    p->serial = ++mon->next_serial;
    p->id = g_strdup_printf("modvirt-%" G_GUINT64_FORMAT, p->serial);
    p->cmd = g_strdup(cmd);
    p->timeout_ms = qemu_monitor_resolve_timeout_locked(mon, timeout_ms);
    p->cb = cb;
    p->data = data;

    json_object_object_add(msg, "execute", json_object_new_string(cmd));
    if (owned_args)
        json_object_object_add(msg, "arguments", g_steal_pointer(&owned_args));
    json_object_object_add(msg, "id", json_object_new_string(p->id));
    text = json_object_to_json_string_ext(msg, JSON_C_TO_STRING_PLAIN |
                                          JSON_C_TO_STRING_NOSLASHESCAPE);
    o = g_new0(QemuMonitorOut, 1);
    o->serial = p->serial;
    o->data = g_strconcat(text, "\n", NULL);
    o->len = strlen(o->data);

    if (p->timeout_ms > 0) {
        QemuMonitorTimerData *td = g_new0(QemuMonitorTimerData, 1);

        td->mon = qemu_monitor_ref(mon);
        td->id = g_strdup(p->id);
        p->timer = g_timeout_source_new(p->timeout_ms);
        g_source_set_callback(p->timer, qemu_monitor_timeout_cb, td,
                              qemu_monitor_timer_data_free);
    }
    g_hash_table_insert(mon->pending, p->id, p);
    g_debug("monitor %p: queued command '%s' id %s (timeout %d ms)",
            (void *)mon, cmd, p->id, p->timeout_ms);
    if (handshake || mon->state == QEMU_MONITOR_STATE_READY) {
        g_queue_push_tail(&mon->outq, o);
        qemu_monitor_kick_locked(mon);
    } else {
        g_queue_push_tail(&mon->held, o);
    }
    if (p->timer)
        g_source_attach(p->timer, mon->ctx);
    if (ret_id)
        *ret_id = g_strdup(p->id);
    g_mutex_unlock(&mon->lock);
    return true;
}

/* @p was removed from the table without a reply: withdraw its line if no
 * byte of it was written, else remember its id to recognise a late reply. */
static void
qemu_monitor_expire_locked(QemuMonitor *mon, QemuMonitorPending *p)
{
    GQueue *queues[] = { &mon->held, &mon->outq };

    for (size_t i = 0; i < G_N_ELEMENTS(queues); i++) {
        for (GList *l = queues[i]->head; l; l = l->next) {
            QemuMonitorOut *o = l->data;

            if (o->serial != p->serial)
                continue;
            if (o->off == 0) {
                g_debug("monitor %p: command '%s' id %s withdrawn unsent",
                        (void *)mon, p->cmd, p->id);
                qemu_monitor_out_free(o);
                g_queue_delete_link(queues[i], l);
                return;
            }
            break;
        }
    }
    if (g_hash_table_size(mon->timed_out) >= QEMU_MONITOR_TIMED_OUT_MAX) {
        char *oldest = g_queue_pop_head(&mon->timed_out_order);
        g_hash_table_remove(mon->timed_out, oldest);
    }
    {
        char *id = g_strdup(p->id);

        g_hash_table_insert(mon->timed_out, id, g_strdup(p->cmd));
        g_queue_push_tail(&mon->timed_out_order, id);
    }
}

static void
qemu_monitor_timeout_error(GError **error, const QemuMonitorPending *p)
{
    util_error_set(error, VIR_FROM_QEMU, VIR_ERR_OPERATION_TIMEOUT,
                   "timed out after %d ms waiting for QEMU monitor command '%s'",
                   p->timeout_ms, p->cmd);
}

static gboolean
qemu_monitor_timeout_cb(gpointer data)
{
    QemuMonitorTimerData *td = data;
    QemuMonitor *mon = td->mon;
    g_autoptr(GError) error = NULL;
    QemuMonitorPending *p;

    g_mutex_lock(&mon->lock);
    p = g_hash_table_lookup(mon->pending, td->id);
    if (!p) {
        g_mutex_unlock(&mon->lock);
        return G_SOURCE_REMOVE;
    }
    g_hash_table_steal(mon->pending, td->id);
    qemu_monitor_expire_locked(mon, p);
    g_debug("monitor %p '%s': command '%s' id %s timed out after %d ms",
            (void *)mon, mon->path, p->cmd, p->id, p->timeout_ms);
    qemu_monitor_set_responsive_locked(mon, false);
    g_mutex_unlock(&mon->lock);

    qemu_monitor_timeout_error(&error, p);
    if (p->cb)
        p->cb(mon, NULL, error, p->data);
    qemu_monitor_pending_free(p);     /* destroys this very source: fine */
    return G_SOURCE_REMOVE;
}

void
qemu_monitor_command_async(QemuMonitor *mon, const char *cmd, json_object *args,
                           int timeout_ms, QemuMonitorReplyFunc cb, gpointer data)
{
    GError *error = NULL;

    if (!mon || !cmd) {
        json_object_put(args);
        g_return_if_reached();
    }
    if (!qemu_monitor_submit(mon, cmd, args, timeout_ms, cb, data, false, NULL, &error))
        qemu_monitor_fail_later(mon, cb, data, error);
}

/* ---------------------------------------------------------------------- */
/* waiting from other threads                                             */

typedef bool (*QemuMonitorPredicate)(QemuMonitor *mon, gpointer data);

static gboolean
qemu_monitor_wake_cb(gpointer data)
{
    return G_SOURCE_REMOVE;
}

/* With mon->lock held, wait until @pred holds or the monotonic @deadline
 * (0: none) passes.  When no thread iterates the context, iterate it here.
 * Returns whether @pred holds. */
static bool
qemu_monitor_wait_locked(QemuMonitor *mon, QemuMonitorPredicate pred, gpointer data,
                         gint64 deadline)
{
    while (!pred(mon, data)) {
        gint64 now = g_get_monotonic_time();
        gint64 until = now + QEMU_MONITOR_WAIT_SLICE_US;

        if (deadline && now >= deadline)
            return false;
        if (g_main_context_acquire(mon->ctx)) {
            GSource *wake = NULL;

            /* nobody runs the context: run it here, waking up at @deadline */
            if (deadline) {
                wake = g_timeout_source_new(MAX((deadline - now + 999) / 1000, 1));
                g_source_set_callback(wake, qemu_monitor_wake_cb, NULL, NULL);
                g_source_attach(wake, mon->ctx);
            }
            g_mutex_unlock(&mon->lock);
            g_main_context_iteration(mon->ctx, TRUE);
            if (wake) {
                g_source_destroy(wake);
                g_source_unref(wake);
            }
            g_main_context_release(mon->ctx);
            g_mutex_lock(&mon->lock);
            continue;
        }
        if (deadline && deadline < until)
            until = deadline;
        g_cond_wait_until(&mon->cond, &mon->lock, until);
    }
    return true;
}

static bool
qemu_monitor_check_thread(QemuMonitor *mon, const char *what, GError **error)
{
    if (g_main_context_is_owner(mon->ctx)) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INTERNAL_ERROR,
                       "blocking %s called from the QEMU monitor's context thread",
                       what);
        return false;
    }
    return true;
}

typedef struct {
    bool done;
    json_object *reply;
    GError *error;
} QemuMonitorWaiter;

static void
qemu_monitor_waiter_cb(QemuMonitor *mon, json_object *reply, const GError *error,
                       gpointer data)
{
    QemuMonitorWaiter *w = data;

    g_mutex_lock(&mon->lock);
    /* A copy, not a reference: json-c's reference counts are not atomic
     * (Debian builds it without threading), and this thread drops the
     * message @reply belongs to while the waiting thread drops its part. */
    if (error)
        w->error = g_error_copy(error);
    else if (!reply || json_object_deep_copy(reply, &w->reply, NULL) < 0)
        w->reply = json_object_new_object();
    w->done = true;
    g_cond_broadcast(&mon->cond);
    g_mutex_unlock(&mon->lock);
}

static bool
qemu_monitor_waiter_done(QemuMonitor *mon, gpointer data)
{
    return ((QemuMonitorWaiter *)data)->done;
}

json_object *
qemu_monitor_command(QemuMonitor *mon, const char *cmd, json_object *args,
                     int timeout_ms, GError **error)
{
    QemuMonitorWaiter w = { 0 };
    g_autofree char *id = NULL;
    gint64 deadline = 0;
    int timeout;

    if (!qemu_monitor_check_thread(mon, "QEMU monitor command", error)) {
        json_object_put(args);
        return NULL;
    }
    if (!qemu_monitor_submit(mon, cmd, args, timeout_ms, qemu_monitor_waiter_cb, &w,
                             false, &id, error))
        return NULL;

    g_mutex_lock(&mon->lock);
    timeout = qemu_monitor_resolve_timeout_locked(mon, timeout_ms);
    if (timeout > 0)
        deadline = g_get_monotonic_time() + timeout * G_TIME_SPAN_MILLISECOND +
                   QEMU_MONITOR_WAIT_GRACE_US;
    if (!qemu_monitor_wait_locked(mon, qemu_monitor_waiter_done, &w, deadline)) {
        /* the context did not run at all: give up here */
        QemuMonitorPending *p = g_hash_table_lookup(mon->pending, id);

        if (p) {
            g_hash_table_steal(mon->pending, id);
            qemu_monitor_expire_locked(mon, p);
            qemu_monitor_set_responsive_locked(mon, false);
            g_mutex_unlock(&mon->lock);
            qemu_monitor_timeout_error(error, p);
            qemu_monitor_pending_free(p);
            return NULL;
        }
        /* being answered right now */
        qemu_monitor_wait_locked(mon, qemu_monitor_waiter_done, &w, 0);
    }
    g_mutex_unlock(&mon->lock);
    if (w.error) {
        g_propagate_error(error, w.error);
        return NULL;
    }
    return w.reply;
}

static bool
qemu_monitor_handshake_over(QemuMonitor *mon, gpointer data)
{
    return mon->state == QEMU_MONITOR_STATE_READY ||
           mon->state == QEMU_MONITOR_STATE_CLOSED;
}

bool
qemu_monitor_wait_ready(QemuMonitor *mon, int timeout_ms, GError **error)
{
    gint64 deadline = 0;

    if (!qemu_monitor_check_thread(mon, "wait for the QEMU monitor", error))
        return false;
    if (timeout_ms >= 0)
        deadline = g_get_monotonic_time() + timeout_ms * G_TIME_SPAN_MILLISECOND;
    g_mutex_lock(&mon->lock);
    if (!qemu_monitor_wait_locked(mon, qemu_monitor_handshake_over, NULL, deadline)) {
        g_mutex_unlock(&mon->lock);
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_OPERATION_TIMEOUT,
                       "timed out after %d ms waiting for QEMU monitor '%s'",
                       timeout_ms, mon->path);
        return false;
    }
    if (mon->state == QEMU_MONITOR_STATE_READY) {
        g_mutex_unlock(&mon->lock);
        return true;
    }
    if (mon->handshake_error)
        g_propagate_error(error, g_error_copy(mon->handshake_error));
    else
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_OPERATION_FAILED,
                       "QEMU monitor closed: %s",
                       mon->close_reason ? mon->close_reason : "closed by its owner");
    g_mutex_unlock(&mon->lock);
    return false;
}

/* ---------------------------------------------------------------------- */
/* teardown                                                               */

static void
qemu_monitor_clear_source(GSource **src)
{
    if (!*src)
        return;
    g_source_destroy(*src);
    g_source_unref(*src);
    *src = NULL;
}

/* Context thread: end the connection, fail what is outstanding, tell the
 * owner (unless the owner asked for it). */
static void
qemu_monitor_teardown(QemuMonitor *mon, int code, const char *reason, bool by_owner)
{
    g_autoptr(QemuMonitor) hold = qemu_monitor_ref(mon);
    g_autoptr(GError) cause = NULL;
    QemuMonitorState old;
    GList *pending;
    int fd;

    g_mutex_lock(&mon->lock);
    if (mon->state == QEMU_MONITOR_STATE_CLOSED) {
        g_mutex_unlock(&mon->lock);
        return;
    }
    old = mon->state;
    /* the owner asked first (from another thread): no ready/eof for it */
    by_owner = by_owner || mon->close_requested;
    g_debug("monitor %p '%s': closing: %s", (void *)mon, mon->path, reason);
    qemu_monitor_set_state_locked(mon, QEMU_MONITOR_STATE_CLOSED);
    mon->close_reason = g_strdup(reason);
    if (old < QEMU_MONITOR_STATE_READY) {
        if (by_owner)
            util_error_set(&mon->handshake_error, VIR_FROM_QEMU, VIR_ERR_OPERATION_FAILED,
                           "QEMU monitor closed: %s", reason);
        else
            util_error_set(&mon->handshake_error, VIR_FROM_QEMU, code,
                           "QEMU monitor handshake failed: %s", reason);
        cause = g_error_copy(mon->handshake_error);
    } else {
        util_error_set(&cause, VIR_FROM_QEMU, code, "QEMU monitor closed: %s", reason);
    }
    pending = g_list_sort(g_hash_table_get_values(mon->pending), qemu_monitor_pending_cmp);
    g_hash_table_steal_all(mon->pending);
    g_queue_clear_full(&mon->held, qemu_monitor_out_free);
    g_queue_clear_full(&mon->outq, qemu_monitor_out_free);
    g_queue_clear(&mon->timed_out_order);
    g_hash_table_remove_all(mon->timed_out);
    fd = mon->fd;
    mon->fd = -1;
    g_mutex_unlock(&mon->lock);

    qemu_monitor_clear_source(&mon->io);     /* drops its reference */
    qemu_monitor_clear_source(&mon->handshake_timer);
    qemu_monitor_clear_source(&mon->retry_timer);
    if (fd >= 0)
        close(fd);

    for (GList *l = pending; l; l = l->next) {
        QemuMonitorPending *p = l->data;
        g_autoptr(GError) err = NULL;

        util_error_set(&err, VIR_FROM_QEMU, VIR_ERR_OPERATION_FAILED,
                       "QEMU monitor closed before command '%s' completed: %s",
                       p->cmd, reason);
        if (p->cb)
            p->cb(mon, NULL, err, p->data);
        qemu_monitor_pending_free(p);
    }
    g_list_free(pending);

    if (by_owner)
        return;
    if (old == QEMU_MONITOR_STATE_READY) {
        if (mon->cb.eof)
            mon->cb.eof(mon, cause, mon->opaque);
    } else if (mon->cb.ready) {
        mon->cb.ready(mon, cause, mon->opaque);
    }
}

static gboolean
qemu_monitor_close_idle_cb(gpointer data)
{
    qemu_monitor_teardown(data, VIR_ERR_OPERATION_FAILED, "closed by its owner", true);
    return G_SOURCE_REMOVE;
}

void
qemu_monitor_close(QemuMonitor *mon)
{
    if (!mon)
        return;
    g_mutex_lock(&mon->lock);
    if (mon->state == QEMU_MONITOR_STATE_CLOSED || mon->close_requested) {
        g_mutex_unlock(&mon->lock);
        return;
    }
    mon->close_requested = true;
    g_mutex_unlock(&mon->lock);

    if (g_main_context_acquire(mon->ctx)) {
        /* nobody else can be dispatching this context now */
        qemu_monitor_teardown(mon, VIR_ERR_OPERATION_FAILED, "closed by its owner", true);
        g_main_context_release(mon->ctx);
    } else {
        GSource *s = g_idle_source_new();

        g_source_set_priority(s, G_PRIORITY_HIGH);
        g_source_set_callback(s, qemu_monitor_close_idle_cb, qemu_monitor_ref(mon),
                              (GDestroyNotify)qemu_monitor_unref);
        g_source_attach(s, mon->ctx);
        g_source_unref(s);
    }
}

/* ---------------------------------------------------------------------- */
/* reading                                                                */

/* The GError for a QMP error reply to @cmd. */
static void
qemu_monitor_reply_error(GError **error, const char *cmd, json_object *err)
{
    json_object *klass_obj = NULL;
    json_object *desc_obj = NULL;
    const char *klass;
    const char *desc;

    if (!json_object_is_type(err, json_type_object) ||
        !json_object_object_get_ex(err, "desc", &desc_obj) ||
        !json_object_is_type(desc_obj, json_type_string)) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INTERNAL_ERROR,
                       "malformed error reply to QEMU command '%s'", cmd);
        return;
    }
    desc = json_object_get_string(desc_obj);
    if (json_object_object_get_ex(err, "class", &klass_obj) &&
        json_object_is_type(klass_obj, json_type_string))
        klass = json_object_get_string(klass_obj);
    else
        klass = "GenericError";
    if (g_str_equal(klass, "GenericError"))
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_OPERATION_FAILED,
                       "unable to execute QEMU command '%s': %s", cmd, desc);
    else
        util_error_set(error, VIR_FROM_QEMU, qemu_monitor_error_class_code(klass),
                       "unable to execute QEMU command '%s': %s (%s)", cmd, desc, klass);
}

int
qemu_monitor_error_class_code(const char *klass)
{
    if (!klass)
        return VIR_ERR_OPERATION_FAILED;
    if (g_str_equal(klass, "CommandNotFound") || g_str_equal(klass, "KVMMissingCap"))
        return VIR_ERR_OPERATION_UNSUPPORTED;
    if (g_str_equal(klass, "DeviceNotActive"))
        return VIR_ERR_OPERATION_INVALID;
    if (g_str_equal(klass, "DeviceNotFound"))
        return VIR_ERR_DEVICE_MISSING;
    return VIR_ERR_OPERATION_FAILED;
}

static void
qemu_monitor_handle_reply(QemuMonitor *mon, json_object *msg)
{
    json_object *id_obj = NULL;
    json_object *err_obj = NULL;
    json_object *ret_obj = NULL;
    g_autoptr(GError) error = NULL;
    QemuMonitorPending *p;
    const char *id;

    if (!json_object_object_get_ex(msg, "id", &id_obj) ||
        !json_object_is_type(id_obj, json_type_string)) {
        g_debug("monitor %p: dropped a reply without a usable id: %s", (void *)mon,
                json_object_to_json_string_ext(msg, JSON_C_TO_STRING_PLAIN));
        return;
    }
    id = json_object_get_string(id_obj);

    g_mutex_lock(&mon->lock);
    qemu_monitor_set_responsive_locked(mon, true);
    p = g_hash_table_lookup(mon->pending, id);
    if (!p) {
        const char *late = g_hash_table_lookup(mon->timed_out, id);

        if (late) {
            gpointer key = NULL;

            g_debug("monitor %p: dropped the late reply to timed-out command '%s' id %s",
                    (void *)mon, late, id);
            g_hash_table_lookup_extended(mon->timed_out, id, &key, NULL);
            g_queue_remove(&mon->timed_out_order, key);
            g_hash_table_remove(mon->timed_out, id);
        } else {
            g_debug("monitor %p: dropped a reply with unknown id '%s'", (void *)mon, id);
        }
        g_mutex_unlock(&mon->lock);
        return;
    }
    g_hash_table_steal(mon->pending, id);
    g_mutex_unlock(&mon->lock);

    if (json_object_object_get_ex(msg, "error", &err_obj)) {
        qemu_monitor_reply_error(&error, p->cmd, err_obj);
    } else if (!json_object_object_get_ex(msg, "return", &ret_obj)) {
        util_error_set(&error, VIR_FROM_QEMU, VIR_ERR_INTERNAL_ERROR,
                       "malformed reply to QEMU command '%s'", p->cmd);
    }
    g_debug("monitor %p: reply to '%s' id %s: %s", (void *)mon, p->cmd, p->id,
            error ? error->message : "success");
    if (p->timer)
        g_source_destroy(p->timer);
    if (p->cb)
        p->cb(mon, error ? NULL : ret_obj, error, p->data);
    qemu_monitor_pending_free(p);
}

static void
qemu_monitor_handle_event(QemuMonitor *mon, json_object *msg, json_object *name_obj)
{
    json_object *data = NULL;
    json_object *ts = NULL;
    gint64 timestamp_us = -1;
    bool closing;

    if (!json_object_is_type(name_obj, json_type_string)) {
        g_debug("monitor %p: dropped an event without a name", (void *)mon);
        return;
    }
    json_object_object_get_ex(msg, "data", &data);
    if (json_object_object_get_ex(msg, "timestamp", &ts) &&
        json_object_is_type(ts, json_type_object)) {
        json_object *sec = NULL;
        json_object *usec = NULL;

        if (json_object_object_get_ex(ts, "seconds", &sec) &&
            json_object_object_get_ex(ts, "microseconds", &usec) &&
            json_object_is_type(sec, json_type_int) &&
            json_object_is_type(usec, json_type_int) &&
            json_object_get_int64(sec) >= 0 && json_object_get_int64(usec) >= 0 &&
            json_object_get_int64(sec) < G_MAXINT64 / G_USEC_PER_SEC - 1)
            timestamp_us = json_object_get_int64(sec) * G_USEC_PER_SEC +
                           MIN(json_object_get_int64(usec), G_USEC_PER_SEC - 1);
    }
    g_debug("monitor %p: event %s", (void *)mon, json_object_get_string(name_obj));
    g_mutex_lock(&mon->lock);
    closing = mon->close_requested;
    g_mutex_unlock(&mon->lock);
    if (mon->cb.event && !closing)
        mon->cb.event(mon, json_object_get_string(name_obj), data, timestamp_us,
                      mon->opaque);
}

static void
qemu_monitor_capabilities_done(QemuMonitor *mon, json_object *reply,
                               const GError *error, gpointer data)
{
    QemuMonitorOut *held;

    g_mutex_lock(&mon->lock);
    if (mon->state != QEMU_MONITOR_STATE_NEGOTIATING) {
        g_mutex_unlock(&mon->lock);
        return;     /* torn down meanwhile */
    }
    if (error) {
        g_autofree char *why = g_strdup_printf("QEMU refused qmp_capabilities: %s",
                                               error->message);
        int code = error->code;

        g_mutex_unlock(&mon->lock);
        qemu_monitor_teardown(mon, code, why, false);
        return;
    }
    qemu_monitor_set_state_locked(mon, QEMU_MONITOR_STATE_READY);
    while ((held = g_queue_pop_head(&mon->held)))
        g_queue_push_tail(&mon->outq, held);
    g_mutex_unlock(&mon->lock);

    qemu_monitor_clear_source(&mon->handshake_timer);
    qemu_monitor_flush_and_watch(mon);
    g_mutex_lock(&mon->lock);
    if (mon->state != QEMU_MONITOR_STATE_READY || mon->close_requested) {
        g_mutex_unlock(&mon->lock);
        return;
    }
    g_mutex_unlock(&mon->lock);
    if (mon->cb.ready)
        mon->cb.ready(mon, NULL, mon->opaque);
}

/* The first message: {"QMP": {"version": {"qemu": {...}, ...}, "capabilities": [...]}} */
static void
qemu_monitor_handle_greeting(QemuMonitor *mon, json_object *qmp)
{
    json_object *version = NULL;
    json_object *qemu = NULL;
    json_object *v = NULL;
    int parts[3] = { -1, -1, -1 };
    static const char *const names[3] = { "major", "minor", "micro" };

    if (!json_object_is_type(qmp, json_type_object)) {
        qemu_monitor_teardown(mon, VIR_ERR_INTERNAL_ERROR,
                              "malformed QMP greeting", false);
        return;
    }
    if (json_object_object_get_ex(qmp, "version", &version) &&
        json_object_object_get_ex(version, "qemu", &qemu)) {
        for (size_t i = 0; i < 3; i++) {
            if (json_object_object_get_ex(qemu, names[i], &v) &&
                json_object_is_type(v, json_type_int))
                parts[i] = json_object_get_int(v);
        }
    }
    g_mutex_lock(&mon->lock);
    if (parts[0] >= 0 && parts[1] >= 0 && parts[2] >= 0) {
        mon->have_greeting = true;
        mon->ver_major = parts[0];
        mon->ver_minor = parts[1];
        mon->ver_micro = parts[2];
    }
    qemu_monitor_set_state_locked(mon, QEMU_MONITOR_STATE_NEGOTIATING);
    g_mutex_unlock(&mon->lock);
    g_debug("monitor %p '%s': greeting from QEMU %d.%d.%d", (void *)mon, mon->path,
            parts[0], parts[1], parts[2]);

    /* fails only when the owner closed the monitor meanwhile */
    qemu_monitor_submit(mon, "qmp_capabilities", NULL, -1,
                        qemu_monitor_capabilities_done, NULL, true, NULL, NULL);
}

/* One line of QEMU's output (without the newline). */
static void
qemu_monitor_handle_line(QemuMonitor *mon, const char *line, size_t len)
{
    g_autoptr(json_object) msg = NULL;
    enum json_tokener_error jerr;
    json_object *v = NULL;
    size_t end;
    QemuMonitorState state;

    while (len > 0 && g_ascii_isspace(line[len - 1]))
        len--;
    if (len == 0)
        return;

    json_tokener_reset(mon->tok);
    msg = json_tokener_parse_ex(mon->tok, line, (int)len);
    jerr = json_tokener_get_error(mon->tok);
    end = json_tokener_get_parse_end(mon->tok);
    if (jerr == json_tokener_continue) {
        /* a bare number at the end of the line waits for a delimiter */
        msg = json_tokener_parse_ex(mon->tok, " ", 1);
        jerr = json_tokener_get_error(mon->tok);
        end = len;
    }
    while (jerr == json_tokener_success && end < len && g_ascii_isspace(line[end]))
        end++;
    if (jerr != json_tokener_success || end != len) {
        g_autofree char *ex = qemu_monitor_excerpt(line, len);
        g_autofree char *why = g_strdup_printf(
            "malformed JSON from QEMU (%s): '%s'",
            jerr == json_tokener_success ? "trailing data" :
            jerr == json_tokener_continue ? "incomplete" :
            json_tokener_error_desc(jerr), ex);

        g_debug("monitor %p: %s", (void *)mon, why);
        qemu_monitor_teardown(mon, VIR_ERR_INTERNAL_ERROR, why, false);
        return;
    }

    g_mutex_lock(&mon->lock);
    state = mon->state;
    g_mutex_unlock(&mon->lock);

    if (!json_object_is_type(msg, json_type_object)) {
        g_autofree char *ex = qemu_monitor_excerpt(line, len);

        g_debug("monitor %p: dropped a message that is not an object: '%s'",
                (void *)mon, ex);
        return;
    }
    if (state == QEMU_MONITOR_STATE_GREETING) {
        if (!json_object_object_get_ex(msg, "QMP", &v)) {
            g_autofree char *ex = qemu_monitor_excerpt(line, len);
            g_autofree char *why = g_strdup_printf("expected the QMP greeting, got '%s'",
                                                   ex);
            qemu_monitor_teardown(mon, VIR_ERR_INTERNAL_ERROR, why, false);
            return;
        }
        qemu_monitor_handle_greeting(mon, v);
        return;
    }
    if (json_object_object_get_ex(msg, "event", &v)) {
        qemu_monitor_handle_event(mon, msg, v);
    } else if (json_object_object_get_ex(msg, "return", NULL) ||
               json_object_object_get_ex(msg, "error", NULL)) {
        qemu_monitor_handle_reply(mon, msg);
    } else {
        g_autofree char *ex = qemu_monitor_excerpt(line, len);

        g_debug("monitor %p: dropped an unexpected message: '%s'", (void *)mon, ex);
    }
}

static bool
qemu_monitor_is_closed(QemuMonitor *mon)
{
    bool closed;

    g_mutex_lock(&mon->lock);
    closed = mon->state == QEMU_MONITOR_STATE_CLOSED;
    g_mutex_unlock(&mon->lock);
    return closed;
}

/* Handle the complete lines in rbuf.  Returns false if the monitor closed. */
static bool
qemu_monitor_process(QemuMonitor *mon)
{
    size_t start = 0;

    while (true) {
        char *nl = memchr(mon->rbuf + mon->scan, '\n', mon->rlen - mon->scan);
        size_t len;

        if (!nl) {
            mon->scan = mon->rlen;
            break;
        }
        len = nl - (mon->rbuf + start);
        if (len > mon->max_line) {
            g_autofree char *why = g_strdup_printf(
                "line longer than %zu bytes from QEMU", mon->max_line);
            qemu_monitor_teardown(mon, VIR_ERR_INTERNAL_ERROR, why, false);
            return false;
        }
        qemu_monitor_handle_line(mon, mon->rbuf + start, len);
        if (qemu_monitor_is_closed(mon))
            return false;
        start += len + 1;
        mon->scan = start;
    }
    if (start) {
        memmove(mon->rbuf, mon->rbuf + start, mon->rlen - start);
        mon->rlen -= start;
        mon->scan -= start;
    }
    if (mon->rlen > mon->max_line) {
        g_autofree char *why = g_strdup_printf(
            "line longer than %zu bytes from QEMU", mon->max_line);
        qemu_monitor_teardown(mon, VIR_ERR_INTERNAL_ERROR, why, false);
        return false;
    }
    return true;
}

/* Read and handle what the socket holds, a bounded amount per call so
 * that other sources of the context get their turn. */
static void
qemu_monitor_read(QemuMonitor *mon)
{
    for (int round = 0; round < QEMU_MONITOR_READ_ROUNDS; round++) {
        size_t want;
        ssize_t n;

        if (mon->fd < 0)
            return;
        if (mon->rsize - mon->rlen < QEMU_MONITOR_READ_CHUNK) {
            mon->rsize = MAX(mon->rsize * 2, mon->rlen + QEMU_MONITOR_READ_CHUNK);
            mon->rbuf = g_realloc(mon->rbuf, mon->rsize);
        }
        want = QEMU_MONITOR_READ_CHUNK;
        n = read(mon->fd, mon->rbuf + mon->rlen, want);
        if (n == 0) {
            qemu_monitor_teardown(mon, VIR_ERR_OPERATION_FAILED,
                                  mon->rlen ? "end of file from QEMU in the middle of a message"
                                            : "end of file from QEMU", false);
            return;
        }
        if (n < 0) {
            g_autofree char *why = NULL;

            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            /* QEMU reads a byte at a time: after 'quit' it exits with our
             * newline unread, and the kernel reports a reset, not EOF */
            if (errno == ECONNRESET)
                why = g_strdup("connection reset by QEMU");
            else
                why = g_strdup_printf("read failed: %s", g_strerror(errno));
            qemu_monitor_teardown(mon, VIR_ERR_OPERATION_FAILED, why, false);
            return;
        }
        mon->rlen += n;
        if (!qemu_monitor_process(mon))
            return;
        if ((size_t)n < want)
            return;     /* drained */
    }
}

/* connect(2) finished or failed. */
static void
qemu_monitor_connected(QemuMonitor *mon)
{
    int err = 0;
    socklen_t len = sizeof(err);

    if (getsockopt(mon->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err) {
        g_autofree char *why = g_strdup_printf("connect to '%s' failed: %s",
                                               mon->path, g_strerror(err));
        qemu_monitor_teardown(mon, VIR_ERR_SYSTEM_ERROR, why, false);
        return;
    }
    g_mutex_lock(&mon->lock);
    qemu_monitor_set_state_locked(mon, QEMU_MONITOR_STATE_GREETING);
    g_mutex_unlock(&mon->lock);
    g_source_modify_unix_fd(mon->io, mon->io_tag, G_IO_IN);
}

static gboolean
qemu_monitor_io_dispatch(QemuMonitor *mon, GIOCondition cond)
{
    g_autoptr(QemuMonitor) hold = qemu_monitor_ref(mon);
    QemuMonitorState state;

    g_mutex_lock(&mon->lock);
    state = mon->state;
    g_mutex_unlock(&mon->lock);

    if (state == QEMU_MONITOR_STATE_CLOSED)
        return G_SOURCE_REMOVE;
    if (state == QEMU_MONITOR_STATE_CONNECTING) {
        if (cond & (G_IO_OUT | G_IO_ERR | G_IO_HUP))
            qemu_monitor_connected(mon);
        return G_SOURCE_CONTINUE;
    }
    if (cond & G_IO_OUT) {
        qemu_monitor_flush_and_watch(mon);
        if (qemu_monitor_is_closed(mon))
            return G_SOURCE_REMOVE;
    }
    if (cond & (G_IO_IN | G_IO_HUP | G_IO_ERR)) {
        qemu_monitor_read(mon);
        if (qemu_monitor_is_closed(mon))
            return G_SOURCE_REMOVE;
        if ((cond & (G_IO_HUP | G_IO_ERR)) && !(cond & G_IO_IN)) {
            qemu_monitor_teardown(mon, VIR_ERR_OPERATION_FAILED,
                                  "QEMU hung up the connection", false);
            return G_SOURCE_REMOVE;
        }
    }
    qemu_monitor_flush_and_watch(mon);
    return G_SOURCE_CONTINUE;
}

static gboolean
qemu_monitor_source_dispatch(GSource *source, GSourceFunc callback, gpointer user_data)
{
    QemuMonitorSource *ms = (QemuMonitorSource *)source;

    if (!ms->mon->io_tag)
        return G_SOURCE_CONTINUE;
    return qemu_monitor_io_dispatch(ms->mon, g_source_query_unix_fd(source, ms->mon->io_tag));
}

static void
qemu_monitor_source_finalize(GSource *source)
{
    QemuMonitorSource *ms = (QemuMonitorSource *)source;

    qemu_monitor_unref(ms->mon);
}

static GSourceFuncs qemu_monitor_source_funcs = {
    .dispatch = qemu_monitor_source_dispatch,
    .finalize = qemu_monitor_source_finalize,
};

/* ---------------------------------------------------------------------- */
/* opening                                                                */

static gboolean
qemu_monitor_handshake_timeout_cb(gpointer data)
{
    QemuMonitor *mon = data;
    g_autofree char *why = g_strdup_printf("timed out after %d ms", mon->open_timeout_ms);

    qemu_monitor_teardown(mon, VIR_ERR_OPERATION_TIMEOUT, why, false);
    return G_SOURCE_REMOVE;
}

/* Start (or retry) connect(2).  Returns 0 when connected, EINPROGRESS or
 * EAGAIN while under way, another errno on failure. */
static int
qemu_monitor_try_connect(QemuMonitor *mon)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };

    memcpy(addr.sun_path, mon->path, strlen(mon->path));
    while (connect(mon->fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        if (errno != EINTR)
            return errno;
    }
    return 0;
}

static gboolean
qemu_monitor_retry_cb(gpointer data)
{
    QemuMonitor *mon = data;
    int err = qemu_monitor_try_connect(mon);

    if (err == EAGAIN)
        return G_SOURCE_CONTINUE;
    g_source_unref(g_steal_pointer(&mon->retry_timer));
    if (err == EINPROGRESS) {
        mon->io_tag = g_source_add_unix_fd(mon->io, mon->fd, G_IO_OUT);
    } else if (err) {
        g_autofree char *why = g_strdup_printf("connect to '%s' failed: %s",
                                               mon->path, g_strerror(err));
        qemu_monitor_teardown(mon, VIR_ERR_SYSTEM_ERROR, why, false);
    } else {
        mon->io_tag = g_source_add_unix_fd(mon->io, mon->fd, G_IO_OUT);
        qemu_monitor_connected(mon);
    }
    return G_SOURCE_REMOVE;
}

static QemuMonitor *
qemu_monitor_new(int fd, const char *path, GMainContext *ctx,
                 const QemuMonitorCallbacks *cb, gpointer opaque,
                 const QemuMonitorOptions *opts)
{
    QemuMonitor *mon = g_new0(QemuMonitor, 1);
    int open_timeout = opts ? opts->open_timeout_ms : 0;
    int default_timeout = opts ? opts->default_timeout_ms : 0;

    mon->refs = 1;
    mon->fd = fd;
    mon->path = g_strdup(path);
    mon->ctx = ctx ? g_main_context_ref(ctx) : g_main_context_ref_thread_default();
    if (cb)
        mon->cb = *cb;
    mon->opaque = opaque;
    mon->max_line = opts && opts->max_line ? opts->max_line : QEMU_MONITOR_MAX_LINE;
    mon->open_timeout_ms = open_timeout > 0 ? open_timeout :
                           open_timeout == 0 ? QEMU_MONITOR_DEFAULT_TIMEOUT_MS : -1;
    mon->default_timeout_ms = default_timeout > 0 ? default_timeout :
                              default_timeout == 0 ? QEMU_MONITOR_DEFAULT_TIMEOUT_MS : -1;
    mon->tok = json_tokener_new_ex(QEMU_MONITOR_JSON_DEPTH);
    /* QEMU sends UTF-8 only; refuse anything else before it reaches users */
    json_tokener_set_flags(mon->tok, JSON_TOKENER_VALIDATE_UTF8);
    mon->responsive = true;
    g_mutex_init(&mon->lock);
    g_cond_init(&mon->cond);
    mon->pending = g_hash_table_new(g_str_hash, g_str_equal);
    mon->timed_out = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    g_queue_init(&mon->held);
    g_queue_init(&mon->outq);
    g_queue_init(&mon->timed_out_order);
    return mon;
}

/* Attach the I/O source (and the handshake timer) once the monitor is
 * complete: from here on the context thread may run callbacks.  With
 * @retry (connect(2) said EAGAIN) the fd is watched only once a connect
 * succeeds: an unconnected stream socket polls as POLLHUP. */
static void
qemu_monitor_start(QemuMonitor *mon, GIOCondition cond, bool retry)
{
    QemuMonitorSource *ms;

    mon->io = g_source_new(&qemu_monitor_source_funcs, sizeof(QemuMonitorSource));
    ms = (QemuMonitorSource *)mon->io;
    ms->mon = qemu_monitor_ref(mon);
    if (!retry)
        mon->io_tag = g_source_add_unix_fd(mon->io, mon->fd, cond);
    if (mon->open_timeout_ms > 0) {
        mon->handshake_timer = g_timeout_source_new(mon->open_timeout_ms);
        g_source_set_callback(mon->handshake_timer, qemu_monitor_handshake_timeout_cb,
                              mon, NULL);
    }
    if (retry) {
        mon->retry_timer = g_timeout_source_new(QEMU_MONITOR_CONNECT_RETRY_MS);
        g_source_set_callback(mon->retry_timer, qemu_monitor_retry_cb, mon, NULL);
    }
    /* the timers hold no reference: teardown destroys them first */
    if (mon->handshake_timer)
        g_source_attach(mon->handshake_timer, mon->ctx);
    if (mon->retry_timer)
        g_source_attach(mon->retry_timer, mon->ctx);
    g_source_attach(mon->io, mon->ctx);
}

QemuMonitor *
qemu_monitor_open_full(const char *socket_path, GMainContext *ctx,
                       const QemuMonitorCallbacks *cb, gpointer opaque,
                       const QemuMonitorOptions *opts, GError **error)
{
    g_autoptr(QemuMonitor) mon = NULL;
    struct sockaddr_un addr;
    int fd;
    int err;

    if (strlen(socket_path) >= sizeof(addr.sun_path)) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INTERNAL_ERROR,
                       "QEMU monitor socket path '%s' is too long", socket_path);
        return NULL;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        util_error_set_errno(error, VIR_FROM_QEMU, errno,
                             "failed to create a socket for QEMU monitor '%s'",
                             socket_path);
        return NULL;
    }
    mon = qemu_monitor_new(fd, socket_path, ctx, cb, opaque, opts);
    mon->state = QEMU_MONITOR_STATE_CONNECTING;
    err = qemu_monitor_try_connect(mon);
    if (err && err != EINPROGRESS && err != EAGAIN) {
        util_error_set_errno(error, VIR_FROM_QEMU, err,
                             "failed to connect to QEMU monitor '%s'", socket_path);
        return NULL;
    }
    g_debug("monitor %p '%s': opening (%s)", (void *)mon, socket_path,
            err ? g_strerror(err) : "connected");
    if (!err)
        mon->state = QEMU_MONITOR_STATE_GREETING;
    /* EAGAIN: the listen backlog is full, connect again shortly */
    qemu_monitor_start(mon, err == EINPROGRESS ? G_IO_OUT : G_IO_IN, err == EAGAIN);
    return g_steal_pointer(&mon);
}

QemuMonitor *
qemu_monitor_open(const char *socket_path, GMainContext *ctx,
                  const QemuMonitorCallbacks *cb, gpointer opaque, GError **error)
{
    return qemu_monitor_open_full(socket_path, ctx, cb, opaque, NULL, error);
}

QemuMonitor *
qemu_monitor_open_fd(int fd, GMainContext *ctx, const QemuMonitorCallbacks *cb,
                     gpointer opaque, const QemuMonitorOptions *opts, GError **error)
{
    g_autofree char *name = g_strdup_printf("fd:%d", fd);
    QemuMonitor *mon;

    if (fd < 0 || !g_unix_set_fd_nonblocking(fd, TRUE, NULL)) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INTERNAL_ERROR,
                       "invalid QEMU monitor file descriptor %d", fd);
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    mon = qemu_monitor_new(fd, name, ctx, cb, opaque, opts);
    mon->state = QEMU_MONITOR_STATE_GREETING;
    g_debug("monitor %p '%s': opening", (void *)mon, name);
    qemu_monitor_start(mon, G_IO_IN, false);
    return mon;
}

/* ---------------------------------------------------------------------- */
/* references and queries                                                 */

QemuMonitor *
qemu_monitor_ref(QemuMonitor *mon)
{
    g_atomic_int_inc(&mon->refs);
    return mon;
}

void
qemu_monitor_unref(QemuMonitor *mon)
{
    if (!mon || !g_atomic_int_dec_and_test(&mon->refs))
        return;
    /* the I/O source holds a reference: we get here only once closed,
     * or when the open failed before the source existed */
    if (mon->io) {
        g_source_destroy(mon->io);
        g_source_unref(mon->io);
    }
    qemu_monitor_clear_source(&mon->handshake_timer);
    qemu_monitor_clear_source(&mon->retry_timer);
    if (mon->fd >= 0)
        close(mon->fd);
    g_free(mon->rbuf);
    json_tokener_free(mon->tok);
    g_hash_table_destroy(mon->pending);
    g_hash_table_destroy(mon->timed_out);
    g_queue_clear(&mon->timed_out_order);
    g_queue_clear_full(&mon->held, qemu_monitor_out_free);
    g_queue_clear_full(&mon->outq, qemu_monitor_out_free);
    g_free(mon->close_reason);
    g_clear_error(&mon->handshake_error);
    g_mutex_clear(&mon->lock);
    g_cond_clear(&mon->cond);
    g_main_context_unref(mon->ctx);
    g_free(mon->path);
    g_free(mon);
}

bool
qemu_monitor_is_ready(QemuMonitor *mon)
{
    bool ready;

    g_mutex_lock(&mon->lock);
    ready = mon->state == QEMU_MONITOR_STATE_READY && !mon->close_requested;
    g_mutex_unlock(&mon->lock);
    return ready;
}

bool
qemu_monitor_is_responsive(QemuMonitor *mon)
{
    bool responsive;

    g_mutex_lock(&mon->lock);
    responsive = mon->responsive;
    g_mutex_unlock(&mon->lock);
    return responsive;
}

bool
qemu_monitor_greeting_version(QemuMonitor *mon, int *ret_major, int *ret_minor,
                              int *ret_micro)
{
    bool have;

    g_mutex_lock(&mon->lock);
    have = mon->have_greeting;
    if (have) {
        if (ret_major)
            *ret_major = mon->ver_major;
        if (ret_minor)
            *ret_minor = mon->ver_minor;
        if (ret_micro)
            *ret_micro = mon->ver_micro;
    }
    g_mutex_unlock(&mon->lock);
    return have;
}

void
qemu_monitor_set_default_timeout(QemuMonitor *mon, int timeout_ms)
{
    g_mutex_lock(&mon->lock);
    mon->default_timeout_ms = timeout_ms > 0 ? timeout_ms :
                              timeout_ms == 0 ? QEMU_MONITOR_DEFAULT_TIMEOUT_MS : -1;
    g_mutex_unlock(&mon->lock);
}

/* ---------------------------------------------------------------------- */
/* typed wrappers                                                         */

const char *
qemu_monitor_run_state_to_string(QemuMonitorRunState state)
{
    if ((unsigned)state >= QEMU_MONITOR_RUN_STATE_LAST)
        return NULL;
    return qemu_monitor_run_state_names[state];
}

QemuMonitorRunState
qemu_monitor_run_state_from_string(const char *str)
{
    if (!str)
        return QEMU_MONITOR_RUN_STATE_UNKNOWN;
    for (int i = QEMU_MONITOR_RUN_STATE_UNKNOWN + 1; i < QEMU_MONITOR_RUN_STATE_LAST; i++) {
        if (g_str_equal(str, qemu_monitor_run_state_names[i]))
            return i;
    }
    return QEMU_MONITOR_RUN_STATE_UNKNOWN;
}

void
qemu_monitor_status_clear(QemuMonitorStatus *status)
{
    if (!status)
        return;
    g_clear_pointer(&status->reason, g_free);
}

void
qemu_monitor_version_clear(QemuMonitorVersion *version)
{
    if (!version)
        return;
    g_clear_pointer(&version->package, g_free);
}

static void
qemu_monitor_malformed(GError **error, const char *cmd)
{
    util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INTERNAL_ERROR,
                   "malformed reply to QEMU command '%s'", cmd);
}

/* A member of @obj of @type, or NULL. */
static json_object *
qemu_monitor_member(json_object *obj, const char *key, json_type type)
{
    json_object *v = NULL;

    if (!json_object_is_type(obj, json_type_object) ||
        !json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, type))
        return NULL;
    return v;
}

bool
qemu_monitor_query_status(QemuMonitor *mon, QemuMonitorStatus *ret_status, GError **error)
{
    g_autoptr(json_object) reply = qemu_monitor_command(mon, "query-status", NULL, 0, error);
    json_object *running;
    json_object *status;

    if (!reply)
        return false;
    running = qemu_monitor_member(reply, "running", json_type_boolean);
    status = qemu_monitor_member(reply, "status", json_type_string);
    if (!running || !status) {
        qemu_monitor_malformed(error, "query-status");
        return false;
    }
    ret_status->running = json_object_get_boolean(running);
    ret_status->reason = g_strdup(json_object_get_string(status));
    ret_status->state = qemu_monitor_run_state_from_string(ret_status->reason);
    return true;
}

bool
qemu_monitor_query_version(QemuMonitor *mon, QemuMonitorVersion *ret_version,
                           GError **error)
{
    g_autoptr(json_object) reply = qemu_monitor_command(mon, "query-version", NULL, 0, error);
    json_object *qemu;
    json_object *major;
    json_object *minor;
    json_object *micro;
    json_object *package;

    if (!reply)
        return false;
    qemu = qemu_monitor_member(reply, "qemu", json_type_object);
    major = qemu_monitor_member(qemu, "major", json_type_int);
    minor = qemu_monitor_member(qemu, "minor", json_type_int);
    micro = qemu_monitor_member(qemu, "micro", json_type_int);
    package = qemu_monitor_member(reply, "package", json_type_string);
    if (!major || !minor || !micro) {
        qemu_monitor_malformed(error, "query-version");
        return false;
    }
    ret_version->major = json_object_get_int(major);
    ret_version->minor = json_object_get_int(minor);
    ret_version->micro = json_object_get_int(micro);
    ret_version->package = g_strdup(package ? json_object_get_string(package) : "");
    return true;
}

static json_object *
qemu_monitor_query_array(QemuMonitor *mon, const char *cmd, json_object *args,
                         GError **error)
{
    g_autoptr(json_object) reply = qemu_monitor_command(mon, cmd, args, 0, error);

    if (!reply)
        return NULL;
    if (!json_object_is_type(reply, json_type_array)) {
        qemu_monitor_malformed(error, cmd);
        return NULL;
    }
    return g_steal_pointer(&reply);
}

json_object *
qemu_monitor_query_block_jobs(QemuMonitor *mon, GError **error)
{
    return qemu_monitor_query_array(mon, "query-block-jobs", NULL, error);
}

json_object *
qemu_monitor_query_jobs(QemuMonitor *mon, GError **error)
{
    return qemu_monitor_query_array(mon, "query-jobs", NULL, error);
}

json_object *
qemu_monitor_query_named_block_nodes(QemuMonitor *mon, GError **error)
{
    json_object *args = json_object_new_object();

    json_object_object_add(args, "flat", json_object_new_boolean(1));
    return qemu_monitor_query_array(mon, "query-named-block-nodes", args, error);
}

static bool
qemu_monitor_simple(QemuMonitor *mon, const char *cmd, json_object *args, GError **error)
{
    g_autoptr(json_object) reply = qemu_monitor_command(mon, cmd, args, 0, error);

    return reply != NULL;
}

bool
qemu_monitor_cont(QemuMonitor *mon, GError **error)
{
    return qemu_monitor_simple(mon, "cont", NULL, error);
}

bool
qemu_monitor_stop(QemuMonitor *mon, GError **error)
{
    return qemu_monitor_simple(mon, "stop", NULL, error);
}

bool
qemu_monitor_system_powerdown(QemuMonitor *mon, GError **error)
{
    return qemu_monitor_simple(mon, "system_powerdown", NULL, error);
}

bool
qemu_monitor_system_reset(QemuMonitor *mon, GError **error)
{
    return qemu_monitor_simple(mon, "system_reset", NULL, error);
}

bool
qemu_monitor_quit(QemuMonitor *mon, GError **error)
{
    return qemu_monitor_simple(mon, "quit", NULL, error);
}

bool
qemu_monitor_blockdev_add(QemuMonitor *mon, json_object *props, GError **error)
{
    if (!props) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INVALID_ARG,
                       "blockdev-add needs the node's options");
        return false;
    }
    return qemu_monitor_simple(mon, "blockdev-add", props, error);
}

bool
qemu_monitor_blockdev_del(QemuMonitor *mon, const char *node_name, GError **error)
{
    json_object *args = json_object_new_object();

    json_object_object_add(args, "node-name", json_object_new_string(node_name));
    return qemu_monitor_simple(mon, "blockdev-del", args, error);
}

char *
qemu_monitor_hmp(QemuMonitor *mon, const char *command_line, GError **error)
{
    json_object *args = json_object_new_object();
    g_autoptr(json_object) reply = NULL;

    json_object_object_add(args, "command-line", json_object_new_string(command_line));
    reply = qemu_monitor_command(mon, "human-monitor-command", args, 0, error);
    if (!reply)
        return NULL;
    if (!json_object_is_type(reply, json_type_string)) {
        qemu_monitor_malformed(error, "human-monitor-command");
        return NULL;
    }
    return g_strdup(json_object_get_string(reply));
}
