/*
 * network-daemon.c: virtnetworkd, the network driver daemon.
 *
 * Connection level only so far: it opens network:///system (or /session) and
 * answers the shared connection and host procedures.
 */
#define G_LOG_DOMAIN "virtnetworkd"

#include <linux/capability.h>

#include "daemon.h"

static bool
network_connect_get_type(RpcServerCall *call, RemoteConnectGetTypeRet *ret, GError **error)
{
    ret->type = g_strdup("network");
    return true;
}

static const RemoteServerOps network_ops = {
    .connect_get_type = network_connect_get_type,
};

static const char *const network_schemes[] = { "network", NULL };

static const int network_caps[] = {
    /* bridges, addresses, nftables, dnsmasq running as its own user */
    CAP_NET_ADMIN, CAP_NET_RAW, CAP_NET_BIND_SERVICE, CAP_SETUID, CAP_SETGID, CAP_KILL,
    CAP_SYS_ADMIN, -1
};

static const DaemonDriver network_driver = {
    .name = "virtnetworkd",
    .description = "modvirt virtual network daemon",
    .uri_schemes = network_schemes,
    .ops = &network_ops,
    .keep_caps = network_caps,
};

int
main(int argc, char **argv)
{
    return daemon_main(&network_driver, argc, argv);
}
