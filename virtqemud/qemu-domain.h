/*
 * qemu-domain.h: virtqemud's domains: the registry, persistence of
 * definitions, and the procedures that work on definitions.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

#include "conf-domain.h"
#include "daemon.h"
#include "qemu-monitor.h"

/* virDomainState */
typedef enum {
    QEMU_STATE_NOSTATE = 0,
    QEMU_STATE_RUNNING = 1,
    QEMU_STATE_BLOCKED = 2,
    QEMU_STATE_PAUSED = 3,
    QEMU_STATE_SHUTDOWN = 4,
    QEMU_STATE_SHUTOFF = 5,
    QEMU_STATE_CRASHED = 6,
    QEMU_STATE_PMSUSPENDED = 7,
} QemuDomainState;

/* virDomainEventType and the details modvirt emits */
enum {
    QEMU_EVENT_DEFINED = 0,
    QEMU_EVENT_UNDEFINED = 1,
    QEMU_EVENT_STARTED = 2,
    QEMU_EVENT_SUSPENDED = 3,
    QEMU_EVENT_RESUMED = 4,
    QEMU_EVENT_STOPPED = 5,
    QEMU_EVENT_SHUTDOWN = 6,
};
enum {
    QEMU_EVENT_STARTED_BOOTED = 0,
    QEMU_EVENT_SUSPENDED_PAUSED = 0,
    QEMU_EVENT_SUSPENDED_IOERROR = 2,
    QEMU_EVENT_RESUMED_UNPAUSED = 0,
    QEMU_EVENT_STOPPED_SHUTDOWN = 0,
    QEMU_EVENT_STOPPED_DESTROYED = 1,
    QEMU_EVENT_STOPPED_CRASHED = 2,
    QEMU_EVENT_STOPPED_FAILED = 5,
    QEMU_EVENT_SHUTDOWN_FINISHED = 0,
    QEMU_EVENT_SHUTDOWN_GUEST = 1,
    QEMU_EVENT_SHUTDOWN_HOST = 2,
};

/* State reasons (virDomainRunningReason, virDomainPausedReason, ...) used here */
enum {
    QEMU_RUNNING_BOOTED = 1,
    QEMU_RUNNING_UNPAUSED = 5,
    QEMU_PAUSED_UNKNOWN = 0,
    QEMU_PAUSED_USER = 1,
    QEMU_PAUSED_IOERROR = 5,
    QEMU_PAUSED_SHUTTING_DOWN = 8,
    QEMU_PAUSED_STARTING_UP = 11,
    QEMU_SHUTDOWN_UNKNOWN = 0,
    QEMU_SHUTDOWN_USER = 1,
    QEMU_SHUTOFF_UNKNOWN = 0,
    QEMU_SHUTOFF_SHUTDOWN = 1,
    QEMU_SHUTOFF_DESTROYED = 2,
    QEMU_SHUTOFF_CRASHED = 3,
    QEMU_SHUTOFF_FAILED = 6,
    QEMU_SHUTOFF_DAEMON = 8,
};

typedef struct _QemuDomain QemuDomain;
struct _QemuDomain {
    gint refs;
    GMutex lock;               /* held briefly, never across QEMU calls */
    ConfDomainDef *def;        /* persistent definition, or the transient one */
    ConfDomainDef *live;       /* what QEMU runs (runtime data included); NULL when shut off */
    bool persistent;
    bool autostart;
    QemuDomainState state;
    int reason;
    int id;                    /* -1 when not running */

    /* The state-change job: one at a time per domain.  Read-only calls
     * never take it; they read under @lock. */
    const char *job;           /* name of the API holding it, NULL when free */
    gint64 job_since;          /* g_get_monotonic_time() when taken */
    GCond job_cond;

    /* The running QEMU (all under @lock; the monitor is used by reference) */
    pid_t pid;
    guint64 pid_start;         /* /proc start time, tells pid reuse apart */
    QemuMonitor *mon;
    char *monitor_path;
    char *libdir;              /* per-domain runtime directory */
    GSource *exit_watch;       /* pidfd watch on the main context */
    int stop_reason;           /* why we expect QEMU to end (QEMU_SHUTOFF_*), -1: not expected */
    bool guest_shutdown;       /* QEMU reported SHUTDOWN */
    bool fake_reboot;          /* a reboot was asked: reset on SHUTDOWN instead of stopping */
    bool reconnecting;         /* found again after a restart, run state not synced yet */
    int resetting;             /* fake reboot under way: 1 reset sent, 2 RESET seen; 0 none */
    int pause_reason;          /* reason for the next STOP event we caused */

    /* Block jobs (qemu-blockjob.c owns them), NULL when none ever ran */
    GPtrArray *blockjobs;
};

/* Load every definition under <configdir>/qemu; a bad file is logged and
 * skipped, never fatal.  Then find running guests again (status files)
 * and run autostart once per host boot. */
bool qemu_domains_init(GError **error);
void qemu_domains_cleanup(void);

/* The handlers for the domain procedures, merged into virtqemud's ops
 * (qemu_domain_fill_ops calls the others). */
void qemu_domain_fill_ops(RemoteServerOps *ops);
void qemu_lifecycle_fill_ops(RemoteServerOps *ops);

/* --- for the other parts of virtqemud */

QemuDomain *qemu_domain_ref(QemuDomain *dom);
void qemu_domain_unref(QemuDomain *dom);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QemuDomain, qemu_domain_unref)

/* The domain with @uuid (16 bytes), a new reference, or NULL. */
QemuDomain *qemu_domain_find_uuid(const guint8 *uuid);
/* The domain a client's reference names (by UUID), a new reference. */
QemuDomain *qemu_domain_lookup(const RemoteNonnullDomain *ref, GError **error);
void qemu_domain_make_ref(QemuDomain *dom, RemoteNonnullDomain *ret);
bool qemu_check_flags(unsigned int flags, unsigned int allowed, const char *api,
                      GError **error);
/* Every domain, each a new reference (free with g_ptr_array_unref). */
GPtrArray *qemu_domains_list(void);

/* A new transient domain for @def (createXML), registered; fails like
 * define does on a name or UUID clash. */
QemuDomain *qemu_domain_add_transient(ConfDomainDef *def, GError **error);
/* Drop a domain that is neither persistent nor running from the registry. */
void qemu_domain_remove_if_gone(QemuDomain *dom);

/* Parse a definition from a client as define and createXML do: the XML
 * (validated against the schema if asked), what virtqemud serves, and the
 * QEMU driver's defaults filled in. */
ConfDomainDef *qemu_domain_parse_def(const char *xml, bool validate, GError **error);
bool qemu_check_def(const ConfDomainDef *def, GError **error);

/* Rewrite <configdir>/qemu/NAME.xml from @dom->def (persistent domains;
 * a no-op for transient ones).  Takes @dom->lock. */
bool qemu_domain_save_config(QemuDomain *dom, GError **error);

/* Send a LIFECYCLE event for @dom to every client that registered one. */
void qemu_emit_lifecycle(QemuDomain *dom, int event, int detail);
/* The same for what is found while reconnecting after a restart: also
 * replayed to lifecycle callbacks registered in the minute after. */
void qemu_emit_lifecycle_replayable(QemuDomain *dom, int event, int detail);
/* Keep an event found while reconnecting for the callbacks of @event_id
 * (for the domain @uuid) registered in the minute after: @send builds it
 * for each, from @data (owned, freed with @free_data).  The caller sends
 * it to the callbacks registered now. */
void qemu_backlog_add(const guint8 *uuid, int event_id, DaemonEventSendFunc send, gpointer data,
                      GDestroyNotify free_data);
/* Send a REBOOT event. */
void qemu_emit_reboot(QemuDomain *dom);

/* virDomainEventIOErrorAction */
enum {
    QEMU_IO_ERROR_NONE = 0,
    QEMU_IO_ERROR_PAUSE = 1,
    QEMU_IO_ERROR_REPORT = 2,
};
/* Send the IO_ERROR and IO_ERROR_REASON events of one failed guest I/O:
 * the disk's source path and device alias ("" when unknown), what QEMU did
 * (QEMU_IO_ERROR_*) and why ("enospc" or ""). */
void qemu_emit_io_error(QemuDomain *dom, const char *src_path, const char *alias, int action,
                        const char *reason);

/* Take the state-change job for @api, waiting a bounded time for the
 * current holder; VIR_ERR_OPERATION_TIMEOUT naming the holder otherwise. */
bool qemu_domain_job_begin(QemuDomain *dom, const char *api, GError **error);
void qemu_domain_job_end(QemuDomain *dom);

/* The paths of the driver (set by qemu_domains_init). */
const char *qemu_driver_rundir(void);   /* <rundir>/qemu */
const char *qemu_driver_logdir(void);   /* <logdir>/qemu */
