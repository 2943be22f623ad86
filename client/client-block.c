/*
 * client-block.c: block jobs and block information (libvirt-domain.h).
 * The daemons implement them from issue 4 on; until then the calls fail
 * with the server's "not supported".
 */
#define G_LOG_DOMAIN "modvirt.client"

#include <string.h>

#include "client-typed-params.h"
#include "rpc-protocol-client.h"

/* The common start of the block calls: a valid domain, a disk, and for
 * state changes a read-write connection. */
#define CLIENT_CHECK_BLOCK(dom, disk, writes) \
    do { \
        CLIENT_CHECK_DOMAIN(dom, -1); \
        if (writes) \
            CLIENT_CHECK_WRITABLE((dom)->conn, -1); \
        CLIENT_CHECK_NONNULL((dom)->conn, disk, -1); \
    } while (0)

static int
client_block_done(virDomainPtr dom, bool ok, const GError *error)
{
    if (ok)
        return 0;
    client_call_failed(dom->conn, error);
    return -1;
}

int
virDomainBlockJobAbort(virDomainPtr dom, const char *disk, unsigned int flags)
{
    g_autoptr(GError) error = NULL;
    RemoteDomainBlockJobAbortArgs args = { { 0 } };

    CLIENT_CHECK_BLOCK(dom, disk, true);
    args.dom = client_domain_wire(dom);
    args.path = (char *)disk;
    args.flags = flags;
    bool ok = remote_call_domain_block_job_abort(dom->conn->rpc, &args, &error);

    return client_block_done(dom, ok, error);
}

int
virDomainGetBlockJobInfo(virDomainPtr dom, const char *disk, virDomainBlockJobInfoPtr info,
                         unsigned int flags)
{
    g_autoptr(GError) error = NULL;
    RemoteDomainGetBlockJobInfoArgs args = { { 0 } };
    RemoteDomainGetBlockJobInfoRet ret = { 0 };

    CLIENT_CHECK_BLOCK(dom, disk, false);
    CLIENT_CHECK_NONNULL(dom->conn, info, -1);
    args.dom = client_domain_wire(dom);
    args.path = (char *)disk;
    args.flags = flags;
    if (!remote_call_domain_get_block_job_info(dom->conn->rpc, &args, &ret, &error))
        return client_block_done(dom, false, error);
    memset(info, 0, sizeof(*info));
    if (!ret.found)
        return 0;
    info->type = ret.type;
    info->bandwidth = (unsigned long)ret.bandwidth;
    info->cur = ret.cur;
    info->end = ret.end;
    return 1;
}

int
virDomainBlockJobSetSpeed(virDomainPtr dom, const char *disk, unsigned long bandwidth,
                          unsigned int flags)
{
    g_autoptr(GError) error = NULL;
    RemoteDomainBlockJobSetSpeedArgs args = { { 0 } };

    CLIENT_CHECK_BLOCK(dom, disk, true);
    args.dom = client_domain_wire(dom);
    args.path = (char *)disk;
    args.bandwidth = bandwidth;
    args.flags = flags;
    bool ok = remote_call_domain_block_job_set_speed(dom->conn->rpc, &args, &error);

    return client_block_done(dom, ok, error);
}

int
virDomainBlockPull(virDomainPtr dom, const char *disk, unsigned long bandwidth,
                   unsigned int flags)
{
    g_autoptr(GError) error = NULL;
    RemoteDomainBlockPullArgs args = { { 0 } };

    CLIENT_CHECK_BLOCK(dom, disk, true);
    args.dom = client_domain_wire(dom);
    args.path = (char *)disk;
    args.bandwidth = bandwidth;
    args.flags = flags;
    bool ok = remote_call_domain_block_pull(dom->conn->rpc, &args, &error);

    return client_block_done(dom, ok, error);
}

int
virDomainBlockRebase(virDomainPtr dom, const char *disk, const char *base,
                     unsigned long bandwidth, unsigned int flags)
{
    g_autoptr(GError) error = NULL;
    RemoteDomainBlockRebaseArgs args = { { 0 } };

    CLIENT_CHECK_BLOCK(dom, disk, true);
    /* A copy needs somewhere to copy to. */
    if ((flags & VIR_DOMAIN_BLOCK_REBASE_COPY) && !base) {
        client_error_invalid_arg(dom->conn, __func__, "base in %s must not be NULL with "
                                 "VIR_DOMAIN_BLOCK_REBASE_COPY", __func__);
        return -1;
    }
    args.dom = client_domain_wire(dom);
    args.path = (char *)disk;
    args.base = (char *)base;
    args.bandwidth = bandwidth;
    args.flags = flags;
    bool ok = remote_call_domain_block_rebase(dom->conn->rpc, &args, &error);

    return client_block_done(dom, ok, error);
}

int
virDomainBlockCommit(virDomainPtr dom, const char *disk, const char *base, const char *top,
                     unsigned long bandwidth, unsigned int flags)
{
    g_autoptr(GError) error = NULL;
    RemoteDomainBlockCommitArgs args = { { 0 } };

    CLIENT_CHECK_BLOCK(dom, disk, true);
    args.dom = client_domain_wire(dom);
    args.disk = (char *)disk;
    args.base = (char *)base;
    args.top = (char *)top;
    args.bandwidth = bandwidth;
    args.flags = flags;
    bool ok = remote_call_domain_block_commit(dom->conn->rpc, &args, &error);

    return client_block_done(dom, ok, error);
}

int
virDomainBlockCopy(virDomainPtr dom, const char *disk, const char *destxml,
                   virTypedParameterPtr params, int nparams, unsigned int flags)
{
    g_autoptr(GError) error = NULL;
    RemoteDomainBlockCopyArgs args = { { 0 } };
    g_autofree RemoteTypedParam *wire = NULL;
    guint nwire = 0;

    CLIENT_CHECK_BLOCK(dom, disk, true);
    CLIENT_CHECK_NONNULL(dom->conn, destxml, -1);
    if (!client_typed_params_to_wire(params, nparams, RPC_DOMAIN_BLOCK_COPY_PARAMETERS_MAX,
                                     &wire, &nwire, &error))
        return client_block_done(dom, false, error);
    args.dom = client_domain_wire(dom);
    args.path = (char *)disk;
    args.destxml = (char *)destxml;
    args.params_val = wire;
    args.params_len = nwire;
    args.flags = flags;
    bool ok = remote_call_domain_block_copy(dom->conn->rpc, &args, &error);

    return client_block_done(dom, ok, error);
}

int
virDomainGetBlockInfo(virDomainPtr dom, const char *disk, virDomainBlockInfoPtr info,
                      unsigned int flags)
{
    g_autoptr(GError) error = NULL;
    RemoteDomainGetBlockInfoArgs args = { { 0 } };
    RemoteDomainGetBlockInfoRet ret = { 0 };

    CLIENT_CHECK_BLOCK(dom, disk, false);
    CLIENT_CHECK_NONNULL(dom->conn, info, -1);
    args.dom = client_domain_wire(dom);
    args.path = (char *)disk;
    args.flags = flags;
    if (!remote_call_domain_get_block_info(dom->conn->rpc, &args, &ret, &error))
        return client_block_done(dom, false, error);
    info->capacity = ret.capacity;
    info->allocation = ret.allocation;
    info->physical = ret.physical;
    return 0;
}
