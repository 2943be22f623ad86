/*
 * client-internal.h: what the public API files of libmodvirt share: the
 * connection object and the last-error machinery behind virterror.h.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

#include "libvirt/libvirt.h"
#include "rpc-client.h"

#define CLIENT_CONNECT_MAGIC 0x6d76636fU

struct _virConnect {
    guint32 magic;              /* CLIENT_CONNECT_MAGIC while alive */
    gint refs;                  /* virConnectRef / virConnectClose */
    unsigned int flags;         /* virConnectFlags */
    RpcClient *rpc;
    char *uri;                  /* what virConnectGetURI reports */
    bool event_callbacks;       /* server answered feature 14 (REMOTE_EVENT_CALLBACK) */
    bool close_callbacks;       /* server answered feature 15 (REMOTE_CLOSE_CALLBACK) */

    GMutex lock;                /* protects the fields below */
    char *type;                 /* cached CONNECT_GET_TYPE answer */
    virError err;               /* virConnGetLastError */
    virErrorFunc handler;       /* virConnSetErrorFunc */
    void *handler_data;
};

/* True if @conn looks like a live connection. */
bool client_connect_valid(virConnectPtr conn);

/* Record a new last error for this thread.  @message is the whole text, as
 * a person reads it ("invalid argument: ..."). */
void client_error_set(int vir_domain, int vir_code, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

/* Record @err (server error or local failure) with its code and domain. */
void client_error_set_gerror(const GError *err);

/* The last step of a failing public API, like libvirt's virDispatchError:
 * make sure an error is set, copy it to @conn (may be NULL), and call the
 * connection's handler, else the global one, else print it to stderr. */
void client_error_dispatch(virConnectPtr conn);

/* Report "invalid connection pointer in @func" and dispatch it. */
void client_error_invalid_conn(const char *func);
