/*
 * daemon-sd.c: systemd's socket-activation and notification protocol,
 * written out (see daemon-sd.h).  Linking libsystemd for these three
 * calls cost each daemon about 1 MiB of resident memory (libsystemd and
 * its compression and crypto libraries).
 */
#define G_LOG_DOMAIN "modvirt.daemon"

#include "daemon-sd.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "util-error.h"

/* A non-negative decimal integer, nothing else. */
static bool
daemon_sd_parse_uint(const char *s, guint64 max, guint64 *ret)
{
    guint64 v = 0;

    if (!s || !*s)
        return false;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        v = v * 10 + (guint64)(*p - '0');
        if (v > max)
            return false;
    }
    *ret = v;
    return true;
}

int
daemon_sd_parse_listen(const char *listen_pid, const char *listen_fds,
                       const char *listen_fdnames, pid_t self,
                       char ***ret_names, GError **error)
{
    g_auto(GStrv) names = NULL;
    guint64 pid = 0;
    guint64 n = 0;

    if (ret_names)
        *ret_names = NULL;
    if (!listen_pid || !listen_fds)
        return 0;
    if (!daemon_sd_parse_uint(listen_pid, G_MAXINT32, &pid) || pid == 0) {
        util_error_set(error, VIR_FROM_RPC, VIR_ERR_INTERNAL_ERROR,
                       "invalid LISTEN_PID '%s'", listen_pid);
        return -1;
    }
    if ((pid_t)pid != self)
        return 0;    /* meant for another process (we were forked) */
    if (!daemon_sd_parse_uint(listen_fds, INT_MAX - DAEMON_SD_LISTEN_FDS_START, &n)) {
        util_error_set(error, VIR_FROM_RPC, VIR_ERR_INTERNAL_ERROR,
                       "invalid LISTEN_FDS '%s'", listen_fds);
        return -1;
    }
    if (listen_fdnames) {
        names = g_strsplit(listen_fdnames, ":", -1);
        if (n == 0 && !*listen_fdnames)
            g_clear_pointer(&names, g_strfreev);
        if (g_strv_length(names) != n) {
            util_error_set(error, VIR_FROM_RPC, VIR_ERR_INTERNAL_ERROR,
                           "LISTEN_FDNAMES '%s' names %u sockets, LISTEN_FDS says %u",
                           listen_fdnames, names ? g_strv_length(names) : 0, (unsigned)n);
            return -1;
        }
    }
    if (ret_names)
        *ret_names = g_steal_pointer(&names);
    return (int)n;
}

int
daemon_sd_listen_fds(char ***ret_names, GError **error)
{
    int n = daemon_sd_parse_listen(g_getenv("LISTEN_PID"), g_getenv("LISTEN_FDS"),
                                   g_getenv("LISTEN_FDNAMES"), getpid(), ret_names, error);

    g_unsetenv("LISTEN_PID");
    g_unsetenv("LISTEN_FDS");
    g_unsetenv("LISTEN_FDNAMES");
    for (int fd = DAEMON_SD_LISTEN_FDS_START; n > 0 && fd < DAEMON_SD_LISTEN_FDS_START + n; fd++) {
        int flags = fcntl(fd, F_GETFD);

        if (flags < 0) {
            util_error_set_errno(error, VIR_FROM_RPC, errno,
                                 "socket %d passed by systemd is not open", fd);
            if (ret_names)
                g_clear_pointer(ret_names, g_strfreev);
            return -1;
        }
        fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
    }
    return n;
}

bool
daemon_sd_is_unix_stream_listener(int fd)
{
    struct stat st;
    struct sockaddr_storage sa;
    socklen_t salen = sizeof(sa);
    int val = 0;
    socklen_t len = sizeof(val);

    if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode))
        return false;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &val, &len) < 0 || val != SOCK_STREAM)
        return false;
    len = sizeof(val);
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &val, &len) < 0 || !val)
        return false;
    if (getsockname(fd, (struct sockaddr *)&sa, &salen) < 0 || sa.ss_family != AF_UNIX)
        return false;
    return true;
}

bool
daemon_sd_notify_to(const char *address, const char *state, GError **error)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    size_t alen = strlen(address);
    socklen_t slen;
    g_autofd_mv int fd = -1;
    ssize_t n;

    if ((address[0] != '/' && address[0] != '@') || alen < 2 || alen >= sizeof(addr.sun_path)) {
        util_error_set(error, VIR_FROM_NONE, VIR_ERR_INTERNAL_ERROR,
                       "unusable notification socket address '%s'", address);
        return false;
    }
    memcpy(addr.sun_path, address, alen);
    if (address[0] == '@')
        addr.sun_path[0] = '\0';    /* abstract namespace: not NUL-terminated */
    slen = offsetof(struct sockaddr_un, sun_path) + alen + (address[0] == '/' ? 1 : 0);
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        util_error_set_errno(error, VIR_FROM_NONE, errno, "cannot create a notification socket");
        return false;
    }
    do {
        n = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&addr, slen);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        util_error_set_errno(error, VIR_FROM_NONE, errno,
                             "cannot notify '%s'", address);
        return false;
    }
    return true;
}

void
daemon_sd_notify(const char *state)
{
    const char *address = g_getenv("NOTIFY_SOCKET");
    g_autoptr(GError) error = NULL;

    if (!address || !*address)
        return;
    if (!daemon_sd_notify_to(address, state, &error))
        g_debug("%s", error->message);
}
