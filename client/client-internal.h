/*
 * client-internal.h: what the public API files of libmodvirt share: the
 * connection, domain and snapshot objects, the argument checks every
 * public API starts with, and the last-error machinery behind virterror.h.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

#include "libvirt/libvirt.h"
#include "rpc-client.h"
#include "rpc-protocol.h"

#define CLIENT_CONNECT_MAGIC 0x6d76636fU
#define CLIENT_DOMAIN_MAGIC 0x6d76646fU
#define CLIENT_SNAPSHOT_MAGIC 0x6d76736eU

struct _virConnect {
    guint32 magic;              /* CLIENT_CONNECT_MAGIC while alive */
    gint refs;                  /* virConnectRef / virConnectClose, domains, callbacks */
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

    /* events (client-domain-event.c) */
    GList *callbacks;           /* ClientEventCallback*, registration order */
    int next_callback_id;
    GQueue events;              /* ClientEvent*, received, not yet dispatched */
    int watch;                  /* event loop handle on the socket, or -1 */
    int dispatch_timer;         /* event loop timer dispatching @events, or -1 */
    bool keepalive;             /* virConnectSetKeepAlive succeeded */
};

struct _virDomain {
    guint32 magic;              /* CLIENT_DOMAIN_MAGIC while alive */
    gint refs;
    virConnectPtr conn;         /* holds a reference */
    char *name;
    unsigned char uuid[VIR_UUID_BUFLEN];
    int id;                     /* -1 when inactive */
};

struct _virDomainSnapshot {
    guint32 magic;              /* CLIENT_SNAPSHOT_MAGIC while alive */
    gint refs;
    virDomainPtr domain;        /* holds a reference */
    char *name;
};

/* ------------------------------------------------------------ errors */

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

/* Record @error as the last error and dispatch it on @conn. */
void client_call_failed(virConnectPtr conn, const GError *error);

/* Report a bad argument of @func ("invalid argument: ...") on @conn. */
void client_error_invalid_arg(virConnectPtr conn, const char *func, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);

/* ------------------------------------------------------------ checks */

/* The common start of the public calls: reset the last error and check
 * the object (or argument); on failure report and return @retval. */
#define CLIENT_CHECK_CONN(conn, retval) \
    do { \
        virResetLastError(); \
        if (!client_connect_valid(conn)) { \
            client_error_invalid_conn(__func__); \
            return retval; \
        } \
    } while (0)

#define CLIENT_CHECK_DOMAIN(dom, retval) \
    do { \
        virResetLastError(); \
        if (!client_domain_valid(dom)) { \
            client_error_invalid_domain(__func__); \
            return retval; \
        } \
    } while (0)

#define CLIENT_CHECK_NONNULL(conn, arg, retval) \
    do { \
        if (!(arg)) { \
            client_error_invalid_arg(conn, __func__, "%s in %s must not be NULL", \
                                     #arg, __func__); \
            return retval; \
        } \
    } while (0)

/* Read-only connections refuse state changes locally, as libvirt does. */
#define CLIENT_CHECK_WRITABLE(conn, retval) \
    do { \
        if ((conn)->flags & VIR_CONNECT_RO) { \
            client_error_set(VIR_FROM_NONE, VIR_ERR_OPERATION_DENIED, \
                             "operation forbidden: read only access prevents %s", __func__); \
            client_error_dispatch(conn); \
            return retval; \
        } \
    } while (0)

/* ------------------------------------------------------------ objects */

/* True if @conn looks like a live connection. */
bool client_connect_valid(virConnectPtr conn);
/* Drop a reference; the last one closes the connection.  Returns the
 * references left. */
int client_connect_unref(virConnectPtr conn);

bool client_domain_valid(virDomainPtr dom);
void client_error_invalid_domain(const char *func);
/* A new handle (one reference) for the wire domain @wire on @conn. */
virDomainPtr client_domain_new(virConnectPtr conn, const RemoteNonnullDomain *wire);
/* @dom as the wire names it; the name is borrowed from @dom. */
RemoteNonnullDomain client_domain_wire(virDomainPtr dom);

/* ------------------------------------------------------------ events */

/* True once virEventRegisterImpl or virEventRegisterDefaultImpl ran. */
bool client_event_loop_registered(void);
/* Set up event reception for a new connection (no traffic). */
void client_events_init(virConnectPtr conn);
/* Take the event messages of @conn's RPC client, once it exists and
 * before any call. */
void client_events_attach(virConnectPtr conn);
/* Drop callbacks, queued events and loop registrations of a connection
 * being freed. */
void client_events_cleanup(virConnectPtr conn);
