/*
 * qemu-command.h: the QEMU command line for a domain definition,
 * -blockdev based, with explicit node names for every layer of every
 * backing chain (block jobs address nodes by name).
 *
 * Building has no side effects outside @def: no files, no processes.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

#include "conf-domain.h"
#include "qemu-caps.h"

typedef struct {
    const char *monitor_path;   /* QMP UNIX socket QEMU listens on */
    const char *pidfile;
    const char *libdir;         /* per-domain private directory */
    /* tap file descriptors QEMU inherits, one per bridge/network
     * interface in def->nets order (type user interfaces take none) */
    const int *tap_fds;
    size_t n_tap_fds;
} QemuCommandOptions;

/* Fill the runtime data the command line needs and the status XML keeps:
 * node names for every layer of every disk chain that has none
 * ("libvirt-<N>-storage" / "libvirt-<N>-format", N unique in the domain),
 * device aliases.  Idempotent: existing names are kept. */
void qemu_command_assign_names(ConfDomainDef *def);

/* The argv (argv[0] is the emulator) for @def, which must have passed
 * qemu_command_assign_names().  QEMU is always started with -S; the
 * caller resumes it.  Errors: VIR_ERR_CONFIG_UNSUPPORTED naming what this
 * QEMU cannot do, VIR_ERR_INTERNAL_ERROR otherwise. */
GStrv qemu_command_build(const ConfDomainDef *def, const QemuCaps *caps,
                         const QemuCommandOptions *opts, GError **error);

/* Fill what the QEMU driver adds to a definition when it is defined, as
 * libvirt's post-parse does: emulator (from caps->binary), arch, machine
 * made canonical, implicit controllers, inputs and video.  Errors are
 * VIR_ERR_CONFIG_UNSUPPORTED (e.g. an unknown machine type). */
bool qemu_domain_def_postparse(ConfDomainDef *def, const QemuCaps *caps, GError **error);
