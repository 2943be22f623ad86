/*
 * modvirt-block.c: the block device and block job commands of the modvirt
 * CLI (blockcommit, blockpull, blockcopy, blockjob, domblklist,
 * domblkinfo), with virsh's options, output and exit status.
 *
 * Waiting for a job (--wait and the options that imply it) works as
 * virsh's does: BLOCK_JOB and BLOCK_JOB_2 events for the disk, delivered
 * by an event loop thread, end the wait; meanwhile the main thread asks
 * virDomainGetBlockJobInfo every 500 ms (for --verbose progress on stderr,
 * and as the fallback where the events cannot be registered), and Ctrl-C
 * or --timeout aborts the job.
 */
#define G_LOG_DOMAIN "modvirt.cli"

#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>

#include "modvirt.h"

/* ------------------------------------------------------------ waiting for a job */

/* virsh's progress line: "\rLABEL: [ 42 %]" on stderr; never 100 % before
 * the job has nothing left. */
static void
cli_print_job_progress(const char *label, unsigned long long remaining,
                       unsigned long long total)
{
    int progress = 100;

    if (remaining != 0) {
        progress = (int)(100.0 - remaining * 100.0 / total);
        if (progress >= 100)
            progress = 99;
    }
    fflush(stdout);
    fprintf(stderr, "\r%s: [%3d %%]", label, progress);
    fflush(stderr);
}

static volatile sig_atomic_t cli_block_interrupted;

static void
cli_block_on_sigint(int sig G_GNUC_UNUSED)
{
    cli_block_interrupted = 1;
}

typedef struct {
    virConnectPtr conn;
    virDomainPtr dom;
    const char *dev;
    const char *job_name;
    bool verbose;
    int timeout_ms;
    unsigned int abort_flags;

    int cb_id;
    int cb_id2;
    gint status;                    /* -1 until an event for the disk came */

    GThread *loop;
    gint quit;
} CliBlockJobWait;

static void
cli_block_job_event(virConnectPtr conn G_GNUC_UNUSED, virDomainPtr dom G_GNUC_UNUSED,
                    const char *disk, int type G_GNUC_UNUSED, int status, void *opaque)
{
    CliBlockJobWait *wait = opaque;

    /* BLOCK_JOB names the disk by path, BLOCK_JOB_2 by target: whichever
     * the user named matches. */
    if (g_strcmp0(disk, wait->dev) == 0)
        g_atomic_int_set(&wait->status, status);
}

/* The event loop thread, as virsh's: it never takes SIGINT, which is the
 * main thread's to see. */
static gpointer
cli_block_event_loop(gpointer opaque)
{
    CliBlockJobWait *wait = opaque;
    sigset_t mask;

    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    pthread_sigmask(SIG_BLOCK, &mask, NULL);
    while (!g_atomic_int_get(&wait->quit)) {
        if (virEventRunDefaultImpl() < 0)
            break;
    }
    return NULL;
}

static void
cli_block_wakeup(int timer G_GNUC_UNUSED, void *opaque G_GNUC_UNUSED)
{
}

static void
cli_block_job_wait_free(CliBlockJobWait *wait)
{
    if (!wait)
        return;
    if (wait->cb_id >= 0)
        virConnectDomainEventDeregisterAny(wait->conn, wait->cb_id);
    if (wait->cb_id2 >= 0)
        virConnectDomainEventDeregisterAny(wait->conn, wait->cb_id2);
    if (wait->loop) {
        int timer = -1;

        g_atomic_int_set(&wait->quit, 1);
        /* one more iteration of the loop to see the flag */
        timer = virEventAddTimeout(0, cli_block_wakeup, NULL, NULL);
        g_thread_join(wait->loop);
        if (timer >= 0)
            virEventRemoveTimeout(timer);
    }
    g_free(wait);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CliBlockJobWait, cli_block_job_wait_free)

/* Get ready to wait for the job on @dev: the event loop and the two
 * event callbacks (either may be missing on an older server). */
static CliBlockJobWait *
cli_block_job_wait_new(Cli *cli, virDomainPtr dom, const char *dev, const char *job_name,
                       bool verbose, int timeout_ms, bool async_abort)
{
    CliBlockJobWait *wait = g_new0(CliBlockJobWait, 1);
    virConnectDomainEventGenericCallback cb = VIR_DOMAIN_EVENT_CALLBACK(cli_block_job_event);

    wait->conn = cli->conn;
    wait->dom = dom;
    wait->dev = dev;
    wait->job_name = job_name;
    wait->verbose = verbose;
    wait->timeout_ms = timeout_ms;
    wait->abort_flags = async_abort ? VIR_DOMAIN_BLOCK_JOB_ABORT_ASYNC : 0;
    wait->status = -1;
    wait->cb_id = wait->cb_id2 = -1;

    if (virEventRegisterDefaultImpl() == 0)
        wait->loop = g_thread_new("modvirt-events", cli_block_event_loop, wait);
    wait->cb_id = virConnectDomainEventRegisterAny(cli->conn, dom,
                                                   VIR_DOMAIN_EVENT_ID_BLOCK_JOB, cb, wait,
                                                   NULL);
    if (wait->cb_id < 0)
        cli_reset_error();
    wait->cb_id2 = virConnectDomainEventRegisterAny(cli->conn, dom,
                                                    VIR_DOMAIN_EVENT_ID_BLOCK_JOB_2, cb, wait,
                                                    NULL);
    if (wait->cb_id2 < 0)
        cli_reset_error();
    return wait;
}

/* Wait until the job ends or is ready: a virConnectDomainEventBlockJobStatus,
 * or -1 with an error printed.  Ctrl-C or the timeout abort the job
 * (VIR_DOMAIN_BLOCK_JOB_CANCELED). */
static int
cli_block_job_wait(CliBlockJobWait *wait)
{
    /* Without one of the events, a job at 100 % is taken as ready after
     * this many more looks (a two-phase job never ends by itself). */
    unsigned int retries = 5;
    struct sigaction sa = { .sa_handler = cli_block_on_sigint };
    struct sigaction old_sa;
    sigset_t sigint;
    sigset_t old_mask;
    virDomainBlockJobInfo last = { 0 };
    gint64 start = g_get_monotonic_time();
    int ret = -1;

    sigemptyset(&sigint);
    sigaddset(&sigint, SIGINT);
    cli_block_interrupted = 0;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_sa);

    while (true) {
        virDomainBlockJobInfo info = { 0 };
        bool have_events = wait->cb_id >= 0 || wait->cb_id2 >= 0;
        int status = g_atomic_int_get(&wait->status);
        int result = 0;

        /* a call is not interrupted half-way by Ctrl-C */
        pthread_sigmask(SIG_BLOCK, &sigint, &old_mask);
        result = virDomainGetBlockJobInfo(wait->dom, wait->dev, &info, 0);
        pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
        if (result < 0) {
            cli_error("failed to query job for disk %s", wait->dev);
            goto cleanup;
        }
        if (have_events && status != -1) {
            ret = status;
            break;
        }
        if (wait->cb_id < 0 || wait->cb_id2 < 0) {
            if (result == 0) {
                ret = VIR_DOMAIN_BLOCK_JOB_COMPLETED;
                break;
            }
            if (info.end == info.cur && (!have_events || --retries == 0)) {
                ret = VIR_DOMAIN_BLOCK_JOB_READY;
                break;
            }
        }
        if (wait->verbose && (info.cur != last.cur || info.end != last.end))
            cli_print_job_progress(wait->job_name, info.end - info.cur, info.end);
        last = info;

        if (cli_block_interrupted ||
            (wait->timeout_ms &&
             (g_get_monotonic_time() - start) / 1000 > wait->timeout_ms)) {
            if (virDomainBlockJobAbort(wait->dom, wait->dev, wait->abort_flags) < 0) {
                cli_error("failed to abort job for disk '%s'", wait->dev);
                goto cleanup;
            }
            ret = VIR_DOMAIN_BLOCK_JOB_CANCELED;
            break;
        }
        g_usleep(500 * 1000);
    }

    if (wait->verbose &&
        (ret == VIR_DOMAIN_BLOCK_JOB_COMPLETED || ret == VIR_DOMAIN_BLOCK_JOB_READY))
        cli_print_job_progress(wait->job_name, 0, 1);

 cleanup:
    sigaction(SIGINT, &old_sa, NULL);
    return ret;
}

/* What the job commands print when the wait ends without the job done:
 * "\nCommit aborted", "\nCopy failed"; false for those and for errors. */
static bool
cli_block_job_waited(Cli *cli, int status, const char *what)
{
    switch (status) {
    case VIR_DOMAIN_BLOCK_JOB_CANCELED:
        cli_print_extra(cli, "\n%s aborted", what);
        return false;
    case VIR_DOMAIN_BLOCK_JOB_FAILED:
        cli_print_extra(cli, "\n%s failed", what);
        return false;
    case VIR_DOMAIN_BLOCK_JOB_COMPLETED:
    case VIR_DOMAIN_BLOCK_JOB_READY:
        return true;
    default:
        return false;
    }
}

/* --verbose and --async only mean something while waiting. */
static bool
cli_block_check_blocking(const CliArgs *args, bool blocking, const char *alternatives)
{
    if (blocking)
        return true;
    if (cli_arg_bool(args, "verbose")) {
        cli_error("--verbose requires at least one of --timeout, --wait, %s", alternatives);
        return false;
    }
    if (cli_arg_bool(args, "async")) {
        cli_error("--async requires at least one of --timeout, --wait, %s", alternatives);
        return false;
    }
    return true;
}

#define CLI_PATH_OPT(text) \
    { "path", CLI_OPT_STRING, CLI_OPT_POSITIONAL | CLI_OPT_REQUIRED, text }
#define CLI_BANDWIDTH_OPT(text) \
    { "bandwidth", CLI_OPT_INT, CLI_OPT_POSITIONAL | CLI_OPT_UNCHECKED, text }
#define CLI_TIMEOUT_OPT(text) \
    { "timeout", CLI_OPT_INT, CLI_OPT_POSITIONAL | CLI_OPT_UNCHECKED, text }
#define CLI_BYTES_OPT \
    { "bytes", CLI_OPT_BOOL, 0, "the bandwidth limit is in bytes/s rather than MiB/s" }

/* ------------------------------------------------------------ blockcommit */

static const CliOptDef cli_opts_blockcommit[] = {
    CLI_DOMAIN_OPT,
    CLI_PATH_OPT("fully-qualified path of disk"),
    CLI_BANDWIDTH_OPT("bandwidth limit in MiB/s"),
    { "base", CLI_OPT_STRING, CLI_OPT_POSITIONAL,
      "path of base file to commit into (default bottom of chain)" },
    { "shallow", CLI_OPT_BOOL, 0, "use backing file of top as base" },
    { "top", CLI_OPT_STRING, CLI_OPT_POSITIONAL,
      "path of top file to commit from (default top of chain)" },
    { "active", CLI_OPT_BOOL, 0, "trigger two-stage active commit of top file" },
    { "delete", CLI_OPT_BOOL, 0, "delete files that were successfully committed" },
    { "wait", CLI_OPT_BOOL, 0, "wait for job to complete (with --active, wait for job to sync)" },
    { "verbose", CLI_OPT_BOOL, 0, "with --wait, display the progress" },
    CLI_TIMEOUT_OPT("implies --wait, abort if copy exceeds timeout (in seconds)"),
    { "pivot", CLI_OPT_BOOL, 0, "implies --active --wait, pivot when commit is synced" },
    { "keep-overlay", CLI_OPT_BOOL, 0, "implies --active --wait, quit when commit is synced" },
    { "async", CLI_OPT_BOOL, 0, "with --wait, don't wait for cancel to finish" },
    { "keep-relative", CLI_OPT_BOOL, 0, "keep the backing chain relatively referenced" },
    CLI_BYTES_OPT,
    CLI_OPTS_END,
};

static bool
cli_cmd_blockcommit(Cli *cli, const CliArgs *args)
{
    bool verbose = cli_arg_bool(args, "verbose");
    bool pivot = cli_arg_bool(args, "pivot");
    bool keep_overlay = cli_arg_bool(args, "keep-overlay");
    bool active = cli_arg_bool(args, "active") || pivot || keep_overlay;
    bool blocking = cli_arg_bool(args, "wait") || pivot || keep_overlay;
    bool async = cli_arg_bool(args, "async");
    bool bytes = cli_arg_bool(args, "bytes");
    g_autoptr(CliBlockJobWait) wait = NULL;
    const char *path = NULL;
    const char *base = NULL;
    const char *top = NULL;
    unsigned long bandwidth = 0;
    unsigned int flags = 0;
    unsigned int abort_flags = 0;
    virDomainPtr dom = NULL;
    int timeout = 0;
    bool ok = false;

    if (!cli_exclusive(args, "pivot", "keep-overlay") ||
        cli_arg_string_req(args, "path", &path) < 0 ||
        cli_arg_string_req(args, "base", &base) < 0 ||
        cli_arg_string_req(args, "top", &top) < 0 ||
        cli_arg_bandwidth(args, bytes, &bandwidth) < 0)
        return false;
    if (bytes)
        flags |= VIR_DOMAIN_BLOCK_COMMIT_BANDWIDTH_BYTES;
    if (cli_arg_bool(args, "shallow"))
        flags |= VIR_DOMAIN_BLOCK_COMMIT_SHALLOW;
    if (cli_arg_bool(args, "delete"))
        flags |= VIR_DOMAIN_BLOCK_COMMIT_DELETE;
    if (active)
        flags |= VIR_DOMAIN_BLOCK_COMMIT_ACTIVE;
    if (cli_arg_bool(args, "keep-relative"))
        flags |= VIR_DOMAIN_BLOCK_COMMIT_RELATIVE;
    if (cli_arg_timeout_ms(args, &timeout) < 0)
        return false;
    if (timeout)
        blocking = true;
    if (!cli_block_check_blocking(args, blocking, "--pivot, or --keep-overlay"))
        return false;
    if (async)
        abort_flags |= VIR_DOMAIN_BLOCK_JOB_ABORT_ASYNC;

    if (!(dom = cli_domain(cli, args, "domain", CLI_BY_ANY)))
        return false;
    if (blocking)
        wait = cli_block_job_wait_new(cli, dom, path, "Block commit", verbose, timeout, async);

    if (virDomainBlockCommit(dom, path, base, top, bandwidth, flags) < 0)
        goto cleanup;
    if (!blocking) {
        cli_print_extra(cli, "%s", active ? "Active Block Commit started" : "Block Commit started");
        ok = true;
        goto cleanup;
    }

    if (!cli_block_job_waited(cli, cli_block_job_wait(wait), "Commit"))
        goto cleanup;
    if (!active) {
        cli_print_extra(cli, "\n%s", "Commit complete");
    } else if (pivot) {
        if (virDomainBlockJobAbort(dom, path, abort_flags | VIR_DOMAIN_BLOCK_JOB_ABORT_PIVOT) < 0) {
            cli_error("failed to pivot job for disk %s", path);
            goto cleanup;
        }
        cli_print_extra(cli, "\n%s", "Successfully pivoted");
    } else if (keep_overlay) {
        if (virDomainBlockJobAbort(dom, path, abort_flags) < 0) {
            cli_error("failed to finish job for disk %s", path);
            goto cleanup;
        }
        cli_print_extra(cli, "\n%s", "Commit complete, overlay image kept");
    } else {
        cli_print_extra(cli, "\n%s", "Now in synchronized phase");
    }
    ok = true;

 cleanup:
    g_clear_pointer(&wait, cli_block_job_wait_free);
    virDomainFree(dom);
    return ok;
}

/* ------------------------------------------------------------ blockpull */

static const CliOptDef cli_opts_blockpull[] = {
    CLI_DOMAIN_OPT,
    CLI_PATH_OPT("fully-qualified path of disk"),
    CLI_BANDWIDTH_OPT("bandwidth limit in MiB/s"),
    { "base", CLI_OPT_STRING, CLI_OPT_POSITIONAL,
      "path of backing file in chain for a partial pull" },
    { "wait", CLI_OPT_BOOL, 0, "wait for job to finish" },
    { "verbose", CLI_OPT_BOOL, 0, "with --wait, display the progress" },
    CLI_TIMEOUT_OPT("with --wait, abort if pull exceeds timeout (in seconds)"),
    { "async", CLI_OPT_BOOL, 0, "with --wait, don't wait for cancel to finish" },
    { "keep-relative", CLI_OPT_BOOL, 0, "keep the backing chain relatively referenced" },
    CLI_BYTES_OPT,
    CLI_OPTS_END,
};

static bool
cli_cmd_blockpull(Cli *cli, const CliArgs *args)
{
    bool blocking = cli_arg_bool(args, "wait");
    bool bytes = cli_arg_bool(args, "bytes");
    g_autoptr(CliBlockJobWait) wait = NULL;
    const char *path = NULL;
    const char *base = NULL;
    unsigned long bandwidth = 0;
    unsigned int flags = 0;
    virDomainPtr dom = NULL;
    int timeout = 0;
    int rc = 0;
    bool ok = false;

    if (!cli_requires(args, "verbose", "wait") || !cli_requires(args, "async", "wait") ||
        cli_arg_string_req(args, "path", &path) < 0 ||
        cli_arg_string_req(args, "base", &base) < 0 ||
        cli_arg_bandwidth(args, bytes, &bandwidth) < 0 ||
        cli_arg_timeout_ms(args, &timeout) < 0)
        return false;
    if (cli_arg_bool(args, "keep-relative"))
        flags |= VIR_DOMAIN_BLOCK_REBASE_RELATIVE;

    if (!(dom = cli_domain(cli, args, "domain", CLI_BY_ANY)))
        return false;
    if (blocking)
        wait = cli_block_job_wait_new(cli, dom, path, "Block Pull",
                                      cli_arg_bool(args, "verbose"), timeout,
                                      cli_arg_bool(args, "async"));

    /* As virsh: the rebase call when there is a base or a flag to pass. */
    if (base || flags) {
        if (bytes)
            flags |= VIR_DOMAIN_BLOCK_REBASE_BANDWIDTH_BYTES;
        rc = virDomainBlockRebase(dom, path, base, bandwidth, flags);
    } else {
        if (bytes)
            flags |= VIR_DOMAIN_BLOCK_PULL_BANDWIDTH_BYTES;
        rc = virDomainBlockPull(dom, path, bandwidth, flags);
    }
    if (rc < 0)
        goto cleanup;
    if (!blocking) {
        cli_print_extra(cli, "%s", "Block Pull started");
        ok = true;
        goto cleanup;
    }
    if (!cli_block_job_waited(cli, cli_block_job_wait(wait), "Pull"))
        goto cleanup;
    cli_print_extra(cli, "\n%s", "Pull complete");
    ok = true;

 cleanup:
    g_clear_pointer(&wait, cli_block_job_wait_free);
    virDomainFree(dom);
    return ok;
}

/* ------------------------------------------------------------ blockcopy */

static const CliOptDef cli_opts_blockcopy[] = {
    CLI_DOMAIN_OPT,
    CLI_PATH_OPT("fully-qualified path of source disk"),
    { "dest", CLI_OPT_STRING, CLI_OPT_POSITIONAL, "path of the copy to create" },
    CLI_BANDWIDTH_OPT("bandwidth limit in MiB/s"),
    { "shallow", CLI_OPT_BOOL, 0, "make the copy share a backing chain" },
    { "reuse-external", CLI_OPT_BOOL, 0, "reuse existing destination" },
    { "raw", CLI_OPT_ALIAS, 0, "format=raw" },
    { "blockdev", CLI_OPT_BOOL, 0, "copy destination is block device instead of regular file" },
    { "wait", CLI_OPT_BOOL, 0, "wait for job to reach mirroring phase" },
    { "verbose", CLI_OPT_BOOL, 0, "with --wait, display the progress" },
    CLI_TIMEOUT_OPT("implies --wait, abort if copy exceeds timeout (in seconds)"),
    { "pivot", CLI_OPT_BOOL, 0, "implies --wait, pivot when mirroring starts" },
    { "finish", CLI_OPT_BOOL, 0, "implies --wait, quit when mirroring starts" },
    { "async", CLI_OPT_BOOL, 0, "with --wait, don't wait for cancel to finish" },
    { "xml", CLI_OPT_STRING, CLI_OPT_POSITIONAL,
      "filename containing XML description of the copy destination" },
    { "format", CLI_OPT_STRING, CLI_OPT_POSITIONAL, "format of the destination file" },
    { "granularity", CLI_OPT_INT, CLI_OPT_POSITIONAL | CLI_OPT_UNCHECKED,
      "power-of-two granularity to use during the copy" },
    { "buf-size", CLI_OPT_INT, CLI_OPT_POSITIONAL | CLI_OPT_UNCHECKED,
      "maximum amount of in-flight data during the copy" },
    CLI_BYTES_OPT,
    { "transient-job", CLI_OPT_BOOL, 0, "the copy job is not persisted if VM is turned off" },
    { "synchronous-writes", CLI_OPT_BOOL, 0,
      "the copy job forces guest writes to be synchronously written to the destination" },
    { "print-xml", CLI_OPT_BOOL, 0,
      "print the XML used to start the copy job instead of starting the job" },
    CLI_OPTS_END,
};

/* The <disk> virsh writes for --dest [--format] [--blockdev]. */
static char *
cli_blockcopy_dest_xml(const char *dest, const char *format, bool blockdev)
{
    g_autofree char *dest_esc = g_markup_escape_text(dest, -1);
    GString *xml = g_string_new(NULL);

    g_string_append_printf(xml, "<disk type='%s'>\n", blockdev ? "block" : "file");
    g_string_append_printf(xml, "  <source %s='%s'/>\n", blockdev ? "dev" : "file", dest_esc);
    if (format) {
        g_autofree char *format_esc = g_markup_escape_text(format, -1);

        g_string_append_printf(xml, "  <driver type='%s'/>\n", format_esc);
    }
    g_string_append(xml, "</disk>\n");
    return g_string_free(xml, FALSE);
}

/* The typed parameters of virDomainBlockCopy; false with an error printed. */
static bool
cli_blockcopy_params(unsigned long bandwidth, bool bytes, unsigned int granularity,
                     unsigned long long buf_size, virTypedParameterPtr *params,
                     int *nparams)
{
    int maxparams = 0;

    if (bandwidth) {
        unsigned long long value = bandwidth;

        if (!bytes) {
            /* MiB/s to bytes/s, if it fits */
            unsigned long long limit = MIN(ULONG_MAX, ULLONG_MAX >> 20);

            if (value > limit) {
                cli_error("bandwidth must be less than %llu", limit);
                return false;
            }
            value <<= 20;
        }
        if (virTypedParamsAddULLong(params, nparams, &maxparams,
                                    VIR_DOMAIN_BLOCK_COPY_BANDWIDTH, value) < 0)
            return false;
    }
    if (granularity &&
        virTypedParamsAddUInt(params, nparams, &maxparams, VIR_DOMAIN_BLOCK_COPY_GRANULARITY,
                              granularity) < 0)
        return false;
    if (buf_size &&
        virTypedParamsAddULLong(params, nparams, &maxparams, VIR_DOMAIN_BLOCK_COPY_BUF_SIZE,
                                buf_size) < 0)
        return false;
    return true;
}

static bool
cli_cmd_blockcopy(Cli *cli, const CliArgs *args)
{
    bool verbose = cli_arg_bool(args, "verbose");
    bool pivot = cli_arg_bool(args, "pivot");
    bool finish = cli_arg_bool(args, "finish");
    bool blockdev = cli_arg_bool(args, "blockdev");
    bool blocking = cli_arg_bool(args, "wait") || finish || pivot;
    bool async = cli_arg_bool(args, "async");
    bool bytes = cli_arg_bool(args, "bytes");
    bool transient_job = cli_arg_bool(args, "transient-job");
    bool sync_writes = cli_arg_bool(args, "synchronous-writes");
    bool print_xml = cli_arg_bool(args, "print-xml");
    g_autoptr(CliBlockJobWait) wait = NULL;
    g_autofree char *xmlstr = NULL;
    virTypedParameterPtr params = NULL;
    int nparams = 0;
    const char *path = NULL;
    const char *dest = NULL;
    const char *xml = NULL;
    const char *format = NULL;
    unsigned long bandwidth = 0;
    unsigned int granularity = 0;
    unsigned long long buf_size = 0;
    unsigned int flags = 0;
    unsigned int abort_flags = 0;
    virDomainPtr dom = NULL;
    int timeout = 0;
    bool ok = false;

    if (cli_arg_string_req(args, "path", &path) < 0 ||
        cli_arg_string_req(args, "dest", &dest) < 0 ||
        cli_arg_string_req(args, "xml", &xml) < 0 ||
        cli_arg_string_req(args, "format", &format) < 0 ||
        cli_arg_bandwidth(args, bytes, &bandwidth) < 0 ||
        cli_arg_uint(args, "granularity", &granularity) < 0 ||
        cli_arg_ullong(args, "buf-size", &buf_size) < 0)
        return false;
    /* The copy flags share their values with the rebase ones virsh uses. */
    if (cli_arg_bool(args, "shallow"))
        flags |= VIR_DOMAIN_BLOCK_COPY_SHALLOW;
    if (cli_arg_bool(args, "reuse-external"))
        flags |= VIR_DOMAIN_BLOCK_COPY_REUSE_EXT;
    if (transient_job)
        flags |= VIR_DOMAIN_BLOCK_COPY_TRANSIENT_JOB;
    if (sync_writes)
        flags |= VIR_DOMAIN_BLOCK_COPY_SYNCHRONOUS_WRITES;
    if (cli_arg_timeout_ms(args, &timeout) < 0)
        return false;
    if (timeout)
        blocking = true;
    if (async)
        abort_flags |= VIR_DOMAIN_BLOCK_JOB_ABORT_ASYNC;
    if (!cli_exclusive(args, "dest", "xml") || !cli_exclusive(args, "format", "xml") ||
        !cli_exclusive(args, "blockdev", "xml") || !cli_exclusive(args, "pivot", "finish"))
        return false;
    if (!dest && !xml) {
        cli_error("need either --dest or --xml");
        return false;
    }
    if (!cli_block_check_blocking(args, blocking, "--pivot, or --finish"))
        return false;

    if (!(dom = cli_domain(cli, args, "domain", CLI_BY_ANY)))
        return false;
    if (blocking)
        wait = cli_block_job_wait_new(cli, dom, path, "Block Copy", verbose, timeout, async);
    if (xml) {
        if (!(xmlstr = cli_read_file(xml)))
            goto cleanup;
    }

    if (granularity || buf_size || (format && strcmp(format, "raw") != 0) || xml ||
        transient_job || sync_writes || print_xml) {
        /* virDomainBlockCopy, with a destination <disk> */
        if (!cli_blockcopy_params(bandwidth, bytes, granularity, buf_size, &params, &nparams))
            goto cleanup;
        if (!xmlstr)
            xmlstr = cli_blockcopy_dest_xml(dest, format, blockdev);
        if (print_xml) {
            printf("%s", xmlstr);
            ok = true;
            goto cleanup;
        }
        if (virDomainBlockCopy(dom, path, xmlstr, params, nparams, flags) < 0)
            goto cleanup;
    } else {
        /* the older virDomainBlockRebase, as virsh prefers when it can */
        flags |= VIR_DOMAIN_BLOCK_REBASE_COPY;
        if (blockdev)
            flags |= VIR_DOMAIN_BLOCK_REBASE_COPY_DEV;
        if (g_strcmp0(format, "raw") == 0)
            flags |= VIR_DOMAIN_BLOCK_REBASE_COPY_RAW;
        if (bytes)
            flags |= VIR_DOMAIN_BLOCK_REBASE_BANDWIDTH_BYTES;
        if (virDomainBlockRebase(dom, path, dest, bandwidth, flags) < 0)
            goto cleanup;
    }
    if (!blocking) {
        cli_print_extra(cli, "%s", "Block Copy started");
        ok = true;
        goto cleanup;
    }

    if (!cli_block_job_waited(cli, cli_block_job_wait(wait), "Copy"))
        goto cleanup;
    if (pivot) {
        if (virDomainBlockJobAbort(dom, path, abort_flags | VIR_DOMAIN_BLOCK_JOB_ABORT_PIVOT) < 0) {
            cli_error("failed to pivot job for disk %s", path);
            goto cleanup;
        }
        cli_print_extra(cli, "\n%s", "Successfully pivoted");
    } else if (finish) {
        if (virDomainBlockJobAbort(dom, path, abort_flags) < 0) {
            cli_error("failed to finish job for disk %s", path);
            goto cleanup;
        }
        cli_print_extra(cli, "\n%s", "Successfully copied");
    } else {
        cli_print_extra(cli, "\n%s", "Now in mirroring phase");
    }
    ok = true;

 cleanup:
    virTypedParamsFree(params, nparams);
    g_clear_pointer(&wait, cli_block_job_wait_free);
    if (dom)
        virDomainFree(dom);
    return ok;
}

/* ------------------------------------------------------------ blockjob */

static const CliOptDef cli_opts_blockjob[] = {
    CLI_DOMAIN_OPT,
    CLI_PATH_OPT("fully-qualified path of disk"),
    { "abort", CLI_OPT_BOOL, 0, "abort the active job on the specified disk" },
    { "async", CLI_OPT_BOOL, 0, "implies --abort; request but don't wait for job end" },
    { "pivot", CLI_OPT_BOOL, 0, "implies --abort; conclude and pivot a copy or commit job" },
    { "info", CLI_OPT_BOOL, 0, "get active job information for the specified disk" },
    { "bytes", CLI_OPT_BOOL, 0, "get/set bandwidth in bytes rather than MiB/s" },
    { "raw", CLI_OPT_BOOL, 0, "implies --info; output details rather than human summary" },
    CLI_BANDWIDTH_OPT("set the bandwidth limit in MiB/s"),
    CLI_OPTS_END,
};

/* virsh's names in --raw output: the type's name, "(null)" out of range. */
static const char *
cli_block_job_raw_type(int type)
{
    if (type < 0 || type > VIR_DOMAIN_BLOCK_JOB_TYPE_BACKUP)
        return "(null)";
    return cli_block_job_type_name(type);
}

static bool
cli_blockjob_info(Cli *cli, virDomainPtr dom, const char *path, bool raw, bool bytes)
{
    virDomainBlockJobInfo info = { 0 };
    unsigned long long speed = 0;
    int rc = -1;

    /* bytes/s first, unless --raw asks for MiB/s; MiB/s from servers
     * that cannot tell bytes. */
    if (bytes || !raw) {
        rc = virDomainGetBlockJobInfo(dom, path, &info,
                                      VIR_DOMAIN_BLOCK_JOB_INFO_BANDWIDTH_BYTES);
        if (rc < 0) {
            int code = cli_last_error_code();

            if ((code != VIR_ERR_INVALID_ARG && code != VIR_ERR_OVERFLOW) || bytes || raw)
                return false;
            cli_reset_error();
        }
        speed = info.bandwidth;
    }
    if (rc < 0) {
        if ((rc = virDomainGetBlockJobInfo(dom, path, &info, 0)) < 0)
            return false;
        speed = info.bandwidth;
        if (!raw) {
            speed <<= 20;
            if (speed >> 20 != info.bandwidth) {
                cli_error("overflow in converting %ld MiB/s to bytes\n", info.bandwidth);
                return false;
            }
        }
    }

    if (rc == 0) {
        if (!raw)
            cli_print_extra(cli, "No current block job for %s", path);
        return true;
    }
    if (raw) {
        printf(" type=%s\n bandwidth=%lu\n cur=%llu\n end=%llu\n",
               cli_block_job_raw_type(info.type), info.bandwidth, info.cur, info.end);
    } else {
        cli_print_job_progress(cli_block_job_type_name(info.type), info.end - info.cur,
                               info.end);
        if (speed) {
            const char *unit = NULL;
            double value = cli_pretty_capacity(speed, &unit);

            printf("    Bandwidth limit: %llu bytes/s (%-.3lf %s/s)", speed, value, unit);
        }
        printf("\n");
    }
    return true;
}

static bool
cli_cmd_blockjob(Cli *cli, const CliArgs *args)
{
    bool raw = cli_arg_bool(args, "raw");
    bool bytes = cli_arg_bool(args, "bytes");
    bool pivot = cli_arg_bool(args, "pivot");
    bool async = cli_arg_bool(args, "async");
    const char *path = NULL;
    virDomainPtr dom = NULL;
    bool ok = false;

    if (!cli_exclusive(args, "raw", "abort") || !cli_exclusive(args, "raw", "pivot") ||
        !cli_exclusive(args, "raw", "async") || !cli_exclusive(args, "raw", "bandwidth") ||
        !cli_exclusive(args, "info", "abort") || !cli_exclusive(args, "info", "pivot") ||
        !cli_exclusive(args, "info", "async") || !cli_exclusive(args, "info", "bandwidth") ||
        !cli_exclusive(args, "bytes", "abort") || !cli_exclusive(args, "bytes", "pivot") ||
        !cli_exclusive(args, "bytes", "async"))
        return false;
    if (!(dom = cli_domain(cli, args, "domain", CLI_BY_ANY)))
        return false;
    if (cli_arg_string_req(args, "path", &path) < 0)
        goto cleanup;

    if (cli_arg_bool(args, "bandwidth")) {
        unsigned long bandwidth = 0;

        ok = cli_arg_bandwidth(args, bytes, &bandwidth) >= 0 &&
             virDomainBlockJobSetSpeed(dom, path, bandwidth,
                                       bytes ? VIR_DOMAIN_BLOCK_JOB_SPEED_BANDWIDTH_BYTES : 0) == 0;
    } else if (cli_arg_bool(args, "abort") || pivot || async) {
        ok = virDomainBlockJobAbort(dom, path,
                                    (async ? VIR_DOMAIN_BLOCK_JOB_ABORT_ASYNC : 0) |
                                    (pivot ? VIR_DOMAIN_BLOCK_JOB_ABORT_PIVOT : 0)) == 0;
    } else {
        ok = cli_blockjob_info(cli, dom, path, raw, bytes);
    }

 cleanup:
    virDomainFree(dom);
    return ok;
}

/* ------------------------------------------------------------ domblklist, domblkinfo */

/* The domain's XML (with @flags), parsed. */
static CliXml *
cli_domain_xml(virDomainPtr dom, unsigned int flags)
{
    g_autofree char *xml = virDomainGetXMLDesc(dom, flags);

    if (!xml)
        return NULL;
    return cli_xml_parse(xml, "(domain_definition)");
}

static const CliOptDef cli_opts_domblklist[] = {
    CLI_DOMAIN_OPT,
    { "inactive", CLI_OPT_BOOL, 0, "get inactive rather than running configuration" },
    { "details", CLI_OPT_BOOL, 0, "additionally display the type and device value" },
    CLI_OPTS_END,
};

static bool
cli_cmd_domblklist(Cli *cli, const CliArgs *args)
{
    bool details = cli_arg_bool(args, "details");
    g_autoptr(CliXml) xml = NULL;
    g_autoptr(CliTable) table = NULL;
    g_autofree xmlNodePtr *disks = NULL;
    virDomainPtr dom = NULL;
    int ndisks = 0;

    if (!(dom = cli_domain(cli, args, "domain", CLI_BY_ANY)))
        return false;
    xml = cli_domain_xml(dom, cli_arg_bool(args, "inactive") ? VIR_DOMAIN_XML_INACTIVE : 0);
    virDomainFree(dom);
    if (!xml)
        return false;

    disks = cli_xpath_nodes(xml, NULL, "./devices/disk", &ndisks);
    table = details ? cli_table_new("Type", "Device", "Target", "Source", NULL)
                    : cli_table_new("Target", "Source", NULL);
    for (int i = 0; i < ndisks; i++) {
        g_autofree char *type = cli_xpath_string(xml, disks[i], "string(./@type)");
        g_autofree char *device = cli_xpath_string(xml, disks[i], "string(./@device)");
        g_autofree char *target = cli_xpath_string(xml, disks[i], "string(./target/@dev)");
        g_autofree char *source =
            cli_xpath_string(xml, disks[i],
                             "string(./source/@file|./source/@dev|./source/@dir"
                             "|./source/@name|./source/@volume|./source/@path)");

        if (details && (!type || !device)) {
            printf("unable to query block list details");
            return false;
        }
        if (!target) {
            cli_error("unable to query block list");
            return false;
        }
        if (details)
            cli_table_add(table, type, device, target, source ? source : "-", NULL);
        else
            cli_table_add(table, target, source ? source : "-", NULL);
    }
    cli_table_print(cli, table);
    return true;
}

static const CliOptDef cli_opts_domblkinfo[] = {
    CLI_DOMAIN_OPT,
    { "device", CLI_OPT_STRING, CLI_OPT_POSITIONAL, "block device" },
    { "human", CLI_OPT_BOOL, 0, "Human readable output" },
    { "all", CLI_OPT_BOOL, 0, "display all block devices info" },
    CLI_OPTS_END,
};

/* The three sizes as virsh prints them: bytes, "1.500 GiB" with --human,
 * "-" for a disk without any. */
static void
cli_blkinfo_sizes(const virDomainBlockInfo *info, bool human, char *ret_sizes[3])
{
    const unsigned long long values[3] = { info->capacity, info->allocation, info->physical };

    for (size_t i = 0; i < 3; i++) {
        const char *unit = NULL;

        if (!info->capacity && !info->allocation && !info->physical)
            ret_sizes[i] = g_strdup("-");
        else if (!human)
            ret_sizes[i] = g_strdup_printf("%llu", values[i]);
        else {
            double value = cli_pretty_capacity(values[i], &unit);

            ret_sizes[i] = g_strdup_printf("%.3lf %s", value, unit);
        }
    }
}

static bool
cli_domblkinfo_all(Cli *cli, virDomainPtr dom, bool human)
{
    bool active = virDomainIsActive(dom) == 1;
    g_autoptr(CliXml) xml = cli_domain_xml(dom, 0);
    g_autoptr(CliTable) table = NULL;
    g_autofree xmlNodePtr *disks = NULL;
    int ndisks = 0;

    if (!xml)
        return false;
    disks = cli_xpath_nodes(xml, NULL, "./devices/disk", &ndisks);
    table = cli_table_new("Target", "Capacity", "Allocation", "Physical", NULL);
    for (int i = 0; i < ndisks; i++) {
        g_autofree char *protocol = cli_xpath_string(xml, disks[i], "string(./source/@protocol)");
        g_autofree char *target = cli_xpath_string(xml, disks[i], "string(./target/@dev)");
        virDomainBlockInfo info = { 0 };
        char *sizes[3] = { NULL };

        if (cli_xpath_boolean(xml, disks[i], "boolean(./source)") == 1 &&
            virDomainGetBlockInfo(dom, target, &info, 0) < 0) {
            /* an inactive network disk cannot tell its sizes */
            if (!protocol || active || cli_last_error_code() != VIR_ERR_INTERNAL_ERROR)
                return false;
            cli_reset_error();
            memset(&info, 0, sizeof(info));
        }
        cli_blkinfo_sizes(&info, human, sizes);
        cli_table_add(table, target ? target : "", sizes[0], sizes[1], sizes[2], NULL);
        for (size_t j = 0; j < 3; j++)
            g_free(sizes[j]);
    }
    cli_table_print(cli, table);
    return true;
}

static bool
cli_cmd_domblkinfo(Cli *cli, const CliArgs *args)
{
    bool human = cli_arg_bool(args, "human");
    const char *device = cli_arg_string(args, "device");
    virDomainBlockInfo info = { 0 };
    char *sizes[3] = { NULL };
    virDomainPtr dom = NULL;
    bool ok = false;

    if (!cli_exclusive(args, "all", "device"))
        return false;
    if (!(dom = cli_domain(cli, args, "domain", CLI_BY_ANY)))
        return false;
    if (cli_arg_bool(args, "all")) {
        ok = cli_domblkinfo_all(cli, dom, human);
    } else if (!device || !*device) {
        cli_error("command 'domblkinfo' requires <device> option");
    } else if (virDomainGetBlockInfo(dom, device, &info, 0) == 0) {
        cli_blkinfo_sizes(&info, human, sizes);
        printf("%-15s %s\n", "Capacity:", sizes[0]);
        printf("%-15s %s\n", "Allocation:", sizes[1]);
        printf("%-15s %s\n", "Physical:", sizes[2]);
        for (size_t j = 0; j < 3; j++)
            g_free(sizes[j]);
        ok = true;
    }
    virDomainFree(dom);
    return ok;
}

/* ------------------------------------------------------------ domblkerror */

static const CliOptDef cli_opts_domblkerror[] = {
    { "domain", CLI_OPT_STRING, CLI_OPT_REQUIRED | CLI_OPT_POSITIONAL, "domain name, id or uuid" },
    CLI_OPTS_END,
};

static bool
cli_cmd_domblkerror(Cli *cli, const CliArgs *args)
{
    static const char *const names[] = { "no error", "unspecified error", "no space" };
    virDomainDiskErrorPtr disks = NULL;
    virDomainPtr dom = NULL;
    int count;
    bool ok = false;

    if (!(dom = cli_domain(cli, args, "domain", CLI_BY_ANY)))
        return false;
    if ((count = virDomainGetDiskErrors(dom, NULL, 0, 0)) < 0)
        goto out;
    if (count > 0) {
        disks = g_new0(virDomainDiskError, count);
        if ((count = virDomainGetDiskErrors(dom, disks, count, 0)) < 0)
            goto out;
    }
    if (count == 0)
        printf("No errors found\n");
    for (int i = 0; i < count; i++)
        printf("%s: %s\n", disks[i].disk,
               cli_name(names, G_N_ELEMENTS(names), disks[i].error, "unknown error"));
    ok = true;
 out:
    for (int i = 0; disks && i < count; i++)
        g_free(disks[i].disk);
    g_free(disks);
    virDomainFree(dom);
    return ok;
}

/* ------------------------------------------------------------ table */

const CliCommand cli_block_commands[] = {
    { "blockcommit", "Start a block commit operation.",
      "Commit changes from a snapshot down to its backing image.",
      cli_opts_blockcommit, true, cli_cmd_blockcommit },
    { "blockcopy", "Start a block copy operation.", "Copy a disk backing image chain to dest.",
      cli_opts_blockcopy, true, cli_cmd_blockcopy },
    { "blockjob", "Manage active block operations",
      "Query, adjust speed, or cancel active block operations.",
      cli_opts_blockjob, true, cli_cmd_blockjob },
    { "blockpull", "Populate a disk from its backing image.",
      "Populate a disk from its backing image.", cli_opts_blockpull, true, cli_cmd_blockpull },
    { "domblkerror", "Show errors on block devices",
      "Show block device errors", cli_opts_domblkerror, true, cli_cmd_domblkerror },
    { "domblkinfo", "domain block device size information",
      "Get block device size info for a domain.", cli_opts_domblkinfo, true,
      cli_cmd_domblkinfo },
    { "domblklist", "list all domain blocks", "Get the summary of block devices for a domain.",
      cli_opts_domblklist, true, cli_cmd_domblklist },
};

const size_t cli_block_commands_len = G_N_ELEMENTS(cli_block_commands);
