/*
 * rpc-conn.c: framed non-blocking RPC connection.
 */
#define G_LOG_DOMAIN "modvirt.rpc"

#include "rpc-conn.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <glib-unix.h>

#define RPC_CONN_RBUF 65536
#define RPC_CONN_IOV_MAX 64

typedef struct {
    guint8 *data;
    size_t len;
    size_t off;
} RpcConnOut;

struct _RpcConn {
    gint refs;
    int fd;
    GMainContext *ctx;
    GSource *source;
    gpointer tag;
    GIOCondition cond;     /* what the source polls for now */
    size_t max_message;
    RpcConnCallbacks cb;
    gpointer user_data;

    /* reading (context thread only) */
    guint8 *rbuf;          /* staging buffer of RPC_CONN_RBUF bytes */
    size_t rlen;           /* bytes held in rbuf */
    guint8 *big;           /* a message larger than rbuf being assembled */
    size_t big_len;
    size_t big_have;
    size_t skip;           /* descriptor bytes still to drop (see below) */
    bool reading;
    bool closing;          /* close after flush asked */
    bool closed;

    /* writing (any thread, under lock) */
    GMutex lock;
    GQueue outq;           /* RpcConnOut* */
    size_t queued;
    bool want_out;         /* G_IO_OUT is being watched */
    bool flush_scheduled;
};

static void rpc_conn_update_watch(RpcConn *conn);

static void
rpc_conn_out_free(gpointer p)
{
    RpcConnOut *o = p;

    g_free(o->data);
    g_free(o);
}

static void
rpc_conn_shutdown(RpcConn *conn, const char *reason, bool notify)
{
    if (conn->closed)
        return;
    conn->closed = true;
    g_debug("connection fd=%d closed: %s", conn->fd, reason);
    if (conn->source) {
        g_source_destroy(conn->source);
        g_source_unref(conn->source);
        conn->source = NULL;
    }
    g_mutex_lock(&conn->lock);
    g_queue_clear_full(&conn->outq, rpc_conn_out_free);
    conn->queued = 0;
    if (conn->fd >= 0) {
        close(conn->fd);
        conn->fd = -1;
    }
    g_mutex_unlock(&conn->lock);
    if (notify && conn->cb.closed)
        conn->cb.closed(conn, reason, conn->user_data);
}

/* Write as much as possible; lock held.  Returns false on a fatal error. */
static bool
rpc_conn_flush_locked(RpcConn *conn, int *ret_errno)
{
    while (!g_queue_is_empty(&conn->outq)) {
        struct iovec iov[RPC_CONN_IOV_MAX];
        int n = 0;
        ssize_t done;

        for (GList *l = conn->outq.head; l && n < RPC_CONN_IOV_MAX; l = l->next) {
            RpcConnOut *o = l->data;
            iov[n].iov_base = o->data + o->off;
            iov[n].iov_len = o->len - o->off;
            n++;
        }
        done = writev(conn->fd, iov, n);
        if (done < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return true;
            *ret_errno = errno;
            return false;
        }
        conn->queued -= done;
        while (done > 0) {
            RpcConnOut *o = g_queue_peek_head(&conn->outq);
            size_t left = o->len - o->off;
            if ((size_t)done >= left) {
                done -= left;
                rpc_conn_out_free(g_queue_pop_head(&conn->outq));
            } else {
                o->off += done;
                done = 0;
            }
        }
    }
    return true;
}

static gboolean
rpc_conn_flush_cb(gpointer data)
{
    RpcConn *conn = data;

    g_mutex_lock(&conn->lock);
    conn->flush_scheduled = false;
    g_mutex_unlock(&conn->lock);
    if (!conn->closed)
        rpc_conn_update_watch(conn);
    return G_SOURCE_REMOVE;
}

void
rpc_conn_send(RpcConn *conn, guint8 *msg, size_t len)
{
    RpcConnOut *o;
    int err = 0;
    bool schedule = false;

    g_mutex_lock(&conn->lock);
    if (conn->closed || conn->fd < 0) {
        g_mutex_unlock(&conn->lock);
        g_free(msg);
        return;
    }
    if (g_queue_is_empty(&conn->outq)) {
        /* fast path: nothing queued, try to write it all right away */
        ssize_t done;

        do {
            done = send(conn->fd, msg, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        } while (done < 0 && errno == EINTR);
        if (done == (ssize_t)len) {
            g_mutex_unlock(&conn->lock);
            g_free(msg);
            return;
        }
        if (done < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            /* the reader notices the broken socket; just stop writing */
            g_mutex_unlock(&conn->lock);
            g_free(msg);
            return;
        }
        o = g_new0(RpcConnOut, 1);
        o->data = msg;
        o->len = len;
        o->off = done > 0 ? done : 0;
        g_queue_push_tail(&conn->outq, o);
        conn->queued += len - o->off;
    } else {
        o = g_new0(RpcConnOut, 1);
        o->data = msg;
        o->len = len;
        g_queue_push_tail(&conn->outq, o);
        conn->queued += len;
    }
    (void)err;
    if (!g_queue_is_empty(&conn->outq) && !conn->want_out && !conn->flush_scheduled) {
        conn->flush_scheduled = true;
        schedule = true;
    }
    g_mutex_unlock(&conn->lock);
    if (schedule) {
        GSource *s = g_idle_source_new();
        g_source_set_priority(s, G_PRIORITY_DEFAULT);
        g_source_set_callback(s, rpc_conn_flush_cb, rpc_conn_ref(conn),
                              (GDestroyNotify)rpc_conn_unref);
        g_source_attach(s, conn->ctx);
        g_source_unref(s);
    }
}

static void
rpc_conn_update_watch(RpcConn *conn)
{
    GIOCondition cond = 0;
    bool pending;

    if (!conn->source)
        return;
    g_mutex_lock(&conn->lock);
    pending = !g_queue_is_empty(&conn->outq);
    conn->want_out = pending;
    g_mutex_unlock(&conn->lock);
    if (conn->reading && !conn->closing)
        cond |= G_IO_IN;
    if (pending)
        cond |= G_IO_OUT;
    /* each change costs GLib a wake-up of its own loop: only when needed */
    if (cond != conn->cond) {
        g_source_modify_unix_fd(conn->source, conn->tag, cond);
        conn->cond = cond;
    }
}

/* Deliver one complete message; returns false if the connection ended. */
static bool
rpc_conn_deliver(RpcConn *conn, guint8 *msg, size_t len)
{
    RpcHeader hdr;

    rpc_header_decode(msg, &hdr);
    if (hdr.type == RPC_TYPE_CALL_WITH_FDS || hdr.type == RPC_TYPE_REPLY_WITH_FDS) {
        /* Each descriptor follows the message as one data byte carrying
         * SCM_RIGHTS.  modvirt accepts none: read() lets the kernel drop
         * the descriptors, and the bytes are skipped here. */
        guint32 nfds = len >= RPC_MIN_LEN + 4 ? rpc_read_u32(msg + RPC_MIN_LEN) : G_MAXUINT32;

        if (nfds > RPC_MAX_FDS) {
            g_autofree char *why = g_strdup_printf("message announces %u file descriptors (at most %d)",
                                                   nfds, RPC_MAX_FDS);
            g_free(msg);
            rpc_conn_shutdown(conn, why, true);
            return false;
        }
        conn->skip += nfds;
    }
    conn->cb.message(conn, &hdr, msg, len, conn->user_data);
    return !conn->closed;
}

/* Parse complete messages out of rbuf.  Returns false if closed. */
static bool
rpc_conn_parse(RpcConn *conn)
{
    size_t pos = 0;
    bool ok = true;

    while (ok && conn->reading && !conn->closing) {
        guint32 len;

        if (conn->skip) {
            size_t n = MIN(conn->skip, conn->rlen - pos);
            conn->skip -= n;
            pos += n;
            if (conn->skip)
                break;
        }
        if (conn->rlen - pos < RPC_LEN_SIZE)
            break;
        len = rpc_read_u32(conn->rbuf + pos);

        if (len < RPC_MIN_LEN || len - RPC_LEN_SIZE > conn->max_message) {
            g_autofree char *why = g_strdup_printf(
                "bad message length %u (allowed %d to %zu)", len, RPC_MIN_LEN,
                conn->max_message + RPC_LEN_SIZE);
            rpc_conn_shutdown(conn, why, true);
            return false;
        }
        if (len > RPC_CONN_RBUF) {
            /* too big for the staging buffer: assemble separately */
            size_t have = MIN(conn->rlen - pos, (size_t)len);
            conn->big = g_malloc(len);
            conn->big_len = len;
            conn->big_have = have;
            memcpy(conn->big, conn->rbuf + pos, have);
            pos += have;
            break;
        }
        if (conn->rlen - pos < len)
            break;
        ok = rpc_conn_deliver(conn, g_memdup2(conn->rbuf + pos, len), len);
        pos += len;
    }
    if (conn->closed)
        return false;
    if (pos) {
        memmove(conn->rbuf, conn->rbuf + pos, conn->rlen - pos);
        conn->rlen -= pos;
    }
    return true;
}

/* Read what the socket holds, delivering complete messages.  Returns false
 * if the connection ended. */
static bool
rpc_conn_read(RpcConn *conn)
{
    for (int rounds = 0; rounds < 16 && conn->reading && !conn->closing; rounds++) {
        guint8 *dst;
        size_t want;
        ssize_t n;

        if (conn->big) {
            dst = conn->big + conn->big_have;
            want = conn->big_len - conn->big_have;
        } else {
            dst = conn->rbuf + conn->rlen;
            want = RPC_CONN_RBUF - conn->rlen;
        }
        n = read(conn->fd, dst, want);
        if (n == 0) {
            rpc_conn_shutdown(conn, (conn->rlen || conn->big) ?
                              "peer closed in the middle of a message" :
                              "peer closed the connection", true);
            return false;
        }
        if (n < 0) {
            g_autofree char *why = NULL;

            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return true;
            why = g_strdup_printf("read failed: %s", g_strerror(errno));
            rpc_conn_shutdown(conn, why, true);
            return false;
        }
        if (conn->big) {
            conn->big_have += n;
            if (conn->big_have == conn->big_len) {
                guint8 *msg = g_steal_pointer(&conn->big);
                if (!rpc_conn_deliver(conn, msg, conn->big_len))
                    return false;
            }
        } else {
            conn->rlen += n;
            if (!rpc_conn_parse(conn))
                return false;
        }
        if ((size_t)n < want)
            return true;   /* the socket is drained */
    }
    return true;
}

static gboolean
rpc_conn_dispatch(RpcConn *conn, GIOCondition cond)
{
    g_autoptr(RpcConn) hold = rpc_conn_ref(conn);

    if (cond & G_IO_OUT) {
        int err = 0;
        bool ok;

        g_mutex_lock(&conn->lock);
        ok = rpc_conn_flush_locked(conn, &err);
        g_mutex_unlock(&conn->lock);
        if (!ok) {
            g_autofree char *why = g_strdup_printf("write failed: %s", g_strerror(err));
            rpc_conn_shutdown(conn, why, true);
            return G_SOURCE_REMOVE;
        }
        if (conn->closing && rpc_conn_queued_bytes(conn) == 0) {
            rpc_conn_shutdown(conn, "closed after flush", false);
            return G_SOURCE_REMOVE;
        }
    }
    if ((cond & (G_IO_IN | G_IO_HUP | G_IO_ERR)) && conn->reading && !conn->closing) {
        if (!rpc_conn_read(conn))
            return G_SOURCE_REMOVE;
    } else if (cond & (G_IO_HUP | G_IO_ERR)) {
        rpc_conn_shutdown(conn, "connection hung up", true);
        return G_SOURCE_REMOVE;
    }
    if (!conn->closed)
        rpc_conn_update_watch(conn);
    return G_SOURCE_CONTINUE;
}

typedef struct {
    GSource base;
    RpcConn *conn;     /* not a reference: the connection owns the source */
} RpcConnSource;

static gboolean
rpc_conn_source_dispatch(GSource *source, GSourceFunc callback G_GNUC_UNUSED,
                         gpointer user_data G_GNUC_UNUSED)
{
    RpcConnSource *rs = (RpcConnSource *)source;
    GIOCondition cond = g_source_query_unix_fd(source, rs->conn->tag);

    return rpc_conn_dispatch(rs->conn, cond);
}

static GSourceFuncs rpc_conn_source_funcs = {
    .dispatch = rpc_conn_source_dispatch,
};

RpcConn *
rpc_conn_new(int fd, GMainContext *ctx, size_t max_message,
             const RpcConnCallbacks *callbacks, gpointer user_data)
{
    RpcConn *conn = g_new0(RpcConn, 1);
    RpcConnSource *rs;

    g_unix_set_fd_nonblocking(fd, TRUE, NULL);
    conn->refs = 1;
    conn->fd = fd;
    conn->ctx = ctx ? g_main_context_ref(ctx) : g_main_context_ref_thread_default();
    conn->max_message = max_message ? MIN(max_message, (size_t)RPC_MAX_MESSAGE) : RPC_MAX_MESSAGE;
    conn->cb = *callbacks;
    conn->user_data = user_data;
    conn->rbuf = g_malloc(RPC_CONN_RBUF);
    conn->reading = true;
    g_mutex_init(&conn->lock);
    g_queue_init(&conn->outq);

    conn->source = g_source_new(&rpc_conn_source_funcs, sizeof(RpcConnSource));
    rs = (RpcConnSource *)conn->source;
    rs->conn = conn;
    conn->tag = g_source_add_unix_fd(conn->source, fd, G_IO_IN);
    conn->cond = G_IO_IN;
    /* Otherwise GLib removes and re-adds the poll entry around every
     * dispatch, waking its own loop each time.  Safe: nothing runs this
     * context again from inside a connection's callbacks. */
    g_source_set_can_recurse(conn->source, TRUE);
    g_source_attach(conn->source, conn->ctx);
    return conn;
}

RpcConn *
rpc_conn_ref(RpcConn *conn)
{
    g_atomic_int_inc(&conn->refs);
    return conn;
}

void
rpc_conn_unref(RpcConn *conn)
{
    if (!conn || !g_atomic_int_dec_and_test(&conn->refs))
        return;
    rpc_conn_shutdown(conn, "released", false);
    g_free(conn->rbuf);
    g_free(conn->big);
    g_mutex_clear(&conn->lock);
    g_main_context_unref(conn->ctx);
    g_free(conn);
}

int
rpc_conn_fd(const RpcConn *conn)
{
    return conn->fd;
}

void
rpc_conn_set_reading(RpcConn *conn, bool reading)
{
    if (conn->reading == reading)
        return;
    conn->reading = reading;
    if (!conn->closed) {
        rpc_conn_update_watch(conn);
        /* messages may already wait in the staging buffer */
        if (reading && conn->rlen >= RPC_LEN_SIZE)
            rpc_conn_parse(conn);
    }
}

void
rpc_conn_close_after_flush(RpcConn *conn)
{
    if (conn->closed)
        return;
    conn->closing = true;
    if (rpc_conn_queued_bytes(conn) == 0)
        rpc_conn_shutdown(conn, "closed by owner", false);
    else
        rpc_conn_update_watch(conn);
}

void
rpc_conn_close(RpcConn *conn)
{
    rpc_conn_shutdown(conn, "closed by owner", false);
}

bool
rpc_conn_is_closed(RpcConn *conn)
{
    return conn->closed;
}

size_t
rpc_conn_queued_bytes(RpcConn *conn)
{
    size_t n;

    g_mutex_lock(&conn->lock);
    n = conn->queued;
    g_mutex_unlock(&conn->lock);
    return n;
}
