/*
 * client-snapshot.c: domain snapshots (libvirt-domain-snapshot.h).  The
 * daemons implement them from issue 4 on; until then the calls fail with
 * the server's "not supported".
 */
#define G_LOG_DOMAIN "modvirt.client"

#include <string.h>

#include "client-internal.h"
#include "rpc-protocol-client.h"

static bool
client_snapshot_valid(virDomainSnapshotPtr snap)
{
    return snap && snap->magic == CLIENT_SNAPSHOT_MAGIC && client_domain_valid(snap->domain);
}

#define CLIENT_CHECK_SNAPSHOT(snap, retval) \
    do { \
        virResetLastError(); \
        if (!client_snapshot_valid(snap)) { \
            client_error_set(VIR_FROM_DOMAIN_SNAPSHOT, VIR_ERR_INVALID_DOMAIN_SNAPSHOT, \
                             "invalid domain snapshot pointer in %s", __func__); \
            client_error_dispatch(NULL); \
            return retval; \
        } \
    } while (0)

/* A new handle (one reference) for @name of @dom. */
static virDomainSnapshotPtr
client_snapshot_new(virDomainPtr dom, const char *name)
{
    virDomainSnapshotPtr snap = g_new0(virDomainSnapshot, 1);

    snap->magic = CLIENT_SNAPSHOT_MAGIC;
    snap->refs = 1;
    g_atomic_int_inc(&dom->refs);
    snap->domain = dom;
    snap->name = g_strdup(name);
    return snap;
}

static RemoteNonnullDomainSnapshot
client_snapshot_wire(virDomainSnapshotPtr snap)
{
    RemoteNonnullDomainSnapshot wire = { .name = snap->name };

    wire.dom = client_domain_wire(snap->domain);
    return wire;
}

static int
client_snapshot_failed(virDomainPtr dom, const GError *error)
{
    client_call_failed(dom->conn, error);
    return -1;
}

int
virDomainSnapshotRef(virDomainSnapshotPtr snapshot)
{
    CLIENT_CHECK_SNAPSHOT(snapshot, -1);
    g_atomic_int_inc(&snapshot->refs);
    return 0;
}

int
virDomainSnapshotFree(virDomainSnapshotPtr snapshot)
{
    virDomainPtr dom = NULL;

    CLIENT_CHECK_SNAPSHOT(snapshot, -1);
    if (!g_atomic_int_dec_and_test(&snapshot->refs))
        return 0;
    dom = snapshot->domain;
    snapshot->magic = 0;
    g_free(snapshot->name);
    g_free(snapshot);
    virDomainFree(dom);
    return 0;
}

const char *
virDomainSnapshotGetName(virDomainSnapshotPtr snapshot)
{
    CLIENT_CHECK_SNAPSHOT(snapshot, NULL);
    return snapshot->name;
}

virDomainPtr
virDomainSnapshotGetDomain(virDomainSnapshotPtr snapshot)
{
    CLIENT_CHECK_SNAPSHOT(snapshot, NULL);
    return snapshot->domain;
}

virConnectPtr
virDomainSnapshotGetConnect(virDomainSnapshotPtr snapshot)
{
    CLIENT_CHECK_SNAPSHOT(snapshot, NULL);
    return snapshot->domain->conn;
}

virDomainSnapshotPtr
virDomainSnapshotCreateXML(virDomainPtr domain, const char *xmlDesc, unsigned int flags)
{
    g_autoptr(GError) error = NULL;
    RemoteDomainSnapshotCreateXmlArgs args = { { 0 } };
    RemoteDomainSnapshotCreateXmlRet ret = { { 0 } };
    virDomainSnapshotPtr snap = NULL;

    CLIENT_CHECK_DOMAIN(domain, NULL);
    CLIENT_CHECK_WRITABLE(domain->conn, NULL);
    CLIENT_CHECK_NONNULL(domain->conn, xmlDesc, NULL);
    args.dom = client_domain_wire(domain);
    args.xml_desc = (char *)xmlDesc;
    args.flags = flags;
    if (!remote_call_domain_snapshot_create_xml(domain->conn->rpc, &args, &ret, &error)) {
        client_snapshot_failed(domain, error);
        return NULL;
    }
    snap = client_snapshot_new(domain, ret.snap.name);
    xdr_free_remote_domain_snapshot_create_xml_ret(&ret);
    return snap;
}

char *
virDomainSnapshotGetXMLDesc(virDomainSnapshotPtr snapshot, unsigned int flags)
{
    g_autoptr(GError) error = NULL;
    RemoteDomainSnapshotGetXmlDescArgs args = { { 0 } };
    RemoteDomainSnapshotGetXmlDescRet ret = { 0 };

    CLIENT_CHECK_SNAPSHOT(snapshot, NULL);
    args.snap = client_snapshot_wire(snapshot);
    args.flags = flags;
    if (!remote_call_domain_snapshot_get_xml_desc(snapshot->domain->conn->rpc, &args, &ret,
                                                  &error)) {
        client_snapshot_failed(snapshot->domain, error);
        return NULL;
    }
    return g_steal_pointer(&ret.xml);
}

int
virDomainSnapshotNum(virDomainPtr domain, unsigned int flags)
{
    g_autoptr(GError) error = NULL;
    RemoteDomainSnapshotNumArgs args = { { 0 } };
    RemoteDomainSnapshotNumRet ret = { 0 };

    CLIENT_CHECK_DOMAIN(domain, -1);
    args.dom = client_domain_wire(domain);
    args.flags = flags;
    if (!remote_call_domain_snapshot_num(domain->conn->rpc, &args, &ret, &error))
        return client_snapshot_failed(domain, error);
    return ret.num;
}

/* Copy at most @nameslen names of @list into @names. */
static int
client_snapshot_names(virDomainPtr dom, char **names, int nameslen,
                      RemoteNonnullDomainSnapshot *list, guint len)
{
    if (len > (guint)nameslen) {
        client_error_set(VIR_FROM_REMOTE, VIR_ERR_RPC,
                         "too many remote domain snapshot names: %u > %d", len, nameslen);
        client_error_dispatch(dom->conn);
        return -1;
    }
    for (guint i = 0; i < len; i++)
        names[i] = g_strdup(list[i].name);
    return (int)len;
}

int
virDomainSnapshotListNames(virDomainPtr domain, char **names, int nameslen,
                           unsigned int flags)
{
    g_autoptr(GError) error = NULL;
    RemoteDomainSnapshotListNamesArgs args = { { 0 } };
    RemoteDomainSnapshotListNamesRet ret = { 0 };
    int count = 0;

    CLIENT_CHECK_DOMAIN(domain, -1);
    if (nameslen < 0 || (nameslen > 0 && !names)) {
        client_error_invalid_arg(domain->conn, __func__, "nameslen in %s must be a valid size",
                                 __func__);
        return -1;
    }
    args.dom = client_domain_wire(domain);
    args.maxnames = nameslen;
    args.flags = flags;
    if (!remote_call_domain_snapshot_list_names(domain->conn->rpc, &args, &ret, &error))
        return client_snapshot_failed(domain, error);
    if (ret.names_len > (guint)nameslen) {
        count = -1;
        client_error_set(VIR_FROM_REMOTE, VIR_ERR_RPC,
                         "too many remote domain snapshot names: %u > %d", ret.names_len,
                         nameslen);
        client_error_dispatch(domain->conn);
    } else {
        count = (int)ret.names_len;
        for (int i = 0; i < count; i++)
            names[i] = g_steal_pointer(&ret.names_val[i].name);
    }
    xdr_free_remote_domain_snapshot_list_names_ret(&ret);
    return count;
}

/* Handles for @list, NULL terminated, into *@snaps. */
static int
client_snapshot_list(virDomainPtr dom, virDomainSnapshotPtr **snaps,
                     RemoteNonnullDomainSnapshot *list, guint len)
{
    virDomainSnapshotPtr *out = g_new0(virDomainSnapshotPtr, len + 1);

    for (guint i = 0; i < len; i++)
        out[i] = client_snapshot_new(dom, list[i].name);
    *snaps = out;
    return (int)len;
}

int
virDomainListAllSnapshots(virDomainPtr domain, virDomainSnapshotPtr **snaps,
                          unsigned int flags)
{
    g_autoptr(GError) error = NULL;
    RemoteDomainListAllSnapshotsArgs args = { { 0 } };
    RemoteDomainListAllSnapshotsRet ret = { 0 };
    int count = 0;

    CLIENT_CHECK_DOMAIN(domain, -1);
    if (snaps)
        *snaps = NULL;
    args.dom = client_domain_wire(domain);
    args.need_results = snaps != NULL;
    args.flags = flags;
    if (!remote_call_domain_list_all_snapshots(domain->conn->rpc, &args, &ret, &error))
        return client_snapshot_failed(domain, error);
    count = snaps ? client_snapshot_list(domain, snaps, ret.snapshots_val, ret.snapshots_len)
                  : ret.ret;
    xdr_free_remote_domain_list_all_snapshots_ret(&ret);
    return count;
}

/* SNAPSHOT_LIST_ALL_CHILDREN, which also answers the older "number of
 * children" and "names of children" calls. */
static bool
client_snapshot_children(virDomainSnapshotPtr snapshot, bool need_results, unsigned int flags,
                         RemoteDomainSnapshotListAllChildrenRet *ret, GError **error)
{
    RemoteDomainSnapshotListAllChildrenArgs args = { { 0 } };

    args.snapshot = client_snapshot_wire(snapshot);
    args.need_results = need_results;
    args.flags = flags;
    return remote_call_domain_snapshot_list_all_children(snapshot->domain->conn->rpc, &args,
                                                         ret, error);
}

int
virDomainSnapshotListAllChildren(virDomainSnapshotPtr snapshot, virDomainSnapshotPtr **snaps,
                                 unsigned int flags)
{
    g_autoptr(GError) error = NULL;
    RemoteDomainSnapshotListAllChildrenRet ret = { 0 };
    int count = 0;

    CLIENT_CHECK_SNAPSHOT(snapshot, -1);
    if (snaps)
        *snaps = NULL;
    if (!client_snapshot_children(snapshot, snaps != NULL, flags, &ret, &error))
        return client_snapshot_failed(snapshot->domain, error);
    count = snaps ? client_snapshot_list(snapshot->domain, snaps, ret.snapshots_val,
                                         ret.snapshots_len)
                  : ret.ret;
    xdr_free_remote_domain_snapshot_list_all_children_ret(&ret);
    return count;
}

int
virDomainSnapshotNumChildren(virDomainSnapshotPtr snapshot, unsigned int flags)
{
    return virDomainSnapshotListAllChildren(snapshot, NULL, flags);
}

int
virDomainSnapshotListChildrenNames(virDomainSnapshotPtr snapshot, char **names, int nameslen,
                                   unsigned int flags)
{
    g_autoptr(GError) error = NULL;
    RemoteDomainSnapshotListAllChildrenRet ret = { 0 };
    int count = 0;

    CLIENT_CHECK_SNAPSHOT(snapshot, -1);
    if (nameslen < 0 || (nameslen > 0 && !names)) {
        client_error_invalid_arg(snapshot->domain->conn, __func__,
                                 "nameslen in %s must be a valid size", __func__);
        return -1;
    }
    if (!client_snapshot_children(snapshot, true, flags, &ret, &error))
        return client_snapshot_failed(snapshot->domain, error);
    count = client_snapshot_names(snapshot->domain, names, nameslen, ret.snapshots_val,
                                  ret.snapshots_len);
    xdr_free_remote_domain_snapshot_list_all_children_ret(&ret);
    return count;
}

virDomainSnapshotPtr
virDomainSnapshotLookupByName(virDomainPtr domain, const char *name, unsigned int flags)
{
    g_autoptr(GError) error = NULL;
    RemoteDomainSnapshotLookupByNameArgs args = { { 0 } };
    RemoteDomainSnapshotLookupByNameRet ret = { { 0 } };
    virDomainSnapshotPtr snap = NULL;

    CLIENT_CHECK_DOMAIN(domain, NULL);
    CLIENT_CHECK_NONNULL(domain->conn, name, NULL);
    args.dom = client_domain_wire(domain);
    args.name = (char *)name;
    args.flags = flags;
    if (!remote_call_domain_snapshot_lookup_by_name(domain->conn->rpc, &args, &ret, &error)) {
        client_snapshot_failed(domain, error);
        return NULL;
    }
    snap = client_snapshot_new(domain, ret.snap.name);
    xdr_free_remote_domain_snapshot_lookup_by_name_ret(&ret);
    return snap;
}

int
virDomainHasCurrentSnapshot(virDomainPtr domain, unsigned int flags)
{
    g_autoptr(GError) error = NULL;
    RemoteDomainHasCurrentSnapshotArgs args = { { 0 } };
    RemoteDomainHasCurrentSnapshotRet ret = { 0 };

    CLIENT_CHECK_DOMAIN(domain, -1);
    args.dom = client_domain_wire(domain);
    args.flags = flags;
    if (!remote_call_domain_has_current_snapshot(domain->conn->rpc, &args, &ret, &error))
        return client_snapshot_failed(domain, error);
    return ret.result ? 1 : 0;
}

virDomainSnapshotPtr
virDomainSnapshotCurrent(virDomainPtr domain, unsigned int flags)
{
    g_autoptr(GError) error = NULL;
    RemoteDomainSnapshotCurrentArgs args = { { 0 } };
    RemoteDomainSnapshotCurrentRet ret = { { 0 } };
    virDomainSnapshotPtr snap = NULL;

    CLIENT_CHECK_DOMAIN(domain, NULL);
    args.dom = client_domain_wire(domain);
    args.flags = flags;
    if (!remote_call_domain_snapshot_current(domain->conn->rpc, &args, &ret, &error)) {
        client_snapshot_failed(domain, error);
        return NULL;
    }
    snap = client_snapshot_new(domain, ret.snap.name);
    xdr_free_remote_domain_snapshot_current_ret(&ret);
    return snap;
}

virDomainSnapshotPtr
virDomainSnapshotGetParent(virDomainSnapshotPtr snapshot, unsigned int flags)
{
    g_autoptr(GError) error = NULL;
    RemoteDomainSnapshotGetParentArgs args = { { 0 } };
    RemoteDomainSnapshotGetParentRet ret = { { 0 } };
    virDomainSnapshotPtr parent = NULL;

    CLIENT_CHECK_SNAPSHOT(snapshot, NULL);
    args.snap = client_snapshot_wire(snapshot);
    args.flags = flags;
    if (!remote_call_domain_snapshot_get_parent(snapshot->domain->conn->rpc, &args, &ret,
                                                &error)) {
        client_snapshot_failed(snapshot->domain, error);
        return NULL;
    }
    parent = client_snapshot_new(snapshot->domain, ret.snap.name);
    xdr_free_remote_domain_snapshot_get_parent_ret(&ret);
    return parent;
}

int
virDomainSnapshotIsCurrent(virDomainSnapshotPtr snapshot, unsigned int flags)
{
    g_autoptr(GError) error = NULL;
    RemoteDomainSnapshotIsCurrentArgs args = { { 0 } };
    RemoteDomainSnapshotIsCurrentRet ret = { 0 };

    CLIENT_CHECK_SNAPSHOT(snapshot, -1);
    args.snap = client_snapshot_wire(snapshot);
    args.flags = flags;
    if (!remote_call_domain_snapshot_is_current(snapshot->domain->conn->rpc, &args, &ret,
                                                &error))
        return client_snapshot_failed(snapshot->domain, error);
    return ret.current ? 1 : 0;
}

int
virDomainSnapshotHasMetadata(virDomainSnapshotPtr snapshot, unsigned int flags)
{
    g_autoptr(GError) error = NULL;
    RemoteDomainSnapshotHasMetadataArgs args = { { 0 } };
    RemoteDomainSnapshotHasMetadataRet ret = { 0 };

    CLIENT_CHECK_SNAPSHOT(snapshot, -1);
    args.snap = client_snapshot_wire(snapshot);
    args.flags = flags;
    if (!remote_call_domain_snapshot_has_metadata(snapshot->domain->conn->rpc, &args, &ret,
                                                  &error))
        return client_snapshot_failed(snapshot->domain, error);
    return ret.metadata ? 1 : 0;
}

int
virDomainSnapshotDelete(virDomainSnapshotPtr snapshot, unsigned int flags)
{
    g_autoptr(GError) error = NULL;
    RemoteDomainSnapshotDeleteArgs args = { { 0 } };

    CLIENT_CHECK_SNAPSHOT(snapshot, -1);
    CLIENT_CHECK_WRITABLE(snapshot->domain->conn, -1);
    args.snap = client_snapshot_wire(snapshot);
    args.flags = flags;
    if (!remote_call_domain_snapshot_delete(snapshot->domain->conn->rpc, &args, &error))
        return client_snapshot_failed(snapshot->domain, error);
    return 0;
}

int
virDomainRevertToSnapshot(virDomainSnapshotPtr snapshot, unsigned int flags)
{
    g_autoptr(GError) error = NULL;
    /* DOMAIN_REVERT_TO_SNAPSHOT's arguments are laid out as
     * DOMAIN_SNAPSHOT_DELETE's (snapshot, flags); protocol.def does not
     * describe procedure 192 yet, so its encoder serves. */
    RemoteDomainSnapshotDeleteArgs args = { { 0 } };

    CLIENT_CHECK_SNAPSHOT(snapshot, -1);
    CLIENT_CHECK_WRITABLE(snapshot->domain->conn, -1);
    args.snap = client_snapshot_wire(snapshot);
    args.flags = flags;
    if (!rpc_client_call(snapshot->domain->conn->rpc, REMOTE_PROGRAM, REMOTE_PROTOCOL_VERSION,
                         REMOTE_PROC_DOMAIN_REVERT_TO_SNAPSHOT,
                         (RpcEncodeFunc)xdr_enc_remote_domain_snapshot_delete_args, &args,
                         NULL, NULL, &error))
        return client_snapshot_failed(snapshot->domain, error);
    return 0;
}
