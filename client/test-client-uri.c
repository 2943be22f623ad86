/*
 * test-client-uri.c: how connection URIs become a socket path and the name
 * sent in CONNECT_OPEN (libvirt 9.0 remote driver rules, unix only).
 */
#include "client-uri.h"
#include "util-error.h"

typedef struct {
    const char *uri;
    const char *display;
    const char *wire;
    const char *socket;      /* read-write */
    const char *socket_ro;   /* read-only */
} UriCase;

static const UriCase uri_cases[] = {
    { "qemu:///system", "qemu:///system", "qemu:///system",
      "/srv/s/virtproxyd-sock", "/srv/s/virtproxyd-sock-ro" },
    { "qemu+unix:///system?socket=/tmp/x/sock", "qemu+unix:///system?socket=/tmp/x/sock",
      "qemu:///system", "/tmp/x/sock", "/tmp/x/sock" },
    { "qemu:/system", "qemu:///system", "qemu:///system",
      "/srv/s/virtproxyd-sock", "/srv/s/virtproxyd-sock-ro" },
    { "lxc:///", "lxc:///", "lxc:///", "/srv/s/virtproxyd-sock", "/srv/s/virtproxyd-sock-ro" },
    { "test:///default", "test:///default", "test:///default",
      "/srv/s/virtproxyd-sock", "/srv/s/virtproxyd-sock-ro" },
    /* client-only parameters are stripped, the others kept in order */
    { "qemu+unix:///system?x=1&socket=/a&mode=legacy&y=two%20words&no_tty=1",
      "qemu+unix:///system?x=1&socket=/a&mode=legacy&y=two%20words&no_tty=1",
      "qemu:///system?x=1&y=two%20words", "/a", "/a" },
    { "qemu:///system?SOCKET=/b;keep=1", "qemu:///system?SOCKET=/b;keep=1",
      "qemu:///system?keep=1", "/b", "/b" },
    /* socket= is unescaped */
    { "qemu:///system?socket=%2Ftmp%2Fa%20b", "qemu:///system?socket=%2Ftmp%2Fa%20b",
      "qemu:///system", "/tmp/a b", "/tmp/a b" },
    /* name= replaces the whole name */
    { "qemu+unix:///system?name=qemu:///session", "qemu+unix:///system?name=qemu:///session",
      "qemu:///session", "/srv/s/virtproxyd-sock", "/srv/s/virtproxyd-sock-ro" },
    /* remote:// lets the server choose */
    { "remote:///", "remote:///", "", "/srv/s/virtproxyd-sock", "/srv/s/virtproxyd-sock-ro" },
    { "remote+unix:///system", "remote+unix:///system", "",
      "/srv/s/virtproxyd-sock", "/srv/s/virtproxyd-sock-ro" },
    /* mode=direct talks to the driver's own daemon */
    { "qemu:///system?mode=direct", "qemu:///system?mode=direct", "qemu:///system",
      "/srv/s/virtqemud-sock", "/srv/s/virtqemud-sock-ro" },
    { "network:///system?mode=auto", "network:///system?mode=auto", "network:///system",
      "/srv/s/virtproxyd-sock", "/srv/s/virtproxyd-sock-ro" },
};

static void
test_uri_good(gconstpointer data)
{
    const UriCase *c = data;
    g_autoptr(GError) error = NULL;
    g_autoptr(ClientUri) uri = client_uri_parse(c->uri, &error);
    g_autofree char *rw = NULL;
    g_autofree char *ro = NULL;

    g_assert_no_error(error);
    g_assert_nonnull(uri);
    g_assert_cmpstr(client_uri_display(uri), ==, c->display);
    g_assert_cmpstr(client_uri_wire_name(uri), ==, c->wire);
    rw = client_uri_socket_path(uri, false, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(rw, ==, c->socket);
    ro = client_uri_socket_path(uri, true, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(ro, ==, c->socket_ro);
}

typedef struct {
    const char *uri;
    int code;
    const char *substring;   /* the message must say this */
} UriBadCase;

static const UriBadCase uri_bad_cases[] = {
    { "qemu+ssh://host/system", VIR_ERR_NO_CONNECT, "'ssh' transport" },
    { "qemu+tls:///system", VIR_ERR_NO_CONNECT, "'tls' transport" },
    { "qemu://host/system", VIR_ERR_NO_CONNECT, "remote host 'host'" },
    { "qemu+unix://host/system", VIR_ERR_NO_CONNECT, "remote host 'host'" },
    { "foo+bar:///system", VIR_ERR_INVALID_ARG, "transport 'bar'" },
    { "+unix:///system", VIR_ERR_INVALID_ARG, "Unable to parse URI" },
    { "qemu:///system?mode=bogus", VIR_ERR_INVALID_ARG, "Unknown remote mode 'bogus'" },
    { "qemu", VIR_ERR_INVALID_ARG, "Unable to parse URI 'qemu'" },
    { "qemu+unix://:5/system", VIR_ERR_INVALID_ARG, "port" },
};

static void
test_uri_bad(gconstpointer data)
{
    const UriBadCase *c = data;
    g_autoptr(GError) error = NULL;
    g_autoptr(ClientUri) uri = client_uri_parse(c->uri, &error);

    g_assert_null(uri);
    g_assert_nonnull(error);
    g_assert_cmpint(util_error_code(error), ==, c->code);
    if (!strstr(error->message, c->substring))
        g_error("message '%s' lacks '%s'", error->message, c->substring);
}

static void
test_uri_no_uri(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *rw = client_uri_socket_path(NULL, false, &error);
    g_autofree char *ro = client_uri_socket_path(NULL, true, &error);

    g_assert_no_error(error);
    g_assert_cmpstr(rw, ==, "/srv/s/virtproxyd-sock");
    g_assert_cmpstr(ro, ==, "/srv/s/virtproxyd-sock-ro");
}

static void
test_uri_default_dir(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(ClientUri) uri = client_uri_parse("qemu:///system", &error);
    g_autofree char *path = NULL;

    g_unsetenv("MODVIRT_SOCKET_DIR");
    path = client_uri_socket_path(uri, false, &error);
    g_setenv("MODVIRT_SOCKET_DIR", "/srv/s", TRUE);
    g_assert_no_error(error);
    g_assert_cmpstr(path, ==, "/run/modvirt/virtproxyd-sock");
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_setenv("MODVIRT_SOCKET_DIR", "/srv/s", TRUE);

    for (size_t i = 0; i < G_N_ELEMENTS(uri_cases); i++) {
        g_autofree char *name = g_strdup_printf("/client/uri/good/%zu", i);
        g_test_add_data_func(name, &uri_cases[i], test_uri_good);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(uri_bad_cases); i++) {
        g_autofree char *name = g_strdup_printf("/client/uri/bad/%zu", i);
        g_test_add_data_func(name, &uri_bad_cases[i], test_uri_bad);
    }
    g_test_add_func("/client/uri/none", test_uri_no_uri);
    g_test_add_func("/client/uri/default-dir", test_uri_default_dir);
    return g_test_run();
}
