/*
 * rpc-client.h: a blocking RPC client connection (client library, CLI,
 * tests).  One call at a time per connection; keepalive pings from the
 * server are answered while waiting; event messages are handed to a
 * callback.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

#include "rpc-message.h"

typedef struct _RpcClient RpcClient;

/* Called for MESSAGE packets of the remote/qemu/lxc programs, in the thread
 * that happens to be reading (inside a call, or rpc_client_poll_events). */
typedef void (*RpcClientEventFunc)(RpcClient *client, const RpcHeader *hdr,
                                   const guint8 *payload, size_t len,
                                   gpointer user_data);

RpcClient *rpc_client_connect_unix(const char *path, GError **error);
RpcClient *rpc_client_new_fd(int fd);
void rpc_client_free(RpcClient *client);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(RpcClient, rpc_client_free)

void rpc_client_set_event_func(RpcClient *client, RpcClientEventFunc func,
                               gpointer user_data);
/* Milliseconds a call waits for its reply; 0 = forever (default). */
void rpc_client_set_timeout(RpcClient *client, int timeout_ms);

/* Send a call and wait for its reply.  A REPLY with status ERROR becomes
 * a GError with the server's code and domain. */
bool rpc_client_call(RpcClient *client, guint32 prog, guint32 vers, gint32 proc,
                     RpcEncodeFunc enc_args, const void *args,
                     RpcDecodeFunc dec_ret, void *ret, GError **error);

/* Read and dispatch pending event messages for up to @timeout_ms. */
bool rpc_client_poll_events(RpcClient *client, int timeout_ms, GError **error);

bool rpc_client_is_open(RpcClient *client);
int rpc_client_fd(RpcClient *client);
