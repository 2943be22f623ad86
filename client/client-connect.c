/*
 * client-connect.c: connections and host information (libvirt-host.h,
 * libvirt-domain.h) over the libvirt RPC protocol.
 *
 * Opening follows the libvirt 9.0 remote driver of a process without an
 * event loop: AUTH_LIST, CONNECT_OPEN, [CONNECT_GET_URI when the server
 * chose the URI], CONNECT_SUPPORTS_FEATURE 14 and 15.  Keepalive is not
 * negotiated (feature 10), so the server never pings an idle client.
 */
#define G_LOG_DOMAIN "modvirt.client"

#include <string.h>

#include "client-internal.h"
#include "client-uri.h"
#include "rpc-protocol-client.h"
#include "util-error.h"

/* libvirt's private CONNECT_OPEN flag (remote_protocol's
 * VIR_DRV_OPEN_REMOTE_RO); the server honours only this bit. */
#define CLIENT_OPEN_FLAG_RO 1

/* CONNECT_SUPPORTS_FEATURE numbers (libvirt's VIR_DRV_FEATURE_*). */
#define CLIENT_FEATURE_REMOTE_EVENT_CALLBACK 14
#define CLIENT_FEATURE_REMOTE_CLOSE_CALLBACK 15

/* AUTH_LIST answers. */
#define CLIENT_AUTH_NONE 0
#define CLIENT_AUTH_SASL 1
#define CLIENT_AUTH_POLKIT 2

static int client_auth_default_credtypes[] = {
    VIR_CRED_AUTHNAME, VIR_CRED_ECHOPROMPT, VIR_CRED_REALM,
    VIR_CRED_PASSPHRASE, VIR_CRED_NOECHOPROMPT, VIR_CRED_EXTERNAL,
};

/* The daemons never ask for credentials on their UNIX sockets; a callback
 * that is called anyway declines rather than prompting. */
static int
client_auth_default_cb(virConnectCredentialPtr cred G_GNUC_UNUSED,
                       unsigned int ncred G_GNUC_UNUSED,
                       void *cbdata G_GNUC_UNUSED)
{
    return -1;
}

static virConnectAuth client_auth_default = {
    .credtype = client_auth_default_credtypes,
    .ncredtype = G_N_ELEMENTS(client_auth_default_credtypes),
    .cb = client_auth_default_cb,
    .cbdata = NULL,
};

virConnectAuthPtr virConnectAuthPtrDefault = &client_auth_default;

bool
client_connect_valid(virConnectPtr conn)
{
    return conn && conn->magic == CLIENT_CONNECT_MAGIC;
}

static void
client_connect_free(virConnectPtr conn)
{
    if (!conn)
        return;
    conn->magic = 0;
    client_events_cleanup(conn);
    rpc_client_free(conn->rpc);
    g_free(conn->uri);
    g_free(conn->type);
    virResetError(&conn->err);
    g_mutex_clear(&conn->lock);
    g_free(conn);
}

static bool
client_connect_authenticate(virConnectPtr conn, GError **error)
{
    RemoteAuthListRet list = { 0 };
    g_autoptr(GError) local = NULL;
    int type = CLIENT_AUTH_NONE;

    if (!remote_call_auth_list(conn->rpc, &list, &local)) {
        /* An old server without AUTH_LIST needs no authentication. */
        if (util_error_code(local) == VIR_ERR_NO_SUPPORT)
            return true;
        g_propagate_error(error, g_steal_pointer(&local));
        return false;
    }
    type = list.types_len ? list.types_val[0] : CLIENT_AUTH_NONE;
    xdr_free_remote_auth_list_ret(&list);

    switch (type) {
    case CLIENT_AUTH_NONE:
        return true;
    case CLIENT_AUTH_POLKIT: {
        RemoteAuthPolkitRet ret = { 0 };

        if (!remote_call_auth_polkit(conn->rpc, &ret, error))
            return false;
        if (!ret.complete) {
            util_error_set(error, VIR_FROM_AUTH, VIR_ERR_AUTH_FAILED,
                           "authentication failed: polkit authentication did not complete");
            return false;
        }
        return true;
    }
    case CLIENT_AUTH_SASL:
    default:
        util_error_set(error, VIR_FROM_REMOTE, VIR_ERR_AUTH_FAILED,
                       "authentication failed: unsupported authentication type %d "
                       "(modvirt clients support none and polkit)", type);
        return false;
    }
}

static bool
client_connect_feature(virConnectPtr conn, int feature, bool *ret_supported, GError **error)
{
    RemoteConnectSupportsFeatureArgs args = { .feature = feature };
    RemoteConnectSupportsFeatureRet ret = { 0 };

    if (!remote_call_connect_supports_feature(conn->rpc, &args, &ret, error))
        return false;
    *ret_supported = ret.supported != 0;
    return true;
}

/* The default URI when the application gave none: $MODVIRT_DEFAULT_URI,
 * then $LIBVIRT_DEFAULT_URI; NULL lets the server choose. */
static const char *
client_connect_default_uri(void)
{
    const char *env_names[] = { "MODVIRT_DEFAULT_URI", "LIBVIRT_DEFAULT_URI" };

    for (size_t i = 0; i < G_N_ELEMENTS(env_names); i++) {
        const char *value = g_getenv(env_names[i]);
        if (value && *value)
            return value;
    }
    return NULL;
}

static virConnectPtr
client_connect_open(const char *name, unsigned int flags, GError **error)
{
    const unsigned int known_flags = VIR_CONNECT_RO | VIR_CONNECT_NO_ALIASES;
    const char *text = (name && *name) ? name : client_connect_default_uri();
    bool readonly = flags & VIR_CONNECT_RO;
    g_autoptr(ClientUri) uri = NULL;
    g_autofree char *path = NULL;
    virConnectPtr conn = NULL;
    RemoteConnectOpenArgs open_args = { 0 };

    if (flags & ~known_flags) {
        util_error_set(error, VIR_FROM_NONE, VIR_ERR_INVALID_ARG,
                       "invalid argument: unsupported flags (0x%x) in function virConnectOpenAuth",
                       flags & ~known_flags);
        return NULL;
    }
    if (text && !(uri = client_uri_parse(text, error)))
        return NULL;
    if (!(path = client_uri_socket_path(uri, readonly, error)))
        return NULL;

    g_debug("opening '%s' through '%s'%s", text ? text : "(server default)", path,
            readonly ? " read-only" : "");
    conn = g_new0(virConnect, 1);
    conn->magic = CLIENT_CONNECT_MAGIC;
    conn->refs = 1;
    conn->flags = flags;
    g_mutex_init(&conn->lock);
    client_events_init(conn);
    if (!(conn->rpc = rpc_client_connect_unix(path, error)))
        goto error;
    client_events_attach(conn);

    if (!client_connect_authenticate(conn, error))
        goto error;

    /* With no URI at all the name is present but empty: the server picks. */
    open_args.name = (char *)(uri ? client_uri_wire_name(uri) : "");
    open_args.flags = readonly ? CLIENT_OPEN_FLAG_RO : 0;
    if (!remote_call_connect_open(conn->rpc, &open_args, error))
        goto error;

    if (uri) {
        conn->uri = g_strdup(client_uri_display(uri));
    } else {
        RemoteConnectGetUriRet ret = { 0 };

        if (!remote_call_connect_get_uri(conn->rpc, &ret, error))
            goto error;
        conn->uri = g_steal_pointer(&ret.uri);
        xdr_free_remote_connect_get_uri_ret(&ret);
    }

    if (!client_connect_feature(conn, CLIENT_FEATURE_REMOTE_EVENT_CALLBACK,
                                &conn->event_callbacks, error) ||
        !client_connect_feature(conn, CLIENT_FEATURE_REMOTE_CLOSE_CALLBACK,
                                &conn->close_callbacks, error))
        goto error;

    g_debug("connected to '%s'", conn->uri);
    return conn;

 error:
    client_connect_free(conn);
    return NULL;
}

/* ------------------------------------------------------------ public API */

int
virInitialize(void)
{
    return 0;
}

int
virGetVersion(unsigned long *libVer, const char *type G_GNUC_UNUSED,
              unsigned long *typeVer)
{
    virResetLastError();
    if (!libVer) {
        client_error_set(VIR_FROM_NONE, VIR_ERR_INVALID_ARG,
                         "invalid argument: libVer in virGetVersion must not be NULL");
        client_error_dispatch(NULL);
        return -1;
    }
    *libVer = LIBVIR_VERSION_NUMBER;
    /* libvirt reports its own version as every driver's API version. */
    if (typeVer)
        *typeVer = LIBVIR_VERSION_NUMBER;
    return 0;
}

virConnectPtr
virConnectOpenAuth(const char *name, virConnectAuthPtr auth G_GNUC_UNUSED,
                   unsigned int flags)
{
    g_autoptr(GError) error = NULL;
    virConnectPtr conn = NULL;

    virResetLastError();
    if (!(conn = client_connect_open(name, flags, &error))) {
        client_error_set_gerror(error);
        client_error_dispatch(NULL);
    }
    return conn;
}

virConnectPtr
virConnectOpen(const char *name)
{
    return virConnectOpenAuth(name, NULL, 0);
}

virConnectPtr
virConnectOpenReadOnly(const char *name)
{
    return virConnectOpenAuth(name, NULL, VIR_CONNECT_RO);
}

int
virConnectRef(virConnectPtr conn)
{
    virResetLastError();
    if (!client_connect_valid(conn)) {
        client_error_invalid_conn(__func__);
        return -1;
    }
    g_atomic_int_inc(&conn->refs);
    return 0;
}

int
client_connect_unref(virConnectPtr conn)
{
    int remaining = g_atomic_int_add(&conn->refs, -1) - 1;

    if (remaining > 0)
        return remaining;

    if (rpc_client_is_open(conn->rpc)) {
        g_autoptr(GError) error = NULL;

        /* The server answers, then hangs up; a failure changes nothing. */
        if (!remote_call_connect_close(conn->rpc, &error))
            g_debug("CONNECT_CLOSE failed: %s", error->message);
    }
    client_connect_free(conn);
    return 0;
}

int
virConnectClose(virConnectPtr conn)
{
    CLIENT_CHECK_CONN(conn, -1);
    return client_connect_unref(conn);
}

const char *
virConnectGetType(virConnectPtr conn)
{
    g_autoptr(GError) error = NULL;
    RemoteConnectGetTypeRet ret = { 0 };
    const char *type = NULL;

    CLIENT_CHECK_CONN(conn, NULL);
    g_mutex_lock(&conn->lock);
    type = conn->type;
    g_mutex_unlock(&conn->lock);
    if (type)
        return type;

    if (!remote_call_connect_get_type(conn->rpc, &ret, &error)) {
        client_call_failed(conn, error);
        return NULL;
    }
    /* Cached for the life of the connection, as libvirt does; a racing
     * thread's answer is the same string. */
    g_mutex_lock(&conn->lock);
    if (!conn->type)
        conn->type = g_steal_pointer(&ret.type);
    type = conn->type;
    g_mutex_unlock(&conn->lock);
    xdr_free_remote_connect_get_type_ret(&ret);
    return type;
}

int
virConnectGetVersion(virConnectPtr conn, unsigned long *hvVer)
{
    g_autoptr(GError) error = NULL;
    RemoteConnectGetVersionRet ret = { 0 };

    CLIENT_CHECK_CONN(conn, -1);
    CLIENT_CHECK_NONNULL(conn, hvVer, -1);
    if (!remote_call_connect_get_version(conn->rpc, &ret, &error)) {
        client_call_failed(conn, error);
        return -1;
    }
    *hvVer = ret.hv_ver;
    return 0;
}

int
virConnectGetLibVersion(virConnectPtr conn, unsigned long *libVer)
{
    g_autoptr(GError) error = NULL;
    RemoteConnectGetLibVersionRet ret = { 0 };

    CLIENT_CHECK_CONN(conn, -1);
    CLIENT_CHECK_NONNULL(conn, libVer, -1);
    if (!remote_call_connect_get_lib_version(conn->rpc, &ret, &error)) {
        client_call_failed(conn, error);
        return -1;
    }
    *libVer = ret.lib_ver;
    return 0;
}

char *
virConnectGetHostname(virConnectPtr conn)
{
    g_autoptr(GError) error = NULL;
    RemoteConnectGetHostnameRet ret = { 0 };

    CLIENT_CHECK_CONN(conn, NULL);
    if (!remote_call_connect_get_hostname(conn->rpc, &ret, &error)) {
        client_call_failed(conn, error);
        return NULL;
    }
    return g_steal_pointer(&ret.hostname);
}

char *
virConnectGetURI(virConnectPtr conn)
{
    CLIENT_CHECK_CONN(conn, NULL);
    return g_strdup(conn->uri);
}

char *
virConnectGetSysinfo(virConnectPtr conn, unsigned int flags)
{
    g_autoptr(GError) error = NULL;
    RemoteConnectGetSysinfoArgs args = { .flags = flags };
    RemoteConnectGetSysinfoRet ret = { 0 };

    CLIENT_CHECK_CONN(conn, NULL);
    if (!remote_call_connect_get_sysinfo(conn->rpc, &args, &ret, &error)) {
        client_call_failed(conn, error);
        return NULL;
    }
    return g_steal_pointer(&ret.sysinfo);
}

int
virConnectGetMaxVcpus(virConnectPtr conn, const char *type)
{
    g_autoptr(GError) error = NULL;
    RemoteConnectGetMaxVcpusArgs args = { .type = (char *)type };
    RemoteConnectGetMaxVcpusRet ret = { 0 };

    CLIENT_CHECK_CONN(conn, -1);
    if (!remote_call_connect_get_max_vcpus(conn->rpc, &args, &ret, &error)) {
        client_call_failed(conn, error);
        return -1;
    }
    return ret.max_vcpus;
}

char *
virConnectGetCapabilities(virConnectPtr conn)
{
    g_autoptr(GError) error = NULL;
    RemoteConnectGetCapabilitiesRet ret = { 0 };

    CLIENT_CHECK_CONN(conn, NULL);
    if (!remote_call_connect_get_capabilities(conn->rpc, &ret, &error)) {
        client_call_failed(conn, error);
        return NULL;
    }
    return g_steal_pointer(&ret.capabilities);
}

char *
virConnectGetDomainCapabilities(virConnectPtr conn, const char *emulatorbin,
                                const char *arch, const char *machine,
                                const char *virttype, unsigned int flags)
{
    g_autoptr(GError) error = NULL;
    RemoteConnectGetDomainCapabilitiesArgs args = {
        .emulatorbin = (char *)emulatorbin,
        .arch = (char *)arch,
        .machine = (char *)machine,
        .virttype = (char *)virttype,
        .flags = flags,
    };
    RemoteConnectGetDomainCapabilitiesRet ret = { 0 };

    CLIENT_CHECK_CONN(conn, NULL);
    if (!remote_call_connect_get_domain_capabilities(conn->rpc, &args, &ret, &error)) {
        client_call_failed(conn, error);
        return NULL;
    }
    return g_steal_pointer(&ret.capabilities);
}

/* CONNECT_IS_SECURE answers for the server's side; a UNIX socket is secure
 * but not encrypted, as libvirt's remote driver reports. */
static int
client_connect_is_secure(virConnectPtr conn, bool want_encrypted)
{
    g_autoptr(GError) error = NULL;
    RemoteConnectIsSecureRet ret = { 0 };

    if (!remote_call_connect_is_secure(conn->rpc, &ret, &error)) {
        client_call_failed(conn, error);
        return -1;
    }
    if (want_encrypted)
        return 0;
    return ret.secure ? 1 : 0;
}

int
virConnectIsSecure(virConnectPtr conn)
{
    CLIENT_CHECK_CONN(conn, -1);
    return client_connect_is_secure(conn, false);
}

int
virConnectIsEncrypted(virConnectPtr conn)
{
    CLIENT_CHECK_CONN(conn, -1);
    return client_connect_is_secure(conn, true);
}

int
virConnectIsAlive(virConnectPtr conn)
{
    CLIENT_CHECK_CONN(conn, -1);
    return rpc_client_is_open(conn->rpc) ? 1 : 0;
}

int
virNodeGetInfo(virConnectPtr conn, virNodeInfoPtr info)
{
    g_autoptr(GError) error = NULL;
    RemoteNodeGetInfoRet ret = { 0 };

    CLIENT_CHECK_CONN(conn, -1);
    CLIENT_CHECK_NONNULL(conn, info, -1);
    if (!remote_call_node_get_info(conn->rpc, &ret, &error)) {
        client_call_failed(conn, error);
        return -1;
    }
    memset(info, 0, sizeof(*info));
    /* The wire array need not be NUL terminated. */
    memcpy(info->model, ret.model, MIN(sizeof(info->model), sizeof(ret.model)));
    info->model[sizeof(info->model) - 1] = '\0';
    info->memory = ret.memory;
    info->cpus = ret.cpus;
    info->mhz = ret.mhz;
    info->nodes = ret.nodes;
    info->sockets = ret.sockets;
    info->cores = ret.cores;
    info->threads = ret.threads;
    return 0;
}

unsigned long long
virNodeGetFreeMemory(virConnectPtr conn)
{
    g_autoptr(GError) error = NULL;
    RemoteNodeGetFreeMemoryRet ret = { 0 };

    CLIENT_CHECK_CONN(conn, 0);
    if (!remote_call_node_get_free_memory(conn->rpc, &ret, &error)) {
        client_call_failed(conn, error);
        return 0;
    }
    return ret.freeMem;
}
