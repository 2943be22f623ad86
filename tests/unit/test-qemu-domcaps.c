/*
 * test-qemu-domcaps.c: the domain capabilities document of virtqemud
 * (virtqemud/qemu-domcaps.c).
 *
 * Golden documents in tests/data/domcaps: each case of test_cases asks
 * qemu_domcaps_get() with canned capabilities (the probe of Debian 12's
 * QEMU 7.2 in tests/data/qemucaps, some with devices taken away or KVM
 * said not to work) and compares with NAME.xml; with xmllint and Debian's
 * libvirt schema installed each golden file is also validated against
 * domaincaps.rng.  MODVIRT_REGENERATE=1 rewrites them; review the diff.
 *
 * The consistency checks hold the document to the command line builder:
 * for every disk bus and device, video model, graphics type and CPU mode
 * that modvirt's definitions accept, a small domain using it is parsed,
 * post-parsed and built with the same capabilities, and it must build
 * exactly when the document lists it.
 *
 * The argument checks give each wrong argument and compare the libvirt
 * error code and message.
 */
#define G_LOG_DOMAIN "modvirt.test.qemu-domcaps"

#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "conf-domain.h"
#include "qemu-caps.h"
#include "qemu-command.h"
#include "qemu-domcaps.h"
#include "util-error.h"

#define DATA_DIR MODVIRT_SRCDIR "/tests/data/domcaps"
#define CAPS_FILE MODVIRT_SRCDIR "/tests/data/qemucaps/qemu-7.2-x86_64.json"
#define SCHEMA "/usr/share/libvirt/schemas/domaincaps.rng"
#define X86_64 "/usr/bin/qemu-system-x86_64"
#define I386 "/usr/bin/qemu-system-i386"

static bool regenerate;

/* ---------------------------------------------------------------------- */
/* canned emulators                                                       */

typedef enum {
    TEST_CAPS_FULL,         /* QEMU 7.2 as probed on Debian 12 */
    TEST_CAPS_NOKVM,        /* the same, KVM not working */
    TEST_CAPS_LACKING,      /* no qxl, virtio-vga, usb-storage, AHCI, LSI, VNC */
    TEST_CAPS_NO_ROOT_PORT, /* no pcie-root-port (q35 loses PCIe devices) */
    TEST_CAPS_NO_CPU_TYPES, /* no CPU model device types: the usable list only */

    TEST_CAPS_LAST
} TestCapsKind;

static const char *const test_lacking_devices[] = {
    "qxl-vga", "virtio-vga", "usb-storage", "ich9-ahci", "lsi53c895a",
};

/* qemu-system-i386 names its CPU model types "<model>-i386-cpu". */
static void
test_rename_cpu_types(QemuCaps *caps, const char *from, const char *to)
{
    g_autoptr(GPtrArray) renamed = g_ptr_array_new_with_free_func(g_free);
    GHashTableIter iter;
    gpointer key = NULL;

    g_hash_table_iter_init(&iter, caps->devices);
    while (g_hash_table_iter_next(&iter, &key, NULL)) {
        if (!g_str_has_suffix(key, from))
            continue;
        g_ptr_array_add(renamed, g_strdup_printf("%.*s%s", (int)(strlen(key) - strlen(from)),
                                                 (const char *)key, to));
        g_hash_table_iter_remove(&iter);
    }
    for (guint i = 0; i < renamed->len; i++)
        g_hash_table_add(caps->devices, g_strdup(g_ptr_array_index(renamed, i)));
}

/* The canned x86_64 emulator, or @binary's i686 twin. */
static QemuCaps *
test_caps(TestCapsKind kind, const char *binary)
{
    g_autoptr(GError) error = NULL;
    QemuCaps *caps = qemu_caps_load_file(CAPS_FILE, &error);

    g_assert_no_error(error);
    if (g_strcmp0(binary, I386) == 0) {
        g_free(caps->binary);
        g_free(caps->arch);
        caps->binary = g_strdup(I386);
        caps->arch = g_strdup("i686");
        test_rename_cpu_types(caps, "-x86_64-cpu", "-i386-cpu");
    }
    switch (kind) {
    case TEST_CAPS_FULL:
        break;
    case TEST_CAPS_NOKVM:
        caps->kvm = false;
        break;
    case TEST_CAPS_LACKING:
        for (size_t i = 0; i < G_N_ELEMENTS(test_lacking_devices); i++)
            g_assert_true(g_hash_table_remove(caps->devices, test_lacking_devices[i]));
        g_assert_true(g_hash_table_remove(caps->commands, "query-vnc"));
        break;
    case TEST_CAPS_NO_ROOT_PORT:
        g_assert_true(g_hash_table_remove(caps->devices, "pcie-root-port"));
        break;
    case TEST_CAPS_NO_CPU_TYPES: {
        GHashTableIter iter;
        gpointer key = NULL;

        g_hash_table_iter_init(&iter, caps->devices);
        while (g_hash_table_iter_next(&iter, &key, NULL)) {
            if (g_str_has_suffix(key, "-x86_64-cpu"))
                g_hash_table_iter_remove(&iter);
        }
        break;
    }
    case TEST_CAPS_LAST:
        g_assert_not_reached();
    }
    return caps;
}

/* The environment the canned emulators live in: qemu-system-x86_64 and
 * qemu-system-i386 exist, KVM allows 1024 vCPUs (as this host). */
static TestCapsKind test_env_kind;
static int test_env_kvm_max = 1024;
static guint test_env_lookups;

static QemuCaps *
test_env_lookup(const char *binary, GError **error)
{
    test_env_lookups++;
    if (g_str_equal(binary, X86_64) || g_str_equal(binary, I386))
        return test_caps(test_env_kind, binary);
    util_error_set_errno(error, VIR_FROM_QEMU, ENOENT, "Cannot check QEMU binary %s", binary);
    return NULL;
}

static char *
test_env_find_emulator(const char *arch)
{
    if (g_str_equal(arch, "x86_64"))
        return g_strdup(X86_64);
    if (g_str_equal(arch, "i686"))
        return g_strdup(I386);
    return NULL;
}

static int
test_env_kvm_max_vcpus(GError **error)
{
    if (test_env_kvm_max < 0)
        util_error_set_errno(error, VIR_FROM_QEMU, EACCES, "Unable to open /dev/kvm");
    return test_env_kvm_max;
}

static const QemuDomcapsEnv test_env = {
    .lookup = test_env_lookup,
    .find_emulator = test_env_find_emulator,
    .kvm_max_vcpus = test_env_kvm_max_vcpus,
    .host_arch = "x86_64",
};

/* ---------------------------------------------------------------------- */
/* golden documents                                                       */

typedef struct {
    const char *name;
    TestCapsKind kind;
    const char *emulatorbin;
    const char *arch;
    const char *machine;
    const char *virttype;
} TestCase;

static const TestCase test_cases[] = {
    { "default-kvm", TEST_CAPS_FULL, NULL, NULL, NULL, NULL },
    { "i440fx-kvm", TEST_CAPS_FULL, NULL, NULL, "pc-i440fx-7.2", "kvm" },
    { "q35-kvm", TEST_CAPS_FULL, NULL, NULL, "q35", "kvm" },
    { "qemu-tcg", TEST_CAPS_FULL, NULL, NULL, NULL, "qemu" },
    { "q35-tcg", TEST_CAPS_FULL, X86_64, "x86_64", "pc-q35-7.2", "qemu" },
    { "nokvm-default", TEST_CAPS_NOKVM, NULL, NULL, NULL, NULL },
    { "i686-kvm", TEST_CAPS_FULL, NULL, "i686", NULL, NULL },
    { "lacking-i440fx", TEST_CAPS_LACKING, NULL, NULL, "pc", NULL },
    { "lacking-q35", TEST_CAPS_LACKING, NULL, NULL, "q35", NULL },
    { "no-root-port-q35", TEST_CAPS_NO_ROOT_PORT, NULL, NULL, "q35", NULL },
    { "no-cpu-types", TEST_CAPS_NO_CPU_TYPES, NULL, NULL, NULL, NULL },
};

static char *
test_get(const TestCase *tc, GError **error)
{
    test_env_kind = tc->kind;
    return qemu_domcaps_get(&test_env, tc->emulatorbin, tc->arch, tc->machine, tc->virttype, 0,
                            error);
}

static void
test_golden(gconstpointer data)
{
    const TestCase *tc = data;
    g_autoptr(GError) error = NULL;
    g_autofree char *doc = test_get(tc, &error);
    g_autofree char *path = g_strdup_printf("%s/%s.xml", DATA_DIR, tc->name);
    g_autofree char *expected = NULL;

    g_assert_no_error(error);
    g_assert_nonnull(doc);
    if (regenerate)
        g_assert_true(g_file_set_contents(path, doc, -1, &error));
    g_assert_true(g_file_get_contents(path, &expected, NULL, &error));
    if (!g_str_equal(expected, doc))
        g_error("%s differs; got:\n%s", path, doc);
}

/* Every golden document against libvirt's own schema. */
static void
test_schema(gconstpointer data)
{
    const TestCase *tc = data;
    g_autofree char *path = g_strdup_printf("%s/%s.xml", DATA_DIR, tc->name);
    g_autofree char *xmllint = g_find_program_in_path("xmllint");
    g_autofree char *out = NULL;
    g_autoptr(GError) error = NULL;
    int status = 0;
    const char *argv[] = { xmllint, "--noout", "--relaxng", SCHEMA, path, NULL };

    if (!xmllint || !g_file_test(SCHEMA, G_FILE_TEST_EXISTS)) {
        g_test_skip("xmllint or " SCHEMA " (libvirt-daemon) not installed");
        return;
    }
    g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL,
                               NULL, &out, &status, &error));
    g_assert_no_error(error);
    if (!g_spawn_check_wait_status(status, NULL))
        g_error("%s does not validate against %s:\n%s", path, SCHEMA, out);
}

/* ---------------------------------------------------------------------- */
/* the document agrees with the command line builder                      */

/* The <value>s of <enum name='@name'> inside <@section ...>...</@section>. */
static GPtrArray *
test_enum_values(const char *doc, const char *section, const char *name)
{
    g_autofree char *open = g_strdup_printf("<%s ", section);
    g_autofree char *close = g_strdup_printf("</%s>", section);
    g_autofree char *enum_open = g_strdup_printf("<enum name='%s'>", name);
    const char *start = strstr(doc, open);
    const char *end = start ? strstr(start, close) : NULL;
    g_autofree char *block = NULL;
    GPtrArray *values = g_ptr_array_new_with_free_func(g_free);
    const char *p = NULL;
    const char *stop = NULL;

    g_assert_nonnull(start);
    g_assert_nonnull(end);
    block = g_strndup(start, end - start);
    if (!(p = strstr(block, enum_open)))
        return values;     /* empty: <enum name='...'/> */
    stop = strstr(p, "</enum>");
    while ((p = strstr(p, "<value>")) && p < stop) {
        const char *v = p + strlen("<value>");
        const char *e = strstr(v, "</value>");

        g_ptr_array_add(values, g_strndup(v, e - v));
        p = e;
    }
    return values;
}

static bool
test_listed(GPtrArray *values, const char *value)
{
    for (guint i = 0; i < values->len; i++) {
        if (g_str_equal(g_ptr_array_index(values, i), value))
            return true;
    }
    return false;
}

/* Whether modvirt builds a command line for a domain of the document's
 * type and machine with @devices.  The domain has no balloon and, unless
 * @devices need USB, no USB controller, so that only @devices are under
 * test (on q35 both are PCI Express devices that need a root port). */
static bool
test_builds(const QemuCaps *caps, bool kvm, const char *machine, const char *cpu,
            const char *devices, char **ret_why)
{
    g_autofree char *xml = g_strdup_printf(
        "<domain type='%s'><name>t</name><memory unit='MiB'>64</memory>"
        "<os><type arch='%s' machine='%s'>hvm</type></os>%s"
        "<devices><emulator>%s</emulator>%s%s<memballoon model='none'/></devices></domain>",
        kvm ? "kvm" : "qemu", caps->arch, machine, cpu ? cpu : "", caps->binary, devices,
        strstr(devices, "bus='usb'") ? "" : "<controller type='usb' model='none'/>");
    g_autoptr(ConfDomainDef) def = NULL;
    g_autoptr(GError) error = NULL;
    g_auto(GStrv) argv = NULL;
    QemuCommandOptions opts = { .monitor_path = "/run/t/monitor.sock", .pidfile = "/run/t/pid" };

    if (!(def = conf_domain_parse(xml, 0, &error)) ||
        !qemu_domain_def_postparse(def, caps, &error)) {
        *ret_why = g_strdup(error->message);
        return false;
    }
    qemu_command_assign_names(def);
    for (guint i = 0; i < def->graphics->len; i++)
        ((ConfDomainGraphicsDef *)g_ptr_array_index(def->graphics, i))->port = 5900 + (int)i;
    if (!(argv = qemu_command_build(def, caps, &opts, &error))) {
        *ret_why = g_strdup(error->message);
        return false;
    }
    *ret_why = g_strdup("built");
    return true;
}

static void
test_agree(const char *what, bool listed, bool builds, const char *why)
{
    g_test_message("%s: %s, %s (%s)", what, listed ? "listed" : "not listed",
                   builds ? "builds" : "refused", why);
    if (listed != builds)
        g_error("%s is %s but modvirt %s it: %s", what, listed ? "listed" : "not listed",
                builds ? "builds" : "refuses", why);
}

/* A disk of @device on @bus, with a raw image (no chain to probe). */
static char *
test_disk_xml(const char *device, const char *bus)
{
    const char *prefix = g_str_equal(bus, "virtio") ? "vd" : g_str_equal(bus, "ide") ? "hd"
                         : g_str_equal(bus, "fdc") ? "fd" : "sd";

    return g_strdup_printf("<disk type='file' device='%s'><driver name='qemu' type='raw'/>"
                           "<source file='/srv/disk.img'/><target dev='%sa' bus='%s'/></disk>",
                           device, prefix, bus);
}

static void
test_consistency(gconstpointer data)
{
    const TestCase *tc = data;
    g_autoptr(GError) error = NULL;
    g_autofree char *doc = test_get(tc, &error);
    g_autoptr(QemuCaps) caps = test_caps(tc->kind, tc->arch && g_str_equal(tc->arch, "i686") ? I386 : X86_64);
    /* what modvirt's definitions accept at all */
    static const char *const buses[] = { "ide", "fdc", "scsi", "virtio", "usb", "sata" };
    static const char *const videos[] = { "vga", "cirrus", "qxl", "virtio", "none" };
    g_autoptr(GPtrArray) listed_buses = NULL;
    g_autoptr(GPtrArray) listed_devices = NULL;
    g_autoptr(GPtrArray) listed_videos = NULL;
    g_autoptr(GPtrArray) listed_graphics = NULL;
    g_autofree char *machine = NULL;
    bool kvm = false;
    bool cdrom_builds = false;

    g_assert_no_error(error);
    kvm = strstr(doc, "<domain>kvm</domain>") != NULL;
    {
        const char *m = strstr(doc, "<machine>") + strlen("<machine>");

        machine = g_strndup(m, strstr(m, "</machine>") - m);
    }
    listed_buses = test_enum_values(doc, "disk", "bus");
    listed_devices = test_enum_values(doc, "disk", "diskDevice");
    listed_videos = test_enum_values(doc, "video", "modelType");
    listed_graphics = test_enum_values(doc, "graphics", "type");

    for (size_t i = 0; i < G_N_ELEMENTS(buses); i++) {
        g_autofree char *disk = test_disk_xml("disk", buses[i]);
        g_autofree char *cdrom = test_disk_xml("cdrom", buses[i]);
        g_autofree char *why = NULL;
        g_autofree char *why_cd = NULL;
        g_autofree char *what = g_strdup_printf("%s disk bus %s", tc->name, buses[i]);

        bool builds = test_builds(caps, kvm, machine, NULL, disk, &why);

        test_agree(what, test_listed(listed_buses, buses[i]), builds, why);
        if (test_builds(caps, kvm, machine, NULL, cdrom, &why_cd))
            cdrom_builds = true;
    }
    {
        g_autofree char *cd = g_strdup_printf("%s disk device cdrom", tc->name);
        g_autofree char *fd = g_strdup_printf("%s disk device floppy", tc->name);
        g_autofree char *floppy = test_disk_xml("floppy", "fdc");
        g_autofree char *why = NULL;
        bool builds = test_builds(caps, kvm, machine, NULL, floppy, &why);

        test_agree(cd, test_listed(listed_devices, "cdrom"), cdrom_builds, "on some bus");
        test_agree(fd, test_listed(listed_devices, "floppy"), builds, why);
        g_assert_true(test_listed(listed_devices, "disk"));
    }
    for (size_t i = 0; i < G_N_ELEMENTS(videos); i++) {
        g_autofree char *dev = g_strdup_printf("<video><model type='%s'/></video>", videos[i]);
        g_autofree char *what = g_strdup_printf("%s video %s", tc->name, videos[i]);
        g_autofree char *why = NULL;
        bool builds = test_builds(caps, kvm, machine, NULL, dev, &why);

        test_agree(what, test_listed(listed_videos, videos[i]), builds, why);
    }
    {
        g_autofree char *what = g_strdup_printf("%s graphics vnc", tc->name);
        g_autofree char *why = NULL;
        bool builds = test_builds(caps, kvm, machine, NULL, "<graphics type='vnc'/>", &why);

        /* the command line builder trusts the probe for VNC itself */
        if (!qemu_caps_has_command(caps, "query-vnc"))
            builds = false;
        test_agree(what, test_listed(listed_graphics, "vnc"), builds, why);
    }
    {
        g_autofree char *what = g_strdup_printf("%s cpu host-passthrough", tc->name);
        g_autofree char *why = NULL;
        bool builds = test_builds(caps, kvm, machine, "<cpu mode='host-passthrough'/>", "", &why);

        test_agree(what, strstr(doc, "<mode name='host-passthrough' supported='yes'") != NULL,
                   builds, why);
        g_clear_pointer(&why, g_free);
        g_clear_pointer(&what, g_free);
        what = g_strdup_printf("%s cpu host-model", tc->name);
        builds = test_builds(caps, kvm, machine, "<cpu mode='host-model'/>", "", &why);
        test_agree(what, strstr(doc, "<mode name='host-model' supported='yes'") != NULL, builds, why);
    }
    /* custom models: usable='yes' ones start, with KVM usable='no' ones
     * are refused */
    for (const char *p = strstr(doc, "<model usable="); p; p = strstr(p + 1, "<model usable=")) {
        const char *name = strchr(p, '>') + 1;
        g_autofree char *model = g_strndup(name, strchr(name, '<') - name);
        g_autofree char *cpu = g_strdup_printf("<cpu mode='custom'><model>%s</model></cpu>", model);
        g_autofree char *what = g_strdup_printf("%s cpu model %s", tc->name, model);
        g_autofree char *why = NULL;
        bool builds = test_builds(caps, kvm, machine, cpu, "", &why);

        if (g_str_has_prefix(p, "<model usable='yes'"))
            test_agree(what, true, builds, why);
        else if (g_str_has_prefix(p, "<model usable='no'") && kvm)
            test_agree(what, false, builds, why);
    }
}

/* ---------------------------------------------------------------------- */
/* facts of the documents                                                 */

static char *
test_doc(TestCapsKind kind, const char *machine, const char *virttype)
{
    const TestCase tc = { "", kind, NULL, NULL, machine, virttype };
    g_autoptr(GError) error = NULL;
    char *doc = test_get(&tc, &error);

    g_assert_no_error(error);
    return doc;
}

/* The machine's own limit, and KVM's when it is lower (as libvirt). */
static void
test_vcpu_max(void)
{
    g_autofree char *pc = test_doc(TEST_CAPS_FULL, "pc", "kvm");
    g_autofree char *q35 = test_doc(TEST_CAPS_FULL, "q35", "kvm");
    g_autofree char *q35_tcg = test_doc(TEST_CAPS_FULL, "q35", "qemu");
    g_autofree char *low = NULL;

    g_assert_nonnull(strstr(pc, "<vcpu max='255'/>"));
    g_assert_nonnull(strstr(q35, "<vcpu max='288'/>"));
    /* TCG: no x2APIC without KVM's irqchip, so 255 on q35 too */
    g_assert_nonnull(strstr(q35_tcg, "<vcpu max='255'/>"));
    test_env_kvm_max = 16;
    low = test_doc(TEST_CAPS_FULL, "q35", "kvm");
    test_env_kvm_max = 1024;
    g_assert_nonnull(strstr(low, "<vcpu max='16'/>"));
}

/* Aliases name the same machine as its canonical name. */
static void
test_aliases(void)
{
    g_autofree char *pc = test_doc(TEST_CAPS_FULL, "pc", NULL);
    g_autofree char *dflt = test_doc(TEST_CAPS_FULL, NULL, NULL);
    g_autofree char *none = test_doc(TEST_CAPS_FULL, NULL, "none");
    g_autofree char *q35 = test_doc(TEST_CAPS_FULL, "q35", NULL);
    g_autofree char *q35_full = test_doc(TEST_CAPS_FULL, "pc-q35-7.2", NULL);

    g_assert_cmpstr(pc, ==, dflt);
    g_assert_cmpstr(none, ==, dflt);
    g_assert_cmpstr(q35, ==, q35_full);
    g_assert_nonnull(strstr(q35, "<machine>pc-q35-7.2</machine>"));
}

/* One lookup per call: the cache is asked once, never probed twice here. */
static void
test_one_lookup(void)
{
    g_autofree char *doc = NULL;
    guint before = test_env_lookups;

    doc = test_doc(TEST_CAPS_FULL, "q35", "kvm");
    g_assert_cmpuint(test_env_lookups - before, ==, 1);
}

/* ---------------------------------------------------------------------- */
/* wrong arguments                                                        */

typedef struct {
    TestCase args;
    unsigned int flags;
    int code;
    const char *message;
} TestError;

static const TestError test_errors[] = {
    { { "flags", TEST_CAPS_FULL, NULL, NULL, NULL, NULL }, 1, VIR_ERR_INVALID_ARG,
      "unsupported flags (0x1) in function virConnectGetDomainCapabilities" },
    { { "virttype-unknown", TEST_CAPS_FULL, NULL, NULL, NULL, "bogus" }, 0, VIR_ERR_INVALID_ARG,
      "invalid argument: unknown virttype: bogus" },
    { { "virttype-case", TEST_CAPS_FULL, NULL, NULL, NULL, "KVM" }, 0, VIR_ERR_INVALID_ARG,
      "invalid argument: unknown virttype: KVM" },
    { { "virttype-xen", TEST_CAPS_FULL, NULL, NULL, NULL, "xen" }, 0, VIR_ERR_INVALID_ARG,
      "invalid argument: Emulator '" X86_64 "' does not support virt type 'xen'" },
    { { "virttype-hvf", TEST_CAPS_FULL, NULL, NULL, NULL, "hvf" }, 0, VIR_ERR_INVALID_ARG,
      "invalid argument: Emulator '" X86_64 "' does not support virt type 'hvf'" },
    { { "kvm-unusable", TEST_CAPS_NOKVM, NULL, NULL, NULL, "kvm" }, 0, VIR_ERR_INVALID_ARG,
      "invalid argument: the accel 'kvm' is not supported by '" X86_64 "' on this host" },
    { { "hvf-unusable", TEST_CAPS_NOKVM, NULL, NULL, NULL, "hvf" }, 0, VIR_ERR_INVALID_ARG,
      "invalid argument: the accel 'hvf' is not supported by '" X86_64 "' on this host" },
    { { "arch-unknown", TEST_CAPS_FULL, NULL, "bogus", NULL, NULL }, 0, VIR_ERR_INVALID_ARG,
      "invalid argument: unknown architecture: bogus" },
    { { "arch-no-emulator", TEST_CAPS_FULL, NULL, "aarch64", NULL, NULL }, 0, VIR_ERR_CONFIG_UNSUPPORTED,
      "unsupported configuration: unable to find any emulator to serve 'aarch64' architecture" },
    { { "arch-other-family", TEST_CAPS_FULL, X86_64, "aarch64", NULL, NULL }, 0, VIR_ERR_INVALID_ARG,
      "invalid argument: architecture from emulator 'x86_64' doesn't match given architecture 'aarch64'" },
    { { "arch-i686-on-x86_64", TEST_CAPS_FULL, X86_64, "i686", NULL, NULL }, 0, VIR_ERR_INVALID_ARG,
      "invalid argument: Emulator '" X86_64 "' does not support arch 'i686'" },
    { { "emulator-i386-host-arch", TEST_CAPS_FULL, I386, NULL, NULL, NULL }, 0, VIR_ERR_INVALID_ARG,
      "invalid argument: Emulator '" I386 "' does not support arch 'x86_64'" },
    { { "emulator-missing", TEST_CAPS_FULL, "/nonexistent/qemu", NULL, NULL, NULL }, 0, VIR_ERR_SYSTEM_ERROR,
      "Cannot check QEMU binary /nonexistent/qemu: No such file or directory" },
    { { "emulator-relative", TEST_CAPS_FULL, "qemu-system-x86_64", NULL, NULL, NULL }, 0, VIR_ERR_INVALID_ARG,
      "invalid argument: emulator path 'qemu-system-x86_64' is not absolute" },
    { { "machine-unknown", TEST_CAPS_FULL, NULL, NULL, "bogus", NULL }, 0, VIR_ERR_INVALID_ARG,
      "invalid argument: the machine 'bogus' is not supported by emulator '" X86_64 "'" },
    { { "machine-none", TEST_CAPS_FULL, NULL, NULL, "none", NULL }, 0, VIR_ERR_INVALID_ARG,
      "invalid argument: the machine 'none' is not supported by emulator '" X86_64 "'" },
    { { "machine-isapc", TEST_CAPS_FULL, NULL, NULL, "isapc", NULL }, 0, VIR_ERR_CONFIG_UNSUPPORTED,
      "unsupported configuration: machine type 'isapc' is not supported (only i440fx and q35 machines are)" },
    { { "machine-microvm", TEST_CAPS_FULL, NULL, NULL, "microvm", "qemu" }, 0, VIR_ERR_CONFIG_UNSUPPORTED,
      "unsupported configuration: machine type 'microvm' is not supported (only i440fx and q35 machines are)" },
};

static void
test_error(gconstpointer data)
{
    const TestError *te = data;
    g_autoptr(GError) error = NULL;
    g_autofree char *doc = NULL;

    test_env_kind = te->args.kind;
    doc = qemu_domcaps_get(&test_env, te->args.emulatorbin, te->args.arch, te->args.machine,
                           te->args.virttype, te->flags, &error);
    g_assert_null(doc);
    g_assert_nonnull(error);
    g_assert_cmpstr(util_error_code_name(util_error_code(error)), ==,
                    util_error_code_name(te->code));
    g_assert_cmpint(util_error_domain(error), ==, VIR_FROM_QEMU);
    g_assert_cmpstr(error->message, ==, te->message);
}

/* KVM's limit cannot be read: the error, as libvirt's. */
static void
test_error_kvm_device(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *doc = NULL;

    test_env_kind = TEST_CAPS_FULL;
    test_env_kvm_max = -1;
    doc = qemu_domcaps_get(&test_env, NULL, NULL, NULL, "kvm", 0, &error);
    test_env_kvm_max = 1024;
    g_assert_null(doc);
    g_assert_cmpint(util_error_code(error), ==, VIR_ERR_SYSTEM_ERROR);
    g_assert_cmpstr(error->message, ==, "Unable to open /dev/kvm: Permission denied");
    /* TCG does not ask */
    g_clear_error(&error);
    test_env_kvm_max = -1;
    g_free(doc);
    doc = qemu_domcaps_get(&test_env, NULL, NULL, NULL, "qemu", 0, &error);
    test_env_kvm_max = 1024;
    g_assert_no_error(error);
    g_assert_nonnull(doc);
}

/* The host's checks of a binary, before anything is probed. */
static void
test_error_host_binary(void)
{
    const QemuDomcapsEnv *host = qemu_domcaps_env_host();
    g_autoptr(GError) error = NULL;
    g_autofree char *dir = g_dir_make_tmp("modvirt-domcaps-XXXXXX", &error);
    g_autofree char *plain = g_build_filename(dir, "qemu-system-x86_64", NULL);
    g_autofree char *want = NULL;
    g_autofree char *doc = NULL;

    g_assert_no_error(error);
    g_assert_true(g_file_set_contents(plain, "not a program\n", -1, &error));
    g_assert_cmpint(g_chmod(plain, 0644), ==, 0);

    doc = qemu_domcaps_get(host, plain, NULL, NULL, NULL, 0, &error);
    g_assert_null(doc);
    want = g_strdup_printf("QEMU binary %s is not executable: Permission denied", plain);
    g_assert_cmpint(util_error_code(error), ==, VIR_ERR_SYSTEM_ERROR);
    g_assert_cmpstr(error->message, ==, want);
    g_clear_error(&error);
    g_free(want);

    doc = qemu_domcaps_get(host, dir, NULL, NULL, NULL, 0, &error);
    g_assert_null(doc);
    want = g_strdup_printf("QEMU binary %s is not executable: Is a directory", dir);
    g_assert_cmpstr(error->message, ==, want);
    g_clear_error(&error);
    g_free(want);

    g_assert_cmpint(g_unlink(plain), ==, 0);
    doc = qemu_domcaps_get(host, plain, NULL, NULL, NULL, 0, &error);
    g_assert_null(doc);
    want = g_strdup_printf("Cannot check QEMU binary %s: No such file or directory", plain);
    g_assert_cmpint(util_error_code(error), ==, VIR_ERR_SYSTEM_ERROR);
    g_assert_cmpstr(error->message, ==, want);
    g_assert_cmpint(g_rmdir(dir), ==, 0);
}

/* ---------------------------------------------------------------------- */

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    regenerate = g_strcmp0(g_getenv("MODVIRT_REGENERATE"), "1") == 0;

    for (size_t i = 0; i < G_N_ELEMENTS(test_cases); i++) {
        g_autofree char *golden = g_strdup_printf("/qemu-domcaps/golden/%s", test_cases[i].name);
        g_autofree char *schema = g_strdup_printf("/qemu-domcaps/schema/%s", test_cases[i].name);
        g_autofree char *agree = g_strdup_printf("/qemu-domcaps/consistency/%s", test_cases[i].name);

        g_test_add_data_func(golden, &test_cases[i], test_golden);
        g_test_add_data_func(schema, &test_cases[i], test_schema);
        g_test_add_data_func(agree, &test_cases[i], test_consistency);
    }
    g_test_add_func("/qemu-domcaps/vcpu-max", test_vcpu_max);
    g_test_add_func("/qemu-domcaps/aliases", test_aliases);
    g_test_add_func("/qemu-domcaps/one-lookup", test_one_lookup);
    for (size_t i = 0; i < G_N_ELEMENTS(test_errors); i++) {
        g_autofree char *path = g_strdup_printf("/qemu-domcaps/error/%s", test_errors[i].args.name);

        g_test_add_data_func(path, &test_errors[i], test_error);
    }
    g_test_add_func("/qemu-domcaps/error/kvm-device", test_error_kvm_device);
    g_test_add_func("/qemu-domcaps/error/host-binary", test_error_host_binary);
    return g_test_run();
}
