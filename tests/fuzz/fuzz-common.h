/*
 * fuzz-common.h: seeded, deterministic mutation fuzzing for the tests in
 * tests/fuzz.
 *
 * Every iteration of a case draws its input from a GRand seeded with
 * (seed, case path, iteration), so one iteration replays alone:
 *
 *   MODVIRT_FUZZ_SEED=S       the seed (default: FUZZ_DEFAULT_SEED), printed
 *                             as a TAP comment at the start
 *   MODVIRT_FUZZ_ITERATIONS=N iterations per case instead of each case's
 *                             default (run longer: a bigger N); without
 *                             it, builds without ASan/UBSan run a quarter
 *                             of the default
 *   MODVIRT_FUZZ_ITERATION=I  run only iteration I of every case (replay)
 *   MODVIRT_FUZZ_VERBOSE=1    print each iteration's outcome
 *   MODVIRT_FUZZ_TIMEOUT=T    an iteration running longer than about T s
 *                             (default 10, 0 = no limit) is a hang: fail
 *   MODVIRT_FUZZ_CRASH_DIR=D  where the input of a crashing iteration is
 *                             written (default: the temporary directory)
 *
 * On a crash, a hang, a sanitizer abort or a failed assertion, the signal handler
 * names the case, the iteration and the seed, writes the input to a file
 * and prints the command line that replays it.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>

#define FUZZ_DEFAULT_SEED 20240601u

/* Tokens a mutation may insert, for inputs with a grammar. */
typedef struct {
    const char *const *tokens;
    size_t n_tokens;
} FuzzDict;

/* g_test_init, environment, seed comment, crash handler. */
void fuzz_init(int *argc, char ***argv);
guint32 fuzz_seed(void);

/* Drive @fn(rand, iteration, data) for @default_iterations iterations (or
 * what the environment says) of the case @path; registered with
 * g_test_add_data_func so that -p PATH picks one case. */
typedef void (*FuzzIterFunc)(GRand *rand, guint iteration, gconstpointer data);
void fuzz_add(const char *path, guint default_iterations, FuzzIterFunc fn,
              gconstpointer data);

/* The input being tried, saved if the process dies; @data must stay valid
 * until the next call or fuzz_set_input(NULL, 0). */
void fuzz_set_input(const guint8 *data, size_t len);

/* Apply 1 to @max_edits random edits to @buf; @dict may be NULL.  @others
 * (may be NULL) are other seeds to splice from. */
void fuzz_mutate(GRand *rand, GByteArray *buf, guint max_edits, const FuzzDict *dict,
                 GPtrArray *others);

/* An "interesting" 32-bit value: 0, 1, maxima, sign bits, protocol limits. */
guint32 fuzz_interesting_u32(GRand *rand);
guint64 fuzz_interesting_u64(GRand *rand);

/* The whole file, or g_error. */
GByteArray *fuzz_read_file(const char *path);
/* The files of @dir whose names end in @suffix, sorted, full paths. */
GPtrArray *fuzz_list_dir(const char *dir, const char *suffix);

/* Count the outcome of the current iteration: the input was accepted
 * (parsed, decoded...) or cleanly rejected.  Each case prints its totals
 * and fails if a run of 100 or more iterations never saw one of the two
 * (the mutations would be missing the parser or the seeds be broken).
 * With MODVIRT_FUZZ_VERBOSE set each outcome is printed with its iteration
 * number, to compare two builds' runs line by line. */
void fuzz_accepted(bool accepted);
/* A TAP comment printed only with MODVIRT_FUZZ_VERBOSE (why an input was
 * rejected). */
void fuzz_note(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
