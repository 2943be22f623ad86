/*
 * daemon-priv.h: what the pieces of shared/daemon share among themselves.
 */
#pragma once

#include "daemon.h"

typedef struct _DaemonExact DaemonExact;
typedef struct _DaemonForward DaemonForward;

struct _DaemonClient {
    gint refs;
    RpcConn *conn;
    /* Reading one message at a time, never past it (main thread only):
     * the proxy's clients until they are handed off, and the first message
     * on an admin socket (which may carry a handoff).  NULL: RpcConn reads. */
    DaemonExact *exact;
    DaemonForward *forward;    /* storage/network calls forwarded (main thread) */
    DaemonSocketKind kind;
    bool readonly;
    bool rejected;             /* over max_clients: answer once, then close */

    GMutex lock;               /* protects everything below */
    bool closed;
    bool opened;
    char *uri;
    bool keepalive;
    gint64 last_rx;            /* monotonic microseconds */
    gint64 last_ping;
    unsigned int pings_unanswered;
    unsigned int in_flight;    /* calls running on workers */
    GQueue pending;            /* DaemonJob* waiting for a slot */
    size_t pending_bytes;      /* message bytes held in pending */
    bool paused;               /* reading stopped until pending drains */
    GList *callbacks;          /* DaemonEventCallback* */
    gpointer priv;
};

typedef struct {
    DaemonClient *client;      /* a reference */
    RpcServerCall call;
    guint8 *msg;
    size_t len;
} DaemonJob;

/* daemon-main.c */
void daemon_server_client_gone(DaemonClient *client);
void daemon_server_push_job(DaemonJob *job);

/* daemon-main.c: a new client on @fd (accepted, or handed over) */
DaemonClient *daemon_server_add_client(int fd, DaemonSocketKind kind);

/* daemon-client.c */
DaemonClient *daemon_client_new(int fd, DaemonSocketKind kind, bool rejected);
/* Process @msg as if it had been read from the client (main thread). */
void daemon_client_inject(DaemonClient *client, guint8 *msg, size_t len);

/* daemon-handoff.c */
#define DAEMON_HANDOFF_PROGRAM 0x6d766866      /* "mvhf": modvirt-private */
#define DAEMON_HANDOFF_VERSION 1
#define DAEMON_HANDOFF_PROC_ADOPT 1
/* An admin-socket client's first message was a handoff: adopt the client
 * socket it carries (@fds, owned). */
void daemon_handoff_adopt(DaemonClient *admin, const RpcHeader *hdr, const guint8 *msg,
                          size_t len, int *fds, size_t nfds);

/* daemon-forward.c */
/* Forward @msg if it is a call this daemon leaves to another; takes @msg
 * and returns true if so. */
bool daemon_forward_message(DaemonClient *client, const RpcHeader *hdr, guint8 *msg,
                            size_t len);
void daemon_forward_client_closed(DaemonClient *client);
void daemon_forward_free(DaemonForward *fwd);
void daemon_job_run(DaemonJob *job);
void daemon_client_keepalive_tick(DaemonClient *client, gint64 now);

/* daemon-common.c: the connection-level handlers every daemon shares */
extern const AdminServerOps daemon_admin_ops;

/* daemon-events.c */
int daemon_events_next_id(void);
void daemon_events_lock(void);
void daemon_events_unlock(void);
GList *daemon_server_clients_locked(void);
