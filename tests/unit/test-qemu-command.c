/*
 * test-qemu-command.c: the QEMU post-parse, node names and aliases, and
 * the QEMU 7.2 command line (virtqemud/qemu-postparse.c, qemu-command.c).
 *
 * Golden files in tests/data/qemuargs: NAME.xml is parsed, post-parsed
 * with canned QEMU 7.2 x86_64 capabilities, named and built into a
 * command line; NAME.args holds the expected argv, one argument per line;
 * NAME.out.xml the definition after the post-parse as `virsh dumpxml`
 * would show it (what libvirt adds: machine, controllers, inputs, video,
 * balloon, addresses); NAME.err the expected failure (first line the
 * libvirt error code name, second line a substring of the message), from
 * the post-parse or from the builder.  Cases named nokvm-* run with
 * capabilities that say KVM does not work.  The harness plays the caller's
 * part: VNC autoport gets port 5900, bridge/network interfaces get tap fds
 * 30, 31, ...
 *
 * MODVIRT_REGENERATE=1 rewrites the golden files from what the code does
 * now; review the diff like code.
 *
 * For some cases the argv is also run for real: images made with qemu-img
 * in a temporary directory, QEMU 7.2 started (TCG, -S), and QMP asked
 * which block nodes exist and how they chain (skipped without
 * qemu-system-x86_64 / qemu-img).
 */
#define G_LOG_DOMAIN "modvirt.test.qemu-command"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "conf-domain.h"
#include "qemu-caps.h"
#include "qemu-command.h"
#include "qemu-monitor.h"
#include "util-error.h"

#define DATA_DIR MODVIRT_SRCDIR "/tests/data/qemuargs"
#define CAPS_FILE MODVIRT_SRCDIR "/tests/data/qemucaps/qemu-7.2-x86_64.json"
#define QEMU_WAIT_MS 10000

static bool regenerate;

/* ---------------------------------------------------------------------- */
/* canned capabilities                                                    */

static const char *const test_devices[] = {
    "pcie-root-port", "pci-bridge", "piix3-usb-uhci", "piix4-usb-uhci", "usb-ehci",
    "ich9-usb-ehci1", "ich9-usb-uhci1", "nec-usb-xhci", "qemu-xhci", "lsi53c895a",
    "virtio-scsi-pci", "ich9-ahci", "virtio-serial-pci", "virtconsole", "ide-hd", "ide-cd",
    "scsi-hd", "scsi-cd", "usb-storage", "virtio-blk-pci", "virtio-net-pci", "e1000", "e1000e",
    "rtl8139", "isa-serial", "usb-tablet", "usb-mouse", "usb-kbd", "virtio-tablet-pci",
    "virtio-mouse-pci", "virtio-keyboard-pci", "VGA", "cirrus-vga", "qxl-vga", "qxl",
    "virtio-vga", "virtio-gpu-pci", "virtio-balloon-pci",
};

static const struct {
    const char *name;
    const char *alias;
    bool is_default;
} test_machines[] = {
    { "pc-i440fx-7.2", "pc", true }, { "pc-i440fx-7.1", NULL, false },
    { "pc-q35-7.2", "q35", false }, { "pc-q35-7.1", NULL, false },
    { "isapc", NULL, false }, { "microvm", NULL, false }, { "none", NULL, false },
};

static const char *const test_cpu_models[] = {
    "qemu64", "max", "host", "Skylake-Client", "Haswell-noTSX", "EPYC",
};

/* QEMU 7.2 x86_64 as Debian 12 ships it: the JSON of the capabilities
 * probe when it is in the tree, else the same facts made by hand. */
static QemuCaps *
test_caps_new(bool kvm)
{
    QemuCaps *caps = NULL;

    if (g_file_test(CAPS_FILE, G_FILE_TEST_EXISTS)) {
        g_autoptr(GError) error = NULL;

        caps = qemu_caps_load_file(CAPS_FILE, &error);
        g_assert_no_error(error);
        caps->kvm = kvm;
        return caps;
    }
    caps = qemu_caps_new();
    caps->binary = g_strdup("/usr/bin/qemu-system-x86_64");
    caps->arch = g_strdup("x86_64");
    caps->version = 7002000;
    caps->package = g_strdup("Debian 1:7.2+dfsg-7+deb12u7");
    caps->kvm = kvm;
    for (size_t i = 0; i < G_N_ELEMENTS(test_machines); i++) {
        QemuCapsMachine *m = g_new0(QemuCapsMachine, 1);

        m->name = g_strdup(test_machines[i].name);
        m->alias = g_strdup(test_machines[i].alias);
        m->is_default = test_machines[i].is_default;
        m->max_cpus = 255;
        g_ptr_array_add(caps->machines, m);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(test_devices); i++)
        g_hash_table_add(caps->devices, g_strdup(test_devices[i]));
    for (size_t i = 0; i < G_N_ELEMENTS(test_cpu_models); i++)
        g_ptr_array_add(caps->cpu_models, g_strdup(test_cpu_models[i]));
    return caps;
}

/* ---------------------------------------------------------------------- */
/* helpers                                                                */

/* The text of @path; with @replace, writes @replace there first. */
static char *
test_file(const char *path, const char *replace)
{
    g_autofree char *text = NULL;
    g_autoptr(GError) error = NULL;

    if (replace && !g_file_set_contents(path, replace, -1, &error))
        g_error("cannot write %s: %s", path, error->message);
    if (!g_file_get_contents(path, &text, NULL, &error))
        g_error("cannot read %s: %s", path, error->message);
    return g_steal_pointer(&text);
}

static void
test_compare_golden(const char *path, const char *actual)
{
    g_autofree char *expected = test_file(path, regenerate ? actual : NULL);

    if (!g_str_equal(expected, actual))
        g_error("%s differs; got:\n%s", path, actual);
}

static const char *
test_code_name(int code)
{
    return util_error_code_name(code);
}

static const int test_tap_fds[] = { 30, 31, 32, 33 };

static void
test_options(QemuCommandOptions *opts, const char *name)
{
    memset(opts, 0, sizeof(*opts));
    opts->monitor_path = "/run/modvirt/qemu/domain-1-test/monitor.sock";
    opts->pidfile = "/run/modvirt/qemu/test.pid";
    opts->libdir = "/var/lib/modvirt/qemu/domain-1-test";
    opts->tap_fds = test_tap_fds;
    opts->n_tap_fds = G_N_ELEMENTS(test_tap_fds);
    (void)name;
}

/* What process start does before building: choose VNC ports. */
static void
test_choose_ports(ConfDomainDef *def)
{
    for (guint i = 0; i < def->graphics->len; i++) {
        ConfDomainGraphicsDef *g = g_ptr_array_index(def->graphics, i);

        if (g->port < 0)
            g->port = 5900 + (int)i;
    }
}

static char *
test_join_argv(GStrv argv)
{
    g_autoptr(GString) out = g_string_new(NULL);

    for (guint i = 0; argv[i]; i++) {
        g_string_append(out, argv[i]);
        g_string_append_c(out, '\n');
    }
    return g_string_free(g_steal_pointer(&out), FALSE);
}

/* Every node name of the domain, checking that none is given twice. */
static GHashTable *
test_collect_node_names(const ConfDomainDef *def)
{
    GHashTable *names = g_hash_table_new(g_str_hash, g_str_equal);

    for (guint i = 0; i < def->disks->len; i++) {
        const ConfDomainDiskDef *disk = g_ptr_array_index(def->disks, i);

        if (!disk->src->path)
            continue;
        for (const ConfStorageSource *n = disk->src; n; n = n->backing) {
            g_assert_nonnull(n->node_name_storage);
            g_assert_nonnull(n->node_name_format);
            if (!g_hash_table_add(names, n->node_name_storage) ||
                !g_hash_table_add(names, n->node_name_format))
                g_error("node name given twice: %s / %s", n->node_name_storage, n->node_name_format);
        }
    }
    return names;
}

typedef struct {
    ConfDomainDef *def;
    GStrv argv;
    GError *error;
} TestRun;

static void
test_run_clear(TestRun *run)
{
    conf_domain_def_free(run->def);
    g_strfreev(run->argv);
    g_clear_error(&run->error);
}

/* parse, post-parse, name, build: what process start does */
static void
test_run(const char *name, const char *xml, bool kvm, TestRun *run)
{
    g_autoptr(QemuCaps) caps = test_caps_new(kvm);
    QemuCommandOptions opts;

    memset(run, 0, sizeof(*run));
    run->def = conf_domain_parse(xml, 0, &run->error);
    if (!run->def)
        g_error("%s: does not parse: %s", name, run->error->message);
    if (!qemu_domain_def_postparse(run->def, caps, &run->error))
        return;
    qemu_command_assign_names(run->def);
    test_choose_ports(run->def);
    test_options(&opts, name);
    run->argv = qemu_command_build(run->def, caps, &opts, &run->error);
}

/* ---------------------------------------------------------------------- */
/* golden cases                                                           */

static void
test_golden_valid(const char *name, const char *xml, TestRun *run)
{
    g_autofree char *args_path = g_strdup_printf("%s/%s.args", DATA_DIR, name);
    g_autofree char *out_path = g_strdup_printf("%s/%s.out.xml", DATA_DIR, name);
    g_autofree char *args = test_join_argv(run->argv);
    g_autofree char *out = NULL;
    g_autofree char *again_out = NULL;
    g_autofree char *status = NULL;
    g_autofree char *status2 = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(ConfDomainDef) again = NULL;
    g_autoptr(ConfDomainDef) validated = NULL;
    g_autoptr(QemuCaps) caps = test_caps_new(true);
    g_autoptr(GHashTable) names = NULL;

    (void)xml;
    g_assert_null(run->error);
    test_compare_golden(args_path, args);

    /* what dumpxml shows after define */
    out = conf_domain_format(run->def, CONF_DOMAIN_FORMAT_INACTIVE | CONF_DOMAIN_FORMAT_SECURE);
    test_compare_golden(out_path, out);

    /* it is valid, and defining it again changes nothing */
    validated = conf_domain_parse(out, CONF_DOMAIN_PARSE_VALIDATE, &error);
    g_assert_no_error(error);
    again = conf_domain_parse(out, 0, &error);
    g_assert_no_error(error);
    g_assert_true(qemu_domain_def_postparse(again, caps, &error));
    g_assert_no_error(error);
    again_out = conf_domain_format(again, CONF_DOMAIN_FORMAT_INACTIVE | CONF_DOMAIN_FORMAT_SECURE);
    g_assert_cmpstr(again_out, ==, out);

    /* names: unique, and assigning again changes nothing */
    names = test_collect_node_names(run->def);
    status = conf_domain_format(run->def, CONF_DOMAIN_FORMAT_STATUS);
    qemu_command_assign_names(run->def);
    status2 = conf_domain_format(run->def, CONF_DOMAIN_FORMAT_STATUS);
    g_assert_cmpstr(status2, ==, status);

    /* every disk with media is attached to its top format node */
    for (guint i = 0; i < run->def->disks->len; i++) {
        const ConfDomainDiskDef *disk = g_ptr_array_index(run->def->disks, i);
        g_autofree char *drive = NULL;

        if (!disk->src->path)
            continue;
        drive = g_strdup_printf("drive=%s,", disk->src->node_name_format);
        if (!strstr(args, drive))
            g_error("%s: no -device with %s", name, drive);
    }
}

static void
test_golden(gconstpointer data)
{
    const char *name = data;
    g_autofree char *xml_path = g_strdup_printf("%s/%s.xml", DATA_DIR, name);
    g_autofree char *err_path = g_strdup_printf("%s/%s.err", DATA_DIR, name);
    g_autofree char *xml = test_file(xml_path, NULL);
    bool kvm = !g_str_has_prefix(name, "nokvm-");
    TestRun run;

    test_run(name, xml, kvm, &run);
    if (run.error) {
        const char *code = test_code_name(util_error_code(run.error));

        g_assert_true(util_error_domain(run.error) == VIR_FROM_QEMU);
        g_assert_false(g_str_has_suffix(run.error->message, "\n"));
        if (!g_file_test(err_path, G_FILE_TEST_EXISTS) && !regenerate)
            g_error("%s: unexpected failure: %s: %s", name, code, run.error->message);
        {
            g_autofree char *text = g_strdup_printf("%s\n%s\n", code, run.error->message);
            g_autofree char *expected = test_file(err_path, regenerate ? text : NULL);
            g_auto(GStrv) lines = g_strsplit(expected, "\n", 3);

            g_assert_nonnull(lines[0]);
            g_assert_nonnull(lines[1]);
            g_assert_cmpstr(code, ==, lines[0]);
            if (!strstr(run.error->message, lines[1]))
                g_error("%s: message '%s' does not contain '%s'", name, run.error->message, lines[1]);
        }
        test_run_clear(&run);
        return;
    }
    if (g_file_test(err_path, G_FILE_TEST_EXISTS))
        g_error("%s: built, but %s expects an error", name, err_path);
    test_golden_valid(name, xml, &run);
    test_run_clear(&run);
}

/* ---------------------------------------------------------------------- */
/* behaviour                                                              */

#define TEST_CHAIN_XML \
    "<domain type='kvm'><name>n</name><memory>1024</memory><os><type>hvm</type></os>" \
    "<devices>" \
    "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>" \
    "<source file='/i/top.qcow2'/>" \
    "<backingStore type='file'><format type='qcow2'/><source file='/i/base.qcow2'/>" \
    "<backingStore/></backingStore><target dev='vda'/></disk>" \
    "<disk type='file' device='disk'><driver name='qemu' type='raw'/>" \
    "<source file='/i/data.raw'/><target dev='vdb'/></disk>" \
    "<disk type='file' device='cdrom'><target dev='hdc'/></disk>" \
    "</devices></domain>"

static ConfDomainDef *
test_chain_def(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(QemuCaps) caps = test_caps_new(true);
    ConfDomainDef *def = conf_domain_parse(TEST_CHAIN_XML, 0, &error);

    g_assert_no_error(error);
    g_assert_true(qemu_domain_def_postparse(def, caps, &error));
    g_assert_no_error(error);
    return def;
}

static void
test_names_libvirt_order(void)
{
    g_autoptr(ConfDomainDef) def = test_chain_def();
    ConfDomainDiskDef *vda = NULL, *vdb = NULL, *hdc = NULL;

    qemu_command_assign_names(def);
    vda = conf_domain_find_disk(def, "vda");
    vdb = conf_domain_find_disk(def, "vdb");
    hdc = conf_domain_find_disk(def, "hdc");
    /* the last disk first, each chain from the top down */
    g_assert_cmpstr(vdb->src->node_name_storage, ==, "libvirt-1-storage");
    g_assert_cmpstr(vdb->src->node_name_format, ==, "libvirt-1-format");
    g_assert_cmpstr(vda->src->node_name_format, ==, "libvirt-2-format");
    g_assert_cmpstr(vda->src->backing->node_name_storage, ==, "libvirt-3-storage");
    g_assert_cmpstr(vda->src->backing->node_name_format, ==, "libvirt-3-format");
    /* an empty cdrom has no nodes */
    g_assert_null(hdc->src->node_name_format);
    /* aliases */
    g_assert_cmpstr(vda->info.alias, ==, "virtio-disk0");
    g_assert_cmpstr(vdb->info.alias, ==, "virtio-disk1");
    g_assert_cmpstr(hdc->info.alias, ==, "ide0-1-0");
    g_assert_cmpstr(def->memballoon->info.alias, ==, "balloon0");
}

static void
test_names_never_reused(void)
{
    g_autoptr(ConfDomainDef) def = test_chain_def();
    g_autoptr(GHashTable) before = NULL;
    g_autoptr(GHashTable) after = NULL;
    ConfDomainDiskDef *vda = NULL;
    ConfStorageSource *overlay = NULL;
    ConfStorageSource *old_base = NULL;
    unsigned int counter = 1;

    qemu_command_assign_names_counter(def, &counter);
    g_assert_cmpuint(counter, ==, 4);
    before = test_collect_node_names(def);
    g_assert_cmpuint(g_hash_table_size(before), ==, 6);

    /* a snapshot puts a new overlay on top of vda; a commit removed its
     * base earlier: the free numbers are not handed out again */
    vda = conf_domain_find_disk(def, "vda");
    old_base = g_steal_pointer(&vda->src->backing);
    vda->src->backing_terminated = true;
    conf_storage_source_free(old_base);
    overlay = conf_storage_source_new(CONF_STORAGE_TYPE_FILE);
    overlay->path = g_strdup("/i/snap.qcow2");
    overlay->format = CONF_STORAGE_FORMAT_QCOW2;
    overlay->backing = vda->src;
    vda->src = overlay;
    qemu_command_assign_names_counter(def, &counter);
    g_assert_cmpuint(counter, ==, 5);
    g_assert_cmpstr(overlay->node_name_storage, ==, "libvirt-4-storage");
    g_assert_cmpstr(overlay->node_name_format, ==, "libvirt-4-format");
    g_assert_cmpstr(overlay->backing->node_name_format, ==, "libvirt-2-format");
    after = test_collect_node_names(def);
    g_assert_cmpuint(g_hash_table_size(after), ==, 6);

    /* a layer named by someone else keeps its name; a half-named one is
     * completed with the same number */
    g_free(overlay->node_name_format);
    overlay->node_name_format = NULL;
    g_free(overlay->backing->node_name_storage);
    overlay->backing->node_name_storage = g_strdup("custom-node");
    g_free(overlay->backing->node_name_format);
    overlay->backing->node_name_format = g_strdup("custom-fmt");
    qemu_command_assign_names_counter(def, &counter);
    g_assert_cmpstr(overlay->node_name_format, ==, "libvirt-4-format");
    g_assert_cmpstr(overlay->backing->node_name_storage, ==, "custom-node");
    g_assert_cmpstr(overlay->backing->node_name_format, ==, "custom-fmt");
}

static void
test_names_survive_status(void)
{
    g_autoptr(ConfDomainDef) def = test_chain_def();
    g_autoptr(ConfDomainDef) back = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *status = NULL;
    g_autofree char *status2 = NULL;

    qemu_command_assign_names(def);
    status = conf_domain_format(def, CONF_DOMAIN_FORMAT_STATUS);
    /* a daemon restart reads the status XML back: same names, nothing new */
    back = conf_domain_parse(status, CONF_DOMAIN_PARSE_STATUS, &error);
    g_assert_no_error(error);
    qemu_command_assign_names(back);
    status2 = conf_domain_format(back, CONF_DOMAIN_FORMAT_STATUS);
    g_assert_cmpstr(status2, ==, status);
}

/* @xml (NULL: the chain domain) post-parsed, named unless @skip_names,
 * built with @opts: must fail with @code and a message containing @msg. */
static void
test_build_fails(const char *xml, bool skip_names, const QemuCommandOptions *opts,
                 int code, const char *msg)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(ConfDomainDef) def = NULL;
    g_autoptr(QemuCaps) caps = test_caps_new(true);
    GStrv argv = NULL;

    if (xml) {
        def = conf_domain_parse(xml, 0, &error);
        g_assert_no_error(error);
        g_assert_true(qemu_domain_def_postparse(def, caps, &error));
    } else {
        def = test_chain_def();
    }
    if (!skip_names)
        qemu_command_assign_names(def);
    argv = qemu_command_build(def, caps, opts, &error);
    g_assert_null(argv);
    g_assert_cmpstr(util_error_code_name(util_error_code(error)), ==, util_error_code_name(code));
    if (!strstr(error->message, msg))
        g_error("message '%s' does not contain '%s'", error->message, msg);
}

static void
test_build_needs_names(void)
{
    QemuCommandOptions opts;

    test_options(&opts, "n");
    test_build_fails(NULL, true, &opts, VIR_ERR_INTERNAL_ERROR, "names not assigned");
}

static void
test_build_tap_fds(void)
{
    const int one_fd[] = { 7 };
    QemuCommandOptions opts;

    test_options(&opts, "t");
    opts.tap_fds = one_fd;
    opts.n_tap_fds = 1;
    test_build_fails("<domain type='kvm'><name>t</name><memory>1024</memory><os><type>hvm</type></os>"
                     "<devices><interface type='bridge'><mac address='52:54:00:00:00:01'/>"
                     "<source bridge='br0'/></interface><interface type='bridge'>"
                     "<mac address='52:54:00:00:00:02'/><source bridge='br1'/></interface>"
                     "</devices></domain>",
                     false, &opts, VIR_ERR_INTERNAL_ERROR, "no tap file descriptor for interface 1");
}

static void
test_build_vnc_port_not_chosen(void)
{
    QemuCommandOptions opts;

    test_options(&opts, "v");
    test_build_fails("<domain type='kvm'><name>v</name><memory>1024</memory><os><type>hvm</type></os>"
                     "<devices><graphics type='vnc' autoport='yes'/></devices></domain>",
                     false, &opts, VIR_ERR_INTERNAL_ERROR, "VNC port");
}

/* A device type the binary lacks is refused, naming it. */
static void
test_build_missing_device(void)
{
    g_autoptr(ConfDomainDef) def = test_chain_def();
    g_autoptr(QemuCaps) caps = test_caps_new(true);
    g_autoptr(GError) error = NULL;
    QemuCommandOptions opts;
    GStrv argv = NULL;

    qemu_command_assign_names(def);
    g_hash_table_remove(caps->devices, "virtio-blk-pci");
    test_options(&opts, "n");
    argv = qemu_command_build(def, caps, &opts, &error);
    g_assert_null(argv);
    g_assert_cmpint(util_error_code(error), ==, VIR_ERR_CONFIG_UNSUPPORTED);
    g_assert_nonnull(strstr(error->message, "'virtio-blk-pci'"));
}

/* ---------------------------------------------------------------------- */
/* the real thing                                                         */

typedef struct {
    char *qemu;
    char *qemu_img;
} TestTools;

static TestTools tools;

static void
test_spawn_ok(const char *const *argv)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *err = NULL;
    int status = 0;

    if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL,
                      &err, &status, &error))
        g_error("%s: %s", argv[0], error->message);
    if (!g_spawn_check_wait_status(status, &error))
        g_error("%s failed: %s", argv[0], err);
}

/* Create every image of @src's chain, the bottom first. */
static void
test_make_chain(const ConfStorageSource *src)
{
    const char *fmt = src->format == CONF_STORAGE_FORMAT_QCOW2 ? "qcow2" : "raw";

    if (src->backing)
        test_make_chain(src->backing);
    {
        g_autofree char *parent = g_path_get_dirname(src->path);

        g_assert_cmpint(g_mkdir_with_parents(parent, 0700), ==, 0);
    }
    if (src->backing) {
        const char *bfmt = src->backing->format == CONF_STORAGE_FORMAT_QCOW2 ? "qcow2" : "raw";
        const char *argv[] = { tools.qemu_img, "create", "-q", "-f", fmt, "-F", bfmt,
                               "-b", src->backing->path, src->path, "16M", NULL };

        test_spawn_ok(argv);
    } else {
        const char *argv[] = { tools.qemu_img, "create", "-q", "-f", fmt, src->path, "16M", NULL };

        test_spawn_ok(argv);
    }
}

static json_object *
test_find_node(json_object *nodes, const char *name)
{
    for (size_t i = 0; i < json_object_array_length(nodes); i++) {
        json_object *node = json_object_array_get_idx(nodes, i);
        json_object *nn = NULL;

        if (json_object_object_get_ex(node, "node-name", &nn) &&
            g_str_equal(json_object_get_string(nn), name))
            return node;
    }
    return NULL;
}

static const char *
test_json_str(json_object *obj, const char *key)
{
    json_object *v = NULL;

    if (!obj || !json_object_object_get_ex(obj, key, &v))
        return NULL;
    return json_object_get_string(v);
}

static bool
test_json_bool(json_object *obj, const char *key)
{
    json_object *v = NULL;

    g_assert_true(json_object_object_get_ex(obj, key, &v));
    return json_object_get_boolean(v);
}

static void
test_check_disk(const ConfDomainDiskDef *disk, json_object *nodes, json_object *block)
{
    json_object *dev = NULL;
    json_object *inserted = NULL;
    json_object *image = NULL;

    /* every layer: a format node on a file node, read-only below the top */
    for (const ConfStorageSource *n = disk->src; n; n = n->backing) {
        json_object *fmt = test_find_node(nodes, n->node_name_format);
        json_object *sto = test_find_node(nodes, n->node_name_storage);

        if (!fmt || !sto)
            g_error("QEMU has no node %s / %s", n->node_name_format, n->node_name_storage);
        g_assert_cmpstr(test_json_str(fmt, "drv"), ==, conf_storage_format_to_string(n->format));
        g_assert_cmpstr(test_json_str(sto, "drv"), ==, "file");
        g_assert_cmpstr(test_json_str(sto, "file"), ==, n->path);
        g_assert_true(test_json_bool(fmt, "ro") == (n != disk->src || disk->readonly));
        /* the format node's backing is the next layer's format node */
        if (n->backing) {
            json_object *img = NULL, *backing_img = NULL;

            g_assert_true(json_object_object_get_ex(fmt, "image", &img));
            g_assert_true(json_object_object_get_ex(img, "backing-image", &backing_img));
            g_assert_cmpstr(test_json_str(backing_img, "filename"), ==, n->backing->path);
        }
    }

    /* the guest device sits on the top format node, which sees the chain */
    for (size_t i = 0; i < json_object_array_length(block); i++) {
        json_object *d = json_object_array_get_idx(block, i);
        const char *qdev = test_json_str(d, "qdev");

        if (qdev && (g_str_equal(qdev, disk->info.alias) ||
                     (g_str_has_prefix(qdev, "/machine/peripheral/") &&
                      g_str_has_prefix(qdev + strlen("/machine/peripheral/"), disk->info.alias) &&
                      qdev[strlen("/machine/peripheral/") + strlen(disk->info.alias)] == '/')))
            dev = d;
    }
    if (!dev)
        g_error("query-block has no device %s", disk->info.alias);
    g_assert_true(json_object_object_get_ex(dev, "inserted", &inserted));
    g_assert_cmpstr(test_json_str(inserted, "node-name"), ==, disk->src->node_name_format);
    g_assert_true(json_object_object_get_ex(inserted, "image", &image));
    for (const ConfStorageSource *n = disk->src; n; n = n->backing) {
        g_assert_nonnull(image);
        g_assert_cmpstr(test_json_str(image, "filename"), ==, n->path);
        if (!json_object_object_get_ex(image, "backing-image", &image))
            image = NULL;
    }
    g_assert_null(image);
}

static void
test_qemu(gconstpointer data)
{
    const char *name = data;
    g_autofree char *xml_path = g_strdup_printf("%s/%s.xml", DATA_DIR, name);
    g_autofree char *xml = test_file(xml_path, NULL);
    g_autoptr(GError) error = NULL;
    g_autofree char *dir = NULL;
    g_autofree char *images = NULL;
    g_autofree char *mon_path = NULL;
    g_autofree char *pid_path = NULL;
    g_autofree char *pid_text = NULL;
    g_autofree char *log_path = NULL;
    g_autoptr(ConfDomainDef) def = NULL;
    g_autoptr(QemuCaps) caps = test_caps_new(false);
    g_autoptr(GMainContext) ctx = g_main_context_new();
    g_autoptr(QemuMonitor) mon = NULL;
    g_autoptr(json_object) nodes = NULL;
    g_autoptr(json_object) block = NULL;
    g_auto(GStrv) argv = NULL;
    QemuCommandOptions opts;
    GPid pid = 0;
    int status = 0;
    gint64 deadline = 0;
    gint64 start = g_get_monotonic_time();

    if (!tools.qemu || !tools.qemu_img) {
        g_test_skip("qemu-system-x86_64 or qemu-img not installed");
        return;
    }
    dir = g_dir_make_tmp("modvirt-qemuargs-XXXXXX", &error);
    g_assert_no_error(error);
    images = g_strdup_printf("%s/images", dir);
    g_assert_cmpint(g_mkdir(images, 0700), ==, 0);
    {
        g_autoptr(GString) text = g_string_new(xml);

        g_autofree char *prefix = g_strdup_printf("%s/", images);

        g_string_replace(text, "/srv/", prefix, 0);
        def = conf_domain_parse(text->str, 0, &error);
        g_assert_no_error(error);
    }
    /* TCG, so that the check does not depend on /dev/kvm; no kernel or
     * display: only the disks are under test here */
    def->virt_type = CONF_DOMAIN_VIRT_QEMU;
    g_clear_pointer(&def->os.kernel, g_free);
    g_clear_pointer(&def->os.initrd, g_free);
    g_clear_pointer(&def->os.cmdline, g_free);
    g_ptr_array_set_size(def->graphics, 0);
    g_free(def->emulator);
    def->emulator = g_strdup(tools.qemu);
    g_assert_true(qemu_domain_def_postparse(def, caps, &error));
    g_assert_no_error(error);
    qemu_command_assign_names(def);
    for (guint i = 0; i < def->disks->len; i++) {
        const ConfDomainDiskDef *disk = g_ptr_array_index(def->disks, i);

        if (disk->src->path)
            test_make_chain(disk->src);
    }

    mon_path = g_strdup_printf("%s/monitor.sock", dir);
    pid_path = g_strdup_printf("%s/qemu.pid", dir);
    log_path = g_strdup_printf("%s/qemu.log", dir);
    test_options(&opts, name);
    opts.monitor_path = mon_path;
    opts.pidfile = pid_path;
    argv = qemu_command_build(def, caps, &opts, &error);
    g_assert_no_error(error);
    {
        g_autofree char *joined = g_strjoinv("' '", argv);

        g_test_message("running '%s'", joined);
    }
    g_assert_true(g_spawn_async(dir, argv, NULL,
                                G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL |
                                G_SPAWN_STDERR_TO_DEV_NULL,
                                NULL, NULL, &pid, &error));
    g_assert_no_error(error);

    deadline = g_get_monotonic_time() + QEMU_WAIT_MS * G_TIME_SPAN_MILLISECOND;
    while (!mon) {
        g_clear_error(&error);
        if (g_file_test(mon_path, G_FILE_TEST_EXISTS))
            mon = qemu_monitor_open(mon_path, ctx, NULL, NULL, &error);
        if (mon)
            break;
        if (waitpid(pid, &status, WNOHANG) == pid)
            g_error("QEMU exited before its monitor came up (status %d)", status);
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_usleep(20 * 1000);
    }
    g_clear_error(&error);
    g_assert_true(qemu_monitor_wait_ready(mon, QEMU_WAIT_MS, &error));
    g_assert_no_error(error);

    /* -pidfile: QEMU wrote its own pid */
    pid_text = test_file(pid_path, NULL);
    g_assert_cmpint(g_ascii_strtoll(pid_text, NULL, 10), ==, pid);

    nodes = qemu_monitor_command(mon, "query-named-block-nodes", NULL, 0, &error);
    g_assert_no_error(error);
    block = qemu_monitor_command(mon, "query-block", NULL, 0, &error);
    g_assert_no_error(error);
    for (guint i = 0; i < def->disks->len; i++) {
        const ConfDomainDiskDef *disk = g_ptr_array_index(def->disks, i);

        if (disk->src->path)
            test_check_disk(disk, nodes, block);
    }

    g_assert_true(qemu_monitor_quit(mon, &error));
    g_assert_no_error(error);
    qemu_monitor_close(mon);
    deadline = g_get_monotonic_time() + QEMU_WAIT_MS * G_TIME_SPAN_MILLISECOND;
    while (waitpid(pid, &status, WNOHANG) != pid) {
        if (g_get_monotonic_time() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            g_error("QEMU did not quit");
        }
        g_usleep(10 * 1000);
    }
    g_spawn_close_pid(pid);
    {
        const char *argv_rm[] = { "rm", "-rf", dir, NULL };

        g_spawn_sync(NULL, (char **)argv_rm, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL,
                     NULL, NULL);
    }
    (void)log_path;
    g_test_message("%s: %.1f s", name, (g_get_monotonic_time() - start) / 1e6);
}

/* ---------------------------------------------------------------------- */

static gint
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
    static const char *const real_cases[] = {
        "backing-chain-4", "disks-mixed", "q35-sata", "escaping",
    };
    int rc = 0;

    g_test_init(&argc, &argv, NULL);
    regenerate = g_strcmp0(g_getenv("MODVIRT_REGENERATE"), "1") == 0;
    tools.qemu = g_find_program_in_path("qemu-system-x86_64");
    tools.qemu_img = g_find_program_in_path("qemu-img");

    if (!(dir = g_dir_open(DATA_DIR, 0, &error)))
        g_error("%s", error->message);
    while ((entry = g_dir_read_name(dir))) {
        if (g_str_has_suffix(entry, ".xml") && !g_str_has_suffix(entry, ".out.xml"))
            g_ptr_array_add(names, g_strndup(entry, strlen(entry) - 4));
    }
    g_ptr_array_sort(names, test_compare_names);
    for (guint i = 0; i < names->len; i++) {
        g_autofree char *path = g_strdup_printf("/qemu-command/golden/%s", (char *)names->pdata[i]);

        g_test_add_data_func(path, names->pdata[i], test_golden);
    }
    g_test_add_func("/qemu-command/names/libvirt-order", test_names_libvirt_order);
    g_test_add_func("/qemu-command/names/never-reused", test_names_never_reused);
    g_test_add_func("/qemu-command/names/status-round-trip", test_names_survive_status);
    g_test_add_func("/qemu-command/build/needs-names", test_build_needs_names);
    g_test_add_func("/qemu-command/build/tap-fds", test_build_tap_fds);
    g_test_add_func("/qemu-command/build/vnc-port-not-chosen", test_build_vnc_port_not_chosen);
    g_test_add_func("/qemu-command/build/missing-device", test_build_missing_device);
    for (size_t i = 0; i < G_N_ELEMENTS(real_cases); i++) {
        g_autofree char *path = g_strdup_printf("/qemu-command/qemu/%s", real_cases[i]);

        g_test_add_data_func(path, real_cases[i], test_qemu);
    }
    rc = g_test_run();
    g_free(tools.qemu);
    g_free(tools.qemu_img);
    return rc;
}
