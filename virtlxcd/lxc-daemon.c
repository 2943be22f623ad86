/*
 * lxc-daemon.c: virtlxcd, the Linux container driver daemon.
 *
 * Connection level: type "LXC", the running kernel's version (what
 * libvirt's LXC driver reports) and capabilities with the "exe" guest.
 */
#define G_LOG_DOMAIN "virtlxcd"

#include <linux/capability.h>
#include <stdio.h>
#include <sys/utsname.h>

#include "conf-capabilities.h"
#include "daemon.h"
#include "modvirt-config.h"
#include "util-error.h"

static bool
lxc_connect_get_type(RpcServerCall *call, RemoteConnectGetTypeRet *ret, GError **error)
{
    ret->type = g_strdup("LXC");
    return true;
}

static bool
lxc_connect_get_version(RpcServerCall *call, RemoteConnectGetVersionRet *ret, GError **error)
{
    struct utsname uts;
    unsigned int major = 0, minor = 0, micro = 0;

    if (uname(&uts) < 0 || sscanf(uts.release, "%u.%u.%u", &major, &minor, &micro) < 2) {
        util_error_set(error, VIR_FROM_LXC, VIR_ERR_INTERNAL_ERROR,
                       "cannot parse the kernel version '%s'", uts.release);
        return false;
    }
    ret->hv_ver = major * 1000000ULL + minor * 1000ULL + micro;
    return true;
}

static bool
lxc_connect_get_capabilities(RpcServerCall *call, RemoteConnectGetCapabilitiesRet *ret,
                             GError **error)
{
    g_autoptr(ConfCaps) caps = conf_caps_new_host(error);
    const char *types[] = { "lxc", NULL };
    struct utsname uts;

    if (!caps)
        return false;
    uname(&uts);
    conf_caps_add_guest(caps, "exe", uts.machine, sizeof(void *) * 8,
                        MODVIRT_SBINDIR "/../libexec/modvirt/modvirt-lxc-init", NULL, types);
    ret->capabilities = conf_caps_format(caps);
    return true;
}

static bool
lxc_connect_get_max_vcpus(RpcServerCall *call, const RemoteConnectGetMaxVcpusArgs *args,
                          RemoteConnectGetMaxVcpusRet *ret, GError **error)
{
    util_error_set(error, VIR_FROM_LXC, VIR_ERR_NO_SUPPORT,
                   "this function is not supported by the connection driver: virConnectGetMaxVcpus");
    return false;
}

static const RemoteServerOps lxc_ops = {
    .connect_get_type = lxc_connect_get_type,
    .connect_get_version = lxc_connect_get_version,
    .connect_get_capabilities = lxc_connect_get_capabilities,
    .connect_get_max_vcpus = lxc_connect_get_max_vcpus,
};

static const char *const lxc_schemes[] = { "lxc", NULL };

/* Containers need namespaces, mounts, cgroups, devices and networking. */
static const int lxc_caps[] = {
    CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_KILL, CAP_SETGID, CAP_SETUID,
    CAP_SETPCAP, CAP_SYS_ADMIN, CAP_SYS_CHROOT, CAP_SYS_RESOURCE, CAP_MKNOD,
    CAP_NET_ADMIN, CAP_SYS_PTRACE, -1
};

static const DaemonDriver lxc_driver = {
    .name = "virtlxcd",
    .description = "modvirt Linux container daemon",
    .uri_schemes = lxc_schemes,
    .ops = &lxc_ops,
    .keep_caps = lxc_caps,
};

int
main(int argc, char **argv)
{
    return daemon_main(&lxc_driver, argc, argv);
}
