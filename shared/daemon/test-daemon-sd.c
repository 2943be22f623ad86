/*
 * test-daemon-sd.c: the socket-activation and notification protocol of
 * daemon-sd.c, checked against what systemd sends and expects.
 */
#define G_LOG_DOMAIN "modvirt.test.sd"

#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "daemon-sd.h"
#include "util-error.h"

static void
test_listen_absent(void)
{
    g_auto(GStrv) names = NULL;
    g_autoptr(GError) error = NULL;

    g_assert_cmpint(daemon_sd_parse_listen(NULL, NULL, NULL, 42, &names, &error), ==, 0);
    g_assert_no_error(error);
    g_assert_null(names);
    /* LISTEN_FDS without LISTEN_PID is not for us either */
    g_assert_cmpint(daemon_sd_parse_listen(NULL, "3", NULL, 42, &names, &error), ==, 0);
    g_assert_no_error(error);
}

static void
test_listen_other_pid(void)
{
    g_auto(GStrv) names = NULL;
    g_autoptr(GError) error = NULL;

    /* the variables were meant for the process that forked us */
    g_assert_cmpint(daemon_sd_parse_listen("41", "2", "a.socket:b.socket", 42, &names, &error),
                    ==, 0);
    g_assert_no_error(error);
    g_assert_null(names);
}

static void
test_listen_names(void)
{
    g_auto(GStrv) names = NULL;
    g_autoptr(GError) error = NULL;

    g_assert_cmpint(daemon_sd_parse_listen("42", "3",
                                           "virtqemud.socket:virtqemud-ro.socket:virtqemud-admin.socket",
                                           42, &names, &error), ==, 3);
    g_assert_no_error(error);
    g_assert_cmpuint(g_strv_length(names), ==, 3);
    g_assert_cmpstr(names[0], ==, "virtqemud.socket");
    g_assert_cmpstr(names[1], ==, "virtqemud-ro.socket");
    g_assert_cmpstr(names[2], ==, "virtqemud-admin.socket");
}

static void
test_listen_no_names(void)
{
    g_auto(GStrv) names = NULL;
    g_autoptr(GError) error = NULL;

    /* without LISTEN_FDNAMES the count is still returned, with no names */
    g_assert_cmpint(daemon_sd_parse_listen("42", "1", NULL, 42, &names, &error), ==, 1);
    g_assert_no_error(error);
    g_assert_null(names);
}

static void
test_listen_bad(void)
{
    static const char *const cases[][3] = {
        { "x42", "1", NULL },
        { "0", "1", NULL },
        { "", "1", NULL },
        { "42", "-1", NULL },
        { "42", "1x", NULL },
        { "42", "99999999999", NULL },
        { "42", "2", "only-one.socket" },
        { "42", "1", "one.socket:two.socket" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_auto(GStrv) names = NULL;
        g_autoptr(GError) error = NULL;

        g_test_message("LISTEN_PID=%s LISTEN_FDS=%s LISTEN_FDNAMES=%s", cases[i][0],
                       cases[i][1], cases[i][2] ? cases[i][2] : "(unset)");
        g_assert_cmpint(daemon_sd_parse_listen(cases[i][0], cases[i][1], cases[i][2], 42,
                                               &names, &error), ==, -1);
        g_assert_nonnull(error);
        g_assert_cmpint(util_error_code(error), ==, VIR_ERR_INTERNAL_ERROR);
        g_assert_null(names);
    }
}

static void
test_listen_env(void)
{
    g_auto(GStrv) names = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *pid = g_strdup_printf("%d", (int)getpid());
    int fds[2];
    int n;

    /* fd 3 must be open for the call to accept it: put a socket there */
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), ==, 0);
    if (fds[0] != DAEMON_SD_LISTEN_FDS_START) {
        g_assert_cmpint(dup2(fds[0], DAEMON_SD_LISTEN_FDS_START), ==, DAEMON_SD_LISTEN_FDS_START);
        close(fds[0]);
    }
    g_setenv("LISTEN_PID", pid, TRUE);
    g_setenv("LISTEN_FDS", "1", TRUE);
    g_setenv("LISTEN_FDNAMES", "virtproxyd.socket", TRUE);
    n = daemon_sd_listen_fds(&names, &error);
    g_assert_no_error(error);
    g_assert_cmpint(n, ==, 1);
    g_assert_cmpstr(names[0], ==, "virtproxyd.socket");
    /* cleared, so that the daemons the proxy starts do not take them */
    g_assert_null(g_getenv("LISTEN_PID"));
    g_assert_null(g_getenv("LISTEN_FDS"));
    g_assert_null(g_getenv("LISTEN_FDNAMES"));
    g_assert_true(fcntl(DAEMON_SD_LISTEN_FDS_START, F_GETFD) & FD_CLOEXEC);
    close(DAEMON_SD_LISTEN_FDS_START);
    close(fds[1]);
}

static int
test_bind(const char *path, int type, bool do_listen)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);

    g_assert_cmpint(fd, >=, 0);
    g_strlcpy(addr.sun_path, path, sizeof(addr.sun_path));
    g_assert_cmpint(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), ==, 0);
    if (do_listen)
        g_assert_cmpint(listen(fd, 1), ==, 0);
    return fd;
}

static void
test_is_listener(void)
{
    g_autofree char *dir = g_dir_make_tmp("mv-sd-XXXXXX", NULL);
    g_autofree char *p1 = g_build_filename(dir, "listen", NULL);
    g_autofree char *p2 = g_build_filename(dir, "bound", NULL);
    g_autofree char *p3 = g_build_filename(dir, "dgram", NULL);
    int lfd = test_bind(p1, SOCK_STREAM, true);
    int bfd = test_bind(p2, SOCK_STREAM, false);
    int dfd = test_bind(p3, SOCK_DGRAM, false);
    int tcp = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int pfd[2];

    g_assert_cmpint(pipe(pfd), ==, 0);
    g_assert_cmpint(listen(tcp, 1), ==, 0);
    g_assert_true(daemon_sd_is_unix_stream_listener(lfd));
    g_assert_false(daemon_sd_is_unix_stream_listener(bfd));   /* not listening */
    g_assert_false(daemon_sd_is_unix_stream_listener(dfd));   /* datagram */
    g_assert_false(daemon_sd_is_unix_stream_listener(tcp));   /* not AF_UNIX */
    g_assert_false(daemon_sd_is_unix_stream_listener(pfd[0]));  /* not a socket */
    g_assert_false(daemon_sd_is_unix_stream_listener(999));     /* not open */
    close(lfd);
    close(bfd);
    close(dfd);
    close(tcp);
    close(pfd[0]);
    close(pfd[1]);
    g_unlink(p1);
    g_unlink(p2);
    g_unlink(p3);
    g_rmdir(dir);
}

static char *
test_recv_text(int fd)
{
    char buf[256];
    ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);

    g_assert_cmpint(n, >, 0);
    buf[n] = '\0';
    return g_strdup(buf);
}

static void
test_notify_path(void)
{
    g_autofree char *dir = g_dir_make_tmp("mv-sd-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "notify", NULL);
    g_autofree char *got = NULL;
    g_autofree char *got2 = NULL;
    g_autoptr(GError) error = NULL;
    int fd = test_bind(path, SOCK_DGRAM, false);

    g_assert_true(daemon_sd_notify_to(path, "READY=1", &error));
    g_assert_no_error(error);
    got = test_recv_text(fd);
    g_assert_cmpstr(got, ==, "READY=1");

    /* and through the environment, as systemd sets it */
    g_setenv("NOTIFY_SOCKET", path, TRUE);
    daemon_sd_notify("STOPPING=1");
    g_unsetenv("NOTIFY_SOCKET");
    got2 = test_recv_text(fd);
    g_assert_cmpstr(got2, ==, "STOPPING=1");
    close(fd);
    g_unlink(path);
    g_rmdir(dir);
}

static void
test_notify_abstract(void)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    g_autofree char *name = g_strdup_printf("modvirt-test-sd-%d", (int)getpid());
    g_autofree char *address = g_strconcat("@", name, NULL);
    g_autofree char *got = NULL;
    g_autoptr(GError) error = NULL;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    memcpy(addr.sun_path + 1, name, strlen(name));
    g_assert_cmpint(bind(fd, (struct sockaddr *)&addr,
                         offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name)), ==, 0);
    g_assert_true(daemon_sd_notify_to(address, "READY=1", &error));
    g_assert_no_error(error);
    got = test_recv_text(fd);
    g_assert_cmpstr(got, ==, "READY=1");
    close(fd);
}

static void
test_notify_bad(void)
{
    g_autoptr(GError) e1 = NULL;
    g_autoptr(GError) e2 = NULL;

    g_assert_false(daemon_sd_notify_to("relative/path", "READY=1", &e1));
    g_assert_nonnull(e1);
    /* nobody listening there */
    g_assert_false(daemon_sd_notify_to("/nonexistent/modvirt-notify", "READY=1", &e2));
    g_assert_nonnull(e2);
    g_assert_nonnull(strstr(e2->message, "/nonexistent/modvirt-notify"));
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/sd/listen/absent", test_listen_absent);
    g_test_add_func("/sd/listen/other-pid", test_listen_other_pid);
    g_test_add_func("/sd/listen/names", test_listen_names);
    g_test_add_func("/sd/listen/no-names", test_listen_no_names);
    g_test_add_func("/sd/listen/bad", test_listen_bad);
    g_test_add_func("/sd/listen/env", test_listen_env);
    g_test_add_func("/sd/is-listener", test_is_listener);
    g_test_add_func("/sd/notify/path", test_notify_path);
    g_test_add_func("/sd/notify/abstract", test_notify_abstract);
    g_test_add_func("/sd/notify/bad", test_notify_bad);
    return g_test_run();
}
