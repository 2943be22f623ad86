/*
 * fuzz-qmp.c: the QMP client (shared/qemu-monitor) talking to a QEMU that
 * sends damaged JSON: greeting, replies and events.
 *
 * No QEMU runs.  The monitor is opened on one end of a socketpair; the
 * other end is a fake QEMU, a source on the same GMainContext that answers
 * each command the monitor sends with a reply made from a template of
 * what QEMU 7.2 answers (the command's id filled in), sometimes mutated,
 * with events (also sometimes mutated) slipped in between.  Once it has
 * sent something mutated it hangs up, so that a reply the monitor cannot
 * match fails the command at once instead of after a timeout (which would
 * then be a hang of the monitor's own).  The calls
 * are the blocking typed wrappers virtqemud uses, made from this thread
 * while nothing else iterates the context (the monitor then iterates it
 * itself).
 *
 * Each call either succeeds with a sane value or fails with one of the
 * error codes qemu-monitor.h documents and a message; when nothing was
 * mutated, every call succeeds.
 */
#define G_LOG_DOMAIN "modvirt.test.fuzz.qmp"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib.h>
#include <glib-unix.h>

#include "fuzz-common.h"
#include "qemu-monitor.h"
#include "util-error.h"

#define GREETING \
    "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 7}, " \
    "\"package\": \"Debian 1:7.2+dfsg-7+deb12u18\"}, \"capabilities\": [\"oob\"]}}"

typedef struct {
    const char *command;
    const char *reply;      /* the part before the id: {"return": ...} */
} ReplyTemplate;

/* what QEMU 7.2 answers (trimmed from real sessions) */
static const ReplyTemplate replies[] = {
    { "qmp_capabilities", "\"return\": {}" },
    { "query-status", "\"return\": {\"status\": \"running\", \"singlestep\": false, "
                      "\"running\": true}" },
    { "query-status", "\"return\": {\"status\": \"paused\", \"singlestep\": false, "
                      "\"running\": false}" },
    { "query-version", "\"return\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 7}, "
                       "\"package\": \"Debian 1:7.2+dfsg-7+deb12u18\"}" },
    { "query-block-jobs", "\"return\": [{\"auto-finalize\": true, \"io-status\": \"ok\", "
                          "\"device\": \"commit-vda\", \"auto-dismiss\": false, \"busy\": true, "
                          "\"len\": 1073741824, \"offset\": 52428800, \"status\": \"running\", "
                          "\"paused\": false, \"speed\": 0, \"ready\": false, "
                          "\"type\": \"commit\"}]" },
    { "query-named-block-nodes", "\"return\": [{\"iops_rd\": 0, \"detect_zeroes\": \"off\", "
                                 "\"image\": {\"virtual-size\": 1073741824, \"filename\": "
                                 "\"/var/lib/images/top.qcow2\", \"cluster-size\": 65536, "
                                 "\"format\": \"qcow2\", \"actual-size\": 200704, "
                                 "\"dirty-flag\": false}, \"node-name\": "
                                 "\"libvirt-1-format\", \"backing_file_depth\": 1, "
                                 "\"drv\": \"qcow2\", \"ro\": false, \"encrypted\": false, "
                                 "\"file\": \"/var/lib/images/top.qcow2\"}]" },
    { "human-monitor-command", "\"return\": \"VM status: running\\r\\n\"" },
    { "cont", "\"return\": {}" },
};

static const char *const error_replies[] = {
    "\"error\": {\"class\": \"GenericError\", \"desc\": \"Device 'vda' not found\"}",
    "\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"The command x has not been found\"}",
    "\"error\": {\"class\": \"DeviceNotActive\", \"desc\": \"No active block job on device\"}",
    "\"error\": {\"class\": \"DeviceNotFound\", \"desc\": \"Device not found\"}",
    "\"error\": {\"class\": \"KVMMissingCap\", \"desc\": \"x\"}",
    "\"error\": {}",
};

static const char *const events[] = {
    "{\"timestamp\": {\"seconds\": 1700000000, \"microseconds\": 123456}, \"event\": \"STOP\"}",
    "{\"timestamp\": {\"seconds\": 1700000000, \"microseconds\": 1}, \"event\": \"RESUME\"}",
    "{\"timestamp\": {\"seconds\": 1700000001, \"microseconds\": 2}, \"event\": \"SHUTDOWN\", "
    "\"data\": {\"guest\": true, \"reason\": \"guest-shutdown\"}}",
    "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 3}, \"event\": \"BLOCK_JOB_COMPLETED\", "
    "\"data\": {\"device\": \"commit-vda\", \"len\": 1073741824, \"offset\": 1073741824, "
    "\"speed\": 0, \"type\": \"commit\"}}",
    "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 4}, \"event\": \"BLOCK_JOB_READY\", "
    "\"data\": {\"device\": \"copy-vda\", \"len\": 5, \"offset\": 5, \"speed\": 0, "
    "\"type\": \"mirror\"}}",
    "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 5}, \"event\": \"JOB_STATUS_CHANGE\", "
    "\"data\": {\"status\": \"concluded\", \"id\": \"commit-vda\"}}",
    "{\"event\": \"RESET\"}",
};

static const char *const json_tokens[] = {
    "{", "}", "[", "]", ",", ":", "\"", "\\", "\\u0000", "\\ud800", "null", "true", "false",
    "-0", "1e999", "18446744073709551616", "-9223372036854775809", "\"id\"", "\"return\"",
    "\"error\"", "\"event\"", "\"data\"", "\"timestamp\"", "\"QMP\"", "\n", "\xff", "\xc3",
    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", "{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{",
};

static const FuzzDict json_dict = { json_tokens, G_N_ELEMENTS(json_tokens) };

typedef struct {
    GRand *rand;
    bool mutate;            /* this iteration may damage what it sends */
    bool damaged;           /* something damaged was sent: hang up after it */
    int fd;                 /* the fake QEMU's end */
    GString *in;            /* what the monitor sent, not yet a whole line */
    GByteArray *last;       /* the last thing sent, for the crash report */
    guint commands;
    guint events_seen;
} FakeQemu;

/* ------------------------------------------------------------ fake QEMU */

static void
fake_send(FakeQemu *q, const char *text)
{
    g_autoptr(GByteArray) b = g_byte_array_new();
    size_t off = 0;

    bool damage = q->mutate && g_rand_int_range(q->rand, 0, 8) == 0;

    if (q->damaged)
        return;     /* hung up already */
    g_byte_array_append(b, (const guint8 *)text, (guint)strlen(text));
    if (damage)
        fuzz_mutate(q->rand, b, 3, &json_dict, NULL);
    g_byte_array_append(b, (const guint8 *)"\r\n", 2);
    g_byte_array_set_size(q->last, 0);
    g_byte_array_append(q->last, b->data, b->len);
    fuzz_set_input(q->last->data, q->last->len);
    while (off < b->len) {
        ssize_t n = write(q->fd, b->data + off, b->len - off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;      /* the monitor hung up, or is not reading: its call */
        off += (size_t)n;
    }
    if (damage) {
        /* the monitor may not be able to match what it got (a reply whose
         * id is gone, a greeting it cannot recognise): hang up, so that it
         * fails at once instead of waiting for its timeout */
        q->damaged = true;
        shutdown(q->fd, SHUT_WR);
    }
}

static void
fake_maybe_events(FakeQemu *q)
{
    while (g_rand_int_range(q->rand, 0, 3) == 0)
        fake_send(q, events[g_rand_int_range(q->rand, 0, G_N_ELEMENTS(events))]);
}

static void
fake_answer(FakeQemu *q, const char *line)
{
    g_autoptr(json_object) cmd = json_tokener_parse(line);
    json_object *v = NULL;
    const char *execute = NULL;
    const char *id = NULL;
    g_autoptr(GPtrArray) choices = g_ptr_array_new();
    g_autofree char *reply = NULL;
    g_autofree char *id_json = NULL;

    /* the monitor must send valid JSON: an object with execute and id */
    if (!cmd || !json_object_is_type(cmd, json_type_object))
        g_error("the monitor sent something that is not a JSON object: %s", line);
    if (json_object_object_get_ex(cmd, "execute", &v))
        execute = json_object_get_string(v);
    if (json_object_object_get_ex(cmd, "id", &v))
        id = json_object_get_string(v);
    if (!execute || !id)
        g_error("the monitor sent a command without execute or id: %s", line);
    q->commands++;
    for (size_t i = 0; i < G_N_ELEMENTS(replies); i++)
        if (g_str_equal(replies[i].command, execute))
            g_ptr_array_add(choices, (gpointer)replies[i].reply);
    if (!choices->len)
        g_error("no reply template for '%s'", execute);
    fake_maybe_events(q);
    id_json = g_strdup(json_object_to_json_string(v));
    if (q->mutate && g_rand_int_range(q->rand, 0, 6) == 0)
        reply = g_strdup_printf("{%s, \"id\": %s}",
                                error_replies[g_rand_int_range(q->rand, 0,
                                                               G_N_ELEMENTS(error_replies))],
                                id_json);
    else
        reply = g_strdup_printf("{%s, \"id\": %s}",
                                (const char *)choices->pdata[g_rand_int_range(q->rand, 0,
                                                                              (gint32)choices->len)],
                                id_json);
    fake_send(q, reply);
    fake_maybe_events(q);
}

static gboolean
fake_readable(int fd, GIOCondition cond, gpointer data)
{
    FakeQemu *q = data;
    char buf[4096];
    ssize_t n;
    char *nl;

    n = read(fd, buf, sizeof(buf));
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return G_SOURCE_CONTINUE;
    if (n <= 0)
        return G_SOURCE_REMOVE;     /* the monitor closed */
    g_string_append_len(q->in, buf, n);
    while (!q->damaged && (nl = strchr(q->in->str, '\n'))) {
        g_autofree char *line = g_strndup(q->in->str, (gsize)(nl - q->in->str));

        g_string_erase(q->in, 0, nl - q->in->str + 1);
        fake_answer(q, line);
    }
    return q->damaged ? G_SOURCE_REMOVE : G_SOURCE_CONTINUE;
}

/* ------------------------------------------------------------ the client */

static void
on_event(QemuMonitor *mon, const char *name, json_object *data, gint64 ts, gpointer opaque)
{
    FakeQemu *q = opaque;

    /* whatever the name (QEMU's own are never empty, a damaged one may be) */
    g_assert_nonnull(name);
    if (data)
        (void)json_object_to_json_string(data);
    q->events_seen++;
}

static const QemuMonitorCallbacks callbacks = {
    .event = on_event,
};

/* A failure must be one the header documents, with a message. */
static void
check_error(const char *call, const GError *error)
{
    int code;

    if (!error)
        g_error("%s failed without an error", call);
    code = util_error_code(error);
    g_assert_nonnull(error->message);
    g_assert_cmpuint(strlen(error->message), >, 0);
    if (code != VIR_ERR_OPERATION_UNSUPPORTED && code != VIR_ERR_OPERATION_INVALID &&
        code != VIR_ERR_DEVICE_MISSING && code != VIR_ERR_OPERATION_FAILED &&
        code != VIR_ERR_OPERATION_TIMEOUT && code != VIR_ERR_INTERNAL_ERROR)
        g_error("%s failed with %s, which qemu-monitor.h does not name: %s", call,
                util_error_code_name(code), error->message);
    fuzz_note("%s: %s", call, error->message);
}

static void
qmp_iter(GRand *rand, guint iteration, gconstpointer unused)
{
    g_autoptr(GMainContext) ctx = g_main_context_new();
    g_autoptr(GError) error = NULL;
    QemuMonitorOptions opts = {
        .open_timeout_ms = 3000,
        .default_timeout_ms = 3000,
    };
    FakeQemu q = {
        .rand = rand,
        .mutate = iteration % 8 != 0,   /* every 8th conversation is intact */
        .in = g_string_new(NULL),
        .last = g_byte_array_new(),
    };
    QemuMonitor *mon;
    GSource *src;
    int sv[2];
    bool all_ok = true;

    /* a short line limit breaks the stream on a long reply */
    if (q.mutate && g_rand_int_range(rand, 0, 8) == 0)
        opts.max_line = 300;
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
    g_assert_true(g_unix_set_fd_nonblocking(sv[1], TRUE, NULL));
    q.fd = sv[1];
    src = g_unix_fd_source_new(sv[1], G_IO_IN | G_IO_HUP | G_IO_ERR);
    g_source_set_callback(src, (GSourceFunc)(void (*)(void))fake_readable, &q, NULL);
    g_source_attach(src, ctx);

    mon = qemu_monitor_open_fd(sv[0], ctx, &callbacks, &q, &opts, &error);
    g_assert_nonnull(mon);
    fake_send(&q, GREETING);
    if (q.mutate && g_rand_boolean(rand))
        fake_maybe_events(&q);

    if (!qemu_monitor_wait_ready(mon, -1, &error)) {
        check_error("handshake", error);
        g_clear_error(&error);
        all_ok = false;
    } else {
        int major = -1, minor = -1, micro = -1;

        g_assert_true(qemu_monitor_greeting_version(mon, &major, &minor, &micro));
    }
    /* what virtqemud asks, in an order of the iteration's choosing */
    for (int call = 0; call < 6; call++) {
        int which = g_rand_int_range(rand, 0, 6);
        bool ok = false;

        switch (which) {
        case 0: {
            QemuMonitorStatus st = { 0 };

            if ((ok = qemu_monitor_query_status(mon, &st, &error))) {
                g_assert_cmpint(st.state, >=, 0);
                g_assert_cmpint(st.state, <, QEMU_MONITOR_RUN_STATE_LAST);
                g_assert_nonnull(qemu_monitor_run_state_to_string(st.state));
            }
            qemu_monitor_status_clear(&st);
            break;
        }
        case 1: {
            QemuMonitorVersion ver = { 0 };

            if ((ok = qemu_monitor_query_version(mon, &ver, &error)))
                g_assert_true(ver.major >= 0 && ver.minor >= 0 && ver.micro >= 0);
            qemu_monitor_version_clear(&ver);
            break;
        }
        case 2: {
            g_autoptr(json_object) jobs = qemu_monitor_query_block_jobs(mon, &error);

            if ((ok = jobs != NULL))
                g_assert_true(json_object_is_type(jobs, json_type_array));
            break;
        }
        case 3: {
            g_autoptr(json_object) nodes = qemu_monitor_query_named_block_nodes(mon, &error);

            if ((ok = nodes != NULL))
                g_assert_true(json_object_is_type(nodes, json_type_array));
            break;
        }
        case 4: {
            g_autofree char *out = qemu_monitor_hmp(mon, "info status", &error);

            ok = out != NULL;
            break;
        }
        case 5:
            ok = qemu_monitor_cont(mon, &error);
            break;
        }
        if (!ok) {
            check_error("command", error);
            g_clear_error(&error);
            all_ok = false;
        }
    }
    if (!q.mutate && !all_ok)
        g_error("an intact conversation failed");
    fuzz_accepted(all_ok);

    qemu_monitor_close(mon);
    qemu_monitor_unref(mon);
    g_source_destroy(src);
    g_source_unref(src);
    while (g_main_context_iteration(ctx, FALSE))
        ;
    close(sv[1]);
    g_string_free(q.in, TRUE);
    fuzz_set_input(NULL, 0);
    g_byte_array_unref(q.last);
}

int
main(int argc, char **argv)
{
    fuzz_init(&argc, &argv);
    fuzz_add("/fuzz/qmp/conversation", 60000, qmp_iter, NULL);
    return g_test_run();
}
