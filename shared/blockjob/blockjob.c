/*
 * blockjob.c: the block-job state machine: its two tables and the
 * functions that read them.
 *
 * Both tables are indexed [state][event or action]; each cell holds the
 * rule for one-phase jobs (pull, commit) and for two-phase jobs (copy,
 * active commit) side by side, so a reader sees at once where the two
 * kinds differ.  A cell left out is "not allowed" (the zero value).
 */
#define G_LOG_DOMAIN "modvirt.blockjob"

#include "blockjob.h"

#include <string.h>

#include "util-error.h"

/* ------------------------------------------------------------------ */
/* enum string tables (the state, status, type and flag names are     */
/* written to the status file: they are ABI)                          */
/* ------------------------------------------------------------------ */

static const char *const blockjob_type_names[] = {
    [BLOCKJOB_TYPE_PULL] = "pull",
    [BLOCKJOB_TYPE_COPY] = "copy",
    [BLOCKJOB_TYPE_COMMIT] = "commit",
    [BLOCKJOB_TYPE_ACTIVE_COMMIT] = "active-commit",
};
G_STATIC_ASSERT(G_N_ELEMENTS(blockjob_type_names) == BLOCKJOB_TYPE_LAST);

static const char *const blockjob_status_names[] = {
    [BLOCKJOB_STATUS_COMPLETED] = "completed",
    [BLOCKJOB_STATUS_FAILED] = "failed",
    [BLOCKJOB_STATUS_CANCELED] = "canceled",
    [BLOCKJOB_STATUS_READY] = "ready",
};
G_STATIC_ASSERT(G_N_ELEMENTS(blockjob_status_names) == BLOCKJOB_STATUS_LAST);

static const char *const blockjob_state_names[] = {
    [BLOCKJOB_STATE_NEW] = "new",
    [BLOCKJOB_STATE_RUNNING] = "running",
    [BLOCKJOB_STATE_READY] = "ready",
    [BLOCKJOB_STATE_ABORTING] = "aborting",
    [BLOCKJOB_STATE_PIVOTING] = "pivoting",
    [BLOCKJOB_STATE_CONCLUDED] = "concluded",
    [BLOCKJOB_STATE_PROCESSED] = "processed",
    [BLOCKJOB_STATE_REPORTED] = "reported",
};
G_STATIC_ASSERT(G_N_ELEMENTS(blockjob_state_names) == BLOCKJOB_STATE_LAST);

static const char *const blockjob_event_names[] = {
    [BLOCKJOB_EVENT_START_OK] = "start-ok",
    [BLOCKJOB_EVENT_START_FAILED] = "start-failed",
    [BLOCKJOB_EVENT_REQUEST_FAILED] = "request-failed",
    [BLOCKJOB_EVENT_RUNNING] = "running",
    [BLOCKJOB_EVENT_READY] = "ready",
    [BLOCKJOB_EVENT_COMPLETED] = "completed",
    [BLOCKJOB_EVENT_FAILED] = "failed",
    [BLOCKJOB_EVENT_CANCELLED] = "cancelled",
    [BLOCKJOB_EVENT_CONCLUDED] = "concluded",
    [BLOCKJOB_EVENT_VANISHED] = "vanished",
    [BLOCKJOB_EVENT_DOMAIN_STOPPED] = "domain-stopped",
    [BLOCKJOB_EVENT_GRAPH_DONE] = "graph-done",
    [BLOCKJOB_EVENT_GRAPH_UNCHANGED] = "graph-unchanged",
    [BLOCKJOB_EVENT_PROCESSED] = "processed",
    [BLOCKJOB_EVENT_REPORTED] = "reported",
};
G_STATIC_ASSERT(G_N_ELEMENTS(blockjob_event_names) == BLOCKJOB_EVENT_LAST);

static const char *const blockjob_effect_names[] = {
    [BLOCKJOB_EFFECT_NONE] = "none",
    [BLOCKJOB_EFFECT_EMIT_READY] = "emit-ready",
    [BLOCKJOB_EFFECT_QUERY_OUTCOME] = "query-outcome",
    [BLOCKJOB_EFFECT_RECONCILE] = "reconcile",
    [BLOCKJOB_EFFECT_RESEND_REQUEST] = "resend-request",
    [BLOCKJOB_EFFECT_DISCARD] = "discard",
    [BLOCKJOB_EFFECT_FINISH] = "finish",
    [BLOCKJOB_EFFECT_EMIT_EVENT] = "emit-event",
    [BLOCKJOB_EFFECT_CLEANUP] = "cleanup",
};
G_STATIC_ASSERT(G_N_ELEMENTS(blockjob_effect_names) == BLOCKJOB_EFFECT_LAST);

static const char *const blockjob_action_names[] = {
    [BLOCKJOB_ACTION_START] = "start",
    [BLOCKJOB_ACTION_ABORT] = "abort",
    [BLOCKJOB_ACTION_ABORT_ASYNC] = "abort-async",
    [BLOCKJOB_ACTION_PIVOT] = "pivot",
    [BLOCKJOB_ACTION_SET_SPEED] = "set-speed",
    [BLOCKJOB_ACTION_INFO] = "info",
};
G_STATIC_ASSERT(G_N_ELEMENTS(blockjob_action_names) == BLOCKJOB_ACTION_LAST);

static const char *const blockjob_finish_names[] = {
    [BLOCKJOB_FINISH_KEEP_CHAIN] = "keep-chain",
    [BLOCKJOB_FINISH_DROP_MIRROR] = "drop-mirror",
    [BLOCKJOB_FINISH_PULL] = "pull",
    [BLOCKJOB_FINISH_COMMIT] = "commit",
    [BLOCKJOB_FINISH_PIVOT] = "pivot",
};
G_STATIC_ASSERT(G_N_ELEMENTS(blockjob_finish_names) == BLOCKJOB_FINISH_LAST);

/* Indexed by bit number. */
static const char *const blockjob_flag_names[] = {
    "shallow", "delete", "relative", "reuse-ext", "transient", "sync-writes",
};
G_STATIC_ASSERT(1u << G_N_ELEMENTS(blockjob_flag_names) == BLOCKJOB_FLAG_LAST);

static const char *
blockjob_name(const char *const *table, unsigned int n, unsigned int value)
{
    return value < n ? table[value] : NULL;
}

static int
blockjob_value(const char *const *table, int n, const char *str)
{
    for (int i = 0; str && i < n; i++) {
        if (table[i] && strcmp(table[i], str) == 0)
            return i;
    }
    return -1;
}

#define BLOCKJOB_NAME(table, value) \
    blockjob_name(table, G_N_ELEMENTS(table), (unsigned int)(value))
#define BLOCKJOB_VALUE(table, str) \
    blockjob_value(table, G_N_ELEMENTS(table), str)

const char *blockjob_type_to_string(BlockJobType type) { return BLOCKJOB_NAME(blockjob_type_names, type); }
int blockjob_type_from_string(const char *str) { return BLOCKJOB_VALUE(blockjob_type_names, str); }
const char *blockjob_status_to_string(BlockJobStatus status) { return BLOCKJOB_NAME(blockjob_status_names, status); }
int blockjob_status_from_string(const char *str) { return BLOCKJOB_VALUE(blockjob_status_names, str); }
const char *blockjob_state_to_string(BlockJobState state) { return BLOCKJOB_NAME(blockjob_state_names, state); }
int blockjob_state_from_string(const char *str) { return BLOCKJOB_VALUE(blockjob_state_names, str); }
const char *blockjob_event_to_string(BlockJobEvent event) { return BLOCKJOB_NAME(blockjob_event_names, event); }
const char *blockjob_effect_to_string(BlockJobEffect effect) { return BLOCKJOB_NAME(blockjob_effect_names, effect); }
const char *blockjob_action_to_string(BlockJobAction action) { return BLOCKJOB_NAME(blockjob_action_names, action); }
const char *blockjob_finish_to_string(BlockJobFinish finish) { return BLOCKJOB_NAME(blockjob_finish_names, finish); }

const char *
blockjob_flag_to_string(unsigned int flag)
{
    if (flag == 0 || (flag & (flag - 1)) != 0)
        return NULL;
    return BLOCKJOB_NAME(blockjob_flag_names, g_bit_nth_lsf(flag, -1));
}

int
blockjob_flag_from_string(const char *str)
{
    int bit = BLOCKJOB_VALUE(blockjob_flag_names, str);

    return bit < 0 ? -1 : 1 << bit;
}

/* ------------------------------------------------------------------ */
/* job kinds                                                           */
/* ------------------------------------------------------------------ */

bool
blockjob_type_is_two_phase(BlockJobType type)
{
    switch (type) {
    case BLOCKJOB_TYPE_PULL:
    case BLOCKJOB_TYPE_COMMIT:
        return false;
    case BLOCKJOB_TYPE_COPY:
    case BLOCKJOB_TYPE_ACTIVE_COMMIT:
        return true;
    case BLOCKJOB_TYPE_LAST:
        break;
    }
    g_return_val_if_reached(false);
}

bool
blockjob_state_possible(BlockJobType type, BlockJobState state)
{
    switch (state) {
    case BLOCKJOB_STATE_READY:
    case BLOCKJOB_STATE_PIVOTING:
        return blockjob_type_is_two_phase(type);
    case BLOCKJOB_STATE_NEW:
    case BLOCKJOB_STATE_RUNNING:
    case BLOCKJOB_STATE_ABORTING:
    case BLOCKJOB_STATE_CONCLUDED:
    case BLOCKJOB_STATE_PROCESSED:
    case BLOCKJOB_STATE_REPORTED:
        return true;
    case BLOCKJOB_STATE_LAST:
        break;
    }
    return false;
}

/* ------------------------------------------------------------------ */
/* the transition table                                                */
/* ------------------------------------------------------------------ */

typedef enum {
    BLOCKJOB_MOVE_INVALID,      /* the event is not allowed here (zero: cells left out) */
    BLOCKJOB_MOVE_STAY,         /* state unchanged */
    BLOCKJOB_MOVE_GO,           /* to .next */
    BLOCKJOB_MOVE_END,          /* to CONCLUDED with .outcome */
    BLOCKJOB_MOVE_RESUME,       /* back from a refused request: READY if the
                                 * job has been ready, else RUNNING */

    BLOCKJOB_MOVE_LAST
} BlockJobMove;

typedef struct {
    BlockJobMove move;
    BlockJobState next;         /* GO */
    BlockJobStatus outcome;     /* END */
    BlockJobEffect effect;
} BlockJobTransition;

/* The rule for one-phase jobs (pull, commit) and for two-phase jobs (copy,
 * active commit). */
typedef struct {
    BlockJobTransition one;
    BlockJobTransition two;
} BlockJobTransitionCell;

#define STAY(eff) { .move = BLOCKJOB_MOVE_STAY, .effect = BLOCKJOB_EFFECT_##eff }
#define GO(st, eff) \
    { .move = BLOCKJOB_MOVE_GO, .next = BLOCKJOB_STATE_##st, .effect = BLOCKJOB_EFFECT_##eff }
#define END(out) \
    { .move = BLOCKJOB_MOVE_END, .outcome = BLOCKJOB_STATUS_##out, .effect = BLOCKJOB_EFFECT_FINISH }
#define RESUME { .move = BLOCKJOB_MOVE_RESUME, .effect = BLOCKJOB_EFFECT_NONE }
#define NOPE { .move = BLOCKJOB_MOVE_INVALID }
#define BOTH(t) { .one = t, .two = t }
#define TWO(t) { .one = NOPE, .two = t }
#define SPLIT(t1, t2) { .one = t1, .two = t2 }
#define EV(name) [BLOCKJOB_EVENT_##name]

/* What every live job (QEMU has not told its end yet) does, for the kinds
 * of job selected by @k (BOTH or TWO). */
#define ALIVE(k) \
    EV(START_OK) = k(STAY(NONE)), \
    EV(RUNNING) = k(STAY(NONE)), \
    EV(CONCLUDED) = k(STAY(QUERY_OUTCOME)), \
    EV(VANISHED) = k(STAY(RECONCILE)), \
    EV(DOMAIN_STOPPED) = k(END(FAILED)), \
    EV(GRAPH_DONE) = k(END(COMPLETED))

/* Once the outcome is known, any report of the end (again, or after a
 * restart) restates the effect still @owed. */
#define ENDED(owed) \
    EV(START_OK) = BOTH(STAY(NONE)), \
    EV(REQUEST_FAILED) = BOTH(STAY(NONE)), \
    EV(CONCLUDED) = BOTH(STAY(NONE)), \
    EV(COMPLETED) = BOTH(STAY(owed)), \
    EV(FAILED) = BOTH(STAY(owed)), \
    EV(CANCELLED) = BOTH(STAY(owed)), \
    EV(VANISHED) = BOTH(STAY(owed)), \
    EV(DOMAIN_STOPPED) = BOTH(STAY(owed))

/*
 * Notes on the less obvious cells:
 *  - START_OK may come after any number of events (QEMU sends created,
 *    running, even concluded before the reply): harmless after NEW.
 *  - COMPLETED for a two-phase job means "switched" only when we asked
 *    for a pivot; in ABORTING it is QEMU's soft cancel of a ready job
 *    (CANCELED); with no request of ours someone else ended the job and
 *    only the block graph tells whether it pivoted (RECONCILE).  For
 *    one-phase jobs COMPLETED always means the chain changed, even in
 *    ABORTING (the job ended before the cancel reached it).
 *  - FAILED while ABORTING is CANCELED: a cancelled job concludes with an
 *    error ("Operation canceled") in query-jobs, and either way the user
 *    asked for the end and the chain is the original one.
 *  - READY while ABORTING or PIVOTING: after a restart, QEMU's job is
 *    still waiting for a request that may never have left: resend it.
 *  - A job never started in QEMU (start refused, or unknown to QEMU while
 *    still NEW after a restart, or the domain gone) is discarded silently.
 */
static const BlockJobTransitionCell blockjob_transitions[BLOCKJOB_STATE_LAST][BLOCKJOB_EVENT_LAST] = {
    [BLOCKJOB_STATE_NEW] = {
        EV(START_OK) = BOTH(GO(RUNNING, NONE)),
        EV(START_FAILED) = BOTH(STAY(DISCARD)),
        EV(RUNNING) = BOTH(GO(RUNNING, NONE)),
        EV(READY) = TWO(GO(READY, EMIT_READY)),
        EV(COMPLETED) = SPLIT(END(COMPLETED), STAY(RECONCILE)),
        EV(FAILED) = BOTH(END(FAILED)),
        EV(CANCELLED) = BOTH(END(CANCELED)),
        EV(CONCLUDED) = BOTH(STAY(QUERY_OUTCOME)),
        EV(VANISHED) = BOTH(STAY(DISCARD)),
        EV(DOMAIN_STOPPED) = BOTH(STAY(DISCARD)),
    },
    [BLOCKJOB_STATE_RUNNING] = {
        ALIVE(BOTH),
        EV(READY) = TWO(GO(READY, EMIT_READY)),
        EV(COMPLETED) = SPLIT(END(COMPLETED), STAY(RECONCILE)),
        EV(FAILED) = BOTH(END(FAILED)),
        EV(CANCELLED) = BOTH(END(CANCELED)),
        EV(GRAPH_UNCHANGED) = BOTH(END(FAILED)),
    },
    [BLOCKJOB_STATE_READY] = {
        ALIVE(TWO),
        EV(READY) = TWO(STAY(NONE)),
        EV(COMPLETED) = TWO(STAY(RECONCILE)),
        EV(FAILED) = TWO(END(FAILED)),
        EV(CANCELLED) = TWO(END(CANCELED)),
        EV(GRAPH_UNCHANGED) = TWO(END(FAILED)),
    },
    [BLOCKJOB_STATE_ABORTING] = {
        ALIVE(BOTH),
        EV(REQUEST_FAILED) = BOTH(RESUME),
        EV(READY) = TWO(STAY(RESEND_REQUEST)),
        EV(COMPLETED) = SPLIT(END(COMPLETED), END(CANCELED)),
        EV(FAILED) = BOTH(END(CANCELED)),
        EV(CANCELLED) = BOTH(END(CANCELED)),
        EV(GRAPH_UNCHANGED) = BOTH(END(CANCELED)),
    },
    [BLOCKJOB_STATE_PIVOTING] = {
        ALIVE(TWO),
        EV(REQUEST_FAILED) = TWO(GO(READY, NONE)),
        EV(READY) = TWO(STAY(RESEND_REQUEST)),
        EV(COMPLETED) = TWO(END(COMPLETED)),
        EV(FAILED) = TWO(END(FAILED)),
        EV(CANCELLED) = TWO(END(CANCELED)),
        EV(GRAPH_UNCHANGED) = TWO(END(FAILED)),
    },
    [BLOCKJOB_STATE_CONCLUDED] = {
        ENDED(FINISH),
        EV(PROCESSED) = BOTH(GO(PROCESSED, EMIT_EVENT)),
    },
    [BLOCKJOB_STATE_PROCESSED] = {
        ENDED(EMIT_EVENT),
        EV(REPORTED) = BOTH(GO(REPORTED, CLEANUP)),
    },
    [BLOCKJOB_STATE_REPORTED] = {
        ENDED(CLEANUP),
    },
};

#undef STAY
#undef GO
#undef END
#undef RESUME
#undef NOPE
#undef BOTH
#undef TWO
#undef SPLIT
#undef EV
#undef ALIVE
#undef ENDED

static const BlockJobTransition *
blockjob_transition(const BlockJob *job, BlockJobEvent event)
{
    const BlockJobTransitionCell *cell = &blockjob_transitions[job->state][event];

    return blockjob_type_is_two_phase(job->type) ? &cell->two : &cell->one;
}

static void
blockjob_set_state(BlockJob *job, BlockJobState state, const char *why)
{
    if (job->state == state)
        return;
    g_debug("block job '%s' on disk '%s': %s -> %s (%s)", job->id, job->disk,
            blockjob_state_to_string(job->state), blockjob_state_to_string(state), why);
    job->state = state;
}

bool
blockjob_apply_event(BlockJob *job, BlockJobEvent event, const char *detail,
                     BlockJobStep *ret_step, GError **error)
{
    const BlockJobTransition *rule;
    BlockJobState old_state = job->state;
    bool old_ready = job->ready;
    bool changed_error = false;
    BlockJobStep step = { 0 };

    if ((unsigned)event >= BLOCKJOB_EVENT_LAST || (unsigned)job->state >= BLOCKJOB_STATE_LAST) {
        util_error_set(error, BLOCKJOB_ERROR_DOMAIN, VIR_ERR_INTERNAL_ERROR,
                       "block job '%s': invalid event %d in state %d",
                       job->id, (int)event, (int)job->state);
        return false;
    }
    rule = blockjob_transition(job, event);
    switch (rule->move) {
    case BLOCKJOB_MOVE_INVALID:
    case BLOCKJOB_MOVE_LAST:
        util_error_set(error, BLOCKJOB_ERROR_DOMAIN, VIR_ERR_INTERNAL_ERROR,
                       "block job '%s' on disk '%s': unexpected event '%s' in state '%s'",
                       job->id, job->disk, blockjob_event_to_string(event),
                       blockjob_state_to_string(job->state));
        return false;
    case BLOCKJOB_MOVE_STAY:
        break;
    case BLOCKJOB_MOVE_GO:
        blockjob_set_state(job, rule->next, blockjob_event_to_string(event));
        break;
    case BLOCKJOB_MOVE_END:
        job->outcome = rule->outcome;
        blockjob_set_state(job, BLOCKJOB_STATE_CONCLUDED, blockjob_event_to_string(event));
        g_debug("block job '%s' on disk '%s': outcome %s", job->id, job->disk,
                blockjob_status_to_string(job->outcome));
        break;
    case BLOCKJOB_MOVE_RESUME:
        blockjob_set_state(job, job->ready ? BLOCKJOB_STATE_READY : BLOCKJOB_STATE_RUNNING,
                           blockjob_event_to_string(event));
        break;
    }
    if (event == BLOCKJOB_EVENT_READY)
        job->ready = true;
    if (detail && g_strcmp0(detail, job->error) != 0) {
        g_free(job->error);
        job->error = g_strdup(detail);
        changed_error = true;
    }
    step.effect = rule->effect;
    step.persist = job->state != old_state || job->ready != old_ready || changed_error;
    if (step.effect != BLOCKJOB_EFFECT_NONE)
        g_debug("block job '%s' on disk '%s': event '%s' asks for '%s'", job->id, job->disk,
                blockjob_event_to_string(event), blockjob_effect_to_string(step.effect));
    *ret_step = step;
    return true;
}

/* ------------------------------------------------------------------ */
/* the action table                                                    */
/* ------------------------------------------------------------------ */

typedef enum {
    BLOCKJOB_REFUSAL_NONE,          /* accepted */
    BLOCKJOB_REFUSAL_NO_JOB,        /* nothing to act on (INFO: "no job", not an error) */
    BLOCKJOB_REFUSAL_NO_JOB_TO_PIVOT,
    BLOCKJOB_REFUSAL_BUSY,          /* a pull/commit job holds the disk */
    BLOCKJOB_REFUSAL_BUSY_MIRROR,   /* a copy/active commit job holds the disk */
    BLOCKJOB_REFUSAL_STARTING,
    BLOCKJOB_REFUSAL_NOT_READY,
    BLOCKJOB_REFUSAL_CANNOT_PIVOT,
    BLOCKJOB_REFUSAL_ENDING,
    BLOCKJOB_REFUSAL_IMPOSSIBLE,    /* a state this kind of job never has */

    BLOCKJOB_REFUSAL_LAST
} BlockJobRefusal;

typedef struct {
    BlockJobRefusal refusal;
    bool moves;                 /* the action moves the job to .next */
    BlockJobState next;
} BlockJobVerdict;

typedef struct {
    BlockJobVerdict one;
    BlockJobVerdict two;
} BlockJobActionCell;

#define OK { .refusal = BLOCKJOB_REFUSAL_NONE }
#define OK_TO(st) { .refusal = BLOCKJOB_REFUSAL_NONE, .moves = true, .next = BLOCKJOB_STATE_##st }
#define NO(why) { .refusal = BLOCKJOB_REFUSAL_##why }
#define BOTH(v) { .one = v, .two = v }
#define TWO(v) { .one = NO(IMPOSSIBLE), .two = v }
#define SPLIT(v1, v2) { .one = v1, .two = v2 }
#define AC(name) [BLOCKJOB_ACTION_##name]

/* A disk without a job (or whose job's end is already applied). */
static const BlockJobRefusal blockjob_actions_without_job[BLOCKJOB_ACTION_LAST] = {
    [BLOCKJOB_ACTION_START] = BLOCKJOB_REFUSAL_NONE,
    [BLOCKJOB_ACTION_ABORT] = BLOCKJOB_REFUSAL_NO_JOB,
    [BLOCKJOB_ACTION_ABORT_ASYNC] = BLOCKJOB_REFUSAL_NO_JOB,
    [BLOCKJOB_ACTION_PIVOT] = BLOCKJOB_REFUSAL_NO_JOB_TO_PIVOT,
    [BLOCKJOB_ACTION_SET_SPEED] = BLOCKJOB_REFUSAL_NO_JOB,
    [BLOCKJOB_ACTION_INFO] = BLOCKJOB_REFUSAL_NO_JOB,
};

/* A second job is refused for as long as the record exists; the code
 * tells whether the disk has a mirror. */
#define BUSY SPLIT(NO(BUSY), NO(BUSY_MIRROR))

/* Being ended (abort or pivot asked, or QEMU has ended it): only INFO. */
#define ENDING(k) \
    AC(ABORT) = k(NO(ENDING)), \
    AC(ABORT_ASYNC) = k(NO(ENDING)), \
    AC(PIVOT) = k(NO(ENDING)), \
    AC(SET_SPEED) = k(NO(ENDING)), \
    AC(INFO) = k(OK)

/* The end is applied to the definition: for the user there is no job. */
#define GONE \
    AC(START) = BUSY, \
    AC(ABORT) = BOTH(NO(NO_JOB)), \
    AC(ABORT_ASYNC) = BOTH(NO(NO_JOB)), \
    AC(PIVOT) = BOTH(NO(NO_JOB_TO_PIVOT)), \
    AC(SET_SPEED) = BOTH(NO(NO_JOB)), \
    AC(INFO) = BOTH(NO(NO_JOB))

static const BlockJobActionCell blockjob_actions[BLOCKJOB_STATE_LAST][BLOCKJOB_ACTION_LAST] = {
    [BLOCKJOB_STATE_NEW] = {
        AC(START) = BUSY,
        AC(ABORT) = BOTH(NO(STARTING)),
        AC(ABORT_ASYNC) = BOTH(NO(STARTING)),
        AC(PIVOT) = SPLIT(NO(CANNOT_PIVOT), NO(NOT_READY)),
        AC(SET_SPEED) = BOTH(NO(STARTING)),
        AC(INFO) = BOTH(OK),
    },
    [BLOCKJOB_STATE_RUNNING] = {
        AC(START) = BUSY,
        AC(ABORT) = BOTH(OK_TO(ABORTING)),
        AC(ABORT_ASYNC) = BOTH(OK_TO(ABORTING)),
        AC(PIVOT) = SPLIT(NO(CANNOT_PIVOT), NO(NOT_READY)),
        AC(SET_SPEED) = BOTH(OK),
        AC(INFO) = BOTH(OK),
    },
    [BLOCKJOB_STATE_READY] = {
        AC(START) = TWO(NO(BUSY_MIRROR)),
        AC(ABORT) = TWO(OK_TO(ABORTING)),
        AC(ABORT_ASYNC) = TWO(OK_TO(ABORTING)),
        AC(PIVOT) = TWO(OK_TO(PIVOTING)),
        AC(SET_SPEED) = TWO(OK),
        AC(INFO) = TWO(OK),
    },
    [BLOCKJOB_STATE_ABORTING] = { AC(START) = BUSY, ENDING(BOTH) },
    [BLOCKJOB_STATE_PIVOTING] = { AC(START) = TWO(NO(BUSY_MIRROR)), ENDING(TWO) },
    [BLOCKJOB_STATE_CONCLUDED] = { AC(START) = BUSY, ENDING(BOTH) },
    [BLOCKJOB_STATE_PROCESSED] = { GONE },
    [BLOCKJOB_STATE_REPORTED] = { GONE },
};

#undef OK
#undef OK_TO
#undef NO
#undef BOTH
#undef TWO
#undef SPLIT
#undef AC
#undef BUSY
#undef ENDING
#undef GONE

static void
blockjob_refuse(GError **error, BlockJobRefusal refusal, const BlockJob *job,
                const char *disk)
{
    int dom = BLOCKJOB_ERROR_DOMAIN;

    switch (refusal) {
    case BLOCKJOB_REFUSAL_NO_JOB:
        util_error_set(error, dom, VIR_ERR_INVALID_ARG,
                       "disk %s does not have an active block job", disk);
        return;
    case BLOCKJOB_REFUSAL_NO_JOB_TO_PIVOT:
        util_error_set(error, dom, VIR_ERR_OPERATION_INVALID,
                       "disk %s does not have an active block job", disk);
        return;
    case BLOCKJOB_REFUSAL_BUSY:
        util_error_set(error, dom, VIR_ERR_OPERATION_UNSUPPORTED,
                       "disk '%s' already in active block job", disk);
        return;
    case BLOCKJOB_REFUSAL_BUSY_MIRROR:
        util_error_set(error, dom, VIR_ERR_BLOCK_COPY_ACTIVE,
                       "disk '%s' already in active block job", disk);
        return;
    case BLOCKJOB_REFUSAL_STARTING:
        util_error_set(error, dom, VIR_ERR_OPERATION_INVALID,
                       "block job on disk '%s' is still being started", disk);
        return;
    case BLOCKJOB_REFUSAL_NOT_READY:
        util_error_set(error, dom, VIR_ERR_BLOCK_COPY_ACTIVE,
                       "disk '%s' not ready for pivot yet", disk);
        return;
    case BLOCKJOB_REFUSAL_CANNOT_PIVOT:
        util_error_set(error, dom, VIR_ERR_OPERATION_INVALID,
                       "job type '%s' does not support pivot",
                       blockjob_type_to_string(job->type));
        return;
    case BLOCKJOB_REFUSAL_ENDING:
        util_error_set(error, dom, VIR_ERR_OPERATION_INVALID,
                       "block job on disk '%s' is still being ended", disk);
        return;
    case BLOCKJOB_REFUSAL_IMPOSSIBLE:
        util_error_set(error, dom, VIR_ERR_INTERNAL_ERROR,
                       "block job on disk '%s' is in state '%s', impossible for a %s job",
                       disk, blockjob_state_to_string(job->state),
                       blockjob_type_to_string(job->type));
        return;
    case BLOCKJOB_REFUSAL_NONE:
    case BLOCKJOB_REFUSAL_LAST:
        break;
    }
    g_return_if_reached();
}

static const BlockJobVerdict *
blockjob_verdict(const BlockJob *job, BlockJobAction action)
{
    const BlockJobActionCell *cell = &blockjob_actions[job->state][action];

    return blockjob_type_is_two_phase(job->type) ? &cell->two : &cell->one;
}

int
blockjob_check_action(const BlockJob *job, const char *disk, BlockJobAction action,
                      GError **error)
{
    BlockJobRefusal refusal;

    if ((unsigned)action >= BLOCKJOB_ACTION_LAST ||
        (job && ((unsigned)job->state >= BLOCKJOB_STATE_LAST ||
                 !blockjob_type_to_string(job->type)))) {
        util_error_set(error, BLOCKJOB_ERROR_DOMAIN, VIR_ERR_INTERNAL_ERROR,
                       "invalid block job action %d", (int)action);
        return -1;
    }
    refusal = job ? blockjob_verdict(job, action)->refusal : blockjob_actions_without_job[action];
    if (refusal == BLOCKJOB_REFUSAL_NONE)
        return 1;
    if (refusal == BLOCKJOB_REFUSAL_NO_JOB && action == BLOCKJOB_ACTION_INFO)
        return 0;
    blockjob_refuse(error, refusal, job, disk);
    return -1;
}

bool
blockjob_apply_action(BlockJob *job, BlockJobAction action, GError **error)
{
    const BlockJobVerdict *verdict;
    int rc = blockjob_check_action(job, job->disk, action, error);

    if (rc < 0)
        return false;
    if (rc == 0) {
        blockjob_refuse(error, BLOCKJOB_REFUSAL_NO_JOB, job, job->disk);
        return false;
    }
    verdict = blockjob_verdict(job, action);
    if (verdict->moves)
        blockjob_set_state(job, verdict->next, blockjob_action_to_string(action));
    return true;
}

/* ------------------------------------------------------------------ */
/* ending                                                              */
/* ------------------------------------------------------------------ */

BlockJobFinish
blockjob_finish_kind(const BlockJob *job)
{
    bool success = job->outcome == BLOCKJOB_STATUS_COMPLETED;

    switch (job->type) {
    case BLOCKJOB_TYPE_PULL:
        return success ? BLOCKJOB_FINISH_PULL : BLOCKJOB_FINISH_KEEP_CHAIN;
    case BLOCKJOB_TYPE_COMMIT:
        return success ? BLOCKJOB_FINISH_COMMIT : BLOCKJOB_FINISH_KEEP_CHAIN;
    case BLOCKJOB_TYPE_COPY:
    case BLOCKJOB_TYPE_ACTIVE_COMMIT:
        return success ? BLOCKJOB_FINISH_PIVOT : BLOCKJOB_FINISH_DROP_MIRROR;
    case BLOCKJOB_TYPE_LAST:
        break;
    }
    g_return_val_if_reached(BLOCKJOB_FINISH_KEEP_CHAIN);
}

bool
blockjob_finish_deletes(const BlockJob *job)
{
    return (job->flags & BLOCKJOB_FLAG_DELETE) &&
           job->outcome == BLOCKJOB_STATUS_COMPLETED &&
           (job->type == BLOCKJOB_TYPE_COMMIT || job->type == BLOCKJOB_TYPE_ACTIVE_COMMIT) &&
           (job->state == BLOCKJOB_STATE_CONCLUDED || job->state == BLOCKJOB_STATE_PROCESSED ||
            job->state == BLOCKJOB_STATE_REPORTED);
}

bool
blockjob_has_mirror(const BlockJob *job)
{
    if (!job || !blockjob_type_is_two_phase(job->type))
        return false;
    switch (job->state) {
    case BLOCKJOB_STATE_NEW:
    case BLOCKJOB_STATE_RUNNING:
    case BLOCKJOB_STATE_READY:
    case BLOCKJOB_STATE_ABORTING:
    case BLOCKJOB_STATE_PIVOTING:
    case BLOCKJOB_STATE_CONCLUDED:
        return true;
    case BLOCKJOB_STATE_PROCESSED:
    case BLOCKJOB_STATE_REPORTED:
    case BLOCKJOB_STATE_LAST:
        break;
    }
    return false;
}

const char *
blockjob_mirror_ready(const BlockJob *job)
{
    if (!blockjob_has_mirror(job))
        return NULL;
    switch (job->state) {
    case BLOCKJOB_STATE_READY:
        return "yes";
    case BLOCKJOB_STATE_ABORTING:
        return "abort";
    case BLOCKJOB_STATE_PIVOTING:
        return "pivot";
    case BLOCKJOB_STATE_NEW:
    case BLOCKJOB_STATE_RUNNING:
    case BLOCKJOB_STATE_CONCLUDED:
    case BLOCKJOB_STATE_PROCESSED:
    case BLOCKJOB_STATE_REPORTED:
    case BLOCKJOB_STATE_LAST:
        break;
    }
    return NULL;
}

void
blockjob_info(const BlockJob *job, bool have_progress, unsigned long long offset,
              unsigned long long len, unsigned long long speed, bool bytes,
              BlockJobInfo *ret_info)
{
    BlockJobInfo info = { .type = job->type, .cur = 0, .end = 1 };
    bool ready = job->ready && blockjob_type_is_two_phase(job->type);

    if (have_progress) {
        info.cur = offset;
        info.end = len;
        if (len == 0)
            info.cur = info.end = ready ? 1 : 0;
        if (info.end == 0)
            info.end = 1;
        if (!ready && info.cur >= info.end)
            info.cur = info.end - 1;
    }
    info.bandwidth = bytes ? speed : speed / (1024 * 1024) + (speed % (1024 * 1024) != 0);
    *ret_info = info;
}

/* ------------------------------------------------------------------ */
/* lifetime and ids                                                    */
/* ------------------------------------------------------------------ */

char *
blockjob_make_id(BlockJobType type, const char *disk, const char *top_node)
{
    const char *name = blockjob_type_to_string(type);

    g_return_val_if_fail(name && disk, NULL);
    if (!top_node)
        return g_strdup_printf("%s-%s", name, disk);
    return g_strdup_printf("%s-%s-%s", name, disk, top_node);
}

bool
blockjob_parse_id(const char *id, BlockJobType *ret_type, char **ret_disk, char **ret_node)
{
    int found = -1;
    size_t found_len = 0;
    const char *rest;
    const char *dash;

    /* the longest type name that prefixes @id ("active-commit" before "commit") */
    for (int i = BLOCKJOB_TYPE_FIRST; i < BLOCKJOB_TYPE_LAST; i++) {
        size_t len = strlen(blockjob_type_names[i]);

        if (len > found_len && strncmp(id, blockjob_type_names[i], len) == 0 && id[len] == '-') {
            found = i;
            found_len = len;
        }
    }
    if (found < 0)
        return false;
    rest = id + found_len + 1;
    dash = strchr(rest, '-');
    if (rest[0] == '\0' || rest == dash || (dash && dash[1] == '\0'))
        return false;
    for (const char *p = rest; *p && p != dash; p++) {
        if (!g_ascii_isalnum(*p))
            return false;
    }
    *ret_type = (BlockJobType)found;
    *ret_disk = dash ? g_strndup(rest, dash - rest) : g_strdup(rest);
    *ret_node = dash ? g_strdup(dash + 1) : NULL;
    return true;
}

BlockJob *
blockjob_new(BlockJobType type, const char *disk, const char *top_node)
{
    BlockJob *job;

    g_return_val_if_fail(blockjob_type_to_string(type) && disk, NULL);
    job = g_new0(BlockJob, 1);
    job->type = type;
    job->disk = g_strdup(disk);
    job->id = blockjob_make_id(type, disk, top_node);
    job->state = BLOCKJOB_STATE_NEW;
    job->outcome = BLOCKJOB_STATUS_COMPLETED;
    job->top_node = g_strdup(top_node);
    job->delete_paths = g_ptr_array_new_with_free_func(g_free);
    job->leftover_nodes = g_ptr_array_new_with_free_func(g_free);
    job->leftover_paths = g_ptr_array_new_with_free_func(g_free);
    return job;
}

void
blockjob_strings_add(GPtrArray *array, const char *item)
{
    for (guint i = 0; i < array->len; i++) {
        if (strcmp(g_ptr_array_index(array, i), item) == 0)
            return;
    }
    g_ptr_array_add(array, g_strdup(item));
}

static GPtrArray *
blockjob_strings_copy(const GPtrArray *array)
{
    GPtrArray *copy = g_ptr_array_new_with_free_func(g_free);

    for (guint i = 0; array && i < array->len; i++)
        g_ptr_array_add(copy, g_strdup(g_ptr_array_index(array, i)));
    return copy;
}

BlockJob *
blockjob_copy(const BlockJob *job)
{
    BlockJob *copy = g_new0(BlockJob, 1);

    *copy = *job;
    copy->disk = g_strdup(job->disk);
    copy->id = g_strdup(job->id);
    copy->top_node = g_strdup(job->top_node);
    copy->base_node = g_strdup(job->base_node);
    copy->top_parent_node = g_strdup(job->top_parent_node);
    copy->backing_name = g_strdup(job->backing_name);
    copy->mirror = job->mirror ? conf_storage_source_copy(job->mirror) : NULL;
    copy->delete_paths = blockjob_strings_copy(job->delete_paths);
    copy->leftover_nodes = blockjob_strings_copy(job->leftover_nodes);
    copy->leftover_paths = blockjob_strings_copy(job->leftover_paths);
    copy->error = g_strdup(job->error);
    return copy;
}

void
blockjob_free(BlockJob *job)
{
    if (!job)
        return;
    g_free(job->disk);
    g_free(job->id);
    g_free(job->top_node);
    g_free(job->base_node);
    g_free(job->top_parent_node);
    g_free(job->backing_name);
    conf_storage_source_free(job->mirror);
    if (job->delete_paths)
        g_ptr_array_unref(job->delete_paths);
    if (job->leftover_nodes)
        g_ptr_array_unref(job->leftover_nodes);
    if (job->leftover_paths)
        g_ptr_array_unref(job->leftover_paths);
    g_free(job->error);
    g_free(job);
}
