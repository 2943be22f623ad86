/*
 * bench/qmp-tap.c: an LD_PRELOAD library for the block-job benchmark
 * (bench/bench_blockjobs.py).  NOT part of modvirt; run.sh builds it into
 * its temporary directory and preloads it into virtqemud and libvirtd.
 *
 * It copies what a daemon reads from and writes to its QEMU monitor
 * sockets into a log file, each chunk headed by the wall-clock time the
 * call returned, so that the benchmark learns, for every QMP event the
 * daemon received, QEMU's own "timestamp" (when QEMU emitted it) and when
 * the daemon got it, and when the daemon sent each command -- without any
 * change to the daemon.  A descriptor counts as a monitor once a chunk
 * read() from it holds QMP's greeting, a reply or an event (until it is
 * closed); from then on every chunk read from or written to it is logged
 * (an event split over two reads is then still whole in the log).  Cost
 * per call: one table lookup; a memmem() over reads not yet known; one
 * writev() per monitor chunk.
 *
 * Environment: QMP_TAP_LOG=FILE (nothing happens without it);
 * QMP_TAP_ONLY=NAME: only in a process whose executable's base name is
 * NAME (the wrappers that start the daemon, and QEMU, stay untouched).
 *
 * Log format, per chunk: "@SECONDS.MICROSECONDS PID FD LENGTH DIR\n" (DIR:
 * R read, W written), then LENGTH bytes, then "\n".
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define TAP_MAX_FD 4096

static ssize_t (*tap_real_read)(int, void *, size_t);
static ssize_t (*tap_real_read_chk)(int, void *, size_t, size_t);
static ssize_t (*tap_real_write)(int, const void *, size_t);
static ssize_t (*tap_real_send)(int, const void *, size_t, int);
static ssize_t (*tap_real_sendmsg)(int, const struct msghdr *, int);
static int (*tap_real_close)(int);
static int tap_fd = -1;
static unsigned char tap_monitor[TAP_MAX_FD];

/* Called by every wrapper: other libraries' constructors may read before
 * ours has run. */
static void
tap_resolve(void)
{
    if (!tap_real_read)
        tap_real_read = (ssize_t (*)(int, void *, size_t))dlsym(RTLD_NEXT, "read");
    if (!tap_real_read_chk)
        tap_real_read_chk = (ssize_t (*)(int, void *, size_t, size_t))dlsym(RTLD_NEXT,
                                                                           "__read_chk");
    if (!tap_real_write)
        tap_real_write = (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
    if (!tap_real_send)
        tap_real_send = (ssize_t (*)(int, const void *, size_t, int))dlsym(RTLD_NEXT, "send");
    if (!tap_real_sendmsg)
        tap_real_sendmsg = (ssize_t (*)(int, const struct msghdr *, int))dlsym(RTLD_NEXT,
                                                                              "sendmsg");
    if (!tap_real_close)
        tap_real_close = (int (*)(int))dlsym(RTLD_NEXT, "close");
}

static void __attribute__((constructor))
tap_init(void)
{
    const char *log = getenv("QMP_TAP_LOG");
    const char *only = getenv("QMP_TAP_ONLY");

    tap_resolve();
    if (!log || !*log)
        return;
    if (only && *only) {
        char exe[4096];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        const char *base;

        if (n <= 0)
            return;
        exe[n] = '\0';
        base = strrchr(exe, '/');
        base = base ? base + 1 : exe;
        if (strcmp(base, only) != 0)
            return;
    }
    tap_fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}

static int
tap_is_qmp(const char *buf, size_t n)
{
    return memmem(buf, n, "{\"QMP\"", 6) || memmem(buf, n, "{\"return\"", 9) ||
           memmem(buf, n, "\"timestamp\": {\"seconds\"", 24);
}

/* Logs @n bytes of @buf read from (@dir 'R') or written to ('W') @fd if it
 * is a monitor (a read may make it one).  errno is kept. */
static void
tap_record(int fd, const void *buf, ssize_t n, char dir)
{
    struct timespec ts;
    char head[96];
    struct iovec iov[3];
    int saved = errno;
    int h;

    if (tap_fd < 0 || n <= 0 || fd < 0 || fd >= TAP_MAX_FD)
        return;
    if (!tap_monitor[fd]) {
        if (dir != 'R' || !tap_is_qmp(buf, (size_t)n))
            return;
        tap_monitor[fd] = 1;
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    h = snprintf(head, sizeof(head), "@%lld.%06ld %d %d %zd %c\n", (long long)ts.tv_sec,
                 ts.tv_nsec / 1000, (int)getpid(), fd, n, dir);
    iov[0].iov_base = head;
    iov[0].iov_len = (size_t)h;
    iov[1].iov_base = (void *)buf;
    iov[1].iov_len = (size_t)n;
    iov[2].iov_base = "\n";
    iov[2].iov_len = 1;
    if (writev(tap_fd, iov, 3) < 0) {
        /* nothing to do: the benchmark reports missing events */
    }
    errno = saved;
}

/* The body of the plain wrappers: the real call, then the record. */
#define TAP_WRAP(real, fd, buf, dir, ...) \
    do { \
        ssize_t n_; \
        tap_resolve(); \
        n_ = real(fd, buf, __VA_ARGS__); \
        tap_record(fd, buf, n_, dir); \
        return n_; \
    } while (0)

ssize_t
read(int fd, void *buf, size_t count)
{
    TAP_WRAP(tap_real_read, fd, buf, 'R', count);
}

ssize_t
__read_chk(int fd, void *buf, size_t count, size_t buflen)
{
    TAP_WRAP(tap_real_read_chk, fd, buf, 'R', count, buflen);
}

ssize_t
write(int fd, const void *buf, size_t count)
{
    TAP_WRAP(tap_real_write, fd, buf, 'W', count);
}

ssize_t
send(int fd, const void *buf, size_t len, int flags)
{
    TAP_WRAP(tap_real_send, fd, buf, 'W', len, flags);
}

ssize_t
sendmsg(int fd, const struct msghdr *msg, int flags)
{
    ssize_t n;
    ssize_t left;

    tap_resolve();
    n = tap_real_sendmsg(fd, msg, flags);
    /* the bytes sent, iovec by iovec (a QMP command fits one) */
    left = n;
    for (size_t i = 0; i < msg->msg_iovlen && left > 0; i++) {
        ssize_t k = (ssize_t)msg->msg_iov[i].iov_len < left ? (ssize_t)msg->msg_iov[i].iov_len
                                                             : left;

        tap_record(fd, msg->msg_iov[i].iov_base, k, 'W');
        left -= k;
    }
    return n;
}

int
close(int fd)
{
    tap_resolve();
    if (fd >= 0 && fd < TAP_MAX_FD)
        tap_monitor[fd] = 0;
    return tap_real_close(fd);
}
