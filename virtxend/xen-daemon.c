/*
 * xen-daemon.c: virtxend, the Xen driver daemon.
 *
 * A Xen hypervisor cannot run on the machines modvirt is developed and
 * tested on, so the only backend here is a SIMULATED one: it answers as a
 * Xen 4.17 host (Debian 12's Xen) would, and must be asked for explicitly
 * with MODVIRT_XEN_MOCK=1.  On a real Xen host (/proc/xen present) the
 * daemon refuses to pretend and says that the libxl backend is missing.
 */
#define G_LOG_DOMAIN "virtxend"

#include <linux/capability.h>
#include <unistd.h>

#include "conf-capabilities.h"
#include "daemon.h"
#include "util-error.h"

#define XEN_MOCK_VERSION 4017000ULL

static bool
xen_backend_check(GError **error)
{
    const char *mock = g_getenv("MODVIRT_XEN_MOCK");

    if (mock && g_str_equal(mock, "1"))
        return true;
    if (access("/proc/xen/capabilities", R_OK) == 0)
        util_error_set(error, VIR_FROM_LIBXL, VIR_ERR_NO_SUPPORT,
                       "this modvirt build has no libxl backend for the Xen hypervisor on this host");
    else
        util_error_set(error, VIR_FROM_LIBXL, VIR_ERR_NO_SUPPORT,
                       "Xen hypervisor not available on this host (set MODVIRT_XEN_MOCK=1 for the simulated backend)");
    return false;
}

static bool
xen_connect_open(RpcServerCall *call, const RemoteConnectOpenArgs *args, GError **error)
{
    if (!xen_backend_check(error))
        return false;
    return daemon_common_ops.connect_open(call, args, error);
}

static bool
xen_connect_get_type(RpcServerCall *call, RemoteConnectGetTypeRet *ret, GError **error)
{
    ret->type = g_strdup("Xen");
    return true;
}

static bool
xen_connect_get_version(RpcServerCall *call, RemoteConnectGetVersionRet *ret, GError **error)
{
    ret->hv_ver = XEN_MOCK_VERSION;
    return true;
}

static bool
xen_connect_get_capabilities(RpcServerCall *call, RemoteConnectGetCapabilitiesRet *ret,
                             GError **error)
{
    g_autoptr(ConfCaps) caps = conf_caps_new_host(error);
    const char *pv_machines[] = { "xenpv", NULL };
    const char *hvm_machines[] = { "xenfv", NULL };
    const char *types[] = { "xen", NULL };
    const char *dm = "/usr/lib/xen/bin/qemu-system-i386";

    if (!caps)
        return false;
    conf_caps_add_guest(caps, "xen", "x86_64", 64, dm, pv_machines, types);
    conf_caps_add_guest(caps, "hvm", "x86_64", 64, dm, hvm_machines, types);
    ret->capabilities = conf_caps_format(caps);
    return true;
}

static bool
xen_connect_get_max_vcpus(RpcServerCall *call, const RemoteConnectGetMaxVcpusArgs *args,
                          RemoteConnectGetMaxVcpusRet *ret, GError **error)
{
    if (args->type && g_ascii_strcasecmp(args->type, "xen") != 0) {
        util_error_set(error, VIR_FROM_LIBXL, VIR_ERR_INVALID_ARG,
                       "unknown type '%s'", args->type);
        return false;
    }
    ret->max_vcpus = 128;   /* the simulated host's limit */
    return true;
}

static const RemoteServerOps xen_ops = {
    .connect_open = xen_connect_open,
    .connect_get_type = xen_connect_get_type,
    .connect_get_version = xen_connect_get_version,
    .connect_get_capabilities = xen_connect_get_capabilities,
    .connect_get_max_vcpus = xen_connect_get_max_vcpus,
};

static const char *const xen_schemes[] = { "xen", NULL };

static const int xen_caps[] = {
    CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_KILL, CAP_SYS_ADMIN, CAP_NET_ADMIN,
    CAP_SYS_RESOURCE, -1
};

static const DaemonDriver xen_driver = {
    .name = "virtxend",
    .description = "modvirt Xen daemon (simulated libxl backend only)",
    .uri_schemes = xen_schemes,
    .ops = &xen_ops,
    .keep_caps = xen_caps,
};

int
main(int argc, char **argv)
{
    return daemon_main(&xen_driver, argc, argv);
}
