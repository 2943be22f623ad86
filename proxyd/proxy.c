/*
 * proxy.c: virtproxyd, the one endpoint a client needs.
 *
 * On CONNECT_OPEN the proxy picks the daemon that serves the URI and
 * opens an upstream connection to it for this client.  Every later call
 * goes, by its procedure's family, to the hypervisor daemon or to the
 * storage or network daemon (each connected on first use).  Messages are
 * forwarded as they are: only the serial in the header is rewritten, so
 * that calls the proxy makes itself never collide with the client's.
 * Keepalive is answered by the proxy on each side.  In embedded mode a
 * daemon whose socket is missing is started by the proxy.
 */
#define G_LOG_DOMAIN "virtproxyd"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gio/gio.h>

#include "daemon.h"
#include "util-error.h"

#define KEEPALIVE_PROGRAM 0x6b656570
#define PROXY_SPAWN_WAIT_MS 5000

typedef enum {
    PROXY_UP_HYPER,
    PROXY_UP_STORAGE,
    PROXY_UP_NETWORK,
    PROXY_UP_LAST
} ProxyUpKind;

typedef struct _ProxyClient ProxyClient;

typedef struct {
    RpcHeader call;            /* the client's call header, its serial included */
    bool internal_open;        /* the proxy's own CONNECT_OPEN */
} ProxyPending;

typedef struct {
    guint8 *msg;
    size_t len;
} ProxyWaiting;

typedef struct {
    ProxyClient *owner;
    ProxyUpKind kind;
    char *daemon;              /* "virtqemud" */
    char *socket;
    char *open_uri;            /* URI the proxy opens itself (secondary) */
    RpcConn *conn;
    guint32 next_serial;
    GHashTable *pending;       /* upstream serial -> ProxyPending* */
    bool ready;                /* may forward (open or being opened by client) */
    GQueue waiting;            /* ProxyWaiting*: calls held until ready */
} ProxyUpstream;

struct _ProxyClient {
    DaemonClient *client;      /* not a reference: the client owns us */
    ProxyUpstream *up[PROXY_UP_LAST];
    bool readonly;
    bool connecting;           /* hypervisor upstream being set up */
    bool closing;              /* client sent CONNECT_CLOSE */
    bool gone;                 /* the client's connection has ended */
    guint32 close_serial;
    char *uri;
};

typedef struct {
    const char *scheme;
    const char *daemon;
} ProxyRoute;

static const ProxyRoute proxy_routes[] = {
    { "qemu", "virtqemud" },
    { "xen", "virtxend" },
    { "lxc", "virtlxcd" },
    { "storage", "virtstoraged" },
    { "network", "virtnetworkd" },
};

static const char *const proxy_family_daemon[PROXY_UP_LAST] = {
    [PROXY_UP_HYPER] = NULL,
    [PROXY_UP_STORAGE] = "virtstoraged",
    [PROXY_UP_NETWORK] = "virtnetworkd",
};

static const char *const proxy_family_scheme[PROXY_UP_LAST] = {
    [PROXY_UP_HYPER] = NULL,
    [PROXY_UP_STORAGE] = "storage",
    [PROXY_UP_NETWORK] = "network",
};

static void proxy_upstream_message(RpcConn *conn, const RpcHeader *hdr, guint8 *msg,
                                   size_t len, gpointer data);
static void proxy_upstream_closed(RpcConn *conn, const char *reason, gpointer data);

static const RpcConnCallbacks proxy_upstream_callbacks = {
    .message = proxy_upstream_message,
    .closed = proxy_upstream_closed,
};

static const char *
proxy_uri_path(void)
{
    return daemon_is_privileged() ? "/system" : "/session";
}

static char *
proxy_socket_path(const char *daemon, bool readonly)
{
    return g_strdup_printf("%s/%s%s", daemon_paths()->sockdir, daemon,
                           readonly ? "-sock-ro" : "-sock");
}

static void
proxy_reply_error(ProxyClient *pc, const RpcHeader *hdr, int code, const char *fmt, ...)
    G_GNUC_PRINTF(4, 5);

static void
proxy_reply_error(ProxyClient *pc, const RpcHeader *hdr, int code, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *text = NULL;
    g_autoptr(GError) err = NULL;

    va_start(ap, fmt);
    text = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    err = g_error_new_literal(util_error_quark(VIR_FROM_RPC), code, text);
    daemon_client_reply_error(pc->client, hdr, err);
}

/* ------------------------------------------------------------ upstreams */

static void
proxy_waiting_free(gpointer p)
{
    ProxyWaiting *w = p;

    g_free(w->msg);
    g_free(w);
}

static void
proxy_upstream_free(ProxyUpstream *up)
{
    if (!up)
        return;
    if (up->conn) {
        rpc_conn_close(up->conn);
        rpc_conn_unref(up->conn);
    }
    g_hash_table_destroy(up->pending);
    g_queue_clear_full(&up->waiting, proxy_waiting_free);
    g_free(up->daemon);
    g_free(up->socket);
    g_free(up->open_uri);
    g_free(up);
}

/* Forward a client message upstream, remembering its serial. */
static void
proxy_upstream_forward(ProxyUpstream *up, guint8 *msg, size_t len, bool internal_open)
{
    ProxyPending *p = g_new0(ProxyPending, 1);
    RpcHeader hdr;
    guint32 serial = up->next_serial++;

    rpc_header_decode(msg, &hdr);
    p->call = hdr;
    p->internal_open = internal_open;
    g_hash_table_insert(up->pending, GUINT_TO_POINTER(serial), p);
    rpc_write_u32(msg + RPC_OFFSET_SERIAL, serial);
    rpc_conn_send(up->conn, msg, len);
}

/* Fail every call held for or pending on @up (it went away). */
static void
proxy_upstream_fail_all(ProxyUpstream *up, const char *why)
{
    ProxyClient *pc = up->owner;
    GHashTableIter it;
    gpointer key, value;

    while (!g_queue_is_empty(&up->waiting)) {
        ProxyWaiting *w = g_queue_pop_head(&up->waiting);
        RpcHeader hdr;

        rpc_header_decode(w->msg, &hdr);
        if (hdr.type == RPC_TYPE_CALL || hdr.type == RPC_TYPE_CALL_WITH_FDS)
            proxy_reply_error(pc, &hdr, VIR_ERR_RPC, "%s", why);
        proxy_waiting_free(w);
    }
    g_hash_table_iter_init(&it, up->pending);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        ProxyPending *p = value;

        if (!p->internal_open)
            proxy_reply_error(pc, &p->call, VIR_ERR_RPC, "%s", why);
        g_hash_table_iter_remove(&it);
    }
}

static bool
proxy_connect_socket(const char *path, int *ret_fd, int *ret_errno)
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

/* Embedded mode: start @daemon under the same root and wait for its
 * socket.  Runs in a worker thread. */
static bool
proxy_spawn_daemon(const char *daemon, const char *socket, int *ret_fd, GError **error)
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

    /* one spawner at a time; whoever comes second finds the socket */
    lockfd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lockfd >= 0)
        flock(lockfd, LOCK_EX);
    if (proxy_connect_socket(socket, ret_fd, &err))
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
    for (int waited = 0; waited < PROXY_SPAWN_WAIT_MS; waited += 10) {
        if (proxy_connect_socket(socket, ret_fd, &err))
            return true;
        g_usleep(10 * 1000);
    }
    util_error_set(error, VIR_FROM_RPC, VIR_ERR_NO_CONNECT,
                   "%s did not start listening on '%s' within %d ms (see %s)",
                   daemon, socket, PROXY_SPAWN_WAIT_MS, logpath ? logpath : "its log");
    return false;
}

typedef struct {
    char *daemon;
    char *socket;
    int fd;
} ProxyConnectTask;

static void
proxy_connect_task_free(gpointer p)
{
    ProxyConnectTask *t = p;

    if (t->fd >= 0)
        close(t->fd);
    g_free(t->daemon);
    g_free(t->socket);
    g_free(t);
}

static void
proxy_connect_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancel)
{
    ProxyConnectTask *t = data;
    GError *error = NULL;
    int err = 0;

    if (proxy_connect_socket(t->socket, &t->fd, &err)) {
        g_task_return_boolean(task, TRUE);
        return;
    }
    if (daemon_paths()->root && (err == ENOENT || err == ECONNREFUSED)) {
        if (proxy_spawn_daemon(t->daemon, t->socket, &t->fd, &error))
            g_task_return_boolean(task, TRUE);
        else
            g_task_return_error(task, error);
        return;
    }
    util_error_set(&error, VIR_FROM_RPC, VIR_ERR_NO_CONNECT,
                   "cannot reach %s: Failed to connect socket to '%s': %s",
                   t->daemon, t->socket, g_strerror(err));
    g_task_return_error(task, error);
}

static ProxyUpstream *
proxy_upstream_new(ProxyClient *pc, ProxyUpKind kind, const char *daemon, int fd,
                   const char *socket)
{
    ProxyUpstream *up = g_new0(ProxyUpstream, 1);

    up->owner = pc;
    up->kind = kind;
    up->daemon = g_strdup(daemon);
    up->socket = g_strdup(socket);
    up->next_serial = 1;
    up->pending = g_hash_table_new_full(NULL, NULL, NULL, g_free);
    g_queue_init(&up->waiting);
    up->conn = rpc_conn_new(fd, daemon_main_context(), 0, &proxy_upstream_callbacks, up);
    return up;
}

/* Send the held calls of a now-ready upstream. */
static void
proxy_upstream_flush_waiting(ProxyUpstream *up)
{
    while (!g_queue_is_empty(&up->waiting)) {
        ProxyWaiting *w = g_queue_pop_head(&up->waiting);
        proxy_upstream_forward(up, w->msg, w->len, false);
        g_free(w);
    }
}

/* ------------------------------------------------------------ open */

typedef struct {
    DaemonClient *client;      /* a reference: the task may outlive it */
    ProxyUpKind kind;
    guint8 *msg;               /* the message to send once connected */
    size_t len;
    RpcHeader hdr;
} ProxyOpenCtx;

static void
proxy_open_ctx_free(gpointer p)
{
    ProxyOpenCtx *o = p;

    daemon_client_unref(o->client);
    g_free(o->msg);
    g_free(o);
}

static guint8 *
proxy_build_open(const char *uri, bool readonly, size_t *ret_len)
{
    RpcHeader hdr = { REMOTE_PROGRAM, REMOTE_PROTOCOL_VERSION, REMOTE_PROC_CONNECT_OPEN,
                      RPC_TYPE_CALL, 0, RPC_STATUS_OK };
    RemoteConnectOpenArgs args = { (char *)uri, readonly ? 1 : 0 };

    return rpc_message_build(&hdr, (RpcEncodeFunc)xdr_enc_remote_connect_open_args, &args,
                             ret_len, NULL);
}

static void
proxy_connected(GObject *source, GAsyncResult *res, gpointer data)
{
    GTask *task = G_TASK(res);
    ProxyConnectTask *t = g_task_get_task_data(task);
    ProxyOpenCtx *o = data;
    ProxyClient *pc = daemon_client_get_private(o->client);
    g_autoptr(GError) error = NULL;
    ProxyUpstream *up;

    if (!g_task_propagate_boolean(task, &error)) {
        if (pc && !pc->gone) {
            if (o->kind == PROXY_UP_HYPER) {
                pc->connecting = false;
                daemon_client_reply_error(o->client, &o->hdr, error);
            } else if (pc->up[o->kind]) {
                proxy_upstream_fail_all(pc->up[o->kind], error->message);
                proxy_upstream_free(g_steal_pointer(&pc->up[o->kind]));
            }
        }
        proxy_open_ctx_free(o);
        return;
    }
    if (!pc || pc->gone || pc->closing) {
        proxy_open_ctx_free(o);
        return;
    }
    if (o->kind == PROXY_UP_HYPER) {
        pc->connecting = false;
        up = proxy_upstream_new(pc, PROXY_UP_HYPER, t->daemon, g_steal_fd(&t->fd), t->socket);
        pc->up[PROXY_UP_HYPER] = up;
        up->ready = true;
        /* the client's own CONNECT_OPEN goes through as it is */
        proxy_upstream_forward(up, g_steal_pointer(&o->msg), o->len, false);
        proxy_upstream_flush_waiting(up);
    } else {
        ProxyUpstream *placeholder = pc->up[o->kind];
        up = proxy_upstream_new(pc, o->kind, t->daemon, g_steal_fd(&t->fd), t->socket);
        /* keep the calls that waited for this connection */
        if (placeholder) {
            while (!g_queue_is_empty(&placeholder->waiting))
                g_queue_push_tail(&up->waiting, g_queue_pop_head(&placeholder->waiting));
            proxy_upstream_free(placeholder);
        }
        pc->up[o->kind] = up;
        proxy_upstream_forward(up, g_steal_pointer(&o->msg), o->len, true);
    }
    proxy_open_ctx_free(o);
}

static void
proxy_start_connect(ProxyClient *pc, ProxyUpKind kind, const char *daemon, bool readonly,
                    guint8 *msg, size_t len, const RpcHeader *hdr)
{
    ProxyConnectTask *t = g_new0(ProxyConnectTask, 1);
    ProxyOpenCtx *o = g_new0(ProxyOpenCtx, 1);
    GTask *task;

    t->daemon = g_strdup(daemon);
    t->socket = proxy_socket_path(daemon, readonly);
    t->fd = -1;
    o->client = daemon_client_ref(pc->client);
    o->kind = kind;
    o->msg = msg;
    o->len = len;
    if (hdr)
        o->hdr = *hdr;
    task = g_task_new(NULL, NULL, proxy_connected, o);
    g_task_set_task_data(task, t, proxy_connect_task_free);
    g_task_run_in_thread(task, proxy_connect_thread);
    g_object_unref(task);
}

static void
proxy_handle_open(ProxyClient *pc, const RpcHeader *hdr, guint8 *msg, size_t len)
{
    RemoteConnectOpenArgs args = { 0 };
    g_autoptr(GError) error = NULL;
    g_autofree char *scheme = NULL;
    const char *daemon = NULL;
    const char *name;
    g_autofree char *default_uri = NULL;

    if (pc->up[PROXY_UP_HYPER] || pc->connecting) {
        proxy_reply_error(pc, hdr, VIR_ERR_INTERNAL_ERROR, "connection already open");
        g_free(msg);
        return;
    }
    if (!rpc_payload_decode(msg + RPC_MIN_LEN, len - RPC_MIN_LEN,
                            (RpcDecodeFunc)xdr_dec_remote_connect_open_args,
                            (RpcFreeFunc)xdr_free_remote_connect_open_args, &args, &error)) {
        daemon_client_reply_error(pc->client, hdr, error);
        g_free(msg);
        return;
    }
    name = args.name;
    if (!name || !*name) {
        /* no URI: the default hypervisor, and the client learns which
         * with CONNECT_GET_URI */
        default_uri = g_strdup_printf("qemu://%s", proxy_uri_path());
        name = default_uri;
        g_free(msg);
        msg = proxy_build_open(name, args.flags & 1, &len);
        rpc_write_u32(msg + RPC_OFFSET_SERIAL, hdr->serial);
    }
    scheme = g_uri_parse_scheme(name);
    for (size_t i = 0; scheme && i < G_N_ELEMENTS(proxy_routes); i++) {
        if (g_ascii_strcasecmp(scheme, proxy_routes[i].scheme) == 0)
            daemon = proxy_routes[i].daemon;
    }
    if (!daemon) {
        proxy_reply_error(pc, hdr, VIR_ERR_NO_CONNECT,
                          "no connection driver available for %s", name);
        xdr_free_remote_connect_open_args(&args);
        g_free(msg);
        return;
    }
    pc->readonly = daemon_client_readonly(pc->client) || (args.flags & 1);
    pc->uri = g_strdup(name);
    pc->connecting = true;
    g_debug("client opens %s through %s%s", name, daemon, pc->readonly ? " (read-only)" : "");
    proxy_start_connect(pc, PROXY_UP_HYPER, daemon, pc->readonly, msg, len, hdr);
    xdr_free_remote_connect_open_args(&args);
}

/* A call for the storage or network family: forward, connecting first. */
static void
proxy_route_secondary(ProxyClient *pc, ProxyUpKind kind, guint8 *msg, size_t len)
{
    ProxyUpstream *up = pc->up[kind];
    ProxyWaiting *w;
    g_autofree char *uri = NULL;
    size_t olen;
    guint8 *open_msg;

    if (up && up->ready) {
        proxy_upstream_forward(up, msg, len, false);
        return;
    }
    w = g_new0(ProxyWaiting, 1);
    w->msg = msg;
    w->len = len;
    if (up) {
        g_queue_push_tail(&up->waiting, w);
        return;
    }
    /* a placeholder holds the calls until the connection exists */
    up = g_new0(ProxyUpstream, 1);
    up->owner = pc;
    up->kind = kind;
    up->pending = g_hash_table_new_full(NULL, NULL, NULL, g_free);
    g_queue_init(&up->waiting);
    g_queue_push_tail(&up->waiting, w);
    pc->up[kind] = up;
    uri = g_strdup_printf("%s://%s", proxy_family_scheme[kind], proxy_uri_path());
    open_msg = proxy_build_open(uri, pc->readonly, &olen);
    proxy_start_connect(pc, kind, proxy_family_daemon[kind], pc->readonly, open_msg, olen, NULL);
}

/* ------------------------------------------------------------ routing */

static bool
proxy_raw_message(DaemonClient *client, const RpcHeader *hdr, guint8 *msg, size_t len)
{
    ProxyClient *pc = daemon_client_get_private(client);
    const RpcProcInfo *info;
    ProxyUpKind kind = PROXY_UP_HYPER;

    if (!pc) {
        pc = g_new0(ProxyClient, 1);
        pc->client = client;
        daemon_client_set_private(client, pc);
    }
    if (hdr->prog != REMOTE_PROGRAM && hdr->prog != QEMU_PROGRAM && hdr->prog != LXC_PROGRAM)
        return false;    /* unknown programs: the shared dispatcher answers */
    if (hdr->type != RPC_TYPE_CALL && hdr->type != RPC_TYPE_CALL_WITH_FDS) {
        if (hdr->type == RPC_TYPE_STREAM && pc->up[PROXY_UP_HYPER] &&
            pc->up[PROXY_UP_HYPER]->ready) {
            rpc_conn_send(pc->up[PROXY_UP_HYPER]->conn, msg, len);
            return true;
        }
        return false;
    }
    if (hdr->prog == REMOTE_PROGRAM && hdr->proc == REMOTE_PROC_CONNECT_OPEN &&
        hdr->status == RPC_STATUS_OK) {
        proxy_handle_open(pc, hdr, msg, len);
        return true;
    }
    if (!pc->up[PROXY_UP_HYPER])
        return false;    /* AUTH_LIST, keepalive feature, or 'not open' */
    if (hdr->prog == REMOTE_PROGRAM) {
        switch (hdr->proc) {
        case REMOTE_PROC_AUTH_LIST:
            return false;
        case REMOTE_PROC_CONNECT_SUPPORTS_FEATURE:
            /* keepalive is between the client and the proxy */
            if (len == RPC_MIN_LEN + 4 && rpc_read_u32(msg + RPC_MIN_LEN) == 10)
                return false;
            break;
        case REMOTE_PROC_CONNECT_CLOSE:
            pc->closing = true;
            pc->close_serial = hdr->serial;
            break;
        default:
            break;
        }
        info = rpc_proc_lookup(hdr->prog, hdr->proc);
        if (info && info->family == RPC_FAMILY_STORAGE)
            kind = PROXY_UP_STORAGE;
        else if (info && info->family == RPC_FAMILY_NETWORK)
            kind = PROXY_UP_NETWORK;
    }
    if (kind == PROXY_UP_HYPER) {
        /* a hypervisor daemon opened for storage:// or network:// serves
         * that family itself */
        proxy_upstream_forward(pc->up[PROXY_UP_HYPER], msg, len, false);
        return true;
    }
    if (g_str_equal(pc->up[PROXY_UP_HYPER]->daemon, proxy_family_daemon[kind])) {
        proxy_upstream_forward(pc->up[PROXY_UP_HYPER], msg, len, false);
        return true;
    }
    proxy_route_secondary(pc, kind, msg, len);
    return true;
}

static void
proxy_upstream_message(RpcConn *conn, const RpcHeader *hdr, guint8 *msg, size_t len,
                       gpointer data)
{
    ProxyUpstream *up = data;
    ProxyClient *pc = up->owner;
    ProxyPending *p;

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
    if (hdr->type != RPC_TYPE_REPLY && hdr->type != RPC_TYPE_REPLY_WITH_FDS &&
        hdr->type != RPC_TYPE_STREAM) {
        /* events and other messages go to the client unchanged */
        daemon_client_send_raw(pc->client, msg, len);
        return;
    }
    if (hdr->type == RPC_TYPE_STREAM) {
        daemon_client_send_raw(pc->client, msg, len);
        return;
    }
    p = g_hash_table_lookup(up->pending, GUINT_TO_POINTER(hdr->serial));
    if (!p) {
        g_warning("%s sent a reply (serial %u) that matches no call: dropping the connection",
                  up->daemon, hdr->serial);
        g_free(msg);
        daemon_client_close(pc->client);
        return;
    }
    if (p->internal_open) {
        g_hash_table_remove(up->pending, GUINT_TO_POINTER(hdr->serial));
        if (hdr->status == RPC_STATUS_OK) {
            up->ready = true;
            proxy_upstream_flush_waiting(up);
        } else {
            /* answer every held call with the daemon's own error */
            while (!g_queue_is_empty(&up->waiting)) {
                ProxyWaiting *w = g_queue_pop_head(&up->waiting);
                RpcHeader wh;
                guint8 *copy = g_memdup2(msg, len);

                rpc_header_decode(w->msg, &wh);
                wh.type = RPC_TYPE_REPLY;
                wh.status = RPC_STATUS_ERROR;
                rpc_header_encode(&wh, copy);
                daemon_client_send_raw(pc->client, copy, len);
                proxy_waiting_free(w);
            }
        }
        g_free(msg);
        return;
    }
    rpc_write_u32(msg + RPC_OFFSET_SERIAL, p->call.serial);
    g_hash_table_remove(up->pending, GUINT_TO_POINTER(hdr->serial));
    if (up->kind == PROXY_UP_HYPER && hdr->prog == REMOTE_PROGRAM &&
        hdr->proc == REMOTE_PROC_CONNECT_OPEN) {
        daemon_client_send_raw(pc->client, msg, len);
        if (hdr->status == RPC_STATUS_OK) {
            daemon_client_set_open(pc->client, pc->uri);
        } else {
            /* the daemon refused: the client may try another URI */
            pc->up[PROXY_UP_HYPER] = NULL;
            g_clear_pointer(&pc->uri, g_free);
            proxy_upstream_free(up);
        }
        return;
    }
    daemon_client_send_raw(pc->client, msg, len);
    if (pc->closing && up->kind == PROXY_UP_HYPER && hdr->prog == REMOTE_PROGRAM &&
        hdr->proc == REMOTE_PROC_CONNECT_CLOSE)
        daemon_client_close(pc->client);
}

static void
proxy_upstream_closed(RpcConn *conn, const char *reason, gpointer data)
{
    ProxyUpstream *up = data;
    ProxyClient *pc = up->owner;
    g_autofree char *why = g_strdup_printf("%s closed the connection: %s", up->daemon, reason);

    g_info("%s", why);
    if (up->kind == PROXY_UP_HYPER) {
        /* the client's connection is that of the hypervisor daemon */
        daemon_client_close(pc->client);
        return;
    }
    /* every call it owed an answer gets an error; the next call of that
     * family connects again */
    proxy_upstream_fail_all(up, why);
    pc->up[up->kind] = NULL;
    proxy_upstream_free(up);
}

static void
proxy_client_closed(DaemonClient *client)
{
    ProxyClient *pc = daemon_client_get_private(client);

    if (!pc)
        return;
    pc->gone = true;
    for (int k = 0; k < PROXY_UP_LAST; k++)
        g_clear_pointer(&pc->up[k], proxy_upstream_free);
}

static void
proxy_client_free(gpointer p)
{
    ProxyClient *pc = p;

    for (int k = 0; k < PROXY_UP_LAST; k++)
        g_clear_pointer(&pc->up[k], proxy_upstream_free);
    g_free(pc->uri);
    g_free(pc);
}

static const int proxy_caps[] = { -1 };

static const DaemonDriver proxy_driver = {
    .name = "virtproxyd",
    .description = "modvirt proxy: the one endpoint for clients",
    .uri_schemes = NULL,
    .ops = NULL,
    .keep_caps = proxy_caps,
    .raw_message = proxy_raw_message,
    .client_closed = proxy_client_closed,
    .client_free_private = proxy_client_free,
};

int
main(int argc, char **argv)
{
    return daemon_main(&proxy_driver, argc, argv);
}
