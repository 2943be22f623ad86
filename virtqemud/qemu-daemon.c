/*
 * qemu-daemon.c: virtqemud, the QEMU/KVM driver daemon.
 *
 * This is the connection-level part: hypervisor type and version, host
 * capabilities with the guests the installed emulators can run (from the
 * capabilities cache, qemu-caps.c), and the vCPU limit.  Domain management
 * builds on it.
 */
#define G_LOG_DOMAIN "virtqemud"

#include <linux/capability.h>
#include <unistd.h>

#include "conf-capabilities.h"
#include "daemon.h"
#include "qemu-caps.h"
#include "qemu-domain.h"
#include "qemu-domcaps.h"
#include "util-error.h"

typedef struct {
    const char *arch;        /* libvirt arch name */
    unsigned int wordsize;
} QemuArch;

/* The guests the capabilities XML can list, when their emulator is found. */
static const QemuArch qemu_arches[] = {
    { "x86_64", 64 },
    { "i686", 32 },
    { "aarch64", 64 },
};

/* One <machine> of the capabilities XML. */
typedef struct {
    const char *name;
    const char *canonical;   /* the full name when @name is an alias */
    unsigned int max_cpus;
    bool deprecated;
} QemuCapsXmlMachine;

/* The machines of @caps as libvirt lists them: QEMU's default first; a
 * machine with an alias twice, by its full name and then by its alias
 * pointing at the full name. */
static GArray *
qemu_caps_xml_machines(const QemuCaps *caps)
{
    GArray *list = g_array_new(FALSE, TRUE, sizeof(QemuCapsXmlMachine));
    g_autoptr(GPtrArray) order = g_ptr_array_new();

    for (guint i = 0; i < caps->machines->len; i++) {
        QemuCapsMachine *m = g_ptr_array_index(caps->machines, i);

        if (m->is_default)
            g_ptr_array_insert(order, 0, m);
        else
            g_ptr_array_add(order, m);
    }
    for (guint i = 0; i < order->len; i++) {
        const QemuCapsMachine *m = g_ptr_array_index(order, i);
        QemuCapsXmlMachine full = { m->name, NULL, m->max_cpus, m->deprecated };
        QemuCapsXmlMachine alias = { m->alias, m->name, m->max_cpus, m->deprecated };

        g_array_append_val(list, full);
        if (m->alias)
            g_array_append_val(list, alias);
    }
    return list;
}

/* Adds the <guest> of the emulator @caps describes. */
static void
qemu_caps_xml_add_guest(ConfCaps *xml, const QemuArch *a, const QemuCaps *caps)
{
    g_autoptr(GArray) machines = qemu_caps_xml_machines(caps);
    g_autofree const char **names = g_new0(const char *, machines->len + 1);
    const char *types_kvm[] = { "qemu", "kvm", NULL };
    const char *types_tcg[] = { "qemu", NULL };
    const char *host = qemu_caps_host_arch();
    bool native = g_str_equal(a->arch, host) ||
                  (g_str_equal(a->arch, "i686") && g_str_equal(host, "x86_64"));

    g_autofree ConfCapsMachine *list = g_new0(ConfCapsMachine, machines->len + 1);

    for (guint i = 0; i < machines->len; i++) {
        const QemuCapsXmlMachine *m = &g_array_index(machines, QemuCapsXmlMachine, i);
        names[i] = m->name;
        list[i] = (ConfCapsMachine){ m->name, m->canonical, m->max_cpus, m->deprecated };
    }
    conf_caps_add_guest(xml, "hvm", a->arch, a->wordsize, caps->binary, names,
                        native && caps->kvm ? types_kvm : types_tcg);
    conf_caps_set_guest_machines(xml, "hvm", a->arch, list, machines->len);
}

static char *
qemu_capabilities_xml(GError **error)
{
    g_autoptr(ConfCaps) xml = conf_caps_new_host(error);
    g_autoptr(GError) first_error = NULL;
    guint guests = 0;

    if (!xml)
        return NULL;
    for (size_t i = 0; i < G_N_ELEMENTS(qemu_arches); i++) {
        g_autofree char *emulator = qemu_caps_find_emulator(qemu_arches[i].arch);
        g_autoptr(GError) local = NULL;
        g_autoptr(QemuCaps) caps = NULL;

        if (!emulator)
            continue;
        caps = qemu_caps_cache_lookup(emulator, &local);
        if (!caps) {
            /* as libvirt: an emulator that cannot be probed is left out */
            g_message("leaving %s out of the capabilities: %s", emulator, local->message);
            if (!first_error)
                first_error = g_steal_pointer(&local);
            continue;
        }
        qemu_caps_xml_add_guest(xml, &qemu_arches[i], caps);
        guests++;
    }
    if (guests == 0) {
        if (first_error)
            g_propagate_error(error, g_steal_pointer(&first_error));
        else
            util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INTERNAL_ERROR,
                           "no usable QEMU emulator found (looked for qemu-system-* in %s)",
                           g_getenv("MODVIRT_QEMU_DIR") ? g_getenv("MODVIRT_QEMU_DIR") : "PATH");
        return NULL;
    }
    return conf_caps_format(xml);
}

static bool
qemu_connect_get_type(RpcServerCall *call, RemoteConnectGetTypeRet *ret, GError **error)
{
    ret->type = g_strdup("QEMU");
    return true;
}

static bool
qemu_connect_get_version(RpcServerCall *call, RemoteConnectGetVersionRet *ret, GError **error)
{
    g_autoptr(QemuCaps) caps = qemu_caps_cache_lookup_default(error);

    if (!caps)
        return false;
    ret->hv_ver = caps->version;
    return true;
}

static bool
qemu_connect_get_capabilities(RpcServerCall *call, RemoteConnectGetCapabilitiesRet *ret,
                              GError **error)
{
    ret->capabilities = qemu_capabilities_xml(error);
    return ret->capabilities != NULL;
}

static bool
qemu_connect_get_max_vcpus(RpcServerCall *call, const RemoteConnectGetMaxVcpusArgs *args,
                           RemoteConnectGetMaxVcpusRet *ret, GError **error)
{
    /* libvirt's answers: 16 for plain QEMU, the KVM limit for kvm */
    if (!args->type || g_ascii_strcasecmp(args->type, "qemu") == 0) {
        ret->max_vcpus = 16;
        return true;
    }
    if (g_ascii_strcasecmp(args->type, "kvm") == 0) {
        int n = qemu_domcaps_env_host()->kvm_max_vcpus(error);

        if (n < 0)
            return false;
        ret->max_vcpus = n;
        return true;
    }
    util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INVALID_ARG,
                   "unknown type '%s'", args->type);
    return false;
}

static RemoteServerOps qemu_ops = {
    .connect_get_type = qemu_connect_get_type,
    .connect_get_version = qemu_connect_get_version,
    .connect_get_capabilities = qemu_connect_get_capabilities,
    .connect_get_max_vcpus = qemu_connect_get_max_vcpus,
    .connect_get_domain_capabilities = qemu_connect_get_domain_capabilities,
};

static const char *const qemu_schemes[] = { "qemu", NULL };

/* What starting and managing QEMU needs: switching to the guest user,
 * owning and labelling images, signalling guests, raising limits, tap
 * devices and bridges. */
static const int qemu_caps[] = {
    CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_KILL, CAP_SETGID, CAP_SETUID,
    CAP_SETPCAP, CAP_SYS_RESOURCE, CAP_NET_ADMIN, CAP_SYS_ADMIN, CAP_SYS_NICE, -1
};

/* Capabilities first (a prefetch of the host's emulator runs while the
 * daemon starts), then the domains. */
static bool
qemu_daemon_init(GError **error)
{
    g_autofree char *cachedir = g_build_filename(daemon_paths()->statedir, "cache", "qemu",
                                                 "capabilities", NULL);
    g_autofree char *emulator = qemu_caps_find_emulator(qemu_caps_host_arch());

    qemu_caps_cache_init(cachedir);
    if (emulator)
        qemu_caps_cache_prefetch(emulator);
    return qemu_domains_init(error);
}

static void
qemu_daemon_cleanup(void)
{
    qemu_domains_cleanup();
    qemu_caps_cache_cleanup();
}

static const DaemonDriver qemu_driver = {
    .name = "virtqemud",
    .description = "modvirt QEMU/KVM daemon",
    .uri_schemes = qemu_schemes,
    .ops = &qemu_ops,
    .keep_caps = qemu_caps,
    .init = qemu_daemon_init,
    .cleanup = qemu_daemon_cleanup,
};

int
main(int argc, char **argv)
{
    qemu_domain_fill_ops(&qemu_ops);
    return daemon_main(&qemu_driver, argc, argv);
}
