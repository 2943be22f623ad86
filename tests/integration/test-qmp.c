/*
 * test-qmp.c: the QMP client (shared/qemu-monitor) against a real QEMU.
 *
 * One qemu-system-x86_64 -machine none (KVM when /dev/kvm opens, else
 * TCG) serves every step, in order: handshake, query-version against
 * `qemu-system-x86_64 --version`, stop/cont with their events, blockdev-add
 * of a qcow2 image made by qemu-img, HMP (info version, qemu-io writing a
 * pattern that qemu-io then reads back from the file), error classes,
 * several commands outstanding at once, and quit with the eof callback.
 * QEMU is killed at the end whatever happens (and dies with this process:
 * PR_SET_PDEATHSIG).  Prints TAP; skips when QEMU is not installed.
 */
#define G_LOG_DOMAIN "modvirt.test.qmp"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "qemu-monitor.h"
#include "util-error.h"

#define WAIT_MS 10000

typedef struct {
    GMutex lock;
    GCond cond;
    GPtrArray *lines;       /* "event NAME DATA", "eof ...", "ready ..." */
    gint64 last_event_ts;
} Log;

static struct {
    char *dir;
    char *sock;
    char *image;
    GPid pid;
    GMainContext *ctx;
    GMainLoop *loop;
    GThread *thread;
    QemuMonitor *mon;
    Log log;
} qmp;

/* ---- the log of callbacks ---- */

static void G_GNUC_PRINTF(1, 2)
log_add(const char *fmt, ...)
{
    va_list ap;
    char *line;

    va_start(ap, fmt);
    line = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_test_message("callback: %s", line);
    g_mutex_lock(&qmp.log.lock);
    g_ptr_array_add(qmp.log.lines, line);
    g_cond_broadcast(&qmp.log.cond);
    g_mutex_unlock(&qmp.log.lock);
}

/* Wait for a line starting with @prefix, at index >= @from; returns its
 * index, or fails the test. */
static guint
log_wait(const char *prefix, guint from)
{
    gint64 deadline = g_get_monotonic_time() + WAIT_MS * G_TIME_SPAN_MILLISECOND;

    g_mutex_lock(&qmp.log.lock);
    while (true) {
        for (guint i = from; i < qmp.log.lines->len; i++) {
            if (g_str_has_prefix(qmp.log.lines->pdata[i], prefix)) {
                g_mutex_unlock(&qmp.log.lock);
                return i;
            }
        }
        if (!g_cond_wait_until(&qmp.log.cond, &qmp.log.lock, deadline))
            break;
    }
    g_mutex_unlock(&qmp.log.lock);
    g_error("no callback '%s...' within %d ms", prefix, WAIT_MS);
}

static guint
log_len(void)
{
    guint n;

    g_mutex_lock(&qmp.log.lock);
    n = qmp.log.lines->len;
    g_mutex_unlock(&qmp.log.lock);
    return n;
}

static char *
log_line(guint i)
{
    char *s;

    g_mutex_lock(&qmp.log.lock);
    s = g_strdup(qmp.log.lines->pdata[i]);
    g_mutex_unlock(&qmp.log.lock);
    return s;
}

static void
on_ready(QemuMonitor *mon, const GError *error, gpointer opaque)
{
    log_add("ready %s", error ? error->message : "ok");
}

static void
on_event(QemuMonitor *mon, const char *name, json_object *data, gint64 ts, gpointer opaque)
{
    g_mutex_lock(&qmp.log.lock);
    qmp.log.last_event_ts = ts;
    g_mutex_unlock(&qmp.log.lock);
    log_add("event %s %s", name,
            data ? json_object_to_json_string_ext(data, JSON_C_TO_STRING_PLAIN |
                                                  JSON_C_TO_STRING_NOSLASHESCAPE) : "-");
}

static void
on_eof(QemuMonitor *mon, const GError *error, gpointer opaque)
{
    log_add("eof %s: %s", util_error_code_name(error->code), error->message);
}

static const QemuMonitorCallbacks callbacks = {
    .ready = on_ready,
    .event = on_event,
    .eof = on_eof,
};

/* ---- helpers ---- */

static gpointer
loop_thread(gpointer data)
{
    g_main_context_push_thread_default(qmp.ctx);
    g_main_loop_run(qmp.loop);
    g_main_context_pop_thread_default(qmp.ctx);
    return NULL;
}

static void
child_setup(gpointer data)
{
    /* QEMU must not outlive the test, even when an assertion aborts it */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
}

static char *
run(const char *cmdline)
{
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    g_autoptr(GError) error = NULL;
    int status = 0;

    g_test_message("run: %s", cmdline);
    g_assert_true(g_spawn_command_line_sync(cmdline, &out, &err, &status, &error));
    g_assert_no_error(error);
    if (!g_spawn_check_wait_status(status, NULL))
        g_error("'%s' failed: %s%s", cmdline, out, err);
    return g_strconcat(out, err, NULL);
}

static bool
qemu_alive(void)
{
    int status;

    return qmp.pid > 0 && waitpid(qmp.pid, &status, WNOHANG) == 0;
}

static void
kill_qemu(void)
{
    if (qmp.pid <= 0)
        return;
    kill(qmp.pid, SIGKILL);
    waitpid(qmp.pid, NULL, 0);
    qmp.pid = 0;
}

static json_object *
find_node(json_object *nodes, const char *name)
{
    for (size_t i = 0; i < json_object_array_length(nodes); i++) {
        json_object *n = json_object_array_get_idx(nodes, i);
        json_object *v = NULL;

        if (json_object_object_get_ex(n, "node-name", &v) &&
            g_strcmp0(json_object_get_string(v), name) == 0)
            return n;
    }
    return NULL;
}

static const char *
member_string(json_object *obj, const char *key)
{
    json_object *v = NULL;

    if (!json_object_object_get_ex(obj, key, &v))
        return NULL;
    return json_object_get_string(v);
}

/* blockdev-add arguments: a qcow2 node @name on the test image */
static json_object *
qcow2_props(const char *name)
{
    json_object *props = json_object_new_object();
    json_object *file = json_object_new_object();

    json_object_object_add(file, "driver", json_object_new_string("file"));
    json_object_object_add(file, "filename", json_object_new_string(qmp.image));
    json_object_object_add(props, "driver", json_object_new_string("qcow2"));
    json_object_object_add(props, "node-name", json_object_new_string(name));
    json_object_object_add(props, "file", file);
    return props;
}

/* ---- the steps ---- */

static void
test_start(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *out = NULL;
    bool kvm = false;
    gint64 deadline;
    int fd;

    fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd >= 0) {
        kvm = true;
        close(fd);
    }
    g_test_message("accelerator: %s", kvm ? "kvm (tcg fallback)" : "tcg");
    {
        const char *argv[] = {
            "qemu-system-x86_64", "-machine", "none", "-nodefaults", "-display", "none",
            "-accel", kvm ? "kvm" : "tcg", "-accel", "tcg",
            "-qmp", NULL, NULL,
        };
        g_autofree char *qmp_arg = g_strdup_printf("unix:%s,server=on,wait=off", qmp.sock);

        argv[11] = qmp_arg;
        g_assert_true(g_spawn_async(qmp.dir, (char **)argv, NULL,
                                    G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD |
                                    G_SPAWN_STDOUT_TO_DEV_NULL,
                                    child_setup, NULL, &qmp.pid, &error));
        g_assert_no_error(error);
    }

    /* the socket appears once QEMU is up */
    deadline = g_get_monotonic_time() + WAIT_MS * G_TIME_SPAN_MILLISECOND;
    while (!qmp.mon) {
        g_clear_error(&error);
        qmp.mon = qemu_monitor_open(qmp.sock, qmp.ctx, &callbacks, NULL, &error);
        if (qmp.mon)
            break;
        g_assert_true(qemu_alive());
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_usleep(20 * 1000);
    }
    g_assert_true(qemu_monitor_wait_ready(qmp.mon, WAIT_MS, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(log_wait("ready ok", 0), ==, 0);
    g_assert_true(qemu_monitor_is_ready(qmp.mon));
}

static void
test_version(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *out = run("qemu-system-x86_64 --version");
    g_autofree char *expected = NULL;
    g_autofree char *mine = NULL;
    QemuMonitorVersion ver = { 0 };
    int major = -1, minor = -1, micro = -1;

    g_assert_true(qemu_monitor_query_version(qmp.mon, &ver, &error));
    g_assert_no_error(error);
    /* "QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)" */
    expected = g_strndup(out, strcspn(out, "\n"));
    mine = ver.package[0] ?
        g_strdup_printf("QEMU emulator version %d.%d.%d (%s)", ver.major, ver.minor,
                        ver.micro, ver.package) :
        g_strdup_printf("QEMU emulator version %d.%d.%d", ver.major, ver.minor, ver.micro);
    g_assert_cmpstr(mine, ==, expected);
    g_assert_true(qemu_monitor_greeting_version(qmp.mon, &major, &minor, &micro));
    g_assert_cmpint(major, ==, ver.major);
    g_assert_cmpint(minor, ==, ver.minor);
    g_assert_cmpint(micro, ==, ver.micro);
    qemu_monitor_version_clear(&ver);
}

static void
test_status_events(void)
{
    g_autoptr(GError) error = NULL;
    QemuMonitorStatus st = { 0 };
    guint at;
    gint64 ts;

    g_assert_true(qemu_monitor_query_status(qmp.mon, &st, &error));
    g_assert_no_error(error);
    g_assert_true(st.running);
    g_assert_cmpint(st.state, ==, QEMU_MONITOR_RUN_STATE_RUNNING);
    qemu_monitor_status_clear(&st);

    at = log_len();
    g_assert_true(qemu_monitor_stop(qmp.mon, &error));
    g_assert_no_error(error);
    log_wait("event STOP -", at);
    g_mutex_lock(&qmp.log.lock);
    ts = qmp.log.last_event_ts;
    g_mutex_unlock(&qmp.log.lock);
    /* QEMU's clock and ours agree (QEMU stamps with the real-time clock) */
    g_assert_cmpint(ABS(ts - g_get_real_time()), <, 60 * G_USEC_PER_SEC);
    g_assert_true(qemu_monitor_query_status(qmp.mon, &st, &error));
    g_assert_false(st.running);
    g_assert_cmpint(st.state, ==, QEMU_MONITOR_RUN_STATE_PAUSED);
    g_assert_cmpstr(st.reason, ==, "paused");
    qemu_monitor_status_clear(&st);

    at = log_len();
    g_assert_true(qemu_monitor_cont(qmp.mon, &error));
    g_assert_no_error(error);
    log_wait("event RESUME -", at);
    g_assert_true(qemu_monitor_query_status(qmp.mon, &st, &error));
    g_assert_true(st.running);
    g_assert_cmpstr(st.reason, ==, "running");
    qemu_monitor_status_clear(&st);
}

static void
test_blockdev(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(json_object) nodes = NULL;
    g_autofree char *cmd = NULL;
    g_autofree char *out = NULL;
    g_autofree char *hmp = NULL;
    json_object *node;

    cmd = g_strdup_printf("qemu-img create -f qcow2 %s 16M", qmp.image);
    g_free(run(cmd));

    g_assert_true(qemu_monitor_blockdev_add(qmp.mon, qcow2_props("disk0"), &error));
    g_assert_no_error(error);

    nodes = qemu_monitor_query_named_block_nodes(qmp.mon, &error);
    g_assert_no_error(error);
    node = find_node(nodes, "disk0");
    g_assert_nonnull(node);
    g_assert_cmpstr(member_string(node, "drv"), ==, "qcow2");
    g_assert_cmpstr(member_string(node, "file"), ==, qmp.image);
    g_assert_cmpuint(json_object_array_length(nodes), ==, 2);   /* qcow2 + file */

    /* HMP qemu-io writes a pattern (its output goes to QEMU's stdout) */
    hmp = qemu_monitor_hmp(qmp.mon, "qemu-io disk0 \"write -P 0x5a 0 64k\"", &error);
    g_assert_no_error(error);
    g_assert_cmpstr(hmp, ==, "");

    /* a second node on the same image is refused: QEMU holds its lock */
    g_assert_false(qemu_monitor_blockdev_add(qmp.mon, qcow2_props("disk1"), &error));
    g_assert_cmpint(error->code, ==, VIR_ERR_OPERATION_FAILED);
    g_assert_nonnull(strstr(error->message, "unable to execute QEMU command 'blockdev-add': "));
    g_assert_nonnull(strstr(error->message, "lock"));
    g_clear_error(&error);

    g_assert_true(qemu_monitor_blockdev_del(qmp.mon, "disk0", &error));
    g_assert_no_error(error);
    json_object_put(g_steal_pointer(&nodes));
    nodes = qemu_monitor_query_named_block_nodes(qmp.mon, &error);
    g_assert_null(find_node(nodes, "disk0"));

    /* the file, no longer locked by QEMU, holds the pattern */
    g_free(cmd);
    cmd = g_strdup_printf("qemu-io -f qcow2 -c \"read -P 0x5a 0 64k\" %s", qmp.image);
    out = run(cmd);
    g_assert_nonnull(strstr(out, "read 65536/65536 bytes at offset 0"));
    g_assert_null(strstr(out, "verification failed"));
}

static void
test_hmp(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *out = qemu_monitor_hmp(qmp.mon, "info version", &error);
    g_autofree char *expected = NULL;
    QemuMonitorVersion ver = { 0 };

    g_assert_no_error(error);
    g_assert_true(qemu_monitor_query_version(qmp.mon, &ver, &error));
    expected = g_strdup_printf("%d.%d.%d", ver.major, ver.minor, ver.micro);
    g_assert_true(g_str_has_prefix(out, expected));
    g_assert_true(g_str_has_suffix(out, "\r\n"));
    qemu_monitor_version_clear(&ver);
}

static void
test_errors(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(json_object) reply = NULL;
    json_object *args;

    reply = qemu_monitor_command(qmp.mon, "no-such-command", NULL, 0, &error);
    g_assert_null(reply);
    g_assert_cmpint(util_error_domain(error), ==, VIR_FROM_QEMU);
    g_assert_cmpint(error->code, ==, VIR_ERR_OPERATION_UNSUPPORTED);
    g_assert_cmpstr(error->message, ==, "unable to execute QEMU command 'no-such-command': "
                    "The command no-such-command has not been found (CommandNotFound)");
    g_clear_error(&error);

    args = json_object_new_object();
    json_object_object_add(args, "device", json_object_new_string("nope"));
    reply = qemu_monitor_command(qmp.mon, "block-job-cancel", args, 0, &error);
    g_assert_cmpint(error->code, ==, VIR_ERR_OPERATION_INVALID);
    g_assert_cmpstr(error->message, ==, "unable to execute QEMU command 'block-job-cancel': "
                    "Block job 'nope' not found (DeviceNotActive)");
    g_clear_error(&error);

    g_assert_false(qemu_monitor_blockdev_del(qmp.mon, "zzz", &error));
    g_assert_cmpint(error->code, ==, VIR_ERR_OPERATION_FAILED);
    g_assert_cmpstr(error->message, ==, "unable to execute QEMU command 'blockdev-del': "
                    "Failed to find node with node-name='zzz'");
    g_clear_error(&error);

    /* the monitor is still fine */
    reply = qemu_monitor_query_jobs(qmp.mon, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(json_object_array_length(reply), ==, 0);
    json_object_put(g_steal_pointer(&reply));
    reply = qemu_monitor_query_block_jobs(qmp.mon, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(json_object_array_length(reply), ==, 0);
}

typedef struct {
    GMutex lock;
    GCond cond;
    int left;
    GString *seen;
} Batch;

static void
on_batch_reply(QemuMonitor *mon, json_object *reply, const GError *error, gpointer data)
{
    Batch *b = data;

    g_mutex_lock(&b->lock);
    if (error)
        g_string_append_printf(b->seen, "error:%s;", error->message);
    else
        g_string_append_printf(b->seen, "%s;", json_object_get_type(reply) == json_type_array ?
                               "array" : json_type_to_name(json_object_get_type(reply)));
    b->left--;
    g_cond_broadcast(&b->cond);
    g_mutex_unlock(&b->lock);
}

/* Many commands outstanding at once, all answered, in order (QEMU runs
 * them in order). */
static void
test_async(void)
{
    static const char *const cmds[] = {
        "query-version", "query-status", "query-jobs", "query-block-jobs", "query-commands",
        "no-such-command", "query-kvm", "query-name",
    };
    Batch b = { .left = 0 };
    gint64 deadline = g_get_monotonic_time() + WAIT_MS * G_TIME_SPAN_MILLISECOND;

    g_mutex_init(&b.lock);
    g_cond_init(&b.cond);
    b.seen = g_string_new(NULL);
    for (int round = 0; round < 25; round++) {
        for (size_t i = 0; i < G_N_ELEMENTS(cmds); i++) {
            g_mutex_lock(&b.lock);
            b.left++;
            g_mutex_unlock(&b.lock);
            qemu_monitor_command_async(qmp.mon, cmds[i], NULL, 0, on_batch_reply, &b);
        }
    }
    g_mutex_lock(&b.lock);
    while (b.left > 0 && g_cond_wait_until(&b.cond, &b.lock, deadline))
        ;
    g_assert_cmpint(b.left, ==, 0);
    g_mutex_unlock(&b.lock);
    for (int round = 0; round < 25; round++) {
        g_autofree char *expected_round = g_strdup(
            "object;object;array;array;array;"
            "error:unable to execute QEMU command 'no-such-command': The command "
            "no-such-command has not been found (CommandNotFound);object;object;");
        g_assert_true(strncmp(b.seen->str + round * strlen(expected_round), expected_round,
                              strlen(expected_round)) == 0);
    }
    g_string_free(b.seen, TRUE);
    g_mutex_clear(&b.lock);
    g_cond_clear(&b.cond);
    g_assert_true(qemu_monitor_is_responsive(qmp.mon));
}

static void
test_quit(void)
{
    g_autoptr(GError) error = NULL;
    gint64 deadline;
    guint at = log_len();
    guint shutdown_at;
    guint eof_at;
    int status = 0;
    pid_t r;

    g_assert_true(qemu_monitor_quit(qmp.mon, &error));
    g_assert_no_error(error);
    shutdown_at = log_wait("event SHUTDOWN {\"guest\":false,\"reason\":\"host-qmp-quit\"}", at);
    eof_at = log_wait("eof ", at);
    g_assert_cmpuint(shutdown_at, <, eof_at);
    {
        g_autofree char *eof = log_line(eof_at);

        /* QEMU exits with our command's newline unread: a reset, or EOF */
        if (g_strcmp0(eof, "eof VIR_ERR_OPERATION_FAILED: QEMU monitor closed: "
                      "end of file from QEMU") != 0)
            g_assert_cmpstr(eof, ==, "eof VIR_ERR_OPERATION_FAILED: QEMU monitor closed: "
                            "connection reset by QEMU");
    }
    g_assert_false(qemu_monitor_is_ready(qmp.mon));
    /* eof is reported once */
    g_usleep(100 * 1000);
    g_assert_cmpuint(log_len(), ==, eof_at + 1);

    /* later commands fail at once */
    g_assert_false(qemu_monitor_stop(qmp.mon, &error));
    g_assert_cmpint(error->code, ==, VIR_ERR_OPERATION_FAILED);
    g_clear_error(&error);

    deadline = g_get_monotonic_time() + WAIT_MS * G_TIME_SPAN_MILLISECOND;
    while ((r = waitpid(qmp.pid, &status, WNOHANG)) == 0 && g_get_monotonic_time() < deadline)
        g_usleep(10 * 1000);
    g_assert_cmpint(r, ==, qmp.pid);
    qmp.pid = 0;
    g_assert_true(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 0);
}

int
main(int argc, char **argv)
{
    g_autofree char *qemu = g_find_program_in_path("qemu-system-x86_64");
    g_autofree char *qemu_img = g_find_program_in_path("qemu-img");
    g_autofree char *qemu_io = g_find_program_in_path("qemu-io");
    int ret;

    if (!qemu || !qemu_img || !qemu_io) {
        printf("1..0 # SKIP qemu-system-x86_64, qemu-img or qemu-io not installed\n");
        return 0;
    }
    g_test_init(&argc, &argv, NULL);
    qmp.dir = g_dir_make_tmp("test-qmp-XXXXXX", NULL);
    qmp.sock = g_build_filename(qmp.dir, "qmp.sock", NULL);
    qmp.image = g_build_filename(qmp.dir, "disk0.qcow2", NULL);
    g_mutex_init(&qmp.log.lock);
    g_cond_init(&qmp.log.cond);
    qmp.log.lines = g_ptr_array_new_with_free_func(g_free);
    qmp.ctx = g_main_context_new();
    qmp.loop = g_main_loop_new(qmp.ctx, FALSE);
    qmp.thread = g_thread_new("qmp-loop", loop_thread, NULL);

    g_test_add_func("/qmp/start", test_start);
    g_test_add_func("/qmp/version", test_version);
    g_test_add_func("/qmp/status-events", test_status_events);
    g_test_add_func("/qmp/blockdev", test_blockdev);
    g_test_add_func("/qmp/hmp", test_hmp);
    g_test_add_func("/qmp/errors", test_errors);
    g_test_add_func("/qmp/async", test_async);
    g_test_add_func("/qmp/quit", test_quit);
    ret = g_test_run();

    kill_qemu();
    if (qmp.mon) {
        qemu_monitor_close(qmp.mon);
        qemu_monitor_unref(qmp.mon);
    }
    g_main_loop_quit(qmp.loop);
    g_thread_join(qmp.thread);
    g_main_loop_unref(qmp.loop);
    while (g_main_context_iteration(qmp.ctx, FALSE))
        ;
    g_main_context_unref(qmp.ctx);
    g_unlink(qmp.image);
    g_unlink(qmp.sock);
    g_rmdir(qmp.dir);
    g_ptr_array_unref(qmp.log.lines);
    g_free(qmp.dir);
    g_free(qmp.sock);
    g_free(qmp.image);
    return ret;
}
