/*
 * util-image.h: reading disk image headers (format, size, backing file)
 * without running qemu-img.
 *
 * Only what starting QEMU with -blockdev needs: raw and qcow2 (v2 and v3).
 * Other formats are recognised by their magic and refused by name.  Every
 * value read from a header is range-checked; a header that is damaged or
 * hostile is an error, never a guess.  Headers are never written here:
 * changing a backing file name is `qemu-img rebase -u`'s job.
 *
 * Errors are in the VIR_FROM_STORAGE domain:
 *   VIR_ERR_SYSTEM_ERROR        open/stat/read failed (errno in the message)
 *   VIR_ERR_INTERNAL_ERROR      the header is damaged ("invalid qcow2 header
 *                               in '...': ..."), or not what @hint says
 *   VIR_ERR_CONFIG_UNSUPPORTED  a format or feature QEMU could use but
 *                               modvirt does not (qed, vmdk, encryption,
 *                               external data files, ...)
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <sys/types.h>

typedef enum {
    UTIL_IMAGE_FORMAT_AUTO,     /* as a hint: detect from the magic */
    UTIL_IMAGE_FORMAT_RAW,
    UTIL_IMAGE_FORMAT_QCOW2,

    UTIL_IMAGE_FORMAT_LAST
} UtilImageFormat;

typedef struct {
    UtilImageFormat format;     /* RAW or QCOW2 */
    bool is_block;              /* a block device, else a regular file */
    dev_t dev;                  /* identity of the file, for loop checks */
    ino_t ino;
    guint64 physical_size;      /* file or device size in bytes */
    guint64 virtual_size;       /* guest-visible size (raw: physical_size) */
    guint32 cluster_size;       /* qcow2 only, else 0 */
    guint32 qcow2_version;      /* 2 or 3, qcow2 only */
    bool dirty;                 /* qcow2 v3 "dirty" incompatible bit */
    bool corrupt;               /* qcow2 v3 "corrupt" bit: QEMU opens it read-only only */
    char *backing_name;         /* exactly as written in the header; NULL: none */
    char *backing_format;       /* from the backing format extension; NULL: none */
} UtilImageInfo;

/* Reads the header of @path (a regular file or a block device).  @hint
 * AUTO detects the format from the magic; RAW reads nothing from the file
 * but its size (a raw image can hold any bytes); QCOW2 requires the qcow2
 * magic.  @ret_info is filled only on success and must be cleared with
 * util_image_info_clear. */
bool util_image_probe(const char *path, UtilImageFormat hint,
                      UtilImageInfo *ret_info, GError **error);

/* The same for an image held in memory (@len bytes, the whole file),
 * named @name in messages; for tests and fuzzing. */
bool util_image_parse_buffer(const char *name, const void *data, size_t len,
                             UtilImageFormat hint, UtilImageInfo *ret_info, GError **error);

void util_image_info_clear(UtilImageInfo *info);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(UtilImageInfo, util_image_info_clear)

/* Where QEMU looks for a backing file named @name in the header of the
 * image opened as @overlay_path: @name itself if absolute, else @name
 * appended to @overlay_path's directory exactly as written (no symlink
 * resolution, no "." or ".." folding), or @name alone if @overlay_path has
 * no directory part. */
char *util_image_resolve_backing(const char *overlay_path, const char *name);

/* True when @name is a local file name to QEMU: no protocol prefix
 * ("nbd:", "json:", "http://"...), i.e. no ':' before the first '/'. */
bool util_image_backing_is_local(const char *name);

/* "raw", "qcow2" ("auto" for AUTO). */
const char *util_image_format_to_string(UtilImageFormat format);
/* The format named @name, or -1 for anything but "raw" and "qcow2". */
int util_image_format_from_string(const char *name);

/* Maximum length QEMU accepts for a backing file name in a qcow2 header. */
#define UTIL_IMAGE_BACKING_NAME_MAX 1023
