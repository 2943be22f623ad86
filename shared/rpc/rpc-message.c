/*
 * rpc-message.c: libvirt RPC framing.
 */
#define G_LOG_DOMAIN "modvirt.rpc"

#include "rpc-message.h"

#include <string.h>

#include "util-error.h"

static const char *const rpc_type_names[] = {
    "call", "reply", "message", "stream", "call-with-fds", "reply-with-fds",
    "stream-hole",
};
G_STATIC_ASSERT(G_N_ELEMENTS(rpc_type_names) == RPC_TYPE_LAST);

const char *
rpc_type_name(int type)
{
    if (type < 0 || type >= RPC_TYPE_LAST)
        return "unknown";
    return rpc_type_names[type];
}

guint32
rpc_read_u32(const guint8 *p)
{
    return ((guint32)p[0] << 24) | ((guint32)p[1] << 16) | ((guint32)p[2] << 8) | p[3];
}

void
rpc_write_u32(guint8 *p, guint32 v)
{
    p[0] = v >> 24;
    p[1] = v >> 16;
    p[2] = v >> 8;
    p[3] = v;
}

void
rpc_header_decode(const guint8 *msg, RpcHeader *ret_hdr)
{
    const guint8 *h = msg + RPC_LEN_SIZE;

    ret_hdr->prog = rpc_read_u32(h);
    ret_hdr->vers = rpc_read_u32(h + 4);
    ret_hdr->proc = (gint32)rpc_read_u32(h + 8);
    ret_hdr->type = (gint32)rpc_read_u32(h + 12);
    ret_hdr->serial = rpc_read_u32(h + 16);
    ret_hdr->status = (gint32)rpc_read_u32(h + 20);
}

void
rpc_header_encode(const RpcHeader *hdr, guint8 *msg)
{
    guint8 *h = msg + RPC_LEN_SIZE;

    rpc_write_u32(h, hdr->prog);
    rpc_write_u32(h + 4, hdr->vers);
    rpc_write_u32(h + 8, (guint32)hdr->proc);
    rpc_write_u32(h + 12, (guint32)hdr->type);
    rpc_write_u32(h + 16, hdr->serial);
    rpc_write_u32(h + 20, (guint32)hdr->status);
}

guint8 *
rpc_message_build(const RpcHeader *hdr, RpcEncodeFunc enc, const void *payload,
                  size_t *ret_len, GError **error)
{
    XdrEncoder x;
    guint8 *msg;
    size_t len;

    xdr_encoder_init(&x, 256, RPC_LEN_SIZE + RPC_MAX_MESSAGE);
    xdr_enc_reserve(&x, RPC_MIN_LEN);
    if (enc && !enc(&x, payload)) {
        util_error_set(error, VIR_FROM_RPC, VIR_ERR_RPC,
                       "Unable to encode message payload: %s",
                       x.error ? x.error : "unknown reason");
        xdr_encoder_clear(&x);
        return NULL;
    }
    msg = xdr_encoder_steal(&x, &len);
    rpc_write_u32(msg, (guint32)len);
    rpc_header_encode(hdr, msg);
    *ret_len = len;
    return msg;
}

void
rpc_error_from_gerror(RemoteError *ret_err, const GError *err)
{
    memset(ret_err, 0, sizeof(*ret_err));
    ret_err->code = util_error_code(err);
    ret_err->domain = util_error_domain(err);
    ret_err->message = g_strdup(err && err->message ? err->message : "unknown error");
    ret_err->level = VIR_ERR_ERROR;
}

guint8 *
rpc_message_build_error(const RpcHeader *call_hdr, const GError *err, size_t *ret_len)
{
    RemoteError rerr;
    RpcHeader hdr = *call_hdr;
    guint8 *msg;
    g_autoptr(GError) local = NULL;

    hdr.type = RPC_TYPE_REPLY;
    hdr.status = RPC_STATUS_ERROR;
    rpc_error_from_gerror(&rerr, err);
    msg = rpc_message_build(&hdr, (RpcEncodeFunc)xdr_enc_remote_error, &rerr, ret_len, &local);
    if (!msg) {
        /* the message itself was over a bound: send a short one instead */
        g_free(rerr.message);
        rerr.message = g_strdup("error message too long to send");
        msg = rpc_message_build(&hdr, (RpcEncodeFunc)xdr_enc_remote_error, &rerr, ret_len, NULL);
    }
    xdr_free_remote_error(&rerr);
    return msg;
}

GError *
rpc_error_to_gerror(const RemoteError *err)
{
    int code = err->code;
    int domain = err->domain;
    const char *msg = err->message ? err->message : "unknown error";

    if (code == VIR_ERR_RPC && (domain == VIR_FROM_RPC || domain == VIR_FROM_REMOTE) &&
        err->level == VIR_ERR_ERROR && g_str_has_prefix(msg, "unknown procedure"))
        code = VIR_ERR_NO_SUPPORT;
    /* libvirt 9.0 clients renumber codes of very old servers the same way */
    if (code >= VIR_ERR_INVALID_NWFILTER && code <= VIR_ERR_BUILD_FIREWALL &&
        domain != VIR_FROM_NWFILTER)
        code += 4;
    else if (code == VIR_WAR_NO_SECRET && domain == VIR_FROM_QEMU)
        code = VIR_ERR_OPERATION_TIMEOUT;
    else if (code == VIR_ERR_INVALID_SECRET && domain == VIR_FROM_XEN)
        code = VIR_ERR_MIGRATE_PERSIST_FAILED;
    return g_error_new_literal(util_error_quark(domain), code, msg);
}

bool
rpc_payload_decode(const guint8 *payload, size_t len, RpcDecodeFunc dec,
                   RpcFreeFunc free_fn, void *ret, GError **error)
{
    XdrDecoder x;

    xdr_decoder_init(&x, payload, len);
    if (!dec(&x, ret)) {
        util_error_set(error, VIR_FROM_RPC, VIR_ERR_RPC,
                       "Unable to decode message payload: %s",
                       x.error ? x.error : "unknown reason");
        free_fn(ret);
        return false;
    }
    if (xdr_dec_remaining(&x) != 0) {
        util_error_set(error, VIR_FROM_RPC, VIR_ERR_RPC,
                       "Unable to decode message payload: %zu unexpected trailing bytes",
                       xdr_dec_remaining(&x));
        free_fn(ret);
        return false;
    }
    return true;
}
