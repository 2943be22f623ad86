/*
 * qemu-daemon.c: virtqemud, the QEMU/KVM driver daemon.
 *
 * This is the connection-level part: hypervisor type and version, host
 * capabilities with the guests the installed emulators can run, and the
 * vCPU limit.  Domain management builds on it.
 */
#define G_LOG_DOMAIN "virtqemud"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "conf-capabilities.h"
#include "daemon.h"
#include "qemu-domain.h"
#include "util-error.h"

typedef struct {
    const char *arch;        /* libvirt arch name */
    const char *binary;      /* qemu-system-<x> */
    unsigned int wordsize;
} QemuArch;

static const QemuArch qemu_arches[] = {
    { "x86_64", "qemu-system-x86_64", 64 },
    { "i686", "qemu-system-i386", 32 },
    { "aarch64", "qemu-system-aarch64", 64 },
};

/* Facts about the installed emulators, probed once on first use. */
typedef struct {
    GMutex lock;
    bool probed;
    guint64 version;         /* major * 1000000 + minor * 1000 + micro */
    char *caps_xml;
    char *error;             /* why probing failed */
} QemuHost;

static QemuHost qemu_host;

static char *
qemu_find_emulator(const char *binary)
{
    const char *dir = g_getenv("MODVIRT_QEMU_DIR");

    if (dir && *dir) {
        g_autofree char *path = g_build_filename(dir, binary, NULL);
        return g_file_test(path, G_FILE_TEST_IS_EXECUTABLE) ? g_steal_pointer(&path) : NULL;
    }
    return g_find_program_in_path(binary);
}

static const char *
qemu_host_arch(void)
{
    static struct utsname uts;

    if (!uts.machine[0])
        uname(&uts);
    return g_str_equal(uts.machine, "x86_64") ? "x86_64" :
           g_str_equal(uts.machine, "aarch64") ? "aarch64" : uts.machine;
}

/* "QEMU emulator version 7.2.22 (Debian ...)" -> 7002022 */
static bool
qemu_parse_version(const char *text, guint64 *ret_version)
{
    const char *p = strstr(text, "version ");
    unsigned int major = 0, minor = 0, micro = 0;

    if (!p || sscanf(p + 8, "%u.%u.%u", &major, &minor, &micro) < 2)
        return false;
    *ret_version = major * 1000000ULL + minor * 1000ULL + micro;
    return true;
}

static char **
qemu_probe_machines(const char *emulator)
{
    const char *argv[] = { emulator, "-machine", "help", NULL };
    g_autofree char *out = NULL;
    g_auto(GStrv) lines = NULL;
    GPtrArray *machines = g_ptr_array_new();
    int status = 0;

    if (g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL,
                     &out, NULL, &status, NULL) && status == 0) {
        lines = g_strsplit(out, "\n", -1);
        for (int i = 1; lines[i]; i++) {
            g_auto(GStrv) words = g_strsplit_set(g_strstrip(lines[i]), " ", 2);
            if (words[0] && *words[0] && !strstr(lines[i], "(deprecated)"))
                g_ptr_array_add(machines, g_strdup(words[0]));
        }
    }
    g_ptr_array_add(machines, NULL);
    return (char **)g_ptr_array_free(machines, FALSE);
}

static bool
qemu_kvm_usable(void)
{
    return access("/dev/kvm", R_OK | W_OK) == 0;
}

static bool
qemu_host_probe_locked(GError **error)
{
    QemuHost *h = &qemu_host;
    g_autoptr(ConfCaps) caps = NULL;
    bool have_version = false;

    if (h->probed) {
        if (h->error) {
            util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INTERNAL_ERROR, "%s", h->error);
            return false;
        }
        return true;
    }
    caps = conf_caps_new_host(error);
    if (!caps)
        return false;
    for (size_t i = 0; i < G_N_ELEMENTS(qemu_arches); i++) {
        const QemuArch *a = &qemu_arches[i];
        g_autofree char *emulator = qemu_find_emulator(a->binary);
        g_auto(GStrv) machines = NULL;
        const char *types_kvm[] = { "qemu", "kvm", NULL };
        const char *types_tcg[] = { "qemu", NULL };
        bool native;

        if (!emulator)
            continue;
        if (!have_version) {
            const char *argv[] = { emulator, "--version", NULL };
            g_autofree char *out = NULL;
            int status = 0;

            if (g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL,
                             NULL, &out, NULL, &status, NULL) && status == 0 &&
                qemu_parse_version(out, &h->version))
                have_version = true;
        }
        machines = qemu_probe_machines(emulator);
        native = g_str_equal(a->arch, qemu_host_arch()) ||
                 (g_str_equal(a->arch, "i686") && g_str_equal(qemu_host_arch(), "x86_64"));
        conf_caps_add_guest(caps, "hvm", a->arch, a->wordsize, emulator,
                            (const char *const *)machines,
                            native && qemu_kvm_usable() ? types_kvm : types_tcg);
    }
    h->probed = true;
    if (!have_version) {
        h->error = g_strdup("no usable QEMU emulator found (looked for qemu-system-* in PATH)");
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INTERNAL_ERROR, "%s", h->error);
        return false;
    }
    h->caps_xml = conf_caps_format(caps);
    return true;
}

static bool
qemu_host_probe(GError **error)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&qemu_host.lock);

    return qemu_host_probe_locked(error);
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
    if (!qemu_host_probe(error))
        return false;
    ret->hv_ver = qemu_host.version;
    return true;
}

static bool
qemu_connect_get_capabilities(RpcServerCall *call, RemoteConnectGetCapabilitiesRet *ret,
                              GError **error)
{
    if (!qemu_host_probe(error))
        return false;
    ret->capabilities = g_strdup(qemu_host.caps_xml);
    return true;
}

static int
qemu_kvm_max_vcpus(void)
{
    int fd = open("/dev/kvm", O_RDONLY | O_CLOEXEC);
    int n;

    if (fd < 0)
        return -1;
    n = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
    if (n <= 0)
        n = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
    close(fd);
    return n > 0 ? n : -1;
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
        int n = qemu_kvm_max_vcpus();
        if (n < 0) {
            util_error_set(error, VIR_FROM_QEMU, VIR_ERR_OPERATION_INVALID,
                           "KVM is not available on this host (/dev/kvm cannot be opened)");
            return false;
        }
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
};

static const char *const qemu_schemes[] = { "qemu", NULL };

/* What starting and managing QEMU needs: switching to the guest user,
 * owning and labelling images, signalling guests, raising limits, tap
 * devices and bridges. */
static const int qemu_caps[] = {
    CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_KILL, CAP_SETGID, CAP_SETUID,
    CAP_SETPCAP, CAP_SYS_RESOURCE, CAP_NET_ADMIN, CAP_SYS_ADMIN, CAP_SYS_NICE, -1
};

static const DaemonDriver qemu_driver = {
    .name = "virtqemud",
    .description = "modvirt QEMU/KVM daemon",
    .uri_schemes = qemu_schemes,
    .ops = &qemu_ops,
    .keep_caps = qemu_caps,
    .init = qemu_domains_init,
    .cleanup = qemu_domains_cleanup,
};

int
main(int argc, char **argv)
{
    qemu_domain_fill_ops(&qemu_ops);
    return daemon_main(&qemu_driver, argc, argv);
}
