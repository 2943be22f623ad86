/*
 * qemu-monitor.h: a QMP (QEMU Machine Protocol) client on a GMainContext.
 *
 * Threads.  A monitor is bound to one GMainContext.  All socket I/O, all
 * parsing and every callback happen in "the context thread": whichever
 * thread is iterating that context.  Nothing done there ever blocks, so one
 * QEMU that stops answering never delays another monitor on the same
 * context.  The asynchronous calls may be made from any thread; the
 * blocking ones (qemu_monitor_command(), the typed wrappers,
 * qemu_monitor_wait_ready()) from any thread except the context thread,
 * where they fail at once with VIR_ERR_INTERNAL_ERROR instead of
 * deadlocking.  When no thread is iterating the context at all, a blocking
 * call iterates it itself until its answer arrives, so simple single-thread
 * tools work too.
 *
 * Commands.  Every command carries a unique string "id" that QEMU echoes;
 * replies are matched by id, so any number of commands may be outstanding.
 * Every asynchronous command gets exactly one reply callback, in the
 * context thread and never from inside qemu_monitor_command_async(): with
 * QEMU's "return" value, or with an error (QMP error reply, timeout,
 * monitor closed).
 *
 * Errors (GError domain VIR_FROM_QEMU, code a virErrorNumber):
 *   QMP error class "CommandNotFound"  -> VIR_ERR_OPERATION_UNSUPPORTED
 *   QMP error class "DeviceNotActive"  -> VIR_ERR_OPERATION_INVALID
 *                                         (e.g. no block job on a device)
 *   QMP error class "DeviceNotFound"   -> VIR_ERR_DEVICE_MISSING
 *   QMP error class "KVMMissingCap"    -> VIR_ERR_OPERATION_UNSUPPORTED
 *   "GenericError" and any other class -> VIR_ERR_OPERATION_FAILED
 *       message: "unable to execute QEMU command 'CMD': DESC", with
 *       " (CLASS)" appended for every class but GenericError
 *   no reply within the timeout        -> VIR_ERR_OPERATION_TIMEOUT
 *       "timed out after N ms waiting for QEMU monitor command 'CMD'";
 *       the monitor is then marked unresponsive (see
 *       qemu_monitor_is_responsive()) until QEMU answers anything again;
 *       the late reply is logged and dropped.  A command still unsent at
 *       its timeout is withdrawn and never reaches QEMU.
 *   QEMU went away (EOF, ECONNRESET, broken stream) while a command was
 *       outstanding                    -> VIR_ERR_OPERATION_FAILED
 *       "QEMU monitor closed before command 'CMD' completed: REASON"
 *   command on a closed monitor        -> VIR_ERR_OPERATION_FAILED
 *       "QEMU monitor closed: REASON"
 *   reply of an unexpected shape       -> VIR_ERR_INTERNAL_ERROR
 *   connect(2) failure                 -> VIR_ERR_SYSTEM_ERROR
 *
 * Robustness.  Malformed JSON and lines longer than the line limit
 * (16 MiB by default) break the stream: every outstanding command fails
 * and eof is reported.  Well-formed messages that make no sense (not an
 * object, a reply with an unknown or missing id, an unknown message kind)
 * are logged at debug level and dropped.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

#include <json-c/json.h>

#include "util-error.h"
#include "util-json.h"


/* Longest line accepted from QEMU, newline excluded. */
#define QEMU_MONITOR_MAX_LINE (16 * 1024 * 1024)
/* Default for the open timeout and for commands sent with timeout_ms == 0. */
#define QEMU_MONITOR_DEFAULT_TIMEOUT_MS 30000

typedef struct _QemuMonitor QemuMonitor;

typedef struct {
    /* The handshake ended: @error is NULL when the greeting was read and
     * qmp_capabilities accepted (commands now go to QEMU), otherwise why it
     * failed (the monitor is then closed; eof is not called).  Called once,
     * unless qemu_monitor_close() came first.  May be NULL. */
    void (*ready)(QemuMonitor *mon, const GError *error, gpointer opaque);
    /* A QMP event, in arrival order relative to replies and other events.
     * @data is the event's "data" member (NULL when absent), borrowed;
     * @timestamp_us is QEMU's timestamp in microseconds since the epoch,
     * -1 when absent.  May be NULL. */
    void (*event)(QemuMonitor *mon, const char *name, json_object *data,
                  gint64 timestamp_us, gpointer opaque);
    /* The monitor ended after it was ready, by QEMU's doing (EOF, reset,
     * broken stream).  Called once, after every outstanding command has
     * failed; not called for qemu_monitor_close().  May be NULL. */
    void (*eof)(QemuMonitor *mon, const GError *reason, gpointer opaque);
} QemuMonitorCallbacks;

typedef struct {
    /* connect + greeting + qmp_capabilities; 0 = default, < 0 = none */
    int open_timeout_ms;
    /* used for timeout_ms == 0 and by the typed wrappers; 0 = default,
     * < 0 = none */
    int default_timeout_ms;
    /* 0 = QEMU_MONITOR_MAX_LINE */
    size_t max_line;
} QemuMonitorOptions;

/* The reply to one command.  On success @reply is QEMU's "return" value
 * (borrowed: json_object_get() it to keep it on this thread, but give
 * another thread a json_object_deep_copy(), since json-c's reference
 * counts are not atomic; JSON null arrives as NULL)
 * and @error is NULL; on failure @reply is NULL and @error is set
 * (borrowed). */
typedef void (*QemuMonitorReplyFunc)(QemuMonitor *mon, json_object *reply,
                                     const GError *error, gpointer data);

/* Connect to QEMU's QMP socket at @socket_path (AF_UNIX, non-blocking).
 * Returns NULL only when the socket cannot be created or the connect
 * fails at once (no such file, refused); everything after that is
 * reported through cb->ready.  @ctx NULL means the thread-default
 * context.  @cb is copied; @opaque is passed to every callback. */
QemuMonitor *qemu_monitor_open(const char *socket_path, GMainContext *ctx,
                               const QemuMonitorCallbacks *cb, gpointer opaque,
                               GError **error);
/* The same with options (@opts may be NULL). */
QemuMonitor *qemu_monitor_open_full(const char *socket_path, GMainContext *ctx,
                                    const QemuMonitorCallbacks *cb, gpointer opaque,
                                    const QemuMonitorOptions *opts, GError **error);
/* Speak QMP on an already connected stream socket; takes ownership of @fd
 * (even on failure).  Used with sockets passed by QEMU's parent, and by
 * tests with socketpair(2). */
QemuMonitor *qemu_monitor_open_fd(int fd, GMainContext *ctx,
                                  const QemuMonitorCallbacks *cb, gpointer opaque,
                                  const QemuMonitorOptions *opts, GError **error);

/* Block until the handshake ends (any thread but the context thread).
 * @timeout_ms < 0 waits as long as the open timeout allows.  Returns true
 * when the monitor is ready. */
bool qemu_monitor_wait_ready(QemuMonitor *mon, int timeout_ms, GError **error);

/* Close the connection; safe from any thread and from inside callbacks,
 * idempotent.  Outstanding commands fail with "QEMU monitor closed"
 * (their callbacks run in the context thread, at once when called there);
 * ready and eof are not called afterwards.  The monitor holds a reference
 * to itself while connected: close it before dropping the last reference. */
void qemu_monitor_close(QemuMonitor *mon);

QemuMonitor *qemu_monitor_ref(QemuMonitor *mon);
void qemu_monitor_unref(QemuMonitor *mon);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QemuMonitor, qemu_monitor_unref)

/* True between a successful handshake and the end of the connection. */
bool qemu_monitor_is_ready(QemuMonitor *mon);
/* False from a command timeout until QEMU next sends a reply. */
bool qemu_monitor_is_responsive(QemuMonitor *mon);
/* QEMU's version from the greeting; false before it was read. */
bool qemu_monitor_greeting_version(QemuMonitor *mon, int *ret_major,
                                   int *ret_minor, int *ret_micro);
/* Change the default command timeout (see QemuMonitorOptions). */
void qemu_monitor_set_default_timeout(QemuMonitor *mon, int timeout_ms);

/* Send @cmd with @args (a JSON object, stolen, may be NULL).
 * @timeout_ms: > 0 that many ms, 0 the monitor's default, < 0 none.
 * Any thread.  Commands issued before the handshake ends are held and sent
 * after qmp_capabilities.  @cb (may be NULL) is called exactly once. */
void qemu_monitor_command_async(QemuMonitor *mon, const char *cmd,
                                json_object *args, int timeout_ms,
                                QemuMonitorReplyFunc cb, gpointer data);

/* Send @cmd and wait for its reply; any thread but the context thread.
 * Returns a new reference to QEMU's "return" value (an empty object when
 * QEMU returned JSON null), or NULL with @error set. */
json_object *qemu_monitor_command(QemuMonitor *mon, const char *cmd,
                                  json_object *args, int timeout_ms,
                                  GError **error);

/* The virErrorNumber used for QMP error class @klass (see above). */
int qemu_monitor_error_class_code(const char *klass);

/* ---- typed wrappers: blocking, default timeout ---- */

/* QEMU's RunState (qapi/run-state.json, QEMU 7.2). */
typedef enum {
    QEMU_MONITOR_RUN_STATE_UNKNOWN,   /* a state this code does not know */
    QEMU_MONITOR_RUN_STATE_DEBUG,
    QEMU_MONITOR_RUN_STATE_INMIGRATE,
    QEMU_MONITOR_RUN_STATE_INTERNAL_ERROR,
    QEMU_MONITOR_RUN_STATE_IO_ERROR,
    QEMU_MONITOR_RUN_STATE_PAUSED,
    QEMU_MONITOR_RUN_STATE_POSTMIGRATE,
    QEMU_MONITOR_RUN_STATE_PRELAUNCH,
    QEMU_MONITOR_RUN_STATE_FINISH_MIGRATE,
    QEMU_MONITOR_RUN_STATE_RESTORE_VM,
    QEMU_MONITOR_RUN_STATE_RUNNING,
    QEMU_MONITOR_RUN_STATE_SAVE_VM,
    QEMU_MONITOR_RUN_STATE_SHUTDOWN,
    QEMU_MONITOR_RUN_STATE_SUSPENDED,
    QEMU_MONITOR_RUN_STATE_WATCHDOG,
    QEMU_MONITOR_RUN_STATE_GUEST_PANICKED,
    QEMU_MONITOR_RUN_STATE_COLO,
    QEMU_MONITOR_RUN_STATE_PRECONFIG,
    QEMU_MONITOR_RUN_STATE_LAST
} QemuMonitorRunState;

const char *qemu_monitor_run_state_to_string(QemuMonitorRunState state);
/* UNKNOWN for NULL or a string not in the table. */
QemuMonitorRunState qemu_monitor_run_state_from_string(const char *str);

typedef struct {
    bool running;                 /* vCPUs are running */
    QemuMonitorRunState state;
    char *reason;                 /* QEMU's "status" string, verbatim */
} QemuMonitorStatus;
void qemu_monitor_status_clear(QemuMonitorStatus *status);

typedef struct {
    int major;
    int minor;
    int micro;
    char *package;                /* e.g. "Debian 1:7.2+dfsg-7+deb12u18" */
} QemuMonitorVersion;
void qemu_monitor_version_clear(QemuMonitorVersion *version);

bool qemu_monitor_query_status(QemuMonitor *mon, QemuMonitorStatus *ret_status,
                               GError **error);
bool qemu_monitor_query_version(QemuMonitor *mon, QemuMonitorVersion *ret_version,
                                GError **error);
/* The "return" arrays, new references. */
json_object *qemu_monitor_query_block_jobs(QemuMonitor *mon, GError **error);
json_object *qemu_monitor_query_jobs(QemuMonitor *mon, GError **error);
/* query-named-block-nodes with flat: true (no nested backing images). */
json_object *qemu_monitor_query_named_block_nodes(QemuMonitor *mon, GError **error);
bool qemu_monitor_cont(QemuMonitor *mon, GError **error);
bool qemu_monitor_stop(QemuMonitor *mon, GError **error);
bool qemu_monitor_system_powerdown(QemuMonitor *mon, GError **error);
bool qemu_monitor_system_reset(QemuMonitor *mon, GError **error);
/* QEMU answers, then exits: expect eof soon after. */
bool qemu_monitor_quit(QemuMonitor *mon, GError **error);
/* @props: the BlockdevOptions object, stolen. */
bool qemu_monitor_blockdev_add(QemuMonitor *mon, json_object *props, GError **error);
bool qemu_monitor_blockdev_del(QemuMonitor *mon, const char *node_name, GError **error);
/* An HMP command through human-monitor-command; returns its output (may be
 * ""), or NULL with @error set. */
char *qemu_monitor_hmp(QemuMonitor *mon, const char *command_line, GError **error);
