/*
 * util-image.c: reading disk image headers.
 *
 * The facts this file relies on (qcow2 as QEMU 7.2 reads it; all numbers
 * big-endian):
 *
 *  - Bytes 0-3 are 'Q' 'F' 'I' 0xfb; bytes 4-7 the version: 1 is the old
 *    "qcow" format, 2 and 3 are qcow2 (QEMU's "compat=0.10" and "1.1").
 *  - Fixed fields: backing name offset (u64 at 8) and length (u32 at 16),
 *    cluster bits (u32 at 20), virtual size in bytes (u64 at 24),
 *    encryption method (u32 at 32: 0 none, 1 AES, 2 LUKS).  A version 2
 *    header is 72 bytes long.  Version 3 adds incompatible / compatible /
 *    autoclear feature bit sets (u64 at 72, 80, 88), the refcount order
 *    (u32 at 96, at most 6) and the header length (u32 at 100, at least
 *    104).
 *  - Cluster bits go from 9 to 21 (512 B to 2 MiB).  The header, the
 *    extension area and the backing name all lie inside the first cluster:
 *    QEMU refuses a header longer than a cluster, a backing name offset
 *    past the cluster, and a name running past the cluster's end or longer
 *    than 1023 bytes.  A name offset of 0, or a length of 0, means no
 *    backing file.  The name is not NUL-terminated on disk; QEMU copies
 *    the given number of bytes (so a NUL inside would silently shorten it:
 *    we refuse such a name instead).
 *  - Incompatible feature bits QEMU 7.2 knows: 0 dirty, 1 corrupt,
 *    2 external data file, 3 compression type, 4 extended L2 entries;
 *    any other bit makes QEMU refuse the image.
 *  - Header extensions follow the header (at 72 for v2, at the header
 *    length for v3) and run up to the backing name's offset, or to the end
 *    of the first cluster when there is no backing name.  Each is a u32
 *    type, a u32 data length, and the data padded to a multiple of 8.
 *    Type 0 ends the list; 0xE2792ACA holds the backing format name (QEMU
 *    refuses 16 bytes or more; empty means "not given"); 0x44415441 names
 *    an external data file; 0x0537BE77 describes LUKS encryption; unknown
 *    types are skipped.  An extension whose length runs past the area is
 *    an error.  Bytes past the end of the file read as zeros (QEMU's file
 *    driver does the same), so a list that runs into the end of a short
 *    file ends there.
 *  - Without the backing format extension QEMU probes the backing file.
 *
 * Other formats are told by their magic: "QED\0" (qed), "KDMV" / "COWD" /
 * "# Disk DescriptorFile" (vmdk), 7f 10 da be at offset 64 (vdi),
 * "conectix" (vpc), "vhdxfile" (vhdx), "LUKS" ba be (luks),
 * "WithoutFreeSpace" / "WithouFreSpacExt" (parallels), "OOOM" (cow).
 * Anything else is raw.
 */
#define G_LOG_DOMAIN "modvirt.util.image"

#include "util-image.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util-error.h"

#define QCOW2_MAGIC 0x514649fbU
#define QCOW2_V2_HEADER_LEN 72
#define QCOW2_V3_HEADER_MIN 104
#define QCOW2_MIN_CLUSTER_BITS 9
#define QCOW2_MAX_CLUSTER_BITS 21
#define QCOW2_MAX_REFCOUNT_ORDER 6

#define QCOW2_OFF_VERSION 4
#define QCOW2_OFF_BACKING_OFFSET 8
#define QCOW2_OFF_BACKING_SIZE 16
#define QCOW2_OFF_CLUSTER_BITS 20
#define QCOW2_OFF_SIZE 24
#define QCOW2_OFF_CRYPT 32
#define QCOW2_OFF_INCOMPAT 72
#define QCOW2_OFF_REFCOUNT_ORDER 96
#define QCOW2_OFF_HEADER_LEN 100

#define QCOW2_INCOMPAT_DIRTY (1ULL << 0)
#define QCOW2_INCOMPAT_CORRUPT (1ULL << 1)
#define QCOW2_INCOMPAT_DATA_FILE (1ULL << 2)
#define QCOW2_INCOMPAT_KNOWN G_GUINT64_CONSTANT(0x1f)

#define QCOW2_EXT_END 0
#define QCOW2_EXT_BACKING_FORMAT 0xe2792acaU
#define QCOW2_EXT_DATA_FILE 0x44415441U
#define QCOW2_EXT_CRYPTO 0x0537be77U
/* QEMU keeps the backing format in a 16-byte buffer. */
#define QCOW2_BACKING_FORMAT_MAX 15

/* What is read first; enough for every image qemu-img makes. */
#define IMAGE_FIRST_READ 4096
/* Nothing qcow2 needs lies past the first cluster (at most 2 MiB). */
#define IMAGE_READ_MAX (1U << QCOW2_MAX_CLUSTER_BITS)

static const char *const util_image_format_names[] = {
    [UTIL_IMAGE_FORMAT_AUTO] = "auto",
    [UTIL_IMAGE_FORMAT_RAW] = "raw",
    [UTIL_IMAGE_FORMAT_QCOW2] = "qcow2",
};
G_STATIC_ASSERT(G_N_ELEMENTS(util_image_format_names) == UTIL_IMAGE_FORMAT_LAST);

const char *
util_image_format_to_string(UtilImageFormat format)
{
    if ((unsigned int)format >= UTIL_IMAGE_FORMAT_LAST)
        return NULL;
    return util_image_format_names[format];
}

int
util_image_format_from_string(const char *name)
{
    if (!name)
        return -1;
    for (int i = UTIL_IMAGE_FORMAT_RAW; i < UTIL_IMAGE_FORMAT_LAST; i++) {
        if (strcmp(name, util_image_format_names[i]) == 0)
            return i;
    }
    return -1;
}

/* ---- reading ---- */

typedef struct {
    const char *path;
    int fd;
    guint64 file_size;
    guint8 *data;               /* the file's first @len bytes, zeros past its end */
    size_t len;
} ImageReader;

static void
image_reader_clear(ImageReader *r)
{
    g_clear_pointer(&r->data, g_free);
    util_close_fdp(&r->fd);
}

/* Makes the first @want bytes (at most IMAGE_READ_MAX) available. */
static bool
image_reader_ensure(ImageReader *r, size_t want, GError **error)
{
    size_t end;

    if (want > IMAGE_READ_MAX)
        want = IMAGE_READ_MAX;
    if (want <= r->len)
        return true;
    r->data = g_realloc(r->data, want);
    memset(r->data + r->len, 0, want - r->len);
    end = r->file_size < want ? (size_t)r->file_size : want;
    while (r->len < end) {
        ssize_t n = pread(r->fd, r->data + r->len, end - r->len, r->len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            util_error_set_errno(error, VIR_FROM_STORAGE, errno,
                                 "cannot read header '%s'", r->path);
            return false;
        }
        if (n == 0)
            break;          /* shrank under us: the rest stays zero */
        r->len += n;
    }
    r->len = want;
    return true;
}

static guint32
image_be32(const ImageReader *r, size_t off)
{
    guint32 v;

    memcpy(&v, r->data + off, sizeof(v));
    return GUINT32_FROM_BE(v);
}

static guint64
image_be64(const ImageReader *r, size_t off)
{
    guint64 v;

    memcpy(&v, r->data + off, sizeof(v));
    return GUINT64_FROM_BE(v);
}

static bool
image_has_bytes(const ImageReader *r, size_t off, const char *bytes, size_t n)
{
    return r->file_size >= off + n && r->len >= off + n &&
           memcmp(r->data + off, bytes, n) == 0;
}

/* ---- errors ---- */

#define image_invalid(error, path, ...) \
    image_invalid_detail(error, path, g_strdup_printf(__VA_ARGS__))

static void
image_invalid_detail(GError **error, const char *path, char *detail)
{
    util_error_set(error, VIR_FROM_STORAGE, VIR_ERR_INTERNAL_ERROR,
                   "invalid qcow2 header in '%s': %s", path, detail);
    g_free(detail);
}

static void
image_unsupported_feature(GError **error, const char *path, const char *what)
{
    util_error_set(error, VIR_FROM_STORAGE, VIR_ERR_CONFIG_UNSUPPORTED,
                   "image '%s' uses %s, which is not supported", path, what);
}

/* ---- formats ---- */

typedef struct {
    size_t offset;
    const char *magic;
    size_t len;
    const char *name;
} ImageForeignMagic;

#define MAGIC(off, str, name) { off, str, sizeof(str) - 1, name }
static const ImageForeignMagic image_foreign_magics[] = {
    MAGIC(0, "QED\0", "qed"),
    MAGIC(0, "KDMV", "vmdk"),
    MAGIC(0, "COWD", "vmdk"),
    MAGIC(0, "# Disk DescriptorFile", "vmdk"),
    MAGIC(64, "\x7f\x10\xda\xbe", "vdi"),
    MAGIC(0, "conectix", "vpc"),
    MAGIC(0, "vhdxfile", "vhdx"),
    MAGIC(0, "LUKS\xba\xbe", "luks"),
    MAGIC(0, "WithoutFreeSpace", "parallels"),
    MAGIC(0, "WithouFreSpacExt", "parallels"),
    MAGIC(0, "OOOM", "cow"),
};
#undef MAGIC

static bool
image_is_qcow(const ImageReader *r)
{
    return r->file_size >= 4 && image_be32(r, 0) == QCOW2_MAGIC;
}

/* The name of a format we recognise but do not support, or NULL. */
static const char *
image_foreign_format(const ImageReader *r)
{
    if (image_is_qcow(r) && r->file_size >= 8 && image_be32(r, QCOW2_OFF_VERSION) == 1)
        return "qcow";
    for (size_t i = 0; i < G_N_ELEMENTS(image_foreign_magics); i++) {
        const ImageForeignMagic *m = &image_foreign_magics[i];

        if (image_has_bytes(r, m->offset, m->magic, m->len))
            return m->name;
    }
    return NULL;
}

/* Why @len bytes at @p cannot be a file or format name, or NULL. */
static const char *
image_name_problem(const guint8 *p, size_t len)
{
    if (memchr(p, 0, len))
        return "contains a NUL byte";
    for (size_t i = 0; i < len; i++) {
        if (p[i] < 0x20 || p[i] == 0x7f)
            return "contains a control character";
    }
    if (!g_utf8_validate((const char *)p, len, NULL))
        return "is not valid UTF-8";
    return NULL;
}

/* Walks the header extensions in [@start, @end). */
static bool
image_qcow2_extensions(ImageReader *r, size_t start, size_t end,
                       UtilImageInfo *info, GError **error)
{
    size_t off = start;

    while (off < end) {
        guint32 type;
        guint32 len;

        if (end - off < 8) {
            image_invalid(error, r->path, "header extension at offset %zu runs past the "
                          "extension area", off);
            return false;
        }
        if (!image_reader_ensure(r, off + 8, error))
            return false;
        type = image_be32(r, off);
        len = image_be32(r, off + 4);
        off += 8;
        if (len > end - off) {
            image_invalid(error, r->path, "header extension 0x%08x is too large (%u bytes)",
                          type, len);
            return false;
        }

        switch (type) {
        case QCOW2_EXT_END:
            return true;
        case QCOW2_EXT_BACKING_FORMAT: {
            const char *problem;

            if (len > QCOW2_BACKING_FORMAT_MAX) {
                image_invalid(error, r->path, "backing format name is too long (%u bytes)", len);
                return false;
            }
            if (off + len > r->file_size) {
                image_invalid(error, r->path, "backing format name past the end of the file");
                return false;
            }
            if (!image_reader_ensure(r, off + len, error))
                return false;
            if ((problem = image_name_problem(r->data + off, len))) {
                image_invalid(error, r->path, "backing format name %s", problem);
                return false;
            }
            g_clear_pointer(&info->backing_format, g_free);
            if (len > 0)
                info->backing_format = g_strndup((const char *)r->data + off, len);
            break;
        }
        case QCOW2_EXT_DATA_FILE:
            image_unsupported_feature(error, r->path, "an external data file");
            return false;
        case QCOW2_EXT_CRYPTO:
            /* only valid with LUKS encryption, which was refused already */
            image_invalid(error, r->path, "encryption header extension in an "
                          "image that is not encrypted");
            return false;
        default:
            break;
        }
        off += ((size_t)len + 7) & ~(size_t)7;
    }
    return true;
}

static bool
image_qcow2_parse(ImageReader *r, UtilImageInfo *info, GError **error)
{
    guint32 version;
    guint32 cluster_bits;
    guint32 crypt;
    guint64 size;
    guint64 backing_offset;
    guint32 backing_len;
    size_t header_len;
    size_t cluster_size;
    size_t ext_end;

    if (r->file_size < 8) {
        image_invalid(error, r->path, "file is truncated (%" G_GUINT64_FORMAT " bytes)",
                      r->file_size);
        return false;
    }
    version = image_be32(r, QCOW2_OFF_VERSION);
    if (version == 1) {
        util_error_set(error, VIR_FROM_STORAGE, VIR_ERR_CONFIG_UNSUPPORTED,
                       "unsupported format 'qcow' of image '%s'", r->path);
        return false;
    }
    if (version != 2 && version != 3) {
        util_error_set(error, VIR_FROM_STORAGE, VIR_ERR_CONFIG_UNSUPPORTED,
                       "unsupported qcow2 version %u in image '%s'", version, r->path);
        return false;
    }
    header_len = version == 2 ? QCOW2_V2_HEADER_LEN : QCOW2_V3_HEADER_MIN;
    if (r->file_size < header_len) {
        image_invalid(error, r->path, "file is truncated (%" G_GUINT64_FORMAT " bytes)",
                      r->file_size);
        return false;
    }

    cluster_bits = image_be32(r, QCOW2_OFF_CLUSTER_BITS);
    if (cluster_bits < QCOW2_MIN_CLUSTER_BITS || cluster_bits > QCOW2_MAX_CLUSTER_BITS) {
        image_invalid(error, r->path, "cluster size 2^%u is out of range", cluster_bits);
        return false;
    }
    cluster_size = (size_t)1 << cluster_bits;

    if (version == 3) {
        guint64 incompat = image_be64(r, QCOW2_OFF_INCOMPAT);
        guint32 refcount_order = image_be32(r, QCOW2_OFF_REFCOUNT_ORDER);

        header_len = image_be32(r, QCOW2_OFF_HEADER_LEN);
        if (header_len < QCOW2_V3_HEADER_MIN || header_len > cluster_size) {
            image_invalid(error, r->path, "header length %zu is out of range", header_len);
            return false;
        }
        if (header_len > r->file_size) {
            image_invalid(error, r->path, "header length %zu is past the end of the file",
                          header_len);
            return false;
        }
        if (refcount_order > QCOW2_MAX_REFCOUNT_ORDER) {
            image_invalid(error, r->path, "refcount order %u is out of range", refcount_order);
            return false;
        }
        if (incompat & ~QCOW2_INCOMPAT_KNOWN) {
            g_autofree char *what = g_strdup_printf("unknown incompatible qcow2 features (0x%" G_GINT64_MODIFIER "x)",
                                                    (guint64)(incompat & ~QCOW2_INCOMPAT_KNOWN));

            image_unsupported_feature(error, r->path, what);
            return false;
        }
        if (incompat & QCOW2_INCOMPAT_DATA_FILE) {
            image_unsupported_feature(error, r->path, "an external data file");
            return false;
        }
        info->dirty = !!(incompat & QCOW2_INCOMPAT_DIRTY);
        info->corrupt = !!(incompat & QCOW2_INCOMPAT_CORRUPT);
    }

    crypt = image_be32(r, QCOW2_OFF_CRYPT);
    if (crypt == 1 || crypt == 2) {
        image_unsupported_feature(error, r->path,
                                  crypt == 1 ? "qcow2 encryption (aes)" : "qcow2 encryption (luks)");
        return false;
    }
    if (crypt != 0) {
        image_invalid(error, r->path, "unknown encryption method %u", crypt);
        return false;
    }

    size = image_be64(r, QCOW2_OFF_SIZE);
    if (size > G_MAXINT64) {
        image_invalid(error, r->path, "virtual size %" G_GUINT64_FORMAT " is out of range", size);
        return false;
    }

    backing_offset = image_be64(r, QCOW2_OFF_BACKING_OFFSET);
    backing_len = image_be32(r, QCOW2_OFF_BACKING_SIZE);
    if (backing_offset > cluster_size) {
        image_invalid(error, r->path, "backing file name offset %" G_GUINT64_FORMAT
                      " is past the first cluster", backing_offset);
        return false;
    }
    if (backing_offset != 0 && backing_len != 0) {
        const char *problem;

        if (backing_len > UTIL_IMAGE_BACKING_NAME_MAX ||
            backing_len > cluster_size - backing_offset) {
            image_invalid(error, r->path, "backing file name is too long (%u bytes)",
                          backing_len);
            return false;
        }
        if (backing_offset + backing_len > r->file_size) {
            image_invalid(error, r->path, "backing file name is past the end of the file");
            return false;
        }
        if (!image_reader_ensure(r, backing_offset + backing_len, error))
            return false;
        if ((problem = image_name_problem(r->data + backing_offset, backing_len))) {
            image_invalid(error, r->path, "backing file name %s", problem);
            return false;
        }
        info->backing_name = g_strndup((const char *)r->data + backing_offset, backing_len);
    }

    ext_end = backing_offset != 0 ? backing_offset : cluster_size;
    if (!image_qcow2_extensions(r, header_len, ext_end, info, error))
        return false;
    if (info->backing_format && !info->backing_name)
        g_clear_pointer(&info->backing_format, g_free);

    info->format = UTIL_IMAGE_FORMAT_QCOW2;
    info->qcow2_version = version;
    info->cluster_size = cluster_size;
    info->virtual_size = size;
    return true;
}

/* ---- the entry point ---- */

static bool
image_open(ImageReader *r, UtilImageInfo *info, GError **error)
{
    struct stat st;

    /* O_NONBLOCK: opening a FIFO named by a hostile header must not hang */
    r->fd = open(r->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (r->fd < 0) {
        util_error_set_errno(error, VIR_FROM_STORAGE, errno,
                             "cannot open file '%s'", r->path);
        return false;
    }
    if (fstat(r->fd, &st) < 0) {
        util_error_set_errno(error, VIR_FROM_STORAGE, errno,
                             "cannot stat file '%s'", r->path);
        return false;
    }
    if (S_ISREG(st.st_mode)) {
        r->file_size = st.st_size;
    } else if (S_ISBLK(st.st_mode)) {
        off_t end = lseek(r->fd, 0, SEEK_END);

        if (end < 0) {
            util_error_set_errno(error, VIR_FROM_STORAGE, errno,
                                 "cannot get the size of '%s'", r->path);
            return false;
        }
        r->file_size = end;
        info->is_block = true;
    } else {
        util_error_set(error, VIR_FROM_STORAGE, VIR_ERR_CONFIG_UNSUPPORTED,
                       "'%s' is neither a regular file nor a block device", r->path);
        return false;
    }
    info->dev = st.st_dev;
    info->ino = st.st_ino;
    info->physical_size = r->file_size;
    return true;
}

/* Reads the header through @r (opened, or holding the whole file). */
static bool
image_parse(ImageReader *r, UtilImageFormat hint, UtilImageInfo *info, GError **error)
{
    const char *foreign;

    switch (hint) {
    case UTIL_IMAGE_FORMAT_RAW:
        break;
    case UTIL_IMAGE_FORMAT_QCOW2:
        if (!image_reader_ensure(r, IMAGE_FIRST_READ, error))
            return false;
        if (!image_is_qcow(r)) {
            util_error_set(error, VIR_FROM_STORAGE, VIR_ERR_INTERNAL_ERROR,
                           "image '%s' is not in qcow2 format", r->path);
            return false;
        }
        return image_qcow2_parse(r, info, error);
    case UTIL_IMAGE_FORMAT_AUTO:
        if (!image_reader_ensure(r, IMAGE_FIRST_READ, error))
            return false;
        if ((foreign = image_foreign_format(r))) {
            util_error_set(error, VIR_FROM_STORAGE, VIR_ERR_CONFIG_UNSUPPORTED,
                           "unsupported format '%s' of image '%s'", foreign, r->path);
            return false;
        }
        if (image_is_qcow(r))
            return image_qcow2_parse(r, info, error);
        break;
    case UTIL_IMAGE_FORMAT_LAST:
        util_error_set(error, VIR_FROM_STORAGE, VIR_ERR_INTERNAL_ERROR,
                       "invalid image format hint %d", (int)hint);
        return false;
    }
    info->format = UTIL_IMAGE_FORMAT_RAW;
    info->virtual_size = r->file_size;
    return true;
}

static void
image_finish(const char *path, UtilImageInfo *info, UtilImageInfo *ret_info)
{
    /* formatting costs more than reading a header: only when shown */
    if (!g_log_writer_default_would_drop(G_LOG_LEVEL_DEBUG, G_LOG_DOMAIN))
        g_debug("probed '%s': %s, virtual size %" G_GUINT64_FORMAT ", backing '%s' (%s)",
                path, util_image_format_to_string(info->format), info->virtual_size,
                info->backing_name ? info->backing_name : "",
                info->backing_format ? info->backing_format : "");
    *ret_info = *info;
    memset(info, 0, sizeof(*info));
}

bool
util_image_probe(const char *path, UtilImageFormat hint,
                 UtilImageInfo *ret_info, GError **error)
{
    ImageReader r = { .path = path, .fd = -1 };
    g_auto(UtilImageInfo) info = { 0 };
    bool ok;

    ok = image_open(&r, &info, error) && image_parse(&r, hint, &info, error);
    image_reader_clear(&r);
    if (!ok)
        return false;
    image_finish(path, &info, ret_info);
    return true;
}

bool
util_image_parse_buffer(const char *name, const void *data, size_t len,
                        UtilImageFormat hint, UtilImageInfo *ret_info, GError **error)
{
    ImageReader r = { .path = name, .fd = -1, .file_size = len, .len = len };
    g_auto(UtilImageInfo) info = { 0 };
    bool ok;

    r.data = g_memdup2(data, len);
    info.physical_size = len;
    ok = image_parse(&r, hint, &info, error);
    image_reader_clear(&r);
    if (!ok)
        return false;
    image_finish(name, &info, ret_info);
    return true;
}

void
util_image_info_clear(UtilImageInfo *info)
{
    if (!info)
        return;
    g_clear_pointer(&info->backing_name, g_free);
    g_clear_pointer(&info->backing_format, g_free);
}

/* ---- backing names ---- */

bool
util_image_backing_is_local(const char *name)
{
    const char *colon = strchr(name, ':');
    const char *slash = strchr(name, '/');

    return !colon || (slash && slash < colon);
}

char *
util_image_resolve_backing(const char *overlay_path, const char *name)
{
    const char *slash;

    if (g_path_is_absolute(name))
        return g_strdup(name);
    slash = strrchr(overlay_path, '/');
    if (!slash)
        return g_strdup(name);
    return g_strdup_printf("%.*s%s", (int)(slash - overlay_path + 1), overlay_path, name);
}
