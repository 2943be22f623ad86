/*
 * client-domain.c: domains (libvirt-domain.h): handles, lookups, listing,
 * definition, lifecycle and information, over the libvirt RPC protocol.
 */
#define G_LOG_DOMAIN "modvirt.client"

#include <stdio.h>
#include <string.h>

#include "client-internal.h"
#include "rpc-protocol-client.h"
#include "util-error.h"

/* ------------------------------------------------------------ handles */

bool
client_domain_valid(virDomainPtr dom)
{
    return dom && dom->magic == CLIENT_DOMAIN_MAGIC && client_connect_valid(dom->conn);
}

virDomainPtr
client_domain_new(virConnectPtr conn, const RemoteNonnullDomain *wire)
{
    virDomainPtr dom = g_new0(virDomain, 1);

    dom->magic = CLIENT_DOMAIN_MAGIC;
    dom->refs = 1;
    g_atomic_int_inc(&conn->refs);
    dom->conn = conn;
    dom->name = g_strdup(wire->name);
    memcpy(dom->uuid, wire->uuid, VIR_UUID_BUFLEN);
    dom->id = wire->id;
    return dom;
}

RemoteNonnullDomain
client_domain_wire(virDomainPtr dom)
{
    RemoteNonnullDomain wire = { .name = dom->name, .id = dom->id };

    memcpy(wire.uuid, dom->uuid, VIR_UUID_BUFLEN);
    return wire;
}

int
virDomainRef(virDomainPtr domain)
{
    CLIENT_CHECK_DOMAIN(domain, -1);
    g_atomic_int_inc(&domain->refs);
    return 0;
}

int
virDomainFree(virDomainPtr domain)
{
    virConnectPtr conn = NULL;

    CLIENT_CHECK_DOMAIN(domain, -1);
    if (!g_atomic_int_dec_and_test(&domain->refs))
        return 0;
    conn = domain->conn;
    domain->magic = 0;
    g_free(domain->name);
    g_free(domain);
    client_connect_unref(conn);
    return 0;
}

const char *
virDomainGetName(virDomainPtr domain)
{
    CLIENT_CHECK_DOMAIN(domain, NULL);
    return domain->name;
}

unsigned int
virDomainGetID(virDomainPtr domain)
{
    CLIENT_CHECK_DOMAIN(domain, (unsigned int)-1);
    return (unsigned int)domain->id;
}

int
virDomainGetUUID(virDomainPtr domain, unsigned char *uuid)
{
    CLIENT_CHECK_DOMAIN(domain, -1);
    CLIENT_CHECK_NONNULL(domain->conn, uuid, -1);
    memcpy(uuid, domain->uuid, VIR_UUID_BUFLEN);
    return 0;
}

static void
client_uuid_format(const unsigned char *uuid, char *buf)
{
    snprintf(buf, VIR_UUID_STRING_BUFLEN,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             uuid[0], uuid[1], uuid[2], uuid[3], uuid[4], uuid[5], uuid[6], uuid[7],
             uuid[8], uuid[9], uuid[10], uuid[11], uuid[12], uuid[13], uuid[14], uuid[15]);
}

/* libvirt's UUID syntax: 32 hex digits, dashes anywhere between byte
 * pairs, surrounding blanks ignored. */
static bool
client_uuid_parse(const char *text, unsigned char *ret_uuid)
{
    unsigned char uuid[VIR_UUID_BUFLEN];
    size_t n = 0;
    const char *p = text;

    while (g_ascii_isspace(*p))
        p++;
    while (n < VIR_UUID_BUFLEN) {
        if (*p == '-') {
            p++;
            continue;
        }
        if (!g_ascii_isxdigit(p[0]) || !g_ascii_isxdigit(p[1]))
            return false;
        uuid[n++] = (unsigned char)(g_ascii_xdigit_value(p[0]) * 16 + g_ascii_xdigit_value(p[1]));
        p += 2;
    }
    while (g_ascii_isspace(*p))
        p++;
    if (*p)
        return false;
    memcpy(ret_uuid, uuid, VIR_UUID_BUFLEN);
    return true;
}

int
virDomainGetUUIDString(virDomainPtr domain, char *buf)
{
    CLIENT_CHECK_DOMAIN(domain, -1);
    CLIENT_CHECK_NONNULL(domain->conn, buf, -1);
    client_uuid_format(domain->uuid, buf);
    return 0;
}

virConnectPtr
virDomainGetConnect(virDomainPtr domain)
{
    CLIENT_CHECK_DOMAIN(domain, NULL);
    return domain->conn;
}

/* ------------------------------------------------------------ listing */

int
virConnectListAllDomains(virConnectPtr conn, virDomainPtr **domains, unsigned int flags)
{
    g_autoptr(GError) error = NULL;
    RemoteConnectListAllDomainsArgs args = { .need_results = domains != NULL, .flags = flags };
    RemoteConnectListAllDomainsRet ret = { 0 };
    int count = 0;

    CLIENT_CHECK_CONN(conn, -1);
    if (domains)
        *domains = NULL;
    if (!remote_call_connect_list_all_domains(conn->rpc, &args, &ret, &error)) {
        client_call_failed(conn, error);
        return -1;
    }
    count = (int)ret.ret;
    if (domains) {
        /* NULL terminated, as libvirt returns it */
        virDomainPtr *list = g_new0(virDomainPtr, ret.domains_len + 1);

        for (guint i = 0; i < ret.domains_len; i++)
            list[i] = client_domain_new(conn, &ret.domains_val[i]);
        *domains = list;
        count = (int)ret.domains_len;
    }
    xdr_free_remote_connect_list_all_domains_ret(&ret);
    return count;
}

int
virConnectNumOfDomains(virConnectPtr conn)
{
    g_autoptr(GError) error = NULL;
    RemoteConnectNumOfDomainsRet ret = { 0 };

    CLIENT_CHECK_CONN(conn, -1);
    if (!remote_call_connect_num_of_domains(conn->rpc, &ret, &error)) {
        client_call_failed(conn, error);
        return -1;
    }
    return ret.num;
}

int
virConnectNumOfDefinedDomains(virConnectPtr conn)
{
    g_autoptr(GError) error = NULL;
    RemoteConnectNumOfDefinedDomainsRet ret = { 0 };

    CLIENT_CHECK_CONN(conn, -1);
    if (!remote_call_connect_num_of_defined_domains(conn->rpc, &ret, &error)) {
        client_call_failed(conn, error);
        return -1;
    }
    return ret.num;
}

int
virConnectListDomains(virConnectPtr conn, int *ids, int maxids)
{
    g_autoptr(GError) error = NULL;
    RemoteConnectListDomainsArgs args = { .maxids = maxids };
    RemoteConnectListDomainsRet ret = { 0 };
    int count = 0;

    CLIENT_CHECK_CONN(conn, -1);
    if (maxids < 0 || (maxids > 0 && !ids)) {
        client_error_invalid_arg(conn, __func__, "maxids in %s must be a valid size", __func__);
        return -1;
    }
    if (!remote_call_connect_list_domains(conn->rpc, &args, &ret, &error)) {
        client_call_failed(conn, error);
        return -1;
    }
    if (ret.ids_len > (guint)maxids) {
        xdr_free_remote_connect_list_domains_ret(&ret);
        client_error_set(VIR_FROM_REMOTE, VIR_ERR_RPC,
                         "too many remote domain IDs: %d > %d", (int)ret.ids_len, maxids);
        client_error_dispatch(conn);
        return -1;
    }
    count = (int)ret.ids_len;
    if (count)
        memcpy(ids, ret.ids_val, sizeof(int) * count);
    xdr_free_remote_connect_list_domains_ret(&ret);
    return count;
}

int
virConnectListDefinedDomains(virConnectPtr conn, char **const names, int maxnames)
{
    g_autoptr(GError) error = NULL;
    RemoteConnectListDefinedDomainsArgs args = { .maxnames = maxnames };
    RemoteConnectListDefinedDomainsRet ret = { 0 };
    int count = 0;

    CLIENT_CHECK_CONN(conn, -1);
    if (maxnames < 0 || (maxnames > 0 && !names)) {
        client_error_invalid_arg(conn, __func__, "maxnames in %s must be a valid size",
                                 __func__);
        return -1;
    }
    if (!remote_call_connect_list_defined_domains(conn->rpc, &args, &ret, &error)) {
        client_call_failed(conn, error);
        return -1;
    }
    if (ret.names_len > (guint)maxnames) {
        xdr_free_remote_connect_list_defined_domains_ret(&ret);
        client_error_set(VIR_FROM_REMOTE, VIR_ERR_RPC,
                         "too many remote domain names: %d > %d", (int)ret.names_len, maxnames);
        client_error_dispatch(conn);
        return -1;
    }
    count = (int)ret.names_len;
    for (int i = 0; i < count; i++)
        names[i] = g_steal_pointer(&ret.names_val[i].name);
    xdr_free_remote_connect_list_defined_domains_ret(&ret);
    return count;
}

/* ------------------------------------------------------------ lookups */

virDomainPtr
virDomainLookupByID(virConnectPtr conn, int id)
{
    g_autoptr(GError) error = NULL;
    RemoteDomainLookupByIdArgs args = { .id = id };
    RemoteDomainLookupByIdRet ret = { { 0 } };
    virDomainPtr dom = NULL;

    CLIENT_CHECK_CONN(conn, NULL);
    if (id < 0) {
        client_error_invalid_arg(conn, __func__, "id in %s must be non-negative", __func__);
        return NULL;
    }
    if (!remote_call_domain_lookup_by_id(conn->rpc, &args, &ret, &error)) {
        client_call_failed(conn, error);
        return NULL;
    }
    dom = client_domain_new(conn, &ret.dom);
    xdr_free_remote_domain_lookup_by_id_ret(&ret);
    return dom;
}

virDomainPtr
virDomainLookupByName(virConnectPtr conn, const char *name)
{
    g_autoptr(GError) error = NULL;
    RemoteDomainLookupByNameArgs args = { .name = (char *)name };
    RemoteDomainLookupByNameRet ret = { { 0 } };
    virDomainPtr dom = NULL;

    CLIENT_CHECK_CONN(conn, NULL);
    CLIENT_CHECK_NONNULL(conn, name, NULL);
    if (!remote_call_domain_lookup_by_name(conn->rpc, &args, &ret, &error)) {
        client_call_failed(conn, error);
        return NULL;
    }
    dom = client_domain_new(conn, &ret.dom);
    xdr_free_remote_domain_lookup_by_name_ret(&ret);
    return dom;
}

virDomainPtr
virDomainLookupByUUID(virConnectPtr conn, const unsigned char *uuid)
{
    g_autoptr(GError) error = NULL;
    RemoteDomainLookupByUuidArgs args = { { 0 } };
    RemoteDomainLookupByUuidRet ret = { { 0 } };
    virDomainPtr dom = NULL;

    CLIENT_CHECK_CONN(conn, NULL);
    CLIENT_CHECK_NONNULL(conn, uuid, NULL);
    memcpy(args.uuid, uuid, VIR_UUID_BUFLEN);
    if (!remote_call_domain_lookup_by_uuid(conn->rpc, &args, &ret, &error)) {
        client_call_failed(conn, error);
        return NULL;
    }
    dom = client_domain_new(conn, &ret.dom);
    xdr_free_remote_domain_lookup_by_uuid_ret(&ret);
    return dom;
}

virDomainPtr
virDomainLookupByUUIDString(virConnectPtr conn, const char *uuidstr)
{
    unsigned char uuid[VIR_UUID_BUFLEN];

    CLIENT_CHECK_CONN(conn, NULL);
    CLIENT_CHECK_NONNULL(conn, uuidstr, NULL);
    if (!client_uuid_parse(uuidstr, uuid)) {
        client_error_invalid_arg(conn, __func__, "uuidstr in %s must be a valid UUID",
                                 __func__);
        return NULL;
    }
    return virDomainLookupByUUID(conn, uuid);
}

/* ------------------------------------------------------------ definition */

virDomainPtr
virDomainDefineXMLFlags(virConnectPtr conn, const char *xml, unsigned int flags)
{
    g_autoptr(GError) error = NULL;
    RemoteDomainDefineXmlFlagsArgs args = { .xml = (char *)xml, .flags = flags };
    RemoteDomainDefineXmlFlagsRet ret = { { 0 } };
    virDomainPtr dom = NULL;

    CLIENT_CHECK_CONN(conn, NULL);
    CLIENT_CHECK_WRITABLE(conn, NULL);
    CLIENT_CHECK_NONNULL(conn, xml, NULL);
    if (!remote_call_domain_define_xml_flags(conn->rpc, &args, &ret, &error)) {
        client_call_failed(conn, error);
        return NULL;
    }
    dom = client_domain_new(conn, &ret.dom);
    xdr_free_remote_domain_define_xml_flags_ret(&ret);
    return dom;
}

virDomainPtr
virDomainDefineXML(virConnectPtr conn, const char *xml)
{
    g_autoptr(GError) error = NULL;
    RemoteDomainDefineXmlArgs args = { .xml = (char *)xml };
    RemoteDomainDefineXmlRet ret = { { 0 } };
    virDomainPtr dom = NULL;

    CLIENT_CHECK_CONN(conn, NULL);
    CLIENT_CHECK_WRITABLE(conn, NULL);
    CLIENT_CHECK_NONNULL(conn, xml, NULL);
    if (!remote_call_domain_define_xml(conn->rpc, &args, &ret, &error)) {
        client_call_failed(conn, error);
        return NULL;
    }
    dom = client_domain_new(conn, &ret.dom);
    xdr_free_remote_domain_define_xml_ret(&ret);
    return dom;
}

virDomainPtr
virDomainCreateXML(virConnectPtr conn, const char *xmlDesc, unsigned int flags)
{
    g_autoptr(GError) error = NULL;
    RemoteDomainCreateXmlArgs args = { .xml_desc = (char *)xmlDesc, .flags = flags };
    RemoteDomainCreateXmlRet ret = { { 0 } };
    virDomainPtr dom = NULL;

    CLIENT_CHECK_CONN(conn, NULL);
    CLIENT_CHECK_WRITABLE(conn, NULL);
    CLIENT_CHECK_NONNULL(conn, xmlDesc, NULL);
    if (!remote_call_domain_create_xml(conn->rpc, &args, &ret, &error)) {
        client_call_failed(conn, error);
        return NULL;
    }
    dom = client_domain_new(conn, &ret.dom);
    xdr_free_remote_domain_create_xml_ret(&ret);
    return dom;
}

/* ------------------------------------------------------------ lifecycle */

/* The calls taking only a domain and maybe flags, answering nothing. */
typedef enum {
    CLIENT_DOM_UNDEFINE,
    CLIENT_DOM_UNDEFINE_FLAGS,
    CLIENT_DOM_CREATE,
    CLIENT_DOM_DESTROY,
    CLIENT_DOM_DESTROY_FLAGS,
    CLIENT_DOM_SHUTDOWN,
    CLIENT_DOM_SHUTDOWN_FLAGS,
    CLIENT_DOM_REBOOT,
    CLIENT_DOM_SUSPEND,
    CLIENT_DOM_RESUME,
    CLIENT_DOM_LAST
} ClientDomainAction;

static bool
client_domain_action_call(virDomainPtr dom, ClientDomainAction action, unsigned int flags,
                          GError **error)
{
    RpcClient *rpc = dom->conn->rpc;
    RemoteNonnullDomain wire = client_domain_wire(dom);

    switch (action) {
    case CLIENT_DOM_UNDEFINE: {
        RemoteDomainUndefineArgs args = { wire };
        return remote_call_domain_undefine(rpc, &args, error);
    }
    case CLIENT_DOM_UNDEFINE_FLAGS: {
        RemoteDomainUndefineFlagsArgs args = { wire, flags };
        return remote_call_domain_undefine_flags(rpc, &args, error);
    }
    case CLIENT_DOM_CREATE: {
        RemoteDomainCreateArgs args = { wire };
        return remote_call_domain_create(rpc, &args, error);
    }
    case CLIENT_DOM_DESTROY: {
        RemoteDomainDestroyArgs args = { wire };
        return remote_call_domain_destroy(rpc, &args, error);
    }
    case CLIENT_DOM_DESTROY_FLAGS: {
        RemoteDomainDestroyFlagsArgs args = { wire, flags };
        return remote_call_domain_destroy_flags(rpc, &args, error);
    }
    case CLIENT_DOM_SHUTDOWN: {
        RemoteDomainShutdownArgs args = { wire };
        return remote_call_domain_shutdown(rpc, &args, error);
    }
    case CLIENT_DOM_SHUTDOWN_FLAGS: {
        RemoteDomainShutdownFlagsArgs args = { wire, flags };
        return remote_call_domain_shutdown_flags(rpc, &args, error);
    }
    case CLIENT_DOM_REBOOT: {
        RemoteDomainRebootArgs args = { wire, flags };
        return remote_call_domain_reboot(rpc, &args, error);
    }
    case CLIENT_DOM_SUSPEND: {
        RemoteDomainSuspendArgs args = { wire };
        return remote_call_domain_suspend(rpc, &args, error);
    }
    case CLIENT_DOM_RESUME: {
        RemoteDomainResumeArgs args = { wire };
        return remote_call_domain_resume(rpc, &args, error);
    }
    case CLIENT_DOM_LAST:
        break;
    }
    g_assert_not_reached();
}

static int
client_domain_action(virDomainPtr dom, ClientDomainAction action, unsigned int flags)
{
    g_autoptr(GError) error = NULL;

    if (!client_domain_action_call(dom, action, flags, &error)) {
        client_call_failed(dom->conn, error);
        return -1;
    }
    if (action == CLIENT_DOM_DESTROY || action == CLIENT_DOM_DESTROY_FLAGS) {
        dom->id = -1;
    } else if (action == CLIENT_DOM_CREATE) {
        /* DOMAIN_CREATE answers nothing: ask for the new ID, as libvirt's
         * remote driver does.  The domain did start whatever this says. */
        RemoteDomainLookupByUuidArgs args = { { 0 } };
        RemoteDomainLookupByUuidRet ret = { { 0 } };

        memcpy(args.uuid, dom->uuid, VIR_UUID_BUFLEN);
        if (remote_call_domain_lookup_by_uuid(dom->conn->rpc, &args, &ret, &error)) {
            dom->id = ret.dom.id;
            xdr_free_remote_domain_lookup_by_uuid_ret(&ret);
        } else {
            g_debug("domain '%s' started, but its ID is unknown: %s", dom->name,
                    error->message);
        }
    }
    return 0;
}

#define CLIENT_DOMAIN_ACTION(domain, action, flags) \
    do { \
        CLIENT_CHECK_DOMAIN(domain, -1); \
        CLIENT_CHECK_WRITABLE((domain)->conn, -1); \
        return client_domain_action(domain, action, flags); \
    } while (0)

int
virDomainUndefine(virDomainPtr domain)
{
    CLIENT_DOMAIN_ACTION(domain, CLIENT_DOM_UNDEFINE, 0);
}

int
virDomainUndefineFlags(virDomainPtr domain, unsigned int flags)
{
    CLIENT_DOMAIN_ACTION(domain, CLIENT_DOM_UNDEFINE_FLAGS, flags);
}

int
virDomainCreate(virDomainPtr domain)
{
    CLIENT_DOMAIN_ACTION(domain, CLIENT_DOM_CREATE, 0);
}

int
virDomainDestroy(virDomainPtr domain)
{
    CLIENT_DOMAIN_ACTION(domain, CLIENT_DOM_DESTROY, 0);
}

int
virDomainDestroyFlags(virDomainPtr domain, unsigned int flags)
{
    CLIENT_DOMAIN_ACTION(domain, CLIENT_DOM_DESTROY_FLAGS, flags);
}

int
virDomainShutdown(virDomainPtr domain)
{
    CLIENT_DOMAIN_ACTION(domain, CLIENT_DOM_SHUTDOWN, 0);
}

int
virDomainShutdownFlags(virDomainPtr domain, unsigned int flags)
{
    CLIENT_DOMAIN_ACTION(domain, CLIENT_DOM_SHUTDOWN_FLAGS, flags);
}

int
virDomainReboot(virDomainPtr domain, unsigned int flags)
{
    CLIENT_DOMAIN_ACTION(domain, CLIENT_DOM_REBOOT, flags);
}

int
virDomainSuspend(virDomainPtr domain)
{
    CLIENT_DOMAIN_ACTION(domain, CLIENT_DOM_SUSPEND, 0);
}

int
virDomainResume(virDomainPtr domain)
{
    CLIENT_DOMAIN_ACTION(domain, CLIENT_DOM_RESUME, 0);
}

int
virDomainCreateWithFlags(virDomainPtr domain, unsigned int flags)
{
    g_autoptr(GError) error = NULL;
    RemoteDomainCreateWithFlagsArgs args = { { 0 } };
    RemoteDomainCreateWithFlagsRet ret = { { 0 } };

    CLIENT_CHECK_DOMAIN(domain, -1);
    CLIENT_CHECK_WRITABLE(domain->conn, -1);
    args.dom = client_domain_wire(domain);
    args.flags = flags;
    if (!remote_call_domain_create_with_flags(domain->conn->rpc, &args, &ret, &error)) {
        client_call_failed(domain->conn, error);
        return -1;
    }
    /* The started domain has an ID now; the handle learns it. */
    domain->id = ret.dom.id;
    xdr_free_remote_domain_create_with_flags_ret(&ret);
    return 0;
}

/* ------------------------------------------------------------ information */

char *
virDomainGetOSType(virDomainPtr domain)
{
    g_autoptr(GError) error = NULL;
    RemoteDomainGetOsTypeArgs args = { { 0 } };
    RemoteDomainGetOsTypeRet ret = { 0 };

    CLIENT_CHECK_DOMAIN(domain, NULL);
    args.dom = client_domain_wire(domain);
    if (!remote_call_domain_get_os_type(domain->conn->rpc, &args, &ret, &error)) {
        client_call_failed(domain->conn, error);
        return NULL;
    }
    return g_steal_pointer(&ret.type);
}

unsigned long
virDomainGetMaxMemory(virDomainPtr domain)
{
    g_autoptr(GError) error = NULL;
    RemoteDomainGetMaxMemoryArgs args = { { 0 } };
    RemoteDomainGetMaxMemoryRet ret = { 0 };

    CLIENT_CHECK_DOMAIN(domain, 0);
    args.dom = client_domain_wire(domain);
    if (!remote_call_domain_get_max_memory(domain->conn->rpc, &args, &ret, &error)) {
        client_call_failed(domain->conn, error);
        return 0;
    }
    return (unsigned long)ret.memory;
}

int
virDomainGetInfo(virDomainPtr domain, virDomainInfoPtr info)
{
    g_autoptr(GError) error = NULL;
    RemoteDomainGetInfoArgs args = { { 0 } };
    RemoteDomainGetInfoRet ret = { 0 };

    CLIENT_CHECK_DOMAIN(domain, -1);
    CLIENT_CHECK_NONNULL(domain->conn, info, -1);
    args.dom = client_domain_wire(domain);
    if (!remote_call_domain_get_info(domain->conn->rpc, &args, &ret, &error)) {
        client_call_failed(domain->conn, error);
        return -1;
    }
    memset(info, 0, sizeof(*info));
    info->state = (unsigned char)ret.state;
    info->maxMem = (unsigned long)ret.maxMem;
    info->memory = (unsigned long)ret.memory;
    info->nrVirtCpu = ret.nrVirtCpu;
    info->cpuTime = ret.cpuTime;
    return 0;
}

int
virDomainGetState(virDomainPtr domain, int *state, int *reason, unsigned int flags)
{
    g_autoptr(GError) error = NULL;
    RemoteDomainGetStateArgs args = { { 0 } };
    RemoteDomainGetStateRet ret = { 0 };

    CLIENT_CHECK_DOMAIN(domain, -1);
    CLIENT_CHECK_NONNULL(domain->conn, state, -1);
    args.dom = client_domain_wire(domain);
    args.flags = flags;
    if (!remote_call_domain_get_state(domain->conn->rpc, &args, &ret, &error)) {
        client_call_failed(domain->conn, error);
        return -1;
    }
    *state = ret.state;
    if (reason)
        *reason = ret.reason;
    return 0;
}

int
virDomainGetDiskErrors(virDomainPtr dom, virDomainDiskErrorPtr errors, unsigned int maxerrors,
                       unsigned int flags)
{
    g_autoptr(GError) error = NULL;
    RemoteDomainGetDiskErrorsArgs args = { { 0 } };
    RemoteDomainGetDiskErrorsRet ret = { 0 };
    int n;

    CLIENT_CHECK_DOMAIN(dom, -1);
    if ((!errors && maxerrors) || (errors && !maxerrors)) {
        client_error_set(VIR_FROM_DOM, VIR_ERR_INVALID_ARG, "%s",
                         "invalid argument: 'errors' and 'maxerrors' must be both set or both "
                         "unset");
        return -1;
    }
    args.dom = client_domain_wire(dom);
    args.maxerrors = maxerrors;
    args.flags = flags;
    if (!remote_call_domain_get_disk_errors(dom->conn->rpc, &args, &ret, &error)) {
        client_call_failed(dom->conn, error);
        return -1;
    }
    if (ret.errors_len > maxerrors || (errors && (guint)ret.nerrors != ret.errors_len)) {
        client_error_set(VIR_FROM_RPC, VIR_ERR_RPC, "%s",
                         "the server returned more disk errors than asked for");
        xdr_free_remote_domain_get_disk_errors_ret(&ret);
        return -1;
    }
    for (guint i = 0; i < ret.errors_len; i++) {
        errors[i].disk = g_steal_pointer(&ret.errors_val[i].disk);
        errors[i].error = ret.errors_val[i].error;
    }
    n = ret.nerrors;
    xdr_free_remote_domain_get_disk_errors_ret(&ret);
    return n;
}

char *
virDomainGetXMLDesc(virDomainPtr domain, unsigned int flags)
{
    g_autoptr(GError) error = NULL;
    RemoteDomainGetXmlDescArgs args = { { 0 } };
    RemoteDomainGetXmlDescRet ret = { 0 };

    CLIENT_CHECK_DOMAIN(domain, NULL);
    /* Secrets in the XML are for read-write connections only. */
    if ((flags & VIR_DOMAIN_XML_SECURE) && (domain->conn->flags & VIR_CONNECT_RO)) {
        client_error_set(VIR_FROM_DOM, VIR_ERR_OPERATION_DENIED, "%s",
                         "operation forbidden: virDomainGetXMLDesc with secure flag");
        client_error_dispatch(domain->conn);
        return NULL;
    }
    args.dom = client_domain_wire(domain);
    args.flags = flags;
    if (!remote_call_domain_get_xml_desc(domain->conn->rpc, &args, &ret, &error)) {
        client_call_failed(domain->conn, error);
        return NULL;
    }
    return g_steal_pointer(&ret.xml);
}

int
virDomainGetAutostart(virDomainPtr domain, int *autostart)
{
    g_autoptr(GError) error = NULL;
    RemoteDomainGetAutostartArgs args = { { 0 } };
    RemoteDomainGetAutostartRet ret = { 0 };

    CLIENT_CHECK_DOMAIN(domain, -1);
    CLIENT_CHECK_NONNULL(domain->conn, autostart, -1);
    args.dom = client_domain_wire(domain);
    if (!remote_call_domain_get_autostart(domain->conn->rpc, &args, &ret, &error)) {
        client_call_failed(domain->conn, error);
        return -1;
    }
    *autostart = ret.autostart;
    return 0;
}

int
virDomainSetAutostart(virDomainPtr domain, int autostart)
{
    g_autoptr(GError) error = NULL;
    RemoteDomainSetAutostartArgs args = { { 0 } };

    CLIENT_CHECK_DOMAIN(domain, -1);
    CLIENT_CHECK_WRITABLE(domain->conn, -1);
    args.dom = client_domain_wire(domain);
    args.autostart = autostart;
    if (!remote_call_domain_set_autostart(domain->conn->rpc, &args, &error)) {
        client_call_failed(domain->conn, error);
        return -1;
    }
    return 0;
}

int
virDomainIsActive(virDomainPtr domain)
{
    g_autoptr(GError) error = NULL;
    RemoteDomainIsActiveArgs args = { { 0 } };
    RemoteDomainIsActiveRet ret = { 0 };

    CLIENT_CHECK_DOMAIN(domain, -1);
    args.dom = client_domain_wire(domain);
    if (!remote_call_domain_is_active(domain->conn->rpc, &args, &ret, &error)) {
        client_call_failed(domain->conn, error);
        return -1;
    }
    return ret.active ? 1 : 0;
}

int
virDomainIsPersistent(virDomainPtr domain)
{
    g_autoptr(GError) error = NULL;
    RemoteDomainIsPersistentArgs args = { { 0 } };
    RemoteDomainIsPersistentRet ret = { 0 };

    CLIENT_CHECK_DOMAIN(domain, -1);
    args.dom = client_domain_wire(domain);
    if (!remote_call_domain_is_persistent(domain->conn->rpc, &args, &ret, &error)) {
        client_call_failed(domain->conn, error);
        return -1;
    }
    return ret.persistent ? 1 : 0;
}

int
virDomainHasManagedSaveImage(virDomainPtr dom, unsigned int flags)
{
    g_autoptr(GError) error = NULL;
    RemoteDomainHasManagedSaveImageArgs args = { { 0 } };
    RemoteDomainHasManagedSaveImageRet ret = { 0 };

    CLIENT_CHECK_DOMAIN(dom, -1);
    args.dom = client_domain_wire(dom);
    args.flags = flags;
    if (!remote_call_domain_has_managed_save_image(dom->conn->rpc, &args, &ret, &error)) {
        client_call_failed(dom->conn, error);
        return -1;
    }
    return ret.result ? 1 : 0;
}

/* Copy a wire char array into a NUL-terminated buffer of @size bytes. */
static bool
client_copy_chars(char *buf, size_t size, const char *val, guint len, const char *what)
{
    /* the wire array counts its terminating NUL when there is one */
    size_t n = len && val[len - 1] == '\0' ? len - 1 : len;

    if (n >= size) {
        client_error_set(VIR_FROM_REMOTE, VIR_ERR_RPC, "%s exceeds maximum: %zu", what,
                         size - 1);
        return false;
    }
    memset(buf, 0, size);
    if (n)
        memcpy(buf, val, n);
    return true;
}

int
virDomainGetSecurityLabel(virDomainPtr domain, virSecurityLabelPtr seclabel)
{
    g_autoptr(GError) error = NULL;
    RemoteDomainGetSecurityLabelArgs args = { { 0 } };
    RemoteDomainGetSecurityLabelRet ret = { 0 };
    bool ok = false;

    CLIENT_CHECK_DOMAIN(domain, -1);
    CLIENT_CHECK_NONNULL(domain->conn, seclabel, -1);
    args.dom = client_domain_wire(domain);
    if (!remote_call_domain_get_security_label(domain->conn->rpc, &args, &ret, &error)) {
        client_call_failed(domain->conn, error);
        return -1;
    }
    ok = client_copy_chars(seclabel->label, sizeof(seclabel->label), ret.label_val,
                           ret.label_len, "security label");
    seclabel->enforcing = ret.enforcing;
    xdr_free_remote_domain_get_security_label_ret(&ret);
    if (!ok) {
        client_error_dispatch(domain->conn);
        return -1;
    }
    return 0;
}

int
virNodeGetSecurityModel(virConnectPtr conn, virSecurityModelPtr secmodel)
{
    g_autoptr(GError) error = NULL;
    RemoteNodeGetSecurityModelRet ret = { 0 };
    bool ok = false;

    CLIENT_CHECK_CONN(conn, -1);
    CLIENT_CHECK_NONNULL(conn, secmodel, -1);
    if (!remote_call_node_get_security_model(conn->rpc, &ret, &error)) {
        client_call_failed(conn, error);
        return -1;
    }
    ok = client_copy_chars(secmodel->model, sizeof(secmodel->model), ret.model_val,
                           ret.model_len, "security model") &&
         client_copy_chars(secmodel->doi, sizeof(secmodel->doi), ret.doi_val, ret.doi_len,
                           "security doi");
    xdr_free_remote_node_get_security_model_ret(&ret);
    if (!ok) {
        client_error_dispatch(conn);
        return -1;
    }
    return 0;
}

int
virDomainGetMessages(virDomainPtr domain, char ***msgs, unsigned int flags)
{
    g_autoptr(GError) error = NULL;
    RemoteDomainGetMessagesArgs args = { { 0 } };
    RemoteDomainGetMessagesRet ret = { 0 };
    char **list = NULL;

    CLIENT_CHECK_DOMAIN(domain, -1);
    CLIENT_CHECK_NONNULL(domain->conn, msgs, -1);
    args.dom = client_domain_wire(domain);
    args.flags = flags;
    if (!remote_call_domain_get_messages(domain->conn->rpc, &args, &ret, &error)) {
        client_call_failed(domain->conn, error);
        return -1;
    }
    list = g_new0(char *, ret.msgs_len + 1);
    for (guint i = 0; i < ret.msgs_len; i++)
        list[i] = g_steal_pointer(&ret.msgs_val[i].name);
    *msgs = list;
    xdr_free_remote_domain_get_messages_ret(&ret);
    return (int)g_strv_length(list);
}
