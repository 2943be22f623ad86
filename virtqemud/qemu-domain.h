/*
 * qemu-domain.h: virtqemud's domains: the registry, persistence of
 * definitions, and the procedures that work on definitions.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

#include "conf-domain.h"
#include "daemon.h"

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

typedef struct _QemuDomain QemuDomain;
struct _QemuDomain {
    gint refs;
    GMutex lock;               /* held briefly, never across QEMU calls */
    ConfDomainDef *def;        /* persistent definition, or the transient one */
    bool persistent;
    bool autostart;
    QemuDomainState state;
    int reason;
    int id;                    /* -1 when not running */
};

/* Load every definition under <configdir>/qemu; a bad file is logged and
 * skipped, never fatal. */
bool qemu_domains_init(GError **error);
void qemu_domains_cleanup(void);

/* The handlers for the domain procedures, merged into virtqemud's ops. */
void qemu_domain_fill_ops(RemoteServerOps *ops);
