/*
 * test-storage-chain.c: completing backing chains from image headers
 * (conf-storage-chain) and checking chains against the headers.
 *
 * Chains are made by qemu-img in a temporary directory.  For every chain
 * that is valid to QEMU, the completed chain, printed one "PATH FORMAT"
 * line per layer (conf_storage_chain_describe), must equal what
 * `qemu-img info --backing-chain --output=json` lists (filename and
 * format of each image, read with python3's json module).
 */
#define G_LOG_DOMAIN "modvirt.test.chain"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "conf-storage-chain.h"
#include "util-error.h"
#include "util-image.h"

static char *tmp;

static char *
at(const char *rel)
{
    return g_build_filename(tmp, rel, NULL);
}

static bool
spawn_in_tmp(const char *const *argv, char **ret_stdout)
{
    g_autofree char *err_text = NULL;
    int wait_status = 0;

    g_assert_true(g_spawn_sync(tmp, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                               ret_stdout, &err_text, &wait_status, NULL));
    if (err_text && *err_text)
        g_test_message("%s: %s", argv[0], err_text);
    return g_spawn_check_wait_status(wait_status, NULL);
}

#define QEMU_IMG(...) \
    g_assert_true(spawn_in_tmp((const char *const[]){ "qemu-img", __VA_ARGS__, NULL }, NULL))

/* A qcow2 image at @rel whose header names @backing (NULL: none) of
 * format @fmt (NULL: no backing format extension). */
static char *
make_qcow2(const char *rel, const char *backing, const char *fmt)
{
    char *path = at(rel);
    g_autofree char *dir = g_path_get_dirname(path);

    g_assert_cmpint(g_mkdir_with_parents(dir, 0700), ==, 0);
    if (!backing) {
        QEMU_IMG("create", "-q", "-f", "qcow2", path, "1M");
        return path;
    }
    QEMU_IMG("create", "-q", "-f", "qcow2", "-u", "-b", backing, "-F", fmt ? fmt : "raw",
             path, "1M");
    if (!fmt) {
        /* qemu-img 7.2 always writes a backing format; hide it as an
         * unknown extension type, as images from older QEMUs look */
        guint32 header_len;
        guint32 unknown = GUINT32_TO_BE(0x12345678);
        int fd = open(path, O_RDWR | O_CLOEXEC);

        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(pread(fd, &header_len, 4, 100), ==, 4);
        g_assert_cmpint(pwrite(fd, &unknown, 4, GUINT32_FROM_BE(header_len)), ==, 4);
        close(fd);
    }
    return path;
}

static char *
make_raw(const char *rel)
{
    char *path = at(rel);
    g_autofree char *dir = g_path_get_dirname(path);

    g_assert_cmpint(g_mkdir_with_parents(dir, 0700), ==, 0);
    QEMU_IMG("create", "-q", "-f", "raw", path, "1M");
    return path;
}

static const char chain_py[] =
    "import json,sys\n"
    "for i in json.load(open(sys.argv[1])):\n"
    "    print(i['filename'], i['format'])\n";

/* "PATH FORMAT" per layer as qemu-img sees the chain; NULL if it refuses. */
static char *
qemu_img_chain(const char *path)
{
    g_autofree char *json = NULL;
    g_autofree char *json_file = at("chain.json");
    char *lines = NULL;

    if (!spawn_in_tmp((const char *const[]){ "qemu-img", "info", "-U", "--backing-chain",
                                             "--output=json", path, NULL }, &json))
        return NULL;
    g_assert_true(g_file_set_contents(json_file, json, -1, NULL));
    g_assert_true(spawn_in_tmp((const char *const[]){ "python3", "-c", chain_py, json_file,
                                                      NULL }, &lines));
    return lines;
}

static ConfStorageSource *
source(const char *path, ConfStorageFormat format)
{
    ConfStorageSource *src = conf_storage_source_new(CONF_STORAGE_TYPE_FILE);

    src->path = g_strdup(path);
    src->format = format;
    return src;
}

/* Fills @path's chain, checks it against qemu-img and the headers. */
static ConfStorageSource *
fill_like_qemu(const char *path, ConfStorageFormat format, GPtrArray **ret_names)
{
    g_autoptr(ConfStorageSource) top = source(path, format);
    g_autoptr(GError) err = NULL;
    g_autofree char *ours = NULL;
    g_autofree char *theirs = qemu_img_chain(path);

    g_assert_true(conf_storage_chain_fill_full(top, ret_names, &err));
    g_assert_no_error(err);
    ours = conf_storage_chain_describe(top);
    g_test_message("chain of %s:\n%s", path, ours);
    g_assert_nonnull(theirs);
    g_assert_cmpstr(ours, ==, theirs);
    g_assert_true(conf_storage_chain_equal_headers(top, &err));
    g_assert_no_error(err);
    return g_steal_pointer(&top);
}

static guint
chain_length(const ConfStorageSource *top)
{
    guint n = 0;

    for (; top; top = top->backing)
        n++;
    return n;
}

static const ConfStorageSource *
layer(const ConfStorageSource *top, guint index)
{
    while (index-- > 0)
        top = top->backing;
    return top;
}

/* Fill must fail with @code and leave @top as it was. */
static void
assert_fill_fails(ConfStorageSource *top, int code, const char *needle)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *before = conf_storage_chain_describe(top);
    g_autofree char *after = NULL;
    ConfStorageFormat format = top->format;

    g_assert_false(conf_storage_chain_fill(top, &err));
    g_assert_nonnull(err);
    g_test_message("%s", err->message);
    g_assert_cmpint(util_error_domain(err), ==, VIR_FROM_STORAGE);
    g_assert_cmpstr(util_error_code_name(util_error_code(err)), ==, util_error_code_name(code));
    if (needle)
        g_assert_nonnull(strstr(err->message, needle));
    after = conf_storage_chain_describe(top);
    g_assert_cmpstr(before, ==, after);
    g_assert_cmpint(top->format, ==, format);
}

/* ---- valid chains ---- */

static void
test_raw_top(void)
{
    g_autofree char *raw = make_raw("raw/disk.raw");
    g_autofree char *qcow = make_qcow2("raw/looks-like.qcow2", "disk.raw", "raw");
    g_autoptr(ConfStorageSource) a = fill_like_qemu(raw, CONF_STORAGE_FORMAT_RAW, NULL);
    g_autoptr(ConfStorageSource) b = source(qcow, CONF_STORAGE_FORMAT_NONE);
    g_autoptr(GError) err = NULL;

    g_assert_null(a->backing);
    g_assert_true(a->backing_terminated);
    /* no format given: raw, the header is not read (libvirt: no probing) */
    g_assert_true(conf_storage_chain_fill(b, &err));
    g_assert_no_error(err);
    g_assert_cmpint(b->format, ==, CONF_STORAGE_FORMAT_RAW);
    g_assert_null(b->backing);
    g_assert_true(b->backing_terminated);
}

static void
test_qcow2_alone(void)
{
    g_autofree char *path = make_qcow2("alone/disk.qcow2", NULL, NULL);
    g_autoptr(GPtrArray) names = NULL;
    g_autoptr(ConfStorageSource) top = fill_like_qemu(path, CONF_STORAGE_FORMAT_QCOW2, &names);

    g_assert_cmpuint(chain_length(top), ==, 1);
    g_assert_true(top->backing_terminated);
    g_assert_cmpuint(names->len, ==, 1);
    g_assert_null(g_ptr_array_index(names, 0));
}

/* base <- snap1 <- snap2 <- active, with relative names across directories */
static void
make_four_layers(char **ret_active)
{
    g_free(make_qcow2("four/images/base.qcow2", NULL, NULL));
    g_free(make_qcow2("four/images/snaps/snap1.qcow2", "../base.qcow2", "qcow2"));
    g_free(make_qcow2("four/images/snaps/snap2.qcow2", "snap1.qcow2", "qcow2"));
    *ret_active = make_qcow2("four/vm/active.qcow2", "../images/snaps/snap2.qcow2", "qcow2");
}

static void
test_four_layers(void)
{
    g_autofree char *active = NULL;
    g_autofree char *expect = NULL;
    g_autofree char *text = NULL;
    g_autoptr(GPtrArray) names = NULL;
    g_autoptr(ConfStorageSource) top = NULL;

    make_four_layers(&active);
    top = fill_like_qemu(active, CONF_STORAGE_FORMAT_QCOW2, &names);
    g_assert_cmpuint(chain_length(top), ==, 4);
    expect = g_strdup_printf("%s/four/vm/../images/snaps/../base.qcow2", tmp);
    g_assert_cmpstr(layer(top, 3)->path, ==, expect);
    for (guint i = 1; i < 4; i++) {
        g_assert_cmpint(layer(top, i)->type, ==, CONF_STORAGE_TYPE_FILE);
        g_assert_cmpint(layer(top, i)->format, ==, CONF_STORAGE_FORMAT_QCOW2);
        g_assert_false(layer(top, i - 1)->backing_terminated);
    }
    g_assert_true(layer(top, 3)->backing_terminated);
    /* the names as written in each overlay's header */
    g_assert_cmpuint(names->len, ==, 4);
    g_assert_null(g_ptr_array_index(names, 0));
    g_assert_cmpstr(g_ptr_array_index(names, 1), ==, "../images/snaps/snap2.qcow2");
    g_assert_cmpstr(g_ptr_array_index(names, 2), ==, "snap1.qcow2");
    g_assert_cmpstr(g_ptr_array_index(names, 3), ==, "../base.qcow2");
    g_assert_true(conf_storage_chain_read_backing_name(layer(top, 2), &text, NULL));
    g_assert_cmpstr(text, ==, "../base.qcow2");
}

static void
test_absolute_and_raw_base(void)
{
    g_autofree char *base = make_raw("abs/base.raw");
    g_autofree char *mid = make_qcow2("abs/mid.qcow2", base, "raw");
    g_autofree char *top_path = make_qcow2("abs/other/top.qcow2", mid, "qcow2");
    g_autoptr(ConfStorageSource) top = fill_like_qemu(top_path, CONF_STORAGE_FORMAT_QCOW2, NULL);

    g_assert_cmpuint(chain_length(top), ==, 3);
    g_assert_cmpstr(layer(top, 1)->path, ==, mid);
    g_assert_cmpstr(layer(top, 2)->path, ==, base);
    g_assert_cmpint(layer(top, 2)->format, ==, CONF_STORAGE_FORMAT_RAW);
    g_assert_true(layer(top, 2)->backing_terminated);
}

static void
test_qcow2_v2(void)
{
    g_autofree char *base = at("v2/base.qcow2");
    g_autofree char *top_path = at("v2/top.qcow2");
    g_autofree char *dir = at("v2");
    g_autoptr(ConfStorageSource) top = NULL;

    g_assert_cmpint(g_mkdir_with_parents(dir, 0700), ==, 0);
    QEMU_IMG("create", "-q", "-f", "qcow2", "-o", "compat=0.10", base, "1M");
    QEMU_IMG("create", "-q", "-f", "qcow2", "-o", "compat=0.10", "-b", "base.qcow2",
             "-F", "qcow2", top_path, "1M");
    top = fill_like_qemu(top_path, CONF_STORAGE_FORMAT_QCOW2, NULL);
    g_assert_cmpuint(chain_length(top), ==, 2);
}

/* QEMU resolves relative names against the directory of the name the
 * image was opened by, not of the symlink's target. */
static void
test_symlinks(void)
{
    g_autofree char *active = NULL;
    g_autofree char *alias = at("four/vm/alias.qcow2");
    g_autofree char *elsewhere = at("links/active.qcow2");
    g_autofree char *links = at("links");
    g_autofree char *via_link_base = at("link-base/top.qcow2");
    g_autofree char *link_base = at("link-base/base.qcow2");
    g_autofree char *real_base = make_qcow2("link-base/real/base.qcow2", NULL, NULL);
    g_autoptr(ConfStorageSource) a = NULL;
    g_autoptr(ConfStorageSource) b = NULL;
    g_autoptr(ConfStorageSource) c = NULL;

    make_four_layers(&active);
    g_assert_cmpint(symlink("active.qcow2", alias), ==, 0);
    a = fill_like_qemu(alias, CONF_STORAGE_FORMAT_QCOW2, NULL);
    g_assert_cmpuint(chain_length(a), ==, 4);

    g_assert_cmpint(g_mkdir_with_parents(links, 0700), ==, 0);
    g_assert_cmpint(symlink(active, elsewhere), ==, 0);
    g_assert_null(qemu_img_chain(elsewhere));
    b = source(elsewhere, CONF_STORAGE_FORMAT_QCOW2);
    assert_fill_fails(b, VIR_ERR_SYSTEM_ERROR, "Cannot access backing file");

    /* a backing file that is a symlink keeps the name it was found by */
    g_assert_cmpint(symlink("real/base.qcow2", link_base), ==, 0);
    g_free(make_qcow2("link-base/top.qcow2", "base.qcow2", "qcow2"));
    c = fill_like_qemu(via_link_base, CONF_STORAGE_FORMAT_QCOW2, NULL);
    g_assert_cmpstr(layer(c, 1)->path, ==, link_base);
}

/* Images without a backing format extension: the backing file is probed,
 * and may not have a backing file of its own (libvirt's rule). */
static void
test_no_backing_format(void)
{
    g_autofree char *raw_base = make_raw("nofmt/base.raw");
    g_autofree char *q_base = make_qcow2("nofmt/base.qcow2", NULL, NULL);
    g_autofree char *on_raw = make_qcow2("nofmt/on-raw.qcow2", "base.raw", NULL);
    g_autofree char *on_qcow = make_qcow2("nofmt/on-qcow.qcow2", "base.qcow2", NULL);
    g_autofree char *deeper = make_qcow2("nofmt/deeper.qcow2", "on-qcow.qcow2", NULL);
    g_autoptr(ConfStorageSource) a = fill_like_qemu(on_raw, CONF_STORAGE_FORMAT_QCOW2, NULL);
    g_autoptr(ConfStorageSource) b = fill_like_qemu(on_qcow, CONF_STORAGE_FORMAT_QCOW2, NULL);
    g_autoptr(ConfStorageSource) c = source(deeper, CONF_STORAGE_FORMAT_QCOW2);
    g_autofree char *qemu = NULL;

    g_assert_cmpint(layer(a, 1)->format, ==, CONF_STORAGE_FORMAT_RAW);
    g_assert_cmpint(layer(b, 1)->format, ==, CONF_STORAGE_FORMAT_QCOW2);
    /* QEMU itself would probe its way down; libvirt and we refuse */
    qemu = qemu_img_chain(deeper);
    g_assert_nonnull(qemu);
    assert_fill_fails(c, VIR_ERR_OPERATION_INVALID,
                      "format of backing image 'on-qcow.qcow2' of image");
}

/* <backingStore> given in the definition: trusted, completed below. */
static void
test_partial(void)
{
    g_autofree char *active = NULL;
    g_autofree char *snap2 = at("four/images/snaps/snap2.qcow2");
    g_autofree char *base = at("four/images/base.qcow2");
    g_autofree char *missing = at("four/images/gone.qcow2");
    g_autoptr(ConfStorageSource) a = NULL;
    g_autoptr(ConfStorageSource) b = NULL;
    g_autoptr(ConfStorageSource) c = NULL;
    g_autoptr(GPtrArray) names = NULL;
    g_autoptr(GError) err = NULL;

    make_four_layers(&active);

    /* active -> snap2 given (by a path other than the header's), rest detected */
    a = source(active, CONF_STORAGE_FORMAT_QCOW2);
    a->backing = source(snap2, CONF_STORAGE_FORMAT_QCOW2);
    g_assert_true(conf_storage_chain_fill_full(a, &names, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(chain_length(a), ==, 4);
    g_assert_cmpstr(layer(a, 1)->path, ==, snap2);
    g_assert_null(g_ptr_array_index(names, 1));
    g_assert_cmpstr(g_ptr_array_index(names, 2), ==, "snap1.qcow2");
    g_assert_true(layer(a, 3)->backing_terminated);
    /* same files, other names: still equal to the headers */
    g_assert_true(conf_storage_chain_equal_headers(a, &err));
    g_assert_no_error(err);

    /* a given chain that skips a layer is trusted by fill ... */
    b = source(active, CONF_STORAGE_FORMAT_QCOW2);
    b->backing = source(base, CONF_STORAGE_FORMAT_QCOW2);
    b->backing->backing_terminated = true;
    g_assert_true(conf_storage_chain_fill(b, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(chain_length(b), ==, 2);
    /* ... and caught by the header check */
    g_assert_false(conf_storage_chain_equal_headers(b, &err));
    g_assert_cmpint(util_error_code(err), ==, VIR_ERR_OPERATION_FAILED);
    g_test_message("%s", err->message);
    g_assert_nonnull(strstr(err->message, "snap2.qcow2"));
    g_clear_error(&err);

    /* a given layer that does not exist */
    c = source(active, CONF_STORAGE_FORMAT_QCOW2);
    c->backing = source(missing, CONF_STORAGE_FORMAT_QCOW2);
    assert_fill_fails(c, VIR_ERR_SYSTEM_ERROR, "Cannot access backing file");
}

static void
test_equal_headers(void)
{
    g_autofree char *active = NULL;
    g_autofree char *other = make_qcow2("four/images/other.qcow2", NULL, NULL);
    g_autoptr(ConfStorageSource) top = NULL;
    g_autoptr(GError) err = NULL;
    ConfStorageSource *base;

    make_four_layers(&active);
    top = fill_like_qemu(active, CONF_STORAGE_FORMAT_QCOW2, NULL);
    base = (ConfStorageSource *)layer(top, 3);

    /* wrong file */
    g_free(base->path);
    base->path = g_strdup(other);
    g_assert_false(conf_storage_chain_equal_headers(top, &err));
    g_assert_cmpint(util_error_code(err), ==, VIR_ERR_OPERATION_FAILED);
    g_assert_nonnull(strstr(err->message, "../base.qcow2"));
    g_clear_error(&err);

    /* right file by another name */
    g_free(base->path);
    base->path = g_strdup_printf("%s/four/images/base.qcow2", tmp);
    g_assert_true(conf_storage_chain_equal_headers(top, &err));
    g_assert_no_error(err);

    /* wrong format */
    base->format = CONF_STORAGE_FORMAT_RAW;
    g_assert_false(conf_storage_chain_equal_headers(top, &err));
    g_assert_nonnull(strstr(err->message, "format 'qcow2', not 'raw'"));
    g_clear_error(&err);
    base->format = CONF_STORAGE_FORMAT_QCOW2;

    /* chain cut short */
    g_clear_pointer(&((ConfStorageSource *)layer(top, 2))->backing, conf_storage_source_free);
    ((ConfStorageSource *)layer(top, 2))->backing_terminated = true;
    g_assert_false(conf_storage_chain_equal_headers(top, &err));
    g_assert_nonnull(strstr(err->message, "chain ends there"));
    g_clear_error(&err);

    /* chain longer than the headers */
    g_clear_pointer(&top, conf_storage_source_free);
    top = fill_like_qemu(active, CONF_STORAGE_FORMAT_QCOW2, NULL);
    base = (ConfStorageSource *)layer(top, 3);
    base->backing_terminated = false;
    base->backing = source(other, CONF_STORAGE_FORMAT_QCOW2);
    g_assert_false(conf_storage_chain_equal_headers(top, &err));
    g_assert_nonnull(strstr(err->message, "no backing file but the chain continues"));
    g_clear_error(&err);
}

/* ---- broken chains ---- */

static void
test_missing(void)
{
    g_autofree char *top_path = make_qcow2("missing/top.qcow2", "gone.qcow2", "qcow2");
    g_autofree char *msg = g_strdup_printf("Cannot access backing file '%s/missing/gone.qcow2' "
                                           "of storage file '%s'", tmp, top_path);
    g_autoptr(ConfStorageSource) a = source(top_path, CONF_STORAGE_FORMAT_QCOW2);
    g_autoptr(ConfStorageSource) b = source("/nonexistent/disk.raw", CONF_STORAGE_FORMAT_RAW);

    g_assert_null(qemu_img_chain(top_path));
    assert_fill_fails(a, VIR_ERR_SYSTEM_ERROR, msg);
    assert_fill_fails(b, VIR_ERR_SYSTEM_ERROR,
                      "Cannot access storage file '/nonexistent/disk.raw'");
}

static void
test_loops(void)
{
    g_autofree char *self = make_qcow2("loop/self.qcow2", NULL, NULL);
    g_autofree char *a = make_qcow2("loop/a.qcow2", NULL, NULL);
    g_autofree char *b = make_qcow2("loop/b.qcow2", "a.qcow2", "qcow2");
    g_autofree char *alias = at("loop/alias.qcow2");
    g_autofree char *c = NULL;
    g_autoptr(ConfStorageSource) s1 = source(self, CONF_STORAGE_FORMAT_QCOW2);
    g_autoptr(ConfStorageSource) s2 = source(b, CONF_STORAGE_FORMAT_QCOW2);
    g_autoptr(ConfStorageSource) s3 = NULL;

    QEMU_IMG("rebase", "-u", "-b", "self.qcow2", "-F", "qcow2", self);
    QEMU_IMG("rebase", "-u", "-b", "b.qcow2", "-F", "qcow2", a);
    g_assert_null(qemu_img_chain(self));
    g_assert_null(qemu_img_chain(b));
    assert_fill_fails(s1, VIR_ERR_INTERNAL_ERROR, "self-referential or too deeply nested");
    assert_fill_fails(s2, VIR_ERR_INTERNAL_ERROR, "self-referential or too deeply nested");

    /* the same file by another name is the same loop */
    g_assert_cmpint(symlink("b.qcow2", alias), ==, 0);
    c = make_qcow2("loop/c.qcow2", "alias.qcow2", "qcow2");
    s3 = source(c, CONF_STORAGE_FORMAT_QCOW2);
    assert_fill_fails(s3, VIR_ERR_INTERNAL_ERROR, "self-referential");

    /* a detected layer coming back to a layer given in the definition is
     * found at once, naming the image that closes the loop */
    {
        g_autofree char *x = make_qcow2("loop/x.qcow2", "y.qcow2", "qcow2");
        g_autofree char *y = make_qcow2("loop/y.qcow2", "z.qcow2", "qcow2");
        g_autofree char *z = make_qcow2("loop/z.qcow2", "x.qcow2", "qcow2");
        g_autofree char *msg = g_strdup_printf("backing store for %s is self-referential", z);
        g_autoptr(ConfStorageSource) s4 = source(x, CONF_STORAGE_FORMAT_QCOW2);

        s4->backing = source(y, CONF_STORAGE_FORMAT_QCOW2);
        assert_fill_fails(s4, VIR_ERR_INTERNAL_ERROR, msg);
    }
}

/* 200 layers are fine, 201 are not (libvirt's limit). */
static void
test_depth(void)
{
    g_autofree char *tmpl = make_qcow2("deep/template.qcow2", "l000.qcow2", "qcow2");
    g_autofree char *data = NULL;
    g_autofree char *l0 = make_qcow2("deep/l000.qcow2", NULL, NULL);
    g_autofree char *top200 = at("deep/l199.qcow2");
    g_autofree char *top201 = at("deep/l200.qcow2");
    g_autoptr(ConfStorageSource) ok = NULL;
    g_autoptr(ConfStorageSource) too_deep = NULL;
    g_autoptr(GError) err = NULL;
    gsize len;
    char *name;

    g_assert_true(g_file_get_contents(tmpl, &data, &len, NULL));
    name = memmem(data, len, "l000.qcow2", 10);
    g_assert_nonnull(name);
    for (int i = 1; i <= 200; i++) {
        g_autofree char *rel = g_strdup_printf("deep/l%03d.qcow2", i);
        g_autofree char *path = at(rel);
        char below[11];

        g_snprintf(below, sizeof(below), "l%03d.qcow2", i - 1);
        memcpy(name, below, 10);
        g_assert_true(g_file_set_contents(path, data, len, NULL));
    }
    ok = source(top200, CONF_STORAGE_FORMAT_QCOW2);
    g_assert_true(conf_storage_chain_fill(ok, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(chain_length(ok), ==, CONF_STORAGE_CHAIN_MAX_DEPTH);
    g_assert_cmpstr(layer(ok, 199)->path, ==, l0);
    g_assert_true(conf_storage_chain_equal_headers(ok, &err));

    too_deep = source(top201, CONF_STORAGE_FORMAT_QCOW2);
    assert_fill_fails(too_deep, VIR_ERR_INTERNAL_ERROR, "too deeply nested");
}

static void
test_unsupported(void)
{
    g_autofree char *nbd = make_qcow2("unsup/nbd.qcow2", "nbd:localhost:10809", "raw");
    g_autofree char *json = make_qcow2("unsup/json.qcow2",
                                       "json:{\"driver\":\"raw\",\"file.filename\":\"/x\"}",
                                       "raw");
    g_autofree char *vmdk = at("unsup/base.vmdk");
    g_autofree char *on_vmdk = make_qcow2("unsup/on-vmdk.qcow2", "base.vmdk", "vmdk");
    g_autofree char *on_vmdk_probed = make_qcow2("unsup/on-vmdk2.qcow2", "base.vmdk", NULL);
    g_autofree char *hostile = make_qcow2("unsup/hostile.qcow2", NULL, NULL);
    g_autofree char *on_hostile = make_qcow2("unsup/on-hostile.qcow2", "hostile.qcow2", "qcow2");
    g_autoptr(ConfStorageSource) s1 = source(nbd, CONF_STORAGE_FORMAT_QCOW2);
    g_autoptr(ConfStorageSource) s2 = source(json, CONF_STORAGE_FORMAT_QCOW2);
    g_autoptr(ConfStorageSource) s3 = source(on_vmdk, CONF_STORAGE_FORMAT_QCOW2);
    g_autoptr(ConfStorageSource) s4 = source(on_vmdk_probed, CONF_STORAGE_FORMAT_QCOW2);
    g_autoptr(ConfStorageSource) s5 = source(on_hostile, CONF_STORAGE_FORMAT_QCOW2);
    g_autoptr(ConfStorageSource) vol = conf_storage_source_new(CONF_STORAGE_TYPE_VOLUME);
    g_autoptr(ConfStorageSource) empty = conf_storage_source_new(CONF_STORAGE_TYPE_FILE);
    g_autoptr(GError) err = NULL;
    g_autofree char *text = NULL;
    guint32 bad_bits = GUINT32_TO_BE(30);
    int fd;

    QEMU_IMG("create", "-q", "-f", "vmdk", vmdk, "1M");
    assert_fill_fails(s1, VIR_ERR_CONFIG_UNSUPPORTED, "'nbd:localhost:10809'");
    assert_fill_fails(s2, VIR_ERR_CONFIG_UNSUPPORTED, "not a local file");
    assert_fill_fails(s3, VIR_ERR_CONFIG_UNSUPPORTED, "unsupported format 'vmdk'");
    assert_fill_fails(s4, VIR_ERR_CONFIG_UNSUPPORTED, "unsupported format 'vmdk'");
    /* a damaged header in the middle of a chain */
    fd = open(hostile, O_WRONLY | O_CLOEXEC);
    g_assert_cmpint(pwrite(fd, &bad_bits, 4, 20), ==, 4);
    close(fd);
    assert_fill_fails(s5, VIR_ERR_INTERNAL_ERROR, "invalid qcow2 header");

    vol->pool = g_strdup("default");
    vol->volume = g_strdup("disk.qcow2");
    assert_fill_fails(vol, VIR_ERR_CONFIG_UNSUPPORTED, "storage volumes");

    /* an empty cdrom: nothing to do */
    g_assert_true(conf_storage_chain_fill(empty, &err));
    g_assert_no_error(err);
    g_assert_null(empty->backing);
    g_assert_false(empty->backing_terminated);
    text = conf_storage_chain_describe(empty);
    g_assert_cmpstr(text, ==, "(empty)\n");
}

static void
test_describe_unknown(void)
{
    g_autoptr(ConfStorageSource) top = source("/a.qcow2", CONF_STORAGE_FORMAT_QCOW2);
    g_autofree char *text = NULL;

    top->backing = source("/b.raw", CONF_STORAGE_FORMAT_RAW);
    text = conf_storage_chain_describe(top);
    g_assert_cmpstr(text, ==, "/a.qcow2 qcow2\n/b.raw raw\n(rest of the chain not known)\n");
}

/* A backing file on a block device (a loop device, when we may make one). */
static void
test_block_backing(void)
{
    g_autofree char *base = make_qcow2("blk/base.qcow2", NULL, NULL);
    g_autofree char *dev = NULL;
    g_autofree char *top_path = NULL;
    g_autoptr(ConfStorageSource) top = NULL;
    g_autoptr(GError) err = NULL;
    bool ok;

    if (getuid() != 0 ||
        !spawn_in_tmp((const char *const[]){ "losetup", "--find", "--show", "--read-only",
                                             base, NULL }, &dev)) {
        g_test_skip("cannot make a loop device here");
        return;
    }
    g_strstrip(dev);
    top_path = make_qcow2("blk/top.qcow2", dev, "qcow2");
    top = source(top_path, CONF_STORAGE_FORMAT_QCOW2);
    ok = conf_storage_chain_fill(top, &err);
    spawn_in_tmp((const char *const[]){ "losetup", "-d", dev, NULL }, NULL);
    g_assert_no_error(err);
    g_assert_true(ok);
    g_assert_cmpuint(chain_length(top), ==, 2);
    g_assert_cmpint(top->backing->type, ==, CONF_STORAGE_TYPE_BLOCK);
    g_assert_cmpstr(top->backing->path, ==, dev);
    g_assert_true(top->backing->backing_terminated);
}

/* Start-up budget: reading a 4-layer chain must cost microseconds. */
static void
test_speed(void)
{
    g_autofree char *active = NULL;
    const int rounds = 2000;
    gint64 start;
    double per_chain_us;

    make_four_layers(&active);
    /* as in the daemon: debug messages off */
    g_log_set_debug_enabled(FALSE);
    start = g_get_monotonic_time();
    for (int i = 0; i < rounds; i++) {
        g_autoptr(ConfStorageSource) top = source(active, CONF_STORAGE_FORMAT_QCOW2);

        g_assert_true(conf_storage_chain_fill(top, NULL));
        g_assert_true(top->backing->backing->backing->backing_terminated);
    }
    per_chain_us = (double)(g_get_monotonic_time() - start) / rounds;
    g_log_set_debug_enabled(TRUE);
    g_test_message("4-layer chain: %.1f us per fill", per_chain_us);
    /* generous: ~1% of the 240 ms start-up budget for one disk */
    g_assert_cmpfloat(per_chain_us, <, 2000.0);
}

int
main(int argc, char **argv)
{
    int rc;

    g_test_init(&argc, &argv, NULL);
    tmp = g_dir_make_tmp("modvirt-chain-XXXXXX", NULL);
    g_assert_nonnull(tmp);

    g_test_add_func("/storage-chain/raw-top", test_raw_top);
    g_test_add_func("/storage-chain/qcow2-alone", test_qcow2_alone);
    g_test_add_func("/storage-chain/four-layers", test_four_layers);
    g_test_add_func("/storage-chain/absolute-raw-base", test_absolute_and_raw_base);
    g_test_add_func("/storage-chain/qcow2-v2", test_qcow2_v2);
    g_test_add_func("/storage-chain/symlinks", test_symlinks);
    g_test_add_func("/storage-chain/no-backing-format", test_no_backing_format);
    g_test_add_func("/storage-chain/partial", test_partial);
    g_test_add_func("/storage-chain/equal-headers", test_equal_headers);
    g_test_add_func("/storage-chain/missing", test_missing);
    g_test_add_func("/storage-chain/loops", test_loops);
    g_test_add_func("/storage-chain/depth", test_depth);
    g_test_add_func("/storage-chain/unsupported", test_unsupported);
    g_test_add_func("/storage-chain/describe-unknown", test_describe_unknown);
    g_test_add_func("/storage-chain/block-backing", test_block_backing);
    g_test_add_func("/storage-chain/speed", test_speed);

    rc = g_test_run();
    spawn_in_tmp((const char *const[]){ "rm", "-rf", tmp, NULL }, NULL);
    g_free(tmp);
    return rc;
}
