/*
 * qemu-blockjob.h: block jobs on running domains (commit, pull, copy),
 * driven by shared/blockjob's state machine and QEMU's job events, and
 * the hooks virtqemud's process code calls.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

#include "qemu-domain.h"

/* Refuse (VIR_ERR_BLOCK_COPY_ACTIVE? see spec/blockjobs.md section 4)
 * an operation @what that would lose an active block copy mirror of @dom,
 * on @disk only (a target name) or on any disk (@disk NULL). */
bool qemu_blockjob_check_no_mirror(QemuDomain *dom, const char *disk, const char *what,
                                   GError **error);

/* The block-job procedures, merged into virtqemud's ops. */
void qemu_blockjob_fill_ops(RemoteServerOps *ops);

/* A QMP event about jobs (JOB_STATUS_CHANGE, BLOCK_JOB_*): main context,
 * no lock held. */
void qemu_blockjob_handle_event(QemuDomain *dom, const char *name, json_object *data);

/* The <blockjob> elements of the status XML, NULL if none; @dom->lock held. */
char *qemu_blockjob_format_status_locked(QemuDomain *dom);
/* Take the block jobs back from a status file's extra elements (reconnect,
 * before the monitor is connected); @dom->lock held. */
bool qemu_blockjob_load_status_locked(QemuDomain *dom, const char *extra_xml, GError **error);
/* The monitor of a reconnected domain is ready (main context): ask QEMU
 * for its jobs and complete or report each one. */
void qemu_blockjob_reconnected(QemuDomain *dom, QemuMonitor *mon);
/* QEMU is gone; @dom->lock held. */
void qemu_blockjob_domain_stopped_locked(QemuDomain *dom);
