/*
 * storage-daemon.c: virtstoraged, the storage driver daemon.
 *
 * Connection level only so far: it opens storage:///system (or /session) and
 * answers the shared connection and host procedures.
 */
#define G_LOG_DOMAIN "virtstoraged"

#include <linux/capability.h>

#include "daemon.h"

static bool
storage_connect_get_type(RpcServerCall *call, RemoteConnectGetTypeRet *ret, GError **error)
{
    ret->type = g_strdup("storage");
    return true;
}

static const RemoteServerOps storage_ops = {
    .connect_get_type = storage_connect_get_type,
};

static const char *const storage_schemes[] = { "storage", NULL };

static const int storage_caps[] = {
    /* file ownership and modes of volumes, mounting pools */
    CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_SYS_ADMIN, -1
};

static const DaemonDriver storage_driver = {
    .name = "virtstoraged",
    .description = "modvirt storage pool and volume daemon",
    .uri_schemes = storage_schemes,
    .ops = &storage_ops,
    .keep_caps = storage_caps,
};

int
main(int argc, char **argv)
{
    return daemon_main(&storage_driver, argc, argv);
}
