/*
 * test-snapshot-xml.c: domain snapshot definitions (conf-snapshot).
 *
 * Golden files in tests/data/snapshot: NAME.xml is parsed, NAME.out.xml is
 * the expected `virsh snapshot-dumpxml`-style text, NAME.err the expected
 * failure (first line the libvirt error code name, second line a
 * substring of the message).  The name's prefix picks the parse mode:
 * create-* / err-* as virDomainSnapshotCreateXML reads a new snapshot,
 * redefine-* as a redefinition, internal-* as the daemon's metadata file.
 * MODVIRT_REGENERATE=1 rewrites the golden files; review the diff.
 *
 * For every valid case: the input and the output validate against
 * schemas/domainsnapshot.rng (checked with libxml2 directly), parsing with
 * the schema check gives the same result, and the output parses back to
 * the same text.  New snapshots get "now" as creation time (checked, then
 * replaced by a fixed value so the golden text is stable).
 */
#define G_LOG_DOMAIN "modvirt.test.snapshot"

#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <libxml/parser.h>
#include <libxml/relaxng.h>

#include "conf-snapshot.h"
#include "util-error.h"

#include "util-xml.h"

#define DATA_DIR MODVIRT_SRCDIR "/tests/data/snapshot"
#define SCHEMA MODVIRT_SRCDIR "/shared/conf/schemas/domainsnapshot.rng"
#define FIXED_TIME 1700000042

static bool regenerate;
static xmlRelaxNGPtr schema;

static char *
test_read(const char *path)
{
    g_autofree char *text = NULL;
    g_autoptr(GError) error = NULL;

    if (!g_file_get_contents(path, &text, NULL, &error))
        g_error("%s", error->message);
    return g_steal_pointer(&text);
}

static void
test_write(const char *path, const char *text)
{
    g_autoptr(GError) error = NULL;

    if (!g_file_set_contents(path, text, -1, &error))
        g_error("%s", error->message);
}

static void
test_collect_error(void *data, xmlErrorPtr err)
{
    GString *msgs = data;

    if (err && err->message)
        g_string_append_printf(msgs, "line %d: %s", err->line, err->message);
}

/* The validator's complaint about @xml, NULL if it is valid. */
static char *
test_schema_check(const char *xml)
{
    g_autoptr(xmlDoc) doc = xmlReadMemory(xml, (int)strlen(xml), NULL, "UTF-8", XML_PARSE_NONET);
    g_autoptr(xmlRelaxNGValidCtxt) vctxt = NULL;
    g_autoptr(GString) msgs = g_string_new(NULL);

    if (!doc)
        return g_strdup("not well-formed");
    vctxt = xmlRelaxNGNewValidCtxt(schema);
    xmlRelaxNGSetValidStructuredErrors(vctxt, test_collect_error, msgs);
    if (xmlRelaxNGValidateDoc(vctxt, doc) == 0)
        return NULL;
    return g_string_free(g_steal_pointer(&msgs), FALSE);
}

static void
test_assert_schema_valid(const char *what, const char *xml)
{
    g_autofree char *complaint = test_schema_check(xml);

    if (complaint)
        g_error("%s does not validate against %s: %s\n%s", what, SCHEMA, complaint, xml);
}

static unsigned int
test_flags_for(const char *name)
{
    if (g_str_has_prefix(name, "redefine-"))
        return CONF_SNAPSHOT_PARSE_REDEFINE;
    if (g_str_has_prefix(name, "internal-"))
        return CONF_SNAPSHOT_PARSE_INTERNAL;
    return 0;
}

static const char *
test_code_name(int code)
{
    switch (code) {
    case VIR_ERR_NO_NAME:
        return "VIR_ERR_NO_NAME";
    default:
        return util_error_code_name(code);
    }
}

/* A new snapshot's creation time is now; its default name that time. */
static void
test_fix_time(ConfSnapshotDef *def, gint64 before, bool named)
{
    gint64 after = g_get_real_time() / G_USEC_PER_SEC;

    g_assert_cmpint(def->creation_time, >=, before);
    g_assert_cmpint(def->creation_time, <=, after);
    if (!named) {
        g_autofree char *expect = g_strdup_printf("%" G_GINT64_FORMAT, def->creation_time);

        g_assert_cmpstr(def->name, ==, expect);
        g_free(def->name);
        def->name = g_strdup_printf("%d", FIXED_TIME);
    }
    def->creation_time = FIXED_TIME;
}

static char *
test_format(const ConfSnapshotDef *def, unsigned int flags, bool current)
{
    static const unsigned char uuid[16] = { 0xa0, 0xb1, 0xc2, 0xd3, 0xe4, 0xf5, 0x4a, 0x6b,
                                            0x8c, 0x7d, 0x9e, 0x0f, 0x1a, 0x2b, 0x3c, 0x4d };
    unsigned int fflags = 0;

    if (flags & CONF_SNAPSHOT_PARSE_INTERNAL)
        fflags |= CONF_SNAPSHOT_FORMAT_INTERNAL | (current ? CONF_SNAPSHOT_FORMAT_CURRENT : 0);
    return conf_snapshot_format(def, uuid, fflags);
}

static void
test_golden_valid(const char *name, const char *input_path)
{
    g_autofree char *input = test_read(input_path);
    g_autofree char *out_path = g_strdup_printf("%s/%s.out.xml", DATA_DIR, name);
    unsigned int flags = test_flags_for(name);
    g_autoptr(GError) error = NULL;
    g_autoptr(ConfSnapshotDef) def = NULL;
    g_autoptr(ConfSnapshotDef) validated = NULL;
    g_autoptr(ConfSnapshotDef) again = NULL;
    g_autofree char *out = NULL;
    g_autofree char *want = NULL;
    g_autofree char *out_validated = NULL;
    g_autofree char *out_again = NULL;
    bool current = false;
    bool named = strstr(input, "<name>") != NULL;
    gint64 before = g_get_real_time() / G_USEC_PER_SEC;

    test_assert_schema_valid(input_path, input);
    if (!(def = conf_snapshot_parse(input, flags, &current, &error)))
        g_error("%s: %s", name, error->message);
    if (!flags)
        test_fix_time(def, before, named);
    out = test_format(def, flags, current);
    if (regenerate)
        test_write(out_path, out);
    want = test_read(out_path);
    g_assert_cmpstr(out, ==, want);
    test_assert_schema_valid(out_path, out);

    /* the schema check changes nothing */
    validated = conf_snapshot_parse(input, flags | CONF_SNAPSHOT_PARSE_VALIDATE, &current, &error);
    if (!validated)
        g_error("%s with the schema check: %s", name, error->message);
    if (!flags)
        test_fix_time(validated, before, named);
    out_validated = test_format(validated, flags, current);
    g_assert_cmpstr(out_validated, ==, out);

    /* the output reads back to itself (what the daemon's metadata relies on) */
    if (!(again = conf_snapshot_parse(out, flags, &current, &error)))
        g_error("%s: output does not parse again: %s", name, error->message);
    if (!flags) {
        again->creation_time = FIXED_TIME;
        g_assert_cmpstr(again->name, ==, def->name);
    }
    out_again = test_format(again, flags, current);
    g_assert_cmpstr(out_again, ==, out);
}

static void
test_golden_invalid(const char *name, const char *input_path, const char *err_path)
{
    g_autofree char *input = test_read(input_path);
    g_autoptr(GError) error = NULL;
    g_autoptr(GError) validate_error = NULL;
    g_autoptr(ConfSnapshotDef) def = NULL;
    g_autoptr(ConfSnapshotDef) validated = NULL;
    unsigned int flags = test_flags_for(name);
    const char *code = NULL;

    def = conf_snapshot_parse(input, flags, NULL, &error);
    if (def)
        g_error("%s: parsed, but %s expects an error", name, err_path);
    g_assert_nonnull(error);
    g_assert_true(util_error_domain(error) == VIR_FROM_DOMAIN_SNAPSHOT ||
                  util_error_domain(error) == VIR_FROM_DOMAIN);
    g_assert_false(g_str_has_suffix(error->message, "\n"));
    code = test_code_name(util_error_code(error));
    if (regenerate) {
        g_autofree char *text = g_strdup_printf("%s\n%s\n", code, error->message);

        test_write(err_path, text);
    }
    {
        g_autofree char *expected = test_read(err_path);
        g_auto(GStrv) lines = g_strsplit(expected, "\n", 3);

        g_assert_nonnull(lines[0]);
        g_assert_nonnull(lines[1]);
        g_assert_cmpstr(code, ==, lines[0]);
        if (!strstr(error->message, lines[1]))
            g_error("%s: message '%s' does not contain '%s'", name, error->message, lines[1]);
    }
    validated = conf_snapshot_parse(input, flags | CONF_SNAPSHOT_PARSE_VALIDATE, NULL,
                                    &validate_error);
    g_assert_null(validated);
    g_assert_nonnull(validate_error);
}

static void
test_golden(gconstpointer data)
{
    const char *name = data;
    g_autofree char *input_path = g_strdup_printf("%s/%s.xml", DATA_DIR, name);
    g_autofree char *err_path = g_strdup_printf("%s/%s.err", DATA_DIR, name);

    if (g_file_test(err_path, G_FILE_TEST_EXISTS))
        test_golden_invalid(name, input_path, err_path);
    else
        test_golden_valid(name, input_path);
}

/* ---- hostile input ---- */

static void
test_expect_error(const char *xml, int code, const char *needle)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(ConfSnapshotDef) def = conf_snapshot_parse(xml, 0, NULL, &error);

    g_assert_null(def);
    g_assert_nonnull(error);
    g_assert_cmpstr(util_error_code_name(util_error_code(error)), ==, util_error_code_name(code));
    if (!strstr(error->message, needle))
        g_error("message '%s' does not contain '%s'", error->message, needle);
}

static void
test_huge(void)
{
    gsize n = CONF_DOMAIN_XML_MAX_SIZE + 16;
    g_autofree char *xml = g_malloc(n + 1);

    memset(xml, ' ', n);
    memcpy(xml, "<domainsnapshot>", 16);
    xml[n] = '\0';
    test_expect_error(xml, VIR_ERR_XML_ERROR, "too large");
}

static void
test_deep(void)
{
    g_autoptr(GString) xml = g_string_new("<domainsnapshot><description>");

    for (int i = 0; i < 200; i++)
        g_string_append(xml, "<a>");
    for (int i = 0; i < 200; i++)
        g_string_append(xml, "</a>");
    g_string_append(xml, "</description></domainsnapshot>");
    test_expect_error(xml->str, VIR_ERR_XML_ERROR, "nested too deeply");
}

static void
test_not_utf8(void)
{
    test_expect_error("<domainsnapshot><name>\xff\xfe</name></domainsnapshot>",
                      VIR_ERR_XML_ERROR, "UTF-8");
}

static void
test_twice(void)
{
    test_expect_error("<domainsnapshot><name>a</name><name>b</name></domainsnapshot>",
                      VIR_ERR_XML_ERROR, "only once");
}

/* Random damage to a valid document: a clean error or a definition that
 * formats and reads back, never a crash. */
static void
test_mutations(void)
{
    g_autofree char *path = g_strdup_printf("%s/redefine-disk-snapshot.xml", DATA_DIR);
    g_autofree char *base = test_read(path);
    size_t len = strlen(base);
    GRand *rand = g_rand_new_with_seed(4242);
    unsigned int parsed = 0;
    static const char *const bits[] = { "<", ">", "'", "&", "/", "<disk name='x'/>", "\xc3",
                                        "<domain>", "snapshot='no'", "&amp;", "&#0;" };

    for (int i = 0; i < 3000; i++) {
        g_autoptr(GString) xml = g_string_new(base);
        g_autoptr(GError) error = NULL;
        g_autoptr(ConfSnapshotDef) def = NULL;
        int edits = g_rand_int_range(rand, 1, 4);

        for (int e = 0; e < edits; e++) {
            gsize at = (gsize)g_rand_int_range(rand, 0, (gint32)xml->len);

            switch (g_rand_int_range(rand, 0, 3)) {
            case 0: {
                gsize n = (gsize)g_rand_int_range(rand, 1, 20);

                g_string_erase(xml, (gssize)at, (gssize)MIN(n, xml->len - at));
                break;
            }
            case 1:
                g_string_insert(xml, (gssize)at, bits[g_rand_int_range(rand, 0, G_N_ELEMENTS(bits))]);
                break;
            default:
                xml->str[at] = (char)g_rand_int_range(rand, 1, 256);
                break;
            }
        }
        def = conf_snapshot_parse(xml->str, CONF_SNAPSHOT_PARSE_REDEFINE, NULL, &error);
        if (def) {
            g_autofree char *out = conf_snapshot_format(def, NULL, 0);
            g_autoptr(ConfSnapshotDef) again = NULL;

            parsed++;
            again = conf_snapshot_parse(out, CONF_SNAPSHOT_PARSE_REDEFINE, NULL, &error);
            if (!again)
                g_error("mutation %d parsed, but its output does not: %s\n%s", i,
                        error->message, out);
        } else {
            g_assert_nonnull(error);
            g_assert_true(util_error_domain(error) == VIR_FROM_DOMAIN_SNAPSHOT ||
                          util_error_domain(error) == VIR_FROM_DOMAIN);
            g_assert_true(error->message && *error->message);
        }
    }
    g_test_message("%u of 3000 mutations still parsed (of %zu bytes)", parsed, len);
    g_rand_free(rand);
}

/* ---- aligning with the domain ---- */

typedef struct {
    char *dir;
    char *vda;
    ConfDomainDef *dom;
} AlignFixture;

static void
align_setup(AlignFixture *f, gconstpointer data)
{
    g_autofree char *xml = NULL;
    g_autoptr(GError) error = NULL;

    f->dir = g_dir_make_tmp("mv-snapxml-XXXXXX", &error);
    g_assert_no_error(error);
    f->vda = g_build_filename(f->dir, "vda.qcow2", NULL);
    test_write(f->vda, "");
    xml = g_strdup_printf(
        "<domain type='kvm'><name>vm</name><memory>131072</memory>"
        "<os><type arch='x86_64'>hvm</type></os><devices>"
        "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
        "<source file='%s'/><target dev='vda' bus='virtio'/></disk>"
        "<disk type='file' device='disk'><source file='%s/data'/><target dev='vdb' bus='virtio'/></disk>"
        "<disk type='file' device='disk'><source file='%s/vdc.raw'/><target dev='vdc' bus='virtio'/></disk>"
        "<disk type='file' device='cdrom'><target dev='hdc' bus='ide'/><readonly/></disk>"
        "</devices></domain>", f->vda, f->dir, f->dir);
    f->dom = conf_domain_parse(xml, 0, &error);
    g_assert_no_error(error);
}

static void
align_teardown(AlignFixture *f, gconstpointer data)
{
    g_autofree char *data_file = g_build_filename(f->dir, "data", NULL);

    g_unlink(f->vda);
    g_unlink(data_file);
    g_rmdir(f->dir);
    g_free(f->dir);
    g_free(f->vda);
    conf_domain_def_free(f->dom);
}

static ConfSnapshotDef *
align_parse(const char *xml)
{
    g_autoptr(GError) error = NULL;
    ConfSnapshotDef *def = conf_snapshot_parse(xml, 0, NULL, &error);

    g_assert_no_error(error);
    return def;
}

static void
test_align_defaults(AlignFixture *f, gconstpointer data)
{
    g_autofree char *data_file = g_build_filename(f->dir, "data", NULL);
    g_autofree char *xml = g_strdup_printf(
        "<domainsnapshot><name>s1</name><disks>"
        "<disk name='%s' snapshot='external'/>"
        "<disk name='vdc' snapshot='no'/>"
        "</disks></domainsnapshot>", data_file);
    g_autoptr(ConfSnapshotDef) def = align_parse(xml);
    g_autoptr(GError) error = NULL;
    g_autofree char *want_vda = g_build_filename(f->dir, "vda.s1", NULL);
    g_autofree char *want_vdb = g_build_filename(f->dir, "data.s1", NULL);
    const ConfSnapshotDiskDef *d = NULL;

    test_write(data_file, "");
    g_assert_true(conf_snapshot_align_disks(def, f->dom, CONF_SNAPSHOT_LOCATION_EXTERNAL, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(def->disks->len, ==, 4);
    d = g_ptr_array_index(def->disks, 0);
    g_assert_cmpstr(d->name, ==, "vda");
    g_assert_cmpint(d->snapshot, ==, CONF_SNAPSHOT_LOCATION_EXTERNAL);
    g_assert_cmpstr(d->path, ==, want_vda);
    d = g_ptr_array_index(def->disks, 1);
    g_assert_cmpstr(d->name, ==, "vdb");           /* named by path in the request */
    g_assert_cmpstr(d->path, ==, want_vdb);        /* no suffix to drop */
    d = g_ptr_array_index(def->disks, 2);
    g_assert_cmpint(d->snapshot, ==, CONF_SNAPSHOT_LOCATION_NO);
    g_assert_null(d->path);
    d = g_ptr_array_index(def->disks, 3);
    g_assert_cmpstr(d->name, ==, "hdc");
    g_assert_cmpint(d->snapshot, ==, CONF_SNAPSHOT_LOCATION_NO);   /* empty drive */
}

static void
test_align_errors(AlignFixture *f, gconstpointer data)
{
    static const struct {
        const char *disks;
        const char *needle;
    } cases[] = {
        { "<disk name='vdz'/>", "no disk named 'vdz'" },
        { "<disk name='vda'/><disk name='vda'/>", "disk 'vda' specified twice" },
        { "<disk name='vda' snapshot='no'><source file='/x/y'/></disk>",
          "requires use of external snapshot mode" },
        /* vdc's image does not exist: no default name for it */
        { "<disk name='vdb' snapshot='no'/>", "is not a regular file" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *xml = g_strdup_printf("<domainsnapshot><name>s1</name><disks>%s"
                                               "</disks></domainsnapshot>", cases[i].disks);
        g_autoptr(ConfSnapshotDef) def = align_parse(xml);
        g_autoptr(GError) error = NULL;

        g_assert_false(conf_snapshot_align_disks(def, f->dom, CONF_SNAPSHOT_LOCATION_EXTERNAL,
                                                 &error));
        g_assert_nonnull(error);
        g_assert_cmpint(util_error_code(error), ==, VIR_ERR_CONFIG_UNSUPPORTED);
        if (!strstr(error->message, cases[i].needle))
            g_error("case %zu: '%s' does not contain '%s'", i, error->message, cases[i].needle);
    }
}

static void
test_align_collision(AlignFixture *f, gconstpointer data)
{
    g_autofree char *other = g_build_filename(f->dir, "vda.raw", NULL);
    g_autofree char *xml = NULL;
    g_autoptr(ConfSnapshotDef) def = NULL;
    g_autoptr(GError) error = NULL;
    ConfDomainDiskDef *vdb = g_ptr_array_index(f->dom->disks, 1);

    /* vdb's image is vda.raw: both would become vda.s1 */
    test_write(other, "");
    g_free(vdb->src->path);
    vdb->src->path = g_strdup(other);
    xml = g_strdup("<domainsnapshot><name>s1</name><disks><disk name='vdc' snapshot='no'/>"
                   "</disks></domainsnapshot>");
    def = align_parse(xml);
    g_assert_false(conf_snapshot_align_disks(def, f->dom, CONF_SNAPSHOT_LOCATION_EXTERNAL, &error));
    g_assert_nonnull(error);
    g_assert_nonnull(strstr(error->message, "collision with disk 'vda'"));
    g_unlink(other);
}

static void
test_is_external(void)
{
    g_autoptr(ConfSnapshotDef) ext = align_parse(
        "<domainsnapshot><disks><disk name='vda' snapshot='external'/></disks></domainsnapshot>");
    g_autoptr(ConfSnapshotDef) in = align_parse(
        "<domainsnapshot><disks><disk name='vda' snapshot='internal'/></disks></domainsnapshot>");

    g_assert_true(conf_snapshot_is_external(ext));
    g_assert_false(conf_snapshot_is_external(in));
}

static int
test_compare_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int
main(int argc, char **argv)
{
    g_autoptr(GDir) dir = NULL;
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GError) error = NULL;
    const char *entry = NULL;
    int ret;

    g_test_init(&argc, &argv, NULL);
    regenerate = g_strcmp0(g_getenv("MODVIRT_REGENERATE"), "1") == 0;
    g_unsetenv("MODVIRT_SCHEMA_DIR");
    {
        g_autoptr(xmlRelaxNGParserCtxt) pctxt = xmlRelaxNGNewParserCtxt(SCHEMA);

        schema = xmlRelaxNGParse(pctxt);
        g_assert_nonnull(schema);
    }
    if (!(dir = g_dir_open(DATA_DIR, 0, &error)))
        g_error("%s", error->message);
    while ((entry = g_dir_read_name(dir))) {
        if (g_str_has_suffix(entry, ".xml") && !g_str_has_suffix(entry, ".out.xml"))
            g_ptr_array_add(names, g_strndup(entry, strlen(entry) - strlen(".xml")));
    }
    g_ptr_array_sort(names, test_compare_names);
    for (guint i = 0; i < names->len; i++) {
        g_autofree char *path = g_strdup_printf("/snapshot-xml/golden/%s",
                                                (char *)g_ptr_array_index(names, i));

        g_test_add_data_func(path, g_ptr_array_index(names, i), test_golden);
    }
    g_test_add_func("/snapshot-xml/hostile/huge", test_huge);
    g_test_add_func("/snapshot-xml/hostile/deep", test_deep);
    g_test_add_func("/snapshot-xml/hostile/not-utf8", test_not_utf8);
    g_test_add_func("/snapshot-xml/hostile/twice", test_twice);
    g_test_add_func("/snapshot-xml/hostile/mutations", test_mutations);
    g_test_add("/snapshot-xml/align/defaults", AlignFixture, NULL, align_setup,
               test_align_defaults, align_teardown);
    g_test_add("/snapshot-xml/align/errors", AlignFixture, NULL, align_setup,
               test_align_errors, align_teardown);
    g_test_add("/snapshot-xml/align/collision", AlignFixture, NULL, align_setup,
               test_align_collision, align_teardown);
    g_test_add_func("/snapshot-xml/api/is-external", test_is_external);
    ret = g_test_run();
    xmlRelaxNGFree(schema);
    return ret;
}
