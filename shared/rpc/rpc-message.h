/*
 * rpc-message.h: libvirt RPC framing: the length word, the 24-byte header,
 * and whole messages built from a header and an XDR payload.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

#include "rpc-protocol.h"

#define RPC_LEN_SIZE 4
#define RPC_HEADER_SIZE 24
#define RPC_MIN_LEN (RPC_LEN_SIZE + RPC_HEADER_SIZE)
/* header + payload; the length word itself is not counted */
#define RPC_MAX_MESSAGE 33554432
#define RPC_MAX_FDS 32

typedef enum {
    RPC_TYPE_CALL = 0,
    RPC_TYPE_REPLY = 1,
    RPC_TYPE_MESSAGE = 2,
    RPC_TYPE_STREAM = 3,
    RPC_TYPE_CALL_WITH_FDS = 4,
    RPC_TYPE_REPLY_WITH_FDS = 5,
    RPC_TYPE_STREAM_HOLE = 6,
    RPC_TYPE_LAST
} RpcType;

typedef enum {
    RPC_STATUS_OK = 0,
    RPC_STATUS_ERROR = 1,
    RPC_STATUS_CONTINUE = 2,
    RPC_STATUS_LAST
} RpcStatus;

typedef struct {
    guint32 prog;
    guint32 vers;
    gint32 proc;
    gint32 type;
    guint32 serial;
    gint32 status;
} RpcHeader;

/* Offsets inside a whole message (length word included). */
#define RPC_OFFSET_SERIAL (RPC_LEN_SIZE + 16)

void rpc_header_decode(const guint8 *msg, RpcHeader *ret_hdr);
void rpc_header_encode(const RpcHeader *hdr, guint8 *msg);
guint32 rpc_read_u32(const guint8 *p);
void rpc_write_u32(guint8 *p, guint32 v);

/* A whole message: length word, @hdr, payload from @enc(@payload) (none if
 * @enc is NULL).  Fails only when the payload breaks a protocol bound. */
guint8 *rpc_message_build(const RpcHeader *hdr, RpcEncodeFunc enc,
                          const void *payload, size_t *ret_len, GError **error);

/* The REPLY/ERROR answering the call @call_hdr with @err. */
guint8 *rpc_message_build_error(const RpcHeader *call_hdr, const GError *err,
                                size_t *ret_len);

/* Fill a wire error from a GError (message, code, domain, level 2). */
void rpc_error_from_gerror(RemoteError *ret_err, const GError *err);
/* A GError from a received wire error, with the client-side rewrites that
 * libvirt 9.0 clients apply ('unknown procedure' -> VIR_ERR_NO_SUPPORT). */
GError *rpc_error_to_gerror(const RemoteError *err);

/* Decode @len bytes of payload with @dec into @ret; the whole payload must be
 * consumed.  On failure the struct is freed with @free_fn. */
bool rpc_payload_decode(const guint8 *payload, size_t len, RpcDecodeFunc dec,
                        RpcFreeFunc free_fn, void *ret, GError **error);

const char *rpc_type_name(int type);
