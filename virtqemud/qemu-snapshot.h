/*
 * qemu-snapshot.h: domain snapshots in virtqemud: external disk-only
 * snapshots of running domains (one QMP transaction of blockdev-snapshot
 * actions over overlays made and added beforehand, so a snapshot of
 * several disks happens on all of them or on none) and of shut-off ones
 * (qemu-img), their metadata (<configdir>/qemu/snapshot/DOMAIN/NAME.xml,
 * each written whole) and the procedures that list, look up, show and
 * delete them.
 *
 * Metadata is read per domain on first use (no start-up cost); a file
 * that does not parse, or that belongs to another domain (UUID), is
 * logged and skipped.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

#include "qemu-domain.h"

/* The snapshot procedures, merged into virtqemud's ops. */
void qemu_snapshot_fill_ops(RemoteServerOps *ops);

/* How many snapshots with metadata @dom has (-1 with @error if its
 * metadata cannot be read); for undefine, which libvirt refuses while
 * there are some unless VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA. */
int qemu_snapshot_count(QemuDomain *dom, GError **error);

/* Forget every snapshot of @dom: its metadata files and directory (for
 * undefine with VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA, and for a
 * transient domain that is gone).  The images are not touched. */
bool qemu_snapshot_discard_all_metadata(QemuDomain *dom, GError **error);

/* Drop what is cached in memory (daemon exit). */
void qemu_snapshot_cleanup(void);
