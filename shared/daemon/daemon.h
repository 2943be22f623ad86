/*
 * daemon.h: the one daemon main that every modvirt daemon (the proxy
 * included) is built from, with a per-daemon table (DaemonDriver).
 *
 * The main thread runs a GMainLoop that owns all sockets: it accepts
 * clients, reads and frames their messages, answers keepalive, and runs
 * high-priority calls (which never block) inline.  Other calls run on a
 * worker thread pool.  Replies may be sent from any thread.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

#include "rpc-conn.h"
#include "rpc-protocol.h"

typedef struct _DaemonClient DaemonClient;

typedef enum {
    DAEMON_SOCKET_RW,
    DAEMON_SOCKET_RO,
    DAEMON_SOCKET_ADMIN,
    DAEMON_SOCKET_LAST
} DaemonSocketKind;

typedef struct {
    char *root;          /* embedded-mode root, NULL in system mode */
    char *rundir;        /* runtime state (live status, pid files) */
    char *sockdir;       /* where the sockets live */
    char *configdir;     /* persistent configuration (definitions) */
    char *statedir;      /* persistent state (images, caches) */
    char *logdir;
} DaemonPaths;

typedef struct {
    int timeout;                 /* idle seconds before exit, 0 = never */
    unsigned int max_clients;
    unsigned int max_client_requests;  /* calls in flight per client */
    unsigned int max_queued_requests;  /* calls waiting beyond that */
    size_t max_message;          /* header + payload bytes */
    unsigned int max_workers;
    int keepalive_interval;      /* seconds, <= 0 disables server pings */
    unsigned int keepalive_count;
} DaemonLimits;

struct _RpcServerCall {
    DaemonClient *client;
    RpcHeader hdr;
    const RpcProcInfo *info;
};

typedef struct {
    const char *name;            /* "virtqemud": binary, sockets, units */
    const char *description;
    /* URI schemes this daemon opens ("qemu"); NULL-terminated.  The proxy
     * has none: it opens nothing itself. */
    const char *const *uri_schemes;
    /* Handlers of this driver; shared connection-level handlers fill the
     * gaps (see daemon-common.c). */
    const RemoteServerOps *ops;
    /* Capabilities (CAP_*) the daemon keeps when run as root; -1 ends. */
    const int *keep_caps;
    /* Called once before the sockets accept clients. */
    bool (*init)(GError **error);
    void (*cleanup)(void);
    /* Called in the main thread for every message before normal dispatch;
     * return true to take it (and ownership of @msg).  The proxy uses it. */
    bool (*raw_message)(DaemonClient *client, const RpcHeader *hdr,
                        guint8 *msg, size_t len);
    /* The client went away (main thread). */
    void (*client_closed)(DaemonClient *client);
    /* Free the driver's per-client data (any thread, last reference). */
    void (*client_free_private)(gpointer priv);
    /* The driver hands its clients to other daemons (the proxy): read
     * their messages one at a time so that nothing past the one that
     * triggers the handoff is consumed (see daemon_client_hand_off). */
    bool hands_off_clients;
    /* Anything that must keep the daemon alive although no client is
     * connected (e.g. a job that must finish); NULL = nothing. */
    bool (*inhibit_idle_exit)(void);
} DaemonDriver;

/* The shared connection-level handlers, for drivers that wrap one. */
extern const RemoteServerOps daemon_common_ops;

/* The daemon's main(): parse options, set up, serve, clean up. */
int daemon_main(const DaemonDriver *driver, int argc, char **argv);

const DaemonDriver *daemon_driver(void);
const DaemonPaths *daemon_paths(void);
const DaemonLimits *daemon_limits(void);
bool daemon_is_privileged(void);
GMainContext *daemon_main_context(void);
/* Directory of the daemon binaries: MODVIRT_DAEMON_DIR, the build tree or
 * sbindir. The returned path is for daemon @name. */
char *daemon_binary_path(const char *name);

/* --- clients */
DaemonClient *daemon_call_client(RpcServerCall *call);
DaemonClient *daemon_client_ref(DaemonClient *client);
void daemon_client_unref(DaemonClient *client);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(DaemonClient, daemon_client_unref)
bool daemon_client_readonly(DaemonClient *client);
DaemonSocketKind daemon_client_socket_kind(DaemonClient *client);
bool daemon_client_is_open(DaemonClient *client);
const char *daemon_client_uri(DaemonClient *client);
/* Mark the connection open with @uri (the normalised URI it serves). */
void daemon_client_set_open(DaemonClient *client, const char *uri);
gpointer daemon_client_get_private(DaemonClient *client);
void daemon_client_set_private(DaemonClient *client, gpointer priv);
bool daemon_client_keepalive_enabled(DaemonClient *client);
void daemon_client_enable_keepalive(DaemonClient *client);
/* Peer credentials of a UNIX socket client. */
bool daemon_client_peer(DaemonClient *client, uid_t *ret_uid, gid_t *ret_gid, pid_t *ret_pid);
/* Send a whole message (length word included) to the client; takes @msg. */
void daemon_client_send_raw(DaemonClient *client, guint8 *msg, size_t len);
/* Send an event MESSAGE of the remote program. */
void daemon_client_send_event(DaemonClient *client, gint32 proc,
                              RpcEncodeFunc enc, const void *payload);
/* Answer @hdr's call with @err (for raw_message users). */
void daemon_client_reply_error(DaemonClient *client, const RpcHeader *hdr,
                               const GError *err);
void daemon_client_close(DaemonClient *client);
/* Flow control for raw_message users. */
void daemon_client_set_reading(DaemonClient *client, bool reading);

/* Hand @client's socket to @daemon (started first in embedded mode if it
 * is not running), which from then on serves the client directly as if it
 * had connected there: same socket kind, keepalive state, and @msg (a
 * whole message, taken) processed first.  Reading from the client stops
 * meanwhile.  On success the client leaves this daemon without a word; on
 * failure @msg's call is answered with the error and reading resumes.
 * Main thread; only for drivers with hands_off_clients. */
void daemon_client_hand_off(DaemonClient *client, const char *daemon, guint8 *msg, size_t len);

/* Connect to @daemon's socket of @kind in this daemon's socket directory;
 * in embedded mode start the daemon first if it is not running (one
 * starter at a time, 5 s to come up).  Blocking: call from a thread. */
bool daemon_connect_daemon(const char *daemon, DaemonSocketKind kind, int *ret_fd,
                           GError **error);
/* Run @work(@data) in a new thread, then @done(@data) in the main loop. */
void daemon_run_in_thread(const char *name, void (*work)(gpointer data),
                          void (*done)(gpointer data), gpointer data);

/* --- event callbacks registered by clients (daemon-events.c) */
typedef struct {
    int callback_id;
    RpcFamily family;
    int event_id;
    bool legacy;               /* registered with the pre-callback procedures */
    bool has_filter;
    guint8 uuid[16];
} DaemonEventCallback;

/* Build the message for one matching callback of one client.  Return the
 * payload encoder and data via the out parameters, or false to skip. */
typedef void (*DaemonEventSendFunc)(DaemonClient *client, const DaemonEventCallback *cb,
                                    gpointer data);
/* Call @send for every client callback that wants (family, event_id) for
 * the object @uuid (NULL: no object). Safe from any thread. */
void daemon_events_emit(RpcFamily family, int event_id, const guint8 *uuid,
                        DaemonEventSendFunc send, gpointer data);
