/*
 * util-process.h: starting long-lived helper processes (QEMU) detached
 * from the daemon, and watching processes that are not our children.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <sys/types.h>

typedef struct {
    int stdout_fd;              /* stdout and stderr go here; -1: /dev/null */
    const int *keep_fds;        /* inherited as they are (their numbers kept) */
    size_t n_keep_fds;
    uid_t uid;                  /* (uid_t)-1: keep ours */
    gid_t gid;                  /* (gid_t)-1: keep ours */
    const gid_t *groups;        /* supplementary groups when switching (gid set) */
    size_t n_groups;
    bool clear_caps;            /* no capabilities at all, bounding set emptied */
    bool no_new_privs;
    const char *cwd;            /* NULL: "/" */
    mode_t umask;               /* 0: 0007 */
} UtilSpawnOptions;

/* Start argv[0] with @argv and @envp (NULL: the daemon's environment) in a
 * new session, reparented away from us (double fork), so it outlives the
 * daemon.  Returns once exec succeeded; a failure of any step before exec
 * (chdir, credentials, exec itself) is reported with errno.  Errors are
 * VIR_ERR_SYSTEM_ERROR in @vir_domain. */
bool util_process_spawn_detached(const char *const *argv, const char *const *envp,
                                 const UtilSpawnOptions *opts, int vir_domain,
                                 pid_t *ret_pid, GError **error);

/* The start time of @pid (/proc/PID/stat field 22, clock ticks since boot),
 * which tells a process from a later one that reuses its number; false if
 * there is no such process or it is a zombie. */
bool util_process_start_time(pid_t pid, guint64 *ret_start);

/* CPU time used by @pid (user + system) in nanoseconds, 0 if unknown. */
guint64 util_process_cpu_time(pid_t pid);

/* True while @pid runs and (if @start_time != 0) is the same process. */
bool util_process_is_alive(pid_t pid, guint64 start_time);

/* A pidfd for @pid (readable once it exits), -1 with errno on failure. */
int util_process_pidfd(pid_t pid);

/* Wait up to @timeout_ms for @pid to exit (it need not be our child);
 * true if it did. */
bool util_process_wait_exit(pid_t pid, guint64 start_time, int timeout_ms);
