/*
 * client-uri.c: connection URIs as the libvirt 9.0 remote driver reads them.
 */
#define G_LOG_DOMAIN "modvirt.client"

#include "client-uri.h"

#include <string.h>

#include "modvirt-config.h"
#include "util-error.h"

/* Parameters only the client reads; they never reach the server
 * (libvirt's remote driver strips the same list). */
static const char *const client_uri_local_params[] = {
    "name", "command", "socket", "auth", "netcat", "keyfile", "no_verify",
    "no_tty", "pkipath", "known_hosts", "known_hosts_verify", "sshauth",
    "mode", "proxy", "tls_priority", "no_sanity", "authfile",
};

/* Transports libvirt knows; modvirt implements only "unix". */
static const char *const client_uri_other_transports[] = {
    "tls", "ssh", "ext", "tcp", "libssh2", "libssh",
};

typedef enum {
    CLIENT_URI_MODE_AUTO,
    CLIENT_URI_MODE_LEGACY,
    CLIENT_URI_MODE_DIRECT,
    CLIENT_URI_MODE_LAST
} ClientUriMode;

static const char *const client_uri_mode_names[] = {
    [CLIENT_URI_MODE_AUTO] = "auto",
    [CLIENT_URI_MODE_LEGACY] = "legacy",
    [CLIENT_URI_MODE_DIRECT] = "direct",
};
G_STATIC_ASSERT(G_N_ELEMENTS(client_uri_mode_names) == CLIENT_URI_MODE_LAST);

struct _ClientUri {
    char *display;      /* virConnectGetURI */
    char *wire_name;    /* CONNECT_OPEN name */
    char *driver;       /* scheme before '+' */
    char *socket;       /* socket= (unescaped), or NULL */
    ClientUriMode mode;
};

void
client_uri_free(ClientUri *uri)
{
    if (!uri)
        return;
    g_free(uri->display);
    g_free(uri->wire_name);
    g_free(uri->driver);
    g_free(uri->socket);
    g_free(uri);
}

const char *
client_uri_display(const ClientUri *uri)
{
    return uri->display;
}

const char *
client_uri_wire_name(const ClientUri *uri)
{
    return uri->wire_name;
}

const char *
client_uri_driver(const ClientUri *uri)
{
    return uri->driver;
}

static bool
client_uri_is_local_param(const char *name)
{
    for (size_t i = 0; i < G_N_ELEMENTS(client_uri_local_params); i++) {
        if (g_ascii_strcasecmp(name, client_uri_local_params[i]) == 0)
            return true;
    }
    return false;
}

static bool
client_uri_is_other_transport(const char *transport)
{
    for (size_t i = 0; i < G_N_ELEMENTS(client_uri_other_transports); i++) {
        if (g_ascii_strcasecmp(transport, client_uri_other_transports[i]) == 0)
            return true;
    }
    return false;
}

static bool
client_uri_parse_mode(const char *value, ClientUriMode *ret_mode, GError **error)
{
    for (int i = 0; i < CLIENT_URI_MODE_LAST; i++) {
        if (g_ascii_strcasecmp(value, client_uri_mode_names[i]) == 0) {
            *ret_mode = i;
            return true;
        }
    }
    util_error_set(error, VIR_FROM_REMOTE, VIR_ERR_INVALID_ARG,
                   "invalid argument: Unknown remote mode '%s'", value);
    return false;
}

/* Split the raw (still escaped) query into parameters; read the ones meant
 * for the client into @uri and return the others, raw, joined by '&'.
 * @ret_name is the unescaped name= value, if any. */
static bool
client_uri_parse_query(ClientUri *uri, const char *query, char **ret_kept,
                       char **ret_name, GError **error)
{
    g_autoptr(GString) kept = g_string_new(NULL);
    g_autofree char *name_param = NULL;
    g_auto(GStrv) parts = NULL;

    if (!query) {
        *ret_kept = NULL;
        *ret_name = NULL;
        return true;
    }
    /* libvirt accepts both '&' and ';' between parameters. */
    parts = g_strsplit_set(query, "&;", -1);
    for (size_t i = 0; parts[i]; i++) {
        const char *part = parts[i];
        const char *eq = strchr(part, '=');
        g_autofree char *raw_name = eq ? g_strndup(part, eq - part) : g_strdup(part);
        g_autofree char *name = NULL;
        g_autofree char *value = NULL;

        if (!*part)
            continue;
        name = g_uri_unescape_string(raw_name, NULL);
        value = g_uri_unescape_string(eq ? eq + 1 : "", NULL);
        if (!name || !value) {
            util_error_set(error, VIR_FROM_REMOTE, VIR_ERR_INVALID_ARG,
                           "invalid argument: malformed URI parameter '%s'", part);
            return false;
        }
        if (!client_uri_is_local_param(name)) {
            if (kept->len)
                g_string_append_c(kept, '&');
            g_string_append(kept, part);
            continue;
        }
        if (g_ascii_strcasecmp(name, "socket") == 0) {
            g_free(uri->socket);
            uri->socket = g_steal_pointer(&value);
        } else if (g_ascii_strcasecmp(name, "mode") == 0) {
            if (!client_uri_parse_mode(value, &uri->mode, error))
                return false;
        } else if (g_ascii_strcasecmp(name, "name") == 0) {
            g_free(name_param);
            name_param = g_steal_pointer(&value);
        }
        /* The others configure transports modvirt does not have. */
    }
    *ret_kept = kept->len ? g_string_free(g_steal_pointer(&kept), FALSE) : NULL;
    *ret_name = g_steal_pointer(&name_param);
    return true;
}

ClientUri *
client_uri_parse(const char *text, GError **error)
{
    const GUriFlags flags = G_URI_FLAGS_ENCODED | G_URI_FLAGS_NON_DNS;
    g_autoptr(ClientUri) uri = g_new0(ClientUri, 1);
    g_autoptr(GUri) parsed = NULL;
    g_autoptr(GError) local = NULL;
    g_autofree char *kept_query = NULL;
    g_autofree char *name_param = NULL;
    const char *scheme = NULL;
    const char *plus = NULL;
    const char *host = NULL;
    g_autofree char *transport = NULL;

    parsed = g_uri_parse(text, flags, &local);
    if (!parsed) {
        util_error_set(error, VIR_FROM_URI, VIR_ERR_INVALID_ARG,
                       "invalid argument: Unable to parse URI '%s': %s", text, local->message);
        return NULL;
    }
    scheme = g_uri_get_scheme(parsed);
    plus = strchr(scheme, '+');
    uri->driver = plus ? g_strndup(scheme, plus - scheme) : g_strdup(scheme);
    transport = plus ? g_strdup(plus + 1) : NULL;
    host = g_uri_get_host(parsed);
    if (host && !*host)
        host = NULL;

    if (!*uri->driver) {
        util_error_set(error, VIR_FROM_REMOTE, VIR_ERR_INVALID_ARG,
                       "invalid argument: URI '%s' has no driver name before '+'", text);
        return NULL;
    }
    if (transport && g_ascii_strcasecmp(transport, "unix") != 0) {
        if (client_uri_is_other_transport(transport)) {
            util_error_set(error, VIR_FROM_REMOTE, VIR_ERR_NO_CONNECT,
                           "no connection driver available for %s: modvirt supports "
                           "only local UNIX socket connections, not the '%s' transport",
                           text, transport);
        } else {
            util_error_set(error, VIR_FROM_REMOTE, VIR_ERR_INVALID_ARG,
                           "invalid argument: transport '%s' in URI '%s' not recognised "
                           "(modvirt supports only 'unix')", transport, text);
        }
        return NULL;
    }
    if (host) {
        /* Without a transport a host means TLS to that host (libvirt). */
        util_error_set(error, VIR_FROM_REMOTE, VIR_ERR_NO_CONNECT,
                       "no connection driver available for %s: modvirt supports only "
                       "local UNIX socket connections, not remote host '%s'",
                       text, host);
        return NULL;
    }
    if (g_uri_get_port(parsed) != -1 || g_uri_get_userinfo(parsed)) {
        util_error_set(error, VIR_FROM_REMOTE, VIR_ERR_INVALID_ARG,
                       "invalid argument: a user or port in URI '%s' makes no sense "
                       "for a UNIX socket connection", text);
        return NULL;
    }

    if (!client_uri_parse_query(uri, g_uri_get_query(parsed), &kept_query, &name_param, error))
        return NULL;

    /* The URI as given, normalised the way libvirt formats it: an empty
     * authority is written as "//" (qemu:/system -> qemu:///system). */
    uri->display = g_uri_join(flags, scheme, NULL, "", -1, g_uri_get_path(parsed),
                              g_uri_get_query(parsed), g_uri_get_fragment(parsed));

    if (name_param) {
        uri->wire_name = g_steal_pointer(&name_param);
    } else if (g_ascii_strcasecmp(uri->driver, "remote") == 0) {
        /* remote:// lets the server choose. */
        uri->wire_name = g_strdup("");
    } else {
        uri->wire_name = g_uri_join(flags, uri->driver, NULL, "", -1, g_uri_get_path(parsed),
                                    kept_query, g_uri_get_fragment(parsed));
    }
    return g_steal_pointer(&uri);
}

static bool
client_uri_driver_name_ok(const char *driver)
{
    if (!*driver)
        return false;
    for (const char *p = driver; *p; p++) {
        if (!g_ascii_isalnum(*p) && *p != '_' && *p != '-')
            return false;
    }
    return true;
}

char *
client_uri_socket_path(const ClientUri *uri, bool readonly, GError **error)
{
    const char *dir = g_getenv("MODVIRT_SOCKET_DIR");
    g_autofree char *dflt_dir = NULL;
    g_autofree char *base = NULL;
    ClientUriMode mode = uri ? uri->mode : CLIENT_URI_MODE_AUTO;

    if (uri && uri->socket) {
        if (!*uri->socket) {
            util_error_set(error, VIR_FROM_REMOTE, VIR_ERR_INVALID_ARG,
                           "invalid argument: empty socket= parameter in URI '%s'",
                           uri->display);
            return NULL;
        }
        return g_strdup(uri->socket);
    }
    if (!dir || !*dir) {
        dflt_dir = g_build_filename(MODVIRT_RUNSTATEDIR, "modvirt", NULL);
        dir = dflt_dir;
    }

    switch (mode) {
    case CLIENT_URI_MODE_DIRECT:
        if (!client_uri_driver_name_ok(uri->driver)) {
            util_error_set(error, VIR_FROM_REMOTE, VIR_ERR_INVALID_ARG,
                           "invalid argument: cannot derive a daemon socket from driver '%s'",
                           uri->driver);
            return NULL;
        }
        base = g_strdup_printf("virt%sd", uri->driver);
        break;
    case CLIENT_URI_MODE_AUTO:
    case CLIENT_URI_MODE_LEGACY:
        base = g_strdup("virtproxyd");
        break;
    case CLIENT_URI_MODE_LAST:
        g_assert_not_reached();
    }
    return g_strdup_printf("%s/%s-sock%s", dir, base, readonly ? "-ro" : "");
}
