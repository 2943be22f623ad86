/*
 * daemon-client.c: one connected client: checks every incoming message,
 * answers keepalive, runs calls inline (high priority) or on the worker
 * pool, enforces the per-client limits and sends replies.
 */
#define G_LOG_DOMAIN "modvirt.daemon"

#include "daemon-priv.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib-unix.h>

#include "util-error.h"

#define KEEPALIVE_PROGRAM 0x6b656570
#define KEEPALIVE_PING 1
#define KEEPALIVE_PONG 2

static void daemon_client_on_message(RpcConn *conn, const RpcHeader *hdr,
                                     guint8 *msg, size_t len, gpointer data);
static void daemon_client_on_closed(RpcConn *conn, const char *reason, gpointer data);

static const RpcConnCallbacks daemon_client_callbacks = {
    .message = daemon_client_on_message,
    .closed = daemon_client_on_closed,
};

/* ------------------------------------------------------------ exact reads */

struct _DaemonExact {
    GSource *watch;            /* NULL while paused */
    bool paused;
    bool first_only;           /* then RpcConn takes over */
    guint8 lenbuf[RPC_LEN_SIZE];
    size_t lenhave;
    guint8 *msg;               /* the message being read */
    size_t len;
    size_t have;
    size_t skip;               /* descriptor bytes after a *_WITH_FDS message */
    int fds[RPC_MAX_FDS];      /* descriptors received with this message */
    size_t nfds;
};

static void daemon_exact_watch(DaemonClient *client);

static void
daemon_exact_close_fds(DaemonExact *ex)
{
    for (size_t i = 0; i < ex->nfds; i++)
        close(ex->fds[i]);
    ex->nfds = 0;
}

static void
daemon_exact_free(DaemonExact *ex)
{
    if (!ex)
        return;
    if (ex->watch) {
        g_source_destroy(ex->watch);
        g_source_unref(ex->watch);
    }
    daemon_exact_close_fds(ex);
    g_free(ex->msg);
    g_free(ex);
}

/* recvmsg() into @buf, keeping any descriptors that come along. */
static ssize_t
daemon_exact_recv(DaemonClient *client, guint8 *buf, size_t want)
{
    DaemonExact *ex = client->exact;
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int) * RPC_MAX_FDS)];
    } control;
    struct iovec iov = { buf, want };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
                         .msg_control = control.buf, .msg_controllen = sizeof(control.buf) };
    ssize_t n;

    do {
        n = recvmsg(rpc_conn_fd(client->conn), &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n <= 0)
        return n;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
        size_t count;

        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count; i++) {
            int fd;

            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            if (ex->nfds < RPC_MAX_FDS)
                ex->fds[ex->nfds++] = fd;
            else
                close(fd);
        }
    }
    return n;
}

static void
daemon_exact_deliver(DaemonClient *client, guint8 *msg, size_t len)
{
    DaemonExact *ex = client->exact;
    RpcHeader hdr;

    rpc_header_decode(msg, &hdr);
    if (hdr.type == RPC_TYPE_CALL_WITH_FDS || hdr.type == RPC_TYPE_REPLY_WITH_FDS)
        ex->skip = len >= RPC_MIN_LEN + 4 ? MIN(rpc_read_u32(msg + RPC_MIN_LEN), RPC_MAX_FDS) : 0;
    if (client->kind == DAEMON_SOCKET_ADMIN && hdr.prog == DAEMON_HANDOFF_PROGRAM &&
        !daemon_driver()->hands_off_clients) {
        int fds[RPC_MAX_FDS];
        size_t nfds = ex->nfds;

        memcpy(fds, ex->fds, nfds * sizeof(int));
        ex->nfds = 0;
        daemon_handoff_adopt(client, &hdr, msg, len, fds, nfds);
        g_free(msg);
        return;
    }
    daemon_exact_close_fds(ex);
    if (ex->first_only) {
        /* an ordinary admin client: RpcConn reads from now on */
        g_clear_pointer(&client->exact, daemon_exact_free);
        rpc_conn_set_reading(client->conn, true);
    }
    daemon_client_inject(client, msg, len);
}

/* Read what is there, one whole message at a time. */
static gboolean
daemon_exact_ready(gint fd G_GNUC_UNUSED, GIOCondition cond G_GNUC_UNUSED, gpointer data)
{
    g_autoptr(DaemonClient) client = daemon_client_ref(data);

    while (client->exact && !client->exact->paused && !client->closed) {
        DaemonExact *ex = client->exact;
        guint8 skipbuf[RPC_MAX_FDS];
        guint8 *dst;
        size_t want;
        ssize_t n;

        if (ex->skip) {
            dst = skipbuf;
            want = ex->skip;
        } else if (!ex->msg) {
            dst = ex->lenbuf + ex->lenhave;
            want = RPC_LEN_SIZE - ex->lenhave;
        } else {
            dst = ex->msg + ex->have;
            want = ex->len - ex->have;
        }
        n = daemon_exact_recv(client, dst, want);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n <= 0) {
            g_autofree char *why = n == 0 ? g_strdup("peer closed the connection") :
                g_strdup_printf("read failed: %s", g_strerror(errno));
            g_debug("client disconnected: %s", why);
            daemon_client_close(client);
            break;
        }
        if (ex->skip) {
            ex->skip -= n;
            daemon_exact_close_fds(ex);
            continue;
        }
        if (!ex->msg) {
            guint32 len;

            ex->lenhave += n;
            if (ex->lenhave < RPC_LEN_SIZE)
                continue;
            len = rpc_read_u32(ex->lenbuf);
            if (len < RPC_MIN_LEN || len - RPC_LEN_SIZE > daemon_limits()->max_message) {
                g_info("closing a client that sent a message of %u bytes", len);
                daemon_client_close(client);
                break;
            }
            ex->msg = g_malloc(len);
            memcpy(ex->msg, ex->lenbuf, RPC_LEN_SIZE);
            ex->len = len;
            ex->have = RPC_LEN_SIZE;
            ex->lenhave = 0;
            continue;
        }
        ex->have += n;
        if (ex->have == ex->len) {
            guint8 *msg = g_steal_pointer(&ex->msg);
            daemon_exact_deliver(client, msg, ex->len);
        }
    }
    return G_SOURCE_CONTINUE;
}

/* Watch the socket while exact reading is on and not paused. */
static void
daemon_exact_watch(DaemonClient *client)
{
    DaemonExact *ex = client->exact;
    bool want = ex && !ex->paused && !client->closed;

    if (!ex)
        return;
    if (want && !ex->watch) {
        ex->watch = g_unix_fd_source_new(rpc_conn_fd(client->conn), G_IO_IN);
        g_source_set_callback(ex->watch, (GSourceFunc)(void (*)(void))daemon_exact_ready,
                              client, NULL);
        g_source_attach(ex->watch, daemon_main_context());
    } else if (!want && ex->watch) {
        g_source_destroy(ex->watch);
        g_clear_pointer(&ex->watch, g_source_unref);
    }
}

/* Reading on or off, whichever reader is in charge. */
static void
daemon_client_reading(DaemonClient *client, bool reading)
{
    if (client->exact) {
        client->exact->paused = !reading;
        daemon_exact_watch(client);
        /* data may be waiting already: the watch sees it on the next poll */
        return;
    }
    rpc_conn_set_reading(client->conn, reading);
}

void
daemon_client_inject(DaemonClient *client, guint8 *msg, size_t len)
{
    RpcHeader hdr;

    rpc_header_decode(msg, &hdr);
    daemon_client_on_message(client->conn, &hdr, msg, len, client);
}

DaemonClient *
daemon_client_new(int fd, DaemonSocketKind kind, bool rejected)
{
    DaemonClient *client = g_new0(DaemonClient, 1);

    client->refs = 1;
    client->kind = kind;
    client->readonly = kind == DAEMON_SOCKET_RO;
    client->rejected = rejected;
    client->last_rx = g_get_monotonic_time();
    g_mutex_init(&client->lock);
    g_queue_init(&client->pending);
    client->conn = rpc_conn_new(fd, daemon_main_context(), daemon_limits()->max_message,
                                &daemon_client_callbacks, client);
    if (daemon_driver()->hands_off_clients || kind == DAEMON_SOCKET_ADMIN) {
        client->exact = g_new0(DaemonExact, 1);
        client->exact->first_only = !daemon_driver()->hands_off_clients;
        rpc_conn_set_reading(client->conn, false);
        daemon_exact_watch(client);
    }
    return client;
}

DaemonClient *
daemon_client_ref(DaemonClient *client)
{
    g_atomic_int_inc(&client->refs);
    return client;
}

static void
daemon_job_free(DaemonJob *job)
{
    if (!job)
        return;
    g_free(job->msg);
    if (job->client)
        daemon_client_unref(job->client);
    g_free(job);
}

void
daemon_client_unref(DaemonClient *client)
{
    if (!client || !g_atomic_int_dec_and_test(&client->refs))
        return;
    daemon_exact_free(client->exact);
    daemon_forward_free(client->forward);
    if (client->priv && daemon_driver()->client_free_private)
        daemon_driver()->client_free_private(client->priv);
    g_list_free_full(client->callbacks, g_free);
    g_queue_clear_full(&client->pending, (GDestroyNotify)daemon_job_free);
    rpc_conn_unref(client->conn);
    g_free(client->uri);
    g_mutex_clear(&client->lock);
    g_free(client);
}

DaemonClient *
daemon_call_client(RpcServerCall *call)
{
    return call->client;
}

bool
daemon_client_readonly(DaemonClient *client)
{
    return client->readonly;
}

DaemonSocketKind
daemon_client_socket_kind(DaemonClient *client)
{
    return client->kind;
}

bool
daemon_client_is_open(DaemonClient *client)
{
    bool open;

    g_mutex_lock(&client->lock);
    open = client->opened;
    g_mutex_unlock(&client->lock);
    return open;
}

const char *
daemon_client_uri(DaemonClient *client)
{
    /* set once at open, never changed afterwards */
    return client->uri;
}

void
daemon_client_set_open(DaemonClient *client, const char *uri)
{
    g_mutex_lock(&client->lock);
    client->opened = true;
    g_free(client->uri);
    client->uri = g_strdup(uri);
    g_mutex_unlock(&client->lock);
}

gpointer
daemon_client_get_private(DaemonClient *client)
{
    return client->priv;
}

void
daemon_client_set_private(DaemonClient *client, gpointer priv)
{
    client->priv = priv;
}

bool
daemon_client_keepalive_enabled(DaemonClient *client)
{
    return client->keepalive;
}

void
daemon_client_enable_keepalive(DaemonClient *client)
{
    if (daemon_limits()->keepalive_interval > 0)
        client->keepalive = true;
}

bool
daemon_client_peer(DaemonClient *client, uid_t *ret_uid, gid_t *ret_gid, pid_t *ret_pid)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);

    if (getsockopt(rpc_conn_fd(client->conn), SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
        return false;
    if (ret_uid)
        *ret_uid = cred.uid;
    if (ret_gid)
        *ret_gid = cred.gid;
    if (ret_pid)
        *ret_pid = cred.pid;
    return true;
}

void
daemon_client_send_raw(DaemonClient *client, guint8 *msg, size_t len)
{
    rpc_conn_send(client->conn, msg, len);
}

void
daemon_client_send_event(DaemonClient *client, gint32 proc, RpcEncodeFunc enc,
                         const void *payload)
{
    RpcHeader hdr = { REMOTE_PROGRAM, REMOTE_PROTOCOL_VERSION, proc,
                      RPC_TYPE_MESSAGE, 1, RPC_STATUS_OK };
    g_autoptr(GError) error = NULL;
    size_t len;
    guint8 *msg = rpc_message_build(&hdr, enc, payload, &len, &error);

    if (!msg) {
        g_warning("cannot send event %d: %s", proc, error->message);
        return;
    }
    rpc_conn_send(client->conn, msg, len);
}

void
daemon_client_reply_error(DaemonClient *client, const RpcHeader *hdr, const GError *err)
{
    size_t len;
    guint8 *msg = rpc_message_build_error(hdr, err, &len);

    g_debug("call %s proc=%d serial=%u failed: %s (%s)",
            hdr->prog == REMOTE_PROGRAM ? "remote" : "other", hdr->proc, hdr->serial,
            err->message, util_error_code_name(util_error_code(err)));
    rpc_conn_send(client->conn, msg, len);
}

void
daemon_client_set_reading(DaemonClient *client, bool reading)
{
    daemon_client_reading(client, reading);
}

void
daemon_client_close(DaemonClient *client)
{
    g_mutex_lock(&client->lock);
    if (client->closed) {
        g_mutex_unlock(&client->lock);
        return;
    }
    client->closed = true;
    g_mutex_unlock(&client->lock);
    daemon_exact_watch(client);
    daemon_forward_client_closed(client);
    rpc_conn_close_after_flush(client->conn);
    daemon_server_client_gone(client);
}

static void
daemon_client_on_closed(RpcConn *conn G_GNUC_UNUSED, const char *reason, gpointer data)
{
    DaemonClient *client = data;

    g_debug("client disconnected: %s", reason);
    g_mutex_lock(&client->lock);
    client->closed = true;
    g_mutex_unlock(&client->lock);
    daemon_exact_watch(client);
    daemon_forward_client_closed(client);
    daemon_server_client_gone(client);
}

/* ------------------------------------------------------------ keepalive */

static void
daemon_client_send_keepalive(DaemonClient *client, gint32 proc)
{
    RpcHeader hdr = { KEEPALIVE_PROGRAM, 1, proc, RPC_TYPE_MESSAGE, 0, RPC_STATUS_OK };
    size_t len;
    guint8 *msg = rpc_message_build(&hdr, NULL, NULL, &len, NULL);

    rpc_conn_send(client->conn, msg, len);
}

void
daemon_client_keepalive_tick(DaemonClient *client, gint64 now)
{
    const DaemonLimits *lim = daemon_limits();
    gint64 interval = (gint64)lim->keepalive_interval * G_USEC_PER_SEC;
    bool close_it = false;
    bool ping = false;

    if (!client->keepalive || interval <= 0)
        return;
    g_mutex_lock(&client->lock);
    if (!client->closed && now - client->last_rx >= interval &&
        now - client->last_ping >= interval) {
        if (client->pings_unanswered >= lim->keepalive_count) {
            close_it = true;
        } else {
            client->pings_unanswered++;
            client->last_ping = now;
            ping = true;
        }
    }
    g_mutex_unlock(&client->lock);
    if (close_it) {
        g_info("client did not answer %u keepalive pings: closing the connection",
               lim->keepalive_count);
        daemon_client_close(client);
    } else if (ping) {
        daemon_client_send_keepalive(client, KEEPALIVE_PING);
    }
}

/* ------------------------------------------------------------ calls */

static bool
daemon_call_invoke(RpcServerCall *call, const void *args, void *ret, GError **error)
{
    const DaemonDriver *drv = daemon_driver();
    bool missing = true;
    bool ok = false;

    switch (call->hdr.prog) {
    case REMOTE_PROGRAM:
        if (drv->ops)
            ok = remote_server_invoke(drv->ops, call->hdr.proc, call, args, ret, &missing, error);
        if (missing)
            ok = remote_server_invoke(&daemon_common_ops, call->hdr.proc, call, args, ret,
                                      &missing, error);
        break;
    case ADMIN_PROGRAM:
        ok = admin_server_invoke(&daemon_admin_ops, call->hdr.proc, call, args, ret,
                                 &missing, error);
        break;
    default:
        break;
    }
    if (missing) {
        util_error_set(error, VIR_FROM_RPC, VIR_ERR_RPC, "unknown procedure: %d",
                       call->hdr.proc);
        return false;
    }
    return ok;
}

/* Decode, run and answer one call. */
static void
daemon_call_execute(DaemonClient *client, RpcServerCall *call, const guint8 *msg, size_t len)
{
    const RpcProcInfo *info = call->info;
    g_autoptr(GError) error = NULL;
    g_autofree void *args = NULL;
    g_autofree void *ret = NULL;
    bool args_ok = true;
    guint8 *out = NULL;
    size_t outlen = 0;

    if (info->args_size) {
        args = g_malloc0(info->args_size);
        args_ok = rpc_payload_decode(msg + RPC_MIN_LEN, len - RPC_MIN_LEN, info->dec_args,
                                     info->free_args, args, &error);
    } else if (len != RPC_MIN_LEN) {
        util_error_set(&error, VIR_FROM_RPC, VIR_ERR_RPC,
                       "Unable to decode message payload: procedure %s takes no arguments",
                       info->name);
        args_ok = false;
    }
    if (args_ok) {
        if (info->ret_size)
            ret = g_malloc0(info->ret_size);
        if (daemon_call_invoke(call, args, ret, &error)) {
            RpcHeader rh = call->hdr;
            rh.type = RPC_TYPE_REPLY;
            rh.status = RPC_STATUS_OK;
            out = rpc_message_build(&rh, info->enc_ret, ret, &outlen, &error);
        }
    }
    if (out) {
        rpc_conn_send(client->conn, out, outlen);
    } else {
        if (!error) {
            g_warning("procedure %s failed without saying why", info->name);
            util_error_set(&error, VIR_FROM_NONE, VIR_ERR_INTERNAL_ERROR,
                           "procedure %s failed without an error", info->name);
        }
        daemon_client_reply_error(client, &call->hdr, error);
    }
    /* after the reply: the client need not wait for a big list to be freed */
    if (args_ok && info->free_args)
        info->free_args(args);
    if (ret && info->free_ret)
        info->free_ret(ret);
}

static gboolean
daemon_client_resume_cb(gpointer data)
{
    DaemonClient *client = data;

    g_mutex_lock(&client->lock);
    client->paused = false;
    g_mutex_unlock(&client->lock);
    if (!client->closed)
        daemon_client_reading(client, true);
    return G_SOURCE_REMOVE;
}

void
daemon_job_run(DaemonJob *job)
{
    DaemonClient *client = job->client;
    DaemonJob *next = NULL;
    bool resume = false;

    daemon_call_execute(client, &job->call, job->msg, job->len);
    g_mutex_lock(&client->lock);
    next = g_queue_pop_head(&client->pending);
    if (!next) {
        client->in_flight--;
    } else {
        client->pending_bytes -= next->len;
        if (client->paused && client->pending_bytes <= daemon_limits()->max_message / 2) {
            client->paused = false;
            resume = true;
        }
    }
    g_mutex_unlock(&client->lock);
    if (resume)
        g_main_context_invoke_full(daemon_main_context(), G_PRIORITY_DEFAULT,
                                   daemon_client_resume_cb, daemon_client_ref(client),
                                   (GDestroyNotify)daemon_client_unref);
    daemon_job_free(job);
    if (next)
        daemon_server_push_job(next);
}

static void
daemon_client_error(DaemonClient *client, const RpcHeader *hdr, int domain, int code,
                    const char *fmt, ...) G_GNUC_PRINTF(5, 6);

static void
daemon_client_error(DaemonClient *client, const RpcHeader *hdr, int domain, int code,
                    const char *fmt, ...)
{
    va_list ap;
    g_autofree char *text = NULL;
    g_autoptr(GError) err = NULL;

    va_start(ap, fmt);
    text = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    err = g_error_new_literal(util_error_quark(domain), code, text);
    daemon_client_reply_error(client, hdr, err);
}

/* Procedures allowed before CONNECT_OPEN. */
static bool
daemon_call_allowed_unopened(const RpcHeader *hdr, const guint8 *msg, size_t len)
{
    if (hdr->prog == ADMIN_PROGRAM)
        return true;
    if (hdr->prog != REMOTE_PROGRAM)
        return false;
    switch (hdr->proc) {
    case REMOTE_PROC_CONNECT_OPEN:
    case REMOTE_PROC_CONNECT_CLOSE:
    case REMOTE_PROC_AUTH_LIST:
    case REMOTE_PROC_AUTH_SASL_INIT:
    case REMOTE_PROC_AUTH_SASL_START:
    case REMOTE_PROC_AUTH_SASL_STEP:
    case REMOTE_PROC_AUTH_POLKIT:
        return true;
    case REMOTE_PROC_CONNECT_SUPPORTS_FEATURE:
        /* only the keepalive feature may be asked before opening */
        return len == RPC_MIN_LEN + 4 && rpc_read_u32(msg + RPC_MIN_LEN) == 10;
    default:
        return false;
    }
}

static void
daemon_client_handle_call(DaemonClient *client, const RpcHeader *hdr, guint8 *msg, size_t len)
{
    const DaemonLimits *lim = daemon_limits();
    const RpcProcInfo *info;
    DaemonJob *job;
    bool queued = false;
    bool overflow = false;
    bool pause = false;

    if (client->rejected) {
        daemon_client_error(client, hdr, VIR_FROM_RPC, VIR_ERR_RPC,
                            "Too many active clients (%u), dropping connection",
                            lim->max_clients);
        g_free(msg);
        daemon_client_close(client);
        return;
    }
    if (hdr->status != RPC_STATUS_OK) {
        daemon_client_error(client, hdr, VIR_FROM_RPC, VIR_ERR_RPC,
                            "Unexpected message status %d", hdr->status);
        goto done;
    }
    if (!rpc_program_known(hdr->prog, hdr->vers) ||
        hdr->prog == KEEPALIVE_PROGRAM ||
        (hdr->prog == ADMIN_PROGRAM) != (client->kind == DAEMON_SOCKET_ADMIN)) {
        daemon_client_error(client, hdr, VIR_FROM_RPC, VIR_ERR_RPC,
                            "Cannot find program %u version %u", hdr->prog, hdr->vers);
        goto done;
    }
    if (hdr->type == RPC_TYPE_CALL_WITH_FDS) {
        daemon_client_error(client, hdr, VIR_FROM_RPC, VIR_ERR_OPERATION_UNSUPPORTED,
                            "passing file descriptors is not supported by %s",
                            daemon_driver()->name);
        goto done;
    }
    info = rpc_proc_lookup(hdr->prog, hdr->proc);
    if (!info || info->is_message || !info->described) {
        daemon_client_error(client, hdr, VIR_FROM_RPC, VIR_ERR_RPC,
                            "unknown procedure: %d", hdr->proc);
        goto done;
    }
    if (client->readonly && !info->readonly) {
        daemon_client_error(client, hdr, VIR_FROM_NONE, VIR_ERR_OPERATION_DENIED,
                            "operation forbidden: read only access prevents %s",
                            info->name);
        goto done;
    }
    if (!daemon_client_is_open(client) && !daemon_call_allowed_unopened(hdr, msg, len)) {
        daemon_client_error(client, hdr, VIR_FROM_RPC, VIR_ERR_INTERNAL_ERROR,
                            "connection not open");
        goto done;
    }

    if (info->high_priority) {
        RpcServerCall call = { client, *hdr, info };
        daemon_call_execute(client, &call, msg, len);
        /* CONNECT_CLOSE (remote and admin both use 2): reply, then hang up */
        if (hdr->proc == 2 && (hdr->prog == REMOTE_PROGRAM || hdr->prog == ADMIN_PROGRAM))
            daemon_client_close(client);
        goto done;
    }

    job = g_new0(DaemonJob, 1);
    job->client = daemon_client_ref(client);
    job->call = (RpcServerCall) { client, *hdr, info };
    job->msg = msg;
    job->len = len;
    g_mutex_lock(&client->lock);
    if (client->in_flight < lim->max_client_requests) {
        client->in_flight++;
    } else if (client->pending.length < lim->max_queued_requests) {
        g_queue_push_tail(&client->pending, job);
        client->pending_bytes += len;
        queued = true;
        /* Keep reading (keepalive must be answered) unless the waiting calls
         * hold more than one maximal message: then wait for them to drain. */
        if (client->pending_bytes > lim->max_message && !client->paused) {
            client->paused = true;
            pause = true;
        }
    } else {
        overflow = true;
    }
    g_mutex_unlock(&client->lock);
    if (overflow) {
        daemon_client_error(client, hdr, VIR_FROM_RPC, VIR_ERR_RPC,
                            "too many calls waiting on this connection (%u running, %u queued)",
                            lim->max_client_requests, lim->max_queued_requests);
        daemon_job_free(job);
        return;
    }
    if (pause) {
        g_debug("client has %u calls waiting: pausing reads", lim->max_queued_requests);
        daemon_client_reading(client, false);
    }
    if (!queued)
        daemon_server_push_job(job);
    return;

 done:
    g_free(msg);
}

static void
daemon_client_on_message(RpcConn *conn G_GNUC_UNUSED, const RpcHeader *hdr,
                         guint8 *msg, size_t len, gpointer data)
{
    DaemonClient *client = data;
    const DaemonDriver *drv = daemon_driver();

    g_mutex_lock(&client->lock);
    client->last_rx = g_get_monotonic_time();
    client->pings_unanswered = 0;
    g_mutex_unlock(&client->lock);

    if (hdr->prog == KEEPALIVE_PROGRAM && hdr->type == RPC_TYPE_MESSAGE) {
        if (hdr->proc == KEEPALIVE_PING)
            daemon_client_send_keepalive(client, KEEPALIVE_PONG);
        g_free(msg);
        return;
    }
    if (!client->rejected && daemon_forward_message(client, hdr, msg, len))
        return;
    if (drv->raw_message && !client->rejected &&
        drv->raw_message(client, hdr, msg, len))
        return;

    switch ((RpcType)hdr->type) {
    case RPC_TYPE_CALL:
    case RPC_TYPE_CALL_WITH_FDS:
        daemon_client_handle_call(client, hdr, msg, len);
        return;
    case RPC_TYPE_REPLY:
    case RPC_TYPE_REPLY_WITH_FDS:
    case RPC_TYPE_MESSAGE:
    case RPC_TYPE_STREAM:
    case RPC_TYPE_STREAM_HOLE:
        g_debug("dropping unexpected %s packet from client (program 0x%x procedure %d)",
                rpc_type_name(hdr->type), hdr->prog, hdr->proc);
        g_free(msg);
        return;
    case RPC_TYPE_LAST:
        break;
    }
    g_info("closing a client that sent a packet of unknown type %d", hdr->type);
    g_free(msg);
    daemon_client_close(client);
}
