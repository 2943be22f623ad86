/*
 * daemon-events.c: event callbacks registered by clients, and their
 * delivery.  One lock guards the list of clients and every client's
 * callbacks, so drivers may emit events from any thread.
 */
#define G_LOG_DOMAIN "modvirt.daemon"

#include "daemon-priv.h"

#include <string.h>

static GMutex daemon_events_mutex;
static gint daemon_events_counter;

void
daemon_events_lock(void)
{
    g_mutex_lock(&daemon_events_mutex);
}

void
daemon_events_unlock(void)
{
    g_mutex_unlock(&daemon_events_mutex);
}

int
daemon_events_next_id(void)
{
    return g_atomic_int_add(&daemon_events_counter, 1) + 1;
}

void
daemon_events_emit(RpcFamily family, int event_id, const guint8 *uuid,
                   DaemonEventSendFunc send, gpointer data)
{
    typedef struct {
        DaemonClient *client;
        DaemonEventCallback cb;
    } Target;
    g_autoptr(GArray) targets = g_array_new(FALSE, FALSE, sizeof(Target));

    daemon_events_lock();
    for (GList *l = daemon_server_clients_locked(); l; l = l->next) {
        DaemonClient *client = l->data;

        for (GList *c = client->callbacks; c; c = c->next) {
            DaemonEventCallback *cb = c->data;
            Target t;

            if (cb->family != family || cb->event_id != event_id)
                continue;
            if (cb->has_filter && (!uuid || memcmp(cb->uuid, uuid, 16) != 0))
                continue;
            t.client = daemon_client_ref(client);
            t.cb = *cb;
            g_array_append_val(targets, t);
        }
    }
    daemon_events_unlock();

    /* send outside the lock: encoding may take a while */
    for (guint i = 0; i < targets->len; i++) {
        Target *t = &g_array_index(targets, Target, i);
        send(t->client, &t->cb, data);
        daemon_client_unref(t->client);
    }
}
