/*
 * rpc-conn.h: a framed, non-blocking RPC connection driven by a GMainContext.
 *
 * Used for every server-side client and for the proxy's upstream
 * connections.  Reading and callbacks happen in the context's thread;
 * rpc_conn_send() may be called from any thread and keeps message order.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

#include "rpc-message.h"

typedef struct _RpcConn RpcConn;

typedef struct {
    /* A whole message (length word included), owned by the callee. */
    void (*message)(RpcConn *conn, const RpcHeader *hdr, guint8 *msg,
                    size_t len, gpointer user_data);
    /* The connection ended: peer closed, I/O error or protocol violation.
     * Called once, in the context's thread; @reason is for logs. */
    void (*closed)(RpcConn *conn, const char *reason, gpointer user_data);
} RpcConnCallbacks;

RpcConn *rpc_conn_new(int fd, GMainContext *ctx, size_t max_message,
                      const RpcConnCallbacks *callbacks, gpointer user_data);
RpcConn *rpc_conn_ref(RpcConn *conn);
void rpc_conn_unref(RpcConn *conn);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(RpcConn, rpc_conn_unref)

int rpc_conn_fd(const RpcConn *conn);
/* Queue a whole message for sending; takes ownership of @msg. */
void rpc_conn_send(RpcConn *conn, guint8 *msg, size_t len);
/* Stop or resume reading (flow control); context thread only. */
void rpc_conn_set_reading(RpcConn *conn, bool reading);
/* Close once everything queued has been written; context thread only. */
void rpc_conn_close_after_flush(RpcConn *conn);
/* Close now, dropping anything queued; context thread only.  The closed
 * callback is not called for a close asked for by the owner. */
void rpc_conn_close(RpcConn *conn);
bool rpc_conn_is_closed(RpcConn *conn);
/* Bytes queued for writing and not yet written. */
size_t rpc_conn_queued_bytes(RpcConn *conn);
