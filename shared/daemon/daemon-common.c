/*
 * daemon-common.c: connection-level procedures every daemon answers the
 * same way: authentication, open/close, feature queries, host facts,
 * close callbacks, identity and event registration.  A driver's own ops
 * take precedence over these.
 */
#define G_LOG_DOMAIN "modvirt.daemon"

#include "daemon-priv.h"

#include <string.h>

#include "modvirt-config.h"
#include "util-error.h"
#include "util-host.h"

/* The libvirt API level modvirt implements, as reported by
 * virConnectGetLibVersion: applications gate features on it. */
#define DAEMON_LIBVIRT_COMPAT_VERSION 9000000ULL

/* virConnect feature numbers (libvirt_internal.h) */
enum {
    FEATURE_FD_PASSING = 8,
    FEATURE_TYPED_PARAM_STRING = 9,
    FEATURE_PROGRAM_KEEPALIVE = 10,
    FEATURE_REMOTE_EVENT_CALLBACK = 14,
    FEATURE_REMOTE_CLOSE_CALLBACK = 15,
};

/* Event ID limits of libvirt 9.0 */
#define DOMAIN_EVENT_ID_COUNT 27
#define DOMAIN_EVENT_ID_LEGACY_MAX 15
#define NETWORK_EVENT_ID_COUNT 2
#define STORAGE_POOL_EVENT_ID_COUNT 2

static bool
common_auth_list(RpcServerCall *call, RemoteAuthListRet *ret, GError **error)
{
    /* UNIX socket permissions are the access control: no further auth */
    ret->types_len = 1;
    ret->types_val = g_new0(gint32, 1);
    ret->types_val[0] = 0; /* REMOTE_AUTH_NONE */
    return true;
}

static bool
common_supports_feature(RpcServerCall *call, const RemoteConnectSupportsFeatureArgs *args,
                        RemoteConnectSupportsFeatureRet *ret, GError **error)
{
    DaemonClient *client = daemon_call_client(call);

    switch (args->feature) {
    case FEATURE_PROGRAM_KEEPALIVE:
        daemon_client_enable_keepalive(client);
        ret->supported = daemon_limits()->keepalive_interval > 0;
        break;
    case FEATURE_REMOTE_EVENT_CALLBACK:
    case FEATURE_REMOTE_CLOSE_CALLBACK:
    case FEATURE_TYPED_PARAM_STRING:
        ret->supported = 1;
        break;
    case FEATURE_FD_PASSING:
    default:
        ret->supported = 0;
        break;
    }
    return true;
}

static bool
common_scheme_served(const char *scheme)
{
    const char *const *schemes = daemon_driver()->uri_schemes;

    for (size_t i = 0; schemes && schemes[i]; i++) {
        if (g_ascii_strcasecmp(schemes[i], scheme) == 0)
            return true;
    }
    return false;
}

/* Check @name against what this daemon serves; the normalised URI. */
static char *
common_open_uri(const char *name, GError **error)
{
    const DaemonDriver *drv = daemon_driver();
    const char *want_path = daemon_is_privileged() ? "/system" : "/session";
    g_autoptr(GUri) uri = NULL;
    g_autoptr(GError) local = NULL;
    const char *path;

    if (!drv->uri_schemes || !drv->uri_schemes[0]) {
        util_error_set(error, VIR_FROM_NONE, VIR_ERR_NO_CONNECT,
                       "%s opens no connections of its own", drv->name);
        return NULL;
    }
    if (!name || !*name)
        return g_strdup_printf("%s://%s", drv->uri_schemes[0], want_path);

    uri = g_uri_parse(name, G_URI_FLAGS_NON_DNS | G_URI_FLAGS_ENCODED, &local);
    if (!uri) {
        util_error_set(error, VIR_FROM_NONE, VIR_ERR_INVALID_ARG,
                       "cannot parse URI '%s': %s", name, local->message);
        return NULL;
    }
    if (!common_scheme_served(g_uri_get_scheme(uri))) {
        util_error_set(error, VIR_FROM_NONE, VIR_ERR_NO_CONNECT,
                       "no connection driver available for %s (%s serves %s://)",
                       name, drv->name, drv->uri_schemes[0]);
        return NULL;
    }
    if (g_uri_get_host(uri) && *g_uri_get_host(uri)) {
        util_error_set(error, VIR_FROM_NONE, VIR_ERR_NO_CONNECT,
                       "URI '%s' names a remote host; %s only serves local connections",
                       name, drv->name);
        return NULL;
    }
    path = g_uri_get_path(uri);
    if (!g_str_equal(path, want_path)) {
        util_error_set(error, VIR_FROM_NONE, VIR_ERR_INTERNAL_ERROR,
                       "unexpected %s URI path '%s', try %s://%s",
                       drv->uri_schemes[0], path, drv->uri_schemes[0], want_path);
        return NULL;
    }
    if (g_uri_get_query(uri))
        return g_strdup_printf("%s://%s?%s", g_uri_get_scheme(uri), path, g_uri_get_query(uri));
    return g_strdup_printf("%s://%s", g_uri_get_scheme(uri), path);
}

static bool
common_connect_open(RpcServerCall *call, const RemoteConnectOpenArgs *args, GError **error)
{
    DaemonClient *client = daemon_call_client(call);
    g_autofree char *uri = NULL;

    if (daemon_client_is_open(client)) {
        util_error_set(error, VIR_FROM_NONE, VIR_ERR_INTERNAL_ERROR, "connection already open");
        return false;
    }
    if (args->flags & ~7u) {
        util_error_set(error, VIR_FROM_NONE, VIR_ERR_INVALID_ARG,
                       "unsupported connection flags 0x%x", args->flags & ~7u);
        return false;
    }
    uri = common_open_uri(args->name, error);
    if (!uri)
        return false;
    if (args->flags & 1)   /* VIR_CONNECT_RO as the client driver sends it */
        client->readonly = true;
    daemon_client_set_open(client, uri);
    g_debug("client opened %s%s", uri, client->readonly ? " read-only" : "");
    return true;
}

static bool
common_connect_close(RpcServerCall *call, GError **error)
{
    /* the reply goes out first; the dispatcher closes the socket after it */
    return true;
}

static bool
common_get_uri(RpcServerCall *call, RemoteConnectGetUriRet *ret, GError **error)
{
    ret->uri = g_strdup(daemon_client_uri(daemon_call_client(call)));
    return true;
}

static bool
common_get_hostname(RpcServerCall *call, RemoteConnectGetHostnameRet *ret, GError **error)
{
    ret->hostname = util_host_hostname(error);
    return ret->hostname != NULL;
}

static bool
common_node_get_info(RpcServerCall *call, RemoteNodeGetInfoRet *ret, GError **error)
{
    UtilNodeInfo info;

    if (!util_host_node_info(&info, error))
        return false;
    G_STATIC_ASSERT(sizeof(ret->model) == sizeof(info.model));
    memcpy(ret->model, info.model, sizeof(ret->model));
    ret->memory = info.memory_kib;
    ret->cpus = info.cpus;
    ret->mhz = info.mhz;
    ret->nodes = info.nodes;
    ret->sockets = info.sockets;
    ret->cores = info.cores;
    ret->threads = info.threads;
    return true;
}

static bool
common_node_get_free_memory(RpcServerCall *call, RemoteNodeGetFreeMemoryRet *ret, GError **error)
{
    g_autoptr(GError) local = NULL;

    ret->freeMem = util_host_free_memory(&local);
    if (local) {
        g_propagate_error(error, g_steal_pointer(&local));
        return false;
    }
    return true;
}

/* char<N> wire strings count their terminating NUL, as libvirt's do. */
static void
common_set_char_array(guint32 *ret_len, char **ret_val, const char *s)
{
    *ret_len = strlen(s) + 1;
    *ret_val = g_strdup(s);
}

static bool
common_node_get_security_model(RpcServerCall *call, RemoteNodeGetSecurityModelRet *ret,
                               GError **error)
{
    common_set_char_array(&ret->model_len, &ret->model_val, "none");
    common_set_char_array(&ret->doi_len, &ret->doi_val, "0");
    return true;
}

static bool
common_is_secure(RpcServerCall *call, RemoteConnectIsSecureRet *ret, GError **error)
{
    /* UNIX sockets count as secure */
    ret->secure = 1;
    return true;
}

static bool
common_get_lib_version(RpcServerCall *call, RemoteConnectGetLibVersionRet *ret, GError **error)
{
    ret->lib_ver = DAEMON_LIBVIRT_COMPAT_VERSION;
    return true;
}

static void
common_sysinfo_entry(GString *xml, const char *name, const char *file)
{
    g_autofree char *path = g_build_filename("/sys/class/dmi/id", file, NULL);
    g_autofree char *val = NULL;
    g_autofree char *esc = NULL;

    if (!g_file_get_contents(path, &val, NULL, NULL))
        return;
    g_strstrip(val);
    if (!*val)
        return;
    esc = g_markup_escape_text(val, -1);
    g_string_append_printf(xml, "    <entry name='%s'>%s</entry>\n", name, esc);
}

static bool
common_get_sysinfo(RpcServerCall *call, const RemoteConnectGetSysinfoArgs *args,
                   RemoteConnectGetSysinfoRet *ret, GError **error)
{
    g_autoptr(GString) xml = g_string_new("<sysinfo type='smbios'>\n");

    if (args->flags) {
        util_error_set(error, VIR_FROM_NONE, VIR_ERR_INVALID_ARG,
                       "unsupported flags (0x%x) in function virConnectGetSysinfo", args->flags);
        return false;
    }
    g_string_append(xml, "  <bios>\n");
    common_sysinfo_entry(xml, "vendor", "bios_vendor");
    common_sysinfo_entry(xml, "version", "bios_version");
    common_sysinfo_entry(xml, "date", "bios_date");
    g_string_append(xml, "  </bios>\n  <system>\n");
    common_sysinfo_entry(xml, "manufacturer", "sys_vendor");
    common_sysinfo_entry(xml, "product", "product_name");
    common_sysinfo_entry(xml, "version", "product_version");
    common_sysinfo_entry(xml, "uuid", "product_uuid");
    common_sysinfo_entry(xml, "family", "product_family");
    g_string_append(xml, "  </system>\n</sysinfo>\n");
    ret->sysinfo = g_string_free(g_steal_pointer(&xml), FALSE);
    return true;
}

static bool
common_close_callback(RpcServerCall *call, GError **error)
{
    return true;
}

static bool
common_set_identity(RpcServerCall *call, const RemoteConnectSetIdentityArgs *args, GError **error)
{
    uid_t uid = (uid_t)-1;

    /* only another daemon running as root may speak for someone else */
    if (!daemon_client_peer(daemon_call_client(call), &uid, NULL, NULL) || uid != 0) {
        util_error_set(error, VIR_FROM_NONE, VIR_ERR_ACCESS_DENIED,
                       "access denied: only a privileged client may set an identity");
        return false;
    }
    for (guint32 i = 0; i < args->params_len; i++)
        g_debug("identity %s", args->params_val[i].field);
    return true;
}

/* ------------------------------------------------------------ events */

static bool
common_event_register(DaemonClient *client, RpcFamily family, int event_id, int max_id,
                      bool legacy, const guint8 *uuid, int *ret_id, GError **error)
{
    DaemonEventCallback *cb;

    if (event_id < 0 || event_id >= max_id) {
        util_error_set(error, VIR_FROM_NONE, VIR_ERR_INVALID_ARG,
                       "unsupported event ID %d", event_id);
        return false;
    }
    daemon_events_lock();
    if (legacy) {
        for (GList *l = client->callbacks; l; l = l->next) {
            DaemonEventCallback *old = l->data;
            if (old->legacy && old->family == family && old->event_id == event_id) {
                daemon_events_unlock();
                util_error_set(error, VIR_FROM_NONE, VIR_ERR_INTERNAL_ERROR,
                               "domain event %d already registered", event_id);
                return false;
            }
        }
    }
    cb = g_new0(DaemonEventCallback, 1);
    cb->callback_id = daemon_events_next_id();
    cb->family = family;
    cb->event_id = event_id;
    cb->legacy = legacy;
    if (uuid) {
        cb->has_filter = true;
        memcpy(cb->uuid, uuid, 16);
    }
    client->callbacks = g_list_append(client->callbacks, cb);
    daemon_events_unlock();
    if (ret_id)
        *ret_id = cb->callback_id;
    return true;
}

static bool
common_event_deregister(DaemonClient *client, RpcFamily family, int callback_id,
                        int legacy_event_id, GError **error)
{
    daemon_events_lock();
    for (GList *l = client->callbacks; l; l = l->next) {
        DaemonEventCallback *cb = l->data;
        bool match = cb->family == family &&
            (legacy_event_id >= 0 ? (cb->legacy && cb->event_id == legacy_event_id)
                                  : (!cb->legacy && cb->callback_id == callback_id));
        if (match) {
            client->callbacks = g_list_delete_link(client->callbacks, l);
            daemon_events_unlock();
            g_free(cb);
            return true;
        }
    }
    daemon_events_unlock();
    if (legacy_event_id >= 0)
        util_error_set(error, VIR_FROM_NONE, VIR_ERR_INTERNAL_ERROR,
                       "domain event %d not registered", legacy_event_id);
    else
        util_error_set(error, VIR_FROM_NONE, VIR_ERR_INVALID_ARG,
                       "no %s event callback with ID %d", rpc_family_name(family), callback_id);
    return false;
}

static bool
common_domain_event_register_any(RpcServerCall *call,
                                 const RemoteConnectDomainEventRegisterAnyArgs *args,
                                 GError **error)
{
    return common_event_register(daemon_call_client(call), RPC_FAMILY_DOMAIN, args->eventID,
                                 DOMAIN_EVENT_ID_LEGACY_MAX + 1, true, NULL, NULL, error);
}

static bool
common_domain_event_deregister_any(RpcServerCall *call,
                                   const RemoteConnectDomainEventDeregisterAnyArgs *args,
                                   GError **error)
{
    return common_event_deregister(daemon_call_client(call), RPC_FAMILY_DOMAIN, -1,
                                   args->eventID, error);
}

static bool
common_domain_event_callback_register(RpcServerCall *call,
                                      const RemoteConnectDomainEventCallbackRegisterAnyArgs *args,
                                      RemoteConnectDomainEventCallbackRegisterAnyRet *ret,
                                      GError **error)
{
    return common_event_register(daemon_call_client(call), RPC_FAMILY_DOMAIN, args->eventID,
                                 DOMAIN_EVENT_ID_COUNT, false,
                                 args->dom ? args->dom->uuid : NULL, &ret->callbackID, error);
}

static bool
common_domain_event_callback_deregister(RpcServerCall *call,
                                        const RemoteConnectDomainEventCallbackDeregisterAnyArgs *args,
                                        GError **error)
{
    return common_event_deregister(daemon_call_client(call), RPC_FAMILY_DOMAIN,
                                   args->callbackID, -1, error);
}

static bool
common_network_event_register(RpcServerCall *call,
                              const RemoteConnectNetworkEventRegisterAnyArgs *args,
                              RemoteConnectNetworkEventRegisterAnyRet *ret, GError **error)
{
    return common_event_register(daemon_call_client(call), RPC_FAMILY_NETWORK, args->eventID,
                                 NETWORK_EVENT_ID_COUNT, false,
                                 args->net ? args->net->uuid : NULL, &ret->callbackID, error);
}

static bool
common_network_event_deregister(RpcServerCall *call,
                                const RemoteConnectNetworkEventDeregisterAnyArgs *args,
                                GError **error)
{
    return common_event_deregister(daemon_call_client(call), RPC_FAMILY_NETWORK,
                                   args->callbackID, -1, error);
}

static bool
common_storage_event_register(RpcServerCall *call,
                              const RemoteConnectStoragePoolEventRegisterAnyArgs *args,
                              RemoteConnectStoragePoolEventRegisterAnyRet *ret, GError **error)
{
    return common_event_register(daemon_call_client(call), RPC_FAMILY_STORAGE, args->eventID,
                                 STORAGE_POOL_EVENT_ID_COUNT, false,
                                 args->pool ? args->pool->uuid : NULL, &ret->callbackID, error);
}

static bool
common_storage_event_deregister(RpcServerCall *call,
                                const RemoteConnectStoragePoolEventDeregisterAnyArgs *args,
                                GError **error)
{
    return common_event_deregister(daemon_call_client(call), RPC_FAMILY_STORAGE,
                                   args->callbackID, -1, error);
}

const RemoteServerOps daemon_common_ops = {
    .connect_open = common_connect_open,
    .connect_close = common_connect_close,
    .node_get_info = common_node_get_info,
    .connect_get_hostname = common_get_hostname,
    .connect_supports_feature = common_supports_feature,
    .auth_list = common_auth_list,
    .node_get_free_memory = common_node_get_free_memory,
    .connect_get_uri = common_get_uri,
    .node_get_security_model = common_node_get_security_model,
    .connect_is_secure = common_is_secure,
    .connect_get_lib_version = common_get_lib_version,
    .connect_get_sysinfo = common_get_sysinfo,
    .connect_register_close_callback = common_close_callback,
    .connect_unregister_close_callback = common_close_callback,
    .connect_set_identity = common_set_identity,
    .connect_domain_event_register_any = common_domain_event_register_any,
    .connect_domain_event_deregister_any = common_domain_event_deregister_any,
    .connect_domain_event_callback_register_any = common_domain_event_callback_register,
    .connect_domain_event_callback_deregister_any = common_domain_event_callback_deregister,
    .connect_network_event_register_any = common_network_event_register,
    .connect_network_event_deregister_any = common_network_event_deregister,
    .connect_storage_pool_event_register_any = common_storage_event_register,
    .connect_storage_pool_event_deregister_any = common_storage_event_deregister,
};

/* ------------------------------------------------------------ admin */

static bool
admin_open(RpcServerCall *call, const AdminConnectOpenArgs *args, GError **error)
{
    if (args->flags) {
        util_error_set(error, VIR_FROM_ADMIN, VIR_ERR_INVALID_ARG,
                       "unsupported flags (0x%x) in function virAdmConnectOpen", args->flags);
        return false;
    }
    daemon_client_set_open(daemon_call_client(call), "admin");
    return true;
}

static bool
admin_close(RpcServerCall *call, GError **error)
{
    return true;
}

static bool
admin_get_lib_version(RpcServerCall *call, AdminConnectGetLibVersionRet *ret, GError **error)
{
    ret->libVer = DAEMON_LIBVIRT_COMPAT_VERSION;
    return true;
}

const AdminServerOps daemon_admin_ops = {
    .connect_open = admin_open,
    .connect_close = admin_close,
    .connect_get_lib_version = admin_get_lib_version,
};
