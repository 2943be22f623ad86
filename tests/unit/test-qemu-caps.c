/*
 * test-qemu-caps.c: QEMU capabilities: the JSON form (round trip, the canned
 * QEMU 7.2 copy, hostile documents), the queries, a real probe of
 * qemu-system-x86_64, probes of emulators that fail or hang, and the cache
 * (served from disk after a restart, a changed binary probed again, one
 * probe for concurrent lookups).
 *
 * MODVIRT_REGENERATE=1 rewrites tests/data/qemucaps/qemu-7.2-x86_64.json
 * from a probe of /usr/bin/qemu-system-x86_64 (which must be QEMU 7.2).
 */
#define G_LOG_DOMAIN "modvirt.test.qemu-caps"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include <json-c/json.h>

#include "qemu-caps.h"
#include "util-error.h"
#include "util-json.h"


#define QEMU_BINARY "/usr/bin/qemu-system-x86_64"
#define CANNED MODVIRT_SRCDIR "/tests/data/qemucaps/qemu-7.2-x86_64.json"

static bool
have_qemu(void)
{
    if (g_file_test(QEMU_BINARY, G_FILE_TEST_IS_EXECUTABLE))
        return true;
    g_test_skip(QEMU_BINARY " is not installed");
    return false;
}

/* Processes whose parent is this test: a probe must leave none. */
static guint
count_children(void)
{
    g_autoptr(GDir) dir = g_dir_open("/proc", 0, NULL);
    const char *name;
    guint n = 0;

    g_assert_nonnull(dir);
    while ((name = g_dir_read_name(dir))) {
        g_autofree char *path = NULL;
        g_autofree char *stat = NULL;
        const char *p;
        int ppid = 0;

        if (!g_ascii_isdigit(name[0]))
            continue;
        path = g_strdup_printf("/proc/%s/stat", name);
        if (!g_file_get_contents(path, &stat, NULL, NULL))
            continue;
        p = strrchr(stat, ')');     /* the command name may hold anything */
        if (p && sscanf(p + 1, " %*c %d", &ppid) == 1 && ppid == getpid()) {
            g_test_message("child left: %s", stat);
            n++;
        }
    }
    return n;
}

static char *
make_tmpdir(void)
{
    g_autoptr(GError) error = NULL;
    char *dir = g_dir_make_tmp("test-qemu-caps-XXXXXX", &error);

    g_assert_no_error(error);
    return dir;
}

static void
rm_rf(const char *path)
{
    g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", path);

    g_assert_cmpint(system(cmd), ==, 0);
}

static void
add_machine(QemuCaps *caps, const char *name, const char *alias, bool is_default,
            unsigned int max_cpus, bool deprecated)
{
    QemuCapsMachine *m = g_new0(QemuCapsMachine, 1);

    m->name = g_strdup(name);
    m->alias = g_strdup(alias);
    m->is_default = is_default;
    m->max_cpus = max_cpus;
    m->deprecated = deprecated;
    g_ptr_array_add(caps->machines, m);
}

static QemuCaps *
make_caps(void)
{
    QemuCaps *caps = qemu_caps_new();

    caps->binary = g_strdup("/opt/qemu/bin/qemu-system-x86_64");
    caps->arch = g_strdup("x86_64");
    caps->version = 8001003;
    caps->package = g_strdup("v8.1.3 \"quoted\" \\ é");
    caps->kvm = true;
    caps->binary_size = 123456789012;
    caps->binary_mtime = 1700000000;
    caps->binary_mtime_nsec = 999999999;
    caps->binary_ctime = -5;
    caps->binary_ctime_nsec = 1;
    caps->kvm_device = true;
    caps->probe_time = 1700000000123456;
    add_machine(caps, "pc-q35-8.1", "q35", false, 1024, false);
    add_machine(caps, "pc-i440fx-8.1", "pc", true, 255, false);
    add_machine(caps, "pc-i440fx-1.4", NULL, false, 255, true);
    g_hash_table_add(caps->devices, g_strdup("virtio-blk-pci"));
    g_hash_table_add(caps->devices, g_strdup("e1000"));
    g_hash_table_add(caps->commands, g_strdup("blockdev-add"));
    g_ptr_array_add(caps->cpu_models, g_strdup("qemu64"));
    g_ptr_array_add(caps->cpu_models, g_strdup("EPYC"));
    return caps;
}

static void
assert_caps_equal(const QemuCaps *a, const QemuCaps *b)
{
    g_assert_cmpstr(a->binary, ==, b->binary);
    g_assert_cmpstr(a->arch, ==, b->arch);
    g_assert_cmpuint(a->version, ==, b->version);
    g_assert_cmpstr(a->package, ==, b->package);
    g_assert_cmpint(a->kvm, ==, b->kvm);
    g_assert_cmpint(a->binary_size, ==, b->binary_size);
    g_assert_cmpint(a->binary_mtime, ==, b->binary_mtime);
    g_assert_cmpint(a->binary_mtime_nsec, ==, b->binary_mtime_nsec);
    g_assert_cmpint(a->binary_ctime, ==, b->binary_ctime);
    g_assert_cmpint(a->binary_ctime_nsec, ==, b->binary_ctime_nsec);
    g_assert_cmpint(a->kvm_device, ==, b->kvm_device);
    g_assert_cmpint(a->probe_time, ==, b->probe_time);
    g_assert_cmpuint(a->machines->len, ==, b->machines->len);
    for (guint i = 0; i < a->machines->len; i++) {
        const QemuCapsMachine *ma = g_ptr_array_index(a->machines, i);
        const QemuCapsMachine *mb = g_ptr_array_index(b->machines, i);

        g_assert_cmpstr(ma->name, ==, mb->name);
        g_assert_cmpstr(ma->alias, ==, mb->alias);
        g_assert_cmpint(ma->is_default, ==, mb->is_default);
        g_assert_cmpuint(ma->max_cpus, ==, mb->max_cpus);
        g_assert_cmpint(ma->deprecated, ==, mb->deprecated);
    }
    g_assert_cmpuint(g_hash_table_size(a->devices), ==, g_hash_table_size(b->devices));
    g_assert_cmpuint(g_hash_table_size(a->commands), ==, g_hash_table_size(b->commands));
    {
        GHashTableIter it;
        gpointer key;

        g_hash_table_iter_init(&it, a->devices);
        while (g_hash_table_iter_next(&it, &key, NULL))
            g_assert_true(qemu_caps_has_device(b, key));
        g_hash_table_iter_init(&it, a->commands);
        while (g_hash_table_iter_next(&it, &key, NULL))
            g_assert_true(qemu_caps_has_command(b, key));
    }
    g_assert_cmpuint(a->cpu_models->len, ==, b->cpu_models->len);
    for (guint i = 0; i < a->cpu_models->len; i++)
        g_assert_cmpstr(g_ptr_array_index(a->cpu_models, i), ==,
                        g_ptr_array_index(b->cpu_models, i));
}

/* ---------------------------------------------------------------------- */

static void
test_json_round_trip(void)
{
    g_autoptr(QemuCaps) caps = make_caps();
    g_autoptr(QemuCaps) back = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *json = qemu_caps_to_json(caps);
    g_autofree char *again = NULL;

    back = qemu_caps_from_json(json, &error);
    g_assert_no_error(error);
    assert_caps_equal(caps, back);
    again = qemu_caps_to_json(back);
    g_assert_cmpstr(json, ==, again);
    g_assert_nonnull(strstr(json, "\"format\": 1"));
}

static void
test_queries(void)
{
    g_autoptr(QemuCaps) caps = make_caps();
    g_autoptr(QemuCaps) empty = qemu_caps_new();

    g_assert_cmpstr(qemu_caps_canonical_machine(caps, "pc"), ==, "pc-i440fx-8.1");
    g_assert_cmpstr(qemu_caps_canonical_machine(caps, "q35"), ==, "pc-q35-8.1");
    g_assert_cmpstr(qemu_caps_canonical_machine(caps, "pc-q35-8.1"), ==, "pc-q35-8.1");
    g_assert_cmpstr(qemu_caps_canonical_machine(caps, "pc-i440fx-1.4"), ==, "pc-i440fx-1.4");
    g_assert_null(qemu_caps_canonical_machine(caps, "virt"));
    g_assert_null(qemu_caps_canonical_machine(caps, "PC"));
    g_assert_cmpstr(qemu_caps_default_machine(caps), ==, "pc-i440fx-8.1");
    g_assert_null(qemu_caps_default_machine(empty));
    g_assert_true(qemu_caps_has_device(caps, "e1000"));
    g_assert_false(qemu_caps_has_device(caps, "e1000e"));
    g_assert_true(qemu_caps_has_command(caps, "blockdev-add"));
    g_assert_false(qemu_caps_has_command(caps, "blockdev-del"));
}

/* The committed copy of a real QEMU 7.2 probe, as the command-line golden
 * tests see it. */
static void
test_canned(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(QemuCaps) caps = qemu_caps_load_file(CANNED, &error);
    g_autofree char *text = NULL;
    g_autofree char *json = NULL;

    g_assert_no_error(error);
    g_assert_cmpstr(caps->arch, ==, "x86_64");
    g_assert_cmpuint(caps->version / 1000, ==, 7002);
    g_assert_true(g_str_has_prefix(caps->package, "Debian 1:7.2+dfsg"));
    g_assert_cmpstr(qemu_caps_canonical_machine(caps, "pc"), ==, "pc-i440fx-7.2");
    g_assert_cmpstr(qemu_caps_canonical_machine(caps, "q35"), ==, "pc-q35-7.2");
    g_assert_cmpstr(qemu_caps_default_machine(caps), ==, "pc-i440fx-7.2");
    g_assert_null(qemu_caps_canonical_machine(caps, "none"));
    for (guint i = 0; i < caps->machines->len; i++) {
        const QemuCapsMachine *m = g_ptr_array_index(caps->machines, i);

        if (g_str_equal(m->name, "pc-i440fx-7.2"))
            g_assert_cmpuint(m->max_cpus, ==, 255);
        if (g_str_equal(m->name, "pc-q35-7.2"))
            g_assert_cmpuint(m->max_cpus, ==, 288);
    }
    for (const char *const *d = (const char *const[]){ "virtio-blk-pci", "virtio-net-pci",
                                                       "e1000", "qemu-xhci", "usb-tablet",
                                                       "virtio-scsi-pci", "scsi-hd", "ide-cd",
                                                       "pcie-root-port", NULL }; *d; d++)
        g_assert_true(qemu_caps_has_device(caps, *d));
    g_assert_false(qemu_caps_has_device(caps, "device"));   /* abstract */
    for (const char *const *c = (const char *const[]){ "blockdev-add", "blockdev-mirror",
                                                       "query-named-block-nodes",
                                                       "block-commit", "cont", NULL }; *c; c++)
        g_assert_true(qemu_caps_has_command(caps, *c));
    g_assert_true(g_ptr_array_find_with_equal_func(caps->cpu_models, "max", g_str_equal, NULL));

    /* the file is exactly what the formatter writes */
    g_assert_true(g_file_get_contents(CANNED, &text, NULL, NULL));
    json = qemu_caps_to_json(caps);
    g_assert_cmpstr(text, ==, json);
}

static void
assert_json_error(const char *json, const char *expect)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(QemuCaps) caps = qemu_caps_from_json(json, &error);

    g_assert_null(caps);
    g_assert_nonnull(error);
    g_assert_cmpint(util_error_code(error), ==, VIR_ERR_INTERNAL_ERROR);
    if (expect && !strstr(error->message, expect))
        g_error("error '%s' does not contain '%s' (document: %.200s)",
                error->message, expect, json);
}

typedef enum {
    IN_ROOT,
    IN_MACHINE,     /* the first machine */
    IN_KEY,
} EditWhere;

/* The round-trip document with member @key of the object @where replaced
 * by @value (raw JSON text, put in as is), or removed when @value is NULL. */
static char *
edit_json(const char *key, const char *value, EditWhere where)
{
    g_autoptr(QemuCaps) caps = make_caps();
    g_autofree char *json = qemu_caps_to_json(caps);
    g_autoptr(json_object) root = json_tokener_parse(json);
    json_object *obj = root;
    g_auto(GStrv) parts = NULL;

    g_assert_nonnull(root);
    if (where == IN_MACHINE)
        obj = json_object_array_get_idx(json_object_object_get(root, "machines"), 0);
    else if (where == IN_KEY)
        obj = json_object_object_get(root, "key");
    g_assert_true(json_object_object_get_ex(obj, key, NULL));
    if (!value) {
        json_object_object_del(obj, key);
        return g_strdup(json_object_to_json_string(root));
    }
    json_object_object_add(obj, key, json_object_new_string("@@VALUE@@"));
    parts = g_strsplit(json_object_to_json_string(root), "\"@@VALUE@@\"", 2);
    g_assert_nonnull(parts[1]);
    return g_strconcat(parts[0], value, parts[1], NULL);
}

static void
test_json_hostile(void)
{
    g_autoptr(QemuCaps) caps = make_caps();
    g_autofree char *json = qemu_caps_to_json(caps);
    g_autofree char *canned = NULL;
    size_t len = strlen(json);
    static const struct {
        const char *key;
        const char *value;
        EditWhere where;
        const char *expect;
    } edits[] = {
        { "format", NULL, IN_ROOT, "'format' is missing" },
        { "format", "2", IN_ROOT, "format 2" },
        { "format", "\"1\"", IN_ROOT, "'format' is not" },
        { "arch", NULL, IN_ROOT, "'arch' is missing" },
        { "arch", "17", IN_ROOT, "'arch' is not" },
        { "version", "-1", IN_ROOT, "out of range" },
        { "version", "18446744073709551615", IN_ROOT, "out of range" },
        { "version", "99999999999999999999999999", IN_ROOT, NULL },
        { "version", "7.2", IN_ROOT, "'version' is not" },
        { "version", "1e400", IN_ROOT, NULL },
        { "kvm", "\"yes\"", IN_ROOT, "'kvm' is not" },
        { "kvm", NULL, IN_ROOT, "'kvm' is missing" },
        { "machines", NULL, IN_ROOT, "'machines' is missing" },
        { "machines", "{}", IN_ROOT, "'machines' is not" },
        { "devices", "[1, 2]", IN_ROOT, "not a string" },
        { "devices", "\"virtio\"", IN_ROOT, "'devices' is not" },
        { "commands", NULL, IN_ROOT, "'commands' is missing" },
        { "cpu_models", "[null]", IN_ROOT, "not a string" },
        { "probe_time", "9223372036854775807", IN_ROOT, "out of range" },
        { "key", "[]", IN_ROOT, "'key' is not" },
        { "name", NULL, IN_MACHINE, "'name' is missing" },
        { "name", "[\"pc\"]", IN_MACHINE, "'name' is not" },
        { "max_cpus", "4294967296", IN_MACHINE, "out of range" },
        { "max_cpus", "-1", IN_MACHINE, "out of range" },
        { "max_cpus", NULL, IN_MACHINE, "'max_cpus' is missing" },
        { "default", "1", IN_MACHINE, "'default' is not" },
        { "size", "-2", IN_KEY, "out of range" },
        { "mtime_nsec", "1000000000", IN_KEY, "out of range" },
    };

    /* every truncation of a valid document */
    for (size_t n = 0; n < len - 1; n++) {
        g_autofree char *cut = g_strndup(json, n);

        assert_json_error(cut, NULL);
    }
    /* and of the big canned one, at a few hundred places */
    g_assert_true(g_file_get_contents(CANNED, &canned, NULL, NULL));
    for (size_t n = 0; n + 1 < strlen(canned); n += 997) {
        g_autofree char *cut = g_strndup(canned, n);

        assert_json_error(cut, "malformed QEMU capabilities");
    }
    for (size_t i = 0; i < G_N_ELEMENTS(edits); i++) {
        g_autofree char *doc = edit_json(edits[i].key, edits[i].value, edits[i].where);

        g_test_message("edit %s=%s", edits[i].key, edits[i].value ? edits[i].value : "(removed)");
        assert_json_error(doc, edits[i].expect);
    }
    assert_json_error("", "truncated");
    assert_json_error("[]", "not a JSON object");
    assert_json_error("null", "not a JSON object");
    assert_json_error("{\"format\": 1} {}", "trailing data");
    assert_json_error("{\"format\": 1,}", NULL);
    assert_json_error("{\"machines\": [[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]}", NULL);
    {
        /* machines whose elements are not objects */
        g_autofree char *doc = edit_json("machines", "[1]", IN_ROOT);

        assert_json_error(doc, "expected a JSON object");
    }
    {
        /* a file with a NUL byte in it */
        g_autofree char *dir = make_tmpdir();
        g_autofree char *path = g_build_filename(dir, "nul.json", NULL);
        g_autoptr(GError) error = NULL;
        g_autoptr(QemuCaps) bad = NULL;
        g_autoptr(QemuCaps) missing = NULL;

        g_assert_true(g_file_set_contents(path, "{\"format\": 1\0}", 14, NULL));
        bad = qemu_caps_load_file(path, &error);
        g_assert_null(bad);
        g_assert_nonnull(strstr(error->message, "NUL"));
        g_clear_error(&error);
        g_unlink(path);
        missing = qemu_caps_load_file(path, &error);
        g_assert_null(missing);
        g_assert_nonnull(strstr(error->message, path));
        rm_rf(dir);
    }
}

/* ---------------------------------------------------------------------- */
/* probing                                                                */

static void
test_probe_real(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(QemuCaps) caps = NULL;
    g_autofree char *out = NULL;
    const char *argv[] = { QEMU_BINARY, "--version", NULL };
    unsigned int major = 0, minor = 0, micro = 0;
    gint64 start;
    const char *p;

    if (!have_qemu())
        return;
    g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL, 0, NULL, NULL, &out, NULL, NULL, NULL));
    p = strstr(out, "version ");
    g_assert_nonnull(p);
    g_assert_cmpint(sscanf(p + 8, "%u.%u.%u", &major, &minor, &micro), ==, 3);

    start = g_get_monotonic_time();
    caps = qemu_caps_probe(QEMU_BINARY, &error);
    g_test_message("probe took %" G_GINT64_FORMAT " ms", (g_get_monotonic_time() - start) / 1000);
    g_assert_no_error(error);
    g_assert_cmpuint(count_children(), ==, 0);

    g_assert_cmpstr(caps->binary, ==, QEMU_BINARY);
    g_assert_cmpstr(caps->arch, ==, "x86_64");
    g_assert_cmpuint(caps->version, ==, major * 1000000 + minor * 1000 + micro);
    g_assert_nonnull(strstr(out, caps->package));
    g_assert_cmpint(caps->kvm, ==, access("/dev/kvm", R_OK | W_OK) == 0);
    g_assert_cmpint(caps->kvm_device, ==, caps->kvm);
    g_assert_true(g_str_has_prefix(qemu_caps_canonical_machine(caps, "pc"), "pc-i440fx-"));
    g_assert_true(g_str_has_prefix(qemu_caps_canonical_machine(caps, "q35"), "pc-q35-"));
    g_assert_cmpstr(qemu_caps_default_machine(caps), ==, qemu_caps_canonical_machine(caps, "pc"));
    g_assert_null(qemu_caps_canonical_machine(caps, "none"));
    g_assert_true(qemu_caps_has_device(caps, "virtio-blk-pci"));
    g_assert_false(qemu_caps_has_device(caps, "virtio-blk-device-not"));
    g_assert_true(qemu_caps_has_command(caps, "query-machines"));
    g_assert_true(qemu_caps_has_command(caps, "blockdev-add"));
    g_assert_cmpuint(caps->cpu_models->len, >, 0);
    g_assert_true(g_ptr_array_find_with_equal_func(caps->cpu_models, "max", g_str_equal, NULL));

    if (g_strcmp0(g_getenv("MODVIRT_REGENERATE"), "1") == 0) {
        g_autofree char *json = qemu_caps_to_json(caps);
        g_autofree char *dir = g_path_get_dirname(CANNED);

        g_assert_cmpuint(caps->version / 1000, ==, 7002);
        g_assert_cmpint(g_mkdir_with_parents(dir, 0755), ==, 0);
        g_assert_true(g_file_set_contents(CANNED, json, -1, NULL));
        g_test_message("regenerated %s", CANNED);
    } else {
        /* the canned copy is what this QEMU says, when it is the same QEMU */
        g_autoptr(QemuCaps) canned = qemu_caps_load_file(CANNED, &error);

        g_assert_no_error(error);
        if (canned->version == caps->version && g_str_equal(canned->package, caps->package)) {
            g_assert_cmpuint(canned->machines->len, ==, caps->machines->len);
            g_assert_cmpuint(g_hash_table_size(canned->devices), ==,
                             g_hash_table_size(caps->devices));
            g_assert_cmpuint(g_hash_table_size(canned->commands), ==,
                             g_hash_table_size(caps->commands));
        } else {
            g_test_message("canned copy is of another QEMU build; not compared");
        }
    }
}

static char *
write_script(const char *dir, const char *name, const char *body)
{
    char *path = g_build_filename(dir, name, NULL);
    g_autofree char *text = g_strdup_printf("#!/bin/sh\n%s\n", body);

    g_assert_true(g_file_set_contents(path, text, -1, NULL));
    g_assert_cmpint(g_chmod(path, 0755), ==, 0);
    return path;
}

static void
test_probe_errors(void)
{
    g_autofree char *dir = make_tmpdir();
    g_autofree char *failing = write_script(dir, "qemu-system-x86_64",
                                            "echo 'qemu-system-x86_64: broken install' >&2; exit 1");
    g_autofree char *stuck = write_script(dir, "qemu-system-stuck", "exec sleep 300");
    g_autofree char *babbling = write_script(dir, "qemu-system-babble",
                                             "echo '{\"QMP\": {\"version\": 7}}' >&3; exec sleep 300");
    g_autoptr(GError) error = NULL;
    g_autoptr(QemuCaps) caps = NULL;
    gint64 start;

    caps = qemu_caps_probe("/nonexistent/qemu-system-x86_64", &error);
    g_assert_null(caps);
    g_assert_nonnull(strstr(error->message, "/nonexistent/qemu-system-x86_64"));
    g_clear_error(&error);

    caps = qemu_caps_probe("qemu-system-x86_64", &error);
    g_assert_null(caps);
    g_assert_nonnull(strstr(error->message, "not absolute"));
    g_clear_error(&error);

    caps = qemu_caps_probe(failing, &error);
    g_assert_null(caps);
    g_assert_cmpint(util_error_code(error), ==, VIR_ERR_INTERNAL_ERROR);
    g_test_message("%s", error->message);
    g_assert_nonnull(strstr(error->message, "broken install"));
    g_assert_nonnull(strstr(error->message, failing));
    g_clear_error(&error);
    g_assert_cmpuint(count_children(), ==, 0);

    /* an emulator that never answers: bounded, killed, reaped */
    start = g_get_monotonic_time();
    caps = qemu_caps_probe_with_timeout(stuck, 500, &error);
    g_assert_null(caps);
    g_test_message("%s", error->message);
    g_assert_nonnull(strstr(error->message, "timed out"));
    g_assert_cmpint(g_get_monotonic_time() - start, <, 3 * G_TIME_SPAN_SECOND);
    g_clear_error(&error);
    g_assert_cmpuint(count_children(), ==, 0);

    /* one that greets with nonsense and then says nothing */
    start = g_get_monotonic_time();
    caps = qemu_caps_probe_with_timeout(babbling, 500, &error);
    g_assert_null(caps);
    g_test_message("%s", error->message);
    g_assert_cmpint(g_get_monotonic_time() - start, <, 3 * G_TIME_SPAN_SECOND);
    g_clear_error(&error);
    g_assert_cmpuint(count_children(), ==, 0);

    rm_rf(dir);
}

static void
test_find_emulator(void)
{
    g_autofree char *dir = make_tmpdir();
    g_autofree char *x86 = write_script(dir, "qemu-system-x86_64", "exit 0");
    g_autofree char *i386 = write_script(dir, "qemu-system-i386", "exit 0");
    g_autofree char *found = NULL;
    g_autofree char *found32 = NULL;
    g_autofree char *none = NULL;
    g_autofree char *old = g_strdup(g_getenv("MODVIRT_QEMU_DIR"));

    g_setenv("MODVIRT_QEMU_DIR", dir, TRUE);
    found = qemu_caps_find_emulator("x86_64");
    found32 = qemu_caps_find_emulator("i686");
    none = qemu_caps_find_emulator("aarch64");
    if (old)
        g_setenv("MODVIRT_QEMU_DIR", old, TRUE);
    else
        g_unsetenv("MODVIRT_QEMU_DIR");
    g_assert_cmpstr(found, ==, x86);
    g_assert_cmpstr(found32, ==, i386);
    g_assert_null(none);
    g_assert_cmpstr(qemu_caps_host_arch(), !=, "");
    rm_rf(dir);
}

/* ---------------------------------------------------------------------- */
/* the cache                                                              */

static gint64
file_mtime_ns(const char *path)
{
    struct stat st;

    g_assert_cmpint(stat(path, &st), ==, 0);
    return st.st_mtim.tv_sec * G_GINT64_CONSTANT(1000000000) + st.st_mtim.tv_nsec;
}

static void
copy_file(const char *from, const char *to)
{
    const char *argv[] = { "cp", from, to, NULL };
    int status = -1;

    g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                               NULL, NULL, &status, NULL));
    g_assert_cmpint(status, ==, 0);
}

static void
test_cache_restart(void)
{
    g_autofree char *dir = make_tmpdir();
    g_autofree char *cachedir = g_build_filename(dir, "cache", "qemu", "capabilities", NULL);
    g_autofree char *file = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(QemuCaps) first = NULL;
    g_autoptr(QemuCaps) second = NULL;
    g_autoptr(QemuCaps) third = NULL;
    g_autoptr(QemuCaps) from_file = NULL;
    gint64 mtime;

    if (!have_qemu())
        return;
    qemu_caps_cache_init(cachedir);
    first = qemu_caps_cache_lookup(QEMU_BINARY, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(qemu_caps_cache_probe_count(), ==, 1);
    file = qemu_caps_cache_file(QEMU_BINARY);
    g_assert_true(g_str_has_prefix(file, cachedir));
    from_file = qemu_caps_load_file(file, &error);
    g_assert_no_error(error);
    assert_caps_equal(first, from_file);
    mtime = file_mtime_ns(file);

    /* the same cache again: from memory */
    second = qemu_caps_cache_lookup(QEMU_BINARY, &error);
    g_assert_no_error(error);
    g_assert_true(second == first);
    g_assert_cmpuint(qemu_caps_cache_probe_count(), ==, 1);

    /* a restarted daemon: from the file, which stays as it is */
    qemu_caps_cache_cleanup();
    qemu_caps_cache_init(cachedir);
    third = qemu_caps_cache_lookup(QEMU_BINARY, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(qemu_caps_cache_probe_count(), ==, 0);
    assert_caps_equal(first, third);
    g_assert_cmpint(file_mtime_ns(file), ==, mtime);
    g_clear_pointer(&third, qemu_caps_unref);

    /* a damaged file is probed again and replaced */
    qemu_caps_cache_cleanup();
    qemu_caps_cache_init(cachedir);
    g_assert_true(g_file_set_contents(file, "{\"format\": 1, \"machines\": [", -1, NULL));
    third = qemu_caps_cache_lookup(QEMU_BINARY, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(qemu_caps_cache_probe_count(), ==, 1);
    g_clear_pointer(&from_file, qemu_caps_unref);
    from_file = qemu_caps_load_file(file, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(from_file->version, ==, first->version);

    qemu_caps_cache_cleanup();
    g_assert_cmpuint(count_children(), ==, 0);
    rm_rf(dir);
}

static void
test_cache_changed_binary(void)
{
    g_autofree char *dir = make_tmpdir();
    g_autofree char *cachedir = g_build_filename(dir, "cache", NULL);
    g_autofree char *bindir = g_build_filename(dir, "bin", NULL);
    g_autofree char *binary = g_build_filename(bindir, "qemu-system-x86_64", NULL);
    g_autofree char *file = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(QemuCaps) a = NULL;
    g_autoptr(QemuCaps) b = NULL;
    g_autoptr(QemuCaps) c = NULL;
    g_autoptr(QemuCaps) stored = NULL;
    struct stat st;

    if (!have_qemu())
        return;
    g_assert_cmpint(g_mkdir_with_parents(bindir, 0755), ==, 0);
    copy_file(QEMU_BINARY, binary);
    qemu_caps_cache_init(cachedir);
    a = qemu_caps_cache_lookup(binary, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(a->binary, ==, binary);
    b = qemu_caps_cache_lookup(binary, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(qemu_caps_cache_probe_count(), ==, 1);
    g_clear_pointer(&b, qemu_caps_unref);

    /* touch: new mtime and ctime, same size -> probed again */
    g_assert_cmpint(utimensat(AT_FDCWD, binary, NULL, 0), ==, 0);
    b = qemu_caps_cache_lookup(binary, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(qemu_caps_cache_probe_count(), ==, 2);
    g_assert_true(b != a);
    g_assert_cmpint(stat(binary, &st), ==, 0);
    g_assert_cmpint(b->binary_mtime, ==, st.st_mtim.tv_sec);
    g_assert_cmpint(b->binary_mtime_nsec, ==, st.st_mtim.tv_nsec);

    /* the file now holds the new key */
    file = qemu_caps_cache_file(binary);
    stored = qemu_caps_load_file(file, &error);
    g_assert_no_error(error);
    g_assert_cmpint(stored->binary_ctime_nsec, ==, st.st_ctim.tv_nsec);
    g_assert_cmpint(stored->binary_mtime, ==, st.st_mtim.tv_sec);

    /* and a restart with the changed binary uses it */
    qemu_caps_cache_cleanup();
    qemu_caps_cache_init(cachedir);
    c = qemu_caps_cache_lookup(binary, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(qemu_caps_cache_probe_count(), ==, 0);

    /* the binary gone: an error, not stale capabilities */
    g_assert_cmpint(g_unlink(binary), ==, 0);
    g_clear_pointer(&c, qemu_caps_unref);
    c = qemu_caps_cache_lookup(binary, &error);
    g_assert_null(c);
    g_assert_nonnull(strstr(error->message, binary));

    qemu_caps_cache_cleanup();
    rm_rf(dir);
}

typedef struct {
    const char *binary;
    GCond *start_cond;
    GMutex *start_lock;
    bool *go;
    QemuCaps *result;
    GError *error;
} LookupThread;

static gpointer
lookup_thread(gpointer data)
{
    LookupThread *t = data;

    g_mutex_lock(t->start_lock);
    while (!*t->go)
        g_cond_wait(t->start_cond, t->start_lock);
    g_mutex_unlock(t->start_lock);
    t->result = qemu_caps_cache_lookup(t->binary, &t->error);
    return NULL;
}

/* Lookups at once from @n threads; returns how many probes ran. */
static guint
concurrent_lookups(const char *binary, guint n, bool expect_ok)
{
    GMutex lock;
    GCond cond;
    bool go = false;
    g_autofree LookupThread *t = g_new0(LookupThread, n);
    g_autofree GThread **threads = g_new0(GThread *, n);

    g_mutex_init(&lock);
    g_cond_init(&cond);
    for (guint i = 0; i < n; i++) {
        t[i] = (LookupThread){ binary, &cond, &lock, &go, NULL, NULL };
        threads[i] = g_thread_new("lookup", lookup_thread, &t[i]);
    }
    g_mutex_lock(&lock);
    go = true;
    g_cond_broadcast(&cond);
    g_mutex_unlock(&lock);
    for (guint i = 0; i < n; i++)
        g_thread_join(threads[i]);
    for (guint i = 0; i < n; i++) {
        if (expect_ok) {
            g_assert_no_error(t[i].error);
            g_assert_true(t[i].result == t[0].result);
        } else {
            g_assert_null(t[i].result);
            g_assert_nonnull(t[i].error);
        }
        qemu_caps_unref(t[i].result);
        g_clear_error(&t[i].error);
    }
    g_mutex_clear(&lock);
    g_cond_clear(&cond);
    return qemu_caps_cache_probe_count();
}

static void
test_cache_concurrent(void)
{
    g_autofree char *dir = make_tmpdir();
    g_autofree char *failing = write_script(dir, "qemu-system-x86_64", "sleep 0.3; exit 1");

    if (!have_qemu())
        return;
    qemu_caps_cache_init(dir);
    g_assert_cmpuint(concurrent_lookups(QEMU_BINARY, 4, true), ==, 1);
    qemu_caps_cache_cleanup();

    /* waiters of a failed probe share its error rather than probe again */
    qemu_caps_cache_init(dir);
    g_assert_cmpuint(concurrent_lookups(failing, 4, false), <=, 2);
    qemu_caps_cache_cleanup();

    /* a prefetch and a lookup: still one probe; cleanup leaves no QEMU */
    qemu_caps_cache_init(NULL);
    qemu_caps_cache_prefetch(QEMU_BINARY);
    qemu_caps_cache_prefetch(QEMU_BINARY);
    {
        g_autoptr(GError) error = NULL;
        g_autoptr(QemuCaps) caps = qemu_caps_cache_lookup(QEMU_BINARY, &error);

        g_assert_no_error(error);
    }
    qemu_caps_cache_cleanup();
    g_assert_cmpuint(qemu_caps_cache_probe_count(), ==, 1);
    g_assert_cmpuint(count_children(), ==, 0);
    rm_rf(dir);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/qemu-caps/json/round-trip", test_json_round_trip);
    g_test_add_func("/qemu-caps/json/hostile", test_json_hostile);
    g_test_add_func("/qemu-caps/queries", test_queries);
    g_test_add_func("/qemu-caps/canned/7.2", test_canned);
    g_test_add_func("/qemu-caps/probe/real", test_probe_real);
    g_test_add_func("/qemu-caps/probe/errors", test_probe_errors);
    g_test_add_func("/qemu-caps/find-emulator", test_find_emulator);
    g_test_add_func("/qemu-caps/cache/restart", test_cache_restart);
    g_test_add_func("/qemu-caps/cache/changed-binary", test_cache_changed_binary);
    g_test_add_func("/qemu-caps/cache/concurrent", test_cache_concurrent);
    return g_test_run();
}
