/*
 * fuzz-common.c: seeds, replay, mutations and the crash report shared by
 * the fuzz tests.
 */
#define G_LOG_DOMAIN "modvirt.test.fuzz"

#include "fuzz-common.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static guint32 fuzz_the_seed = FUZZ_DEFAULT_SEED;
static gint64 fuzz_iterations_env = -1;
static gint64 fuzz_only_iteration = -1;
static char *fuzz_prog;
static char *fuzz_crash_dir;
static bool fuzz_verbose;
static guint fuzz_timeout = 10;
static gint64 fuzz_last_arm;

/* What the crash handler reports; written before each iteration. */
static const char *volatile fuzz_cur_path;
static volatile guint fuzz_cur_iteration;
static const guint8 *volatile fuzz_cur_data;
static volatile size_t fuzz_cur_len;
static guint fuzz_cur_accepted;
static guint fuzz_cur_rejected;
static char fuzz_crash_file[4096];

/* Sanitizer builds are what catch memory errors: they run every case's
 * full default; the normal build, where the fuzzers run as plain tests,
 * a quarter of it. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_UNDEFINED__)
#define FUZZ_BUILD_DIVISOR 1
#else
#define FUZZ_BUILD_DIVISOR 4
#endif

typedef struct {
    char *path;
    guint default_iterations;
    FuzzIterFunc fn;
    gconstpointer data;
} FuzzCase;

static gint64
fuzz_env_int(const char *name, gint64 fallback)
{
    const char *v = g_getenv(name);
    gint64 n;
    char *end = NULL;

    if (!v || !*v)
        return fallback;
    errno = 0;
    n = g_ascii_strtoll(v, &end, 0);
    if (errno || *end || n < 0)
        g_error("%s='%s' is not a non-negative number", name, v);
    return n;
}

/* async-signal-safe output */
static void
fuzz_say(int fd, const char *s)
{
    size_t n = strlen(s);

    while (n) {
        ssize_t w = write(fd, s, n);
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

static void
fuzz_say_uint(int fd, guint64 v)
{
    char buf[24];
    int i = (int)sizeof(buf) - 1;

    buf[i] = '\0';
    do {
        buf[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v && i > 0);
    fuzz_say(fd, buf + i);
}

static void
fuzz_crash_handler(int sig)
{
    const char *path = fuzz_cur_path;

    if (path) {
        int out = STDOUT_FILENO;
        const guint8 *data = fuzz_cur_data;
        size_t len = fuzz_cur_len;

        if (sig == SIGALRM) {
            fuzz_say(out, "\n# FUZZ HANG: one iteration ran for more than ");
            fuzz_say_uint(out, fuzz_timeout);
            fuzz_say(out, " s (MODVIRT_FUZZ_TIMEOUT)");
        } else {
            fuzz_say(out, "\n# FUZZ CRASH: signal ");
            fuzz_say_uint(out, (guint64)sig);
        }
        fuzz_say(out, " in case ");
        fuzz_say(out, path);
        fuzz_say(out, " at iteration ");
        fuzz_say_uint(out, fuzz_cur_iteration);
        fuzz_say(out, " (seed ");
        fuzz_say_uint(out, fuzz_the_seed);
        fuzz_say(out, ")\n");
        if (data) {
            int fd = open(fuzz_crash_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

            if (fd >= 0) {
                while (len) {
                    ssize_t w = write(fd, data, len);
                    if (w <= 0)
                        break;
                    data += w;
                    len -= (size_t)w;
                }
                close(fd);
                fuzz_say(out, "# input written to ");
                fuzz_say(out, fuzz_crash_file);
                fuzz_say(out, "\n");
            }
        }
        fuzz_say(out, "# replay: MODVIRT_FUZZ_SEED=");
        fuzz_say_uint(out, fuzz_the_seed);
        fuzz_say(out, " MODVIRT_FUZZ_ITERATION=");
        fuzz_say_uint(out, fuzz_cur_iteration);
        fuzz_say(out, " ");
        fuzz_say(out, fuzz_prog);
        fuzz_say(out, " -p ");
        fuzz_say(out, path);
        fuzz_say(out, "\n");
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Debug messages about millions of rejected inputs would drown the TAP
 * output and cost most of the time (GLib's test mode prints them all). */
static void
fuzz_log_handler(const char *domain, GLogLevelFlags level, const char *message,
                 gpointer user_data)
{
    if (level & (G_LOG_LEVEL_DEBUG | G_LOG_LEVEL_INFO))
        return;
    g_log_default_handler(domain, level, message, user_data);
}

void
fuzz_init(int *argc, char ***argv)
{
    static const int sigs[] = { SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGALRM };

    g_test_init(argc, argv, NULL);
    if (!g_getenv("MODVIRT_FUZZ_DEBUG"))
        g_log_set_default_handler(fuzz_log_handler, NULL);
    fuzz_prog = g_strdup((*argv)[0]);
    fuzz_the_seed = (guint32)fuzz_env_int("MODVIRT_FUZZ_SEED", FUZZ_DEFAULT_SEED);
    fuzz_iterations_env = fuzz_env_int("MODVIRT_FUZZ_ITERATIONS", -1);
    fuzz_only_iteration = fuzz_env_int("MODVIRT_FUZZ_ITERATION", -1);
    fuzz_verbose = g_getenv("MODVIRT_FUZZ_VERBOSE") != NULL;
    fuzz_timeout = (guint)fuzz_env_int("MODVIRT_FUZZ_TIMEOUT", fuzz_timeout);
    fuzz_crash_dir = g_strdup(g_getenv("MODVIRT_FUZZ_CRASH_DIR") ?: g_get_tmp_dir());
    /* a crashing child must not see a parent's partial stdout twice */
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (size_t i = 0; i < G_N_ELEMENTS(sigs); i++) {
        struct sigaction sa = { 0 };

        sa.sa_handler = fuzz_crash_handler;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESETHAND | SA_NODEFER;
        sigaction(sigs[i], &sa, NULL);
    }
    /* a peer that went away is an error return, not a death */
    signal(SIGPIPE, SIG_IGN);
    printf("# fuzz seed %u (MODVIRT_FUZZ_SEED)%s\n", fuzz_the_seed,
           fuzz_only_iteration >= 0 ? ", replaying one iteration" : "");
}

guint32
fuzz_seed(void)
{
    return fuzz_the_seed;
}

void
fuzz_set_input(const guint8 *data, size_t len)
{
    fuzz_cur_data = NULL;
    fuzz_cur_len = len;
    fuzz_cur_data = data;
}

static void
fuzz_case_run(gconstpointer data)
{
    const FuzzCase *fc = data;
    guint n = fuzz_iterations_env >= 0 ? (guint)fuzz_iterations_env :
              MAX(fc->default_iterations / FUZZ_BUILD_DIVISOR, 1);
    guint first = 0;
    g_autofree char *base = g_strdelimit(g_strdup(fc->path + 1), "/", '-');
    gint64 start = g_get_monotonic_time();

    g_snprintf(fuzz_crash_file, sizeof(fuzz_crash_file), "%s/modvirt-fuzz-%s-%u.crash",
               fuzz_crash_dir, base, fuzz_the_seed);
    if (fuzz_only_iteration >= 0) {
        first = (guint)fuzz_only_iteration;
        n = first + 1;
    }
    fuzz_cur_path = fc->path;
    fuzz_cur_accepted = fuzz_cur_rejected = 0;
    for (guint i = first; i < n; i++) {
        guint32 seeds[3] = { fuzz_the_seed, g_str_hash(fc->path), i };
        GRand *rand = g_rand_new_with_seed_array(seeds, G_N_ELEMENTS(seeds));

        gint64 now = g_get_monotonic_time();

        fuzz_cur_iteration = i;
        fuzz_set_input(NULL, 0);
        /* a hang is a failure too: the watchdog is re-armed about once a
         * second (one syscall per iteration would cost more than many
         * iterations), so an iteration gets between T and T+1 s */
        if (fuzz_timeout && now - fuzz_last_arm > G_USEC_PER_SEC) {
            alarm(fuzz_timeout + 1);
            fuzz_last_arm = now;
        }
        fc->fn(rand, i, fc->data);
        g_rand_free(rand);
    }
    alarm(0);
    fuzz_last_arm = 0;
    fuzz_set_input(NULL, 0);
    fuzz_cur_path = NULL;
    g_test_message("%s: %u iterations in %.1f s: %u accepted, %u rejected", fc->path,
                   n - first, (double)(g_get_monotonic_time() - start) / G_USEC_PER_SEC,
                   fuzz_cur_accepted, fuzz_cur_rejected);
    if (n - first >= 100 && (!fuzz_cur_accepted || !fuzz_cur_rejected))
        g_error("%s: no input was %s: the fuzzer does not reach the parser's %s path",
                fc->path, fuzz_cur_accepted ? "rejected" : "accepted",
                fuzz_cur_accepted ? "error" : "success");
}

static void
fuzz_case_free(gpointer data)
{
    FuzzCase *fc = data;

    g_free(fc->path);
    g_free(fc);
}

void
fuzz_add(const char *path, guint default_iterations, FuzzIterFunc fn, gconstpointer data)
{
    FuzzCase *fc = g_new0(FuzzCase, 1);

    fc->path = g_strdup(path);
    fc->default_iterations = default_iterations;
    fc->fn = fn;
    fc->data = data;
    g_test_add_data_func_full(path, fc, fuzz_case_run, fuzz_case_free);
}

guint32
fuzz_interesting_u32(GRand *rand)
{
    static const guint32 vals[] = {
        0, 1, 2, 3, 4, 7, 8, 16, 20, 24, 28, 32, 64, 127, 128, 255, 256, 511, 512,
        1023, 1024, 4096, 65535, 65536, 65537, 0x7fff, 0x8000, 0xffff,
        16384, 16385,                  /* list maxima */
        4194304, 4194305,              /* string maximum */
        33554432, 33554436,            /* message maximum */
        0x7ffffffe, 0x7fffffff, 0x80000000, 0x80000001,
        0xfffffffc, 0xfffffffe, 0xffffffff,
    };

    if (g_rand_int_range(rand, 0, 8) == 0)
        return g_rand_int(rand);
    return vals[g_rand_int_range(rand, 0, G_N_ELEMENTS(vals))];
}

guint64
fuzz_interesting_u64(GRand *rand)
{
    static const guint64 vals[] = {
        0, 1, 512, 4096, 65536, 1ull << 21, 1ull << 30, 1ull << 31, 1ull << 32,
        (1ull << 32) - 1, 1ull << 40, 1ull << 55, 1ull << 56, 1ull << 62, 1ull << 63,
        G_MAXINT64, G_MAXUINT64, G_MAXUINT64 - 511,
    };

    if (g_rand_int_range(rand, 0, 4) == 0)
        return (guint64)fuzz_interesting_u32(rand);
    return vals[g_rand_int_range(rand, 0, G_N_ELEMENTS(vals))];
}

/* Insert @n bytes at @at (@data must not point into @buf). */
static void
fuzz_insert(GByteArray *buf, guint at, const guint8 *data, guint n)
{
    guint old = buf->len;

    g_byte_array_set_size(buf, old + n);
    memmove(buf->data + at + n, buf->data + at, old - at);
    memcpy(buf->data + at, data, n);
}

/* min(@limit, a random number in [@lo, @hi)); MIN() would draw twice */
static gsize
fuzz_upto(GRand *rand, gsize limit, gint32 lo, gint32 hi)
{
    gsize n = (gsize)g_rand_int_range(rand, lo, hi);

    return MIN(limit, n);
}

static gsize
fuzz_pos(GRand *rand, gsize len)
{
    return len ? (gsize)g_rand_int_range(rand, 0, (gint32)MIN(len, (gsize)G_MAXINT32)) : 0;
}

static void
fuzz_edit(GRand *rand, GByteArray *buf, const FuzzDict *dict, GPtrArray *others)
{
    gsize len = buf->len;
    gsize at = fuzz_pos(rand, len);

    switch (g_rand_int_range(rand, 0, 13)) {
    case 0: /* flip a bit */
        if (len)
            buf->data[at] ^= (guint8)(1u << g_rand_int_range(rand, 0, 8));
        break;
    case 1: { /* an interesting byte */
        static const guint8 bytes[] = { 0, 1, 0x7f, 0x80, 0xff, 0xfe, '\n', '"', '\\', ' ' };

        if (len)
            buf->data[at] = bytes[g_rand_int_range(rand, 0, G_N_ELEMENTS(bytes))];
        break;
    }
    case 2:
    case 3: { /* an interesting big-endian word, usually at a 4-byte boundary */
        guint32 v = fuzz_interesting_u32(rand);

        /* GUINT32_TO_BE may evaluate its argument more than once */
        v = GUINT32_TO_BE(v);
        if (g_rand_boolean(rand))
            at &= ~(gsize)3;
        if (len >= 4 && at + 4 <= len)
            memcpy(buf->data + at, &v, 4);
        break;
    }
    case 4: { /* an interesting big-endian 64-bit value */
        guint64 v = fuzz_interesting_u64(rand);

        v = GUINT64_TO_BE(v);
        at &= ~(gsize)3;
        if (len >= 8 && at + 8 <= len)
            memcpy(buf->data + at, &v, 8);
        break;
    }
    case 5: /* delete a range */
        if (len)
            g_byte_array_remove_range(buf, (guint)at,
                                      (guint)fuzz_upto(rand, len - at, 1, 33));
        break;
    case 6: { /* insert random bytes */
        guint8 tmp[16];
        guint n = (guint)g_rand_int_range(rand, 1, sizeof(tmp) + 1);

        for (guint i = 0; i < n; i++)
            tmp[i] = (guint8)g_rand_int_range(rand, 0, 256);
        fuzz_insert(buf, (guint)at, tmp, n);
        break;
    }
    case 7: { /* duplicate a range somewhere else */
        gsize n = fuzz_upto(rand, len - at, 1, 257);
        g_autofree guint8 *copy = len ? g_memdup2(buf->data + at, n) : NULL;

        if (copy)
            fuzz_insert(buf, (guint)fuzz_pos(rand, len + 1), copy, (guint)n);
        break;
    }
    case 8: /* truncate */
        g_byte_array_set_size(buf, (guint)at);
        break;
    case 9: { /* append */
        guint n = (guint)g_rand_int_range(rand, 1, 9);

        for (guint i = 0; i < n; i++) {
            guint8 b = (guint8)g_rand_int_range(rand, 0, 256);
            g_byte_array_append(buf, &b, 1);
        }
        break;
    }
    case 10:
    case 11: /* a token of the grammar */
        if (dict && dict->n_tokens) {
            const char *t = dict->tokens[g_rand_int_range(rand, 0, (gint32)dict->n_tokens)];

            if (g_rand_boolean(rand) || !len) {
                fuzz_insert(buf, (guint)fuzz_pos(rand, len + 1), (const guint8 *)t,
                                    (guint)strlen(t));
            } else {
                gsize n = MIN(len - at, strlen(t));

                memcpy(buf->data + at, t, n);
            }
        }
        break;
    case 12: /* splice in a piece of another seed */
        if (others && others->len) {
            GByteArray *o = others->pdata[g_rand_int_range(rand, 0, (gint32)others->len)];
            gsize from = fuzz_pos(rand, o->len);
            gsize n = fuzz_upto(rand, o->len - from, 1, 513);

            if (o->len)
                fuzz_insert(buf, (guint)fuzz_pos(rand, len + 1), o->data + from,
                                    (guint)n);
        }
        break;
    }
}

void
fuzz_mutate(GRand *rand, GByteArray *buf, guint max_edits, const FuzzDict *dict,
            GPtrArray *others)
{
    guint edits = (guint)g_rand_int_range(rand, 1, (gint32)MAX(max_edits, 1) + 1);

    for (guint i = 0; i < edits; i++)
        fuzz_edit(rand, buf, dict, others);
}

GByteArray *
fuzz_read_file(const char *path)
{
    g_autoptr(GError) error = NULL;
    char *text = NULL;
    gsize len = 0;

    if (!g_file_get_contents(path, &text, &len, &error))
        g_error("cannot read '%s': %s", path, error->message);
    return g_byte_array_new_take((guint8 *)text, len);
}

static gint
fuzz_cmp_str(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

GPtrArray *
fuzz_list_dir(const char *dir, const char *suffix)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GDir) d = g_dir_open(dir, 0, &error);
    GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
    const char *name;

    if (!d)
        g_error("cannot list '%s': %s", dir, error->message);
    while ((name = g_dir_read_name(d)))
        if (g_str_has_suffix(name, suffix))
            g_ptr_array_add(out, g_build_filename(dir, name, NULL));
    g_ptr_array_sort(out, fuzz_cmp_str);
    return out;
}

void
fuzz_accepted(bool accepted)
{
    if (accepted)
        fuzz_cur_accepted++;
    else
        fuzz_cur_rejected++;
    if (fuzz_verbose)
        printf("# %s %u: %s\n", fuzz_cur_path, fuzz_cur_iteration,
               accepted ? "accepted" : "rejected");
}

void
fuzz_note(const char *fmt, ...)
{
    va_list ap;
    g_autofree char *text = NULL;

    if (!fuzz_verbose)
        return;
    va_start(ap, fmt);
    text = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    /* one TAP comment line, whatever the text holds */
    g_strdelimit(text, "\n", ' ');
    printf("# %s\n", text);
}
