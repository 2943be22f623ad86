/*
 * proxy.c: virtproxyd, the one endpoint a client needs.
 *
 * The proxy answers what a client asks before it opens a connection
 * (authentication list, the keepalive feature), then, on CONNECT_OPEN,
 * picks the daemon that serves the URI and hands it the client's socket
 * (daemon_client_hand_off: in embedded mode the daemon is started first if
 * it is not running).  From then on the client talks to that daemon
 * directly, which forwards storage and network calls to virtstoraged and
 * virtnetworkd itself: no call crosses the proxy.  A daemon that cannot
 * be reached is reported to the client by name, and the client may try
 * again.
 */
#define G_LOG_DOMAIN "virtproxyd"

#include "daemon.h"
#include "util-error.h"

typedef struct {
    const char *scheme;
    const char *daemon;
} ProxyRoute;

static const ProxyRoute proxy_routes[] = {
    { "qemu", "virtqemud" },
    { "xen", "virtxend" },
    { "lxc", "virtlxcd" },
    { "storage", "virtstoraged" },
    { "network", "virtnetworkd" },
};

/* The daemon serving @name; an empty name is the default hypervisor's,
 * which opens its own default URI (the client learns it with GET_URI). */
static const char *
proxy_route(const char *name)
{
    g_autofree char *scheme = NULL;

    if (!name || !*name)
        return "virtqemud";
    scheme = g_uri_parse_scheme(name);
    for (size_t i = 0; scheme && i < G_N_ELEMENTS(proxy_routes); i++) {
        if (g_ascii_strcasecmp(scheme, proxy_routes[i].scheme) == 0)
            return proxy_routes[i].daemon;
    }
    return NULL;
}

static bool
proxy_raw_message(DaemonClient *client, const RpcHeader *hdr, guint8 *msg, size_t len)
{
    RemoteConnectOpenArgs args = { 0 };
    g_autoptr(GError) error = NULL;
    const char *daemon;

    if (hdr->prog != REMOTE_PROGRAM || hdr->proc != REMOTE_PROC_CONNECT_OPEN ||
        hdr->type != RPC_TYPE_CALL || hdr->status != RPC_STATUS_OK)
        return false;    /* the shared dispatcher answers everything else */
    if (!rpc_payload_decode(msg + RPC_MIN_LEN, len - RPC_MIN_LEN,
                            (RpcDecodeFunc)xdr_dec_remote_connect_open_args,
                            (RpcFreeFunc)xdr_free_remote_connect_open_args, &args, &error)) {
        daemon_client_reply_error(client, hdr, error);
        g_free(msg);
        return true;
    }
    daemon = proxy_route(args.name);
    if (!daemon) {
        util_error_set(&error, VIR_FROM_RPC, VIR_ERR_NO_CONNECT,
                       "no connection driver available for %s", args.name);
        daemon_client_reply_error(client, hdr, error);
        g_free(msg);
    } else {
        g_debug("client opens %s: handing it to %s",
                args.name && *args.name ? args.name : "the default URI", daemon);
        daemon_client_hand_off(client, daemon, msg, len);
    }
    xdr_free_remote_connect_open_args(&args);
    return true;
}

static const int proxy_caps[] = { -1 };

static const DaemonDriver proxy_driver = {
    .name = "virtproxyd",
    .description = "modvirt proxy: the one endpoint for clients",
    .uri_schemes = NULL,
    .ops = NULL,
    .keep_caps = proxy_caps,
    .raw_message = proxy_raw_message,
    .hands_off_clients = true,
};

int
main(int argc, char **argv)
{
    return daemon_main(&proxy_driver, argc, argv);
}
