/*
 * test-domain-xml.c: the domain definition (conf-domain).
 *
 * Golden files in tests/data/domain: NAME.xml is parsed; NAME.out.xml is
 * the expected `virsh dumpxml`-style text, NAME.err the expected failure
 * (first line the libvirt error code name, second line a substring of the
 * message).  Cases named validate-* are parsed with the schema check.
 * MODVIRT_REGENERATE=1 rewrites the golden files from what the code does
 * now; review the diff like code.
 *
 * Cases named libvirt-* hold text written by libvirt itself, which must
 * come back byte for byte from the inactive format.
 *
 * For every valid case the test also checks what a user relies on: the
 * input and the output validate against schemas/domain.rng, the output is
 * a fixed point (parse and format again: same text), the inactive form is
 * one too, and a copy formats identically.  Generated UUIDs and MAC
 * addresses are checked and then replaced by fixed values so that the
 * golden text is stable.
 */
#define G_LOG_DOMAIN "modvirt.test.domain"

#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <libxml/parser.h>
#include <libxml/relaxng.h>

#include "conf-domain.h"
#include "util-error.h"

#include "util-xml.h"

#define DATA_DIR MODVIRT_SRCDIR "/tests/data/domain"
#define SCHEMA MODVIRT_SRCDIR "/shared/conf/schemas/domain.rng"

static bool regenerate;
static xmlRelaxNGPtr schema;

/* util_error_code_name() knows the common codes; these few come from the
 * domain parser too (as from libvirt's). */
static const char *
test_code_name(int code)
{
    switch (code) {
    case VIR_ERR_NO_SOURCE:
        return "VIR_ERR_NO_SOURCE";
    case VIR_ERR_NO_TARGET:
        return "VIR_ERR_NO_TARGET";
    case VIR_ERR_NO_NAME:
        return "VIR_ERR_NO_NAME";
    default:
        return util_error_code_name(code);
    }
}

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

/* Validates @xml against the schema with libxml2 directly (not through
 * the code under test); returns the validator's complaint or NULL. */
static void
test_collect_error(void *data, xmlErrorPtr err)
{
    GString *msgs = data;

    if (err && err->message)
        g_string_append_printf(msgs, "line %d: %s", err->line, err->message);
}

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

/* Checks generated values and replaces them with fixed ones. */
static void
test_fix_generated(ConfDomainDef *def)
{
    static const unsigned char fixed_uuid[16] = {
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x00,
        0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01
    };

    if (def->uuid_generated) {
        /* a random (version 4, RFC 4122 variant) UUID */
        g_assert_cmpint(def->uuid[6] >> 4, ==, 4);
        g_assert_cmpint(def->uuid[8] & 0xc0, ==, 0x80);
        memcpy(def->uuid, fixed_uuid, 16);
    }
    for (guint i = 0; i < def->nets->len; i++) {
        ConfDomainNetDef *net = g_ptr_array_index(def->nets, i);

        if (!net->mac_generated)
            continue;
        /* libvirt's prefix, unicast */
        g_assert_cmpint(net->mac[0], ==, 0x52);
        g_assert_cmpint(net->mac[1], ==, 0x54);
        g_assert_cmpint(net->mac[2], ==, 0x00);
        for (guint j = 0; j < def->nets->len; j++) {
            const ConfDomainNetDef *other = g_ptr_array_index(def->nets, j);

            if (j != i)
                g_assert_false(memcmp(net->mac, other->mac, 6) == 0);
        }
        net->mac[3] = 0xfe;
        net->mac[4] = 0xfe;
        net->mac[5] = (unsigned char)i;
    }
}

/* format(parse(@xml)) must give @xml back */
static void
test_assert_fixed_point(const char *name, const char *xml, unsigned int parse_flags,
                        unsigned int format_flags)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(ConfDomainDef) def = conf_domain_parse(xml, parse_flags, &error);
    g_autofree char *again = NULL;

    if (!def)
        g_error("%s: output does not parse again: %s\n%s", name, error->message, xml);
    again = conf_domain_format(def, format_flags);
    g_assert_cmpstr(again, ==, xml);
}

static void
test_golden_valid(const char *name, const char *input_path)
{
    g_autofree char *input = test_read(input_path);
    g_autofree char *out_path = g_strdup_printf("%s/%s.out.xml", DATA_DIR, name);
    g_autoptr(GError) error = NULL;
    g_autoptr(ConfDomainDef) def = NULL;
    g_autoptr(ConfDomainDef) validated = NULL;
    g_autoptr(ConfDomainDef) copy = NULL;
    g_autofree char *out = NULL;
    g_autofree char *inactive = NULL;
    g_autofree char *status = NULL;
    g_autofree char *copy_out = NULL;
    g_autofree char *copy_status = NULL;

    if (!(def = conf_domain_parse(input, 0, &error)))
        g_error("%s: %s: %s", name, test_code_name(util_error_code(error)), error->message);
    test_fix_generated(def);
    out = conf_domain_format(def, 0);

    if (regenerate)
        test_write(out_path, out);
    {
        g_autofree char *expected = test_read(out_path);

        g_assert_cmpstr(out, ==, expected);
    }

    /* the input is valid for the schema, and so is what we write */
    test_assert_schema_valid(input_path, input);
    if (!(validated = conf_domain_parse(input, CONF_DOMAIN_PARSE_VALIDATE, &error)))
        g_error("%s: fails with VALIDATE: %s", name, error->message);
    test_assert_schema_valid(out_path, out);

    /* format(parse(format(parse(x)))) == format(parse(x)) */
    test_assert_fixed_point(name, out, 0, 0);
    inactive = conf_domain_format(def, CONF_DOMAIN_FORMAT_INACTIVE | CONF_DOMAIN_FORMAT_SECURE);
    test_assert_schema_valid("inactive output", inactive);
    test_assert_fixed_point(name, inactive, 0,
                            CONF_DOMAIN_FORMAT_INACTIVE | CONF_DOMAIN_FORMAT_SECURE);
    status = conf_domain_format(def, CONF_DOMAIN_FORMAT_STATUS);
    test_assert_fixed_point(name, status, CONF_DOMAIN_PARSE_STATUS, CONF_DOMAIN_FORMAT_STATUS);

    /* libvirt-*: the input is libvirt 9.0's own `virsh dumpxml --inactive
     * --security-info` text; we must write exactly that back */
    if (g_str_has_prefix(name, "libvirt-"))
        g_assert_cmpstr(inactive, ==, input);

    /* a copy is the same definition */
    copy = conf_domain_copy(def);
    copy_out = conf_domain_format(copy, 0);
    g_assert_cmpstr(copy_out, ==, out);
    copy_status = conf_domain_format(copy, CONF_DOMAIN_FORMAT_STATUS);
    g_assert_cmpstr(copy_status, ==, status);
}

static void
test_golden_invalid(const char *name, const char *input_path, const char *err_path)
{
    g_autofree char *input = test_read(input_path);
    g_autoptr(GError) error = NULL;
    g_autoptr(GError) validate_error = NULL;
    g_autoptr(ConfDomainDef) def = NULL;
    g_autoptr(ConfDomainDef) validated = NULL;
    bool validate = g_str_has_prefix(name, "validate-");
    const char *code = NULL;

    def = conf_domain_parse(input, validate ? CONF_DOMAIN_PARSE_VALIDATE : 0, &error);
    if (def)
        g_error("%s: parsed, but %s expects an error", name, err_path);
    g_assert_nonnull(error);
    g_assert_true(util_error_domain(error) == VIR_FROM_DOMAIN);
    code = test_code_name(util_error_code(error));
    /* one phrase, no trailing newline */
    g_assert_false(g_str_has_suffix(error->message, "\n"));

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

    /* what fails without the schema fails with it too */
    validated = conf_domain_parse(input, CONF_DOMAIN_PARSE_VALIDATE, &validate_error);
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

static void test_assert_error(const char *xml, unsigned int flags, int code,
                              const char *substring);

/* ---- status XML: runtime data that only the daemon's own files keep ---- */

#define STATUS_DIR DATA_DIR "/status"

/* tests/data/domain/status/NAME.xml is a status-XML <domain> (node names,
 * <relPath>, <mirror>, <nodenameindex>): it must come back byte for byte
 * from the status format; NAME.live.xml is what virsh dumpxml shows. */
static void
test_status_golden(gconstpointer data)
{
    const char *name = data;
    g_autofree char *input_path = g_strdup_printf("%s/%s.xml", STATUS_DIR, name);
    g_autofree char *live_path = g_strdup_printf("%s/%s.live.xml", STATUS_DIR, name);
    g_autofree char *input = test_read(input_path);
    g_autoptr(GError) error = NULL;
    g_autoptr(ConfDomainDef) def = conf_domain_parse(input, CONF_DOMAIN_PARSE_STATUS, &error);
    g_autoptr(ConfDomainDef) copy = NULL;
    g_autoptr(ConfDomainDef) plain = NULL;
    g_autofree char *status = NULL;
    g_autofree char *live = NULL;
    g_autofree char *inactive = NULL;
    g_autofree char *copy_status = NULL;
    g_autofree char *plain_live = NULL;

    if (!def)
        g_error("%s: %s", name, error->message);
    status = conf_domain_format(def, CONF_DOMAIN_FORMAT_STATUS);
    g_assert_cmpstr(status, ==, input);
    live = conf_domain_format(def, 0);
    if (regenerate)
        test_write(live_path, live);
    {
        g_autofree char *expected = test_read(live_path);

        g_assert_cmpstr(live, ==, expected);
    }
    test_assert_schema_valid(live_path, live);
    g_assert_null(strstr(live, "privateData"));
    g_assert_null(strstr(live, "nodenameindex"));

    /* no runtime data at all in the inactive form */
    inactive = conf_domain_format(def, CONF_DOMAIN_FORMAT_INACTIVE);
    g_assert_null(strstr(inactive, "<mirror"));
    g_assert_null(strstr(inactive, "relPath"));
    test_assert_schema_valid("inactive output", inactive);

    copy = conf_domain_copy(def);
    copy_status = conf_domain_format(copy, CONF_DOMAIN_FORMAT_STATUS);
    g_assert_cmpstr(copy_status, ==, status);

    /* a client handing back live XML with <mirror> defines no mirror */
    if (!(plain = conf_domain_parse(live, 0, &error)))
        g_error("%s: live XML does not parse: %s", name, error->message);
    plain_live = conf_domain_format(plain, 0);
    g_assert_null(strstr(plain_live, "<mirror"));
}

static void
test_status_fields(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(ConfDomainDef) def = NULL;
    g_autofree char *xml = test_read(STATUS_DIR "/mirror-copy.xml");
    ConfDomainDiskDef *vda = NULL;
    ConfDomainDiskDef *vdb = NULL;

    def = conf_domain_parse(xml, CONF_DOMAIN_PARSE_STATUS, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(def->node_name_index, ==, 12);
    vda = conf_domain_find_disk(def, "vda");
    g_assert_nonnull(vda->mirror);
    g_assert_cmpint(vda->mirror_job, ==, CONF_DOMAIN_DISK_MIRROR_JOB_COPY);
    g_assert_cmpint(vda->mirror_ready, ==, CONF_DOMAIN_DISK_MIRROR_READY_YES);
    g_assert_cmpstr(vda->mirror->path, ==, "/srv/vm/copy.qcow2");
    g_assert_cmpstr(vda->mirror->node_name_format, ==, "libvirt-11-format");
    g_assert_null(vda->src->backing_name_raw);
    g_assert_cmpstr(vda->src->backing->backing_name_raw, ==, "snap1.qcow2");
    g_assert_cmpstr(vda->src->backing->backing->backing_name_raw, ==, "../base/base.qcow2");
    vdb = conf_domain_find_disk(def, "vdb");
    g_assert_cmpint(vdb->mirror_job, ==, CONF_DOMAIN_DISK_MIRROR_JOB_ACTIVE_COMMIT);
    g_assert_cmpint(vdb->mirror_ready, ==, CONF_DOMAIN_DISK_MIRROR_READY_NONE);

    /* without the STATUS flag none of it is taken (and <nodenameindex>,
     * which only status XML has, is refused like any unknown element) */
    g_clear_pointer(&def, conf_domain_def_free);
    def = conf_domain_parse(xml, 0, &error);
    g_assert_null(def);
    g_assert_nonnull(strstr(error->message, "<nodenameindex>"));
    g_clear_error(&error);
    {
        g_auto(GStrv) parts = g_strsplit(xml, "  <nodenameindex>12</nodenameindex>\n", 2);

        g_free(xml);
        xml = g_strjoinv("", parts);
    }
    def = conf_domain_parse(xml, 0, &error);
    g_assert_no_error(error);
    vda = conf_domain_find_disk(def, "vda");
    g_assert_null(vda->mirror);
    g_assert_null(vda->src->backing->backing_name_raw);
    g_assert_cmpuint(def->node_name_index, ==, 0);
}

static void
test_status_errors(void)
{
    static const struct {
        const char *disk;
        const char *message;
    } cases[] = {
        { "<mirror type='file' job='copy'><format type='qcow2'/></mirror>",
          "mirror requires source element" },
        { "<mirror type='file' job='backup'><source file='/c'/></mirror>",
          "job" },
        { "<mirror type='file' job='copy' ready='maybe'><source file='/c'/></mirror>",
          "ready" },
        { "<mirror type='file' job='copy'><source file='/c'/><target dev='x'/></mirror>",
          "unsupported element <target>" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *xml = g_strdup_printf(
            "<domain type='kvm'><name>m</name><memory>1</memory><os><type>hvm</type></os>"
            "<devices><disk type='file'><driver type='qcow2'/><source file='/a'/>%s"
            "<target dev='vda'/></disk></devices></domain>", cases[i].disk);
        g_autoptr(GError) error = NULL;
        g_autoptr(ConfDomainDef) def = conf_domain_parse(xml, CONF_DOMAIN_PARSE_STATUS, &error);

        g_assert_null(def);
        if (!strstr(error->message, cases[i].message))
            g_error("case %zu: '%s' does not contain '%s'", i, error->message, cases[i].message);
    }
    test_assert_error("<domain type='kvm'><name>m</name><memory>1</memory><os><type>hvm</type>"
                      "</os><nodenameindex>7</nodenameindex></domain>", 0,
                      VIR_ERR_CONFIG_UNSUPPORTED, "unsupported element <nodenameindex>");
    test_assert_error("<domain type='kvm'><name>m</name><memory>1</memory><os><type>hvm</type>"
                      "</os><nodenameindex>-1</nodenameindex></domain>", CONF_DOMAIN_PARSE_STATUS,
                      VIR_ERR_XML_ERROR, "invalid node name index");
    test_assert_error("<domain type='kvm'><name>m</name><metadata>loose text</metadata>"
                      "<memory>1</memory><os><type>hvm</type></os></domain>", 0,
                      VIR_ERR_XML_ERROR, "unexpected text in element <metadata>");
}

/* ---- hostile input made here rather than committed ---- */

static void
test_assert_error(const char *xml, unsigned int flags, int code, const char *substring)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(ConfDomainDef) def = conf_domain_parse(xml, flags, &error);

    g_assert_null(def);
    g_assert_nonnull(error);
    g_assert_cmpstr(test_code_name(util_error_code(error)), ==, test_code_name(code));
    if (!strstr(error->message, substring))
        g_error("message '%s' does not contain '%s'", error->message, substring);
}

/* A valid domain padded with comments to @size bytes. */
static char *
test_padded_domain(gsize size)
{
    const char *head = "<domain type='kvm'><name>huge</name><memory>1024</memory>"
                       "<os><type>hvm</type></os>";
    const char *tail = "</domain>";
    GString *xml = g_string_sized_new(size + 1);

    g_string_append(xml, head);
    while (xml->len + strlen(tail) < size) {
        /* comments of 64 KiB: a single node above libxml2's own limit
         * (10^7 bytes) would be refused by libxml2 first */
        gsize chunk = MIN(64 * 1024, size - strlen(tail) - xml->len);

        if (chunk < 8) {
            g_string_append_c(xml, ' ');
            continue;
        }
        g_string_append(xml, "<!--");
        for (gsize i = 0; i < chunk - 7; i++)
            g_string_append_c(xml, 'x');
        g_string_append(xml, "-->");
    }
    g_string_append(xml, tail);
    g_assert_cmpuint(xml->len, ==, size);
    return g_string_free(xml, FALSE);
}

static void
test_huge(void)
{
    g_autofree char *huge = test_padded_domain(20 * 1024 * 1024);
    g_autofree char *limit = test_padded_domain(CONF_DOMAIN_XML_MAX_SIZE);
    g_autofree char *over = test_padded_domain(CONF_DOMAIN_XML_MAX_SIZE + 1);
    g_autoptr(GError) error = NULL;
    g_autoptr(ConfDomainDef) def = NULL;

    test_assert_error(huge, 0, VIR_ERR_XML_ERROR, "too large (20971520 bytes, at most 10485760");
    test_assert_error(over, 0, VIR_ERR_XML_ERROR, "too large (10485761 bytes");
    /* exactly at the limit is parsed */
    def = conf_domain_parse(limit, 0, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(def->name, ==, "huge");
}

static void
test_deep(void)
{
    g_autoptr(GString) xml = g_string_new("<domain type='kvm'><name>deep</name>"
                                          "<memory>1024</memory><os><type>hvm</type></os>"
                                          "<devices><disk type='file' device='disk'>"
                                          "<source file='/l0.qcow2'/><target dev='vda'/>"
                                          "<driver type='qcow2'/>");

    /* 100000 levels: deeper than libxml2 itself allows */
    for (int i = 0; i < 100000; i++)
        g_string_append(xml, "<backingStore type='file'>");
    test_assert_error(xml->str, 0, VIR_ERR_XML_DETAIL, "(domain_definition):1:");
}

/* A chain as deep as the depth limit allows parses, formats and copies
 * without recursion trouble. */
static void
test_long_chain(void)
{
    g_autoptr(GString) xml = g_string_new(NULL);
    g_autoptr(GError) error = NULL;
    g_autoptr(ConfDomainDef) def = NULL;
    g_autoptr(ConfDomainDef) copy = NULL;
    g_autofree char *out = NULL;
    g_autofree char *copy_out = NULL;
    const ConfStorageSource *src = NULL;
    /* domain, devices, disk, depth x backingStore, source: the limit exactly */
    int depth = CONF_DOMAIN_XML_MAX_DEPTH - 4;
    int n = 0;

    g_string_append(xml, "<domain type='kvm'><name>chain</name><memory>1024</memory>"
                         "<os><type>hvm</type></os><devices><disk type='file' device='disk'>"
                         "<driver name='qemu' type='qcow2'/><source file='/i/top.qcow2'/>");
    for (int i = 1; i <= depth; i++)
        g_string_append_printf(xml, "<backingStore type='file'><format type='qcow2'/>"
                                    "<source file='/i/l%d.qcow2'/>", i);
    g_string_append(xml, "<backingStore/>");
    for (int i = 1; i <= depth; i++)
        g_string_append(xml, "</backingStore>");
    g_string_append(xml, "<target dev='vda' bus='virtio'/></disk></devices></domain>");

    def = conf_domain_parse(xml->str, 0, &error);
    g_assert_no_error(error);
    for (src = ((ConfDomainDiskDef *)g_ptr_array_index(def->disks, 0))->src->backing;
         src; src = src->backing) {
        g_autofree char *path = g_strdup_printf("/i/l%d.qcow2", ++n);

        g_assert_cmpstr(src->path, ==, path);
        g_assert_cmpint(src->format, ==, CONF_STORAGE_FORMAT_QCOW2);
        if (!src->backing)
            g_assert_true(src->backing_terminated);
    }
    g_assert_cmpint(n, ==, depth);
    out = conf_domain_format(def, 0);
    test_assert_fixed_point("long chain", out, 0, 0);
    copy = conf_domain_copy(def);
    copy_out = conf_domain_format(copy, 0);
    g_assert_cmpstr(copy_out, ==, out);

    /* one level more is refused */
    g_string_replace(xml, "<backingStore/>",
                     "<backingStore type='file'><format type='raw'/><source file='/i/x'/>"
                     "<backingStore/></backingStore>", 1);
    test_assert_error(xml->str, 0, VIR_ERR_XML_ERROR, "nested too deeply");
}

/* ---- API behaviour ---- */

#define TEST_DISKS_XML \
    "<domain type='kvm'><name>d</name><memory>1024</memory><os><type>hvm</type></os>" \
    "<devices>" \
    "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>" \
    "<source file='/img/active.qcow2'/>" \
    "<backingStore type='file'><format type='qcow2'/><source file='/img/base.qcow2'/>" \
    "<backingStore/></backingStore>" \
    "<target dev='vda' bus='virtio'/></disk>" \
    "<disk type='block' device='disk'><source dev='/dev/vg/data'/>" \
    "<target dev='sdb' bus='scsi'/></disk>" \
    "<disk type='file' device='cdrom'><target dev='hdc' bus='ide'/></disk>" \
    "</devices></domain>"

static void
test_find_disk(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(ConfDomainDef) def = conf_domain_parse(TEST_DISKS_XML, 0, &error);
    ConfDomainDiskDef *disk = NULL;

    g_assert_no_error(error);
    disk = conf_domain_find_disk(def, "vda");
    g_assert_nonnull(disk);
    g_assert_cmpstr(disk->src->path, ==, "/img/active.qcow2");
    g_assert_true(conf_domain_find_disk(def, "/img/active.qcow2") == disk);
    g_assert_true(conf_domain_find_disk(def, "/dev/vg/data") == conf_domain_find_disk(def, "sdb"));
    /* backing files and unknown names never match */
    g_assert_null(conf_domain_find_disk(def, "/img/base.qcow2"));
    g_assert_null(conf_domain_find_disk(def, "vdz"));
    g_assert_null(conf_domain_find_disk(def, NULL));
    /* the empty cdrom is there by target only */
    disk = conf_domain_find_disk(def, "hdc");
    g_assert_nonnull(disk);
    g_assert_null(disk->src->path);
    g_assert_true(disk->readonly);
}

static void
test_chain_model(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(ConfDomainDef) def = conf_domain_parse(TEST_DISKS_XML, 0, &error);
    ConfDomainDiskDef *vda = NULL;
    ConfDomainDiskDef *sdb = NULL;
    g_autoptr(ConfStorageSource) copy = NULL;

    g_assert_no_error(error);
    vda = conf_domain_find_disk(def, "vda");
    sdb = conf_domain_find_disk(def, "sdb");

    /* vda: active -> base -> (ends) */
    g_assert_cmpint(vda->src->type, ==, CONF_STORAGE_TYPE_FILE);
    g_assert_cmpint(vda->src->format, ==, CONF_STORAGE_FORMAT_QCOW2);
    g_assert_false(vda->src->backing_terminated);
    g_assert_nonnull(vda->src->backing);
    g_assert_cmpstr(vda->src->backing->path, ==, "/img/base.qcow2");
    g_assert_null(vda->src->backing->backing);
    g_assert_true(vda->src->backing->backing_terminated);
    /* sdb: chain not known */
    g_assert_cmpint(sdb->src->type, ==, CONF_STORAGE_TYPE_BLOCK);
    g_assert_cmpint(sdb->src->format, ==, CONF_STORAGE_FORMAT_NONE);
    g_assert_null(sdb->src->backing);
    g_assert_false(sdb->src->backing_terminated);

    /* a deep copy */
    copy = conf_storage_source_copy(vda->src);
    g_assert_true(copy != vda->src && copy->backing != vda->src->backing);
    g_assert_cmpstr(copy->backing->path, ==, "/img/base.qcow2");
    g_assert_true(copy->backing->backing_terminated);
    g_assert_null(conf_storage_source_copy(NULL));
}

static void
test_node_names(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(ConfDomainDef) def = conf_domain_parse(TEST_DISKS_XML, 0, &error);
    g_autoptr(ConfDomainDef) back = NULL;
    g_autoptr(ConfDomainDef) ignored = NULL;
    ConfDomainDiskDef *vda = NULL;
    g_autofree char *live = NULL;
    g_autofree char *status = NULL;

    g_assert_no_error(error);
    vda = conf_domain_find_disk(def, "vda");
    vda->src->node_name_storage = g_strdup("libvirt-2-storage");
    vda->src->node_name_format = g_strdup("libvirt-2-format");
    vda->src->backing->node_name_storage = g_strdup("libvirt-1-storage");
    vda->src->backing->node_name_format = g_strdup("libvirt-1-format");

    /* runtime data: only in status XML */
    live = conf_domain_format(def, CONF_DOMAIN_FORMAT_SECURE);
    g_assert_null(strstr(live, "libvirt-2-storage"));
    g_assert_null(strstr(live, "privateData"));
    status = conf_domain_format(def, CONF_DOMAIN_FORMAT_STATUS);
    g_assert_nonnull(strstr(status, "<nodename type='storage' name='libvirt-2-storage'/>"));
    g_assert_nonnull(strstr(status, "<nodename type='format' name='libvirt-1-format'/>"));

    /* read back with STATUS; ignored without */
    back = conf_domain_parse(status, CONF_DOMAIN_PARSE_STATUS, &error);
    g_assert_no_error(error);
    vda = conf_domain_find_disk(back, "vda");
    g_assert_cmpstr(vda->src->node_name_storage, ==, "libvirt-2-storage");
    g_assert_cmpstr(vda->src->backing->node_name_format, ==, "libvirt-1-format");
    ignored = conf_domain_parse(status, 0, &error);
    g_assert_no_error(error);
    vda = conf_domain_find_disk(ignored, "vda");
    g_assert_null(vda->src->node_name_storage);
    g_assert_null(vda->src->backing->node_name_format);
}

static void
test_secure_inactive(void)
{
    const char *xml =
        "<domain type='kvm' id='7'><name>s</name><memory>1024</memory><os><type>hvm</type></os>"
        "<devices><disk type='file' device='disk'><driver type='qcow2'/><source file='/a'/>"
        "<backingStore type='file'><format type='raw'/><source file='/b'/></backingStore>"
        "<target dev='vda'/><alias name='virtio-disk0'/></disk>"
        "<interface type='bridge'><source bridge='br0'/><target dev='vnet3'/></interface>"
        "<serial type='pty'><source path='/dev/pts/4'/></serial>"
        "<graphics type='vnc' port='5904' autoport='yes' passwd='s3cret'/></devices></domain>";
    g_autoptr(GError) error = NULL;
    g_autoptr(ConfDomainDef) def = conf_domain_parse(xml, 0, &error);
    g_autoptr(ConfDomainDef) status_def = NULL;
    g_autofree char *plain = NULL;
    g_autofree char *secure = NULL;
    g_autofree char *live = NULL;
    g_autofree char *inactive = NULL;

    g_assert_no_error(error);
    /* runtime data is dropped from a definition */
    g_assert_cmpint(def->id, ==, -1);
    g_assert_null(((ConfDomainDiskDef *)g_ptr_array_index(def->disks, 0))->info.alias);
    g_assert_null(((ConfDomainNetDef *)g_ptr_array_index(def->nets, 0))->ifname);
    g_assert_null(((ConfDomainChrDef *)g_ptr_array_index(def->serials, 0))->pty_path);
    g_assert_cmpint(((ConfDomainGraphicsDef *)g_ptr_array_index(def->graphics, 0))->port, ==, -1);

    plain = conf_domain_format(def, 0);
    g_assert_null(strstr(plain, "s3cret"));
    secure = conf_domain_format(def, CONF_DOMAIN_FORMAT_SECURE);
    g_assert_nonnull(strstr(secure, "passwd='s3cret'"));
    g_assert_nonnull(strstr(secure, "<backingStore type='file' index='1'>"));

    /* ... and kept in status XML, shown live, hidden inactive */
    status_def = conf_domain_parse(xml, CONF_DOMAIN_PARSE_STATUS, &error);
    g_assert_no_error(error);
    live = conf_domain_format(status_def, 0);
    g_assert_nonnull(strstr(live, "<domain type='kvm' id='7'>"));
    g_assert_nonnull(strstr(live, "<alias name='virtio-disk0'/>"));
    g_assert_nonnull(strstr(live, "<target dev='vnet3'/>"));
    g_assert_nonnull(strstr(live, "<source path='/dev/pts/4'/>"));
    g_assert_nonnull(strstr(live, "<console type='pty' tty='/dev/pts/4'>"));
    g_assert_nonnull(strstr(live, "port='5904' autoport='yes'"));
    inactive = conf_domain_format(status_def, CONF_DOMAIN_FORMAT_INACTIVE);
    g_assert_null(strstr(inactive, "id='7'"));
    g_assert_null(strstr(inactive, "virtio-disk0"));
    g_assert_null(strstr(inactive, "vnet3"));
    g_assert_null(strstr(inactive, "/dev/pts/4"));
    g_assert_null(strstr(inactive, "index="));
    g_assert_nonnull(strstr(inactive, "port='-1' autoport='yes'"));
}

static void
test_uuid_forms(void)
{
    static const char *const forms[] = {
        "0123456789abcdef0123456789ABCDEF",
        "01234567-89ab-cdef-0123-456789abcdef",
        "  01234567-89AB-CDEF-0123-456789ABCDEF\n ",
        "01-23-45-67-89-ab-cd-ef-01-23-45-67-89-ab-cd-ef",
        "01 23 4567 89ab cdef 0123 4567 89ab cdef",
    };
    static const char *const bad[] = {
        "0123456789abcdef0123456789abcde",
        "0123456789abcdef0123456789abcdef0",
        "0123456789abcdef0123456789abcdeg",
        "0-123456789abcdef0123456789abcdef",
        "",
    };

    for (size_t i = 0; i < G_N_ELEMENTS(forms); i++) {
        g_autofree char *xml = g_strdup_printf("<domain type='kvm'><name>u</name><uuid>%s</uuid>"
                                               "<memory>1</memory><os><type>hvm</type></os>"
                                               "</domain>", forms[i]);
        g_autoptr(GError) error = NULL;
        g_autoptr(ConfDomainDef) def = conf_domain_parse(xml, 0, &error);
        g_autofree char *out = NULL;

        g_assert_no_error(error);
        g_assert_false(def->uuid_generated);
        out = conf_domain_format(def, 0);
        g_assert_nonnull(strstr(out, "<uuid>01234567-89ab-cdef-0123-456789abcdef</uuid>"));
    }
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autofree char *xml = g_strdup_printf("<domain type='kvm'><name>u</name><uuid>%s</uuid>"
                                               "<memory>1</memory><os><type>hvm</type></os>"
                                               "</domain>", bad[i]);

        test_assert_error(xml, 0, VIR_ERR_XML_ERROR, "malformed uuid element");
    }
}

static void
test_memory_units(void)
{
    static const struct {
        const char *unit;
        const char *value;
        unsigned long long kib;
    } cases[] = {
        { NULL, "1024", 1024 },
        { "b", "1025", 2 },
        { "bytes", "2048", 2 },
        { "KB", "1001", 978 },
        { "k", "3", 3 },
        { "KiB", "3", 3 },
        { "kb", "1000", 977 },
        { "MB", "1", 977 },
        { "M", "1", 1024 },
        { "MiB", "512", 524288 },
        { "GB", "1", 976563 },
        { "G", "2", 2097152 },
        { "GiB", "2", 2097152 },
        { "TB", "1", 976562500 },
        { "T", "1", 1073741824 },
        { "TiB", "1", 1073741824 },
        { "TiB", "8388607", 9007198180999168ULL },   /* just below 2^63 bytes */
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *unit = cases[i].unit ? g_strdup_printf(" unit='%s'", cases[i].unit)
                                              : g_strdup("");
        g_autofree char *xml = g_strdup_printf("<domain type='kvm'><name>m</name>"
                                               "<memory%s>%s</memory>"
                                               "<os><type>hvm</type></os></domain>",
                                               unit, cases[i].value);
        g_autoptr(GError) error = NULL;
        g_autoptr(ConfDomainDef) def = conf_domain_parse(xml, 0, &error);

        g_assert_no_error(error);
        g_assert_cmpuint(def->memory_kib, ==, cases[i].kib);
        g_assert_cmpuint(def->current_memory_kib, ==, cases[i].kib);
    }
    test_assert_error("<domain type='kvm'><name>m</name><memory unit='TiB'>8388608</memory>"
                      "<os><type>hvm</type></os></domain>", 0, VIR_ERR_OVERFLOW, "too large");
    test_assert_error("<domain type='kvm'><name>m</name><memory unit='XiB'>1</memory>"
                      "<os><type>hvm</type></os></domain>", 0, VIR_ERR_INVALID_ARG,
                      "unknown suffix 'XiB'");
    test_assert_error("<domain type='kvm'><name>m</name><memory> 1</memory>"
                      "<os><type>hvm</type></os></domain>", 0, VIR_ERR_XML_ERROR,
                      "Invalid value ' 1'");
}

static void
test_name_rules(void)
{
    g_autofree char *long_name = g_strnfill(256, 'n');
    g_autofree char *max_name = g_strnfill(255, 'n');
    g_autofree char *xml_long = g_strdup_printf("<domain type='kvm'><name>%s</name><memory>1</memory>"
                                                "<os><type>hvm</type></os></domain>", long_name);
    g_autofree char *xml_max = g_strdup_printf("<domain type='kvm'><name>%s</name><memory>1</memory>"
                                               "<os><type>hvm</type></os></domain>", max_name);
    g_autoptr(GError) error = NULL;
    g_autoptr(ConfDomainDef) def = NULL;

    test_assert_error(xml_long, 0, VIR_ERR_XML_ERROR, "too long (256 bytes");
    def = conf_domain_parse(xml_max, 0, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(strlen(def->name), ==, 255);
    test_assert_error("<domain type='kvm'><name>.</name><memory>1</memory>"
                      "<os><type>hvm</type></os></domain>", 0, VIR_ERR_XML_ERROR,
                      "name '.' is not allowed");
    test_assert_error("<domain type='kvm'><name></name><memory>1</memory>"
                      "<os><type>hvm</type></os></domain>", 0, VIR_ERR_NO_NAME,
                      "missing name information");
}

static void
test_bad_flags(void)
{
    test_assert_error("<domain/>", 1 << 7, VIR_ERR_INVALID_ARG, "unsupported flags (0x80)");
}

static void
test_schema_path(void)
{
    g_autofree char *path = NULL;

    /* run from the build tree: the source tree's schema */
    g_unsetenv("MODVIRT_SCHEMA_DIR");
    path = conf_domain_schema_path();
    g_assert_cmpstr(path, ==, SCHEMA);
    g_clear_pointer(&path, g_free);

    g_setenv("MODVIRT_SCHEMA_DIR", "/nonexistent", TRUE);
    path = conf_domain_schema_path();
    g_assert_cmpstr(path, ==, "/nonexistent/domain.rng");
    test_assert_error("<domain type='kvm'><name>m</name><memory>1</memory>"
                      "<os><type>hvm</type></os></domain>", CONF_DOMAIN_PARSE_VALIDATE,
                      VIR_ERR_SYSTEM_ERROR, "unable to load the schema");
    g_unsetenv("MODVIRT_SCHEMA_DIR");
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
        g_autofree char *path = g_strdup_printf("/domain-xml/golden/%s",
                                                (char *)g_ptr_array_index(names, i));

        g_test_add_data_func(path, g_ptr_array_index(names, i), test_golden);
    }

    {
        g_autoptr(GDir) sdir = g_dir_open(STATUS_DIR, 0, NULL);
        g_autoptr(GPtrArray) snames = g_ptr_array_new();

        g_assert_nonnull(sdir);
        while ((entry = g_dir_read_name(sdir))) {
            if (g_str_has_suffix(entry, ".xml") && !g_str_has_suffix(entry, ".live.xml"))
                g_ptr_array_add(snames, g_strndup(entry, strlen(entry) - strlen(".xml")));
        }
        g_ptr_array_sort(snames, test_compare_names);
        for (guint i = 0; i < snames->len; i++) {
            g_autofree char *path = g_strdup_printf("/domain-xml/status/%s",
                                                    (char *)g_ptr_array_index(snames, i));

            g_ptr_array_add(names, g_ptr_array_index(snames, i));
            g_test_add_data_func(path, g_ptr_array_index(snames, i), test_status_golden);
        }
    }
    g_test_add_func("/domain-xml/status/fields", test_status_fields);
    g_test_add_func("/domain-xml/status/errors", test_status_errors);
    g_test_add_func("/domain-xml/hostile/huge", test_huge);
    g_test_add_func("/domain-xml/hostile/deep", test_deep);
    g_test_add_func("/domain-xml/chain/long", test_long_chain);
    g_test_add_func("/domain-xml/chain/model", test_chain_model);
    g_test_add_func("/domain-xml/chain/node-names", test_node_names);
    g_test_add_func("/domain-xml/api/find-disk", test_find_disk);
    g_test_add_func("/domain-xml/api/secure-inactive", test_secure_inactive);
    g_test_add_func("/domain-xml/api/bad-flags", test_bad_flags);
    g_test_add_func("/domain-xml/api/schema-path", test_schema_path);
    g_test_add_func("/domain-xml/values/uuid", test_uuid_forms);
    g_test_add_func("/domain-xml/values/memory", test_memory_units);
    g_test_add_func("/domain-xml/values/name", test_name_rules);

    ret = g_test_run();
    xmlRelaxNGFree(schema);
    return ret;
}
