/*
 * daemon-forward.c: calls a daemon leaves to another, and reaching other
 * daemons.
 *
 * Storage calls belong to virtstoraged and network calls to virtnetworkd.
 * A client connected to any other daemon (directly, or handed over by the
 * proxy) may still make them: the daemon forwards each to the owner over
 * a connection of its own per client and family, opened on first use
 * with its own CONNECT_OPEN (read-only if the client is).  Calls arriving
 * meanwhile wait and are sent once the open succeeds, or are answered with
 * the owner's error.  Only the header serial is rewritten; replies and
 * events go back to the client as they are.  If the owner goes away, the
 * calls it owed get errors and the next call connects again.
 *
 * Reaching a daemon: its socket in our socket directory; in embedded mode
 * a daemon that is not running is started (<daemon> --root DIR --timeout
 * T, one starter at a time through a lock file) and given 5 s to listen.
 */
#define G_LOG_DOMAIN "modvirt.daemon"

#include "daemon-priv.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "util-error.h"

#define DAEMON_SPAWN_WAIT_MS 5000
#define KEEPALIVE_PROGRAM 0x6b656570

/* ------------------------------------------------------------ threads */

typedef struct {
    void (*work)(gpointer data);
    void (*done)(gpointer data);
    gpointer data;
} DaemonThreadJob;

static gboolean
daemon_thread_done_cb(gpointer p)
{
    DaemonThreadJob *job = p;

    job->done(job->data);
    g_free(job);
    return G_SOURCE_REMOVE;
}

static gpointer
daemon_thread_main(gpointer p)
{
    DaemonThreadJob *job = p;

    job->work(job->data);
    g_main_context_invoke(daemon_main_context(), daemon_thread_done_cb, job);
    return NULL;
}

void
daemon_run_in_thread(const char *name, void (*work)(gpointer data),
                     void (*done)(gpointer data), gpointer data)
{
    DaemonThreadJob *job = g_new0(DaemonThreadJob, 1);

    job->work = work;
    job->done = done;
    job->data = data;
    g_thread_unref(g_thread_new(name, daemon_thread_main, job));
}

/* ------------------------------------------------------------ reaching daemons */

static bool
daemon_connect_socket(const char *path, int *ret_fd, int *ret_errno)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    int fd;

    if (strlen(path) >= sizeof(addr.sun_path)) {
        *ret_errno = ENAMETOOLONG;
        return false;
    }
    strcpy(addr.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *ret_errno = errno;
        return false;
    }
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        *ret_errno = errno;
        close(fd);
        return false;
    }
    *ret_fd = fd;
    return true;
}

/* Embedded mode: start @daemon under the same root and wait for @socket. */
static bool
daemon_spawn_daemon(const char *daemon, const char *socket, int *ret_fd, GError **error)
{
    const DaemonPaths *paths = daemon_paths();
    g_autofree char *binary = daemon_binary_path(daemon);
    g_autofree char *lockpath = g_strdup_printf("%s/%s.spawn-lock", paths->rundir, daemon);
    g_autofree char *logpath = NULL;
    g_autofd_mv int lockfd = -1;
    g_autofd_mv int logfd = -1;
    g_autofd_mv int nullfd = -1;
    g_autoptr(GError) local = NULL;
    g_autofree char *timeout = g_strdup_printf("%d", daemon_limits()->timeout);
    const char *argv[] = { binary, "--root", paths->root, "--timeout", timeout, NULL };
    int err = 0;

    /* one starter at a time; whoever comes second finds the socket */
    lockfd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lockfd >= 0)
        flock(lockfd, LOCK_EX);
    if (daemon_connect_socket(socket, ret_fd, &err))
        return true;

    if (g_mkdir_with_parents(paths->logdir, 0755) == 0)
        logpath = g_strdup_printf("%s/%s.log", paths->logdir, daemon);
    logfd = logpath ? open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600) : -1;
    nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    g_info("starting %s (%s)", daemon, binary);
    if (!g_spawn_async_with_fds(NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, NULL,
                                nullfd, logfd, logfd, &local)) {
        util_error_set(error, VIR_FROM_RPC, VIR_ERR_NO_CONNECT,
                       "cannot start %s (%s): %s", daemon, binary, local->message);
        return false;
    }
    for (int waited = 0; waited < DAEMON_SPAWN_WAIT_MS; waited += 10) {
        if (daemon_connect_socket(socket, ret_fd, &err))
            return true;
        g_usleep(10 * 1000);
    }
    util_error_set(error, VIR_FROM_RPC, VIR_ERR_NO_CONNECT,
                   "%s did not start listening on '%s' within %d ms (see %s)",
                   daemon, socket, DAEMON_SPAWN_WAIT_MS, logpath ? logpath : "its log");
    return false;
}

static const char *const daemon_connect_suffix[] = {
    [DAEMON_SOCKET_RW] = "-sock",
    [DAEMON_SOCKET_RO] = "-sock-ro",
    [DAEMON_SOCKET_ADMIN] = "-admin-sock",
};
G_STATIC_ASSERT(G_N_ELEMENTS(daemon_connect_suffix) == DAEMON_SOCKET_LAST);

bool
daemon_connect_daemon(const char *daemon, DaemonSocketKind kind, int *ret_fd, GError **error)
{
    g_autofree char *socket = g_strdup_printf("%s/%s%s", daemon_paths()->sockdir, daemon,
                                              daemon_connect_suffix[kind]);
    int err = 0;

    if (daemon_connect_socket(socket, ret_fd, &err))
        return true;
    if (daemon_paths()->root && (err == ENOENT || err == ECONNREFUSED))
        return daemon_spawn_daemon(daemon, socket, ret_fd, error);
    util_error_set(error, VIR_FROM_RPC, VIR_ERR_NO_CONNECT,
                   "cannot reach %s: Failed to connect socket to '%s': %s",
                   daemon, socket, g_strerror(err));
    return false;
}

/* ------------------------------------------------------------ forwarding */

typedef enum {
    DAEMON_FWD_STORAGE,
    DAEMON_FWD_NETWORK,
    DAEMON_FWD_LAST
} DaemonFwdKind;

static const char *const daemon_fwd_daemon[] = {
    [DAEMON_FWD_STORAGE] = "virtstoraged",
    [DAEMON_FWD_NETWORK] = "virtnetworkd",
};
G_STATIC_ASSERT(G_N_ELEMENTS(daemon_fwd_daemon) == DAEMON_FWD_LAST);

static const char *const daemon_fwd_scheme[] = {
    [DAEMON_FWD_STORAGE] = "storage",
    [DAEMON_FWD_NETWORK] = "network",
};
G_STATIC_ASSERT(G_N_ELEMENTS(daemon_fwd_scheme) == DAEMON_FWD_LAST);

typedef struct {
    RpcHeader call;            /* the client's call header, its serial included */
    bool internal_open;        /* our own CONNECT_OPEN */
} DaemonFwdPending;

typedef struct {
    guint8 *msg;
    size_t len;
} DaemonFwdWaiting;

typedef struct {
    DaemonClient *client;      /* not a reference: the client owns us */
    DaemonFwdKind kind;
    RpcConn *conn;             /* NULL while connecting */
    guint32 next_serial;
    GHashTable *pending;       /* upstream serial -> DaemonFwdPending* */
    bool ready;                /* our CONNECT_OPEN succeeded */
    GQueue waiting;            /* DaemonFwdWaiting*: calls held until ready */
} DaemonFwdUp;

struct _DaemonForward {
    DaemonFwdUp *up[DAEMON_FWD_LAST];
};

static void daemon_fwd_message(RpcConn *conn, const RpcHeader *hdr, guint8 *msg,
                               size_t len, gpointer data);
static void daemon_fwd_closed(RpcConn *conn, const char *reason, gpointer data);

static const RpcConnCallbacks daemon_fwd_callbacks = {
    .message = daemon_fwd_message,
    .closed = daemon_fwd_closed,
};

static void
daemon_fwd_waiting_free(gpointer p)
{
    DaemonFwdWaiting *w = p;

    g_free(w->msg);
    g_free(w);
}

static void
daemon_fwd_up_free(DaemonFwdUp *up)
{
    if (!up)
        return;
    if (up->conn) {
        rpc_conn_close(up->conn);
        rpc_conn_unref(up->conn);
    }
    g_hash_table_destroy(up->pending);
    g_queue_clear_full(&up->waiting, daemon_fwd_waiting_free);
    g_free(up);
}

void
daemon_forward_free(DaemonForward *fwd)
{
    if (!fwd)
        return;
    for (int k = 0; k < DAEMON_FWD_LAST; k++)
        g_clear_pointer(&fwd->up[k], daemon_fwd_up_free);
    g_free(fwd);
}

void
daemon_forward_client_closed(DaemonClient *client)
{
    g_clear_pointer(&client->forward, daemon_forward_free);
}

static void
daemon_fwd_send(DaemonFwdUp *up, guint8 *msg, size_t len, bool internal_open)
{
    DaemonFwdPending *p = g_new0(DaemonFwdPending, 1);
    guint32 serial = up->next_serial++;

    rpc_header_decode(msg, &p->call);
    p->internal_open = internal_open;
    g_hash_table_insert(up->pending, GUINT_TO_POINTER(serial), p);
    rpc_write_u32(msg + RPC_OFFSET_SERIAL, serial);
    rpc_conn_send(up->conn, msg, len);
}

static void
daemon_fwd_reply_error(DaemonClient *client, const RpcHeader *hdr, const char *why)
{
    g_autoptr(GError) err = g_error_new_literal(util_error_quark(VIR_FROM_RPC), VIR_ERR_RPC, why);

    daemon_client_reply_error(client, hdr, err);
}

/* Fail every call held for or pending on @up. */
static void
daemon_fwd_fail_all(DaemonFwdUp *up, const char *why)
{
    GHashTableIter it;
    gpointer value;

    while (!g_queue_is_empty(&up->waiting)) {
        DaemonFwdWaiting *w = g_queue_pop_head(&up->waiting);
        RpcHeader hdr;

        rpc_header_decode(w->msg, &hdr);
        daemon_fwd_reply_error(up->client, &hdr, why);
        daemon_fwd_waiting_free(w);
    }
    g_hash_table_iter_init(&it, up->pending);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        DaemonFwdPending *p = value;

        if (!p->internal_open)
            daemon_fwd_reply_error(up->client, &p->call, why);
        g_hash_table_iter_remove(&it);
    }
}

static void
daemon_fwd_drop(DaemonFwdUp *up, const char *why)
{
    DaemonForward *fwd = up->client->forward;

    daemon_fwd_fail_all(up, why);
    if (fwd && fwd->up[up->kind] == up)
        fwd->up[up->kind] = NULL;
    daemon_fwd_up_free(up);
}

typedef struct {
    DaemonClient *client;      /* a reference: the thread may outlive it */
    DaemonFwdKind kind;
    DaemonFwdUp *up;           /* valid only while client->forward->up[kind] == up */
    bool readonly;
    int fd;
    GError *error;
} DaemonFwdConnect;

static void
daemon_fwd_connect_work(gpointer data)
{
    DaemonFwdConnect *c = data;

    daemon_connect_daemon(daemon_fwd_daemon[c->kind],
                          c->readonly ? DAEMON_SOCKET_RO : DAEMON_SOCKET_RW, &c->fd, &c->error);
}

static void
daemon_fwd_connect_done(gpointer data)
{
    DaemonFwdConnect *c = data;
    DaemonForward *fwd = c->client->forward;
    DaemonFwdUp *up = fwd ? fwd->up[c->kind] : NULL;

    if (up != c->up || c->client->closed) {
        /* the client went away (or the placeholder was replaced) */
    } else if (c->error) {
        daemon_fwd_drop(up, c->error->message);
    } else {
        g_autofree char *uri = g_strdup_printf("%s://%s", daemon_fwd_scheme[c->kind],
                                               daemon_is_privileged() ? "/system" : "/session");
        RpcHeader hdr = { REMOTE_PROGRAM, REMOTE_PROTOCOL_VERSION, REMOTE_PROC_CONNECT_OPEN,
                          RPC_TYPE_CALL, 0, RPC_STATUS_OK };
        RemoteConnectOpenArgs args = { uri, c->readonly ? 1 : 0 };
        size_t len;
        guint8 *msg = rpc_message_build(&hdr, (RpcEncodeFunc)xdr_enc_remote_connect_open_args,
                                        &args, &len, NULL);

        up->conn = rpc_conn_new(g_steal_fd(&c->fd), daemon_main_context(), 0,
                                &daemon_fwd_callbacks, up);
        daemon_fwd_send(up, msg, len, true);
    }
    if (c->fd >= 0)
        close(c->fd);
    g_clear_error(&c->error);
    daemon_client_unref(c->client);
    g_free(c);
}

static DaemonFwdKind
daemon_fwd_kind(const RpcHeader *hdr)
{
    const RpcProcInfo *info;

    if (hdr->prog != REMOTE_PROGRAM || hdr->type != RPC_TYPE_CALL ||
        hdr->status != RPC_STATUS_OK)
        return DAEMON_FWD_LAST;
    info = rpc_proc_lookup(hdr->prog, hdr->proc);
    if (!info)
        return DAEMON_FWD_LAST;
    switch (info->family) {
    case RPC_FAMILY_STORAGE:
        return DAEMON_FWD_STORAGE;
    case RPC_FAMILY_NETWORK:
        return DAEMON_FWD_NETWORK;
    default:
        return DAEMON_FWD_LAST;
    }
}

bool
daemon_forward_message(DaemonClient *client, const RpcHeader *hdr, guint8 *msg, size_t len)
{
    DaemonFwdKind kind = daemon_fwd_kind(hdr);
    DaemonFwdWaiting *w;
    DaemonFwdConnect *c;
    DaemonFwdUp *up;

    if (kind == DAEMON_FWD_LAST || client->closed || !daemon_client_is_open(client) ||
        g_str_equal(daemon_driver()->name, daemon_fwd_daemon[kind]))
        return false;
    if (!client->forward)
        client->forward = g_new0(DaemonForward, 1);
    up = client->forward->up[kind];
    if (up && up->ready) {
        daemon_fwd_send(up, msg, len, false);
        return true;
    }
    w = g_new0(DaemonFwdWaiting, 1);
    w->msg = msg;
    w->len = len;
    if (up) {
        g_queue_push_tail(&up->waiting, w);
        return true;
    }
    up = g_new0(DaemonFwdUp, 1);
    up->client = client;
    up->kind = kind;
    up->next_serial = 1;
    up->pending = g_hash_table_new_full(NULL, NULL, NULL, g_free);
    g_queue_init(&up->waiting);
    g_queue_push_tail(&up->waiting, w);
    client->forward->up[kind] = up;

    c = g_new0(DaemonFwdConnect, 1);
    c->client = daemon_client_ref(client);
    c->kind = kind;
    c->up = up;
    c->readonly = daemon_client_readonly(client);
    c->fd = -1;
    g_debug("connecting to %s for a client's %s calls", daemon_fwd_daemon[kind],
            daemon_fwd_scheme[kind]);
    daemon_run_in_thread("forward-connect", daemon_fwd_connect_work, daemon_fwd_connect_done, c);
    return true;
}

static void
daemon_fwd_message(RpcConn *conn, const RpcHeader *hdr, guint8 *msg, size_t len,
                   gpointer data)
{
    DaemonFwdUp *up = data;
    DaemonClient *client = up->client;
    DaemonFwdPending *p;

    if (hdr->prog == KEEPALIVE_PROGRAM) {
        if (hdr->type == RPC_TYPE_MESSAGE && hdr->proc == 1) {
            RpcHeader pong = { KEEPALIVE_PROGRAM, 1, 2, RPC_TYPE_MESSAGE, 0, RPC_STATUS_OK };
            size_t plen;
            guint8 *pmsg = rpc_message_build(&pong, NULL, NULL, &plen, NULL);
            rpc_conn_send(conn, pmsg, plen);
        }
        g_free(msg);
        return;
    }
    if (hdr->type != RPC_TYPE_REPLY && hdr->type != RPC_TYPE_REPLY_WITH_FDS) {
        /* events and streams go to the client unchanged */
        daemon_client_send_raw(client, msg, len);
        return;
    }
    p = g_hash_table_lookup(up->pending, GUINT_TO_POINTER(hdr->serial));
    if (!p) {
        g_warning("%s sent a reply (serial %u) that matches no call: dropping the connection",
                  daemon_fwd_daemon[up->kind], hdr->serial);
        g_free(msg);
        daemon_client_close(client);
        return;
    }
    if (p->internal_open) {
        g_hash_table_remove(up->pending, GUINT_TO_POINTER(hdr->serial));
        if (hdr->status == RPC_STATUS_OK) {
            up->ready = true;
            while (!g_queue_is_empty(&up->waiting)) {
                DaemonFwdWaiting *w = g_queue_pop_head(&up->waiting);
                daemon_fwd_send(up, w->msg, w->len, false);
                g_free(w);
            }
        } else {
            /* answer every held call with the daemon's own error */
            while (!g_queue_is_empty(&up->waiting)) {
                DaemonFwdWaiting *w = g_queue_pop_head(&up->waiting);
                guint8 *copy = g_memdup2(msg, len);
                RpcHeader wh;

                rpc_header_decode(w->msg, &wh);
                wh.type = RPC_TYPE_REPLY;
                wh.status = RPC_STATUS_ERROR;
                rpc_header_encode(&wh, copy);
                daemon_client_send_raw(client, copy, len);
                daemon_fwd_waiting_free(w);
            }
        }
        g_free(msg);
        return;
    }
    rpc_write_u32(msg + RPC_OFFSET_SERIAL, p->call.serial);
    g_hash_table_remove(up->pending, GUINT_TO_POINTER(hdr->serial));
    daemon_client_send_raw(client, msg, len);
}

static void
daemon_fwd_closed(RpcConn *conn, const char *reason, gpointer data)
{
    DaemonFwdUp *up = data;
    g_autofree char *why = g_strdup_printf("%s closed the connection: %s",
                                           daemon_fwd_daemon[up->kind], reason);

    g_info("%s", why);
    daemon_fwd_drop(up, why);
}
