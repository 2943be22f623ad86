/*
 * qemu-process.c: QEMU processes of domains.
 *
 * Start (worker thread, job held): copy the definition into the live one,
 * complete the disks' backing chains from the image headers, name every
 * block node, build the command line, spawn QEMU detached (double fork, new
 * session, capabilities cleared, no_new_privs) with -S, write the status
 * file, connect to QMP, then resume unless asked to start paused.
 *
 * The end of QEMU is learnt from a pidfd watched on the main context (QEMU
 * need not be our child: after a restart it never is).  Whoever sees the
 * end first (the watch, or destroy waiting for it) cleans up under the
 * domain lock; the other finds nothing left to do, so every STOPPED event
 * is sent exactly once.
 *
 * QMP events arrive on the main context and only change state under the
 * domain lock; what they make us do to QEMU is sent asynchronously.
 */
#define G_LOG_DOMAIN "virtqemud.process"

#include "qemu-process.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <grp.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib-unix.h>

#include "conf-storage-chain.h"
#include "qemu-blockjob.h"
#include "qemu-caps.h"
#include "qemu-command.h"
#include "qemu-interface.h"
#include "qemu-security.h"
#include "qemu-status.h"
#include "util-error.h"
#include "util-file.h"
#include "util-process.h"

#define QEMU_START_TIMEOUT_MS 30000
#define QEMU_TERM_WAIT_MS 10000
#define QEMU_KILL_WAIT_MS 5000

static gint qemu_next_id = 1;

/* ------------------------------------------------------------ helpers */

static char *
qemu_status_path(const char *name)
{
    return g_strdup_printf("%s/%s.xml", qemu_driver_rundir(), name);
}

/* The last few KiB QEMU wrote to its log since @offset, for errors. */
static char *
qemu_log_tail(const char *path, off_t offset)
{
    g_autofd_mv int fd = open(path, O_RDONLY | O_CLOEXEC);
    char buf[4096];
    off_t end;
    ssize_t n;

    if (fd < 0)
        return g_strdup("");
    end = lseek(fd, 0, SEEK_END);
    if (end - offset > (off_t)sizeof(buf) - 1)
        offset = end - (off_t)sizeof(buf) + 1;
    n = pread(fd, buf, sizeof(buf) - 1, offset);
    if (n <= 0)
        return g_strdup("");
    buf[n] = '\0';
    return g_strstrip(g_strdup(buf));
}

/* ------------------------------------------------------------ caps */

bool
qemu_process_postparse(ConfDomainDef *def, GError **error)
{
    g_autoptr(QemuCaps) caps = NULL;

    if (def->emulator)
        caps = qemu_caps_cache_lookup(def->emulator, error);
    else
        caps = qemu_caps_cache_lookup_default(error);
    if (!caps)
        return false;
    return qemu_domain_def_postparse(def, caps, error);
}

/* ------------------------------------------------------------ status */

/* @dom->lock held. */
static bool
qemu_save_status_locked(QemuDomain *dom, GError **error)
{
    g_autofree char *path = NULL;
    QemuStatus st = { 0 };
    bool ok;

    if (!dom->live || dom->pid <= 0)
        return true;
    path = qemu_status_path(dom->def->name);
    st.state = dom->state;
    st.reason = dom->reason;
    st.pid = dom->pid;
    st.pid_start = dom->pid_start;
    st.monitor_path = dom->monitor_path;
    st.libdir = dom->libdir;
    st.guest_shutdown = dom->guest_shutdown;
    st.fake_reboot = dom->fake_reboot;
    st.stop_reason = dom->stop_reason;
    st.live = dom->live;
    st.extra_xml = qemu_blockjob_format_status_locked(dom);
    ok = qemu_status_write(path, &st, error);
    g_free(st.extra_xml);
    return ok;
}

bool
qemu_process_save_status(QemuDomain *dom, GError **error)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&dom->lock);

    return qemu_save_status_locked(dom, error);
}

static void
qemu_save_status_or_warn_locked(QemuDomain *dom)
{
    g_autoptr(GError) error = NULL;

    if (!qemu_save_status_locked(dom, &error))
        g_warning("domain '%s': cannot save its status: %s", dom->def->name, error->message);
}

/* ------------------------------------------------------------ the end */

static void qemu_monitor_release(QemuMonitor *mon);

/* Forget the running QEMU: @dom->lock held.  Returns false if someone
 * else did already (then nothing is to be reported). */
static bool
qemu_cleanup_locked(QemuDomain *dom, int reason)
{
    g_autofree char *status = NULL;

    if (dom->pid <= 0)
        return false;
    qemu_blockjob_domain_stopped_locked(dom);
    if (dom->mon) {
        qemu_monitor_close(dom->mon);
        qemu_monitor_release(g_steal_pointer(&dom->mon));
    }
    if (dom->exit_watch) {
        g_source_destroy(dom->exit_watch);
        g_clear_pointer(&dom->exit_watch, g_source_unref);
    }
    status = qemu_status_path(dom->def->name);
    if (unlink(status) < 0 && errno != ENOENT)
        g_warning("cannot remove '%s': %s", status, g_strerror(errno));
    if (dom->monitor_path)
        unlink(dom->monitor_path);
    if (dom->libdir) {
        g_autofree char *pidfile = g_build_filename(dom->libdir, "qemu.pid", NULL);
        unlink(pidfile);
        if (rmdir(dom->libdir) < 0 && errno != ENOENT)
            g_warning("cannot remove '%s': %s", dom->libdir, g_strerror(errno));
    }
    g_clear_pointer(&dom->monitor_path, g_free);
    g_clear_pointer(&dom->libdir, g_free);
    if (dom->live)
        qemu_security_restore(dom->live);
    g_clear_pointer(&dom->live, conf_domain_def_free);
    dom->pid = -1;
    dom->pid_start = 0;
    dom->id = -1;
    dom->state = QEMU_STATE_SHUTOFF;
    dom->reason = reason;
    dom->stop_reason = -1;
    dom->guest_shutdown = false;
    dom->fake_reboot = false;
    return true;
}

static int
qemu_stopped_event_detail(int reason)
{
    switch (reason) {
    case QEMU_SHUTOFF_SHUTDOWN:
        return QEMU_EVENT_STOPPED_SHUTDOWN;
    case QEMU_SHUTOFF_DESTROYED:
        return QEMU_EVENT_STOPPED_DESTROYED;
    case QEMU_SHUTOFF_CRASHED:
        return QEMU_EVENT_STOPPED_FAILED;
    default:
        return QEMU_EVENT_STOPPED_FAILED;
    }
}

/* QEMU is gone (or going): clean up once, report once.  @replay: found
 * while reconnecting, see qemu_emit_lifecycle_replayable(). */
static void
qemu_process_ended_full(QemuDomain *dom, int default_reason, bool replay)
{
    int reason;
    bool did;

    g_mutex_lock(&dom->lock);
    /* a guest that ends before its reconnection is complete ended, as
     * far as clients can tell, while virtqemud was away */
    replay = replay || dom->reconnecting;
    /* (kept during the clean-up: the block jobs' events are kept too) */
    dom->reconnecting = replay;
    if (dom->stop_reason >= 0)
        reason = dom->stop_reason;
    else if (dom->guest_shutdown)
        reason = QEMU_SHUTOFF_SHUTDOWN;
    else
        reason = default_reason;
    did = qemu_cleanup_locked(dom, reason);
    dom->reconnecting = false;
    g_mutex_unlock(&dom->lock);
    if (!did)
        return;
    g_info("domain '%s' shut off (reason %d)", dom->def->name, reason);
    if (replay)
        qemu_emit_lifecycle_replayable(dom, QEMU_EVENT_STOPPED, qemu_stopped_event_detail(reason));
    else
        qemu_emit_lifecycle(dom, QEMU_EVENT_STOPPED, qemu_stopped_event_detail(reason));
    qemu_domain_remove_if_gone(dom);
}

static void
qemu_process_ended(QemuDomain *dom, int default_reason)
{
    qemu_process_ended_full(dom, default_reason, false);
}

typedef struct {
    QemuDomain *dom;
    int fd;
} QemuExitWatch;

static void
qemu_exit_watch_free(gpointer data)
{
    QemuExitWatch *w = data;

    close(w->fd);
    qemu_domain_unref(w->dom);
    g_free(w);
}

static gboolean
qemu_exit_watch_fired(gint fd, GIOCondition cond, gpointer data)
{
    QemuExitWatch *w = data;

    qemu_process_ended(w->dom, QEMU_SHUTOFF_CRASHED);
    return G_SOURCE_REMOVE;
}

/* Watch for the end of @dom's QEMU; @dom->lock held. */
static void
qemu_watch_exit_locked(QemuDomain *dom)
{
    QemuExitWatch *w;
    int fd = util_process_pidfd(dom->pid);

    if (fd < 0) {
        g_warning("domain '%s': cannot watch process %d: %s", dom->def->name, (int)dom->pid,
                  g_strerror(errno));
        return;
    }
    w = g_new0(QemuExitWatch, 1);
    w->dom = qemu_domain_ref(dom);
    w->fd = fd;
    dom->exit_watch = g_unix_fd_source_new(fd, G_IO_IN);
    g_source_set_callback(dom->exit_watch, (GSourceFunc)(void (*)(void))qemu_exit_watch_fired, w,
                          qemu_exit_watch_free);
    g_source_attach(dom->exit_watch, daemon_main_context());
}

/* ------------------------------------------------------------ QMP events */

/* What one BLOCK_IO_ERROR says, for the IO_ERROR events. */
typedef struct {
    char *src_path;             /* the disk's source, "" if not found */
    char *alias;                /* its device alias, "" if not found */
    int action;                 /* QEMU_IO_ERROR_* */
    const char *reason;         /* "enospc" or "" */
} QemuIoError;

static void
qemu_io_error_free(QemuIoError *ev)
{
    g_free(ev->src_path);
    g_free(ev->alias);
    g_free(ev);
}

/* The disk of @dom's live definition QEMU names in a BLOCK_IO_ERROR: by a
 * graph node of any layer of its chain (-blockdev: "device" is empty), or
 * by its device id; NULL if none. */
static const ConfDomainDiskDef *
qemu_io_error_disk_locked(QemuDomain *dom, const char *node, const char *device)
{
    for (guint i = 0; dom->live && i < dom->live->disks->len; i++) {
        const ConfDomainDiskDef *disk = g_ptr_array_index(dom->live->disks, i);

        if (device && *device && g_strcmp0(disk->info.alias, device) == 0)
            return disk;
        for (const ConfStorageSource *s = disk->src; node && s; s = s->backing) {
            if (g_strcmp0(s->node_name_format, node) == 0 ||
                g_strcmp0(s->node_name_storage, node) == 0)
                return disk;
        }
    }
    return NULL;
}

static QemuIoError *
qemu_io_error_new_locked(QemuDomain *dom, json_object *data)
{
    QemuIoError *ev = g_new0(QemuIoError, 1);
    json_object *v = NULL;
    const char *action = NULL;
    const char *node = NULL;
    const char *device = NULL;
    const ConfDomainDiskDef *disk;

    if (data && json_object_object_get_ex(data, "action", &v))
        action = json_object_get_string(v);
    if (data && json_object_object_get_ex(data, "node-name", &v))
        node = json_object_get_string(v);
    if (data && json_object_object_get_ex(data, "device", &v))
        device = json_object_get_string(v);
    ev->action = g_strcmp0(action, "stop") == 0 ? QEMU_IO_ERROR_PAUSE :
                 g_strcmp0(action, "report") == 0 ? QEMU_IO_ERROR_REPORT : QEMU_IO_ERROR_NONE;
    ev->reason = data && json_object_object_get_ex(data, "nospace", &v) &&
                 json_object_get_boolean(v) ? "enospc" : "";
    disk = qemu_io_error_disk_locked(dom, node, device);
    ev->src_path = g_strdup(disk && disk->src->path ? disk->src->path : "");
    ev->alias = g_strdup(disk && disk->info.alias ? disk->info.alias : "");
    return ev;
}

static void
qemu_mon_event(QemuMonitor *mon, const char *name, json_object *data, gint64 ts,
               gpointer opaque)
{
    QemuDomain *dom = opaque;
    int emit = -1;
    int detail = 0;
    bool reboot = false;
    pid_t kill_pid = -1;
    QemuIoError *io_error = NULL;

    if (g_str_equal(name, "JOB_STATUS_CHANGE") || g_str_has_prefix(name, "BLOCK_JOB_")) {
        qemu_blockjob_handle_event(dom, name, data);
        return;
    }
    g_mutex_lock(&dom->lock);
    if (dom->mon != mon) {
        g_mutex_unlock(&dom->lock);
        return;
    }
    if (g_str_equal(name, "STOP") && dom->resetting) {
        /* QEMU pauses on the guest's power-off (-no-shutdown) before the
         * reset of a fake reboot: not a suspension the user asked for */
    } else if (g_str_equal(name, "RESUME") && dom->resetting) {
        dom->resetting = 0;
    } else if (g_str_equal(name, "RESET") && dom->resetting == 2) {
        /* one reboot, one event */
    } else if (g_str_equal(name, "STOP")) {
        if (dom->state == QEMU_STATE_RUNNING) {
            dom->state = QEMU_STATE_PAUSED;
            dom->reason = dom->pause_reason;
            emit = QEMU_EVENT_SUSPENDED;
            detail = dom->pause_reason == QEMU_PAUSED_IOERROR ? QEMU_EVENT_SUSPENDED_IOERROR
                                                              : QEMU_EVENT_SUSPENDED_PAUSED;
        }
        dom->pause_reason = QEMU_PAUSED_UNKNOWN;
    } else if (g_str_equal(name, "RESUME")) {
        if (dom->state == QEMU_STATE_PAUSED && dom->reason != QEMU_PAUSED_STARTING_UP) {
            dom->state = QEMU_STATE_RUNNING;
            dom->reason = QEMU_RUNNING_UNPAUSED;
            emit = QEMU_EVENT_RESUMED;
            detail = QEMU_EVENT_RESUMED_UNPAUSED;
        }
    } else if (g_str_equal(name, "SHUTDOWN")) {
        json_object *guest = NULL;
        bool by_guest = data && json_object_object_get_ex(data, "guest", &guest) &&
                        json_object_get_boolean(guest);

        if (dom->stop_reason >= 0 || dom->state == QEMU_STATE_SHUTDOWN) {
            /* we are ending it (destroy sends SIGTERM, which QEMU reports
             * as a host shutdown), or a repeat: nothing to report */
        } else if (dom->fake_reboot ||
            (dom->live && dom->live->on_poweroff == CONF_DOMAIN_LIFECYCLE_RESTART)) {
            /* a reboot: reset and run on; QEMU's RESET event reports it */
            dom->fake_reboot = false;
            dom->resetting = 1;
            qemu_monitor_command_async(mon, "system_reset", NULL, 0, NULL, NULL);
            qemu_monitor_command_async(mon, "cont", NULL, 0, NULL, NULL);
        } else {
            dom->guest_shutdown = true;
            dom->state = QEMU_STATE_SHUTDOWN;
            dom->reason = QEMU_SHUTDOWN_UNKNOWN;
            emit = QEMU_EVENT_SHUTDOWN;
            detail = !data || !guest ? QEMU_EVENT_SHUTDOWN_FINISHED :
                     by_guest ? QEMU_EVENT_SHUTDOWN_GUEST : QEMU_EVENT_SHUTDOWN_HOST;
            kill_pid = dom->pid;
        }
    } else if (g_str_equal(name, "RESET")) {
        reboot = true;
        if (dom->resetting)
            dom->resetting = 2;
    } else if (g_str_equal(name, "BLOCK_IO_ERROR")) {
        io_error = qemu_io_error_new_locked(dom, data);
        if (io_error->action == QEMU_IO_ERROR_PAUSE)
            dom->pause_reason = QEMU_PAUSED_IOERROR;
    }
    if (emit >= 0 || kill_pid > 0)
        qemu_save_status_or_warn_locked(dom);
    g_mutex_unlock(&dom->lock);

    if (io_error) {
        qemu_emit_io_error(dom, io_error->src_path, io_error->alias, io_error->action,
                           io_error->reason);
        qemu_io_error_free(io_error);
    }

    if (emit >= 0)
        qemu_emit_lifecycle(dom, emit, detail);
    if (reboot)
        qemu_emit_reboot(dom);
    /* -no-shutdown keeps QEMU alive after the guest powered off: end it */
    if (kill_pid > 0)
        kill(kill_pid, SIGTERM);
}

static void
qemu_mon_eof(QemuMonitor *mon, const GError *reason, gpointer opaque)
{
    QemuDomain *dom = opaque;

    g_debug("domain '%s': monitor closed: %s", dom->def->name,
            reason ? reason->message : "end of file");
}

static const QemuMonitorCallbacks qemu_mon_callbacks = {
    .event = qemu_mon_event,
    .eof = qemu_mon_eof,
};

static gboolean
qemu_monitor_release_idle(gpointer data)
{
    qemu_monitor_unref(data);
    return G_SOURCE_REMOVE;
}

/* Drop our reference from the main context, where callbacks run, so none
 * can be running while the monitor goes away. */
static void
qemu_monitor_release(QemuMonitor *mon)
{
    g_main_context_invoke(daemon_main_context(), qemu_monitor_release_idle, mon);
}

QemuMonitor *
qemu_domain_get_monitor(QemuDomain *dom, GError **error)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&dom->lock);

    if (dom->id < 0 || !dom->live) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_OPERATION_INVALID,
                       "Requested operation is not valid: domain is not running");
        return NULL;
    }
    if (!dom->mon) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_OPERATION_FAILED,
                       "operation failed: QEMU's monitor of domain '%s' is not connected",
                       dom->def->name);
        return NULL;
    }
    return qemu_monitor_ref(dom->mon);
}

/* ------------------------------------------------------------ start */

static int
qemu_pick_vnc_port(void)
{
    for (int port = 5900; port < 65536; port++) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
                                  .sin_addr.s_addr = htonl(INADDR_ANY) };
        g_autofd_mv int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int one = 1;

        if (fd < 0)
            return -1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
            return port;
    }
    return -1;
}

/* Fill in what the definition leaves to run time: backing chains,
 * node names, VNC ports. */
static bool
qemu_prepare_live(ConfDomainDef *live, GError **error)
{
    for (guint i = 0; i < live->disks->len; i++) {
        ConfDomainDiskDef *disk = g_ptr_array_index(live->disks, i);

        if (!disk->src->path)
            continue;
        /* block jobs: keep each layer's recorded backing name (RELATIVE) */
        if (!qemu_blockjob_fill_chain(disk->src, error))
            return false;
    }
    for (guint i = 0; i < live->graphics->len; i++) {
        ConfDomainGraphicsDef *g = g_ptr_array_index(live->graphics, i);

        if (g->type == CONF_DOMAIN_GRAPHICS_TYPE_VNC && (g->autoport || g->port < 0)) {
            g->port = qemu_pick_vnc_port();
            if (g->port < 0) {
                util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INTERNAL_ERROR,
                               "Unable to find an unused port for VNC");
                return false;
            }
        }
    }
    /* block jobs: node names are never reused while the domain runs */
    if (!live->node_name_index)
        live->node_name_index = 1;
    qemu_command_assign_names_counter(live, &live->node_name_index);
    return true;
}

static char **
qemu_child_env(const char *libdir)
{
    GPtrArray *env = g_ptr_array_new();

    g_ptr_array_add(env, g_strdup("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"));
    g_ptr_array_add(env, g_strdup_printf("HOME=%s", libdir));
    g_ptr_array_add(env, g_strdup_printf("XDG_DATA_HOME=%s/.local/share", libdir));
    g_ptr_array_add(env, g_strdup_printf("XDG_CACHE_HOME=%s/.cache", libdir));
    g_ptr_array_add(env, g_strdup_printf("XDG_CONFIG_HOME=%s/.config", libdir));
    g_ptr_array_add(env, NULL);
    return (char **)g_ptr_array_free(env, FALSE);
}

/* Connect to the QMP socket of a QEMU we just started: retry until it
 * listens, give up when it died or after the timeout. */
static QemuMonitor *
qemu_connect_new(QemuDomain *dom, const char *path, pid_t pid, guint64 start,
                 const char *log, off_t log_offset, GError **error)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)QEMU_START_TIMEOUT_MS * 1000;
    QemuMonitorOptions opts = { .open_timeout_ms = QEMU_START_TIMEOUT_MS };

    for (;;) {
        g_autoptr(GError) local = NULL;
        g_autoptr(QemuMonitor) mon = NULL;

        if (!util_process_is_alive(pid, start)) {
            g_autofree char *tail = qemu_log_tail(log, log_offset);
            util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INTERNAL_ERROR,
                           "internal error: QEMU unexpectedly closed the monitor: %s", tail);
            return NULL;
        }
        if (g_file_test(path, G_FILE_TEST_EXISTS)) {
            mon = qemu_monitor_open_full(path, daemon_main_context(), &qemu_mon_callbacks,
                                         dom, &opts, &local);
            if (mon) {
                if (qemu_monitor_wait_ready(mon, QEMU_START_TIMEOUT_MS, &local))
                    return g_steal_pointer(&mon);
                qemu_monitor_close(mon);
            }
        }
        if (g_get_monotonic_time() > deadline) {
            g_autofree char *tail = qemu_log_tail(log, log_offset);
            util_error_set(error, VIR_FROM_QEMU, VIR_ERR_OPERATION_TIMEOUT,
                           "Timed out during operation: QEMU did not open its monitor "
                           "within %d s%s%s", QEMU_START_TIMEOUT_MS / 1000,
                           *tail ? ": " : "", tail);
            return NULL;
        }
        g_usleep(5000);
    }
}

/* Pty paths of serial consoles, from query-chardev. */
static void
qemu_update_ptys(QemuMonitor *mon, ConfDomainDef *live)
{
    g_autoptr(json_object) list = qemu_monitor_command(mon, "query-chardev", NULL, 0, NULL);

    if (!list || !json_object_is_type(list, json_type_array))
        return;
    for (size_t i = 0; i < json_object_array_length(list); i++) {
        json_object *item = json_object_array_get_idx(list, i);
        json_object *label = NULL;
        json_object *filename = NULL;
        const char *fn;

        if (!json_object_object_get_ex(item, "label", &label) ||
            !json_object_object_get_ex(item, "filename", &filename))
            continue;
        fn = json_object_get_string(filename);
        if (!fn || !g_str_has_prefix(fn, "pty:"))
            continue;
        for (guint j = 0; j < live->serials->len; j++) {
            ConfDomainChrDef *chr = g_ptr_array_index(live->serials, j);
            g_autofree char *want = chr->info.alias ? g_strdup_printf("char%s", chr->info.alias)
                                                    : NULL;

            if (want && g_str_equal(want, json_object_get_string(label))) {
                g_free(chr->pty_path);
                chr->pty_path = g_strdup(fn + 4);
            }
        }
    }
    /* the console that mirrors serial0 shows the same pty */
    for (guint j = 0; j < live->consoles->len && live->serials->len; j++) {
        ConfDomainChrDef *con = g_ptr_array_index(live->consoles, j);
        ConfDomainChrDef *ser = g_ptr_array_index(live->serials, 0);

        if (con->console_target == CONF_DOMAIN_CHR_CONSOLE_TARGET_SERIAL && ser->pty_path) {
            g_free(con->pty_path);
            con->pty_path = g_strdup(ser->pty_path);
        }
    }
}

/* Undo a start that failed after QEMU was spawned; no event. */
static void
qemu_start_abandon(QemuDomain *dom, pid_t pid, guint64 start)
{
    kill(pid, SIGKILL);
    if (!util_process_wait_exit(pid, start, QEMU_KILL_WAIT_MS))
        g_warning("domain '%s': QEMU process %d does not die", dom->def->name, (int)pid);
    g_mutex_lock(&dom->lock);
    qemu_cleanup_locked(dom, QEMU_SHUTOFF_FAILED);
    g_mutex_unlock(&dom->lock);
}

static void
qemu_taps_cleanup(GArray **taps)
{
    qemu_interface_close_fds(*taps);
}

static void
qemu_user_cleanup(QemuUser *user)
{
    qemu_user_clear(user);
}

bool
qemu_process_start(QemuDomain *dom, unsigned int flags, GError **error)
{
    /* tap fds: closed on every return, QEMU has its own copies by then */
    GArray *taps __attribute__((cleanup(qemu_taps_cleanup))) = NULL;
    g_autoptr(ConfDomainDef) live = NULL;
    g_autoptr(QemuCaps) caps = NULL;
    g_auto(GStrv) argv = NULL;
    g_auto(GStrv) env = NULL;
    g_autofree char *name20 = NULL;
    g_autofree char *libdir = NULL;
    g_autofree char *monitor = NULL;
    g_autofree char *pidfile = NULL;
    g_autofree char *log = NULL;
    g_autofree char *cmdline = NULL;
    g_autofree char *header = NULL;
    g_autofd_mv int log_fd = -1;
    g_autoptr(QemuMonitor) mon = NULL;
    g_autoptr(GError) local = NULL;
    QemuCommandOptions copts = { 0 };
    UtilSpawnOptions sopts = { 0 };
    QemuUser user __attribute__((cleanup(qemu_user_cleanup))) = { (uid_t)-1, (gid_t)-1, NULL, NULL };
    off_t log_offset;
    pid_t pid = -1;
    guint64 start = 0;
    int id;
    bool paused = flags & QEMU_PROCESS_START_PAUSED;

    g_mutex_lock(&dom->lock);
    if (dom->id >= 0) {
        g_mutex_unlock(&dom->lock);
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_OPERATION_INVALID,
                       "Requested operation is not valid: domain is already running");
        return false;
    }
    live = conf_domain_copy(dom->def);
    g_mutex_unlock(&dom->lock);

    if (!qemu_user_for(live, &user, error))
        return false;
    caps = live->emulator ? qemu_caps_cache_lookup(live->emulator, error)
                          : qemu_caps_cache_lookup_default(error);
    if (!caps || !qemu_prepare_live(live, error))
        return false;

    id = g_atomic_int_add(&qemu_next_id, 1);
    live->id = id;
    name20 = g_utf8_substring(live->name, 0, MIN(g_utf8_strlen(live->name, -1), 20));
    g_strdelimit(name20, "/", '_');
    libdir = g_strdup_printf("%s/domain-%d-%s", qemu_driver_rundir(), id, name20);
    monitor = g_build_filename(libdir, "monitor.sock", NULL);
    pidfile = g_build_filename(libdir, "qemu.pid", NULL);
    log = g_strdup_printf("%s/%s.log", qemu_driver_logdir(), live->name);
    if (strlen(monitor) >= 108) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INTERNAL_ERROR,
                       "monitor socket path '%s' is too long for a UNIX socket", monitor);
        return false;
    }

    copts.monitor_path = monitor;
    copts.pidfile = pidfile;
    copts.libdir = libdir;
    if (!qemu_interface_open_taps(live, &taps, error))
        return false;
    copts.tap_fds = (const int *)(void *)taps->data;
    copts.n_tap_fds = taps->len;
    if (!(argv = qemu_command_build(live, caps, &copts, error)))
        return false;

    if (!qemu_security_label(live, &user, error))
        return false;
    if (g_mkdir_with_parents(libdir, 0700) < 0) {
        util_error_set_errno(error, VIR_FROM_QEMU, errno, "cannot create '%s'", libdir);
        qemu_security_restore(live);
        return false;
    }
    if (user.uid != (uid_t)-1 && chown(libdir, user.uid, user.gid) < 0) {
        util_error_set_errno(error, VIR_FROM_QEMU, errno, "cannot give '%s' to the QEMU user",
                             libdir);
        rmdir(libdir);
        qemu_security_restore(live);
        return false;
    }
    log_fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0600);
    if (log_fd < 0) {
        util_error_set_errno(error, VIR_FROM_QEMU, errno, "cannot open log file '%s'", log);
        rmdir(libdir);
        qemu_security_restore(live);
        return false;
    }
    log_offset = lseek(log_fd, 0, SEEK_END);
    {
        g_autoptr(GDateTime) now = g_date_time_new_now_utc();
        g_autofree char *stamp = g_date_time_format_iso8601(now);
        cmdline = g_strjoinv(" ", argv);
        header = g_strdup_printf("%s: starting up\n%s\n", stamp, cmdline);
        if (write(log_fd, header, strlen(header)) < 0)
            g_debug("cannot write to '%s': %s", log, g_strerror(errno));
    }
    env = qemu_child_env(libdir);
    sopts.stdout_fd = log_fd;
    sopts.keep_fds = copts.tap_fds;
    sopts.n_keep_fds = copts.n_tap_fds;
    sopts.uid = user.uid;
    sopts.gid = user.gid;
    sopts.groups = user.groups ? (const gid_t *)(void *)user.groups->data : NULL;
    sopts.n_groups = user.groups ? user.groups->len : 0;
    sopts.clear_caps = true;
    sopts.no_new_privs = true;
    sopts.cwd = "/";
    if (!util_process_spawn_detached((const char *const *)argv, (const char *const *)env,
                                     &sopts, VIR_FROM_QEMU, &pid, error)) {
        rmdir(libdir);
        qemu_security_restore(live);
        return false;
    }
    if (!util_process_start_time(pid, &start))
        start = 0;
    g_info("domain '%s': QEMU started, pid %d", live->name, (int)pid);

    /* from now on a daemon crash leaves a status file to find QEMU with */
    g_mutex_lock(&dom->lock);
    dom->live = g_steal_pointer(&live);
    dom->pid = pid;
    dom->pid_start = start;
    dom->id = id;
    dom->monitor_path = g_strdup(monitor);
    dom->libdir = g_strdup(libdir);
    dom->state = QEMU_STATE_PAUSED;
    dom->reason = QEMU_PAUSED_STARTING_UP;
    dom->stop_reason = -1;
    dom->guest_shutdown = false;
    dom->fake_reboot = false;
    if (!qemu_save_status_locked(dom, error)) {
        g_mutex_unlock(&dom->lock);
        qemu_start_abandon(dom, pid, start);
        return false;
    }
    g_mutex_unlock(&dom->lock);

    if (!(mon = qemu_connect_new(dom, monitor, pid, start, log, log_offset, error))) {
        qemu_start_abandon(dom, pid, start);
        return false;
    }
    g_mutex_lock(&dom->lock);
    dom->mon = qemu_monitor_ref(mon);
    g_mutex_unlock(&dom->lock);

    qemu_update_ptys(mon, dom->live);
    if (!paused && !qemu_monitor_cont(mon, &local)) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_OPERATION_FAILED,
                       "operation failed: cannot start the guest's CPUs: %s", local->message);
        qemu_start_abandon(dom, pid, start);
        return false;
    }

    g_mutex_lock(&dom->lock);
    dom->state = paused ? QEMU_STATE_PAUSED : QEMU_STATE_RUNNING;
    dom->reason = paused ? QEMU_PAUSED_USER : QEMU_RUNNING_BOOTED;
    qemu_save_status_or_warn_locked(dom);
    qemu_watch_exit_locked(dom);
    g_mutex_unlock(&dom->lock);

    qemu_emit_lifecycle(dom, QEMU_EVENT_STARTED, QEMU_EVENT_STARTED_BOOTED);
    if (paused)
        qemu_emit_lifecycle(dom, QEMU_EVENT_SUSPENDED, QEMU_EVENT_SUSPENDED_PAUSED);
    return true;
}

/* ------------------------------------------------------------ stop */

bool
qemu_process_destroy(QemuDomain *dom, bool graceful, GError **error)
{
    pid_t pid;
    guint64 start;

    g_mutex_lock(&dom->lock);
    if (dom->id < 0 || dom->pid <= 0) {
        g_mutex_unlock(&dom->lock);
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_OPERATION_INVALID,
                       "Requested operation is not valid: domain is not running");
        return false;
    }
    pid = dom->pid;
    start = dom->pid_start;
    dom->stop_reason = QEMU_SHUTOFF_DESTROYED;
    qemu_save_status_or_warn_locked(dom);
    g_mutex_unlock(&dom->lock);

    if (kill(pid, SIGTERM) < 0 && errno != ESRCH) {
        util_error_set_errno(error, VIR_FROM_QEMU, errno, "Failed to kill process %d", (int)pid);
        return false;
    }
    if (!util_process_wait_exit(pid, start, QEMU_TERM_WAIT_MS)) {
        if (graceful) {
            util_error_set(error, VIR_FROM_QEMU, VIR_ERR_SYSTEM_ERROR,
                           "Failed to terminate process %d with SIGTERM: "
                           "Device or resource busy", (int)pid);
            return false;
        }
        kill(pid, SIGKILL);
        if (!util_process_wait_exit(pid, start, QEMU_KILL_WAIT_MS)) {
            util_error_set(error, VIR_FROM_QEMU, VIR_ERR_SYSTEM_ERROR,
                           "Failed to kill process %d: it does not die", (int)pid);
            return false;
        }
    }
    /* the job may be held by a call that talked to the dead QEMU: its
     * monitor call fails now, so this wait is short */
    if (!qemu_domain_job_begin(dom, "virDomainDestroy", error))
        return false;
    qemu_process_ended(dom, QEMU_SHUTOFF_DESTROYED);
    qemu_domain_job_end(dom);
    return true;
}

static bool
qemu_simple_command(QemuDomain *dom, const char *cmd, GError **error)
{
    g_autoptr(QemuMonitor) mon = qemu_domain_get_monitor(dom, error);
    g_autoptr(json_object) reply = NULL;
    g_autoptr(GError) local = NULL;

    if (!mon)
        return false;
    reply = qemu_monitor_command(mon, cmd, NULL, 0, &local);
    if (local) {
        g_propagate_error(error, g_steal_pointer(&local));
        return false;
    }
    return true;
}

bool
qemu_process_shutdown(QemuDomain *dom, GError **error)
{
    g_mutex_lock(&dom->lock);
    dom->fake_reboot = false;
    g_mutex_unlock(&dom->lock);
    return qemu_simple_command(dom, "system_powerdown", error);
}

bool
qemu_process_reboot(QemuDomain *dom, GError **error)
{
    g_mutex_lock(&dom->lock);
    dom->fake_reboot = true;
    qemu_save_status_or_warn_locked(dom);
    g_mutex_unlock(&dom->lock);
    if (qemu_simple_command(dom, "system_powerdown", error))
        return true;
    g_mutex_lock(&dom->lock);
    dom->fake_reboot = false;
    g_mutex_unlock(&dom->lock);
    return false;
}

bool
qemu_process_suspend(QemuDomain *dom, GError **error)
{
    bool emit = false;

    g_mutex_lock(&dom->lock);
    if (dom->state == QEMU_STATE_PAUSED) {
        g_mutex_unlock(&dom->lock);
        return true;
    }
    dom->pause_reason = QEMU_PAUSED_USER;
    g_mutex_unlock(&dom->lock);
    if (!qemu_simple_command(dom, "stop", error))
        return false;
    /* QEMU's STOP event normally did this already */
    g_mutex_lock(&dom->lock);
    if (dom->state == QEMU_STATE_RUNNING) {
        dom->state = QEMU_STATE_PAUSED;
        dom->reason = QEMU_PAUSED_USER;
        emit = true;
    }
    qemu_save_status_or_warn_locked(dom);
    g_mutex_unlock(&dom->lock);
    if (emit)
        qemu_emit_lifecycle(dom, QEMU_EVENT_SUSPENDED, QEMU_EVENT_SUSPENDED_PAUSED);
    return true;
}

bool
qemu_process_resume(QemuDomain *dom, GError **error)
{
    bool emit = false;

    g_mutex_lock(&dom->lock);
    if (dom->state != QEMU_STATE_PAUSED) {
        g_mutex_unlock(&dom->lock);
        return true;
    }
    g_mutex_unlock(&dom->lock);
    if (!qemu_simple_command(dom, "cont", error))
        return false;
    g_mutex_lock(&dom->lock);
    if (dom->state == QEMU_STATE_PAUSED) {
        dom->state = QEMU_STATE_RUNNING;
        dom->reason = QEMU_RUNNING_UNPAUSED;
        emit = true;
    }
    qemu_save_status_or_warn_locked(dom);
    g_mutex_unlock(&dom->lock);
    if (emit)
        qemu_emit_lifecycle(dom, QEMU_EVENT_RESUMED, QEMU_EVENT_RESUMED_UNPAUSED);
    return true;
}

/* ------------------------------------------------------------ restart */

static void
qemu_reconnect_status_reply(QemuMonitor *mon, json_object *reply, const GError *err,
                            gpointer data)
{
    QemuDomain *dom = data;
    json_object *status = NULL;
    const char *st;
    int emit = -1;
    int detail = 0;
    pid_t kill_pid = -1;

    if (err || !reply || !json_object_object_get_ex(reply, "status", &status)) {
        qemu_domain_unref(dom);
        return;
    }
    st = json_object_get_string(status);
    g_mutex_lock(&dom->lock);
    dom->reconnecting = false;
    if (dom->mon == mon) {
        if (g_str_equal(st, "running") && dom->state != QEMU_STATE_RUNNING) {
            dom->state = QEMU_STATE_RUNNING;
            dom->reason = QEMU_RUNNING_UNPAUSED;
            emit = QEMU_EVENT_RESUMED;
            detail = QEMU_EVENT_RESUMED_UNPAUSED;
        } else if (g_str_equal(st, "shutdown")) {
            /* the guest powered off while we were away */
            dom->guest_shutdown = true;
            dom->state = QEMU_STATE_SHUTDOWN;
            dom->reason = QEMU_SHUTDOWN_UNKNOWN;
            kill_pid = dom->pid;
        } else if (!g_str_equal(st, "running") && dom->state == QEMU_STATE_RUNNING) {
            dom->state = QEMU_STATE_PAUSED;
            dom->reason = g_str_equal(st, "io-error") ? QEMU_PAUSED_IOERROR : QEMU_PAUSED_UNKNOWN;
            emit = QEMU_EVENT_SUSPENDED;
            detail = QEMU_EVENT_SUSPENDED_PAUSED;
        }
        qemu_save_status_or_warn_locked(dom);
    }
    g_mutex_unlock(&dom->lock);
    if (emit >= 0)
        qemu_emit_lifecycle_replayable(dom, emit, detail);
    if (kill_pid > 0)
        kill(kill_pid, SIGTERM);
    qemu_domain_unref(dom);
}

static void
qemu_reconnect_ready(QemuMonitor *mon, const GError *err, gpointer opaque)
{
    QemuDomain *dom = opaque;
    pid_t pid = -1;

    if (!err) {
        g_info("domain '%s': reconnected to QEMU", dom->def->name);
        qemu_monitor_command_async(mon, "query-status", NULL, 0, qemu_reconnect_status_reply,
                                   qemu_domain_ref(dom));
        qemu_blockjob_reconnected(dom, mon);
        return;
    }
    /* QEMU runs but its monitor cannot be used: a guest we cannot manage */
    g_warning("domain '%s': cannot reconnect to QEMU's monitor: %s; stopping it",
              dom->def->name, err->message);
    g_mutex_lock(&dom->lock);
    if (dom->mon == mon) {
        dom->stop_reason = QEMU_SHUTOFF_FAILED;
        pid = dom->pid;
    }
    g_mutex_unlock(&dom->lock);
    if (pid > 0)
        kill(pid, SIGKILL);
}

static const QemuMonitorCallbacks qemu_reconnect_callbacks = {
    .ready = qemu_reconnect_ready,
    .event = qemu_mon_event,
    .eof = qemu_mon_eof,
};

static void
qemu_reconnect_one(const char *path)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(QemuDomain) dom = NULL;
    g_autoptr(QemuMonitor) mon = NULL;
    QemuStatus st = { 0 };
    QemuMonitorOptions opts = { .open_timeout_ms = QEMU_START_TIMEOUT_MS };
    bool alive;

    if (!qemu_status_read(path, &st, &error)) {
        g_warning("ignoring status file: %s", error->message);
        return;
    }
    dom = qemu_domain_find_uuid(st.live->uuid);
    if (!dom) {
        ConfDomainDef *def = conf_domain_copy(st.live);
        def->id = -1;
        if (!(dom = qemu_domain_add_transient(def, &error))) {
            conf_domain_def_free(def);
            g_warning("ignoring '%s': %s", path, error->message);
            qemu_status_clear(&st);
            return;
        }
    }
    alive = util_process_is_alive(st.pid, st.pid_start);
    g_mutex_lock(&dom->lock);
    dom->id = st.live->id;
    dom->live = g_steal_pointer(&st.live);
    dom->pid = st.pid;
    dom->pid_start = st.pid_start;
    dom->state = st.state;
    dom->reason = st.reason;
    dom->monitor_path = g_steal_pointer(&st.monitor_path);
    dom->libdir = g_steal_pointer(&st.libdir);
    dom->guest_shutdown = st.guest_shutdown;
    dom->fake_reboot = st.fake_reboot;
    dom->stop_reason = st.stop_reason;
    dom->reconnecting = true;
    if (st.extra_xml && !qemu_blockjob_load_status_locked(dom, st.extra_xml, &error)) {
        g_warning("domain '%s': block jobs in '%s' not understood: %s", dom->def->name, path,
                  error->message);
        g_clear_error(&error);
    }
    while (g_atomic_int_get(&qemu_next_id) <= dom->id)
        g_atomic_int_inc(&qemu_next_id);
    g_mutex_unlock(&dom->lock);
    qemu_status_clear(&st);

    if (!alive) {
        g_info("domain '%s': QEMU (pid %d) ended while virtqemud was away",
               dom->def->name, (int)dom->pid);
        qemu_process_ended_full(dom, QEMU_SHUTOFF_CRASHED, true);
        return;
    }
    mon = qemu_monitor_open_full(dom->monitor_path, daemon_main_context(),
                                 &qemu_reconnect_callbacks, dom, &opts, &error);
    g_mutex_lock(&dom->lock);
    if (mon)
        dom->mon = qemu_monitor_ref(mon);
    qemu_watch_exit_locked(dom);
    g_mutex_unlock(&dom->lock);
    if (!mon) {
        g_warning("domain '%s': cannot reconnect to QEMU: %s; stopping it", dom->def->name,
                  error->message);
        g_mutex_lock(&dom->lock);
        dom->stop_reason = QEMU_SHUTOFF_FAILED;
        g_mutex_unlock(&dom->lock);
        kill(dom->pid, SIGKILL);
    }
}

void
qemu_process_reconnect_all(void)
{
    g_autoptr(GDir) dir = g_dir_open(qemu_driver_rundir(), 0, NULL);
    const char *entry;

    if (!dir)
        return;
    while ((entry = g_dir_read_name(dir))) {
        g_autofree char *path = NULL;

        if (entry[0] == '.' || !g_str_has_suffix(entry, ".xml"))
            continue;
        path = g_build_filename(qemu_driver_rundir(), entry, NULL);
        qemu_reconnect_one(path);
    }
}

static gpointer
qemu_autostart_thread(gpointer data)
{
    g_autoptr(GPtrArray) all = data;

    for (guint i = 0; i < all->len; i++) {
        QemuDomain *dom = g_ptr_array_index(all, i);
        g_autoptr(GError) error = NULL;

        if (!qemu_domain_job_begin(dom, "autostart", &error)) {
            g_warning("autostart of '%s': %s", dom->def->name, error->message);
            continue;
        }
        if (dom->id < 0 && dom->autostart && !qemu_process_start(dom, 0, &error))
            g_warning("autostart of '%s' failed: %s", dom->def->name, error->message);
        qemu_domain_job_end(dom);
    }
    return NULL;
}

void
qemu_process_autostart_once(void)
{
    g_autofree char *marker = g_build_filename(qemu_driver_rundir(), "autostarted", NULL);
    g_autofree char *boot_id = NULL;
    g_autofree char *done = NULL;
    g_autoptr(GPtrArray) all = NULL;
    g_autoptr(GPtrArray) todo = NULL;
    g_autoptr(GError) error = NULL;

    if (!g_file_get_contents("/proc/sys/kernel/random/boot_id", &boot_id, NULL, NULL))
        boot_id = g_strdup("unknown");
    g_strstrip(boot_id);
    if (g_file_get_contents(marker, &done, NULL, NULL) && g_str_equal(g_strstrip(done), boot_id))
        return;
    if (!util_file_write_atomic(marker, boot_id, strlen(boot_id), 0600, &error))
        g_warning("autostart: %s", error->message);
    all = qemu_domains_list();
    todo = g_ptr_array_new_with_free_func((GDestroyNotify)qemu_domain_unref);
    for (guint i = 0; i < all->len; i++) {
        QemuDomain *dom = g_ptr_array_index(all, i);
        if (dom->autostart && dom->id < 0)
            g_ptr_array_add(todo, qemu_domain_ref(dom));
    }
    if (todo->len)
        g_thread_unref(g_thread_new("autostart", qemu_autostart_thread, g_steal_pointer(&todo)));
}

void
qemu_process_detach_all(void)
{
    g_autoptr(GPtrArray) all = qemu_domains_list();

    for (guint i = 0; i < all->len; i++) {
        QemuDomain *dom = g_ptr_array_index(all, i);

        g_mutex_lock(&dom->lock);
        if (dom->mon) {
            qemu_monitor_close(dom->mon);
            g_clear_pointer(&dom->mon, qemu_monitor_unref);
        }
        if (dom->exit_watch) {
            g_source_destroy(dom->exit_watch);
            g_clear_pointer(&dom->exit_watch, g_source_unref);
        }
        g_mutex_unlock(&dom->lock);
    }
}
