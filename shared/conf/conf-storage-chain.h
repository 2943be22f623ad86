/*
 * conf-storage-chain.h: completing a disk's backing chain from the image
 * headers, and checking a chain against them.
 *
 * Semantics follow libvirt 9 (qemuDomainDetermineDiskChain and
 * virStorageSourceGetMetadata):
 *
 *  - Layers given in the definition (<backingStore> elements) are trusted:
 *    they are only checked to exist.  Detection starts where the given
 *    chain ends, unless it ends with a terminator (<backingStore/>).
 *  - A layer without a format is raw (no probing of what the user gave).
 *    A raw layer has no backing file; its chain is terminated at once.
 *  - A qcow2 layer's backing file is the name in its header, resolved as
 *    QEMU does (util_image_resolve_backing).  Its format is the one named
 *    by the header's backing format extension.  Without that extension the
 *    backing file is probed; if it turns out to have a backing file of its
 *    own, that is refused (VIR_ERR_OPERATION_INVALID, libvirt's message):
 *    a guest could otherwise make the host open any file through a
 *    forged header in a raw image.
 *  - At most CONF_STORAGE_CHAIN_MAX_DEPTH layers; a longer chain, or one
 *    that comes back to an image already in it (same device and inode),
 *    is VIR_ERR_INTERNAL_ERROR "backing store for ... is self-referential
 *    or too deeply nested".  A given chain longer than that is
 *    VIR_ERR_OPERATION_UNSUPPORTED.
 *  - A missing layer is VIR_ERR_SYSTEM_ERROR "Cannot access storage file
 *    '...'" (the top) or "Cannot access backing file '...' of storage
 *    file '...'" (naming the disk's top image, as libvirt does).
 *  - Backing names with a protocol (nbd:, json:, http://, ...), storage
 *    volumes, and formats other than raw and qcow2 are
 *    VIR_ERR_CONFIG_UNSUPPORTED.  Damaged headers: see util-image.h.
 *
 * Nothing is changed on failure.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

#include "conf-domain.h"

/* libvirt's limit on the layers of one disk. */
#define CONF_STORAGE_CHAIN_MAX_DEPTH 200

/* Completes @top's chain (see above).  A source without a path (empty
 * cdrom) is left alone.  @top's own format NONE becomes RAW, as libvirt's
 * live definition shows it. */
bool conf_storage_chain_fill(ConfStorageSource *top, GError **error);

/* Like conf_storage_chain_fill, and also returns in @ret_names one entry
 * per layer, top (index 0) down: the backing name exactly as written in
 * the header of the layer above it (possibly relative), NULL for the top
 * and for layers that came from the definition.  (ConfStorageSource has
 * no field for it yet; libvirt keeps it as the source's "relPath".) */
bool conf_storage_chain_fill_full(ConfStorageSource *top, GPtrArray **ret_names,
                                  GError **error);

/* The backing file name written in @layer's header, exactly; *@ret_name is
 * NULL when it has none (and for raw layers). */
bool conf_storage_chain_read_backing_name(const ConfStorageSource *layer,
                                          char **ret_name, GError **error);

/* One line per layer, "PATH FORMAT", top first; an unknown rest of the
 * chain is a last line "(rest of the chain not known)"; an empty source
 * "(empty)". */
char *conf_storage_chain_describe(const ConfStorageSource *top);

/* Checks that @top's chain in memory is what the headers on disk say,
 * layer by layer: each qcow2 layer's backing name resolves to the next
 * layer's file (same path, or same device and inode), the backing format
 * extension (or, without it, the probed format) equals the next layer's
 * format, and the chain ends where the headers end.  An unknown end (no
 * terminator) is accepted only where the header has no backing file.
 * A difference is VIR_ERR_OPERATION_FAILED naming the layer. */
bool conf_storage_chain_equal_headers(const ConfStorageSource *top, GError **error);
