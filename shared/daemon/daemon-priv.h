/*
 * daemon-priv.h: what the pieces of shared/daemon share among themselves.
 */
#pragma once

#include "daemon.h"

struct _DaemonClient {
    gint refs;
    RpcConn *conn;
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

/* daemon-client.c */
DaemonClient *daemon_client_new(int fd, DaemonSocketKind kind, bool rejected);
void daemon_job_run(DaemonJob *job);
void daemon_client_keepalive_tick(DaemonClient *client, gint64 now);

/* daemon-common.c: the connection-level handlers every daemon shares */
extern const AdminServerOps daemon_admin_ops;

/* daemon-events.c */
int daemon_events_next_id(void);
void daemon_events_lock(void);
void daemon_events_unlock(void);
GList *daemon_server_clients_locked(void);
