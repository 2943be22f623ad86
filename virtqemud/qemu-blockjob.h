/*
 * qemu-blockjob.h: block jobs on running domains (commit, pull, copy),
 * driven by shared/blockjob's state machine and QEMU's job events, the
 * offline commit of shut off domains (qemu-offline.c), and the hooks
 * virtqemud's process code calls.  See docs/blockjobs.md, "The daemon
 * side".
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

#include "qemu-domain.h"

/* Refuse an operation @what (e.g. "undefine") that would lose an active
 * block copy or active commit mirror of @dom, on @disk only (a target
 * name) or on any disk (@disk NULL): VIR_ERR_BLOCK_COPY_ACTIVE.  Takes
 * @dom->lock. */
bool qemu_blockjob_check_no_mirror(QemuDomain *dom, const char *disk, const char *what,
                                   GError **error);

/* The block-job procedures, merged into virtqemud's ops. */
void qemu_blockjob_fill_ops(RemoteServerOps *ops);

/* A QMP event about jobs (JOB_STATUS_CHANGE, BLOCK_JOB_*): main context,
 * no lock held. */
void qemu_blockjob_handle_event(QemuDomain *dom, const char *name, json_object *data);

/* The <blockjobs> element of the status XML, NULL if none; @dom->lock held. */
char *qemu_blockjob_format_status_locked(QemuDomain *dom);
/* Take the block jobs back from a status file's extra elements (reconnect,
 * before the monitor is connected); @dom->lock held. */
bool qemu_blockjob_load_status_locked(QemuDomain *dom, const char *extra_xml, GError **error);
/* The monitor of a reconnected domain is ready (main context): ask QEMU
 * for its jobs and complete or report each one. */
void qemu_blockjob_reconnected(QemuDomain *dom, QemuMonitor *mon);
/* QEMU is gone; @dom->lock held.  Every job not yet reported ends FAILED
 * (or with the outcome already known), its event is sent, the records go. */
void qemu_blockjob_domain_stopped_locked(QemuDomain *dom);

/* Complete @top's backing chain from the image headers and keep, on each
 * layer, the backing name its overlay's header records (backing_name_raw). */
bool qemu_blockjob_fill_chain(ConfStorageSource *top, GError **error);

/* How qemu_blockjob_merge() removes a layer of a chain. */
typedef enum {
    QEMU_MERGE_COMMIT,  /* commit the layer into its backing file, delete it */
    QEMU_MERGE_PULL,    /* pull its backing file into the layer, keep that file */
} QemuMergeMode;

/* Merge the layer @path of disk @name's chain with its backing file (the
 * deletion of an external snapshot), the caller holding @dom's
 * state-change job: on a running domain with QEMU's jobs (an active commit
 * and its pivot when @path is the active layer; the events are sent as for
 * any job), on a shut off one with qemu-img.  Returns once the definition
 * follows; relative backing names stay relative where they were.  A commit
 * left READY by an interrupted merge of the same layers is taken over. */
bool qemu_blockjob_merge(QemuDomain *dom, const char *name, const char *path, QemuMergeMode mode,
                         GError **error);

/* Waits (a few seconds at most) until the saved jobs of @dom have met
 * QEMU's after a restart and jobs already ended have left, so that what
 * the records say is current.  The state-change job is held. */
void qemu_blockjob_settle(QemuDomain *dom);

/* A block job may start on disk @dst of running @dom now (no job or
 * mirror holds it), or the job there is the active commit of @top (a
 * merge interrupted by a restart, which qemu_blockjob_merge takes over):
 * the error libvirt gives otherwise.  True for shut off domains. */
bool qemu_blockjob_check_disk_free(QemuDomain *dom, const char *dst, const char *top,
                                   GError **error);

/* ---- shared with qemu-offline.c ---- */

/* virDomainBlockCommitFlags */
enum {
    QEMU_COMMIT_SHALLOW = 1 << 0,
    QEMU_COMMIT_DELETE = 1 << 1,
    QEMU_COMMIT_ACTIVE = 1 << 2,
    QEMU_COMMIT_RELATIVE = 1 << 3,
    QEMU_COMMIT_BANDWIDTH_BYTES = 1 << 4,
};

/* The layers a commit works on, resolved in @disk's chain (spec 2.1, 2.2):
 * @ret_top, @ret_base, and @ret_top_parent (the layer above top, NULL for
 * an active commit).  @base/@top are NULL, "vda[N]" or a file name.  All
 * refusals are VIR_ERR_INVALID_ARG, as libvirt's. */
bool qemu_blockjob_resolve_commit(const ConfDomainDiskDef *disk, const char *base,
                                  const char *top, unsigned int flags,
                                  ConfStorageSource **ret_top, ConfStorageSource **ret_base,
                                  ConfStorageSource **ret_top_parent, GError **error);

/* The backing name to write into @overlay's header for @base below it:
 * the relative name joined from the recorded names (@relative), else
 * base's path.  VIR_ERR_OPERATION_INVALID when a relative name cannot be
 * derived. */
char *qemu_blockjob_backing_name(const ConfStorageSource *overlay,
                                 const ConfStorageSource *base, bool relative, GError **error);

/* Bandwidth from the API (MiB/s, or bytes/s with @bytes) in bytes/s;
 * VIR_ERR_OVERFLOW when it does not fit. */
bool qemu_blockjob_scale_bandwidth(unsigned long long bandwidth, bool bytes,
                                   unsigned long long *ret_bytes, GError **error);

/* Runs a tool (qemu-img) to the end: VIR_ERR_OPERATION_FAILED with its
 * stderr when it fails. */
bool qemu_blockjob_run_tool(const char *const *argv, GError **error);

/* A copy of the persistent chain of disk @name of shut off @dom, completed
 * from the image headers; @ret_dst: the disk's target, @ret_given: the
 * definition spells out the chain. */
ConfStorageSource *qemu_offline_chain(QemuDomain *dom, const char *name, char **ret_dst,
                                      bool *ret_given, GError **error);
/* virDomainBlockCommit on a shut off domain (qemu-offline.c): qemu-img
 * commit (and rebase -u), synchronously; the definition follows. */
bool qemu_offline_commit(QemuDomain *dom, const char *disk, const char *base, const char *top,
                         unsigned long long bandwidth, unsigned int flags, GError **error);
/* The offline half of QEMU_MERGE_PULL: qemu-img rebase (safe mode) of
 * @top onto what its backing file backs onto; the definition follows. */
bool qemu_offline_pull(QemuDomain *dom, const char *disk, const char *top, bool relative,
                       GError **error);
