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

/* --- shared by the post-parse and the builder */

typedef enum {
    QEMU_MACHINE_FAMILY_I440FX,     /* "pc", "pc-i440fx-*", "pc-<version>" */
    QEMU_MACHINE_FAMILY_Q35,        /* "q35", "pc-q35-*" */
    QEMU_MACHINE_FAMILY_OTHER,      /* isapc, microvm, none...: not started by modvirt */

    QEMU_MACHINE_FAMILY_LAST
} QemuMachineFamily;

QemuMachineFamily qemu_machine_family(const char *machine);
ConfDomainControllerDef *qemu_domain_find_controller(const ConfDomainDef *def,
                                                     ConfDomainControllerType type,
                                                     unsigned int index);
/* The position of a disk target on its bus: "vda" 0, "hdc" 2, "sdaa" 26;
 * -1 for a name that is not <2 letters><letters>. */
int qemu_disk_index(const char *dst);
/* Block graph node names are QEMU_NODE_PREFIX "<N>-storage" and "<N>-format". */
#define QEMU_NODE_PREFIX "libvirt-"

/* N of a node name "libvirt-N-storage" or "libvirt-N-format" (with
 * @any_suffix: "libvirt-N-" and anything), else -1. */
gint64 qemu_node_name_index(const char *name, bool any_suffix);
/* One past the highest N of the "libvirt-N-..." node names in @def's disk
 * chains, or @next if that is higher. */
gint64 qemu_node_name_next(const ConfDomainDef *def, gint64 next);
/* SCSI controllers of model lsilogic address disks by bus and unit only. */
bool qemu_scsi_controller_is_lsi(const ConfDomainControllerDef *ctrl);

/* Fill the runtime data the command line needs and the status XML keeps:
 * node names for every layer of every disk chain that has none
 * ("libvirt-<N>-storage" / "libvirt-<N>-format", the same N for the two
 * nodes of a layer), device aliases.  Idempotent: existing names are kept.
 *
 * Numbers follow libvirt: the disks are numbered from the last to the
 * first and each chain from its top down, e.g. vda (active <- base) and
 * vdb: vdb 1, vda's active 2, vda's base 3.  New numbers are above every
 * number in use in @def, so a name is never given twice at the same time;
 * for "never reused" across removals (a commit drops a layer whose nodes
 * QEMU may still hold until blockdev-del), use the _counter variant.
 *
 * Aliases are libvirt's: virtio-disk<N> (N from the target name),
 * ide<C>-<B>-<U>, sata<C>-<B>-<U>, scsi<C>-<B>-<U> (lsilogic) or
 * scsi<C>-<B>-<T>-<U>, usb-disk<N>, net<I>, serial<I>, console<I> (the
 * first console of type serial is serial0), input<I>, video<I>, balloon0;
 * controllers pci.<N> (pcie.0 for a pcie-root), usb (index 0), ide (the
 * PIIX3's IDE or q35's built-in SATA), scsi<N>, sata<N>,
 * virtio-serial<N>.  User aliases ("ua-...") are kept. */
void qemu_command_assign_names(ConfDomainDef *def);

/* The same, numbering new nodes from at least @*counter, which the caller
 * keeps with the running domain (libvirt keeps it in the status XML as
 * nodenameindex) and which is advanced past every number in use; start
 * with 1. */
void qemu_command_assign_names_counter(ConfDomainDef *def, unsigned int *counter);

/* The argv (argv[0] is the emulator) for @def, which must have passed
 * qemu_domain_def_postparse() (PCI and drive addresses, implicit
 * controllers) and qemu_command_assign_names().  QEMU is always started
 * with -S; the caller resumes it.  Errors: VIR_ERR_CONFIG_UNSUPPORTED
 * naming what this QEMU cannot do, VIR_ERR_INTERNAL_ERROR otherwise.
 *
 * What the caller prepares before building (all reported as
 * VIR_ERR_INTERNAL_ERROR when missing, since they are the caller's job):
 *  - every disk chain is known down to its end (backing_terminated on the
 *    last layer): with -blockdev QEMU opens exactly the layers given, so
 *    an unknown chain must first be probed (qemu-img info
 *    --backing-chain); storage volumes are translated to paths;
 *  - VNC ports are chosen (autoport: def->graphics port >= 5900);
 *  - one tap fd per bridge/network interface in opts->tap_fds, which QEMU
 *    inherits (not O_CLOEXEC in the child).
 *
 * QEMU is started by the caller (fork, setsid, exec) and stays in the
 * foreground of that process (no -daemonize); it writes its pid to
 * opts->pidfile (-pidfile) and listens for QMP on opts->monitor_path
 * (server=on,wait=off), which the caller connects to after the socket
 * appears.  A VNC password is not on the command line: with one set the
 * display is started with password=on and the caller sets it over QMP
 * (set_password) before resuming the guest.
 *
 * Options are written as key=value lists with commas in values doubled;
 * -blockdev takes JSON (json-c, so any string is escaped). */
GStrv qemu_command_build(const ConfDomainDef *def, const QemuCaps *caps,
                         const QemuCommandOptions *opts, GError **error);

/* Fill what the QEMU driver adds to a definition when it is defined, as
 * libvirt's post-parse does: emulator (from caps->binary), arch, machine
 * made canonical, implicit controllers, inputs and video.  Errors are
 * VIR_ERR_CONFIG_UNSUPPORTED (e.g. an unknown machine type). */
bool qemu_domain_def_postparse(ConfDomainDef *def, const QemuCaps *caps, GError **error);
