/*
 * test-host.c: host facts (util-host) and the capabilities XML (conf-capabilities).
 *
 * The /host/nodeinfo, /host/hostname, /host/uuid and /caps/host tests check
 * this machine against what a user would compare (sysconf, /proc/meminfo,
 * uname, gethostname).  The /host/fake and /caps/fake tests build small
 * /proc, /sys and /etc trees in a temporary directory and check libvirt's
 * conventions on topologies this machine does not have.
 */
#define G_LOG_DOMAIN "modvirt.test.host"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <libxml/parser.h>
#include <libxml/relaxng.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>

#include "conf-capabilities.h"
#include "util-error.h"
#include "util-host.h"

#include "util-xml.h"

#define CAPABILITY_RNG "/usr/share/libvirt/schemas/capability.rng"

/* ---- independent readings of this machine ---- */

static guint64
test_meminfo_kib(const char *key)
{
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;

    g_assert_true(g_file_get_contents("/proc/meminfo", &text, NULL, NULL));
    lines = g_strsplit(text, "\n", -1);
    for (size_t i = 0; lines[i]; i++) {
        char name[64];
        unsigned long long kib;

        if (sscanf(lines[i], "%63[^:]: %llu kB", name, &kib) == 2 && strcmp(name, key) == 0)
            return kib;
    }
    g_assert_not_reached();
}

static char *
test_uname_machine(void)
{
    struct utsname uts;

    g_assert_cmpint(uname(&uts), ==, 0);
    return g_strdup(uts.machine);
}

/* Number of ids in a sysfs list file ("0-3,6"), -1 if unreadable. */
static int
test_count_list(const char *path)
{
    g_autofree char *text = NULL;
    g_auto(GStrv) parts = NULL;
    int n = 0;

    if (!g_file_get_contents(path, &text, NULL, NULL))
        return -1;
    g_strstrip(text);
    if (!*text)
        return 0;
    parts = g_strsplit(text, ",", -1);
    for (size_t i = 0; parts[i]; i++) {
        unsigned int a, b;

        if (sscanf(parts[i], "%u-%u", &a, &b) == 2)
            n += b - a + 1;
        else
            n++;
    }
    return n;
}

/* ---- XML helpers ---- */

static xmlDoc *
test_parse_xml(const char *xml)
{
    xmlDoc *doc = xmlReadMemory(xml, strlen(xml), "capabilities.xml", NULL,
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);

    g_assert_nonnull(doc);
    return doc;
}

static int
test_xpath_count(xmlDoc *doc, const char *expr)
{
    g_autoptr(xmlXPathContext) ctxt = xmlXPathNewContext(doc);
    g_autoptr(xmlXPathObject) obj = xmlXPathEvalExpression(BAD_CAST expr, ctxt);

    g_assert_nonnull(obj);
    g_assert_cmpint(obj->type, ==, XPATH_NODESET);
    return obj->nodesetval ? obj->nodesetval->nodeNr : 0;
}

static char *
test_xpath_string(xmlDoc *doc, const char *expr)
{
    g_autoptr(xmlXPathContext) ctxt = xmlXPathNewContext(doc);
    g_autofree char *wrapped = g_strdup_printf("string(%s)", expr);
    g_autoptr(xmlXPathObject) obj = xmlXPathEvalExpression(BAD_CAST wrapped, ctxt);

    g_assert_nonnull(obj);
    g_assert_cmpint(obj->type, ==, XPATH_STRING);
    return g_strdup((const char *)obj->stringval);
}

static void
test_validate_schema(const char *xml)
{
    g_autoptr(xmlDoc) doc = NULL;
    xmlRelaxNGParserCtxt *pctxt = NULL;
    xmlRelaxNG *schema = NULL;
    xmlRelaxNGValidCtxt *vctxt = NULL;
    int rc;

    if (!g_file_test(CAPABILITY_RNG, G_FILE_TEST_EXISTS)) {
        g_test_skip("libvirt's capability.rng is not installed");
        return;
    }
    doc = test_parse_xml(xml);
    pctxt = xmlRelaxNGNewParserCtxt(CAPABILITY_RNG);
    schema = xmlRelaxNGParse(pctxt);
    g_assert_nonnull(schema);
    vctxt = xmlRelaxNGNewValidCtxt(schema);
    rc = xmlRelaxNGValidateDoc(vctxt, doc);
    if (rc != 0)
        g_printerr("%s", xml);
    g_assert_cmpint(rc, ==, 0);
    xmlRelaxNGFreeValidCtxt(vctxt);
    xmlRelaxNGFree(schema);
    xmlRelaxNGFreeParserCtxt(pctxt);
}

/* ---- this machine ---- */

static void
test_host_nodeinfo_cpus(void)
{
    g_autoptr(GError) error = NULL;
    UtilNodeInfo info;

    g_assert_true(util_host_node_info(&info, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(info.cpus, ==, sysconf(_SC_NPROCESSORS_ONLN));
    g_assert_cmpuint(util_host_online_cpus(), ==, sysconf(_SC_NPROCESSORS_ONLN));
}

static void
test_host_nodeinfo_memory(void)
{
    g_autoptr(GError) error = NULL;
    UtilNodeInfo info;
    guint64 total = test_meminfo_kib("MemTotal");

    g_assert_true(util_host_node_info(&info, &error));
    g_assert_cmpuint(info.memory_kib, >=, total - total / 100);
    g_assert_cmpuint(info.memory_kib, <=, total + total / 100);
}

static void
test_host_nodeinfo_topology(void)
{
    g_autoptr(GError) error = NULL;
    UtilNodeInfo info;
    int present = test_count_list("/sys/devices/system/cpu/present");
    int online = test_count_list("/sys/devices/system/cpu/online");
    guint offline = present > online && online > 0 ? present - online : 0;

    g_assert_true(util_host_node_info(&info, &error));
    g_assert_cmpuint(info.nodes, >=, 1);
    g_assert_cmpuint(info.sockets, >=, 1);
    g_assert_cmpuint(info.cores, >=, 1);
    g_assert_cmpuint(info.threads, >=, 1);
    /* libvirt's invariant; offline CPUs count in the product only. */
    g_assert_cmpuint(info.nodes * info.sockets * info.cores * info.threads, ==,
                     info.cpus + offline);
}

static void
test_host_nodeinfo_model(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *machine = test_uname_machine();
    UtilNodeInfo info;

    g_assert_true(util_host_node_info(&info, &error));
    if (g_str_has_prefix(machine, "x86_64") || g_str_has_prefix(machine, "aarch64"))
        g_assert_cmpstr(info.model, ==, machine);
    else
        g_assert_cmpuint(strlen(info.model), >, 0);
    if (strcmp(machine, "x86_64") == 0 && g_file_test("/proc/cpuinfo", G_FILE_TEST_EXISTS))
        g_assert_cmpuint(info.mhz, >, 0);
}

static void
test_host_free_memory(void)
{
    g_autoptr(GError) error = NULL;
    guint64 free_bytes = util_host_free_memory(&error);

    g_assert_no_error(error);
    g_assert_cmpuint(free_bytes, >, 0);
    g_assert_cmpuint(free_bytes, <=, test_meminfo_kib("MemTotal") * 1024);
}

static void
test_host_hostname(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *name = util_host_hostname(&error);
    char short_name[256] = "";

    g_assert_no_error(error);
    g_assert_nonnull(name);
    g_assert_cmpuint(strlen(name), >, 0);
    g_assert_cmpint(gethostname(short_name, sizeof(short_name) - 1), ==, 0);
    g_assert_true(strcmp(name, short_name) == 0 || g_str_has_prefix(name, short_name));
}

static void
test_host_uuid_stable(void)
{
    g_autoptr(GError) error = NULL;
    unsigned char a[16] = { 0 };
    unsigned char b[16] = { 0 };
    unsigned char zero[16] = { 0 };

    if (!util_host_uuid(a, &error)) {
        g_test_skip("this machine has neither an SMBIOS UUID nor /etc/machine-id");
        return;
    }
    g_assert_true(util_host_uuid(b, NULL));
    g_assert_cmpmem(a, 16, b, 16);
    g_assert_true(memcmp(a, zero, 16) != 0);
}

static void
test_host_cpu_strings(void)
{
    g_autofree char *vendor = util_host_cpu_vendor();
    g_autofree char *model = util_host_cpu_model_name();
    g_autofree char *cpuinfo = NULL;

    if (!g_file_get_contents("/proc/cpuinfo", &cpuinfo, NULL, NULL) ||
        !strstr(cpuinfo, "vendor_id")) {
        g_test_skip("no x86 /proc/cpuinfo");
        return;
    }
    g_assert_nonnull(vendor);
    if (strstr(cpuinfo, "AuthenticAMD"))
        g_assert_cmpstr(vendor, ==, "AMD");
    if (strstr(cpuinfo, "GenuineIntel"))
        g_assert_cmpstr(vendor, ==, "Intel");
    g_assert_nonnull(model);
    g_assert_nonnull(strstr(cpuinfo, model));
}

static void
test_caps_host_structure(void)
{
    static const char *const machines[] = { "pc-q35-7.2", "q35", "pc", NULL };
    static const char *const kvm_types[] = { "qemu", "kvm", NULL };
    static const char *const qemu_types[] = { "qemu", NULL };
    g_autoptr(GError) error = NULL;
    g_autoptr(ConfCaps) caps = conf_caps_new_host(&error);
    g_autofree char *xml = NULL;
    g_autoptr(xmlDoc) doc = NULL;
    g_autofree char *machine = test_uname_machine();
    g_autofree char *uuid = NULL;
    g_autofree char *arch = NULL;
    g_autofree char *emulator = NULL;
    g_autofree char *cells_num = NULL;

    g_assert_no_error(error);
    g_assert_nonnull(caps);
    conf_caps_add_guest(caps, "hvm", "x86_64", 64, "/usr/bin/qemu-system-x86_64",
                        machines, kvm_types);
    conf_caps_add_guest(caps, "hvm", "aarch64", 64, "/usr/bin/qemu-system-aarch64",
                        NULL, qemu_types);
    conf_caps_add_guest_feature(caps, "hvm", "x86_64", "acpi", CONF_CAPS_FEATURE_ON_TOGGLE);
    conf_caps_add_guest_feature(caps, "hvm", "x86_64", "apic", CONF_CAPS_FEATURE_ON_FIXED);
    xml = conf_caps_format(caps);
    g_assert_nonnull(xml);
    if (g_test_verbose())
        g_printerr("%s", xml);

    /* libvirt's layout: no declaration, blank lines between sections */
    g_assert_true(g_str_has_prefix(xml, "<capabilities>\n\n  <host>\n    <uuid>"));
    g_assert_nonnull(strstr(xml, "  </host>\n\n  <guest>\n    <os_type>hvm</os_type>\n"));
    g_assert_true(g_str_has_suffix(xml, "  </guest>\n\n</capabilities>\n"));

    doc = test_parse_xml(xml);
    g_assert_cmpstr((const char *)xmlDocGetRootElement(doc)->name, ==, "capabilities");
    g_assert_cmpint(test_xpath_count(doc, "/capabilities/host"), ==, 1);
    g_assert_cmpint(test_xpath_count(doc, "/capabilities/host/uuid"), ==, 1);
    uuid = test_xpath_string(doc, "/capabilities/host/uuid");
    g_assert_cmpuint(strlen(uuid), ==, 36);
    g_assert_true(g_uuid_string_is_valid(uuid));

    arch = test_xpath_string(doc, "/capabilities/host/cpu/arch");
    if (strcmp(machine, "x86_64") == 0 || strcmp(machine, "aarch64") == 0)
        g_assert_cmpstr(arch, ==, machine);
    g_assert_cmpint(test_xpath_count(doc, "/capabilities/host/cpu/topology[@sockets and @cores and @threads]"), ==, 1);
    g_assert_cmpint(test_xpath_count(doc, "/capabilities/host/secmodel[model='none' and doi='0']"), ==, 1);
    g_assert_cmpint(test_xpath_count(doc, "/capabilities/host/migration_features/live"), ==, 1);
    g_assert_cmpint(test_xpath_count(doc, "/capabilities/host/migration_features/uri_transports/uri_transport[.='tcp']"), ==, 1);
    g_assert_cmpint(test_xpath_count(doc, "/capabilities/host/iommu[@support='yes' or @support='no']"), ==, 1);

    cells_num = test_xpath_string(doc, "/capabilities/host/topology/cells/@num");
    g_assert_cmpint(atoi(cells_num), ==,
                    test_xpath_count(doc, "/capabilities/host/topology/cells/cell"));
    g_assert_cmpint(atoi(cells_num), >=, 1);
    g_assert_cmpint(test_xpath_count(doc, "/capabilities/host/topology/cells/cell/cpus/cpu[@socket_id]"),
                    ==, sysconf(_SC_NPROCESSORS_ONLN));

    g_assert_cmpint(test_xpath_count(doc, "/capabilities/guest"), ==, 2);
    emulator = test_xpath_string(doc, "/capabilities/guest[arch/@name='x86_64']/arch/emulator");
    g_assert_cmpstr(emulator, ==, "/usr/bin/qemu-system-x86_64");
    g_assert_cmpint(test_xpath_count(doc, "/capabilities/guest[os_type='hvm']/arch[@name='x86_64']/domain[@type='qemu']"), ==, 1);
    g_assert_cmpint(test_xpath_count(doc, "/capabilities/guest[os_type='hvm']/arch[@name='x86_64']/domain[@type='kvm']"), ==, 1);
    g_assert_cmpint(test_xpath_count(doc, "/capabilities/guest/arch[@name='x86_64']/machine"), ==, 3);
    g_assert_cmpint(test_xpath_count(doc, "/capabilities/guest/arch[@name='aarch64']/domain"), ==, 1);
    g_assert_cmpint(test_xpath_count(doc, "/capabilities/guest/arch[@name='aarch64']/machine"), ==, 0);
    g_assert_cmpint(test_xpath_count(doc, "/capabilities/guest[arch/@name='x86_64']/features/acpi[@default='on' and @toggle='yes']"), ==, 1);

    test_validate_schema(xml);
}

/* ---- fake hosts ---- */

typedef struct {
    char *root;
} FakeHost;

static void fake_write(FakeHost *fake, const char *rel, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

static void
fake_write(FakeHost *fake, const char *rel, const char *fmt, ...)
{
    g_autofree char *path = g_build_filename(fake->root, rel, NULL);
    g_autofree char *dir = g_path_get_dirname(path);
    g_autofree char *text = NULL;
    g_autoptr(GError) error = NULL;
    va_list ap;

    va_start(ap, fmt);
    text = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_assert_cmpint(g_mkdir_with_parents(dir, 0755), ==, 0);
    g_assert_true(g_file_set_contents(path, text, -1, &error));
}

static void
fake_mkdir(FakeHost *fake, const char *rel)
{
    g_autofree char *path = g_build_filename(fake->root, rel, NULL);

    g_assert_cmpint(g_mkdir_with_parents(path, 0755), ==, 0);
}

static void
fake_remove_tree(const char *path)
{
    g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
    const char *name = NULL;

    while (dir && (name = g_dir_read_name(dir))) {
        g_autofree char *child = g_build_filename(path, name, NULL);

        if (g_file_test(child, G_FILE_TEST_IS_DIR) && !g_file_test(child, G_FILE_TEST_IS_SYMLINK))
            fake_remove_tree(child);
        else
            g_unlink(child);
    }
    g_rmdir(path);
}

static void
fake_setup(FakeHost *fake, gconstpointer data G_GNUC_UNUSED)
{
    g_autoptr(GError) error = NULL;

    fake->root = g_dir_make_tmp("modvirt-test-host-XXXXXX", &error);
    g_assert_no_error(error);
    util_host_set_root(fake->root);
}

static void
fake_teardown(FakeHost *fake, gconstpointer data G_GNUC_UNUSED)
{
    util_host_set_root(NULL);
    fake_remove_tree(fake->root);
    g_free(fake->root);
}

static void
fake_cpu(FakeHost *fake, guint cpu, int package, guint core, const char *siblings)
{
    g_autofree char *base = g_strdup_printf("sys/devices/system/cpu/cpu%u/topology", cpu);
    g_autofree char *p1 = g_strdup_printf("%s/physical_package_id", base);
    g_autofree char *p2 = g_strdup_printf("%s/die_id", base);
    g_autofree char *p3 = g_strdup_printf("%s/core_id", base);
    g_autofree char *p4 = g_strdup_printf("%s/thread_siblings_list", base);

    fake_write(fake, p1, "%d\n", package);
    fake_write(fake, p2, "0\n");
    fake_write(fake, p3, "%u\n", core);
    fake_write(fake, p4, "%s\n", siblings);
}

static void
fake_node(FakeHost *fake, guint node, const char *cpulist, guint64 memtotal_kib,
          const char *distance)
{
    g_autofree char *p1 = g_strdup_printf("sys/devices/system/node/node%u/cpulist", node);
    g_autofree char *p2 = g_strdup_printf("sys/devices/system/node/node%u/meminfo", node);
    g_autofree char *p3 = g_strdup_printf("sys/devices/system/node/node%u/distance", node);

    fake_write(fake, p1, "%s\n", cpulist);
    fake_write(fake, p2,
               "Node %u MemTotal:       %" G_GUINT64_FORMAT " kB\n"
               "Node %u MemFree:        1000 kB\n",
               node, memtotal_kib, node);
    if (distance)
        fake_write(fake, p3, "%s\n", distance);
}

static void
fake_proc(FakeHost *fake, guint64 memtotal_kib, guint64 memfree_kib)
{
    fake_write(fake, "proc/meminfo",
               "MemTotal:       %" G_GUINT64_FORMAT " kB\n"
               "MemFree:        %" G_GUINT64_FORMAT " kB\n"
               "MemAvailable:   %" G_GUINT64_FORMAT " kB\n",
               memtotal_kib, memfree_kib, memfree_kib);
    fake_write(fake, "proc/cpuinfo",
               "processor\t: 0\n"
               "vendor_id\t: GenuineIntel\n"
               "cpu family\t: 6\n"
               "model\t\t: 85\n"
               "model name\t: Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz\n"
               "stepping\t: 7\n"
               "microcode\t: 0x5003302\n"
               "cpu MHz\t\t: 2100.000\n"
               "address sizes\t: 46 bits physical, 48 bits virtual\n"
               "\n"
               "processor\t: 1\n"
               "vendor_id\t: GenuineIntel\n"
               "cpu MHz\t\t: 2194.843\n"
               "\n");
}

/* Two nodes, one socket each, two cores per socket, two threads per core. */
static void
fake_two_nodes(FakeHost *fake)
{
    fake_proc(fake, 4000000, 3000000);
    fake_write(fake, "sys/devices/system/cpu/present", "0-7\n");
    fake_write(fake, "sys/devices/system/cpu/online", "0-7\n");
    fake_write(fake, "sys/devices/system/node/online", "0-1\n");
    fake_cpu(fake, 0, 0, 0, "0-1");
    fake_cpu(fake, 1, 0, 0, "0-1");
    fake_cpu(fake, 2, 0, 1, "2-3");
    fake_cpu(fake, 3, 0, 1, "2-3");
    fake_cpu(fake, 4, 1, 0, "4-5");
    fake_cpu(fake, 5, 1, 0, "4-5");
    fake_cpu(fake, 6, 1, 1, "6-7");
    fake_cpu(fake, 7, 1, 1, "6-7");
    fake_node(fake, 0, "0-3", 2000000, "10 21");
    fake_node(fake, 1, "4-7", 1999000, "21 10");
    fake_mkdir(fake, "sys/kernel/mm/hugepages/hugepages-2048kB");
    fake_write(fake, "sys/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages", "100\n");
    fake_write(fake, "sys/devices/system/node/node1/hugepages/hugepages-2048kB/nr_hugepages", "0\n");
    fake_write(fake, "sys/devices/system/cpu/cpu0/cache/index2/level", "2\n");
    fake_write(fake, "sys/devices/system/cpu/cpu0/cache/index2/id", "0\n");
    fake_write(fake, "sys/devices/system/cpu/cpu0/cache/index2/type", "Unified\n");
    fake_write(fake, "sys/devices/system/cpu/cpu0/cache/index2/size", "1024K\n");
    fake_write(fake, "sys/devices/system/cpu/cpu0/cache/index2/shared_cpu_list", "0-1\n");
    for (guint cpu = 0; cpu < 8; cpu++) {
        g_autofree char *base = g_strdup_printf("sys/devices/system/cpu/cpu%u/cache/index3", cpu);
        g_autofree char *p1 = g_strdup_printf("%s/level", base);
        g_autofree char *p2 = g_strdup_printf("%s/id", base);
        g_autofree char *p3 = g_strdup_printf("%s/type", base);
        g_autofree char *p4 = g_strdup_printf("%s/size", base);
        g_autofree char *p5 = g_strdup_printf("%s/shared_cpu_list", base);

        fake_write(fake, p1, "3\n");
        fake_write(fake, p2, "%u\n", cpu / 4);
        fake_write(fake, p3, "Unified\n");
        fake_write(fake, p4, "28160K\n");
        fake_write(fake, p5, "%s\n", cpu < 4 ? "0-3" : "4-7");
    }
    fake_write(fake, "etc/machine-id", "0123456789abcdef0123456789abcdef\n");
}

static void
test_fake_two_nodes(FakeHost *fake, gconstpointer data G_GNUC_UNUSED)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) cells = NULL;
    g_autoptr(GPtrArray) banks = NULL;
    UtilNodeInfo info;
    const UtilHostNumaCell *cell = NULL;
    const UtilHostCpu *cpu = NULL;
    const UtilHostCacheBank *bank = NULL;
    guint base_kib = sysconf(_SC_PAGESIZE) / 1024;

    fake_two_nodes(fake);

    g_assert_true(util_host_node_info(&info, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(info.cpus, ==, 8);
    g_assert_cmpuint(info.nodes, ==, 2);
    g_assert_cmpuint(info.sockets, ==, 1);      /* per node */
    g_assert_cmpuint(info.cores, ==, 2);
    g_assert_cmpuint(info.threads, ==, 2);
    g_assert_cmpuint(info.memory_kib, ==, 4000000);
    g_assert_cmpuint(info.mhz, ==, 2194);       /* libvirt: last "cpu MHz" line */
    g_assert_cmpuint(util_host_online_cpus(), ==, 8);
    g_assert_cmpuint(util_host_free_memory(NULL), ==, 3000000ULL * 1024);

    cells = util_host_numa_cells(&error);
    g_assert_no_error(error);
    g_assert_cmpuint(cells->len, ==, 2);
    cell = g_ptr_array_index(cells, 1);
    g_assert_cmpuint(cell->id, ==, 1);
    g_assert_cmpuint(cell->memory_kib, ==, 1999000);
    g_assert_cmpuint(cell->cpus->len, ==, 4);
    cpu = &g_array_index(cell->cpus, UtilHostCpu, 3);
    g_assert_cmpuint(cpu->id, ==, 7);
    g_assert_true(cpu->online);
    g_assert_cmpuint(cpu->socket_id, ==, 1);
    g_assert_cmpuint(cpu->core_id, ==, 1);
    g_assert_cmpstr(cpu->siblings, ==, "6-7");
    g_assert_cmpuint(cell->distances->len, ==, 2);
    g_assert_cmpuint(g_array_index(cell->distances, UtilHostDistance, 0).node, ==, 0);
    g_assert_cmpuint(g_array_index(cell->distances, UtilHostDistance, 0).value, ==, 21);

    /* base pages are what huge pages leave of the node's memory */
    cell = g_ptr_array_index(cells, 0);
    g_assert_cmpuint(cell->pages->len, ==, 2);
    g_assert_cmpuint(g_array_index(cell->pages, UtilHostPageCount, 0).size_kib, ==, base_kib);
    g_assert_cmpuint(g_array_index(cell->pages, UtilHostPageCount, 0).count, ==,
                     (2000000 - 100 * 2048) / base_kib);
    g_assert_cmpuint(g_array_index(cell->pages, UtilHostPageCount, 1).size_kib, ==, 2048);
    g_assert_cmpuint(g_array_index(cell->pages, UtilHostPageCount, 1).count, ==, 100);

    banks = util_host_cache_banks(3);
    g_assert_cmpuint(banks->len, ==, 2);
    bank = g_ptr_array_index(banks, 1);
    g_assert_cmpuint(bank->id, ==, 1);
    g_assert_cmpuint(bank->level, ==, 3);
    g_assert_cmpint(bank->type, ==, UTIL_HOST_CACHE_BOTH);
    g_assert_cmpuint(bank->size_bytes, ==, 28160ULL * 1024);
    g_assert_cmpstr(bank->cpus, ==, "4-7");
}

/* Cores reported as thread siblings too (AMD Bulldozer modules): the product
 * does not add up, so libvirt reports 1 node, 1 socket, N cores, 1 thread. */
static void
test_fake_flat_fallback(FakeHost *fake, gconstpointer data G_GNUC_UNUSED)
{
    g_autoptr(GError) error = NULL;
    UtilNodeInfo info;

    fake_proc(fake, 1000000, 500000);
    fake_write(fake, "sys/devices/system/cpu/present", "0-3\n");
    fake_write(fake, "sys/devices/system/cpu/online", "0-3\n");
    fake_write(fake, "sys/devices/system/node/online", "0\n");
    fake_node(fake, 0, "0-3", 1000000, "10");
    fake_cpu(fake, 0, 0, 0, "0-1");
    fake_cpu(fake, 1, 0, 1, "0-1");
    fake_cpu(fake, 2, 0, 2, "2-3");
    fake_cpu(fake, 3, 0, 3, "2-3");

    g_assert_true(util_host_node_info(&info, &error));
    g_assert_cmpuint(info.cpus, ==, 4);
    g_assert_cmpuint(info.nodes, ==, 1);
    g_assert_cmpuint(info.sockets, ==, 1);
    g_assert_cmpuint(info.cores, ==, 4);
    g_assert_cmpuint(info.threads, ==, 1);
}

/* An offline CPU counts in the topology but not in cpus, and is listed in
 * its cell by id only. */
static void
test_fake_offline_cpu(FakeHost *fake, gconstpointer data G_GNUC_UNUSED)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) cells = NULL;
    g_autoptr(ConfCaps) caps = NULL;
    g_autofree char *xml = NULL;
    g_autoptr(xmlDoc) doc = NULL;
    const UtilHostNumaCell *cell = NULL;
    UtilNodeInfo info;

    fake_proc(fake, 1000000, 500000);
    fake_write(fake, "sys/devices/system/cpu/present", "0-3\n");
    fake_write(fake, "sys/devices/system/cpu/online", "0-2\n");
    fake_write(fake, "sys/devices/system/node/online", "0\n");
    fake_node(fake, 0, "0-3", 1000000, "10");
    fake_cpu(fake, 0, 0, 0, "0");
    fake_cpu(fake, 1, 0, 1, "1");
    fake_cpu(fake, 2, 0, 2, "2");
    fake_write(fake, "etc/machine-id", "0123456789abcdef0123456789abcdef\n");

    g_assert_true(util_host_node_info(&info, &error));
    g_assert_cmpuint(info.cpus, ==, 3);
    g_assert_cmpuint(info.nodes * info.sockets * info.cores * info.threads, ==, 4);

    cells = util_host_numa_cells(&error);
    g_assert_no_error(error);
    cell = g_ptr_array_index(cells, 0);
    g_assert_cmpuint(cell->cpus->len, ==, 4);
    g_assert_false(g_array_index(cell->cpus, UtilHostCpu, 3).online);

    caps = conf_caps_new_host(&error);
    g_assert_no_error(error);
    xml = conf_caps_format(caps);
    g_assert_nonnull(strstr(xml, "<cpu id='3'/>"));
    doc = test_parse_xml(xml);
    g_assert_cmpint(test_xpath_count(doc, "//cells/cell/cpus[@num='4']/cpu"), ==, 4);
    g_assert_cmpint(test_xpath_count(doc, "//cells/cell/cpus/cpu[@socket_id]"), ==, 3);
    test_validate_schema(xml);
}

/* No /sys/devices/system/node: one node, one cell with all memory. */
static void
test_fake_no_numa(FakeHost *fake, gconstpointer data G_GNUC_UNUSED)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) cells = NULL;
    const UtilHostNumaCell *cell = NULL;
    UtilNodeInfo info;

    fake_proc(fake, 1234567, 500000);
    fake_write(fake, "sys/devices/system/cpu/present", "0-1\n");
    fake_write(fake, "sys/devices/system/cpu/online", "0-1\n");
    fake_cpu(fake, 0, 0, 0, "0");
    fake_cpu(fake, 1, 0, 1, "1");

    g_assert_true(util_host_node_info(&info, &error));
    g_assert_cmpuint(info.nodes, ==, 1);
    g_assert_cmpuint(info.sockets, ==, 1);
    g_assert_cmpuint(info.cores, ==, 2);
    g_assert_cmpuint(info.threads, ==, 1);
    g_assert_cmpuint(info.cpus, ==, 2);

    cells = util_host_numa_cells(&error);
    g_assert_no_error(error);
    g_assert_cmpuint(cells->len, ==, 1);
    cell = g_ptr_array_index(cells, 0);
    g_assert_cmpuint(cell->id, ==, 0);
    g_assert_cmpuint(cell->memory_kib, ==, 1234567);
    g_assert_cmpuint(cell->cpus->len, ==, 2);
    g_assert_cmpuint(cell->distances->len, ==, 0);
}

/* A node whose memory cannot be read: libvirt fakes a single cell. */
static void
test_fake_broken_node(FakeHost *fake, gconstpointer data G_GNUC_UNUSED)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) cells = NULL;
    g_autofree char *meminfo = NULL;
    const UtilHostNumaCell *cell = NULL;

    fake_two_nodes(fake);
    meminfo = g_build_filename(fake->root, "sys/devices/system/node/node1/meminfo", NULL);
    g_assert_cmpint(g_unlink(meminfo), ==, 0);

    cells = util_host_numa_cells(&error);
    g_assert_no_error(error);
    g_assert_cmpuint(cells->len, ==, 1);
    cell = g_ptr_array_index(cells, 0);
    g_assert_cmpuint(cell->memory_kib, ==, 4000000);
    g_assert_cmpuint(cell->cpus->len, ==, 8);
}

static void
test_fake_cpufreq(FakeHost *fake, gconstpointer data G_GNUC_UNUSED)
{
    UtilNodeInfo info;

    fake_proc(fake, 1000000, 500000);
    fake_write(fake, "sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq", "3500000\n");
    g_assert_true(util_host_node_info(&info, NULL));
    g_assert_cmpuint(info.mhz, ==, 3500);
}

static void
test_fake_missing_meminfo(FakeHost *fake G_GNUC_UNUSED, gconstpointer data G_GNUC_UNUSED)
{
    g_autoptr(GError) error = NULL;
    UtilNodeInfo info = { .cpus = 12345 };

    g_assert_false(util_host_node_info(&info, &error));
    g_assert_nonnull(error);
    g_assert_cmpint(util_error_code(error), ==, VIR_ERR_SYSTEM_ERROR);
    g_assert_nonnull(strstr(error->message, "/proc/meminfo"));
    g_assert_cmpuint(info.cpus, ==, 12345);     /* untouched on failure */
    g_clear_error(&error);
    g_assert_cmpuint(util_host_free_memory(&error), ==, 0);
    g_assert_nonnull(error);
}

static void
test_fake_cpu_strings(FakeHost *fake, gconstpointer data G_GNUC_UNUSED)
{
    g_autofree char *vendor = NULL;
    g_autofree char *model = NULL;
    UtilHostCpuSignature sig;

    fake_proc(fake, 1000000, 500000);
    vendor = util_host_cpu_vendor();
    model = util_host_cpu_model_name();
    g_assert_cmpstr(vendor, ==, "Intel");
    g_assert_cmpstr(model, ==, "Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz");
    g_assert_true(util_host_cpu_signature(&sig));
    g_assert_cmpuint(sig.family, ==, 6);
    g_assert_cmpuint(sig.model, ==, 85);
    g_assert_cmpuint(sig.stepping, ==, 7);
    g_assert_true(sig.has_microcode);
    g_assert_cmpuint(sig.microcode, ==, 0x5003302);
    g_assert_cmpuint(sig.phys_addr_bits, ==, 46);

    fake_write(fake, "proc/cpuinfo", "vendor_id\t: SomethingNew\n");
    g_clear_pointer(&vendor, g_free);
    g_clear_pointer(&model, g_free);
    vendor = util_host_cpu_vendor();
    model = util_host_cpu_model_name();
    g_assert_cmpstr(vendor, ==, "SomethingNew");
    g_assert_null(model);
    g_assert_false(util_host_cpu_signature(&sig));
}

static void
test_fake_uuid_dmi(FakeHost *fake, gconstpointer data G_GNUC_UNUSED)
{
    static const unsigned char expected[16] = {
        0x4c, 0x4c, 0x45, 0x44, 0x00, 0x51, 0x34, 0x10,
        0x80, 0x51, 0xb4, 0xc0, 0x4f, 0x4b, 0x4e, 0x32,
    };
    g_autoptr(GError) error = NULL;
    unsigned char uuid[16];

    fake_write(fake, "sys/class/dmi/id/product_uuid", "4C4C4544-0051-3410-8051-B4C04F4B4E32\n");
    fake_write(fake, "etc/machine-id", "0123456789abcdef0123456789abcdef\n");
    g_assert_true(util_host_uuid(uuid, &error));
    g_assert_no_error(error);
    g_assert_cmpmem(uuid, 16, expected, 16);
}

static void
test_fake_uuid_machine_id(FakeHost *fake, gconstpointer data G_GNUC_UNUSED)
{
    static const unsigned char expected[16] = {
        0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
        0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
    };
    g_autoptr(GError) error = NULL;
    unsigned char uuid[16];

    /* firmware placeholders are not UUIDs */
    fake_write(fake, "sys/class/dmi/id/product_uuid", "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF\n");
    fake_write(fake, "sys/devices/virtual/dmi/id/product_uuid", "00000000-0000-0000-0000-000000000000\n");
    fake_write(fake, "etc/machine-id", "0123456789abcdef0123456789abcdef\n");
    g_assert_true(util_host_uuid(uuid, &error));
    g_assert_no_error(error);
    g_assert_cmpmem(uuid, 16, expected, 16);
}

static void
test_fake_uuid_missing(FakeHost *fake, gconstpointer data G_GNUC_UNUSED)
{
    g_autoptr(GError) error = NULL;
    unsigned char uuid[16] = { 7 };

    g_assert_false(util_host_uuid(uuid, &error));
    g_assert_nonnull(error);
    g_assert_cmpint(util_error_code(error), ==, VIR_ERR_INTERNAL_ERROR);
    g_assert_cmpint(util_error_domain(error), ==, VIR_FROM_NONE);
    g_assert_cmpuint(uuid[0], ==, 7);
    g_clear_error(&error);

    fake_write(fake, "etc/machine-id", "not-a-machine-id\n");
    g_assert_false(util_host_uuid(uuid, &error));
    g_assert_nonnull(error);
}

/* The whole document for the two-node host, as libvirt lays it out. */
static void
test_caps_fake_golden(FakeHost *fake, gconstpointer data G_GNUC_UNUSED)
{
    static const char *const machines[] = { "pc-q35-7.2", "q35", NULL };
    static const char *const domain_types[] = { "qemu", "kvm", NULL };
    static const char *const transports[] = { "tcp", "rdma", NULL };
    g_autoptr(GError) error = NULL;
    g_autoptr(ConfCaps) caps = NULL;
    g_autofree char *xml = NULL;
    g_autofree char *expected = NULL;
    g_autofree char *arch = util_host_arch();
    guint base_kib = sysconf(_SC_PAGESIZE) / 1024;

    fake_two_nodes(fake);
    caps = conf_caps_new_host(&error);
    g_assert_no_error(error);
    conf_caps_set_host_cpu_model(caps, "Cascadelake-Server");
    conf_caps_set_migration(caps, true, transports);
    conf_caps_add_guest(caps, "hvm", "x86_64", 64, "/usr/bin/qemu-system-x86_64",
                        machines, domain_types);
    conf_caps_add_guest_feature(caps, "hvm", "x86_64", "acpi", CONF_CAPS_FEATURE_ON_TOGGLE);
    conf_caps_add_guest_feature(caps, "hvm", "x86_64", "apic", CONF_CAPS_FEATURE_ON_FIXED);
    conf_caps_add_guest_feature(caps, "hvm", "x86_64", "cpuselection", CONF_CAPS_FEATURE_PLAIN);
    xml = conf_caps_format(caps);

    expected = g_strdup_printf(
        "<capabilities>\n"
        "\n"
        "  <host>\n"
        "    <uuid>01234567-89ab-cdef-0123-456789abcdef</uuid>\n"
        "    <cpu>\n"
        "      <arch>%s</arch>\n"
        "      <model>Cascadelake-Server</model>\n"
        "      <vendor>Intel</vendor>\n"
        "      <microcode version='83899138'/>\n"
        "      <signature family='6' model='85' stepping='7'/>\n"
        "      <topology sockets='1' dies='1' cores='2' threads='2'/>\n"
        "      <maxphysaddr mode='emulate' bits='46'/>\n"
        "      <pages unit='KiB' size='%u'/>\n"
        "      <pages unit='KiB' size='2048'/>\n"
        "    </cpu>\n"
        "    <power_management/>\n"
        "    <iommu support='no'/>\n"
        "    <migration_features>\n"
        "      <live/>\n"
        "      <uri_transports>\n"
        "        <uri_transport>tcp</uri_transport>\n"
        "        <uri_transport>rdma</uri_transport>\n"
        "      </uri_transports>\n"
        "    </migration_features>\n"
        "    <topology>\n"
        "      <cells num='2'>\n"
        "        <cell id='0'>\n"
        "          <memory unit='KiB'>2000000</memory>\n"
        "          <pages unit='KiB' size='%u'>%u</pages>\n"
        "          <pages unit='KiB' size='2048'>100</pages>\n"
        "          <distances>\n"
        "            <sibling id='0' value='10'/>\n"
        "            <sibling id='1' value='21'/>\n"
        "          </distances>\n"
        "          <cpus num='4'>\n"
        "            <cpu id='0' socket_id='0' die_id='0' core_id='0' siblings='0-1'/>\n"
        "            <cpu id='1' socket_id='0' die_id='0' core_id='0' siblings='0-1'/>\n"
        "            <cpu id='2' socket_id='0' die_id='0' core_id='1' siblings='2-3'/>\n"
        "            <cpu id='3' socket_id='0' die_id='0' core_id='1' siblings='2-3'/>\n"
        "          </cpus>\n"
        "        </cell>\n"
        "        <cell id='1'>\n"
        "          <memory unit='KiB'>1999000</memory>\n"
        "          <pages unit='KiB' size='%u'>%u</pages>\n"
        "          <pages unit='KiB' size='2048'>0</pages>\n"
        "          <distances>\n"
        "            <sibling id='0' value='21'/>\n"
        "            <sibling id='1' value='10'/>\n"
        "          </distances>\n"
        "          <cpus num='4'>\n"
        "            <cpu id='4' socket_id='1' die_id='0' core_id='0' siblings='4-5'/>\n"
        "            <cpu id='5' socket_id='1' die_id='0' core_id='0' siblings='4-5'/>\n"
        "            <cpu id='6' socket_id='1' die_id='0' core_id='1' siblings='6-7'/>\n"
        "            <cpu id='7' socket_id='1' die_id='0' core_id='1' siblings='6-7'/>\n"
        "          </cpus>\n"
        "        </cell>\n"
        "      </cells>\n"
        "    </topology>\n"
        "    <cache>\n"
        "      <bank id='0' level='3' type='both' size='28160' unit='KiB' cpus='0-3'/>\n"
        "      <bank id='1' level='3' type='both' size='28160' unit='KiB' cpus='4-7'/>\n"
        "    </cache>\n"
        "    <secmodel>\n"
        "      <model>none</model>\n"
        "      <doi>0</doi>\n"
        "    </secmodel>\n"
        "  </host>\n"
        "\n"
        "  <guest>\n"
        "    <os_type>hvm</os_type>\n"
        "    <arch name='x86_64'>\n"
        "      <wordsize>64</wordsize>\n"
        "      <emulator>/usr/bin/qemu-system-x86_64</emulator>\n"
        "      <machine>pc-q35-7.2</machine>\n"
        "      <machine>q35</machine>\n"
        "      <domain type='qemu'/>\n"
        "      <domain type='kvm'/>\n"
        "    </arch>\n"
        "    <features>\n"
        "      <acpi default='on' toggle='yes'/>\n"
        "      <apic default='on' toggle='no'/>\n"
        "      <cpuselection/>\n"
        "    </features>\n"
        "  </guest>\n"
        "\n"
        "</capabilities>\n",
        arch, base_kib,
        base_kib, (2000000 - 100 * 2048) / base_kib,
        base_kib, 1999000 / base_kib);

    g_assert_cmpstr(xml, ==, expected);
    test_validate_schema(xml);
}

/* Text from the host is escaped, never interpreted as markup. */
static void
test_caps_fake_escaping(FakeHost *fake, gconstpointer data G_GNUC_UNUSED)
{
    static const char *const domain_types[] = { "qemu", NULL };
    static const char *const machines[] = { "a<b&c'd", NULL };
    g_autoptr(GError) error = NULL;
    g_autoptr(ConfCaps) caps = NULL;
    g_autofree char *xml = NULL;
    g_autofree char *vendor = NULL;
    g_autofree char *machine = NULL;
    g_autoptr(xmlDoc) doc = NULL;

    fake_proc(fake, 1000000, 500000);
    fake_write(fake, "proc/cpuinfo", "vendor_id\t: <evil>&'\"\n");
    fake_write(fake, "etc/machine-id", "0123456789abcdef0123456789abcdef\n");
    caps = conf_caps_new_host(&error);
    g_assert_no_error(error);
    conf_caps_add_guest(caps, "hvm", "x86_64", 64, "/usr/bin/qemu-system-x86_64",
                        machines, domain_types);
    xml = conf_caps_format(caps);
    doc = test_parse_xml(xml);
    vendor = test_xpath_string(doc, "/capabilities/host/cpu/vendor");
    g_assert_cmpstr(vendor, ==, "<evil>&'\"");
    machine = test_xpath_string(doc, "/capabilities/guest/arch/machine");
    g_assert_cmpstr(machine, ==, "a<b&c'd");
}

#define FAKE_TEST(path, func) \
    g_test_add(path, FakeHost, NULL, fake_setup, func, fake_teardown)

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    g_test_add_func("/host/nodeinfo/cpus", test_host_nodeinfo_cpus);
    g_test_add_func("/host/nodeinfo/memory", test_host_nodeinfo_memory);
    g_test_add_func("/host/nodeinfo/topology", test_host_nodeinfo_topology);
    g_test_add_func("/host/nodeinfo/model", test_host_nodeinfo_model);
    g_test_add_func("/host/free-memory", test_host_free_memory);
    g_test_add_func("/host/hostname", test_host_hostname);
    g_test_add_func("/host/uuid/stable", test_host_uuid_stable);
    g_test_add_func("/host/cpu/strings", test_host_cpu_strings);
    g_test_add_func("/caps/host/structure", test_caps_host_structure);

    FAKE_TEST("/host/fake/nodeinfo/two-nodes", test_fake_two_nodes);
    FAKE_TEST("/host/fake/nodeinfo/flat-fallback", test_fake_flat_fallback);
    FAKE_TEST("/host/fake/nodeinfo/offline-cpu", test_fake_offline_cpu);
    FAKE_TEST("/host/fake/nodeinfo/no-numa", test_fake_no_numa);
    FAKE_TEST("/host/fake/nodeinfo/cpufreq", test_fake_cpufreq);
    FAKE_TEST("/host/fake/numa/broken-node", test_fake_broken_node);
    FAKE_TEST("/host/fake/nodeinfo/missing-meminfo", test_fake_missing_meminfo);
    FAKE_TEST("/host/fake/cpu/strings", test_fake_cpu_strings);
    FAKE_TEST("/host/fake/uuid/dmi", test_fake_uuid_dmi);
    FAKE_TEST("/host/fake/uuid/machine-id", test_fake_uuid_machine_id);
    FAKE_TEST("/host/fake/uuid/missing", test_fake_uuid_missing);
    FAKE_TEST("/caps/fake/golden", test_caps_fake_golden);
    FAKE_TEST("/caps/fake/escaping", test_caps_fake_escaping);

    return g_test_run();
}
