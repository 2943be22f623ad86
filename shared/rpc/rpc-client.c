/*
 * rpc-client.c: blocking RPC client connection.
 */
#define G_LOG_DOMAIN "modvirt.rpc"

#include "rpc-client.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "util-error.h"

#define KEEPALIVE_PROGRAM 0x6b656570
#define KEEPALIVE_PING 1
#define KEEPALIVE_PONG 2

struct _RpcClient {
    GMutex lock;
    int fd;
    guint32 serial;
    int timeout_ms;
    RpcClientEventFunc event_func;
    gpointer event_data;
};

RpcClient *
rpc_client_new_fd(int fd)
{
    RpcClient *client = g_new0(RpcClient, 1);

    g_mutex_init(&client->lock);
    client->fd = fd;
    return client;
}

RpcClient *
rpc_client_connect_unix(const char *path, GError **error)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    int fd;

    if (strlen(path) >= sizeof(addr.sun_path)) {
        util_error_set(error, VIR_FROM_RPC, VIR_ERR_INVALID_ARG,
                       "socket path '%s' is too long", path);
        return NULL;
    }
    strcpy(addr.sun_path, path);
    if (path[0] == '@')
        addr.sun_path[0] = '\0';
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        util_error_set_errno(error, VIR_FROM_RPC, errno, "Failed to create socket");
        return NULL;
    }
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        int err = errno;
        close(fd);
        util_error_set_errno(error, VIR_FROM_RPC, err,
                             "Failed to connect socket to '%s'", path);
        return NULL;
    }
    return rpc_client_new_fd(fd);
}

void
rpc_client_free(RpcClient *client)
{
    if (!client)
        return;
    if (client->fd >= 0)
        close(client->fd);
    g_mutex_clear(&client->lock);
    g_free(client);
}

void
rpc_client_set_event_func(RpcClient *client, RpcClientEventFunc func, gpointer user_data)
{
    client->event_func = func;
    client->event_data = user_data;
}

void
rpc_client_set_timeout(RpcClient *client, int timeout_ms)
{
    client->timeout_ms = timeout_ms;
}

bool
rpc_client_is_open(RpcClient *client)
{
    return client->fd >= 0;
}

int
rpc_client_fd(RpcClient *client)
{
    return client->fd;
}

static void
rpc_client_broken(RpcClient *client)
{
    if (client->fd >= 0) {
        close(client->fd);
        client->fd = -1;
    }
}

static bool
rpc_client_write_all(RpcClient *client, const guint8 *buf, size_t len, GError **error)
{
    while (len) {
        ssize_t n = send(client->fd, buf, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            util_error_set_errno(error, VIR_FROM_RPC, errno, "cannot send data");
            rpc_client_broken(client);
            return false;
        }
        buf += n;
        len -= n;
    }
    return true;
}

/* Wait until readable; 0 on timeout, -1 on error, 1 ready. */
static int
rpc_client_wait(RpcClient *client, int timeout_ms)
{
    struct pollfd pfd = { .fd = client->fd, .events = POLLIN };

    for (;;) {
        int r = poll(&pfd, 1, timeout_ms > 0 ? timeout_ms : -1);
        if (r < 0 && errno == EINTR)
            continue;
        return r;
    }
}

static bool
rpc_client_read_full(RpcClient *client, guint8 *buf, size_t len, GError **error)
{
    while (len) {
        ssize_t n;

        if (client->timeout_ms > 0 && rpc_client_wait(client, client->timeout_ms) == 0) {
            util_error_set(error, VIR_FROM_RPC, VIR_ERR_OPERATION_TIMEOUT,
                           "no reply from the server within %d ms", client->timeout_ms);
            rpc_client_broken(client);
            return false;
        }
        n = read(client->fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                util_error_set(error, VIR_FROM_RPC, VIR_ERR_RPC,
                               "End of file while reading data: the server closed the connection");
            else
                util_error_set_errno(error, VIR_FROM_RPC, errno, "cannot recv data");
            rpc_client_broken(client);
            return false;
        }
        buf += n;
        len -= n;
    }
    return true;
}

/* Read one whole message. */
static guint8 *
rpc_client_read_message(RpcClient *client, RpcHeader *ret_hdr, size_t *ret_len, GError **error)
{
    guint8 lenbuf[RPC_LEN_SIZE];
    guint32 len;
    guint8 *msg;

    if (!rpc_client_read_full(client, lenbuf, sizeof(lenbuf), error))
        return NULL;
    len = rpc_read_u32(lenbuf);
    if (len < RPC_MIN_LEN || len - RPC_LEN_SIZE > RPC_MAX_MESSAGE) {
        util_error_set(error, VIR_FROM_RPC, VIR_ERR_RPC,
                       "packet %u bytes received from server too large or too small", len);
        rpc_client_broken(client);
        return NULL;
    }
    msg = g_malloc(len);
    memcpy(msg, lenbuf, RPC_LEN_SIZE);
    if (!rpc_client_read_full(client, msg + RPC_LEN_SIZE, len - RPC_LEN_SIZE, error)) {
        g_free(msg);
        return NULL;
    }
    rpc_header_decode(msg, ret_hdr);
    *ret_len = len;
    return msg;
}

/* Handle a packet that is not the awaited reply.  False on a fatal error. */
static bool
rpc_client_handle_other(RpcClient *client, const RpcHeader *hdr, const guint8 *msg,
                        size_t len, GError **error)
{
    if (hdr->prog == KEEPALIVE_PROGRAM) {
        if (hdr->type == RPC_TYPE_MESSAGE && hdr->proc == KEEPALIVE_PING) {
            RpcHeader pong = { KEEPALIVE_PROGRAM, 1, KEEPALIVE_PONG, RPC_TYPE_MESSAGE, 0, RPC_STATUS_OK };
            guint8 buf[RPC_MIN_LEN];
            rpc_write_u32(buf, RPC_MIN_LEN);
            rpc_header_encode(&pong, buf);
            return rpc_client_write_all(client, buf, sizeof(buf), error);
        }
        return true;
    }
    if (hdr->type == RPC_TYPE_MESSAGE) {
        if (client->event_func)
            client->event_func(client, hdr, msg + RPC_MIN_LEN, len - RPC_MIN_LEN,
                               client->event_data);
        return true;
    }
    util_error_set(error, VIR_FROM_RPC, VIR_ERR_RPC,
                   "unexpected %s packet (program 0x%x procedure %d serial %u) from server",
                   rpc_type_name(hdr->type), hdr->prog, hdr->proc, hdr->serial);
    rpc_client_broken(client);
    return false;
}

bool
rpc_client_call(RpcClient *client, guint32 prog, guint32 vers, gint32 proc,
                RpcEncodeFunc enc_args, const void *args,
                RpcDecodeFunc dec_ret, void *ret, GError **error)
{
    RpcHeader hdr = { prog, vers, proc, RPC_TYPE_CALL, 0, RPC_STATUS_OK };
    g_autofree guint8 *out = NULL;
    size_t outlen;
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&client->lock);

    if (client->fd < 0) {
        util_error_set(error, VIR_FROM_RPC, VIR_ERR_INVALID_CONN,
                       "the connection to the server is closed");
        return false;
    }
    hdr.serial = client->serial++;
    out = rpc_message_build(&hdr, enc_args, args, &outlen, error);
    if (!out)
        return false;
    if (!rpc_client_write_all(client, out, outlen, error))
        return false;

    for (;;) {
        RpcHeader rh;
        size_t len;
        g_autofree guint8 *msg = rpc_client_read_message(client, &rh, &len, error);

        if (!msg)
            return false;
        if (rh.prog == prog && rh.vers == vers && rh.serial == hdr.serial &&
            (rh.type == RPC_TYPE_REPLY || rh.type == RPC_TYPE_REPLY_WITH_FDS)) {
            const guint8 *payload = msg + RPC_MIN_LEN;
            size_t plen = len - RPC_MIN_LEN;

            if (rh.proc != proc) {
                util_error_set(error, VIR_FROM_RPC, VIR_ERR_RPC,
                               "reply for procedure %d answers procedure %d", proc, rh.proc);
                rpc_client_broken(client);
                return false;
            }
            if (rh.status == RPC_STATUS_ERROR) {
                RemoteError rerr = { 0 };
                g_autoptr(GError) local = NULL;

                if (!rpc_payload_decode(payload, plen, (RpcDecodeFunc)xdr_dec_remote_error,
                                        (RpcFreeFunc)xdr_free_remote_error, &rerr, &local)) {
                    g_propagate_error(error, g_steal_pointer(&local));
                    return false;
                }
                g_propagate_error(error, rpc_error_to_gerror(&rerr));
                xdr_free_remote_error(&rerr);
                return false;
            }
            if (rh.status != RPC_STATUS_OK) {
                util_error_set(error, VIR_FROM_RPC, VIR_ERR_RPC,
                               "unexpected reply status %d", rh.status);
                return false;
            }
            if (rh.type == RPC_TYPE_REPLY_WITH_FDS) {
                util_error_set(error, VIR_FROM_RPC, VIR_ERR_RPC,
                               "file descriptor passing is not supported by this client");
                rpc_client_broken(client);
                return false;
            }
            if (!dec_ret) {
                if (plen != 0) {
                    util_error_set(error, VIR_FROM_RPC, VIR_ERR_RPC,
                                   "unexpected %zu payload bytes in a void reply", plen);
                    return false;
                }
                return true;
            }
            {
                XdrDecoder x;
                xdr_decoder_init(&x, payload, plen);
                if (!dec_ret(&x, ret) || xdr_dec_remaining(&x) != 0) {
                    util_error_set(error, VIR_FROM_RPC, VIR_ERR_RPC,
                                   "Unable to decode message payload: %s",
                                   x.error ? x.error : "trailing bytes");
                    return false;
                }
            }
            return true;
        }
        if (rh.type == RPC_TYPE_REPLY || rh.type == RPC_TYPE_REPLY_WITH_FDS) {
            util_error_set(error, VIR_FROM_RPC, VIR_ERR_RPC,
                           "reply with serial %u matches no call (waiting for %u)",
                           rh.serial, hdr.serial);
            rpc_client_broken(client);
            return false;
        }
        if (!rpc_client_handle_other(client, &rh, msg, len, error))
            return false;
    }
}

bool
rpc_client_poll_events(RpcClient *client, int timeout_ms, GError **error)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&client->lock);
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;

    while (client->fd >= 0) {
        gint64 left = (deadline - g_get_monotonic_time()) / 1000;
        RpcHeader rh;
        size_t len;
        g_autofree guint8 *msg = NULL;
        int r;

        if (left <= 0)
            return true;
        r = rpc_client_wait(client, (int)left);
        if (r <= 0)
            return r == 0;
        msg = rpc_client_read_message(client, &rh, &len, error);
        if (!msg)
            return false;
        if (!rpc_client_handle_other(client, &rh, msg, len, error))
            return false;
    }
    util_error_set(error, VIR_FROM_RPC, VIR_ERR_INVALID_CONN,
                   "the connection to the server is closed");
    return false;
}
