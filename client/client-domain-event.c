/*
 * client-domain-event.c: domain event callbacks and keepalive.
 *
 * Events arrive as MESSAGE packets on the connection, read either by a
 * thread waiting for a reply or by the event loop watching the socket.
 * The reader only decodes and queues them (it holds the RPC lock); a timer
 * of the event loop dispatches the queue to the application's callbacks
 * with no lock held, so callbacks may call the API.
 *
 * Each callback is registered on the server on its own
 * (CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY, with the domain filter) and
 * events carry the server's callback ID.  A server without
 * REMOTE_EVENT_CALLBACK gets the older per-event-ID registration and its
 * events are matched by event ID and domain here.
 */
#define G_LOG_DOMAIN "modvirt.client"

#include <string.h>

#include "client-internal.h"
#include "rpc-protocol-client.h"
#include "util-error.h"

/* CONNECT_SUPPORTS_FEATURE: libvirt's VIR_DRV_FEATURE_PROGRAM_KEEPALIVE */
#define CLIENT_FEATURE_PROGRAM_KEEPALIVE 10

typedef struct {
    gint refs;
    int id;                         /* what the application sees */
    int server_id;                  /* the server's callback ID, or -1 */
    int event_id;                   /* virDomainEventID */
    bool has_filter;
    unsigned char uuid[VIR_UUID_BUFLEN];
    virConnectDomainEventGenericCallback cb;
    void *opaque;
    virFreeCallback freecb;
    gint removed;                   /* deregistered: never called again */
} ClientEventCallback;

typedef struct {
    int event_id;                   /* virDomainEventID */
    int server_id;                  /* callback ID on the wire, -1 for legacy events */
    RemoteNonnullDomain dom;        /* owned */
    int event;                      /* lifecycle */
    int detail;
    char *disk;                     /* block job: path or target; I/O error: source path */
    int type;
    int status;
    char *alias;                    /* I/O error: device alias, action, reason */
    int action;
    char *reason;
} ClientEvent;

static void
client_event_free(ClientEvent *ev)
{
    xdr_free_remote_nonnull_domain(&ev->dom);
    g_free(ev->disk);
    g_free(ev->alias);
    g_free(ev->reason);
    g_free(ev);
}

/* Take over what an I/O error event says (@reason may be NULL). */
static void
client_event_io_error(ClientEvent *ev, int event_id, RemoteNonnullDomain dom, char *path,
                      char *alias, int action, char *reason)
{
    ev->event_id = event_id;
    ev->dom = dom;
    ev->disk = path;
    ev->alias = alias;
    ev->action = action;
    ev->reason = reason;
}

static void
client_event_callback_unref(ClientEventCallback *cb)
{
    if (!g_atomic_int_dec_and_test(&cb->refs))
        return;
    if (cb->freecb)
        cb->freecb(cb->opaque);
    g_free(cb);
}

/* ------------------------------------------------------------ receiving */

static ClientEvent *
client_event_decode(const RpcHeader *hdr, const guint8 *payload, size_t len, GError **error)
{
    g_autofree ClientEvent *ev = g_new0(ClientEvent, 1);

    ev->server_id = -1;
    switch (hdr->proc) {
    case REMOTE_PROC_DOMAIN_EVENT_CALLBACK_LIFECYCLE: {
        RemoteDomainEventCallbackLifecycleMsg msg = { 0 };

        if (!rpc_payload_decode(payload, len,
                                (RpcDecodeFunc)xdr_dec_remote_domain_event_callback_lifecycle_msg,
                                (RpcFreeFunc)xdr_free_remote_domain_event_callback_lifecycle_msg,
                                &msg, error))
            return NULL;
        ev->event_id = VIR_DOMAIN_EVENT_ID_LIFECYCLE;
        ev->server_id = msg.callbackID;
        ev->dom = msg.msg.dom;
        ev->event = msg.msg.event;
        ev->detail = msg.msg.detail;
        break;
    }
    case REMOTE_PROC_DOMAIN_EVENT_LIFECYCLE: {
        RemoteDomainEventLifecyclePayload msg = { { 0 } };

        if (!rpc_payload_decode(payload, len,
                                (RpcDecodeFunc)xdr_dec_remote_domain_event_lifecycle_payload,
                                (RpcFreeFunc)xdr_free_remote_domain_event_lifecycle_payload,
                                &msg, error))
            return NULL;
        ev->event_id = VIR_DOMAIN_EVENT_ID_LIFECYCLE;
        ev->dom = msg.dom;
        ev->event = msg.event;
        ev->detail = msg.detail;
        break;
    }
    case REMOTE_PROC_DOMAIN_EVENT_CALLBACK_REBOOT: {
        RemoteDomainEventCallbackRebootMsg msg = { 0 };

        if (!rpc_payload_decode(payload, len,
                                (RpcDecodeFunc)xdr_dec_remote_domain_event_callback_reboot_msg,
                                (RpcFreeFunc)xdr_free_remote_domain_event_callback_reboot_msg,
                                &msg, error))
            return NULL;
        ev->event_id = VIR_DOMAIN_EVENT_ID_REBOOT;
        ev->server_id = msg.callbackID;
        ev->dom = msg.msg.dom;
        break;
    }
    case REMOTE_PROC_DOMAIN_EVENT_REBOOT: {
        RemoteDomainEventRebootPayload msg = { { 0 } };

        if (!rpc_payload_decode(payload, len,
                                (RpcDecodeFunc)xdr_dec_remote_domain_event_reboot_payload,
                                (RpcFreeFunc)xdr_free_remote_domain_event_reboot_payload,
                                &msg, error))
            return NULL;
        ev->event_id = VIR_DOMAIN_EVENT_ID_REBOOT;
        ev->dom = msg.dom;
        break;
    }
    case REMOTE_PROC_DOMAIN_EVENT_CALLBACK_BLOCK_JOB: {
        RemoteDomainEventCallbackBlockJobMsg msg = { 0 };

        if (!rpc_payload_decode(payload, len,
                                (RpcDecodeFunc)xdr_dec_remote_domain_event_callback_block_job_msg,
                                (RpcFreeFunc)xdr_free_remote_domain_event_callback_block_job_msg,
                                &msg, error))
            return NULL;
        ev->event_id = VIR_DOMAIN_EVENT_ID_BLOCK_JOB;
        ev->server_id = msg.callbackID;
        ev->dom = msg.msg.dom;
        ev->disk = msg.msg.path;
        ev->type = msg.msg.type;
        ev->status = msg.msg.status;
        break;
    }
    case REMOTE_PROC_DOMAIN_EVENT_BLOCK_JOB: {
        RemoteDomainEventBlockJobPayload msg = { { 0 } };

        if (!rpc_payload_decode(payload, len,
                                (RpcDecodeFunc)xdr_dec_remote_domain_event_block_job_payload,
                                (RpcFreeFunc)xdr_free_remote_domain_event_block_job_payload,
                                &msg, error))
            return NULL;
        ev->event_id = VIR_DOMAIN_EVENT_ID_BLOCK_JOB;
        ev->dom = msg.dom;
        ev->disk = msg.path;
        ev->type = msg.type;
        ev->status = msg.status;
        break;
    }
    case REMOTE_PROC_DOMAIN_EVENT_BLOCK_JOB_2: {
        RemoteDomainEventBlockJob2Msg msg = { 0 };

        if (!rpc_payload_decode(payload, len,
                                (RpcDecodeFunc)xdr_dec_remote_domain_event_block_job_2_msg,
                                (RpcFreeFunc)xdr_free_remote_domain_event_block_job_2_msg,
                                &msg, error))
            return NULL;
        ev->event_id = VIR_DOMAIN_EVENT_ID_BLOCK_JOB_2;
        ev->server_id = msg.callbackID;
        ev->dom = msg.dom;
        ev->disk = msg.dst;
        ev->type = msg.type;
        ev->status = msg.status;
        break;
    }
    case REMOTE_PROC_DOMAIN_EVENT_IO_ERROR:
    case REMOTE_PROC_DOMAIN_EVENT_CALLBACK_IO_ERROR: {
        RemoteDomainEventCallbackIoErrorMsg msg = { 0 };
        bool legacy = hdr->proc == REMOTE_PROC_DOMAIN_EVENT_IO_ERROR;

        if (!rpc_payload_decode(payload, len,
                                legacy ? (RpcDecodeFunc)xdr_dec_remote_domain_event_io_error_payload
                                       : (RpcDecodeFunc)xdr_dec_remote_domain_event_callback_io_error_msg,
                                legacy ? (RpcFreeFunc)xdr_free_remote_domain_event_io_error_payload
                                       : (RpcFreeFunc)xdr_free_remote_domain_event_callback_io_error_msg,
                                legacy ? (void *)&msg.msg : (void *)&msg, error))
            return NULL;
        ev->server_id = legacy ? -1 : msg.callbackID;
        client_event_io_error(ev, VIR_DOMAIN_EVENT_ID_IO_ERROR, msg.msg.dom, msg.msg.srcPath,
                              msg.msg.devAlias, msg.msg.action, NULL);
        break;
    }
    case REMOTE_PROC_DOMAIN_EVENT_IO_ERROR_REASON:
    case REMOTE_PROC_DOMAIN_EVENT_CALLBACK_IO_ERROR_REASON: {
        RemoteDomainEventCallbackIoErrorReasonMsg msg = { 0 };
        bool legacy = hdr->proc == REMOTE_PROC_DOMAIN_EVENT_IO_ERROR_REASON;

        if (!rpc_payload_decode(
                payload, len,
                legacy ? (RpcDecodeFunc)xdr_dec_remote_domain_event_io_error_reason_payload
                       : (RpcDecodeFunc)xdr_dec_remote_domain_event_callback_io_error_reason_msg,
                legacy ? (RpcFreeFunc)xdr_free_remote_domain_event_io_error_reason_payload
                       : (RpcFreeFunc)xdr_free_remote_domain_event_callback_io_error_reason_msg,
                legacy ? (void *)&msg.msg : (void *)&msg, error))
            return NULL;
        ev->server_id = legacy ? -1 : msg.callbackID;
        client_event_io_error(ev, VIR_DOMAIN_EVENT_ID_IO_ERROR_REASON, msg.msg.dom,
                              msg.msg.srcPath, msg.msg.devAlias, msg.msg.action, msg.msg.reason);
        break;
    }
    default:
        return NULL;        /* an event nobody here can have asked for */
    }
    return g_steal_pointer(&ev);
}

/* RpcClientEventFunc: runs in whichever thread reads, RPC lock held. */
static void
client_events_received(RpcClient *client G_GNUC_UNUSED, const RpcHeader *hdr,
                       const guint8 *payload, size_t len, gpointer user_data)
{
    virConnectPtr conn = user_data;
    g_autoptr(GError) error = NULL;
    ClientEvent *ev = NULL;
    int timer = -1;

    if (hdr->prog != REMOTE_PROGRAM)
        return;
    if (!(ev = client_event_decode(hdr, payload, len, &error))) {
        if (error)
            g_debug("dropping event %d: %s", hdr->proc, error->message);
        else
            g_debug("ignoring event %d", hdr->proc);
        return;
    }
    g_mutex_lock(&conn->lock);
    g_queue_push_tail(&conn->events, ev);
    timer = conn->dispatch_timer;
    g_mutex_unlock(&conn->lock);
    if (timer >= 0)
        virEventUpdateTimeout(timer, 0);
}

/* ------------------------------------------------------------ dispatching */

static bool
client_event_matches(const ClientEventCallback *cb, const ClientEvent *ev)
{
    if (g_atomic_int_get(&cb->removed))
        return false;
    if (ev->server_id >= 0)
        return cb->server_id == ev->server_id;
    return cb->event_id == ev->event_id &&
           (!cb->has_filter || memcmp(cb->uuid, ev->dom.uuid, VIR_UUID_BUFLEN) == 0);
}

static void
client_event_call(virConnectPtr conn, ClientEventCallback *cb, const ClientEvent *ev,
                  virDomainPtr dom)
{
    switch ((virDomainEventID)ev->event_id) {
    case VIR_DOMAIN_EVENT_ID_LIFECYCLE:
        ((virConnectDomainEventCallback)(void (*)(void))cb->cb)(conn, dom, ev->event, ev->detail, cb->opaque);
        return;
    case VIR_DOMAIN_EVENT_ID_REBOOT:
        ((virConnectDomainEventRebootCallback)cb->cb)(conn, dom, cb->opaque);
        return;
    case VIR_DOMAIN_EVENT_ID_BLOCK_JOB:
    case VIR_DOMAIN_EVENT_ID_BLOCK_JOB_2:
        ((virConnectDomainEventBlockJobCallback)(void (*)(void))cb->cb)(conn, dom, ev->disk, ev->type,
                                                        ev->status, cb->opaque);
        return;
    case VIR_DOMAIN_EVENT_ID_IO_ERROR:
        ((virConnectDomainEventIOErrorCallback)(void (*)(void))cb->cb)(
            conn, dom, ev->disk, ev->alias, ev->action, cb->opaque);
        return;
    case VIR_DOMAIN_EVENT_ID_IO_ERROR_REASON:
        ((virConnectDomainEventIOErrorReasonCallback)(void (*)(void))cb->cb)(
            conn, dom, ev->disk, ev->alias, ev->action, ev->reason, cb->opaque);
        return;
    default:
        return;
    }
}

static void
client_events_dispatch_one(virConnectPtr conn, const ClientEvent *ev)
{
    g_autoptr(GPtrArray) targets = g_ptr_array_new();
    virDomainPtr dom = NULL;

    g_mutex_lock(&conn->lock);
    for (GList *l = conn->callbacks; l; l = l->next) {
        ClientEventCallback *cb = l->data;

        if (client_event_matches(cb, ev)) {
            g_atomic_int_inc(&cb->refs);
            g_ptr_array_add(targets, cb);
        }
    }
    g_mutex_unlock(&conn->lock);
    if (targets->len == 0)
        return;

    dom = client_domain_new(conn, &ev->dom);
    for (guint i = 0; i < targets->len; i++) {
        ClientEventCallback *cb = targets->pdata[i];

        /* a callback may deregister itself or another one */
        if (!g_atomic_int_get(&cb->removed))
            client_event_call(conn, cb, ev, dom);
        client_event_callback_unref(cb);
    }
    virDomainFree(dom);
}

/* The dispatch timer: runs in the event loop. */
static void
client_events_dispatch(int timer, void *opaque)
{
    virConnectPtr conn = opaque;

    virEventUpdateTimeout(timer, -1);
    for (;;) {
        ClientEvent *ev = NULL;

        g_mutex_lock(&conn->lock);
        ev = g_queue_pop_head(&conn->events);
        g_mutex_unlock(&conn->lock);
        if (!ev)
            return;
        client_events_dispatch_one(conn, ev);
        client_event_free(ev);
    }
}

/* The socket watch: read what the server sent while nobody was calling. */
static void
client_events_readable(int watch, int fd G_GNUC_UNUSED, int events G_GNUC_UNUSED,
                       void *opaque)
{
    virConnectPtr conn = opaque;
    g_autoptr(GError) error = NULL;

    if (rpc_client_poll_events(conn->rpc, 1, &error))
        return;
    /* The connection is gone: stop watching a closed descriptor. */
    g_debug("connection to '%s' lost: %s", conn->uri, error->message);
    virEventRemoveHandle(watch);
    g_mutex_lock(&conn->lock);
    if (conn->watch == watch)
        conn->watch = -1;
    g_mutex_unlock(&conn->lock);
}

/* Make sure the loop watches the socket and can dispatch.  Needs a
 * registered event loop. */
static bool
client_events_start(virConnectPtr conn, GError **error)
{
    int fd = rpc_client_fd(conn->rpc);
    bool ok = true;

    if (!client_event_loop_registered()) {
        util_error_set(error, VIR_FROM_NONE, VIR_ERR_INTERNAL_ERROR,
                       "internal error: could not initialize domain event timer: "
                       "no event loop is registered (virEventRegisterDefaultImpl)");
        return false;
    }
    g_mutex_lock(&conn->lock);
    if (conn->dispatch_timer < 0 &&
        (conn->dispatch_timer = virEventAddTimeout(-1, client_events_dispatch, conn, NULL)) < 0)
        ok = false;
    if (ok && conn->watch < 0 && fd >= 0 &&
        (conn->watch = virEventAddHandle(fd, VIR_EVENT_HANDLE_READABLE,
                                         client_events_readable, conn, NULL)) < 0)
        ok = false;
    /* events read before the timer existed */
    if (ok && conn->events.length)
        virEventUpdateTimeout(conn->dispatch_timer, 0);
    g_mutex_unlock(&conn->lock);
    if (!ok)
        util_error_set(error, VIR_FROM_NONE, VIR_ERR_INTERNAL_ERROR,
                       "internal error: could not initialize domain event timer");
    return ok;
}

void
client_events_init(virConnectPtr conn)
{
    conn->watch = -1;
    conn->dispatch_timer = -1;
    conn->next_callback_id = 1;
    g_queue_init(&conn->events);
}

void
client_events_cleanup(virConnectPtr conn)
{
    if (conn->watch >= 0)
        virEventRemoveHandle(conn->watch);
    if (conn->dispatch_timer >= 0)
        virEventRemoveTimeout(conn->dispatch_timer);
    conn->watch = conn->dispatch_timer = -1;
    g_queue_clear_full(&conn->events, (GDestroyNotify)client_event_free);
    /* callbacks hold connection references: none can be left here */
    g_list_free_full(g_steal_pointer(&conn->callbacks),
                     (GDestroyNotify)client_event_callback_unref);
}

void
client_events_attach(virConnectPtr conn)
{
    rpc_client_set_event_func(conn->rpc, client_events_received, conn);
}

/* ------------------------------------------------------------ registration */

static bool
client_event_id_supported(int event_id)
{
    switch (event_id) {
    case VIR_DOMAIN_EVENT_ID_LIFECYCLE:
    case VIR_DOMAIN_EVENT_ID_REBOOT:
    case VIR_DOMAIN_EVENT_ID_IO_ERROR:
    case VIR_DOMAIN_EVENT_ID_IO_ERROR_REASON:
    case VIR_DOMAIN_EVENT_ID_BLOCK_JOB:
    case VIR_DOMAIN_EVENT_ID_BLOCK_JOB_2:
        return true;
    default:
        return false;
    }
}

/* Other callbacks of the older per-event-ID registration with @event_id. */
static bool
client_event_legacy_in_use_locked(virConnectPtr conn, int event_id, const ClientEventCallback *except)
{
    for (GList *l = conn->callbacks; l; l = l->next) {
        const ClientEventCallback *cb = l->data;

        if (cb != except && cb->event_id == event_id)
            return true;
    }
    return false;
}

static bool
client_event_server_register(virConnectPtr conn, ClientEventCallback *cb, virDomainPtr dom,
                             GError **error)
{
    if (conn->event_callbacks) {
        RemoteConnectDomainEventCallbackRegisterAnyArgs args = { .eventID = cb->event_id };
        RemoteConnectDomainEventCallbackRegisterAnyRet ret = { 0 };
        RemoteNonnullDomain wire = { 0 };

        if (dom) {
            wire = client_domain_wire(dom);
            args.dom = &wire;
        }
        if (!remote_call_connect_domain_event_callback_register_any(conn->rpc, &args, &ret,
                                                                    error))
            return false;
        cb->server_id = ret.callbackID;
        return true;
    } else {
        RemoteConnectDomainEventRegisterAnyArgs args = { .eventID = cb->event_id };
        bool in_use = false;

        g_mutex_lock(&conn->lock);
        in_use = client_event_legacy_in_use_locked(conn, cb->event_id, NULL);
        g_mutex_unlock(&conn->lock);
        return in_use || remote_call_connect_domain_event_register_any(conn->rpc, &args, error);
    }
}

int
virConnectDomainEventRegisterAny(virConnectPtr conn, virDomainPtr dom, int eventID,
                                 virConnectDomainEventGenericCallback cb, void *opaque,
                                 virFreeCallback freecb)
{
    g_autoptr(GError) error = NULL;
    ClientEventCallback *callback = NULL;
    int id = -1;

    CLIENT_CHECK_CONN(conn, -1);
    CLIENT_CHECK_NONNULL(conn, cb, -1);
    if (dom && (!client_domain_valid(dom) || dom->conn != conn)) {
        client_error_invalid_arg(conn, __func__, "dom in %s must match connection", __func__);
        return -1;
    }
    if (eventID < 0 || eventID > VIR_DOMAIN_EVENT_ID_MEMORY_DEVICE_SIZE_CHANGE) {
        client_error_invalid_arg(conn, __func__, "eventID in %s must be less than %d",
                                 __func__, VIR_DOMAIN_EVENT_ID_MEMORY_DEVICE_SIZE_CHANGE + 1);
        return -1;
    }
    if (!client_event_id_supported(eventID)) {
        client_error_set(VIR_FROM_NONE, VIR_ERR_NO_SUPPORT,
                         "this function is not supported by the connection driver: "
                         "domain event %d", eventID);
        client_error_dispatch(conn);
        return -1;
    }
    if (!client_events_start(conn, &error)) {
        client_call_failed(conn, error);
        return -1;
    }

    callback = g_new0(ClientEventCallback, 1);
    callback->refs = 1;
    callback->server_id = -1;
    callback->event_id = eventID;
    callback->cb = cb;
    callback->opaque = opaque;
    if (dom) {
        callback->has_filter = true;
        memcpy(callback->uuid, dom->uuid, VIR_UUID_BUFLEN);
    }
    if (!client_event_server_register(conn, callback, dom, &error)) {
        g_free(callback);           /* freecb is not called on failure */
        client_call_failed(conn, error);
        return -1;
    }
    callback->freecb = freecb;

    g_atomic_int_inc(&conn->refs);  /* the callback keeps the connection */
    g_mutex_lock(&conn->lock);
    id = callback->id = conn->next_callback_id++;
    conn->callbacks = g_list_append(conn->callbacks, callback);
    g_mutex_unlock(&conn->lock);
    g_debug("event callback %d: event %d, server callback %d", id, eventID,
            callback->server_id);
    return id;
}

int
virConnectDomainEventDeregisterAny(virConnectPtr conn, int callbackID)
{
    g_autoptr(GError) error = NULL;
    ClientEventCallback *callback = NULL;
    bool legacy_last = false;
    bool ok = true;

    CLIENT_CHECK_CONN(conn, -1);
    g_mutex_lock(&conn->lock);
    for (GList *l = conn->callbacks; l; l = l->next) {
        ClientEventCallback *cb = l->data;

        if (cb->id == callbackID) {
            callback = cb;
            conn->callbacks = g_list_delete_link(conn->callbacks, l);
            break;
        }
    }
    if (callback) {
        g_atomic_int_set(&callback->removed, true);
        legacy_last = !conn->event_callbacks &&
                      !client_event_legacy_in_use_locked(conn, callback->event_id, NULL);
    }
    g_mutex_unlock(&conn->lock);
    if (!callback) {
        client_error_invalid_arg(conn, __func__, "could not find event callback %d for deletion",
                                 callbackID);
        return -1;
    }

    if (conn->event_callbacks) {
        RemoteConnectDomainEventCallbackDeregisterAnyArgs args = { callback->server_id };

        ok = remote_call_connect_domain_event_callback_deregister_any(conn->rpc, &args, &error);
    } else if (legacy_last) {
        RemoteConnectDomainEventDeregisterAnyArgs args = { callback->event_id };

        ok = remote_call_connect_domain_event_deregister_any(conn->rpc, &args, &error);
    }
    client_event_callback_unref(callback);
    if (!ok)
        client_call_failed(conn, error);
    client_connect_unref(conn);
    return ok ? 0 : -1;
}

/* ------------------------------------------------------------ keepalive */

int
virConnectSetKeepAlive(virConnectPtr conn, int interval, unsigned int count G_GNUC_UNUSED)
{
    g_autoptr(GError) error = NULL;
    RemoteConnectSupportsFeatureArgs args = { .feature = CLIENT_FEATURE_PROGRAM_KEEPALIVE };
    RemoteConnectSupportsFeatureRet ret = { 0 };

    CLIENT_CHECK_CONN(conn, -1);
    if (!client_event_loop_registered()) {
        client_error_set(VIR_FROM_NONE, VIR_ERR_INTERNAL_ERROR, "%s",
                         "internal error: the caller doesn't support keepalive protocol; "
                         "perhaps it's missing event loop implementation");
        client_error_dispatch(conn);
        return -1;
    }
    if (interval <= 0)
        return 0;       /* this client sends no pings of its own */

    /* Asking is what makes the server start pinging this client. */
    if (!remote_call_connect_supports_feature(conn->rpc, &args, &ret, &error)) {
        client_call_failed(conn, error);
        return -1;
    }
    if (!ret.supported)
        return 1;
    /* Pings are answered whenever the socket is read: by calls, and by
     * the event loop's watch between calls. */
    if (!client_events_start(conn, &error)) {
        client_call_failed(conn, error);
        return -1;
    }
    g_mutex_lock(&conn->lock);
    conn->keepalive = true;
    g_mutex_unlock(&conn->lock);
    return 0;
}
