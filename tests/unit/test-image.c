/*
 * test-image.c: image header probing (util-image).
 *
 * Images are made by qemu-img in a temporary directory; what the probe
 * reports is compared with what we asked qemu-img to create and with what
 * `qemu-img info --output=json` says (read with python3's json module).
 * Hostile headers are copies of a valid qcow2 with one field overwritten;
 * for each, the expected error code is checked, and also whether QEMU
 * itself refuses the image, so that every refusal of ours is either one
 * QEMU shares or a documented extra strictness.
 */
#define G_LOG_DOMAIN "modvirt.test.image"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "util-error.h"
#include "util-image.h"

static char *test_dir;

/* ---- helpers ---- */

static char *
tpath(const char *name)
{
    return g_build_filename(test_dir, name, NULL);
}

/* Runs argv in test_dir; true if it exited 0.  Output in *ret_out. */
static bool
run(const char *const *argv, char **ret_out)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *out = NULL;
    g_autofree char *errout = NULL;
    int status = 0;

    if (!g_spawn_sync(test_dir, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                      &out, &errout, &status, &err))
        g_error("cannot run %s: %s", argv[0], err->message);
    if (ret_out)
        *ret_out = g_steal_pointer(&out);
    if (!g_spawn_check_wait_status(status, NULL)) {
        g_test_message("%s failed: %s", argv[0], errout);
        return false;
    }
    return true;
}

#define RUN_OK(...) \
    g_assert_true(run((const char *const[]){ __VA_ARGS__, NULL }, NULL))

/* Fields of `qemu-img info --output=json` for one image, "" if absent;
 * NULL if qemu-img refuses the image. */
typedef struct {
    char *virtual_size;
    char *cluster_size;
    char *format;
    char *backing_filename;
    char *full_backing_filename;
    char *backing_format;
} QemuImgInfo;

static void
qemu_img_info_free(QemuImgInfo *q)
{
    if (!q)
        return;
    g_free(q->virtual_size);
    g_free(q->cluster_size);
    g_free(q->format);
    g_free(q->backing_filename);
    g_free(q->full_backing_filename);
    g_free(q->backing_format);
    g_free(q);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QemuImgInfo, qemu_img_info_free)

static const char json_fields_py[] =
    "import json,sys\n"
    "i=json.load(open(sys.argv[1]))\n"
    "for k in ['virtual-size','cluster-size','format','backing-filename',"
    "'full-backing-filename','backing-filename-format']:\n"
    "    print(i.get(k,''))\n";

static QemuImgInfo *
qemu_img_info(const char *path)
{
    g_autofree char *json = NULL;
    g_autofree char *lines = NULL;
    g_autofree char *json_path = tpath("info.json");
    g_auto(GStrv) f = NULL;
    QemuImgInfo *q;

    if (!run((const char *const[]){ "qemu-img", "info", "-U", "--output=json", path, NULL },
             &json))
        return NULL;
    g_assert_true(g_file_set_contents(json_path, json, -1, NULL));
    g_assert_true(run((const char *const[]){ "python3", "-c", json_fields_py, json_path, NULL },
                      &lines));
    f = g_strsplit(lines, "\n", -1);
    g_assert_cmpuint(g_strv_length(f), >=, 6);
    q = g_new0(QemuImgInfo, 1);
    q->virtual_size = g_strdup(f[0]);
    q->cluster_size = g_strdup(f[1]);
    q->format = g_strdup(f[2]);
    q->backing_filename = g_strdup(f[3]);
    q->full_backing_filename = g_strdup(f[4]);
    q->backing_format = g_strdup(f[5]);
    return q;
}

static void
assert_matches_qemu_img(const char *path, const UtilImageInfo *info)
{
    g_autoptr(QemuImgInfo) q = qemu_img_info(path);
    g_autofree char *vsize = g_strdup_printf("%" G_GUINT64_FORMAT, info->virtual_size);

    g_assert_nonnull(q);
    g_assert_cmpstr(q->format, ==, util_image_format_to_string(info->format));
    g_assert_cmpstr(q->virtual_size, ==, vsize);
    if (info->format == UTIL_IMAGE_FORMAT_QCOW2) {
        g_autofree char *csize = g_strdup_printf("%u", info->cluster_size);

        g_assert_cmpstr(q->cluster_size, ==, csize);
    }
    g_assert_cmpstr(q->backing_filename, ==, info->backing_name ? info->backing_name : "");
    g_assert_cmpstr(q->backing_format, ==, info->backing_format ? info->backing_format : "");
}

static void
assert_probe_fails(const char *path, UtilImageFormat hint, int code, const char *needle)
{
    UtilImageInfo info = { 0 };
    g_autoptr(GError) err = NULL;

    g_assert_false(util_image_probe(path, hint, &info, &err));
    g_assert_nonnull(err);
    g_test_message("%s: %s", path, err->message);
    g_assert_cmpint(util_error_domain(err), ==, VIR_FROM_STORAGE);
    g_assert_cmpstr(util_error_code_name(util_error_code(err)), ==, util_error_code_name(code));
    g_assert_nonnull(strstr(err->message, path));
    if (needle)
        g_assert_nonnull(strstr(err->message, needle));
    /* nothing was written */
    g_assert_null(info.backing_name);
    g_assert_cmpint(info.virtual_size, ==, 0);
}

static void
write_at(const char *path, off_t off, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(pwrite(fd, data, len, off), ==, (ssize_t)len);
    close(fd);
}

static void
write_be32(const char *path, off_t off, guint32 v)
{
    v = GUINT32_TO_BE(v);
    write_at(path, off, &v, sizeof(v));
}

static void
write_be64(const char *path, off_t off, guint64 v)
{
    v = GUINT64_TO_BE(v);
    write_at(path, off, &v, sizeof(v));
}

static guint64
read_be(const char *path, off_t off, size_t width)
{
    guint8 b[8] = { 0 };
    guint64 v = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(pread(fd, b, width, off), ==, (ssize_t)width);
    close(fd);
    for (size_t i = 0; i < width; i++)
        v = (v << 8) | b[i];
    return v;
}

static char *
copy_image(const char *from, const char *to)
{
    g_autofree char *data = NULL;
    gsize len;
    char *dst = tpath(to);

    g_assert_true(g_file_get_contents(from, &data, &len, NULL));
    g_assert_true(g_file_set_contents(dst, data, len, NULL));
    return dst;
}

/* ---- valid images ---- */

static void
test_raw(void)
{
    g_autofree char *path = tpath("plain.raw");
    g_auto(UtilImageInfo) info = { 0 };
    g_autoptr(GError) err = NULL;

    RUN_OK("qemu-img", "create", "-q", "-f", "raw", path, "3M");
    g_assert_true(util_image_probe(path, UTIL_IMAGE_FORMAT_AUTO, &info, &err));
    g_assert_no_error(err);
    g_assert_cmpint(info.format, ==, UTIL_IMAGE_FORMAT_RAW);
    g_assert_cmpuint(info.virtual_size, ==, 3 * 1024 * 1024);
    g_assert_cmpuint(info.physical_size, ==, 3 * 1024 * 1024);
    g_assert_false(info.is_block);
    g_assert_null(info.backing_name);
    assert_matches_qemu_img(path, &info);
}

static void
test_qcow2_plain(void)
{
    g_autofree char *path = tpath("plain.qcow2");
    g_auto(UtilImageInfo) info = { 0 };
    g_autoptr(GError) err = NULL;
    struct stat st;

    RUN_OK("qemu-img", "create", "-q", "-f", "qcow2", path, "5G");
    g_assert_true(util_image_probe(path, UTIL_IMAGE_FORMAT_AUTO, &info, &err));
    g_assert_no_error(err);
    g_assert_cmpint(info.format, ==, UTIL_IMAGE_FORMAT_QCOW2);
    g_assert_cmpuint(info.qcow2_version, ==, 3);
    g_assert_cmpuint(info.virtual_size, ==, G_GUINT64_CONSTANT(5) << 30);
    g_assert_cmpuint(info.cluster_size, ==, 65536);
    g_assert_null(info.backing_name);
    g_assert_null(info.backing_format);
    g_assert_false(info.dirty);
    g_assert_false(info.corrupt);
    g_assert_cmpint(stat(path, &st), ==, 0);
    g_assert_cmpuint(info.physical_size, ==, st.st_size);
    g_assert_cmpuint(info.ino, ==, st.st_ino);
    assert_matches_qemu_img(path, &info);
}

/* Backing names as written: relative, with "..", absolute; formats. */
static void
test_qcow2_backing(void)
{
    static const struct {
        const char *name;       /* written with -b */
        const char *fmt;        /* -F */
        const char *opts;       /* -o */
    } cases[] = {
        { "base.raw", "raw", "compat=1.1" },
        { "../images/base.qcow2", "qcow2", "compat=1.1,cluster_size=512" },
        { "/var/lib/images/base.qcow2", "qcow2", "compat=0.10" },
        { "dir with space/b\xc3\xa4se.raw", "raw", "cluster_size=2M" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *name = g_strdup_printf("backed-%zu.qcow2", i);
        g_autofree char *path = tpath(name);
        g_auto(UtilImageInfo) info = { 0 };
        g_autoptr(GError) err = NULL;
        g_autoptr(QemuImgInfo) q = NULL;

        RUN_OK("qemu-img", "create", "-q", "-f", "qcow2", "-u", "-b", cases[i].name,
               "-F", cases[i].fmt, "-o", cases[i].opts, path, "1M");
        g_assert_true(util_image_probe(path, UTIL_IMAGE_FORMAT_QCOW2, &info, &err));
        g_assert_no_error(err);
        g_assert_cmpstr(info.backing_name, ==, cases[i].name);
        g_assert_cmpstr(info.backing_format, ==, cases[i].fmt);
        g_assert_cmpuint(info.qcow2_version, ==, strstr(cases[i].opts, "0.10") ? 2 : 3);
        assert_matches_qemu_img(path, &info);
        q = qemu_img_info(path);
        {
            g_autofree char *resolved = util_image_resolve_backing(path, info.backing_name);

            g_assert_cmpstr(q->full_backing_filename, ==, resolved);
        }
    }
}

/* The longest name QEMU accepts, 1023 bytes. */
static void
test_qcow2_long_name(void)
{
    g_autofree char *path = tpath("longname.qcow2");
    g_autoptr(GString) name = g_string_new("/");
    g_auto(UtilImageInfo) info = { 0 };
    g_autoptr(GError) err = NULL;

    while (name->len < UTIL_IMAGE_BACKING_NAME_MAX)
        g_string_append_c(name, name->len % 100 == 0 ? '/' : 'n');
    RUN_OK("qemu-img", "create", "-q", "-f", "qcow2", "-u", "-b", name->str, "-F", "raw",
           path, "1M");
    g_assert_true(util_image_probe(path, UTIL_IMAGE_FORMAT_AUTO, &info, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(strlen(info.backing_name), ==, UTIL_IMAGE_BACKING_NAME_MAX);
    g_assert_cmpstr(info.backing_name, ==, name->str);
    assert_matches_qemu_img(path, &info);
}

static void
test_hint(void)
{
    g_autofree char *qcow = tpath("hint.qcow2");
    g_autofree char *raw = tpath("hint.raw");
    g_auto(UtilImageInfo) info = { 0 };
    g_autoptr(GError) err = NULL;
    struct stat st;

    RUN_OK("qemu-img", "create", "-q", "-f", "qcow2", "-u", "-b", "x.raw", "-F", "raw",
           qcow, "1G");
    RUN_OK("qemu-img", "create", "-q", "-f", "raw", raw, "1M");
    /* a qcow2 file used as raw: the header means nothing */
    g_assert_true(util_image_probe(qcow, UTIL_IMAGE_FORMAT_RAW, &info, &err));
    g_assert_no_error(err);
    g_assert_cmpint(stat(qcow, &st), ==, 0);
    g_assert_cmpint(info.format, ==, UTIL_IMAGE_FORMAT_RAW);
    g_assert_cmpuint(info.virtual_size, ==, st.st_size);
    g_assert_null(info.backing_name);
    assert_probe_fails(raw, UTIL_IMAGE_FORMAT_QCOW2, VIR_ERR_INTERNAL_ERROR,
                       "is not in qcow2 format");
}

/* ---- formats that are recognised and refused ---- */

static void
test_foreign(void)
{
    static const char *const formats[] = { "qcow", "qed", "vdi", "vpc", "vhdx", "vmdk" };
    g_autofree char *luks = tpath("fake.luks");
    g_autofree char *plain = tpath("foreign.qcow2");
    static const char luks_magic[] = "LUKS\xba\xbe\x00\x01";

    for (size_t i = 0; i < G_N_ELEMENTS(formats); i++) {
        g_autofree char *name = g_strdup_printf("foreign.%s", formats[i]);
        g_autofree char *path = tpath(name);
        g_autofree char *quoted = g_strdup_printf("format '%s'", formats[i]);
        g_autoptr(QemuImgInfo) q = NULL;

        RUN_OK("qemu-img", "create", "-q", "-f", formats[i], path, "1M");
        q = qemu_img_info(path);
        g_assert_cmpstr(q->format, ==, formats[i]);
        assert_probe_fails(path, UTIL_IMAGE_FORMAT_AUTO, VIR_ERR_CONFIG_UNSUPPORTED, quoted);
        /* as raw, any content is fine */
        {
            g_auto(UtilImageInfo) info = { 0 };

            g_assert_true(util_image_probe(path, UTIL_IMAGE_FORMAT_RAW, &info, NULL));
        }
    }
    /* LUKS volumes are slow to make; the magic is what counts */
    g_assert_true(g_file_set_contents(luks, luks_magic, sizeof(luks_magic) - 1, NULL));
    assert_probe_fails(luks, UTIL_IMAGE_FORMAT_AUTO, VIR_ERR_CONFIG_UNSUPPORTED, "format 'luks'");

    /* encryption and external data files inside qcow2 */
    RUN_OK("qemu-img", "create", "-q", "-f", "qcow2", plain, "1M");
    for (guint32 method = 1; method <= 3; method++) {
        g_autofree char *name = g_strdup_printf("crypt%u.qcow2", method);
        g_autofree char *path = copy_image(plain, name);

        write_be32(path, 32, method);
        assert_probe_fails(path, UTIL_IMAGE_FORMAT_AUTO,
                           method < 3 ? VIR_ERR_CONFIG_UNSUPPORTED : VIR_ERR_INTERNAL_ERROR,
                           method == 1 ? "(aes)" : method == 2 ? "(luks)" : "encryption method 3");
    }
    {
        g_autofree char *path = tpath("datafile.qcow2");
        g_autofree char *data = tpath("datafile.raw");

        RUN_OK("qemu-img", "create", "-q", "-f", "qcow2", "-o", "data_file=datafile.raw",
               path, "1M");
        g_assert_true(g_file_test(data, G_FILE_TEST_EXISTS));
        assert_probe_fails(path, UTIL_IMAGE_FORMAT_AUTO, VIR_ERR_CONFIG_UNSUPPORTED,
                           "external data file");
    }
}

/* ---- hostile headers ---- */

typedef enum {
    QEMU_REFUSES,
    QEMU_ACCEPTS,           /* `qemu-img info` accepts it: we are stricter on purpose */
} QemuVerdict;

typedef enum {
    PATCH_BE32,
    PATCH_BE64,
    PATCH_BYTES,
    PATCH_TRUNCATE,
} PatchKind;

typedef enum {
    AT_ABS,                 /* offset from the start */
    AT_NAME,                /* offset from the backing name */
    AT_EXT,                 /* offset from the first header extension */
} PatchBase;

typedef struct {
    const char *name;
    PatchKind kind;
    PatchBase base;
    off_t off;
    guint64 value;
    const char *bytes;
    size_t n_bytes;
    int code;
    const char *needle;
    QemuVerdict qemu;
} HostileCase;

#define BYTES(s) PATCH_BYTES, AT_NAME, 0, 0, s, sizeof(s) - 1

static const HostileCase hostile_cases[] = {
    { "version-4", PATCH_BE32, AT_ABS, 4, 4, NULL, 0,
      VIR_ERR_CONFIG_UNSUPPORTED, "version 4", QEMU_REFUSES },
    { "cluster-bits-8", PATCH_BE32, AT_ABS, 20, 8, NULL, 0,
      VIR_ERR_INTERNAL_ERROR, "cluster size", QEMU_REFUSES },
    { "cluster-bits-22", PATCH_BE32, AT_ABS, 20, 22, NULL, 0,
      VIR_ERR_INTERNAL_ERROR, "cluster size", QEMU_REFUSES },
    { "cluster-bits-huge", PATCH_BE32, AT_ABS, 20, 0xffffffff, NULL, 0,
      VIR_ERR_INTERNAL_ERROR, "cluster size", QEMU_REFUSES },
    { "header-length-short", PATCH_BE32, AT_ABS, 100, 64, NULL, 0,
      VIR_ERR_INTERNAL_ERROR, "header length", QEMU_REFUSES },
    { "header-length-past-cluster", PATCH_BE32, AT_ABS, 100, 65536 + 8, NULL, 0,
      VIR_ERR_INTERNAL_ERROR, "header length", QEMU_REFUSES },
    { "backing-offset-past-cluster", PATCH_BE64, AT_ABS, 8, 0x20000, NULL, 0,
      VIR_ERR_INTERNAL_ERROR, "offset", QEMU_REFUSES },
    { "backing-offset-max", PATCH_BE64, AT_ABS, 8, G_MAXUINT64, NULL, 0,
      VIR_ERR_INTERNAL_ERROR, "offset", QEMU_REFUSES },
    { "backing-offset-end-of-cluster", PATCH_BE64, AT_ABS, 8, 65536 - 4, NULL, 0,
      VIR_ERR_INTERNAL_ERROR, "too long", QEMU_REFUSES },
    { "backing-size-1024", PATCH_BE32, AT_ABS, 16, 1024, NULL, 0,
      VIR_ERR_INTERNAL_ERROR, "too long", QEMU_REFUSES },
    { "backing-size-max", PATCH_BE32, AT_ABS, 16, 0xffffffff, NULL, 0,
      VIR_ERR_INTERNAL_ERROR, "too long", QEMU_REFUSES },
    { "name-with-nul", BYTES("ba\0e"),
      VIR_ERR_INTERNAL_ERROR, "NUL", QEMU_ACCEPTS },
    { "name-with-newline", BYTES("ba\ne"),
      VIR_ERR_INTERNAL_ERROR, "control character", QEMU_ACCEPTS },
    { "name-not-utf8", BYTES("ba\xff\xfe"),
      VIR_ERR_INTERNAL_ERROR, "UTF-8", QEMU_ACCEPTS },
    { "extension-too-large", PATCH_BE32, AT_EXT, 4, 0xfffffff0, NULL, 0,
      VIR_ERR_INTERNAL_ERROR, "too large", QEMU_REFUSES },
    { "extension-past-backing-name", PATCH_BE32, AT_EXT, 4, 0x1000, NULL, 0,
      VIR_ERR_INTERNAL_ERROR, "too large", QEMU_REFUSES },
    { "backing-format-16", PATCH_BE32, AT_EXT, 4, 16, NULL, 0,
      VIR_ERR_INTERNAL_ERROR, "too long", QEMU_REFUSES },
    { "unknown-incompatible-feature", PATCH_BE64, AT_ABS, 72, 1 << 10, NULL, 0,
      VIR_ERR_CONFIG_UNSUPPORTED, "unknown incompatible", QEMU_REFUSES },
    /* qemu-img info reads it (no I/O); QEMU refuses to do I/O without
     * the data file ("'data-file' is required for this image") */
    { "data-file-bit", PATCH_BE64, AT_ABS, 72, 1 << 2, NULL, 0,
      VIR_ERR_CONFIG_UNSUPPORTED, "external data file", QEMU_ACCEPTS },
    { "refcount-order-7", PATCH_BE32, AT_ABS, 96, 7, NULL, 0,
      VIR_ERR_INTERNAL_ERROR, "refcount order", QEMU_REFUSES },
    { "virtual-size-2^63", PATCH_BE64, AT_ABS, 24, G_GUINT64_CONSTANT(1) << 63, NULL, 0,
      VIR_ERR_INTERNAL_ERROR, "virtual size", QEMU_REFUSES },
    { "truncated-in-header", PATCH_TRUNCATE, AT_ABS, 50, 0, NULL, 0,
      VIR_ERR_INTERNAL_ERROR, "truncated", QEMU_REFUSES },
    /* QEMU reads zeros past the end, i.e. a shortened name */
    { "truncated-in-name", PATCH_TRUNCATE, AT_NAME, 3, 0, NULL, 0,
      VIR_ERR_INTERNAL_ERROR, "past the end of the file", QEMU_ACCEPTS },
};

static char *hostile_template;

static void
hostile_setup_template(void)
{
    if (hostile_template)
        return;
    hostile_template = tpath("template.qcow2");
    RUN_OK("qemu-img", "create", "-q", "-f", "qcow2", "-u", "-b", "base.raw", "-F", "raw",
           hostile_template, "1M");
}

static void
test_hostile(gconstpointer data)
{
    const HostileCase *c = data;
    g_autofree char *name = NULL;
    g_autofree char *path = NULL;
    g_autoptr(QemuImgInfo) q = NULL;
    off_t off = c->off;

    hostile_setup_template();
    name = g_strdup_printf("hostile-%s.qcow2", c->name);
    path = copy_image(hostile_template, name);
    if (c->base == AT_NAME)
        off += read_be(path, 8, 8);
    else if (c->base == AT_EXT)
        off += read_be(path, 100, 4);

    switch (c->kind) {
    case PATCH_BE32:
        write_be32(path, off, c->value);
        break;
    case PATCH_BE64:
        write_be64(path, off, c->value);
        break;
    case PATCH_BYTES:
        write_at(path, off, c->bytes, c->n_bytes);
        break;
    case PATCH_TRUNCATE:
        g_assert_cmpint(truncate(path, off), ==, 0);
        break;
    }
    assert_probe_fails(path, UTIL_IMAGE_FORMAT_AUTO, c->code, c->needle);
    assert_probe_fails(path, UTIL_IMAGE_FORMAT_QCOW2, c->code, c->needle);
    q = qemu_img_info(path);
    if (c->qemu == QEMU_REFUSES)
        g_assert_null(q);
    else
        g_assert_nonnull(q);
}

/* Random damage to the first cluster of a valid image: every result is
 * either a clean error or a header whose values are all in range. */
static void
test_mutations(void)
{
    static const guint32 interesting[] = {
        0, 1, 7, 8, 9, 15, 16, 21, 22, 72, 104, 112, 1023, 1024, 4096, 65535, 65536,
        0x7fffffff, 0x80000000, 0xfffffff8, 0xffffffff,
    };
    g_autoptr(GRand) rand = g_rand_new_with_seed(20240601);
    g_autofree char *orig = NULL;
    gsize orig_len;
    guint accepted = 0;

    hostile_setup_template();
    g_assert_true(g_file_get_contents(hostile_template, &orig, &orig_len, NULL));
    g_log_set_debug_enabled(FALSE);
    for (int round = 0; round < 20000; round++) {
        g_autofree guint8 *buf = g_memdup2(orig, orig_len);
        size_t len = orig_len;
        int edits = g_rand_int_range(rand, 1, 5);
        g_auto(UtilImageInfo) info = { 0 };
        g_autoptr(GError) err = NULL;

        for (int e = 0; e < edits; e++) {
            size_t off = g_rand_int_range(rand, 0, 0x240);

            switch (g_rand_int_range(rand, 0, 4)) {
            case 0:
                buf[off] = g_rand_int_range(rand, 0, 256);
                break;
            case 1: {
                guint32 v = GUINT32_TO_BE(interesting[g_rand_int_range(rand, 0,
                                                                       G_N_ELEMENTS(interesting))]);

                off &= ~(size_t)3;
                memcpy(buf + off, &v, 4);
                break;
            }
            case 2:
                buf[off] ^= 1 << g_rand_int_range(rand, 0, 8);
                break;
            default:
                len = g_rand_int_range(rand, 0, 0x300);
                break;
            }
        }
        if (util_image_parse_buffer("mutant", buf, len, UTIL_IMAGE_FORMAT_AUTO, &info, &err)) {
            accepted++;
            g_assert_no_error(err);
            g_assert_cmpuint(info.virtual_size, <=, G_MAXINT64);
            if (info.format == UTIL_IMAGE_FORMAT_RAW) {
                g_assert_cmpuint(info.virtual_size, ==, len);
                continue;
            }
            g_assert_cmpint(info.format, ==, UTIL_IMAGE_FORMAT_QCOW2);
            g_assert_cmpuint(info.cluster_size, >=, 512);
            g_assert_cmpuint(info.cluster_size, <=, 2 * 1024 * 1024);
            if (info.backing_name) {
                g_assert_cmpuint(strlen(info.backing_name), >=, 1);
                g_assert_cmpuint(strlen(info.backing_name), <=, UTIL_IMAGE_BACKING_NAME_MAX);
                g_assert_true(g_utf8_validate(info.backing_name, -1, NULL));
            }
            if (info.backing_format)
                g_assert_cmpuint(strlen(info.backing_format), <, 16);
        } else {
            g_assert_nonnull(err);
            g_assert_cmpint(util_error_domain(err), ==, VIR_FROM_STORAGE);
            g_assert_true(util_error_code(err) == VIR_ERR_INTERNAL_ERROR ||
                          util_error_code(err) == VIR_ERR_CONFIG_UNSUPPORTED);
            g_assert_null(info.backing_name);
        }
    }
    g_log_set_debug_enabled(TRUE);
    g_test_message("%u of 20000 mutants accepted", accepted);
    g_assert_cmpuint(accepted, >, 0);
    g_assert_cmpuint(accepted, <, 20000);
}

/* Damage QEMU treats as harmless; we must read it the same way. */
static void
test_lenient(void)
{
    g_autofree char *zero_len = NULL;
    g_autofree char *zero_off = NULL;
    g_autofree char *unknown_ext = NULL;
    g_autofree char *empty_fmt = NULL;
    const char *paths[4];

    hostile_setup_template();
    /* a backing name of length 0 means no backing file */
    zero_len = copy_image(hostile_template, "len0.qcow2");
    write_be32(zero_len, 16, 0);
    /* so does an offset of 0, whatever the length */
    zero_off = copy_image(hostile_template, "off0.qcow2");
    write_be64(zero_off, 8, 0);
    /* an unknown extension type is skipped (here: the backing format one) */
    unknown_ext = copy_image(hostile_template, "unknown-ext.qcow2");
    write_be32(unknown_ext, read_be(unknown_ext, 100, 4), 0x12345678);
    /* an empty backing format means "not given" */
    empty_fmt = copy_image(hostile_template, "empty-fmt.qcow2");
    write_be32(empty_fmt, read_be(empty_fmt, 100, 4) + 4, 0);

    paths[0] = zero_len;
    paths[1] = zero_off;
    paths[2] = unknown_ext;
    paths[3] = empty_fmt;
    for (size_t i = 0; i < G_N_ELEMENTS(paths); i++) {
        g_auto(UtilImageInfo) info = { 0 };
        g_autoptr(GError) err = NULL;

        g_assert_true(util_image_probe(paths[i], UTIL_IMAGE_FORMAT_AUTO, &info, &err));
        g_assert_no_error(err);
        g_assert_cmpint(info.format, ==, UTIL_IMAGE_FORMAT_QCOW2);
        if (i < 2) {
            g_assert_null(info.backing_name);
        } else {
            g_assert_cmpstr(info.backing_name, ==, "base.raw");
        }
        g_assert_null(info.backing_format);
        assert_matches_qemu_img(paths[i], &info);
    }
}

static void
test_small_files(void)
{
    g_autofree char *empty = tpath("empty.img");
    g_autofree char *three = tpath("three.img");
    g_autofree char *short_qcow = tpath("short.qcow2");
    g_autofree char *dir = tpath("a-directory");
    g_autofree char *fifo = tpath("a-fifo");
    g_autofree char *missing = tpath("missing.qcow2");
    g_auto(UtilImageInfo) info = { 0 };
    g_auto(UtilImageInfo) info3 = { 0 };
    g_autoptr(GError) err = NULL;

    g_assert_true(g_file_set_contents(empty, "", 0, NULL));
    g_assert_true(util_image_probe(empty, UTIL_IMAGE_FORMAT_AUTO, &info, &err));
    g_assert_no_error(err);
    g_assert_cmpint(info.format, ==, UTIL_IMAGE_FORMAT_RAW);
    g_assert_cmpuint(info.virtual_size, ==, 0);
    assert_matches_qemu_img(empty, &info);

    /* the first three bytes of the magic are not the magic */
    g_assert_true(g_file_set_contents(three, "QFI", 3, NULL));
    g_assert_true(util_image_probe(three, UTIL_IMAGE_FORMAT_AUTO, &info3, &err));
    g_assert_cmpint(info3.format, ==, UTIL_IMAGE_FORMAT_RAW);
    g_assert_cmpuint(info3.virtual_size, ==, 3);

    g_assert_true(g_file_set_contents(short_qcow, "QFI\xfb\0\0\0\3\0\0", 10, NULL));
    assert_probe_fails(short_qcow, UTIL_IMAGE_FORMAT_AUTO, VIR_ERR_INTERNAL_ERROR, "truncated");

    g_assert_cmpint(g_mkdir(dir, 0700), ==, 0);
    assert_probe_fails(dir, UTIL_IMAGE_FORMAT_AUTO, VIR_ERR_CONFIG_UNSUPPORTED,
                       "neither a regular file nor a block device");
    /* a FIFO must be refused, not block the caller */
    g_assert_cmpint(mkfifo(fifo, 0600), ==, 0);
    assert_probe_fails(fifo, UTIL_IMAGE_FORMAT_QCOW2, VIR_ERR_CONFIG_UNSUPPORTED,
                       "neither a regular file nor a block device");
    assert_probe_fails(missing, UTIL_IMAGE_FORMAT_AUTO, VIR_ERR_SYSTEM_ERROR,
                       "No such file or directory");
}

/* A qcow2 image on a loop device, when this machine lets us make one. */
static void
test_block_device(void)
{
    g_autofree char *path = tpath("on-loop.qcow2");
    g_autofree char *dev = NULL;
    g_auto(UtilImageInfo) info = { 0 };
    g_autoptr(GError) err = NULL;
    bool ok;

    RUN_OK("qemu-img", "create", "-q", "-f", "qcow2", "-u", "-b", "/dev/base", "-F", "raw",
           path, "16M");
    if (getuid() != 0 ||
        !run((const char *const[]){ "losetup", "--find", "--show", "--read-only", path, NULL },
             &dev)) {
        g_test_skip("cannot make a loop device here");
        return;
    }
    g_strstrip(dev);
    ok = util_image_probe(dev, UTIL_IMAGE_FORMAT_AUTO, &info, &err);
    run((const char *const[]){ "losetup", "-d", dev, NULL }, NULL);
    g_assert_no_error(err);
    g_assert_true(ok);
    g_assert_true(info.is_block);
    g_assert_cmpint(info.format, ==, UTIL_IMAGE_FORMAT_QCOW2);
    g_assert_cmpstr(info.backing_name, ==, "/dev/base");
    g_assert_cmpstr(info.backing_format, ==, "raw");
    g_assert_cmpuint(info.virtual_size, ==, 16 * 1024 * 1024);
    g_assert_cmpuint(info.physical_size, >, 0);
}

/* ---- names ---- */

static void
test_resolve(void)
{
    static const char *const cases[][3] = {
        { "/a/b/top.qcow2", "base.qcow2", "/a/b/base.qcow2" },
        { "/a/b/top.qcow2", "../c/base.qcow2", "/a/b/../c/base.qcow2" },
        { "/a/b/top.qcow2", "/abs/base.qcow2", "/abs/base.qcow2" },
        { "/top.qcow2", "base.qcow2", "/base.qcow2" },
        { "top.qcow2", "base.qcow2", "base.qcow2" },
        { "rel/top.qcow2", "base.qcow2", "rel/base.qcow2" },
        { "/a/b/", "base.qcow2", "/a/b/base.qcow2" },
    };
    static const struct {
        const char *name;
        bool local;
    } local_cases[] = {
        { "base.qcow2", true },
        { "/x/y:z.qcow2", true },
        { "./a:b", true },
        { "a:b", false },
        { "nbd:localhost:10809", false },
        { "nbd+unix:///exp?socket=/s", false },
        { "json:{\"file.filename\":\"/x\"}", false },
        { "http://host/x.qcow2", false },
        { "file:/x.qcow2", false },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *got = util_image_resolve_backing(cases[i][0], cases[i][1]);

        g_assert_cmpstr(got, ==, cases[i][2]);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(local_cases); i++)
        g_assert_cmpint(util_image_backing_is_local(local_cases[i].name), ==,
                        local_cases[i].local);
    g_assert_cmpint(util_image_format_from_string("qcow2"), ==, UTIL_IMAGE_FORMAT_QCOW2);
    g_assert_cmpint(util_image_format_from_string("raw"), ==, UTIL_IMAGE_FORMAT_RAW);
    g_assert_cmpint(util_image_format_from_string("auto"), ==, -1);
    g_assert_cmpint(util_image_format_from_string("vmdk"), ==, -1);
}

int
main(int argc, char **argv)
{
    int rc;

    g_test_init(&argc, &argv, NULL);
    test_dir = g_dir_make_tmp("modvirt-image-XXXXXX", NULL);
    g_assert_nonnull(test_dir);

    g_test_add_func("/image/raw", test_raw);
    g_test_add_func("/image/qcow2/plain", test_qcow2_plain);
    g_test_add_func("/image/qcow2/backing", test_qcow2_backing);
    g_test_add_func("/image/qcow2/long-name", test_qcow2_long_name);
    g_test_add_func("/image/hint", test_hint);
    g_test_add_func("/image/foreign", test_foreign);
    g_test_add_func("/image/lenient", test_lenient);
    g_test_add_func("/image/mutations", test_mutations);
    g_test_add_func("/image/small-files", test_small_files);
    g_test_add_func("/image/block-device", test_block_device);
    g_test_add_func("/image/names", test_resolve);
    for (size_t i = 0; i < G_N_ELEMENTS(hostile_cases); i++) {
        g_autofree char *name = g_strdup_printf("/image/hostile/%s", hostile_cases[i].name);

        g_test_add_data_func(name, &hostile_cases[i], test_hostile);
    }

    rc = g_test_run();
    run((const char *const[]){ "rm", "-rf", test_dir, NULL }, NULL);
    g_free(test_dir);
    g_free(hostile_template);
    return rc;
}
