/*
 * client-event-loop.c: the event loop API of libvirt-event.h: the
 * application's own implementation (virEventRegisterImpl) or the default
 * one, a private GMainContext run one iteration per virEventRunDefaultImpl.
 *
 * The library itself only uses virEventAddHandle / virEventAddTimeout and
 * friends, so connections deliver events through whichever loop the
 * application registered.
 */
#define G_LOG_DOMAIN "modvirt.client"

#include <glib-unix.h>

#include "client-internal.h"

typedef struct {
    virEventAddHandleFunc add_handle;
    virEventUpdateHandleFunc update_handle;
    virEventRemoveHandleFunc remove_handle;
    virEventAddTimeoutFunc add_timeout;
    virEventUpdateTimeoutFunc update_timeout;
    virEventRemoveTimeoutFunc remove_timeout;
} ClientEventImpl;

static GMutex client_event_lock;
static ClientEventImpl client_event_impl;       /* all NULL until registered */

/* ------------------------------------------------------------ default loop */

typedef struct {
    GSource source;
    int id;
    bool is_timer;
    /* handles */
    int fd;
    gpointer tag;
    virEventHandleCallback handle_cb;
    /* timers */
    int frequency;                  /* ms; -1 disabled, 0 every iteration */
    virEventTimeoutCallback timer_cb;
    void *opaque;
    virFreeCallback ff;
} ClientEventSource;

static GMainContext *client_loop_ctx;
static GHashTable *client_loop_sources;         /* id -> ClientEventSource* */
static int client_loop_next_id = 1;

static GIOCondition
client_loop_condition(int events)
{
    GIOCondition cond = 0;

    if (events & VIR_EVENT_HANDLE_READABLE)
        cond |= G_IO_IN;
    if (events & VIR_EVENT_HANDLE_WRITABLE)
        cond |= G_IO_OUT;
    /* errors and hangups are always reported, as poll(2) does */
    return cond | G_IO_ERR | G_IO_HUP;
}

static int
client_loop_events(GIOCondition cond)
{
    int events = 0;

    if (cond & G_IO_IN)
        events |= VIR_EVENT_HANDLE_READABLE;
    if (cond & G_IO_OUT)
        events |= VIR_EVENT_HANDLE_WRITABLE;
    if (cond & G_IO_ERR)
        events |= VIR_EVENT_HANDLE_ERROR;
    if (cond & G_IO_HUP)
        events |= VIR_EVENT_HANDLE_HANGUP;
    return events;
}

static void
client_loop_arm_timer(ClientEventSource *src)
{
    if (src->frequency < 0)
        g_source_set_ready_time(&src->source, -1);
    else
        g_source_set_ready_time(&src->source,
                                g_get_monotonic_time() + (gint64)src->frequency * 1000);
}

static gboolean
client_loop_dispatch(GSource *source, GSourceFunc callback G_GNUC_UNUSED,
                     gpointer user_data G_GNUC_UNUSED)
{
    ClientEventSource *src = (ClientEventSource *)source;

    if (src->is_timer) {
        client_loop_arm_timer(src);
        src->timer_cb(src->id, src->opaque);
    } else {
        GIOCondition cond = g_source_query_unix_fd(source, src->tag);
        int events = client_loop_events(cond);

        if (events)
            src->handle_cb(src->id, src->fd, events, src->opaque);
    }
    return G_SOURCE_CONTINUE;
}

static void
client_loop_finalize(GSource *source)
{
    ClientEventSource *src = (ClientEventSource *)source;

    if (src->ff)
        src->ff(src->opaque);
}

static GSourceFuncs client_loop_source_funcs = {
    .dispatch = client_loop_dispatch,
    .finalize = client_loop_finalize,
};

static ClientEventSource *
client_loop_source_new(bool is_timer, void *opaque, virFreeCallback ff)
{
    ClientEventSource *src = (ClientEventSource *)g_source_new(&client_loop_source_funcs,
                                                               sizeof(ClientEventSource));

    src->is_timer = is_timer;
    src->opaque = opaque;
    src->ff = ff;
    src->fd = -1;
    g_mutex_lock(&client_event_lock);
    src->id = client_loop_next_id++;
    g_hash_table_insert(client_loop_sources, GINT_TO_POINTER(src->id), src);
    g_mutex_unlock(&client_event_lock);
    g_source_attach(&src->source, client_loop_ctx);
    return src;
}

/* The source with @id, with a reference, or NULL. */
static ClientEventSource *
client_loop_source_get(int id, bool is_timer)
{
    ClientEventSource *src = NULL;

    g_mutex_lock(&client_event_lock);
    src = g_hash_table_lookup(client_loop_sources, GINT_TO_POINTER(id));
    if (src && src->is_timer == is_timer)
        g_source_ref(&src->source);
    else
        src = NULL;
    g_mutex_unlock(&client_event_lock);
    return src;
}

static int
client_loop_add_handle(int fd, int events, virEventHandleCallback cb, void *opaque,
                       virFreeCallback ff)
{
    ClientEventSource *src = client_loop_source_new(false, opaque, ff);
    int id = src->id;

    src->fd = fd;
    src->handle_cb = cb;
    src->tag = g_source_add_unix_fd(&src->source, fd, client_loop_condition(events));
    g_source_unref(&src->source);
    return id;
}

static void
client_loop_update_handle(int watch, int events)
{
    ClientEventSource *src = client_loop_source_get(watch, false);

    if (!src)
        return;
    g_source_modify_unix_fd(&src->source, src->tag, client_loop_condition(events));
    g_source_unref(&src->source);
}

static int
client_loop_remove(int id, bool is_timer)
{
    ClientEventSource *src = NULL;

    g_mutex_lock(&client_event_lock);
    src = g_hash_table_lookup(client_loop_sources, GINT_TO_POINTER(id));
    if (src && src->is_timer == is_timer)
        g_hash_table_remove(client_loop_sources, GINT_TO_POINTER(id));
    else
        src = NULL;
    g_mutex_unlock(&client_event_lock);
    if (!src)
        return -1;
    /* the free callback runs when the loop lets go of the source */
    g_source_destroy(&src->source);
    return 0;
}

static int
client_loop_remove_handle(int watch)
{
    return client_loop_remove(watch, false);
}

static int
client_loop_add_timeout(int frequency, virEventTimeoutCallback cb, void *opaque,
                        virFreeCallback ff)
{
    ClientEventSource *src = client_loop_source_new(true, opaque, ff);
    int id = src->id;

    src->frequency = frequency;
    src->timer_cb = cb;
    client_loop_arm_timer(src);
    g_source_unref(&src->source);
    return id;
}

static void
client_loop_update_timeout(int timer, int frequency)
{
    ClientEventSource *src = client_loop_source_get(timer, true);

    if (!src)
        return;
    src->frequency = frequency;
    client_loop_arm_timer(src);
    g_source_unref(&src->source);
}

static int
client_loop_remove_timeout(int timer)
{
    return client_loop_remove(timer, true);
}

/* ------------------------------------------------------------ public API */

void
virEventRegisterImpl(virEventAddHandleFunc addHandle,
                     virEventUpdateHandleFunc updateHandle,
                     virEventRemoveHandleFunc removeHandle,
                     virEventAddTimeoutFunc addTimeout,
                     virEventUpdateTimeoutFunc updateTimeout,
                     virEventRemoveTimeoutFunc removeTimeout)
{
    g_mutex_lock(&client_event_lock);
    client_event_impl = (ClientEventImpl) {
        addHandle, updateHandle, removeHandle, addTimeout, updateTimeout, removeTimeout,
    };
    g_mutex_unlock(&client_event_lock);
}

int
virEventRegisterDefaultImpl(void)
{
    virResetLastError();
    g_mutex_lock(&client_event_lock);
    if (!client_loop_ctx) {
        client_loop_ctx = g_main_context_new();
        client_loop_sources = g_hash_table_new(g_direct_hash, g_direct_equal);
    }
    g_mutex_unlock(&client_event_lock);
    virEventRegisterImpl(client_loop_add_handle, client_loop_update_handle,
                         client_loop_remove_handle, client_loop_add_timeout,
                         client_loop_update_timeout, client_loop_remove_timeout);
    return 0;
}

int
virEventRunDefaultImpl(void)
{
    virResetLastError();
    if (!client_loop_ctx) {
        client_error_set(VIR_FROM_EVENT, VIR_ERR_INTERNAL_ERROR,
                         "internal error: the default event loop is not registered");
        client_error_dispatch(NULL);
        return -1;
    }
    g_main_context_iteration(client_loop_ctx, TRUE);
    return 0;
}

bool
client_event_loop_registered(void)
{
    bool registered = false;

    g_mutex_lock(&client_event_lock);
    registered = client_event_impl.add_handle && client_event_impl.add_timeout;
    g_mutex_unlock(&client_event_lock);
    return registered;
}

static ClientEventImpl
client_event_impl_get(void)
{
    ClientEventImpl impl;

    g_mutex_lock(&client_event_lock);
    impl = client_event_impl;
    g_mutex_unlock(&client_event_lock);
    return impl;
}

int
virEventAddHandle(int fd, int events, virEventHandleCallback cb, void *opaque,
                  virFreeCallback ff)
{
    ClientEventImpl impl = client_event_impl_get();

    return impl.add_handle ? impl.add_handle(fd, events, cb, opaque, ff) : -1;
}

void
virEventUpdateHandle(int watch, int events)
{
    ClientEventImpl impl = client_event_impl_get();

    if (impl.update_handle)
        impl.update_handle(watch, events);
}

int
virEventRemoveHandle(int watch)
{
    ClientEventImpl impl = client_event_impl_get();

    return impl.remove_handle ? impl.remove_handle(watch) : -1;
}

int
virEventAddTimeout(int frequency, virEventTimeoutCallback cb, void *opaque,
                   virFreeCallback ff)
{
    ClientEventImpl impl = client_event_impl_get();

    return impl.add_timeout ? impl.add_timeout(frequency, cb, opaque, ff) : -1;
}

void
virEventUpdateTimeout(int timer, int frequency)
{
    ClientEventImpl impl = client_event_impl_get();

    if (impl.update_timeout)
        impl.update_timeout(timer, frequency);
}

int
virEventRemoveTimeout(int timer)
{
    ClientEventImpl impl = client_event_impl_get();

    return impl.remove_timeout ? impl.remove_timeout(timer) : -1;
}
