/*
 * daemon-main.c: options, paths, sockets (own or from systemd), the main
 * loop, the worker pool, idle exit, signals and privileges.
 */
#define G_LOG_DOMAIN "modvirt.daemon"

#include "daemon-priv.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cap-ng.h>
#include <glib-unix.h>

#include "daemon-sd.h"
#include "modvirt-config.h"
#include "util-config.h"
#include "util-error.h"

#define DAEMON_MAX_LISTENERS 16

typedef struct {
    int fd;
    DaemonSocketKind kind;
    char *path;            /* we bound it ourselves: unlink at exit */
    guint watch;
} DaemonListener;

typedef struct {
    const DaemonDriver *driver;
    DaemonPaths paths;
    DaemonLimits limits;
    bool privileged;
    bool activated;        /* sockets came from systemd */
    GMainLoop *loop;
    GMainContext *ctx;
    GThreadPool *workers;
    DaemonListener listeners[DAEMON_MAX_LISTENERS];
    size_t nlisteners;
    GList *clients;        /* DaemonClient*, under events lock */
    unsigned int nclients;
    guint idle_timer;
    guint keepalive_timer;
    int pidfd;
    char *pidfile;
    int exit_status;
} DaemonServer;

static DaemonServer daemon_server;

static const char *const daemon_socket_suffix[] = {
    [DAEMON_SOCKET_RW] = "-sock",
    [DAEMON_SOCKET_RO] = "-sock-ro",
    [DAEMON_SOCKET_ADMIN] = "-admin-sock",
};
G_STATIC_ASSERT(G_N_ELEMENTS(daemon_socket_suffix) == DAEMON_SOCKET_LAST);

static const char *const daemon_unit_suffix[] = {
    [DAEMON_SOCKET_RW] = ".socket",
    [DAEMON_SOCKET_RO] = "-ro.socket",
    [DAEMON_SOCKET_ADMIN] = "-admin.socket",
};
G_STATIC_ASSERT(G_N_ELEMENTS(daemon_unit_suffix) == DAEMON_SOCKET_LAST);

static const mode_t daemon_socket_mode[] = {
    [DAEMON_SOCKET_RW] = 0600,
    [DAEMON_SOCKET_RO] = 0666,
    [DAEMON_SOCKET_ADMIN] = 0600,
};
G_STATIC_ASSERT(G_N_ELEMENTS(daemon_socket_mode) == DAEMON_SOCKET_LAST);

const DaemonDriver *
daemon_driver(void)
{
    return daemon_server.driver;
}

const DaemonPaths *
daemon_paths(void)
{
    return &daemon_server.paths;
}

const DaemonLimits *
daemon_limits(void)
{
    return &daemon_server.limits;
}

bool
daemon_is_privileged(void)
{
    return daemon_server.privileged;
}

GMainContext *
daemon_main_context(void)
{
    return daemon_server.ctx;
}

GList *
daemon_server_clients_locked(void)
{
    return daemon_server.clients;
}

char *
daemon_binary_path(const char *name)
{
    const char *dir = g_getenv("MODVIRT_DAEMON_DIR");
    g_autofree char *self = NULL;
    g_autofree char *build = NULL;

    if (dir && *dir)
        return g_build_filename(dir, name, NULL);
    /* running from the build tree: the daemons are siblings by directory */
    self = g_file_read_link("/proc/self/exe", NULL);
    if (self) {
        g_autofree char *bindir = g_path_get_dirname(self);
        g_autofree char *top = g_path_get_dirname(bindir);
        g_autofree char *subdir = g_str_equal(name, "virtproxyd") ? g_strdup("proxyd") : g_strdup(name);
        g_autofree char *sibling = g_build_filename(bindir, name, NULL);

        if (g_file_test(sibling, G_FILE_TEST_IS_EXECUTABLE))
            return g_steal_pointer(&sibling);
        build = g_build_filename(top, subdir, name, NULL);
        if (g_file_test(build, G_FILE_TEST_IS_EXECUTABLE))
            return g_steal_pointer(&build);
    }
    return g_build_filename(MODVIRT_SBINDIR, name, NULL);
}

/* ------------------------------------------------------------ config */

/* One setting of <configdir>/<daemon>.conf: every one is an integer. */
static bool
daemon_config_setting(const char *path, int line, const char *key, const char *val,
                      gpointer data, GError **error)
{
    char *end = NULL;
    gint64 num;

    errno = 0;
    num = g_ascii_strtoll(val, &end, 10);
    if (errno || end == val || *end != '\0' || num < 0 || num > G_MAXINT) {
        util_error_set(error, VIR_FROM_CONF, VIR_ERR_CONF_SYNTAX,
                       "%s:%d: '%s' needs a non-negative integer, not '%s'",
                       path, line, key, val);
        return false;
    }
    if (g_str_equal(key, "max_clients"))
        daemon_server.limits.max_clients = num;
    else if (g_str_equal(key, "max_client_requests"))
        daemon_server.limits.max_client_requests = num;
    else if (g_str_equal(key, "max_queued_requests"))
        daemon_server.limits.max_queued_requests = num;
    else if (g_str_equal(key, "max_message_size"))
        daemon_server.limits.max_message = num;
    else if (g_str_equal(key, "max_workers"))
        daemon_server.limits.max_workers = num;
    else if (g_str_equal(key, "keepalive_interval"))
        daemon_server.limits.keepalive_interval = num;
    else if (g_str_equal(key, "keepalive_count"))
        daemon_server.limits.keepalive_count = num;
    else if (g_str_equal(key, "timeout"))
        daemon_server.limits.timeout = num;
    else
        g_warning("%s:%d: unknown setting '%s' ignored", path, line, key);
    return true;
}

static bool
daemon_config_load(const char *path, GError **error)
{
    return util_config_read(path, daemon_config_setting, NULL, error);
}

static bool
daemon_check_limits(GError **error)
{
    DaemonLimits *l = &daemon_server.limits;

    if (l->max_clients == 0 || l->max_client_requests == 0 || l->max_workers == 0) {
        util_error_set(error, VIR_FROM_CONF, VIR_ERR_CONF_SYNTAX,
                       "max_clients, max_client_requests and max_workers must be at least 1");
        return false;
    }
    if (l->max_message < 1024 || l->max_message > RPC_MAX_MESSAGE) {
        util_error_set(error, VIR_FROM_CONF, VIR_ERR_CONF_SYNTAX,
                       "max_message_size must be between 1024 and %d", RPC_MAX_MESSAGE);
        return false;
    }
    return true;
}

static void
daemon_paths_init(const char *root)
{
    DaemonPaths *p = &daemon_server.paths;

    if (root) {
        p->root = g_canonicalize_filename(root, NULL);
        p->rundir = g_build_filename(p->root, "run", NULL);
        p->sockdir = g_strdup(p->rundir);
        p->configdir = g_build_filename(p->root, "etc", NULL);
        p->statedir = g_build_filename(p->root, "lib", NULL);
        p->logdir = g_build_filename(p->root, "log", NULL);
    } else if (geteuid() != 0) {
        /* session daemons: the user's own directories */
        p->rundir = g_build_filename(g_get_user_runtime_dir(), "modvirt", NULL);
        p->sockdir = g_strdup(p->rundir);
        p->configdir = g_build_filename(g_get_user_config_dir(), "modvirt", NULL);
        p->statedir = g_build_filename(g_get_user_state_dir(), "modvirt", NULL);
        p->logdir = g_build_filename(g_get_user_state_dir(), "modvirt", "log", NULL);
    } else {
        p->rundir = g_build_filename(MODVIRT_RUNSTATEDIR, "modvirt", NULL);
        p->sockdir = g_strdup(p->rundir);
        p->configdir = g_build_filename(MODVIRT_SYSCONFDIR, "modvirt", NULL);
        p->statedir = g_build_filename(MODVIRT_LOCALSTATEDIR, "lib", "modvirt", NULL);
        p->logdir = g_build_filename(MODVIRT_LOCALSTATEDIR, "log", "modvirt", NULL);
    }
}

static void
daemon_paths_clear(void)
{
    DaemonPaths *p = &daemon_server.paths;

    g_clear_pointer(&p->root, g_free);
    g_clear_pointer(&p->rundir, g_free);
    g_clear_pointer(&p->sockdir, g_free);
    g_clear_pointer(&p->configdir, g_free);
    g_clear_pointer(&p->statedir, g_free);
    g_clear_pointer(&p->logdir, g_free);
}

static bool
daemon_make_dirs(GError **error)
{
    const DaemonPaths *p = &daemon_server.paths;
    const char *dirs[] = { p->rundir, p->sockdir, p->configdir, p->statedir };

    for (size_t i = 0; i < G_N_ELEMENTS(dirs); i++) {
        if (g_mkdir_with_parents(dirs[i], 0755) < 0) {
            util_error_set_errno(error, VIR_FROM_NONE, errno,
                                 "cannot create directory '%s'", dirs[i]);
            return false;
        }
    }
    return true;
}

/* One daemon of a kind per root: a locked pid file in the run directory. */
static bool
daemon_pidfile_acquire(GError **error)
{
    DaemonServer *s = &daemon_server;
    g_autofree char *text = NULL;
    g_autofd_mv int fd = -1;

    s->pidfile = g_strdup_printf("%s/%s.pid", s->paths.rundir, s->driver->name);
    fd = open(s->pidfile, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        util_error_set_errno(error, VIR_FROM_NONE, errno, "cannot open pid file '%s'", s->pidfile);
        return false;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        char buf[32] = "";
        ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
        if (n > 0)
            buf[n] = '\0';
        util_error_set(error, VIR_FROM_NONE, VIR_ERR_OPERATION_INVALID,
                       "%s is already running (pid %s) for '%s'", s->driver->name,
                       g_strstrip(buf), s->paths.rundir);
        g_clear_pointer(&s->pidfile, g_free);
        return false;
    }
    text = g_strdup_printf("%d\n", (int)getpid());
    if (ftruncate(fd, 0) < 0 || pwrite(fd, text, strlen(text), 0) < 0) {
        util_error_set_errno(error, VIR_FROM_NONE, errno, "cannot write pid file '%s'", s->pidfile);
        return false;
    }
    s->pidfd = g_steal_fd(&fd);
    return true;
}

static void
daemon_pidfile_release(void)
{
    DaemonServer *s = &daemon_server;

    if (s->pidfd >= 0) {
        unlink(s->pidfile);
        close(s->pidfd);
        s->pidfd = -1;
    }
    g_clear_pointer(&s->pidfile, g_free);
}

/* ------------------------------------------------------------ clients */

static gpointer
daemon_client_copy_ref(gconstpointer src, gpointer data G_GNUC_UNUSED)
{
    return daemon_client_ref((DaemonClient *)src);
}

static gboolean daemon_idle_timeout_cb(gpointer data);

static void
daemon_idle_update(void)
{
    DaemonServer *s = &daemon_server;

    if (s->nclients == 0 && s->limits.timeout > 0 && !s->idle_timer) {
        s->idle_timer = g_timeout_add_seconds(s->limits.timeout, daemon_idle_timeout_cb, NULL);
    } else if (s->nclients > 0 && s->idle_timer) {
        g_source_remove(s->idle_timer);
        s->idle_timer = 0;
    }
}

static gboolean
daemon_idle_timeout_cb(gpointer data G_GNUC_UNUSED)
{
    DaemonServer *s = &daemon_server;

    s->idle_timer = 0;
    if (s->nclients > 0)
        return G_SOURCE_REMOVE;
    if (s->driver->inhibit_idle_exit && s->driver->inhibit_idle_exit()) {
        g_debug("idle timeout reached, but exit is inhibited; checking again later");
        daemon_idle_update();
        return G_SOURCE_REMOVE;
    }
    g_info("no client for %d seconds: exiting", s->limits.timeout);
    g_main_loop_quit(s->loop);
    return G_SOURCE_REMOVE;
}

void
daemon_server_client_gone(DaemonClient *client)
{
    DaemonServer *s = &daemon_server;
    GList *link;

    daemon_events_lock();
    link = g_list_find(s->clients, client);
    if (link)
        s->clients = g_list_delete_link(s->clients, link);
    daemon_events_unlock();
    if (!link)
        return;
    s->nclients--;
    if (s->driver->client_closed)
        s->driver->client_closed(client);
    daemon_idle_update();
    daemon_client_unref(client);
}

static gboolean
daemon_reject_timeout_cb(gpointer data)
{
    daemon_client_close(data);
    return G_SOURCE_REMOVE;
}

DaemonClient *
daemon_server_add_client(int fd, DaemonSocketKind kind)
{
    DaemonServer *s = &daemon_server;
    DaemonClient *client;
    bool rejected;

    rejected = s->nclients >= s->limits.max_clients;
    if (rejected)
        g_warning("too many active clients (%u), rejecting a new connection",
                  s->limits.max_clients);
    client = daemon_client_new(fd, kind, rejected);
    if (rejected) {
        /* a silent client over the limit must not keep its slot */
        g_timeout_add_seconds_full(G_PRIORITY_DEFAULT, 5, daemon_reject_timeout_cb,
                                   daemon_client_ref(client),
                                   (GDestroyNotify)daemon_client_unref);
    }
    daemon_events_lock();
    s->clients = g_list_prepend(s->clients, client);
    daemon_events_unlock();
    s->nclients++;
    daemon_idle_update();
    return client;
}

static gboolean
daemon_accept_cb(gint fd, GIOCondition cond G_GNUC_UNUSED, gpointer data)
{
    DaemonListener *l = data;
    int cfd;

    cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (cfd < 0) {
        if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
            g_warning("cannot accept a connection: %s", g_strerror(errno));
        return G_SOURCE_CONTINUE;
    }
    daemon_server_add_client(cfd, l->kind);
    return G_SOURCE_CONTINUE;
}

static gboolean
daemon_keepalive_cb(gpointer data G_GNUC_UNUSED)
{
    gint64 now = g_get_monotonic_time();
    GList *copy;

    daemon_events_lock();
    copy = g_list_copy_deep(daemon_server.clients, daemon_client_copy_ref, NULL);
    daemon_events_unlock();
    for (GList *l = copy; l; l = l->next)
        daemon_client_keepalive_tick(l->data, now);
    g_list_free_full(copy, (GDestroyNotify)daemon_client_unref);
    return G_SOURCE_CONTINUE;
}

/* ------------------------------------------------------------ workers */

static void
daemon_worker_func(gpointer data, gpointer user_data G_GNUC_UNUSED)
{
    daemon_job_run(data);
}

void
daemon_server_push_job(DaemonJob *job)
{
    g_thread_pool_push(daemon_server.workers, job, NULL);
}

/* ------------------------------------------------------------ sockets */

static bool
daemon_add_listener(int fd, DaemonSocketKind kind, const char *path, GError **error)
{
    DaemonServer *s = &daemon_server;
    DaemonListener *l;

    if (s->nlisteners >= DAEMON_MAX_LISTENERS) {
        util_error_set(error, VIR_FROM_RPC, VIR_ERR_INTERNAL_ERROR, "too many listening sockets");
        return false;
    }
    g_unix_set_fd_nonblocking(fd, TRUE, NULL);
    l = &s->listeners[s->nlisteners++];
    l->fd = fd;
    l->kind = kind;
    l->path = g_strdup(path);
    return true;
}

static bool
daemon_sockets_from_systemd(bool *ret_activated, GError **error)
{
    DaemonServer *s = &daemon_server;
    g_auto(GStrv) names = NULL;
    int n;

    *ret_activated = false;
    n = daemon_sd_listen_fds(&names, error);
    if (n < 0)
        return false;
    if (n == 0)
        return true;
    if (!names || g_strv_length(names) != (guint)n) {
        util_error_set(error, VIR_FROM_RPC, VIR_ERR_INTERNAL_ERROR,
                       "systemd passed %d sockets without LISTEN_FDNAMES naming each", n);
        return false;
    }
    for (int i = 0; i < n; i++) {
        int fd = DAEMON_SD_LISTEN_FDS_START + i;
        int kind = -1;

        for (int k = 0; k < DAEMON_SOCKET_LAST; k++) {
            g_autofree char *want = g_strconcat(s->driver->name, daemon_unit_suffix[k], NULL);
            if (g_str_equal(names[i], want))
                kind = k;
        }
        if (kind < 0) {
            util_error_set(error, VIR_FROM_RPC, VIR_ERR_INTERNAL_ERROR,
                           "systemd passed socket '%s', which %s does not serve (expected %s.socket, %s-ro.socket or %s-admin.socket)",
                           names[i], s->driver->name, s->driver->name, s->driver->name,
                           s->driver->name);
            return false;
        }
        if (!daemon_sd_is_unix_stream_listener(fd)) {
            util_error_set(error, VIR_FROM_RPC, VIR_ERR_INTERNAL_ERROR,
                           "systemd socket '%s' (fd %d) is not a listening UNIX stream socket",
                           names[i], fd);
            return false;
        }
        if (!daemon_add_listener(fd, kind, NULL, error))
            return false;
    }
    *ret_activated = true;
    return true;
}

static int
daemon_bind_unix(const char *path, mode_t mode, GError **error)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    g_autofd_mv int fd = -1;
    mode_t old;

    if (strlen(path) >= sizeof(addr.sun_path)) {
        util_error_set(error, VIR_FROM_RPC, VIR_ERR_INTERNAL_ERROR,
                       "socket path '%s' is too long", path);
        return -1;
    }
    strcpy(addr.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        util_error_set_errno(error, VIR_FROM_RPC, errno, "cannot create socket");
        return -1;
    }
    /* A live socket means another instance serves it; a dead one is stale. */
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0) {
        util_error_set(error, VIR_FROM_RPC, VIR_ERR_OPERATION_INVALID,
                       "another daemon is already listening on '%s'", path);
        return -1;
    }
    close(fd);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        util_error_set_errno(error, VIR_FROM_RPC, errno, "cannot create socket");
        return -1;
    }
    unlink(path);
    old = umask(0777 & ~mode);
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        int err = errno;
        umask(old);
        util_error_set_errno(error, VIR_FROM_RPC, err, "cannot bind socket '%s'", path);
        return -1;
    }
    umask(old);
    if (chmod(path, mode) < 0 || listen(fd, 64) < 0) {
        util_error_set_errno(error, VIR_FROM_RPC, errno, "cannot listen on '%s'", path);
        unlink(path);
        return -1;
    }
    return g_steal_fd(&fd);
}

static bool
daemon_sockets_bind(GError **error)
{
    DaemonServer *s = &daemon_server;

    for (int k = 0; k < DAEMON_SOCKET_LAST; k++) {
        g_autofree char *path = g_strconcat(s->paths.sockdir, "/", s->driver->name,
                                            daemon_socket_suffix[k], NULL);
        int fd = daemon_bind_unix(path, daemon_socket_mode[k], error);

        if (fd < 0)
            return false;
        if (!daemon_add_listener(fd, k, path, error)) {
            close(fd);
            return false;
        }
    }
    return true;
}

static void
daemon_sockets_close(void)
{
    DaemonServer *s = &daemon_server;

    for (size_t i = 0; i < s->nlisteners; i++) {
        DaemonListener *l = &s->listeners[i];
        if (l->watch)
            g_source_remove(l->watch);
        close(l->fd);
        if (l->path)
            unlink(l->path);
        g_free(l->path);
    }
    s->nlisteners = 0;
}

/* ------------------------------------------------------------ privileges */

static bool
daemon_drop_capabilities(GError **error)
{
    const int *keep = daemon_server.driver->keep_caps;
    g_autoptr(GArray) have = g_array_new(FALSE, FALSE, sizeof(int));
    int rc;

    if (geteuid() != 0)
        return true;
    /* Keep only what the daemon needs *and* holds now: a container or a
     * unit's CapabilityBoundingSet= may already have taken some away. */
    capng_get_caps_process();
    for (int i = 0; keep && keep[i] >= 0; i++) {
        if (capng_have_capability(CAPNG_PERMITTED, keep[i]))
            g_array_append_val(have, keep[i]);
        else
            g_debug("capability %s is not available; continuing without it",
                    capng_capability_to_name(keep[i]));
    }
    /* Only the effective/permitted sets: the bounding set is systemd's to
     * set (CapabilityBoundingSet=), and in embedded mode the proxy starts
     * other daemons, which regain what root is allowed on exec. */
    capng_clear(CAPNG_SELECT_CAPS);
    for (guint i = 0; i < have->len; i++)
        capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED, g_array_index(have, int, i));
    rc = capng_apply(CAPNG_SELECT_CAPS);
    if (rc < 0) {
        util_error_set(error, VIR_FROM_NONE, VIR_ERR_SYSTEM_ERROR,
                       "cannot drop capabilities (libcap-ng error %d)", rc);
        return false;
    }
    return true;
}

/* ------------------------------------------------------------ main */

static gboolean
daemon_signal_quit(gpointer data)
{
    g_info("received %s: shutting down", (const char *)data);
    g_main_loop_quit(daemon_server.loop);
    return G_SOURCE_CONTINUE;
}

static gboolean
daemon_signal_hup(gpointer data G_GNUC_UNUSED)
{
    g_info("received SIGHUP: nothing to reload");
    return G_SOURCE_CONTINUE;
}

int
daemon_main(const DaemonDriver *driver, int argc, char **argv)
{
    DaemonServer *s = &daemon_server;
    g_autoptr(GError) error = NULL;
    g_autoptr(GOptionContext) octx = NULL;
    g_autofree char *root = NULL;
    g_autofree char *config = NULL;
    int timeout = -1;
    int max_clients = -1;
    int max_requests = -1;
    gboolean verbose = FALSE;
    gboolean version = FALSE;
    bool activated = false;
    GOptionEntry entries[] = {
        { "timeout", 't', 0, G_OPTION_ARG_INT, &timeout,
          "Exit after SECONDS with no client connected (0 = never)", "SECONDS" },
        { "root", 'r', 0, G_OPTION_ARG_FILENAME, &root,
          "Embedded mode: keep sockets, configuration and state under DIR", "DIR" },
        { "config", 'f', 0, G_OPTION_ARG_FILENAME, &config,
          "Configuration file (default <configdir>/<daemon>.conf)", "FILE" },
        { "max-clients", 0, 0, G_OPTION_ARG_INT, &max_clients,
          "Maximum number of connected clients", "N" },
        { "max-client-requests", 0, 0, G_OPTION_ARG_INT, &max_requests,
          "Maximum calls in flight per client", "N" },
        { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "Log debug messages", NULL },
        { "version", 'V', 0, G_OPTION_ARG_NONE, &version, "Print the version", NULL },
        { NULL }
    };

    s->driver = driver;
    s->exit_status = EXIT_FAILURE;
    s->pidfd = -1;
    s->limits = (DaemonLimits) {
        .timeout = 120,
        .max_clients = 5000,
        .max_client_requests = 5,
        .max_queued_requests = 1000,
        .max_message = RPC_MAX_MESSAGE,
        .max_workers = 5,
        .keepalive_interval = 5,
        .keepalive_count = 5,
    };

    octx = g_option_context_new(NULL);
    g_option_context_set_summary(octx, driver->description);
    g_option_context_add_main_entries(octx, entries, NULL);
    if (!g_option_context_parse(octx, &argc, &argv, &error)) {
        fprintf(stderr, "%s: %s\n", driver->name, error->message);
        return EXIT_FAILURE;
    }
    if (version) {
        printf("%s (modvirt) %s\n", driver->name, MODVIRT_VERSION);
        return EXIT_SUCCESS;
    }
    if (argc > 1) {
        fprintf(stderr, "%s: unexpected argument '%s'\n", driver->name, argv[1]);
        return EXIT_FAILURE;
    }
    if (verbose)
        g_setenv("G_MESSAGES_DEBUG", "all", TRUE);
    if (!root && g_getenv("MODVIRT_ROOT") && *g_getenv("MODVIRT_ROOT"))
        root = g_strdup(g_getenv("MODVIRT_ROOT"));

    signal(SIGPIPE, SIG_IGN);
    s->privileged = geteuid() == 0;
    daemon_paths_init(root);
    if (!config)
        config = g_strdup_printf("%s/%s.conf", s->paths.configdir, driver->name);
    if (!daemon_config_load(config, &error))
        goto fail;
    if (timeout >= 0)
        s->limits.timeout = timeout;
    if (max_clients >= 0)
        s->limits.max_clients = max_clients;
    if (max_requests >= 0)
        s->limits.max_client_requests = max_requests;
    if (!daemon_check_limits(&error))
        goto fail;
    if (!daemon_make_dirs(&error))
        goto fail;
    if (!daemon_pidfile_acquire(&error))
        goto fail;

    s->ctx = g_main_context_default();
    s->loop = g_main_loop_new(s->ctx, FALSE);
    s->workers = g_thread_pool_new(daemon_worker_func, NULL, s->limits.max_workers, FALSE, NULL);

    if (!daemon_sockets_from_systemd(&activated, &error))
        goto fail;
    s->activated = activated;
    if (!activated && !daemon_sockets_bind(&error))
        goto fail;
    if (!daemon_drop_capabilities(&error))
        goto fail;
    if (driver->init && !driver->init(&error))
        goto fail;

    for (size_t i = 0; i < s->nlisteners; i++)
        s->listeners[i].watch = g_unix_fd_add(s->listeners[i].fd, G_IO_IN,
                                              daemon_accept_cb, &s->listeners[i]);
    g_unix_signal_add(SIGTERM, daemon_signal_quit, (gpointer)"SIGTERM");
    g_unix_signal_add(SIGINT, daemon_signal_quit, (gpointer)"SIGINT");
    g_unix_signal_add(SIGHUP, daemon_signal_hup, NULL);
    s->keepalive_timer = g_timeout_add_seconds(1, daemon_keepalive_cb, NULL);
    daemon_idle_update();

    g_info("%s ready (%s mode, sockets in %s%s)", driver->name,
           s->paths.root ? "embedded" : "system", s->paths.sockdir,
           activated ? ", from systemd" : "");
    daemon_sd_notify("READY=1");
    g_main_loop_run(s->loop);
    daemon_sd_notify("STOPPING=1");
    s->exit_status = EXIT_SUCCESS;

    /* stop taking clients, drop the ones we have, finish running calls */
    daemon_sockets_close();
    {
        GList *copy;
        daemon_events_lock();
        copy = g_list_copy_deep(s->clients, daemon_client_copy_ref, NULL);
        daemon_events_unlock();
        for (GList *l = copy; l; l = l->next)
            daemon_client_close(l->data);
        g_list_free_full(copy, (GDestroyNotify)daemon_client_unref);
    }
    g_thread_pool_free(s->workers, FALSE, TRUE);
    s->workers = NULL;
    if (driver->cleanup)
        driver->cleanup();
    goto done;

 fail:
    g_critical("%s: %s", driver->name, error ? error->message : "startup failed");
    fprintf(stderr, "%s: %s\n", driver->name, error ? error->message : "startup failed");
    daemon_sockets_close();
 done:
    if (s->keepalive_timer)
        g_source_remove(s->keepalive_timer);
    if (s->idle_timer)
        g_source_remove(s->idle_timer);
    g_clear_pointer(&s->loop, g_main_loop_unref);
    daemon_pidfile_release();
    daemon_paths_clear();
    return s->exit_status;
}
