/*
 * client-uri.h: connection URIs as the libvirt 9.0 remote driver reads them.
 *
 *   driver[+transport]://[host]/path[?param=value&...]
 *
 * modvirt connects only through local UNIX sockets: no transport, or the
 * "unix" transport, and no host.  The URI decides the socket (socket=,
 * mode=) and the name sent in CONNECT_OPEN (the URI without the transport
 * and without the parameters only the client reads).
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

typedef struct _ClientUri ClientUri;

/* Parse @uri; a URI modvirt cannot use (other transports, remote hosts,
 * malformed text, unknown mode=) is an error with a libvirt code. */
ClientUri *client_uri_parse(const char *uri, GError **error);
void client_uri_free(ClientUri *uri);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ClientUri, client_uri_free)

/* The URI as virConnectGetURI reports it: the user's URI, re-formatted. */
const char *client_uri_display(const ClientUri *uri);

/* The name sent in CONNECT_OPEN ("" for the remote:// schemes). */
const char *client_uri_wire_name(const ClientUri *uri);

/* The driver part of the scheme ("qemu" for qemu+unix://). */
const char *client_uri_driver(const ClientUri *uri);

/* The UNIX socket to connect to for @uri (NULL: no URI at all).
 * socket= wins; otherwise $MODVIRT_SOCKET_DIR (default /run/modvirt)
 * holds virtproxyd-sock, or virt<driver>d-sock with mode=direct, with the
 * "-ro" suffix for read-only connections. */
char *client_uri_socket_path(const ClientUri *uri, bool readonly, GError **error);
