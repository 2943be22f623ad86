/*
 * daemon-handoff.c: handing a client's socket from one daemon to another.
 *
 * The proxy answers a client until its CONNECT_OPEN, then passes the
 * socket itself to the daemon that serves the URI, so that every later
 * call goes straight there instead of crossing a third process.  The
 * handoff is one message on the receiving daemon's admin socket (0600:
 * only a peer as privileged as the daemon gets there), a modvirt-private
 * program that must be the first message of that connection:
 *
 *   header (program DAEMON_HANDOFF_PROGRAM, procedure ADOPT, type CALL)
 *   u32 flags    DAEMON_HANDOFF_READONLY: the client came in on a -ro socket
 *                DAEMON_HANDOFF_KEEPALIVE: the client asked for keepalive
 *   u32 length   of the client's messages that the sender read and did not
 *                answer (whole messages, in order: at least CONNECT_OPEN)
 *   bytes        those messages, padded to 4 bytes
 *   and, as SCM_RIGHTS with the first byte, the client's socket.
 *
 * The receiver replies with an empty REPLY (OK), or an ERROR carrying the
 * usual error structure, and from then on serves the client: the messages
 * carried are processed first, then whatever the client sends next.  The
 * sender never reads past the message that triggered the handoff (see the
 * exact reader in daemon-client.c), so nothing is lost or reordered.
 * SO_PEERCRED on the passed socket still names the real client.
 */
#define G_LOG_DOMAIN "modvirt.daemon"

#include "daemon-priv.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util-error.h"

#define DAEMON_HANDOFF_READONLY  (1u << 0)
#define DAEMON_HANDOFF_KEEPALIVE (1u << 1)
#define DAEMON_HANDOFF_REPLY_TIMEOUT_S 10
#define DAEMON_HANDOFF_FLUSH_WAIT_MS 5000

/* ------------------------------------------------------------ receiving */

static void
daemon_handoff_refuse(DaemonClient *admin, const RpcHeader *hdr, int code, const char *why)
{
    g_autoptr(GError) err = g_error_new_literal(util_error_quark(VIR_FROM_RPC), code, why);

    g_warning("refusing a client handoff: %s", why);
    daemon_client_reply_error(admin, hdr, err);
    daemon_client_close(admin);
}

void
daemon_handoff_adopt(DaemonClient *admin, const RpcHeader *hdr, const guint8 *msg,
                     size_t len, int *fds, size_t nfds)
{
    RpcHeader ok = *hdr;
    const guint8 *payload = msg + RPC_MIN_LEN;
    size_t plen = len - RPC_MIN_LEN;
    DaemonClient *client;
    guint32 flags;
    guint32 nbytes;
    uid_t uid = (uid_t)-1;
    int type = 0;
    socklen_t tlen = sizeof(type);
    size_t okl;
    guint8 *okmsg;
    int fd;

    if (!daemon_client_peer(admin, &uid, NULL, NULL) || (uid != 0 && uid != geteuid())) {
        for (size_t i = 0; i < nfds; i++)
            close(fds[i]);
        daemon_handoff_refuse(admin, hdr, VIR_ERR_ACCESS_DENIED,
                              "access denied: only a peer as privileged as the daemon may hand over a client");
        return;
    }
    if (hdr->vers != DAEMON_HANDOFF_VERSION || hdr->proc != DAEMON_HANDOFF_PROC_ADOPT ||
        hdr->type != RPC_TYPE_CALL || nfds != 1 || plen < 8 ||
        (nbytes = rpc_read_u32(payload + 4)) > plen - 8) {
        for (size_t i = 0; i < nfds; i++)
            close(fds[i]);
        daemon_handoff_refuse(admin, hdr, VIR_ERR_RPC, "malformed client handoff");
        return;
    }
    fd = fds[0];
    flags = rpc_read_u32(payload);
    /* the messages carried must be whole and well-framed */
    for (size_t off = 0; off < nbytes;) {
        guint32 mlen = nbytes - off >= 4 ? rpc_read_u32(payload + 8 + off) : 0;

        if (mlen < RPC_MIN_LEN || mlen > nbytes - off) {
            close(fd);
            daemon_handoff_refuse(admin, hdr, VIR_ERR_RPC, "malformed client handoff");
            return;
        }
        off += mlen;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) < 0 || type != SOCK_STREAM) {
        close(fd);
        daemon_handoff_refuse(admin, hdr, VIR_ERR_RPC, "the handed-over descriptor is not a stream socket");
        return;
    }

    ok.type = RPC_TYPE_REPLY;
    ok.status = RPC_STATUS_OK;
    okmsg = rpc_message_build(&ok, NULL, NULL, &okl, NULL);
    daemon_client_send_raw(admin, okmsg, okl);
    daemon_client_close(admin);

    client = daemon_server_add_client(fd, (flags & DAEMON_HANDOFF_READONLY) ?
                                      DAEMON_SOCKET_RO : DAEMON_SOCKET_RW);
    if (flags & DAEMON_HANDOFF_KEEPALIVE)
        daemon_client_enable_keepalive(client);
    g_debug("adopted a client handed over%s%s",
            (flags & DAEMON_HANDOFF_READONLY) ? " (read-only)" : "",
            (flags & DAEMON_HANDOFF_KEEPALIVE) ? " (keepalive)" : "");
    /* a reference: a carried CONNECT_CLOSE may end the client meanwhile */
    daemon_client_ref(client);
    for (size_t off = 0; off < nbytes && !client->closed;) {
        guint32 mlen = rpc_read_u32(payload + 8 + off);

        daemon_client_inject(client, g_memdup2(payload + 8 + off, mlen), mlen);
        off += mlen;
    }
    daemon_client_unref(client);
}

/* ------------------------------------------------------------ sending */

static bool
daemon_handoff_write_all(int sock, const guint8 *buf, size_t len, int fd, GError **error)
{
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int))];
    } control;
    size_t done = 0;

    memset(&control, 0, sizeof(control));
    while (done < len) {
        struct iovec iov = { (void *)(buf + done), len - done };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
        ssize_t n;

        if (done == 0) {
            struct cmsghdr *c;

            mh.msg_control = control.buf;
            mh.msg_controllen = sizeof(control.buf);
            c = CMSG_FIRSTHDR(&mh);
            c->cmsg_level = SOL_SOCKET;
            c->cmsg_type = SCM_RIGHTS;
            c->cmsg_len = CMSG_LEN(sizeof(int));
            memcpy(CMSG_DATA(c), &fd, sizeof(int));
        }
        n = sendmsg(sock, &mh, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            util_error_set_errno(error, VIR_FROM_RPC, errno, "cannot hand over the connection");
            return false;
        }
        done += n;
    }
    return true;
}

static bool
daemon_handoff_read_all(int sock, guint8 *buf, size_t len, GError **error)
{
    for (size_t done = 0; done < len;) {
        ssize_t n = read(sock, buf + done, len - done);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            util_error_set(error, VIR_FROM_RPC, VIR_ERR_RPC,
                           "no answer to the connection handoff: %s",
                           n == 0 ? "the daemon closed the connection" : g_strerror(errno));
            return false;
        }
        done += n;
    }
    return true;
}

/* Send the handoff on @sock (blocking) and wait for the answer. */
static bool
daemon_handoff_send(int sock, int client_fd, guint32 flags, const guint8 *pending,
                    size_t plen, GError **error)
{
    RpcHeader hdr = { DAEMON_HANDOFF_PROGRAM, DAEMON_HANDOFF_VERSION,
                      DAEMON_HANDOFF_PROC_ADOPT, RPC_TYPE_CALL, 1, RPC_STATUS_OK };
    size_t padded = (plen + 3) & ~(size_t)3;
    size_t len = RPC_MIN_LEN + 8 + padded;
    g_autofree guint8 *msg = g_malloc0(len);
    g_autofree guint8 *reply = NULL;
    struct timeval tv = { DAEMON_HANDOFF_REPLY_TIMEOUT_S, 0 };
    guint8 lenbuf[RPC_LEN_SIZE];
    RpcHeader rh;
    guint32 rlen;

    rpc_write_u32(msg, len);
    rpc_header_encode(&hdr, msg);
    rpc_write_u32(msg + RPC_MIN_LEN, flags);
    rpc_write_u32(msg + RPC_MIN_LEN + 4, plen);
    memcpy(msg + RPC_MIN_LEN + 8, pending, plen);
    if (!daemon_handoff_write_all(sock, msg, len, client_fd, error))
        return false;

    setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (!daemon_handoff_read_all(sock, lenbuf, sizeof(lenbuf), error))
        return false;
    rlen = rpc_read_u32(lenbuf);
    if (rlen < RPC_MIN_LEN || rlen > 65536) {
        util_error_set(error, VIR_FROM_RPC, VIR_ERR_RPC,
                       "bad answer to the connection handoff (%u bytes)", rlen);
        return false;
    }
    reply = g_malloc(rlen);
    memcpy(reply, lenbuf, sizeof(lenbuf));
    if (!daemon_handoff_read_all(sock, reply + RPC_LEN_SIZE, rlen - RPC_LEN_SIZE, error))
        return false;
    rpc_header_decode(reply, &rh);
    if (rh.prog == DAEMON_HANDOFF_PROGRAM && rh.type == RPC_TYPE_REPLY &&
        rh.status == RPC_STATUS_OK)
        return true;
    if (rh.status == RPC_STATUS_ERROR) {
        RemoteError rerr = { 0 };

        if (rpc_payload_decode(reply + RPC_MIN_LEN, rlen - RPC_MIN_LEN,
                               (RpcDecodeFunc)xdr_dec_remote_error,
                               (RpcFreeFunc)xdr_free_remote_error, &rerr, error)) {
            g_propagate_error(error, rpc_error_to_gerror(&rerr));
            xdr_free_remote_error(&rerr);
        }
        return false;
    }
    util_error_set(error, VIR_FROM_RPC, VIR_ERR_RPC, "unexpected answer to the connection handoff");
    return false;
}

/* ------------------------------------------------------------ the sender's side */

typedef struct {
    DaemonClient *client;      /* a reference */
    char *daemon;
    guint8 *msg;               /* the message that triggered the handoff */
    size_t len;
    guint32 flags;
    int fd;                    /* our duplicate of the client's socket */
    bool keepalive;            /* the sender's own keepalive, restored on failure */
    GError *error;
} DaemonHandoffJob;

static void
daemon_handoff_work(gpointer data)
{
    DaemonHandoffJob *job = data;
    g_autofd_mv int sock = -1;

    /* whatever we answered the client so far must reach it first */
    for (int waited = 0; rpc_conn_queued_bytes(job->client->conn) > 0; waited++) {
        if (waited >= DAEMON_HANDOFF_FLUSH_WAIT_MS || rpc_conn_is_closed(job->client->conn)) {
            util_error_set(&job->error, VIR_FROM_RPC, VIR_ERR_RPC,
                           "the client does not read its replies");
            return;
        }
        g_usleep(1000);
    }
    if (job->fd < 0) {
        util_error_set_errno(&job->error, VIR_FROM_RPC, EBADF, "cannot hand over the connection");
        return;
    }
    if (!daemon_connect_daemon(job->daemon, DAEMON_SOCKET_ADMIN, &sock, &job->error))
        return;
    daemon_handoff_send(sock, job->fd, job->flags, job->msg, job->len, &job->error);
}

static void
daemon_handoff_done(gpointer data)
{
    DaemonHandoffJob *job = data;
    DaemonClient *client = job->client;

    if (client->closed) {
        g_debug("client left during its handoff to %s", job->daemon);
    } else if (!job->error) {
        g_debug("client handed over to %s", job->daemon);
        /* nothing more from us: the socket stays open in the other daemon */
        daemon_client_close(client);
    } else {
        RpcHeader hdr;

        rpc_header_decode(job->msg, &hdr);
        client->keepalive = job->keepalive;
        daemon_client_reply_error(client, &hdr, job->error);
        daemon_client_set_reading(client, true);
    }
    if (job->fd >= 0)
        close(job->fd);
    g_clear_error(&job->error);
    daemon_client_unref(job->client);
    g_free(job->daemon);
    g_free(job->msg);
    g_free(job);
}

void
daemon_client_hand_off(DaemonClient *client, const char *daemon, guint8 *msg, size_t len)
{
    DaemonHandoffJob *job = g_new0(DaemonHandoffJob, 1);

    g_return_if_fail(daemon_driver()->hands_off_clients);
    job->client = daemon_client_ref(client);
    job->daemon = g_strdup(daemon);
    job->msg = msg;
    job->len = len;
    /* duplicated here, in the thread that may close the client: the
     * number must not be reused for another connection meanwhile */
    job->fd = fcntl(rpc_conn_fd(client->conn), F_DUPFD_CLOEXEC, 3);
    job->keepalive = client->keepalive;
    job->flags = (client->kind == DAEMON_SOCKET_RO ? DAEMON_HANDOFF_READONLY : 0) |
                 (client->keepalive ? DAEMON_HANDOFF_KEEPALIVE : 0);
    /* from now on the client is the other daemon's: no pings from us */
    client->keepalive = false;
    daemon_client_set_reading(client, false);
    daemon_run_in_thread("handoff", daemon_handoff_work, daemon_handoff_done, job);
}
