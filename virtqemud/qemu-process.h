/*
 * qemu-process.h: running QEMU for a domain: start, stop, the monitor and
 * its events, and finding running guests again after a restart.
 *
 * The caller of start/shutdown/reboot/suspend/resume holds the domain's
 * state-change job; destroy takes it itself after the process is gone, so
 * it works on a domain whose job holder is stuck on a hung QEMU.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

#include "conf-domain.h"
#include "qemu-domain.h"

/* QEMU driver defaults for a new definition (emulator, machine, implicit
 * devices) from the emulator's capabilities. */
bool qemu_process_postparse(ConfDomainDef *def, GError **error);

typedef enum {
    QEMU_PROCESS_START_PAUSED = 1 << 0,
} QemuProcessStartFlags;

/* Start @dom's persistent (or transient) definition.  Emits STARTED (and
 * SUSPENDED when paused).  On failure nothing is left: no process, no
 * status file, no runtime directory. */
bool qemu_process_start(QemuDomain *dom, unsigned int flags, GError **error);

/* Kill QEMU (SIGTERM, then SIGKILL unless @graceful) and wait until the
 * domain is shut off with reason destroyed. */
bool qemu_process_destroy(QemuDomain *dom, bool graceful, GError **error);

/* ACPI power button; the domain stops when the guest powers off. */
bool qemu_process_shutdown(QemuDomain *dom, GError **error);
/* ACPI power button, then reset instead of stop when the guest powers off. */
bool qemu_process_reboot(QemuDomain *dom, GError **error);
bool qemu_process_suspend(QemuDomain *dom, GError **error);
bool qemu_process_resume(QemuDomain *dom, GError **error);

/* The monitor of a running @dom, a new reference; OPERATION_INVALID when
 * it does not run, OPERATION_FAILED when the monitor is not connected. */
QemuMonitor *qemu_domain_get_monitor(QemuDomain *dom, GError **error);

/* Rewrite @dom's status file from its current state (lock not held). */
bool qemu_process_save_status(QemuDomain *dom, GError **error);

/* At daemon start: read every status file, reconnect to the guests that
 * still run, report those that ended while we were away. */
void qemu_process_reconnect_all(void);
/* Start the autostart domains, once per host boot. */
void qemu_process_autostart_once(void);
/* At daemon exit: let go of every monitor; guests keep running. */
void qemu_process_detach_all(void);
