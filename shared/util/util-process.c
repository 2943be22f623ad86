/*
 * util-process.c: detached helper processes and watching processes that
 * are not our children.
 *
 * Spawning forks twice: the intermediate child starts a new session, forks
 * the real child and exits at once, so the grandchild is reparented to the
 * system's reaper and lives on when the daemon exits or restarts.  A
 * close-on-exec pipe carries either the grandchild's pid followed by
 * end-of-file (exec succeeded) or the step and errno that failed.  Between
 * fork and exec only async-signal-safe calls are made, plus libcap-ng on
 * memory it set up before the fork.
 */
#define G_LOG_DOMAIN "modvirt.util"

#include "util-process.h"

#include <cap-ng.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util-error.h"

/* What the pipe carries back: which step failed and its errno. */
typedef struct {
    gint32 step;
    gint32 err;
} SpawnFailure;

enum {
    SPAWN_STEP_SETSID = 1,
    SPAWN_STEP_FORK,
    SPAWN_STEP_FDS,
    SPAWN_STEP_CWD,
    SPAWN_STEP_GID,
    SPAWN_STEP_UID,
    SPAWN_STEP_CAPS,
    SPAWN_STEP_NNP,
    SPAWN_STEP_EXEC,
};

static const char *
spawn_step_name(int step)
{
    switch (step) {
    case SPAWN_STEP_SETSID: return "setsid";
    case SPAWN_STEP_FORK: return "fork";
    case SPAWN_STEP_FDS: return "set up file descriptors";
    case SPAWN_STEP_CWD: return "change directory";
    case SPAWN_STEP_GID: return "set group";
    case SPAWN_STEP_UID: return "set user";
    case SPAWN_STEP_CAPS: return "clear capabilities";
    case SPAWN_STEP_NNP: return "set no_new_privs";
    case SPAWN_STEP_EXEC: return "execute";
    }
    return "start";
}

static void G_GNUC_NORETURN
spawn_fail(int pipe_fd, int step)
{
    SpawnFailure f = { step, errno };
    ssize_t n G_GNUC_UNUSED = write(pipe_fd, &f, sizeof(f));
    _exit(127);
}

static bool
spawn_is_kept(const UtilSpawnOptions *opts, int fd)
{
    for (size_t i = 0; i < opts->n_keep_fds; i++)
        if (opts->keep_fds[i] == fd)
            return true;
    return false;
}

/* In the grandchild: everything up to exec. */
static void G_GNUC_NORETURN
spawn_exec(const char *const *argv, const char *const *envp, const UtilSpawnOptions *opts,
           int pipe_fd, int null_fd, long max_fd)
{
    int out = opts->stdout_fd >= 0 ? opts->stdout_fd : null_fd;

    if (dup2(null_fd, STDIN_FILENO) < 0 || dup2(out, STDOUT_FILENO) < 0 ||
        dup2(out, STDERR_FILENO) < 0)
        spawn_fail(pipe_fd, SPAWN_STEP_FDS);
    for (int fd = STDERR_FILENO + 1; fd < max_fd; fd++) {
        if (fd == pipe_fd)
            continue;
        if (spawn_is_kept(opts, fd)) {
            int flags = fcntl(fd, F_GETFD);
            if (flags >= 0)
                fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC);
            continue;
        }
        close(fd);
    }
    umask(opts->umask ? opts->umask : 0007);
    if (chdir(opts->cwd ? opts->cwd : "/") < 0)
        spawn_fail(pipe_fd, SPAWN_STEP_CWD);
    if (opts->gid != (gid_t)-1) {
        if (setgroups(opts->n_groups, opts->groups) < 0)
            spawn_fail(pipe_fd, SPAWN_STEP_GID);
        if (setresgid(opts->gid, opts->gid, opts->gid) < 0)
            spawn_fail(pipe_fd, SPAWN_STEP_GID);
    }
    if (opts->uid != (uid_t)-1 && setresuid(opts->uid, opts->uid, opts->uid) < 0)
        spawn_fail(pipe_fd, SPAWN_STEP_UID);
    if (opts->clear_caps) {
        /* the bounding set first: shrinking it needs CAP_SETPCAP, which
         * clearing our own sets takes away; without CAP_SETPCAP it cannot
         * shrink, and no_new_privs keeps exec from granting any of it */
        capng_clear(CAPNG_SELECT_ALL);
        (void)capng_apply(CAPNG_SELECT_BOUNDS);
        if (capng_apply(CAPNG_SELECT_CAPS) < 0)
            spawn_fail(pipe_fd, SPAWN_STEP_CAPS);
        (void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    }
    if (opts->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        spawn_fail(pipe_fd, SPAWN_STEP_NNP);
    if (envp)
        execve(argv[0], (char *const *)argv, (char *const *)envp);
    else
        execv(argv[0], (char *const *)argv);
    spawn_fail(pipe_fd, SPAWN_STEP_EXEC);
}

bool
util_process_spawn_detached(const char *const *argv, const char *const *envp,
                            const UtilSpawnOptions *opts, int vir_domain,
                            pid_t *ret_pid, GError **error)
{
    int fds[2] = { -1, -1 };
    g_autofd_mv int null_fd = -1;
    long max_fd = sysconf(_SC_OPEN_MAX);
    pid_t child;
    pid_t grandchild = -1;
    SpawnFailure failure = { 0, 0 };
    ssize_t n;
    int status = 0;

    if (max_fd < 0 || max_fd > 65536)
        max_fd = 65536;
    null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null_fd < 0) {
        util_error_set_errno(error, vir_domain, errno, "cannot open /dev/null");
        return false;
    }
    if (pipe2(fds, O_CLOEXEC) < 0) {
        util_error_set_errno(error, vir_domain, errno, "cannot create a pipe");
        return false;
    }
    child = fork();
    if (child < 0) {
        util_error_set_errno(error, vir_domain, errno, "cannot fork to start '%s'", argv[0]);
        close(fds[0]);
        close(fds[1]);
        return false;
    }
    if (child == 0) {
        pid_t pid;
        sigset_t all;

        /* signal handlers and masks of the daemon must not leak into QEMU */
        for (int sig = 1; sig < NSIG; sig++)
            if (sig != SIGKILL && sig != SIGSTOP)
                signal(sig, SIG_DFL);
        sigemptyset(&all);
        sigprocmask(SIG_SETMASK, &all, NULL);
        close(fds[0]);
        if (setsid() < 0)
            spawn_fail(fds[1], SPAWN_STEP_SETSID);
        pid = fork();
        if (pid < 0)
            spawn_fail(fds[1], SPAWN_STEP_FORK);
        if (pid > 0) {
            SpawnFailure f = { 0, (gint32)pid };
            ssize_t w G_GNUC_UNUSED = write(fds[1], &f, sizeof(f));
            _exit(0);
        }
        spawn_exec(argv, envp, opts, fds[1], null_fd, max_fd);
    }
    close(fds[1]);
    while (waitpid(child, &status, 0) < 0 && errno == EINTR)
        ;
    /* first record: the grandchild's pid (or the intermediate's failure) */
    do {
        n = read(fds[0], &failure, sizeof(failure));
    } while (n < 0 && errno == EINTR);
    if (n == sizeof(failure) && failure.step == 0) {
        grandchild = failure.err;
        /* then end-of-file (exec worked) or the grandchild's failure */
        do {
            n = read(fds[0], &failure, sizeof(failure));
        } while (n < 0 && errno == EINTR);
    }
    close(fds[0]);
    if (grandchild < 0 || n != 0) {
        if (n == sizeof(failure) && failure.step > 0)
            util_error_set(error, vir_domain, VIR_ERR_SYSTEM_ERROR,
                           "cannot %s '%s': %s", spawn_step_name(failure.step), argv[0],
                           g_strerror(failure.err));
        else
            util_error_set(error, vir_domain, VIR_ERR_SYSTEM_ERROR,
                           "cannot start '%s': the helper process failed", argv[0]);
        return false;
    }
    *ret_pid = grandchild;
    return true;
}

/* The fields of /proc/PID/stat after the command name (which may hold
 * spaces and ')'), starting at field 3 (the state); NULL if unreadable. */
static char *
util_process_stat_fields(pid_t pid)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/stat", (int)pid);
    g_autofree char *text = NULL;
    const char *p;

    if (pid <= 0 || !g_file_get_contents(path, &text, NULL, NULL) || !(p = strrchr(text, ')')))
        return NULL;
    return g_strdup(p + 1);
}

bool
util_process_start_time(pid_t pid, guint64 *ret_start)
{
    g_autofree char *fields = util_process_stat_fields(pid);
    const char *p = fields;
    char state;
    guint64 start = 0;
    int field;

    if (!p || sscanf(p, " %c", &state) != 1 || state == 'Z' || state == 'X')
        return false;
    /* p is the space before field 3; each step moves to the space before
     * the next field, up to field 22 (start time) */
    for (field = 3; field < 22 && p; field++)
        p = strchr(p + 1, ' ');
    if (!p || sscanf(p, " %" G_GUINT64_FORMAT, &start) != 1)
        return false;
    *ret_start = start;
    return true;
}

guint64
util_process_cpu_time(pid_t pid)
{
    g_autofree char *fields = util_process_stat_fields(pid);
    unsigned long long utime = 0, stime = 0;
    long ticks = sysconf(_SC_CLK_TCK);

    /* state(3) ... utime(14) stime(15) */
    if (!fields || ticks <= 0 ||
        sscanf(fields, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
               &utime, &stime) != 2)
        return 0;
    return (guint64)(utime + stime) * (1000000000ULL / (guint64)ticks);
}

bool
util_process_is_alive(pid_t pid, guint64 start_time)
{
    guint64 now = 0;

    if (!util_process_start_time(pid, &now))
        return false;
    return start_time == 0 || now == start_time;
}

int
util_process_pidfd(pid_t pid)
{
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

bool
util_process_wait_exit(pid_t pid, guint64 start_time, int timeout_ms)
{
    g_autofd_mv int fd = util_process_pidfd(pid);
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;

    if (!util_process_is_alive(pid, start_time))
        return true;
    if (fd >= 0) {
        struct pollfd p = { fd, POLLIN, 0 };
        int r;
        do {
            gint64 left = (deadline - g_get_monotonic_time()) / 1000;
            r = poll(&p, 1, left > 0 ? (int)left : 0);
        } while (r < 0 && errno == EINTR);
        return r > 0 || !util_process_is_alive(pid, start_time);
    }
    /* no pidfd (old kernel): poll /proc */
    while (g_get_monotonic_time() < deadline) {
        if (!util_process_is_alive(pid, start_time))
            return true;
        g_usleep(10000);
    }
    return !util_process_is_alive(pid, start_time);
}
