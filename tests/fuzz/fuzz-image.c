/*
 * fuzz-image.c: the image header reader (shared/util/util-image.c) and the
 * backing chain walk built on it (conf_storage_chain_fill), fed damaged
 * headers: what a guest can write into its own disk and get the host to
 * read when the disk becomes a backing file.
 *
 * Seeds are made by qemu-img at run time in a temporary directory: raw,
 * qcow2 v3 and v2 (compat=0.10), with and without a backing file, with and
 * without the backing format extension, small clusters, a long backing
 * name, an external data file.
 *
 *  /fuzz/image/header  a mutated image (header fields set to interesting
 *                      values, header extensions, the backing name, bytes,
 *                      truncation) read with util_image_parse_buffer from an
 *                      exactly sized buffer, with each format hint.  A
 *                      header that is accepted must describe something
 *                      sane: a known format and version, a cluster size
 *                      QEMU allows, a backing name without NUL within
 *                      QEMU's limit, a backing format only with a backing
 *                      name, a raw image as large as its bytes.
 *  /fuzz/image/chain   a mutated top image whose backing file is a mutated
 *                      second image, written to disk and walked with
 *                      conf_storage_chain_fill as virtqemud does before
 *                      starting a guest: a chain or an error, never a crash;
 *                      a chain that is answered ends (terminated, within
 *                      the depth limit) and its layers exist.
 */
#define G_LOG_DOMAIN "modvirt.test.fuzz.image"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "conf-domain.h"
#include "conf-storage-chain.h"
#include "fuzz-common.h"
#include "util-error.h"
#include "util-image.h"

/* qcow2 header fields (docs/interop/qcow2.txt) worth a hostile value */
static const struct {
    guint offset;
    guint size;
} qcow2_fields[] = {
    { 4, 4 },   /* version */
    { 8, 8 },   /* backing_file_offset */
    { 16, 4 },  /* backing_file_size */
    { 20, 4 },  /* cluster_bits */
    { 24, 8 },  /* size */
    { 32, 4 },  /* crypt_method */
    { 36, 4 },  /* l1_size */
    { 40, 8 },  /* l1_table_offset */
    { 48, 8 },  /* refcount_table_offset */
    { 56, 4 },  /* refcount_table_clusters */
    { 60, 4 },  /* nb_snapshots */
    { 64, 8 },  /* snapshots_offset */
    { 72, 8 },  /* incompatible_features */
    { 80, 8 },  /* compatible_features */
    { 88, 8 },  /* autoclear_features */
    { 96, 4 },  /* refcount_order */
    { 100, 4 }, /* header_length */
};

/* header extension types, and bits of the feature words */
static const guint32 ext_types[] = {
    0, 0xe2792acaU /* backing format */, 0x44415441U /* data file */,
    0x0537be77U /* crypto */, 0x6803f857U /* feature names */, 0x23852875U /* bitmaps */,
};

static char *tmpdir;
static GPtrArray *seeds;        /* GByteArray* */
static GPtrArray *seed_names;

/* ------------------------------------------------------------ seeds */

static void
put_be(guint8 *p, guint size, guint64 v)
{
    for (guint i = 0; i < size; i++)
        p[i] = (guint8)(v >> (8 * (size - 1 - i)));
}

static guint64
get_be(const guint8 *p, guint size)
{
    guint64 v = 0;

    for (guint i = 0; i < size; i++)
        v = v << 8 | p[i];
    return v;
}

static bool
run_qemu_img(const char *const *args)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_autoptr(GError) error = NULL;
    g_autofree char *err = NULL;
    int status = 0;

    g_ptr_array_add(argv, (char *)"qemu-img");
    for (const char *const *a = args; *a; a++)
        g_ptr_array_add(argv, (char *)*a);
    g_ptr_array_add(argv, NULL);
    if (!g_spawn_sync(tmpdir, (char **)argv->pdata, NULL, G_SPAWN_SEARCH_PATH |
                      G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL, &err, &status, &error) ||
        !g_spawn_check_wait_status(status, NULL)) {
        g_test_message("qemu-img %s failed: %s", args[0], error ? error->message : err);
        return false;
    }
    return true;
}

static void
seed_add(const char *name)
{
    g_autofree char *path = g_build_filename(tmpdir, name, NULL);
    GByteArray *b = fuzz_read_file(path);

    /* The reader looks at the first cluster at most; what qemu-img wrote
     * past 64 KiB (L1 and refcount tables) is never read, and copying it
     * for every iteration would cost most of the time. */
    if (b->len > 65536)
        g_byte_array_set_size(b, 65536);
    g_ptr_array_add(seeds, b);
    g_ptr_array_add(seed_names, g_strdup(name));
}

static bool
seeds_make(void)
{
    g_autofree char *longname = NULL;
    g_autofree char *longbacking = NULL;
    g_autoptr(GString) ln = g_string_new(NULL);

    while (ln->len < 1000)
        g_string_append(ln, "dir/../");
    g_string_append(ln, "base.raw");
    longname = g_strdup(ln->str);
    longbacking = g_build_filename(tmpdir, longname, NULL);

#define QI(...) do { \
        if (!run_qemu_img((const char *const[]){ __VA_ARGS__, NULL })) \
            return false; \
    } while (0)
    QI("create", "-q", "-f", "raw", "base.raw", "1M");
    QI("create", "-q", "-f", "qcow2", "plain.qcow2", "1G");
    QI("create", "-q", "-f", "qcow2", "-o", "compat=0.10", "v2.qcow2", "64M");
    QI("create", "-q", "-f", "qcow2", "-b", "base.raw", "-F", "raw", "backed.qcow2");
    QI("create", "-q", "-f", "qcow2", "-b", "plain.qcow2", "-F", "qcow2", "backed-q.qcow2");
    QI("create", "-q", "-f", "qcow2", "-o", "compat=0.10", "-b", "base.raw", "-F", "raw",
       "v2-backed.qcow2");
    QI("create", "-q", "-f", "qcow2", "-o", "cluster_size=512", "-b", "base.raw", "-F", "raw",
       "small.qcow2");
    QI("create", "-q", "-f", "qcow2", "-u", "-b", longname, "-F", "raw", "long.qcow2", "1M");
    QI("create", "-q", "-f", "qcow2", "-o", "data_file=data.raw", "datafile.qcow2", "1M");
#undef QI
    /* no backing format extension (QEMU 7.2 no longer writes such images):
     * the extension's type becomes the end marker */
    {
        g_autofree char *from = g_build_filename(tmpdir, "backed.qcow2", NULL);
        g_autofree char *to = g_build_filename(tmpdir, "nofmt.qcow2", NULL);
        g_autoptr(GByteArray) b = fuzz_read_file(from);
        guint32 hlen = (guint32)get_be(b->data + 100, 4);

        for (guint off = hlen; off + 8 <= MIN(b->len, 4096u);) {
            guint32 type = (guint32)get_be(b->data + off, 4);
            guint32 len = (guint32)get_be(b->data + off + 4, 4);

            if (type == 0)
                break;
            if (type == 0xe2792acaU) {
                put_be(b->data + off, 4, 0);
                break;
            }
            off += 8 + ((len + 7) & ~7u);
        }
        g_assert_true(g_file_set_contents(to, (const char *)b->data, b->len, NULL));
    }
    /* a raw image of a few bytes */
    {
        g_autofree char *p = g_build_filename(tmpdir, "tiny.raw", NULL);

        g_assert_true(g_file_set_contents(p, "QFI", 3, NULL));
    }
    for (const char *const *n = (const char *const[]){
             "base.raw", "plain.qcow2", "v2.qcow2", "backed.qcow2", "backed-q.qcow2",
             "nofmt.qcow2", "v2-backed.qcow2", "small.qcow2", "long.qcow2", "datafile.qcow2",
             "tiny.raw", NULL }; *n; n++)
        seed_add(*n);
    return true;
}

/* ------------------------------------------------------------ mutations */

static GByteArray *
image_mutate(GRand *rand, guint iteration)
{
    const GByteArray *seed = seeds->pdata[iteration % seeds->len];
    GByteArray *buf = g_byte_array_sized_new(seed->len);
    guint edits = (guint)g_rand_int_range(rand, 1, 4);

    g_byte_array_append(buf, seed->data, seed->len);
    if (iteration < seeds->len)
        return buf;     /* the seeds themselves first */
    for (guint e = 0; e < edits; e++) {
        switch (g_rand_int_range(rand, 0, 6)) {
        case 0:
        case 1: { /* a header field */
            guint f = (guint)g_rand_int_range(rand, 0, G_N_ELEMENTS(qcow2_fields));
            guint off = qcow2_fields[f].offset, size = qcow2_fields[f].size;
            guint64 v = size == 4 ? fuzz_interesting_u32(rand) : fuzz_interesting_u64(rand);

            if (buf->len < off + size)
                break;
            if (g_rand_boolean(rand)) /* near the old value */
                v = get_be(buf->data + off, size) + (guint64)g_rand_int_range(rand, -8, 9);
            put_be(buf->data + off, size, v);
            break;
        }
        case 2: { /* a header extension: type and length after the header */
            guint32 hlen = buf->len >= 104 ? (guint32)get_be(buf->data + 100, 4) : 72;
            guint at = MIN(hlen, 4096u) + 8 * (guint)g_rand_int_range(rand, 0, 4);
            guint32 type = ext_types[g_rand_int_range(rand, 0, G_N_ELEMENTS(ext_types))];

            if (buf->len >= at + 8) {
                if (g_rand_boolean(rand))
                    put_be(buf->data + at, 4, type);
                else
                    put_be(buf->data + at + 4, 4, fuzz_interesting_u32(rand));
            }
            break;
        }
        case 3: { /* the first 4 KiB, bytes */
            guint keep = MIN(buf->len, 4096u);
            g_autoptr(GByteArray) head = g_byte_array_new();

            g_byte_array_append(head, buf->data, keep);
            fuzz_mutate(rand, head, 3, NULL, NULL);
            g_byte_array_remove_range(buf, 0, keep);
            g_byte_array_prepend(buf, head->data, head->len);
            break;
        }
        case 4: /* truncated */
            g_byte_array_set_size(buf, (guint)g_rand_int_range(rand, 0, (gint32)MIN(buf->len, 70000u) + 1));
            break;
        default: /* anywhere */
            fuzz_mutate(rand, buf, 2, NULL, seeds);
            break;
        }
    }
    return buf;
}

/* ------------------------------------------------------------ header */

static void
check_info(const UtilImageInfo *info, size_t len, UtilImageFormat hint)
{
    g_assert_cmpuint(info->physical_size, ==, len);
    switch (info->format) {
    case UTIL_IMAGE_FORMAT_RAW:
        g_assert_true(hint != UTIL_IMAGE_FORMAT_QCOW2);
        g_assert_cmpuint(info->virtual_size, ==, len);
        g_assert_null(info->backing_name);
        g_assert_null(info->backing_format);
        break;
    case UTIL_IMAGE_FORMAT_QCOW2:
        g_assert_true(hint != UTIL_IMAGE_FORMAT_RAW);
        g_assert_true(info->qcow2_version == 2 || info->qcow2_version == 3);
        g_assert_cmpuint(info->cluster_size, >=, 512);
        g_assert_cmpuint(info->cluster_size, <=, 2 * 1024 * 1024);
        g_assert_cmpuint(info->cluster_size & (info->cluster_size - 1), ==, 0);
        g_assert_cmpuint(info->virtual_size, <=, G_MAXINT64);
        if (info->backing_name) {
            size_t n = strlen(info->backing_name);
            g_autofree char *resolved = util_image_resolve_backing("/images/top.qcow2",
                                                                   info->backing_name);

            g_assert_cmpuint(n, >, 0);
            g_assert_cmpuint(n, <=, UTIL_IMAGE_BACKING_NAME_MAX);
            g_assert_nonnull(resolved);
            (void)util_image_backing_is_local(info->backing_name);
        }
        if (info->backing_format) {
            g_assert_nonnull(info->backing_name);
            g_assert_cmpuint(strlen(info->backing_format), >, 0);
        }
        break;
    case UTIL_IMAGE_FORMAT_AUTO:
    case UTIL_IMAGE_FORMAT_LAST:
        g_error("util_image_parse_buffer answered format %d", info->format);
    }
}

static void
header_iter(GRand *rand, guint iteration, gconstpointer unused)
{
    static const UtilImageFormat hints[] = {
        UTIL_IMAGE_FORMAT_AUTO, UTIL_IMAGE_FORMAT_AUTO, UTIL_IMAGE_FORMAT_QCOW2,
        UTIL_IMAGE_FORMAT_RAW,
    };
    g_autoptr(GByteArray) buf = image_mutate(rand, iteration);
    /* exactly sized, so that a read past the end is caught */
    g_autofree guint8 *exact = g_memdup2(buf->data, buf->len);
    UtilImageFormat hint = hints[g_rand_int_range(rand, 0, G_N_ELEMENTS(hints))];
    g_auto(UtilImageInfo) info = { 0 };
    g_autoptr(GError) error = NULL;
    bool ok;

    fuzz_set_input(exact, buf->len);
    ok = util_image_parse_buffer("fuzz.img", exact, buf->len, hint, &info, &error);
    fuzz_accepted(ok);
    if (!ok) {
        g_assert_nonnull(error);
        g_assert_cmpuint(strlen(error->message), >, 0);
        g_assert_true(util_error_domain(error) == VIR_FROM_STORAGE);
        fuzz_note("%s", error->message);
        return;
    }
    g_assert_null(error);
    check_info(&info, buf->len, hint);
}

/* ------------------------------------------------------------ chain */

static void
write_file(const char *name, const GByteArray *b)
{
    g_autofree char *path = g_build_filename(tmpdir, name, NULL);
    g_autoptr(GError) error = NULL;

    if (!g_file_set_contents(path, (const char *)b->data, b->len, &error))
        g_error("%s", error->message);
}

/* Overwrite the backing name of a qcow2 image with @name (same length
 * field), if the header has room for it. */
static void
set_backing_name(GByteArray *b, const char *name)
{
    guint64 off;
    guint len = (guint)strlen(name);

    if (b->len < 104 || get_be(b->data, 4) != 0x514649fbU)
        return;
    off = get_be(b->data + 8, 8);
    if (off == 0) {
        off = 4096 - 64;    /* past any extension qemu-img writes */
        put_be(b->data + 8, 8, off);
    }
    if (off > 65536 || off + len > b->len)
        return;
    memcpy(b->data + off, name, len);
    put_be(b->data + 16, 4, len);
}

static void
chain_iter(GRand *rand, guint iteration, gconstpointer unused)
{
    static const char *const names[] = {
        "mid.img", "base.raw", "top.img", "./mid.img", "../mid.img", "missing.img",
        "nbd:localhost:1", "json:{}", "/dev/null",
    };
    g_autoptr(GByteArray) top = image_mutate(rand, iteration);
    g_autoptr(GByteArray) mid = image_mutate(rand, iteration + 7 * seeds->len +
                                             (guint)g_rand_int_range(rand, 0, 1000));
    g_autoptr(ConfStorageSource) src = conf_storage_source_new(CONF_STORAGE_TYPE_FILE);
    g_autoptr(GError) error = NULL;
    g_autofree char *top_path = g_build_filename(tmpdir, "top.img", NULL);
    bool ok;

    if (g_rand_int_range(rand, 0, 4) != 0)
        set_backing_name(top, names[g_rand_int_range(rand, 0, 3)]);
    if (g_rand_boolean(rand))
        set_backing_name(mid, names[g_rand_int_range(rand, 0, G_N_ELEMENTS(names))]);
    write_file("top.img", top);
    write_file("mid.img", mid);
    src->path = g_strdup(top_path);
    src->format = g_rand_boolean(rand) ? CONF_STORAGE_FORMAT_QCOW2 : CONF_STORAGE_FORMAT_NONE;
    fuzz_set_input(top->data, top->len);
    ok = conf_storage_chain_fill(src, &error);
    fuzz_accepted(ok);
    if (!ok) {
        g_assert_nonnull(error);
        g_assert_cmpuint(strlen(error->message), >, 0);
        fuzz_note("%s", error->message);
        return;
    }
    g_assert_null(error);
    /* every layer is a file that exists, and the chain ends */
    {
        guint depth = 0;

        for (const ConfStorageSource *l = src; l; l = l->backing, depth++) {
            g_assert_cmpuint(depth, <=, CONF_STORAGE_CHAIN_MAX_DEPTH);
            if (l->path)
                g_assert_true(g_file_test(l->path, G_FILE_TEST_EXISTS));
            if (!l->backing)
                g_assert_true(l->backing_terminated);
        }
    }
}

/* Remove what this test wrote: the seeds, their side files, the chain. */
static void
cleanup_tmpdir(void)
{
    static const char *const extra[] = { "top.img", "mid.img", "data.raw", "tiny.raw" };

    for (guint i = 0; i < seed_names->len + G_N_ELEMENTS(extra); i++) {
        const char *name = i < seed_names->len ? seed_names->pdata[i] :
                           extra[i - seed_names->len];
        g_autofree char *path = g_build_filename(tmpdir, name, NULL);

        g_unlink(path);
    }
    if (g_rmdir(tmpdir) != 0)
        g_test_message("cannot remove %s: %s", tmpdir, g_strerror(errno));
}

int
main(int argc, char **argv)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *qemu_img = NULL;
    int rc;

    fuzz_init(&argc, &argv);
    if (!(tmpdir = g_dir_make_tmp("modvirt-fuzz-image-XXXXXX", &error)))
        g_error("%s", error->message);
    seeds = g_ptr_array_new_with_free_func((GDestroyNotify)g_byte_array_unref);
    seed_names = g_ptr_array_new_with_free_func(g_free);
    if (!(qemu_img = g_find_program_in_path("qemu-img")) || !seeds_make()) {
        cleanup_tmpdir();
        g_test_message("qemu-img cannot make the seed images");
        printf("1..0 # SKIP qemu-img is missing or failed\n");
        return 0;
    }
    g_test_message("%u seed images made by qemu-img in %s", seeds->len, tmpdir);
    fuzz_add("/fuzz/image/header", seeds->len * 20000, header_iter, NULL);
    fuzz_add("/fuzz/image/chain", seeds->len * 600, chain_iter, NULL);
    rc = g_test_run();
    cleanup_tmpdir();
    g_free(tmpdir);
    g_ptr_array_unref(seeds);
    g_ptr_array_unref(seed_names);
    return rc;
}
