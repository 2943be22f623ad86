/*
 * test-qemu-monitor.c: the QMP client against a fake QMP server.
 *
 * The test thread plays QEMU on one end of a socketpair (or of a UNIX
 * socket), with blocking reads that give up after a few seconds; the
 * monitor's context runs in a thread of its own ("the loop thread"), as in
 * virtqemud; blocking calls are made from worker threads.  Every callback
 * appends a line to a log, and the tests compare logs: what a user of the
 * monitor would see, in the order they would see it.
 */
#define G_LOG_DOMAIN "modvirt.test.qemu-monitor"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "qemu-monitor.h"
#include "util-error.h"

#define TEST_WAIT_MS 5000
#define TEST_GREETING \
    "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 22, \"minor\": 2, \"major\": 7}, " \
    "\"package\": \"Debian 1:7.2+dfsg-7\"}, \"capabilities\": [\"oob\"]}}"

/* ---------------------------------------------------------------------- */
/* the log of callbacks                                                   */

typedef struct {
    GMutex lock;
    GCond cond;
    GPtrArray *lines;
    GThread *thread;        /* where callbacks must run; NULL: anywhere */
    int wrong_thread;
} TestLog;

static void
test_log_init(TestLog *log, GThread *thread)
{
    g_mutex_init(&log->lock);
    g_cond_init(&log->cond);
    log->lines = g_ptr_array_new_with_free_func(g_free);
    log->thread = thread;
    log->wrong_thread = 0;
}

static void
test_log_clear(TestLog *log)
{
    g_ptr_array_unref(log->lines);
    g_mutex_clear(&log->lock);
    g_cond_clear(&log->cond);
}

static void G_GNUC_PRINTF(2, 3)
test_log_add(TestLog *log, const char *fmt, ...)
{
    va_list ap;
    char *line;

    va_start(ap, fmt);
    line = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_mutex_lock(&log->lock);
    if (log->thread && g_thread_self() != log->thread)
        log->wrong_thread++;
    g_ptr_array_add(log->lines, line);
    g_cond_broadcast(&log->cond);
    g_mutex_unlock(&log->lock);
}

/* Wait until the log has @n lines. */
static void
test_log_wait(TestLog *log, guint n)
{
    gint64 deadline = g_get_monotonic_time() + TEST_WAIT_MS * G_TIME_SPAN_MILLISECOND;

    g_mutex_lock(&log->lock);
    while (log->lines->len < n) {
        if (!g_cond_wait_until(&log->cond, &log->lock, deadline))
            break;
    }
    if (log->lines->len < n) {
        for (guint i = 0; i < log->lines->len; i++)
            g_test_message("log[%u] %s", i, (char *)log->lines->pdata[i]);
        g_mutex_unlock(&log->lock);
        g_error("timed out waiting for %u log lines", n);
    }
    g_mutex_unlock(&log->lock);
}

/* The log as one string, lines joined by '\n'. */
static char *
test_log_text(TestLog *log)
{
    GString *s = g_string_new(NULL);

    g_mutex_lock(&log->lock);
    for (guint i = 0; i < log->lines->len; i++)
        g_string_append_printf(s, "%s%s", i ? "\n" : "", (char *)log->lines->pdata[i]);
    g_assert_cmpint(log->wrong_thread, ==, 0);
    g_mutex_unlock(&log->lock);
    return g_string_free(s, FALSE);
}

static char *
test_log_line(TestLog *log, guint i)
{
    char *line;

    g_mutex_lock(&log->lock);
    g_assert_cmpuint(i, <, log->lines->len);
    line = g_strdup(log->lines->pdata[i]);
    g_mutex_unlock(&log->lock);
    return line;
}

static guint
test_log_len(TestLog *log)
{
    guint n;

    g_mutex_lock(&log->lock);
    n = log->lines->len;
    g_mutex_unlock(&log->lock);
    return n;
}

static char *
test_error_text(const GError *error)
{
    if (util_error_domain(error) != VIR_FROM_QEMU)
        return g_strdup_printf("error (domain %d) %d: %s", util_error_domain(error),
                               error->code, error->message);
    return g_strdup_printf("error %s: %s", util_error_code_name(error->code), error->message);
}

static void
test_on_ready(QemuMonitor *mon, const GError *error, gpointer opaque)
{
    g_autofree char *e = error ? test_error_text(error) : NULL;

    test_log_add(opaque, "ready %s", e ? e : "ok");
}

/* An event "BLOCK-LOOP" holds the loop thread until the gate opens. */
static GMutex test_gate_lock;
static GCond test_gate_cond;
static bool test_gate_open;

static void
test_gate_set(bool open)
{
    g_mutex_lock(&test_gate_lock);
    test_gate_open = open;
    g_cond_broadcast(&test_gate_cond);
    g_mutex_unlock(&test_gate_lock);
}

static void
test_on_event(QemuMonitor *mon, const char *name, json_object *data, gint64 ts,
              gpointer opaque)
{
    test_log_add(opaque, "event %s %s %" G_GINT64_FORMAT, name,
                 data ? json_object_to_json_string_ext(data, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE) : "-",
                 ts);
    if (g_str_equal(name, "TRY-BLOCKING")) {
        g_autoptr(GError) error = NULL;
        g_autoptr(json_object) reply = qemu_monitor_command(mon, "blocked", NULL, 1000, &error);
        g_autofree char *e = error ? test_error_text(error) : g_strdup("no error");
        bool ready = qemu_monitor_wait_ready(mon, 100, NULL);

        test_log_add(opaque, "blocking in callback: %s; wait_ready %d", e, ready);
    } else if (g_str_equal(name, "CLOSE-ME")) {
        qemu_monitor_close(mon);
    } else if (g_str_equal(name, "BLOCK-LOOP")) {
        g_mutex_lock(&test_gate_lock);
        while (!test_gate_open)
            g_cond_wait(&test_gate_cond, &test_gate_lock);
        g_mutex_unlock(&test_gate_lock);
    }
}

static void
test_on_eof(QemuMonitor *mon, const GError *error, gpointer opaque)
{
    g_autofree char *e = test_error_text(error);

    test_log_add(opaque, "eof %s", e);
}

static const QemuMonitorCallbacks test_callbacks = {
    .ready = test_on_ready,
    .event = test_on_event,
    .eof = test_on_eof,
};

/* Reply callbacks get a TestTag: the log and a name. */
typedef struct {
    TestLog *log;
    const char *name;
} TestTag;

static void
test_on_reply(QemuMonitor *mon, json_object *reply, const GError *error, gpointer data)
{
    TestTag *tag = data;
    g_autofree char *e = error ? test_error_text(error) : NULL;

    if (error)
        test_log_add(tag->log, "reply %s %s", tag->name, e);
    else
        test_log_add(tag->log, "reply %s %s", tag->name,
                     reply ? json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
                           : "null");
}

/* ---------------------------------------------------------------------- */
/* a context in a thread of its own                                       */

typedef struct {
    GMainContext *ctx;
    GMainLoop *loop;
    GThread *thread;
} TestLoop;

static gpointer
test_loop_thread(gpointer data)
{
    TestLoop *tl = data;

    g_main_context_push_thread_default(tl->ctx);
    g_main_loop_run(tl->loop);
    g_main_context_pop_thread_default(tl->ctx);
    return NULL;
}

static void
test_loop_start(TestLoop *tl)
{
    tl->ctx = g_main_context_new();
    tl->loop = g_main_loop_new(tl->ctx, FALSE);
    tl->thread = g_thread_new("monitor-loop", test_loop_thread, tl);
    while (!g_main_loop_is_running(tl->loop))
        g_usleep(1000);
}

static void
test_loop_stop(TestLoop *tl)
{
    g_main_loop_quit(tl->loop);
    g_thread_join(tl->thread);
    g_main_loop_unref(tl->loop);
    /* run what the monitor left behind (idle sources holding references) */
    while (g_main_context_iteration(tl->ctx, FALSE))
        ;
    g_main_context_unref(tl->ctx);
}

/* ---------------------------------------------------------------------- */
/* the fake QEMU                                                          */

typedef struct {
    int fd;
    GString *in;
    size_t scanned;         /* in->str[0..scanned) holds no newline */
} TestServer;

static void
test_server_init(TestServer *srv, int fd)
{
    srv->fd = fd;
    srv->in = g_string_new(NULL);
    srv->scanned = 0;
}

static void
test_server_clear(TestServer *srv)
{
    if (srv->fd >= 0)
        close(srv->fd);
    srv->fd = -1;
    g_string_free(srv->in, TRUE);
}

static void
test_server_write(TestServer *srv, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = send(srv->fd, data, len, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR)
            continue;
        g_assert_cmpint(n, >, 0);
        data += n;
        len -= n;
    }
}

static void G_GNUC_PRINTF(2, 3)
test_server_send(TestServer *srv, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *text = NULL;
    g_autofree char *line = NULL;

    va_start(ap, fmt);
    text = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    line = g_strconcat(text, "\r\n", NULL);
    test_server_write(srv, line, strlen(line));
}

/* The next line from the client, or NULL after @timeout_ms or at EOF. */
static char *
test_server_read_line(TestServer *srv, int timeout_ms)
{
    gint64 deadline = g_get_monotonic_time() + timeout_ms * G_TIME_SPAN_MILLISECOND;

    while (true) {
        char *nl = memchr(srv->in->str + srv->scanned, '\n', srv->in->len - srv->scanned);
        struct pollfd pfd = { .fd = srv->fd, .events = POLLIN };
        char buf[65536];
        gint64 left;
        ssize_t n;

        if (nl) {
            char *line = g_strndup(srv->in->str, nl - srv->in->str);

            g_string_erase(srv->in, 0, nl - srv->in->str + 1);
            srv->scanned = 0;
            return line;
        }
        srv->scanned = srv->in->len;
        left = (deadline - g_get_monotonic_time()) / 1000;
        if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
            return NULL;
        n = read(srv->fd, buf, sizeof(buf));
        if (n <= 0)
            return NULL;
        g_string_append_len(srv->in, buf, n);
    }
}

/* The next command, which must be @cmd. */
static json_object *
test_server_expect(TestServer *srv, const char *cmd)
{
    g_autofree char *line = test_server_read_line(srv, TEST_WAIT_MS);
    json_object *msg;
    json_object *v = NULL;

    if (!line)
        g_error("expected command '%s', got nothing", cmd);
    msg = json_tokener_parse(line);
    g_assert_nonnull(msg);
    g_assert_true(json_object_object_get_ex(msg, "execute", &v));
    g_assert_cmpstr(json_object_get_string(v), ==, cmd);
    g_assert_true(json_object_object_get_ex(msg, "id", &v));
    g_assert_true(json_object_is_type(v, json_type_string));
    return msg;
}

static const char *
test_msg_id(json_object *msg)
{
    json_object *v = NULL;

    g_assert_true(json_object_object_get_ex(msg, "id", &v));
    return json_object_get_string(v);
}

static const char *
test_msg_args(json_object *msg)
{
    json_object *v = NULL;

    if (!json_object_object_get_ex(msg, "arguments", &v))
        return "-";
    return json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

static void
test_server_reply(TestServer *srv, json_object *msg, const char *ret_json)
{
    test_server_send(srv, "{\"return\": %s, \"id\": \"%s\"}", ret_json, test_msg_id(msg));
}

/* Nothing arrives from the client for @ms. */
static void
test_server_silence(TestServer *srv, int ms)
{
    g_autofree char *line = test_server_read_line(srv, ms);

    if (line)
        g_error("expected silence, got '%s'", line);
}

static void
test_server_handshake(TestServer *srv)
{
    g_autoptr(json_object) caps = NULL;

    test_server_send(srv, TEST_GREETING);
    caps = test_server_expect(srv, "qmp_capabilities");
    g_assert_cmpstr(test_msg_args(caps), ==, "-");
    test_server_reply(srv, caps, "{}");
}

/* ---------------------------------------------------------------------- */
/* a monitor on a socketpair, its context run by a loop thread            */

typedef struct {
    TestLoop loop;
    TestLog log;
    TestServer srv;
    QemuMonitor *mon;
} TestFx;

static void
test_fx_open(TestFx *fx, const QemuMonitorOptions *opts)
{
    g_autoptr(GError) error = NULL;
    int sv[2];

    test_loop_start(&fx->loop);
    test_log_init(&fx->log, fx->loop.thread);
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
    test_server_init(&fx->srv, sv[0]);
    fx->mon = qemu_monitor_open_fd(sv[1], fx->loop.ctx, &test_callbacks, &fx->log,
                                   opts, &error);
    g_assert_no_error(error);
    g_assert_nonnull(fx->mon);
}

/* Open and complete the handshake; the log then holds "ready ok". */
static void
test_fx_ready(TestFx *fx, const QemuMonitorOptions *opts)
{
    g_autofree char *text = NULL;

    test_fx_open(fx, opts);
    test_server_handshake(&fx->srv);
    test_log_wait(&fx->log, 1);
    text = test_log_line(&fx->log, 0);
    g_assert_cmpstr(text, ==, "ready ok");
}

static void
test_fx_close(TestFx *fx)
{
    qemu_monitor_close(fx->mon);
    test_loop_stop(&fx->loop);
    qemu_monitor_unref(fx->mon);
    test_server_clear(&fx->srv);
    test_log_clear(&fx->log);
}

static void
test_assert_log(TestFx *fx, const char *expected)
{
    g_autofree char *text = test_log_text(&fx->log);

    g_assert_cmpstr(text, ==, expected);
}

/* A blocking command in a worker thread. */
typedef struct {
    QemuMonitor *mon;
    const char *cmd;
    json_object *args;
    int timeout_ms;
    json_object *reply;
    GError *error;
    gint64 elapsed_us;
    GThread *thread;
} TestCall;

static gpointer
test_call_thread(gpointer data)
{
    TestCall *c = data;
    gint64 start = g_get_monotonic_time();

    c->reply = qemu_monitor_command(c->mon, c->cmd, g_steal_pointer(&c->args),
                                    c->timeout_ms, &c->error);
    c->elapsed_us = g_get_monotonic_time() - start;
    return NULL;
}

static void
test_call_start(TestCall *c, QemuMonitor *mon, const char *cmd, json_object *args,
                int timeout_ms)
{
    memset(c, 0, sizeof(*c));
    c->mon = mon;
    c->cmd = cmd;
    c->args = args;
    c->timeout_ms = timeout_ms;
    c->thread = g_thread_new("blocking-call", test_call_thread, c);
}

static void
test_call_join(TestCall *c)
{
    g_thread_join(c->thread);
    c->thread = NULL;
}

static void
test_call_clear(TestCall *c)
{
    json_object_put(c->reply);
    g_clear_error(&c->error);
}

/* ---------------------------------------------------------------------- */
/* handshake                                                              */

static void
test_handshake(void)
{
    TestFx fx = { 0 };
    TestTag early = { &fx.log, "early" };
    g_autoptr(json_object) caps = NULL;
    g_autoptr(json_object) cmd = NULL;
    int major = 0, minor = 0, micro = 0;

    test_fx_open(&fx, NULL);
    g_assert_false(qemu_monitor_is_ready(fx.mon));
    g_assert_false(qemu_monitor_greeting_version(fx.mon, &major, &minor, &micro));

    /* a command before the handshake is held until it is over */
    qemu_monitor_command_async(fx.mon, "query-status", NULL, 0, test_on_reply, &early);
    test_server_silence(&fx.srv, 100);
    test_server_send(&fx.srv, TEST_GREETING);
    caps = test_server_expect(&fx.srv, "qmp_capabilities");
    g_assert_cmpstr(test_msg_args(caps), ==, "-");
    test_server_silence(&fx.srv, 100);
    g_assert_cmpuint(test_log_len(&fx.log), ==, 0);
    test_server_reply(&fx.srv, caps, "{}");

    cmd = test_server_expect(&fx.srv, "query-status");
    g_assert_cmpstr(test_msg_id(cmd), !=, test_msg_id(caps));
    test_server_reply(&fx.srv, cmd, "{\"running\": true, \"status\": \"running\"}");
    test_log_wait(&fx.log, 2);
    test_assert_log(&fx, "ready ok\n"
                    "reply early {\"running\":true,\"status\":\"running\"}");
    g_assert_true(qemu_monitor_is_ready(fx.mon));
    g_assert_true(qemu_monitor_is_responsive(fx.mon));
    g_assert_true(qemu_monitor_greeting_version(fx.mon, &major, &minor, &micro));
    g_assert_cmpint(major, ==, 7);
    g_assert_cmpint(minor, ==, 2);
    g_assert_cmpint(micro, ==, 22);
    test_fx_close(&fx);
}

typedef struct {
    QemuMonitor *mon;
    bool ok;
    GError *error;
} TestWaitReady;

static gpointer
test_wait_ready_thread(gpointer data)
{
    TestWaitReady *w = data;

    w->ok = qemu_monitor_wait_ready(w->mon, TEST_WAIT_MS, &w->error);
    return NULL;
}

static void
test_handshake_path(void)
{
    g_autofree char *dir = g_dir_make_tmp("test-qemu-monitor-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "qmp.sock", NULL);
    g_autofree char *missing = g_build_filename(dir, "missing.sock", NULL);
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    g_autoptr(GError) error = NULL;
    TestWaitReady w = { 0 };
    TestLoop loop = { 0 };
    TestLog log;
    TestServer srv;
    GThread *t;
    int lfd;

    test_loop_start(&loop);
    test_log_init(&log, loop.thread);

    /* no socket file: fails at once, naming the path */
    g_assert_null(qemu_monitor_open(missing, loop.ctx, &test_callbacks, &log, &error));
    g_assert_cmpint(util_error_domain(error), ==, VIR_FROM_QEMU);
    g_assert_cmpint(error->code, ==, VIR_ERR_SYSTEM_ERROR);
    g_assert_nonnull(strstr(error->message, missing));
    g_clear_error(&error);

    /* a socket file nobody listens on: refused at once */
    lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    strcpy(addr.sun_path, path);
    g_assert_cmpint(bind(lfd, (struct sockaddr *)&addr, sizeof(addr)), ==, 0);
    close(lfd);
    g_assert_null(qemu_monitor_open(path, loop.ctx, &test_callbacks, &log, &error));
    g_assert_cmpint(error->code, ==, VIR_ERR_SYSTEM_ERROR);
    g_assert_nonnull(strstr(error->message, "refused"));
    g_clear_error(&error);
    g_unlink(path);

    /* a listening socket: connect, greeting, capabilities; a worker waits */
    lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    g_assert_cmpint(bind(lfd, (struct sockaddr *)&addr, sizeof(addr)), ==, 0);
    g_assert_cmpint(listen(lfd, 1), ==, 0);
    w.mon = qemu_monitor_open(path, loop.ctx, &test_callbacks, &log, &error);
    g_assert_no_error(error);
    t = g_thread_new("wait-ready", test_wait_ready_thread, &w);
    test_server_init(&srv, accept4(lfd, NULL, NULL, SOCK_CLOEXEC));
    g_assert_cmpint(srv.fd, >=, 0);
    close(lfd);
    test_server_handshake(&srv);
    g_thread_join(t);
    g_assert_no_error(w.error);
    g_assert_true(w.ok);
    test_log_wait(&log, 1);
    {
        g_autofree char *first = test_log_line(&log, 0);
        g_autoptr(GError) e2 = NULL;
        g_autoptr(json_object) reply = NULL;
        TestCall c;
        g_autoptr(json_object) msg = NULL;

        g_assert_cmpstr(first, ==, "ready ok");
        /* wait_ready once ready returns at once */
        g_assert_true(qemu_monitor_wait_ready(w.mon, 0, &e2));
        test_call_start(&c, w.mon, "query-version", NULL, 0);
        msg = test_server_expect(&srv, "query-version");
        test_server_reply(&srv, msg, "{\"qemu\": {\"major\": 7, \"minor\": 2, \"micro\": 0}}");
        test_call_join(&c);
        g_assert_no_error(c.error);
        g_assert_nonnull(c.reply);
        test_call_clear(&c);
    }
    qemu_monitor_close(w.mon);
    /* QEMU sees the connection end */
    g_assert_null(test_server_read_line(&srv, TEST_WAIT_MS));
    test_loop_stop(&loop);
    qemu_monitor_unref(w.mon);
    test_server_clear(&srv);
    test_log_clear(&log);
    g_unlink(path);
    g_rmdir(dir);
}

/* A full listen backlog: connect(2) says EAGAIN and the monitor retries
 * until QEMU accepts. */
static void
test_handshake_backlog(void)
{
    g_autofree char *dir = g_dir_make_tmp("test-qemu-monitor-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "qmp.sock", NULL);
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    g_autoptr(GError) error = NULL;
    struct pollfd pfd;
    TestLoop loop = { 0 };
    QemuMonitor *mon;
    TestLog log;
    TestServer srv;
    int fillers[8];
    int nfillers = 0;
    bool full = false;
    int lfd;

    test_loop_start(&loop);
    test_log_init(&log, loop.thread);
    strcpy(addr.sun_path, path);
    lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    g_assert_cmpint(bind(lfd, (struct sockaddr *)&addr, sizeof(addr)), ==, 0);
    g_assert_cmpint(listen(lfd, 0), ==, 0);
    while (nfillers < (int)G_N_ELEMENTS(fillers)) {
        int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

        if (connect(c, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
            g_assert_cmpint(errno, ==, EAGAIN);
            close(c);
            full = true;
            break;
        }
        fillers[nfillers++] = c;
    }
    g_assert_true(full);

    mon = qemu_monitor_open(path, loop.ctx, &test_callbacks, &log, &error);
    g_assert_no_error(error);
    g_assert_nonnull(mon);
    g_usleep(100 * 1000);
    g_assert_cmpuint(test_log_len(&log), ==, 0);
    for (int i = 0; i < nfillers; i++) {
        close(accept4(lfd, NULL, NULL, SOCK_CLOEXEC));
        close(fillers[i]);
    }
    pfd.fd = lfd;
    pfd.events = POLLIN;
    g_assert_cmpint(poll(&pfd, 1, TEST_WAIT_MS), ==, 1);
    test_server_init(&srv, accept4(lfd, NULL, NULL, SOCK_CLOEXEC));
    g_assert_cmpint(srv.fd, >=, 0);
    test_server_handshake(&srv);
    test_log_wait(&log, 1);
    {
        g_autofree char *text = test_log_text(&log);

        g_assert_cmpstr(text, ==, "ready ok");
    }
    qemu_monitor_close(mon);
    test_loop_stop(&loop);
    qemu_monitor_unref(mon);
    close(lfd);
    test_server_clear(&srv);
    test_log_clear(&log);
    g_unlink(path);
    g_rmdir(dir);
}

/* Handshakes that fail: ready gets the error, eof is not called, commands
 * held meanwhile fail, wait_ready fails the same way. */
static void
test_handshake_fail_one(const char *what, const QemuMonitorOptions *opts,
                        void (*server)(TestServer *srv), const char *expected_ready)
{
    TestFx fx = { 0 };
    TestTag held = { &fx.log, "held" };
    g_autoptr(GError) error = NULL;
    g_autofree char *line0 = NULL;
    g_autofree char *line1 = NULL;
    TestWaitReady w = { 0 };
    GThread *t;

    g_test_message("handshake failure: %s", what);
    test_fx_open(&fx, opts);
    qemu_monitor_command_async(fx.mon, "query-status", NULL, -1, test_on_reply, &held);
    w.mon = fx.mon;
    t = g_thread_new("wait-ready", test_wait_ready_thread, &w);
    server(&fx.srv);
    test_log_wait(&fx.log, 2);
    g_thread_join(t);
    g_assert_false(w.ok);
    g_assert_nonnull(w.error);
    line0 = test_log_line(&fx.log, 0);
    line1 = test_log_line(&fx.log, 1);
    /* the held command fails first, then ready */
    g_assert_true(g_str_has_prefix(line0, "reply held error VIR_ERR_OPERATION_FAILED: "
                                   "QEMU monitor closed before command 'query-status' completed: "));
    if (!g_str_has_prefix(line1, expected_ready))
        g_error("'%s' does not start with '%s'", line1, expected_ready);
    g_assert_nonnull(strstr(line1, w.error->message));
    g_clear_error(&w.error);
    g_assert_false(qemu_monitor_is_ready(fx.mon));
    /* later commands fail at once (asynchronously) */
    qemu_monitor_command_async(fx.mon, "query-status", NULL, -1, test_on_reply, &held);
    test_log_wait(&fx.log, 3);
    g_usleep(50 * 1000);
    g_assert_cmpuint(test_log_len(&fx.log), ==, 3);
    g_free(line0);
    line0 = test_log_line(&fx.log, 2);
    g_assert_true(g_str_has_prefix(line0, "reply held error VIR_ERR_OPERATION_FAILED: "
                                   "QEMU monitor closed: "));
    g_clear_error(&error);
    test_fx_close(&fx);
}

static void
test_server_refuse_caps(TestServer *srv)
{
    g_autoptr(json_object) caps = NULL;

    test_server_send(srv, TEST_GREETING);
    caps = test_server_expect(srv, "qmp_capabilities");
    test_server_send(srv, "{\"error\": {\"class\": \"GenericError\", \"desc\": \"no way\"}, "
                     "\"id\": \"%s\"}", test_msg_id(caps));
}

static void
test_server_no_greeting(TestServer *srv)
{
    test_server_send(srv, "{\"return\": {}}");
}

static void
test_server_silent(TestServer *srv)
{
}

static void
test_server_hangup(TestServer *srv)
{
    shutdown(srv->fd, SHUT_RDWR);
}

static void
test_handshake_failures(void)
{
    QemuMonitorOptions quick = { .open_timeout_ms = 200 };
    gint64 start;
    gint64 elapsed;

    test_handshake_fail_one("capabilities refused", NULL, test_server_refuse_caps,
                            "ready error VIR_ERR_OPERATION_FAILED: QEMU monitor handshake "
                            "failed: QEMU refused qmp_capabilities: unable to execute QEMU "
                            "command 'qmp_capabilities': no way");
    test_handshake_fail_one("no greeting", NULL, test_server_no_greeting,
                            "ready error VIR_ERR_INTERNAL_ERROR: QEMU monitor handshake "
                            "failed: expected the QMP greeting, got '{\"return\": {}}'");
    test_handshake_fail_one("hang up", NULL, test_server_hangup,
                            "ready error VIR_ERR_OPERATION_FAILED: QEMU monitor handshake "
                            "failed: end of file from QEMU");
    start = g_get_monotonic_time();
    test_handshake_fail_one("silence", &quick, test_server_silent,
                            "ready error VIR_ERR_OPERATION_TIMEOUT: QEMU monitor handshake "
                            "failed: timed out after 200 ms");
    elapsed = (g_get_monotonic_time() - start) / 1000;
    g_assert_cmpint(elapsed, >=, 200);
    g_assert_cmpint(elapsed, <, 2000);
}

/* ---------------------------------------------------------------------- */
/* replies and events                                                     */

static void
test_out_of_order(void)
{
    TestFx fx = { 0 };
    TestTag a = { &fx.log, "a" }, b = { &fx.log, "b" }, c = { &fx.log, "c" };
    g_autoptr(json_object) ma = NULL;
    g_autoptr(json_object) mb = NULL;
    g_autoptr(json_object) mc = NULL;
    json_object *args = json_object_new_object();

    test_fx_ready(&fx, NULL);
    json_object_object_add(args, "device", json_object_new_string("vda"));
    json_object_object_add(args, "speed", json_object_new_int64(1LL << 40));
    qemu_monitor_command_async(fx.mon, "cmd-a", args, 0, test_on_reply, &a);
    qemu_monitor_command_async(fx.mon, "cmd-b", NULL, 0, test_on_reply, &b);
    qemu_monitor_command_async(fx.mon, "cmd-c", NULL, 0, test_on_reply, &c);
    ma = test_server_expect(&fx.srv, "cmd-a");
    mb = test_server_expect(&fx.srv, "cmd-b");
    mc = test_server_expect(&fx.srv, "cmd-c");
    g_assert_cmpstr(test_msg_args(ma), ==, "{\"device\":\"vda\",\"speed\":1099511627776}");
    g_assert_cmpstr(test_msg_args(mb), ==, "-");
    g_assert_cmpstr(test_msg_id(ma), !=, test_msg_id(mb));
    g_assert_cmpstr(test_msg_id(mb), !=, test_msg_id(mc));
    g_assert_cmpstr(test_msg_id(ma), !=, test_msg_id(mc));
    test_server_reply(&fx.srv, mc, "{\"who\": \"c\"}");
    test_server_reply(&fx.srv, ma, "{\"who\": \"a\"}");
    test_server_reply(&fx.srv, mb, "[\"b\", 2]");
    test_log_wait(&fx.log, 4);
    test_assert_log(&fx, "ready ok\n"
                    "reply c {\"who\":\"c\"}\n"
                    "reply a {\"who\":\"a\"}\n"
                    "reply b [\"b\",2]");
    test_fx_close(&fx);
}

static void
test_events(void)
{
    TestFx fx = { 0 };
    TestTag a = { &fx.log, "a" }, b = { &fx.log, "b" };
    g_autoptr(json_object) ma = NULL;
    g_autoptr(json_object) mb = NULL;
    g_autofree char *burst = NULL;
    g_autofree char *split = NULL;

    test_fx_ready(&fx, NULL);
    qemu_monitor_command_async(fx.mon, "cmd-a", NULL, 0, test_on_reply, &a);
    qemu_monitor_command_async(fx.mon, "cmd-b", NULL, 0, test_on_reply, &b);
    ma = test_server_expect(&fx.srv, "cmd-a");
    mb = test_server_expect(&fx.srv, "cmd-b");
    /* one write holding events and a reply, another split byte by byte */
    burst = g_strdup_printf(
        "{\"event\": \"JOB_STATUS_CHANGE\", \"data\": {\"status\": \"created\", \"id\": \"j1\"}, "
        "\"timestamp\": {\"seconds\": 1700000000, \"microseconds\": 250}}\r\n"
        "{\"return\": {}, \"id\": \"%s\"}\r\n"
        "{\"event\": \"STOP\", \"timestamp\": {\"seconds\": 1700000001, \"microseconds\": 0}}\r\n"
        "{\"event\": \"RESUME\"}\n",
        test_msg_id(ma));
    test_server_write(&fx.srv, burst, strlen(burst));
    split = g_strdup_printf(
        "{\"event\": \"BLOCK_JOB_READY\", \"data\": {\"device\": \"j1\", \"len\": 196608}, "
        "\"timestamp\": {\"seconds\": 1700000002, \"microseconds\": 999999}}\r\n"
        "{\"return\": {\"x\": \"\\u00e9\\n\"}, \"id\": \"%s\"}\r\n"
        "{\"event\": \"SHUTDOWN\", \"data\": {\"guest\": false, \"reason\": \"host-qmp-quit\"}, "
        "\"timestamp\": {\"seconds\": 1700000003, \"microseconds\": 1}}\r\n",
        test_msg_id(mb));
    for (size_t i = 0; split[i]; i++) {
        test_server_write(&fx.srv, split + i, 1);
        if (i % 16 == 0)
            g_usleep(100);
    }
    test_log_wait(&fx.log, 8);
    test_assert_log(&fx, "ready ok\n"
                    "event JOB_STATUS_CHANGE {\"status\":\"created\",\"id\":\"j1\"} 1700000000000250\n"
                    "reply a {}\n"
                    "event STOP - 1700000001000000\n"
                    "event RESUME - -1\n"
                    "event BLOCK_JOB_READY {\"device\":\"j1\",\"len\":196608} 1700000002999999\n"
                    "reply b {\"x\":\"\xc3\xa9\\n\"}\n"
                    "event SHUTDOWN {\"guest\":false,\"reason\":\"host-qmp-quit\"} 1700000003000001");
    test_fx_close(&fx);
}

static void
test_errors(void)
{
    static const struct {
        const char *name;
        const char *error_json;
        const char *expected;
    } cases[] = {
        { "generic", "{\"class\": \"GenericError\", \"desc\": \"Job 'x' not found\"}",
          "VIR_ERR_OPERATION_FAILED: unable to execute QEMU command 'generic': Job 'x' not found" },
        { "notfound", "{\"class\": \"CommandNotFound\", \"desc\": \"The command notfound has not been found\"}",
          "VIR_ERR_OPERATION_UNSUPPORTED: unable to execute QEMU command 'notfound': "
          "The command notfound has not been found (CommandNotFound)" },
        { "notactive", "{\"class\": \"DeviceNotActive\", \"desc\": \"No active block job on device 'vda'\"}",
          "VIR_ERR_OPERATION_INVALID: unable to execute QEMU command 'notactive': "
          "No active block job on device 'vda' (DeviceNotActive)" },
        { "nodevice", "{\"class\": \"DeviceNotFound\", \"desc\": \"Device 'x' not found\"}",
          "VIR_ERR_DEVICE_MISSING: unable to execute QEMU command 'nodevice': "
          "Device 'x' not found (DeviceNotFound)" },
        { "kvm", "{\"class\": \"KVMMissingCap\", \"desc\": \"nope\"}",
          "VIR_ERR_OPERATION_UNSUPPORTED: unable to execute QEMU command 'kvm': nope (KVMMissingCap)" },
        { "future", "{\"class\": \"FutureClass\", \"desc\": \"new\"}",
          "VIR_ERR_OPERATION_FAILED: unable to execute QEMU command 'future': new (FutureClass)" },
        { "noclass", "{\"desc\": \"bare\"}",
          "VIR_ERR_OPERATION_FAILED: unable to execute QEMU command 'noclass': bare" },
        { "nodesc", "{\"class\": \"GenericError\"}",
          "VIR_ERR_INTERNAL_ERROR: malformed error reply to QEMU command 'nodesc'" },
        { "notobject", "\"oops\"",
          "VIR_ERR_INTERNAL_ERROR: malformed error reply to QEMU command 'notobject'" },
    };
    TestFx fx = { 0 };
    TestTag tags[G_N_ELEMENTS(cases)];

    test_fx_ready(&fx, NULL);
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(json_object) msg = NULL;
        g_autofree char *line = NULL;
        g_autofree char *expected = g_strdup_printf("reply %s error %s", cases[i].name,
                                                    cases[i].expected);

        tags[i].log = &fx.log;
        tags[i].name = cases[i].name;
        qemu_monitor_command_async(fx.mon, cases[i].name, NULL, 0, test_on_reply, &tags[i]);
        msg = test_server_expect(&fx.srv, cases[i].name);
        test_server_send(&fx.srv, "{\"error\": %s, \"id\": \"%s\"}", cases[i].error_json,
                         test_msg_id(msg));
        test_log_wait(&fx.log, i + 2);
        line = test_log_line(&fx.log, i + 1);
        g_assert_cmpstr(line, ==, expected);
    }
    g_assert_cmpint(qemu_monitor_error_class_code("CommandNotFound"), ==,
                    VIR_ERR_OPERATION_UNSUPPORTED);
    g_assert_cmpint(qemu_monitor_error_class_code(NULL), ==, VIR_ERR_OPERATION_FAILED);

    /* a reply with neither return nor error cannot happen: it would be
     * "an unexpected message"; a reply that is JSON null is still a reply */
    {
        TestTag n = { &fx.log, "null" };
        g_autoptr(json_object) msg = NULL;
        g_autofree char *line = NULL;

        qemu_monitor_command_async(fx.mon, "returns-null", NULL, 0, test_on_reply, &n);
        msg = test_server_expect(&fx.srv, "returns-null");
        test_server_reply(&fx.srv, msg, "null");
        test_log_wait(&fx.log, G_N_ELEMENTS(cases) + 2);
        line = test_log_line(&fx.log, G_N_ELEMENTS(cases) + 1);
        g_assert_cmpstr(line, ==, "reply null null");
    }
    /* arguments that are not an object: refused, asynchronously */
    {
        TestTag bad = { &fx.log, "bad" };
        g_autofree char *line = NULL;

        qemu_monitor_command_async(fx.mon, "bad-args", json_object_new_array(), 0,
                                   test_on_reply, &bad);
        test_log_wait(&fx.log, G_N_ELEMENTS(cases) + 3);
        line = test_log_line(&fx.log, G_N_ELEMENTS(cases) + 2);
        g_assert_cmpstr(line, ==, "reply bad error VIR_ERR_INVALID_ARG: arguments of "
                        "QEMU command 'bad-args' must be a JSON object");
        test_server_silence(&fx.srv, 50);
    }
    test_fx_close(&fx);
}

/* ---------------------------------------------------------------------- */
/* timeouts                                                               */

static void
test_timeout(void)
{
    TestFx fx = { 0 };
    TestTag t = { &fx.log, "t" }, next = { &fx.log, "next" };
    g_autoptr(json_object) slow = NULL;
    g_autoptr(json_object) mt = NULL;
    g_autoptr(json_object) mn = NULL;
    TestCall c;

    test_fx_ready(&fx, NULL);

    /* a blocking call that QEMU never answers */
    test_call_start(&c, fx.mon, "slow", NULL, 300);
    slow = test_server_expect(&fx.srv, "slow");
    test_call_join(&c);
    g_assert_null(c.reply);
    g_assert_nonnull(c.error);
    g_assert_cmpint(util_error_domain(c.error), ==, VIR_FROM_QEMU);
    g_assert_cmpint(c.error->code, ==, VIR_ERR_OPERATION_TIMEOUT);
    g_assert_cmpstr(c.error->message, ==,
                    "timed out after 300 ms waiting for QEMU monitor command 'slow'");
    g_assert_cmpint(c.elapsed_us, >=, 300 * 1000);
    g_assert_cmpint(c.elapsed_us, <, 1300 * 1000);
    g_assert_false(qemu_monitor_is_responsive(fx.mon));
    test_call_clear(&c);

    /* an asynchronous one too: one callback, with the timeout */
    qemu_monitor_command_async(fx.mon, "slow-async", NULL, 200, test_on_reply, &t);
    mt = test_server_expect(&fx.srv, "slow-async");
    test_log_wait(&fx.log, 2);

    /* the late replies are dropped; the next command gets its own reply */
    test_server_reply(&fx.srv, slow, "{\"late\": 1}");
    test_server_reply(&fx.srv, mt, "{\"late\": 2}");
    qemu_monitor_command_async(fx.mon, "next", NULL, 0, test_on_reply, &next);
    mn = test_server_expect(&fx.srv, "next");
    test_server_reply(&fx.srv, mn, "{\"n\": 3}");
    test_log_wait(&fx.log, 3);
    g_usleep(50 * 1000);
    test_assert_log(&fx, "ready ok\n"
                    "reply t error VIR_ERR_OPERATION_TIMEOUT: timed out after 200 ms "
                    "waiting for QEMU monitor command 'slow-async'\n"
                    "reply next {\"n\":3}");
    g_assert_true(qemu_monitor_is_responsive(fx.mon));
    g_assert_true(qemu_monitor_is_ready(fx.mon));
    test_fx_close(&fx);
}

/* A command still unsent at its timeout (QEMU stopped reading) is
 * withdrawn: QEMU never executes what the caller was told failed. */
static void
test_timeout_unsent(void)
{
    TestFx fx = { 0 };
    TestTag big = { &fx.log, "big" }, small = { &fx.log, "small" };
    json_object *args = json_object_new_object();
    g_autofree char *filler = g_malloc(8 * 1024 * 1024 + 1);
    g_autofree char *line = NULL;
    g_autofree char *l1 = NULL;

    memset(filler, 'x', 8 * 1024 * 1024);
    filler[8 * 1024 * 1024] = '\0';
    test_fx_ready(&fx, NULL);
    json_object_object_add(args, "filler", json_object_new_string(filler));
    qemu_monitor_command_async(fx.mon, "big", args, -1, test_on_reply, &big);
    qemu_monitor_command_async(fx.mon, "small", NULL, 200, test_on_reply, &small);
    test_log_wait(&fx.log, 2);
    l1 = test_log_line(&fx.log, 1);
    g_assert_cmpstr(l1, ==, "reply small error VIR_ERR_OPERATION_TIMEOUT: timed out after "
                    "200 ms waiting for QEMU monitor command 'small'");
    line = test_server_read_line(&fx.srv, TEST_WAIT_MS);
    g_assert_nonnull(line);
    g_assert_true(g_str_has_prefix(line, "{\"execute\":\"big\""));
    g_assert_cmpuint(strlen(line), >, 8 * 1024 * 1024);
    test_server_silence(&fx.srv, 100);
    test_fx_close(&fx);
}

/* ---------------------------------------------------------------------- */
/* QEMU goes away                                                         */

static void
test_eof(void)
{
    TestFx fx = { 0 };
    TestTag a = { &fx.log, "a" }, b = { &fx.log, "b" }, d = { &fx.log, "d" };
    g_autoptr(json_object) ma = NULL;
    g_autoptr(json_object) mb = NULL;
    g_autoptr(json_object) mc = NULL;
    TestCall c;

    test_fx_ready(&fx, NULL);
    qemu_monitor_command_async(fx.mon, "a", NULL, -1, test_on_reply, &a);
    qemu_monitor_command_async(fx.mon, "b", NULL, 0, test_on_reply, &b);
    test_call_start(&c, fx.mon, "c", NULL, -1);
    ma = test_server_expect(&fx.srv, "a");
    mb = test_server_expect(&fx.srv, "b");
    mc = test_server_expect(&fx.srv, "c");
    /* an event just before the end is still delivered, first */
    test_server_send(&fx.srv, "{\"event\": \"SHUTDOWN\", \"data\": {\"guest\": false}}");
    shutdown(fx.srv.fd, SHUT_WR);
    test_call_join(&c);
    g_assert_null(c.reply);
    g_assert_cmpint(c.error->code, ==, VIR_ERR_OPERATION_FAILED);
    g_assert_cmpstr(c.error->message, ==,
                    "QEMU monitor closed before command 'c' completed: end of file from QEMU");
    test_call_clear(&c);
    test_log_wait(&fx.log, 5);
    test_assert_log(&fx, "ready ok\n"
                    "event SHUTDOWN {\"guest\":false} -1\n"
                    "reply a error VIR_ERR_OPERATION_FAILED: QEMU monitor closed before "
                    "command 'a' completed: end of file from QEMU\n"
                    "reply b error VIR_ERR_OPERATION_FAILED: QEMU monitor closed before "
                    "command 'b' completed: end of file from QEMU\n"
                    "eof error VIR_ERR_OPERATION_FAILED: QEMU monitor closed: end of file from QEMU");
    g_assert_false(qemu_monitor_is_ready(fx.mon));

    /* afterwards: commands fail at once, blocking ones synchronously */
    qemu_monitor_command_async(fx.mon, "d", NULL, 0, test_on_reply, &d);
    test_log_wait(&fx.log, 6);
    test_call_start(&c, fx.mon, "e", NULL, 0);
    test_call_join(&c);
    g_assert_cmpstr(c.error->message, ==, "QEMU monitor closed: end of file from QEMU");
    test_call_clear(&c);
    g_usleep(50 * 1000);
    g_assert_cmpuint(test_log_len(&fx.log), ==, 6);
    {
        g_autofree char *l = test_log_line(&fx.log, 5);

        g_assert_cmpstr(l, ==, "reply d error VIR_ERR_OPERATION_FAILED: QEMU monitor "
                        "closed: end of file from QEMU");
    }
    test_fx_close(&fx);
}

/* QEMU closes with our command unread: the kernel reports ECONNRESET. */
static void
test_reset(void)
{
    TestFx fx = { 0 };
    TestTag a = { &fx.log, "a" };
    struct pollfd pfd;

    test_fx_ready(&fx, NULL);
    qemu_monitor_command_async(fx.mon, "a", NULL, 0, test_on_reply, &a);
    pfd.fd = fx.srv.fd;
    pfd.events = POLLIN;
    g_assert_cmpint(poll(&pfd, 1, TEST_WAIT_MS), ==, 1);
    close(fx.srv.fd);
    fx.srv.fd = -1;
    test_log_wait(&fx.log, 3);
    test_assert_log(&fx, "ready ok\n"
                    "reply a error VIR_ERR_OPERATION_FAILED: QEMU monitor closed before "
                    "command 'a' completed: connection reset by QEMU\n"
                    "eof error VIR_ERR_OPERATION_FAILED: QEMU monitor closed: "
                    "connection reset by QEMU");
    test_fx_close(&fx);
}

/* A stream that is not JSON lines: the monitor is broken. */
static void
test_malformed(void)
{
#define CASE(text, why) { text, sizeof(text) - 1, why }
    static const struct {
        const char *data;
        size_t len;
        const char *why;
    } cases[] = {
        CASE("{\"return\": {}, \"id\": \r\n", "(incomplete)"),
        CASE("{bad json}\r\n", "(quoted object property name expected)"),
        CASE("{\"return\": {}} trailing\r\n", "(trailing data)"),
        CASE("{\"return\": {}}{\"return\": {}}\r\n", "(trailing data)"),
        CASE("{\"return\": {}, \"id\": \"x\0\"}\r\n", "(unexpected end of data)"),
        CASE("{\"event\": \"STOP\xff\"}\r\n", "(invalid utf-8 string)"),
    };
#undef CASE

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        TestFx fx = { 0 };
        TestTag a = { &fx.log, "a" };
        g_autoptr(json_object) ma = NULL;
        g_autofree char *l1 = NULL;
        g_autofree char *l2 = NULL;
        size_t len = cases[i].len;

        g_test_message("malformed: case %zu", i);
        test_fx_ready(&fx, NULL);
        qemu_monitor_command_async(fx.mon, "a", NULL, 0, test_on_reply, &a);
        ma = test_server_expect(&fx.srv, "a");
        test_server_write(&fx.srv, cases[i].data, len);
        test_log_wait(&fx.log, 3);
        l1 = test_log_line(&fx.log, 1);
        l2 = test_log_line(&fx.log, 2);
        g_assert_true(g_str_has_prefix(l1, "reply a error VIR_ERR_OPERATION_FAILED: QEMU "
                                       "monitor closed before command 'a' completed: "
                                       "malformed JSON from QEMU ("));
        g_assert_nonnull(strstr(l1, cases[i].why));
        g_assert_true(g_str_has_prefix(l2, "eof error VIR_ERR_INTERNAL_ERROR: QEMU monitor "
                                       "closed: malformed JSON from QEMU ("));
        /* QEMU sees the connection end */
        g_assert_null(test_server_read_line(&fx.srv, TEST_WAIT_MS));
        g_usleep(20 * 1000);
        g_assert_cmpuint(test_log_len(&fx.log), ==, 3);
        test_fx_close(&fx);
    }
}

/* Well-formed messages that make no sense are dropped; the monitor works on. */
static void
test_junk(void)
{
    TestFx fx = { 0 };
    TestTag a = { &fx.log, "a" };
    g_autoptr(json_object) ma = NULL;
    g_autofree char *deep = NULL;
    GString *s = g_string_new(NULL);

    for (int i = 0; i < 500; i++)
        g_string_append(s, "{\"backing-image\": ");
    g_string_append(s, "{}");
    for (int i = 0; i < 500; i++)
        g_string_append_c(s, '}');
    deep = g_string_free(s, FALSE);

    test_fx_ready(&fx, NULL);
    qemu_monitor_command_async(fx.mon, "a", NULL, 0, test_on_reply, &a);
    ma = test_server_expect(&fx.srv, "a");
    test_server_send(&fx.srv, "[1, 2, 3]");
    test_server_send(&fx.srv, "42");
    test_server_send(&fx.srv, "\"string\"");
    test_server_send(&fx.srv, "null");
    test_server_send(&fx.srv, "{\"id\": \"nope\", \"return\": {}}");
    test_server_send(&fx.srv, "{\"return\": {}}");
    test_server_send(&fx.srv, "{\"id\": 5, \"return\": {}}");
    test_server_send(&fx.srv, "{\"id\": null, \"error\": {\"class\": \"GenericError\", \"desc\": \"x\"}}");
    test_server_send(&fx.srv, "{\"foo\": 1}");
    test_server_send(&fx.srv, "{\"QMP\": {}}");
    test_server_send(&fx.srv, "{\"event\": 5}");
    test_server_send(&fx.srv, "{\"event\": \"BAD_TIME\", \"timestamp\": {\"seconds\": \"x\"}}");
    test_server_send(&fx.srv, "%s", "");
    test_server_send(&fx.srv, "   \t");
    test_server_send(&fx.srv, "{\"event\": \"DEEP\", \"data\": %s}", deep);
    test_server_reply(&fx.srv, ma, "{\"ok\": true}");
    test_log_wait(&fx.log, 4);
    g_usleep(20 * 1000);
    {
        g_autofree char *l1 = test_log_line(&fx.log, 1);
        g_autofree char *l2 = test_log_line(&fx.log, 2);
        g_autofree char *l3 = test_log_line(&fx.log, 3);

        g_assert_cmpstr(l1, ==, "event BAD_TIME - -1");
        g_assert_true(g_str_has_prefix(l2, "event DEEP {\"backing-image\":{\"backing-image\":"));
        g_assert_cmpstr(l3, ==, "reply a {\"ok\":true}");
    }
    g_assert_cmpuint(test_log_len(&fx.log), ==, 4);
    g_assert_true(qemu_monitor_is_ready(fx.mon));
    test_fx_close(&fx);
}

/* Send @len bytes of 'x' from a thread (the client reads concurrently). */
typedef struct {
    int fd;
    size_t len;
} TestFlood;

static gpointer
test_flood_thread(gpointer data)
{
    TestFlood *f = data;
    g_autofree char *buf = g_malloc(1024 * 1024);
    size_t sent = 0;

    memset(buf, 'x', 1024 * 1024);
    while (sent < f->len) {
        ssize_t n = send(f->fd, buf, MIN(f->len - sent, (size_t)1024 * 1024), MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;      /* the client gave up and closed: expected */
        sent += n;
    }
    return NULL;
}

static void
test_huge_line(void)
{
    TestFx fx = { 0 };
    TestTag a = { &fx.log, "a" }, b = { &fx.log, "b" };
    g_autoptr(json_object) ma = NULL;
    g_autoptr(json_object) mb = NULL;
    g_autofree char *big = g_malloc(4 * 1024 * 1024 + 1);
    g_autofree char *l1 = NULL;
    g_autofree char *l2 = NULL;
    g_autofree char *l3 = NULL;
    TestFlood flood;
    GThread *t;

    test_fx_ready(&fx, NULL);

    /* a large line within the limit is fine */
    memset(big, 'y', 4 * 1024 * 1024);
    big[4 * 1024 * 1024] = '\0';
    qemu_monitor_command_async(fx.mon, "a", NULL, 0, test_on_reply, &a);
    ma = test_server_expect(&fx.srv, "a");
    flood.fd = fx.srv.fd;
    test_server_send(&fx.srv, "{\"return\": \"%s\", \"id\": \"%s\"}", big, test_msg_id(ma));
    test_log_wait(&fx.log, 2);
    l1 = test_log_line(&fx.log, 1);
    g_assert_cmpuint(strlen(l1), ==, strlen("reply a \"\"") + 4 * 1024 * 1024);

    /* 17 MiB without a newline breaks the monitor */
    qemu_monitor_command_async(fx.mon, "b", NULL, 0, test_on_reply, &b);
    mb = test_server_expect(&fx.srv, "b");
    flood.len = 17 * 1024 * 1024;
    t = g_thread_new("flood", test_flood_thread, &flood);
    test_log_wait(&fx.log, 4);
    g_thread_join(t);
    l2 = test_log_line(&fx.log, 2);
    l3 = test_log_line(&fx.log, 3);
    g_assert_cmpstr(l2, ==, "reply b error VIR_ERR_OPERATION_FAILED: QEMU monitor closed "
                    "before command 'b' completed: line longer than 16777216 bytes from QEMU");
    g_assert_cmpstr(l3, ==, "eof error VIR_ERR_INTERNAL_ERROR: QEMU monitor closed: "
                    "line longer than 16777216 bytes from QEMU");
    test_fx_close(&fx);
}

/* The limit is exact: a complete line of max_line bytes passes, one more
 * byte breaks the monitor. */
static void
test_line_limit(void)
{
    QemuMonitorOptions opts = { .max_line = 1000 };
    TestFx fx = { 0 };
    g_autofree char *l1 = NULL;
    g_autofree char *l2 = NULL;

    for (size_t len = 1000; len <= 1001; len++) {
        g_autofree char *line = g_malloc(len + 2);
        const char *head = "{\"event\": \"PAD\", \"data\": \"";

        memset(line, 'p', len);
        memcpy(line, head, strlen(head));
        memcpy(line + len - 2, "\"}", 2);
        line[len] = '\n';
        line[len + 1] = '\0';
        if (len == 1000)
            test_fx_ready(&fx, &opts);
        test_server_write(&fx.srv, line, len + 1);
    }
    test_log_wait(&fx.log, 3);
    l1 = test_log_line(&fx.log, 1);
    l2 = test_log_line(&fx.log, 2);
    g_assert_true(g_str_has_prefix(l1, "event PAD \"ppp"));
    g_assert_cmpstr(l2, ==, "eof error VIR_ERR_INTERNAL_ERROR: QEMU monitor closed: "
                    "line longer than 1000 bytes from QEMU");
    test_fx_close(&fx);
}

/* ---------------------------------------------------------------------- */
/* threads                                                                */

#define TEST_WORKERS 4
#define TEST_CALLS 50

typedef struct {
    QemuMonitor *mon;
    int worker;
    int failures;
} TestWorker;

static gpointer
test_worker_thread(gpointer data)
{
    TestWorker *w = data;

    for (int i = 0; i < TEST_CALLS; i++) {
        g_autoptr(GError) error = NULL;
        g_autoptr(json_object) reply = NULL;
        json_object *args = json_object_new_object();
        json_object *v = NULL;

        json_object_object_add(args, "worker", json_object_new_int(w->worker));
        json_object_object_add(args, "seq", json_object_new_int(i));
        reply = qemu_monitor_command(w->mon, "echo", args, 0, &error);
        if (!reply || !json_object_object_get_ex(reply, "worker", &v) ||
            json_object_get_int(v) != w->worker ||
            !json_object_object_get_ex(reply, "seq", &v) || json_object_get_int(v) != i)
            w->failures++;
    }
    return NULL;
}

static void
test_json_free(gpointer obj)
{
    json_object_put(obj);
}

/* Blocking calls from several threads while the loop thread reads; the
 * server answers batches in reverse order with events in between. */
static void
test_blocking_threads(void)
{
    TestFx fx = { 0 };
    TestWorker workers[TEST_WORKERS];
    GThread *threads[TEST_WORKERS];
    int answered = 0;
    int events = 0;

    test_fx_ready(&fx, NULL);
    for (int i = 0; i < TEST_WORKERS; i++) {
        workers[i] = (TestWorker){ fx.mon, i, 0 };
        threads[i] = g_thread_new("worker", test_worker_thread, &workers[i]);
    }
    while (answered < TEST_WORKERS * TEST_CALLS) {
        GPtrArray *batch = g_ptr_array_new_with_free_func(test_json_free);
        char *line = test_server_read_line(&fx.srv, TEST_WAIT_MS);

        g_assert_nonnull(line);
        do {
            json_object *msg = json_tokener_parse(line);

            g_assert_nonnull(msg);
            g_ptr_array_add(batch, msg);
            g_free(line);
        } while ((line = test_server_read_line(&fx.srv, 2)));
        for (guint i = batch->len; i-- > 0;) {
            json_object *msg = batch->pdata[i];
            json_object *args = NULL;

            g_assert_true(json_object_object_get_ex(msg, "arguments", &args));
            test_server_send(&fx.srv, "{\"event\": \"TICK\", \"data\": {\"n\": %d}}", events++);
            test_server_reply(&fx.srv, msg,
                              json_object_to_json_string_ext(args, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
            answered++;
        }
        g_ptr_array_unref(batch);
    }
    for (int i = 0; i < TEST_WORKERS; i++) {
        g_thread_join(threads[i]);
        g_assert_cmpint(workers[i].failures, ==, 0);
    }
    test_log_wait(&fx.log, 1 + events);
    g_assert_cmpint(events, ==, TEST_WORKERS * TEST_CALLS);
    for (int i = 0; i < events; i++) {
        g_autofree char *l = test_log_line(&fx.log, 1 + i);
        g_autofree char *expected = g_strdup_printf("event TICK {\"n\":%d} -1", i);

        g_assert_cmpstr(l, ==, expected);
    }

    /* a blocking call from the context thread fails at once and sends
     * nothing (an event callback tries it) */
    test_server_send(&fx.srv, "{\"event\": \"TRY-BLOCKING\"}");
    test_log_wait(&fx.log, 3 + events);
    {
        g_autofree char *l = test_log_line(&fx.log, 2 + events);

        g_assert_cmpstr(l, ==, "blocking in callback: error VIR_ERR_INTERNAL_ERROR: blocking "
                        "QEMU monitor command called from the QEMU monitor's context thread; "
                        "wait_ready 0");
    }
    test_server_silence(&fx.srv, 50);
    test_fx_close(&fx);
}

/* One QEMU hangs; another on the same context keeps answering. */
static void
test_two_monitors(void)
{
    TestFx fx = { 0 };
    TestServer srv_b;
    TestLog log_b;
    QemuMonitor *mon_b;
    g_autoptr(GError) error = NULL;
    g_autoptr(json_object) hung = NULL;
    gint64 start;
    TestTag tag = { &log_b, "b" };
    TestCall c;
    int sv[2];

    test_fx_ready(&fx, NULL);
    test_log_init(&log_b, fx.loop.thread);
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
    test_server_init(&srv_b, sv[0]);
    mon_b = qemu_monitor_open_fd(sv[1], fx.loop.ctx, &test_callbacks, &log_b, NULL, &error);
    g_assert_no_error(error);
    test_server_handshake(&srv_b);
    test_log_wait(&log_b, 1);

    /* A: a blocking call that will time out */
    test_call_start(&c, fx.mon, "hang", NULL, 1500);
    hung = test_server_expect(&fx.srv, "hang");
    start = g_get_monotonic_time();
    for (int i = 0; i < 20; i++) {
        g_autoptr(json_object) msg = NULL;

        qemu_monitor_command_async(mon_b, "query-status", NULL, 0, test_on_reply, &tag);
        msg = test_server_expect(&srv_b, "query-status");
        test_server_reply(&srv_b, msg, "{\"running\": false, \"status\": \"paused\"}");
        test_log_wait(&log_b, 2 + i);
    }
    g_assert_cmpint(g_get_monotonic_time() - start, <, 1000 * 1000);
    /* A is still waiting */
    g_assert_null(c.reply);
    test_call_join(&c);
    g_assert_cmpint(c.error->code, ==, VIR_ERR_OPERATION_TIMEOUT);
    g_assert_cmpint(c.elapsed_us, >=, 1500 * 1000);
    g_assert_false(qemu_monitor_is_responsive(fx.mon));
    g_assert_true(qemu_monitor_is_responsive(mon_b));
    test_call_clear(&c);

    qemu_monitor_close(mon_b);
    qemu_monitor_unref(mon_b);
    test_server_clear(&srv_b);
    g_assert_cmpint(log_b.wrong_thread, ==, 0);
    test_log_clear(&log_b);
    test_fx_close(&fx);
}

/* ---------------------------------------------------------------------- */
/* closing                                                                */

static void
test_close(void)
{
    TestFx fx = { 0 };
    TestTag a = { &fx.log, "a" }, b = { &fx.log, "b" };
    g_autoptr(json_object) ma = NULL;
    g_autoptr(json_object) mb = NULL;

    test_fx_ready(&fx, NULL);
    qemu_monitor_command_async(fx.mon, "a", NULL, 0, test_on_reply, &a);
    qemu_monitor_command_async(fx.mon, "b", NULL, -1, test_on_reply, &b);
    ma = test_server_expect(&fx.srv, "a");
    mb = test_server_expect(&fx.srv, "b");
    qemu_monitor_close(fx.mon);
    qemu_monitor_close(fx.mon);
    g_assert_false(qemu_monitor_is_ready(fx.mon));
    test_log_wait(&fx.log, 3);
    g_assert_null(test_server_read_line(&fx.srv, TEST_WAIT_MS));
    g_usleep(20 * 1000);
    test_assert_log(&fx, "ready ok\n"
                    "reply a error VIR_ERR_OPERATION_FAILED: QEMU monitor closed before "
                    "command 'a' completed: closed by its owner\n"
                    "reply b error VIR_ERR_OPERATION_FAILED: QEMU monitor closed before "
                    "command 'b' completed: closed by its owner");
    test_fx_close(&fx);

    /* closed from inside an event callback: nothing after it is delivered */
    test_fx_ready(&fx, NULL);
    qemu_monitor_command_async(fx.mon, "a", NULL, 0, test_on_reply, &a);
    ma = (json_object_put(ma), test_server_expect(&fx.srv, "a"));
    {
        g_autofree char *burst = g_strdup_printf(
            "{\"event\": \"CLOSE-ME\"}\r\n{\"event\": \"AFTER\"}\r\n"
            "{\"return\": {}, \"id\": \"%s\"}\r\n", test_msg_id(ma));

        test_server_write(&fx.srv, burst, strlen(burst));
    }
    test_log_wait(&fx.log, 3);
    g_assert_null(test_server_read_line(&fx.srv, TEST_WAIT_MS));
    g_usleep(20 * 1000);
    test_assert_log(&fx, "ready ok\n"
                    "event CLOSE-ME - -1\n"
                    "reply a error VIR_ERR_OPERATION_FAILED: QEMU monitor closed before "
                    "command 'a' completed: closed by its owner");
    test_fx_close(&fx);
}

/* The owner closes from another thread while the loop thread is busy, and
 * the stream breaks before the deferred close runs: the owner's close
 * wins, no eof and no later event is reported. */
static void
test_close_racing_eof(void)
{
    TestFx fx = { 0 };
    TestTag a = { &fx.log, "a" };
    g_autoptr(json_object) ma = NULL;
    g_autofree char *l2 = NULL;

    test_gate_set(false);
    test_fx_ready(&fx, NULL);
    qemu_monitor_command_async(fx.mon, "a", NULL, 0, test_on_reply, &a);
    ma = test_server_expect(&fx.srv, "a");
    test_server_send(&fx.srv, "{\"event\": \"BLOCK-LOOP\"}\r\n{\"event\": \"AFTER\"}\r\n"
                     "{\"broken\"");
    shutdown(fx.srv.fd, SHUT_WR);
    test_log_wait(&fx.log, 2);
    qemu_monitor_close(fx.mon);         /* the loop thread is busy: deferred */
    g_assert_false(qemu_monitor_is_ready(fx.mon));
    test_gate_set(true);
    test_log_wait(&fx.log, 3);
    g_usleep(50 * 1000);
    g_assert_cmpuint(test_log_len(&fx.log), ==, 3);
    l2 = test_log_line(&fx.log, 2);
    g_assert_cmpstr(l2, ==, "reply a error VIR_ERR_OPERATION_FAILED: QEMU monitor closed "
                    "before command 'a' completed: malformed JSON from QEMU (incomplete): "
                    "'{\"broken\"'");
    test_fx_close(&fx);
}

/* ---------------------------------------------------------------------- */
/* nobody runs the context: the blocking calls drive it                   */

static gpointer
test_self_driven_server(gpointer data)
{
    TestServer *srv = data;
    g_autoptr(json_object) msg = NULL;

    test_server_handshake(srv);
    msg = test_server_expect(srv, "query-status");
    test_server_send(srv, "{\"event\": \"STOP\"}");
    test_server_reply(srv, msg, "{\"running\": false, \"status\": \"prelaunch\"}");
    return NULL;
}

static void
test_self_driven(void)
{
    GMainContext *ctx = g_main_context_new();
    g_autoptr(GError) error = NULL;
    QemuMonitorStatus st = { 0 };
    TestServer srv;
    TestLog log;
    QemuMonitor *mon;
    GThread *t;
    int sv[2];

    test_log_init(&log, g_thread_self());
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
    test_server_init(&srv, sv[0]);
    mon = qemu_monitor_open_fd(sv[1], ctx, &test_callbacks, &log, NULL, &error);
    g_assert_no_error(error);
    t = g_thread_new("server", test_self_driven_server, &srv);
    g_assert_true(qemu_monitor_wait_ready(mon, TEST_WAIT_MS, &error));
    g_assert_no_error(error);
    g_assert_true(qemu_monitor_query_status(mon, &st, &error));
    g_assert_no_error(error);
    g_assert_false(st.running);
    g_assert_cmpint(st.state, ==, QEMU_MONITOR_RUN_STATE_PRELAUNCH);
    g_assert_cmpstr(st.reason, ==, "prelaunch");
    qemu_monitor_status_clear(&st);
    g_thread_join(t);
    {
        g_autofree char *text = test_log_text(&log);

        g_assert_cmpstr(text, ==, "ready ok\nevent STOP - -1");
    }
    qemu_monitor_close(mon);
    qemu_monitor_unref(mon);
    test_server_clear(&srv);

    /* a silent QEMU: wait_ready keeps its own deadline, not the open
     * timeout's, while it drives the context */
    {
        gint64 start;
        gint64 elapsed;

        g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
        test_server_init(&srv, sv[0]);
        mon = qemu_monitor_open_fd(sv[1], ctx, &test_callbacks, &log, NULL, &error);
        start = g_get_monotonic_time();
        g_assert_false(qemu_monitor_wait_ready(mon, 200, &error));
        elapsed = (g_get_monotonic_time() - start) / 1000;
        g_assert_cmpint(error->code, ==, VIR_ERR_OPERATION_TIMEOUT);
        g_assert_cmpint(elapsed, >=, 200);
        g_assert_cmpint(elapsed, <, 1000);
        g_clear_error(&error);
        qemu_monitor_close(mon);
        qemu_monitor_unref(mon);
        test_server_clear(&srv);
    }
    while (g_main_context_iteration(ctx, FALSE))
        ;
    g_main_context_unref(ctx);
    test_log_clear(&log);
}

/* ---------------------------------------------------------------------- */
/* typed wrappers                                                         */

typedef struct {
    QemuMonitor *mon;
    GString *out;
} TestWrappers;

static void
test_wrapper_note(TestWrappers *tw, bool ok, GError **error, const char *what)
{
    if (ok) {
        g_string_append_printf(tw->out, "%s ok\n", what);
    } else {
        g_autofree char *e = test_error_text(*error);

        g_string_append_printf(tw->out, "%s %s\n", what, e);
        g_clear_error(error);
    }
}

static gpointer
test_wrappers_thread(gpointer data)
{
    TestWrappers *tw = data;
    QemuMonitor *mon = tw->mon;
    g_autoptr(GError) error = NULL;
    QemuMonitorStatus st = { 0 };
    QemuMonitorVersion ver = { 0 };
    json_object *props;
    json_object *j;
    char *s;

    if (qemu_monitor_query_status(mon, &st, &error))
        g_string_append_printf(tw->out, "status %d %s %s\n", st.running,
                               qemu_monitor_run_state_to_string(st.state), st.reason);
    qemu_monitor_status_clear(&st);
    test_wrapper_note(tw, qemu_monitor_query_status(mon, &st, &error), &error, "status-odd");
    g_string_append_printf(tw->out, "state %s %s\n",
                           qemu_monitor_run_state_to_string(st.state), st.reason);
    qemu_monitor_status_clear(&st);
    test_wrapper_note(tw, qemu_monitor_query_status(mon, &st, &error), &error, "status-bad");
    if (qemu_monitor_query_version(mon, &ver, &error))
        g_string_append_printf(tw->out, "version %d.%d.%d '%s'\n", ver.major, ver.minor,
                               ver.micro, ver.package);
    qemu_monitor_version_clear(&ver);
    j = qemu_monitor_query_block_jobs(mon, &error);
    g_string_append_printf(tw->out, "block-jobs %s\n",
                           j ? json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE) : "-");
    json_object_put(j);
    j = qemu_monitor_query_jobs(mon, &error);
    test_wrapper_note(tw, j != NULL, &error, "jobs");
    json_object_put(j);
    j = qemu_monitor_query_named_block_nodes(mon, &error);
    g_string_append_printf(tw->out, "nodes %zu\n", j ? json_object_array_length(j) : 0);
    json_object_put(j);
    test_wrapper_note(tw, qemu_monitor_stop(mon, &error), &error, "stop");
    test_wrapper_note(tw, qemu_monitor_cont(mon, &error), &error, "cont");
    test_wrapper_note(tw, qemu_monitor_system_powerdown(mon, &error), &error, "powerdown");
    test_wrapper_note(tw, qemu_monitor_system_reset(mon, &error), &error, "reset");
    props = json_tokener_parse("{\"driver\": \"qcow2\", \"node-name\": \"n1\", "
                               "\"file\": {\"driver\": \"file\", \"filename\": \"/x.qcow2\"}}");
    test_wrapper_note(tw, qemu_monitor_blockdev_add(mon, props, &error), &error, "add");
    test_wrapper_note(tw, qemu_monitor_blockdev_del(mon, "n1", &error), &error, "del");
    s = qemu_monitor_hmp(mon, "info version", &error);
    g_string_append_printf(tw->out, "hmp '%s'\n", s ? s : "-");
    g_free(s);
    test_wrapper_note(tw, qemu_monitor_quit(mon, &error), &error, "quit");
    return NULL;
}

static void
test_wrappers(void)
{
    static const struct {
        const char *cmd;
        const char *args;
        const char *reply;     /* a "return" value, or an "error" member when starting with '!' */
    } script[] = {
        { "query-status", "-", "{\"running\": true, \"singlestep\": false, \"status\": \"running\"}" },
        { "query-status", "-", "{\"running\": false, \"status\": \"something-new\"}" },
        { "query-status", "-", "{\"running\": \"yes\", \"status\": \"running\"}" },
        { "query-version", "-", "{\"qemu\": {\"micro\": 22, \"minor\": 2, \"major\": 7}, "
                                "\"package\": \"Debian 1:7.2+dfsg-7+deb12u18\"}" },
        { "query-block-jobs", "-", "[{\"device\": \"j\", \"type\": \"commit\", \"ready\": false}]" },
        { "query-jobs", "-", "{}" },
        { "query-named-block-nodes", "{\"flat\":true}", "[{\"node-name\": \"a\"}, {\"node-name\": \"b\"}]" },
        { "stop", "-", "{}" },
        { "cont", "-", "!{\"class\": \"GenericError\", \"desc\": \"Resetting the Virtual Machine is required\"}" },
        { "system_powerdown", "-", "{}" },
        { "system_reset", "-", "{}" },
        { "blockdev-add", "{\"driver\":\"qcow2\",\"node-name\":\"n1\",\"file\":{\"driver\":\"file\",\"filename\":\"/x.qcow2\"}}", "{}" },
        { "blockdev-del", "{\"node-name\":\"n1\"}", "!{\"class\": \"GenericError\", \"desc\": \"Failed to find node with node-name='n1'\"}" },
        { "human-monitor-command", "{\"command-line\":\"info version\"}", "\"7.2.22\\r\\n\"" },
        { "quit", "-", "{}" },
    };
    TestFx fx = { 0 };
    TestWrappers tw = { 0 };
    GThread *t;

    test_fx_ready(&fx, NULL);
    tw.mon = fx.mon;
    tw.out = g_string_new(NULL);
    t = g_thread_new("wrappers", test_wrappers_thread, &tw);
    for (size_t i = 0; i < G_N_ELEMENTS(script); i++) {
        g_autoptr(json_object) msg = test_server_expect(&fx.srv, script[i].cmd);

        g_assert_cmpstr(test_msg_args(msg), ==, script[i].args);
        if (script[i].reply[0] == '!')
            test_server_send(&fx.srv, "{\"error\": %s, \"id\": \"%s\"}", script[i].reply + 1,
                             test_msg_id(msg));
        else
            test_server_reply(&fx.srv, msg, script[i].reply);
    }
    g_thread_join(t);
    g_assert_cmpstr(tw.out->str, ==,
                    "status 1 running running\n"
                    "status-odd ok\n"
                    "state unknown something-new\n"
                    "status-bad error VIR_ERR_INTERNAL_ERROR: malformed reply to QEMU command 'query-status'\n"
                    "version 7.2.22 'Debian 1:7.2+dfsg-7+deb12u18'\n"
                    "block-jobs [{\"device\":\"j\",\"type\":\"commit\",\"ready\":false}]\n"
                    "jobs error VIR_ERR_INTERNAL_ERROR: malformed reply to QEMU command 'query-jobs'\n"
                    "nodes 2\n"
                    "stop ok\n"
                    "cont error VIR_ERR_OPERATION_FAILED: unable to execute QEMU command 'cont': "
                    "Resetting the Virtual Machine is required\n"
                    "powerdown ok\n"
                    "reset ok\n"
                    "add ok\n"
                    "del error VIR_ERR_OPERATION_FAILED: unable to execute QEMU command "
                    "'blockdev-del': Failed to find node with node-name='n1'\n"
                    "hmp '7.2.22\r\n'\n"
                    "quit ok\n");
    g_string_free(tw.out, TRUE);

    for (int i = 0; i < QEMU_MONITOR_RUN_STATE_LAST; i++)
        g_assert_cmpint(qemu_monitor_run_state_from_string(qemu_monitor_run_state_to_string(i)),
                        ==, i);
    g_assert_null(qemu_monitor_run_state_to_string(QEMU_MONITOR_RUN_STATE_LAST));
    test_fx_close(&fx);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/qemu-monitor/handshake/fd", test_handshake);
    g_test_add_func("/qemu-monitor/handshake/path", test_handshake_path);
    g_test_add_func("/qemu-monitor/handshake/backlog", test_handshake_backlog);
    g_test_add_func("/qemu-monitor/handshake/failures", test_handshake_failures);
    g_test_add_func("/qemu-monitor/reply/out-of-order", test_out_of_order);
    g_test_add_func("/qemu-monitor/reply/events-between", test_events);
    g_test_add_func("/qemu-monitor/reply/errors", test_errors);
    g_test_add_func("/qemu-monitor/timeout/late-reply", test_timeout);
    g_test_add_func("/qemu-monitor/timeout/unsent", test_timeout_unsent);
    g_test_add_func("/qemu-monitor/broken/eof", test_eof);
    g_test_add_func("/qemu-monitor/broken/reset", test_reset);
    g_test_add_func("/qemu-monitor/broken/malformed", test_malformed);
    g_test_add_func("/qemu-monitor/broken/huge-line", test_huge_line);
    g_test_add_func("/qemu-monitor/broken/line-limit", test_line_limit);
    g_test_add_func("/qemu-monitor/robust/junk", test_junk);
    g_test_add_func("/qemu-monitor/threads/blocking", test_blocking_threads);
    g_test_add_func("/qemu-monitor/threads/two-monitors", test_two_monitors);
    g_test_add_func("/qemu-monitor/threads/self-driven", test_self_driven);
    g_test_add_func("/qemu-monitor/close", test_close);
    g_test_add_func("/qemu-monitor/close/racing-eof", test_close_racing_eof);
    g_test_add_func("/qemu-monitor/wrappers", test_wrappers);
    return g_test_run();
}
