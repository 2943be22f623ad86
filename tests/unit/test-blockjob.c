/*
 * test-blockjob.c: the block-job state machine (shared/blockjob).
 *
 * The expectations here are written from the behaviour spec
 * (shared/spec/blockjobs.md, sections 3 and 4), in a notation of their
 * own, not copied from the module's tables: every cell of the transition
 * table and of the action table is driven through the public functions on
 * a real job and compared with them.  Then whole sequences (commit to the
 * end, active commit with pivot, abort after READY, failures), a daemon
 * restart in every state (format -> parse -> what query-jobs would say ->
 * the effect still owed), and the status XML (round trips, strict errors).
 */
#define G_LOG_DOMAIN "modvirt.test.blockjob"

#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "blockjob.h"
#include "util-error.h"

static const BlockJobType all_types[] = {
    BLOCKJOB_TYPE_PULL, BLOCKJOB_TYPE_COPY, BLOCKJOB_TYPE_COMMIT, BLOCKJOB_TYPE_ACTIVE_COMMIT,
};

static bool
two_phase(BlockJobType type)
{
    return type == BLOCKJOB_TYPE_COPY || type == BLOCKJOB_TYPE_ACTIVE_COMMIT;
}

static const char *
code_name(int code)
{
    switch (code) {
    case VIR_ERR_BLOCK_COPY_ACTIVE:
        return "BLOCK_COPY_ACTIVE";
    case VIR_ERR_OPERATION_UNSUPPORTED:
        return "OPERATION_UNSUPPORTED";
    case VIR_ERR_OPERATION_INVALID:
        return "OPERATION_INVALID";
    case VIR_ERR_INVALID_ARG:
        return "INVALID_ARG";
    case VIR_ERR_INTERNAL_ERROR:
        return "INTERNAL_ERROR";
    default:
        return util_error_code_name(code);
    }
}

/* ---------------------------------------------------------------------- */
/* building jobs                                                          */

static void
feed(BlockJob *job, BlockJobEvent event, BlockJobEffect want_effect)
{
    g_autoptr(GError) error = NULL;
    BlockJobStep step = { 0 };

    if (!blockjob_apply_event(job, event, NULL, &step, &error))
        g_error("feeding %s to %s: %s", blockjob_event_to_string(event),
                blockjob_state_to_string(job->state), error->message);
    g_assert_cmpstr(blockjob_effect_to_string(step.effect), ==,
                    blockjob_effect_to_string(want_effect));
}

static void
act(BlockJob *job, BlockJobAction action)
{
    g_autoptr(GError) error = NULL;

    if (!blockjob_apply_action(job, action, &error))
        g_error("%s in %s: %s", blockjob_action_to_string(action),
                blockjob_state_to_string(job->state), error->message);
}

static BlockJob *
new_job(BlockJobType type)
{
    BlockJob *job = blockjob_new(type, "vda", "libvirt-1-format");

    if (type == BLOCKJOB_TYPE_COPY) {
        job->mirror = conf_storage_source_new(CONF_STORAGE_TYPE_FILE);
        job->mirror->path = g_strdup("/srv/vm/copy.qcow2");
        job->mirror->format = CONF_STORAGE_FORMAT_QCOW2;
    }
    return job;
}

/* The situations the tables distinguish: a state, plus the job's memory
 * (has it been ready? what outcome?). */
typedef struct {
    const char *name;
    BlockJobState state;
    bool ready;
    BlockJobStatus outcome;
} Setup;

static const Setup setups[] = {
    { "new", BLOCKJOB_STATE_NEW, false, 0 },
    { "running", BLOCKJOB_STATE_RUNNING, false, 0 },
    { "ready", BLOCKJOB_STATE_READY, true, 0 },
    { "aborting", BLOCKJOB_STATE_ABORTING, false, 0 },
    { "aborting-ready", BLOCKJOB_STATE_ABORTING, true, 0 },
    { "pivoting", BLOCKJOB_STATE_PIVOTING, true, 0 },
    { "concluded-completed", BLOCKJOB_STATE_CONCLUDED, false, BLOCKJOB_STATUS_COMPLETED },
    { "concluded-failed", BLOCKJOB_STATE_CONCLUDED, false, BLOCKJOB_STATUS_FAILED },
    { "concluded-canceled", BLOCKJOB_STATE_CONCLUDED, false, BLOCKJOB_STATUS_CANCELED },
    { "processed", BLOCKJOB_STATE_PROCESSED, false, BLOCKJOB_STATUS_FAILED },
    { "reported", BLOCKJOB_STATE_REPORTED, false, BLOCKJOB_STATUS_CANCELED },
};

/* A job of @type in @setup, reached through the machine itself; NULL if
 * no sequence of events reaches it (one-phase jobs are never ready). */
static BlockJob *
job_in(BlockJobType type, const Setup *setup)
{
    g_autoptr(BlockJob) job = new_job(type);
    BlockJobEvent end;

    if (setup->ready && !two_phase(type))
        return NULL;
    if (setup->state == BLOCKJOB_STATE_NEW)
        return g_steal_pointer(&job);
    feed(job, BLOCKJOB_EVENT_START_OK, BLOCKJOB_EFFECT_NONE);
    if (setup->ready)
        feed(job, BLOCKJOB_EVENT_READY, BLOCKJOB_EFFECT_EMIT_READY);
    switch (setup->state) {
    case BLOCKJOB_STATE_NEW:
    case BLOCKJOB_STATE_RUNNING:
    case BLOCKJOB_STATE_READY:
        break;
    case BLOCKJOB_STATE_ABORTING:
        act(job, BLOCKJOB_ACTION_ABORT);
        break;
    case BLOCKJOB_STATE_PIVOTING:
        act(job, BLOCKJOB_ACTION_PIVOT);
        break;
    case BLOCKJOB_STATE_CONCLUDED:
    case BLOCKJOB_STATE_PROCESSED:
    case BLOCKJOB_STATE_REPORTED:
        end = setup->outcome == BLOCKJOB_STATUS_COMPLETED ? BLOCKJOB_EVENT_GRAPH_DONE :
              setup->outcome == BLOCKJOB_STATUS_FAILED ? BLOCKJOB_EVENT_FAILED :
              BLOCKJOB_EVENT_CANCELLED;
        feed(job, end, BLOCKJOB_EFFECT_FINISH);
        if (setup->state != BLOCKJOB_STATE_CONCLUDED)
            feed(job, BLOCKJOB_EVENT_PROCESSED, BLOCKJOB_EFFECT_EMIT_EVENT);
        if (setup->state == BLOCKJOB_STATE_REPORTED)
            feed(job, BLOCKJOB_EVENT_REPORTED, BLOCKJOB_EFFECT_CLEANUP);
        break;
    case BLOCKJOB_STATE_LAST:
        g_assert_not_reached();
    }
    g_assert_cmpstr(blockjob_state_to_string(job->state), ==, blockjob_state_to_string(setup->state));
    g_assert_cmpint(job->ready, ==, setup->ready);
    return g_steal_pointer(&job);
}

/* Like job_in, but for the rows no event sequence reaches: the state is
 * forced, to check that those rows refuse everything. */
static BlockJob *
job_in_any(BlockJobType type, const Setup *setup, bool *ret_forced)
{
    BlockJob *job = job_in(type, setup);

    *ret_forced = job == NULL;
    if (!job) {
        job = new_job(type);
        job->state = setup->state;
        job->ready = setup->ready;
    }
    return job;
}

/* ---------------------------------------------------------------------- */
/* enum names                                                             */

/* Every value of an enum has a name of its own; the value after the last has none. */
#define CHECK_NAMES(to_string, last) \
    G_STMT_START { \
        g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal); \
        for (int i = 0; i < (last); i++) { \
            const char *name = to_string(i); \
            g_assert_nonnull(name); \
            g_assert_false(g_hash_table_contains(seen, name)); \
            g_hash_table_add(seen, (gpointer)name); \
        } \
        g_assert_null(to_string(last)); \
    } G_STMT_END

static void
test_names(void)
{
    CHECK_NAMES(blockjob_state_to_string, BLOCKJOB_STATE_LAST);
    CHECK_NAMES(blockjob_event_to_string, BLOCKJOB_EVENT_LAST);
    CHECK_NAMES(blockjob_effect_to_string, BLOCKJOB_EFFECT_LAST);
    CHECK_NAMES(blockjob_action_to_string, BLOCKJOB_ACTION_LAST);
    CHECK_NAMES(blockjob_finish_to_string, BLOCKJOB_FINISH_LAST);
    CHECK_NAMES(blockjob_status_to_string, BLOCKJOB_STATUS_LAST);

    /* libvirt's public numbers */
    g_assert_cmpint(BLOCKJOB_TYPE_PULL, ==, 1);
    g_assert_cmpint(BLOCKJOB_TYPE_COPY, ==, 2);
    g_assert_cmpint(BLOCKJOB_TYPE_COMMIT, ==, 3);
    g_assert_cmpint(BLOCKJOB_TYPE_ACTIVE_COMMIT, ==, 4);
    g_assert_cmpint(BLOCKJOB_STATUS_COMPLETED, ==, 0);
    g_assert_cmpint(BLOCKJOB_STATUS_FAILED, ==, 1);
    g_assert_cmpint(BLOCKJOB_STATUS_CANCELED, ==, 2);
    g_assert_cmpint(BLOCKJOB_STATUS_READY, ==, 3);

    for (size_t i = 0; i < G_N_ELEMENTS(all_types); i++)
        g_assert_cmpint(blockjob_type_from_string(blockjob_type_to_string(all_types[i])), ==, all_types[i]);
    g_assert_null(blockjob_type_to_string(0));
    g_assert_null(blockjob_type_to_string(5));
    g_assert_cmpstr(blockjob_type_to_string(BLOCKJOB_TYPE_ACTIVE_COMMIT), ==, "active-commit");
    g_assert_cmpint(blockjob_type_from_string("backup"), ==, -1);
    for (int i = 0; i < BLOCKJOB_STATE_LAST; i++)
        g_assert_cmpint(blockjob_state_from_string(blockjob_state_to_string(i)), ==, i);
    g_assert_cmpint(blockjob_state_from_string("Running"), ==, -1);
    for (unsigned int bit = 1; bit < BLOCKJOB_FLAG_LAST; bit <<= 1)
        g_assert_cmpint(blockjob_flag_from_string(blockjob_flag_to_string(bit)), ==, bit);
    g_assert_null(blockjob_flag_to_string(BLOCKJOB_FLAG_SHALLOW | BLOCKJOB_FLAG_DELETE));
    g_assert_null(blockjob_flag_to_string(0));
    g_assert_null(blockjob_flag_to_string(BLOCKJOB_FLAG_LAST));
}

/* ---------------------------------------------------------------------- */
/* every cell of the transition table                                     */

/* Columns of the grids below, in this order. */
static const BlockJobEvent grid_events[] = {
    BLOCKJOB_EVENT_START_OK, BLOCKJOB_EVENT_START_FAILED, BLOCKJOB_EVENT_REQUEST_FAILED,
    BLOCKJOB_EVENT_RUNNING, BLOCKJOB_EVENT_READY, BLOCKJOB_EVENT_COMPLETED,
    BLOCKJOB_EVENT_FAILED, BLOCKJOB_EVENT_CANCELLED, BLOCKJOB_EVENT_CONCLUDED,
    BLOCKJOB_EVENT_VANISHED, BLOCKJOB_EVENT_DOMAIN_STOPPED, BLOCKJOB_EVENT_GRAPH_DONE,
    BLOCKJOB_EVENT_GRAPH_UNCHANGED, BLOCKJOB_EVENT_PROCESSED, BLOCKJOB_EVENT_REPORTED,
};
G_STATIC_ASSERT(G_N_ELEMENTS(grid_events) == BLOCKJOB_EVENT_LAST);

/*
 * One line per state (in enum order), one word per event column:
 *   -          not allowed: error, job unchanged
 *   =          stays, nothing to do          =EFFECT   stays, EFFECT owed
 *   STATE      moves, nothing to do          STATE/EFFECT
 *   !OUTCOME   concluded with OUTCOME, the definition must be updated (finish)
 *   back       back to where the refused request came from
 *
 *               start-ok start-failed request-failed running ready completed
 *               failed cancelled concluded vanished domain-stopped
 *               graph-done graph-unchanged processed reported
 */
static const char *const grid_two_phase[BLOCKJOB_STATE_LAST] = {
    /* new */       "running =discard - running ready/emit-ready =reconcile "
                    "!failed !canceled =query-outcome =discard =discard - - - -",
    /* running */   "= - - = ready/emit-ready =reconcile "
                    "!failed !canceled =query-outcome =reconcile !failed !completed !failed - -",
    /* ready */     "= - - = = =reconcile "
                    "!failed !canceled =query-outcome =reconcile !failed !completed !failed - -",
    /* aborting */  "= - back = =resend-request !canceled "
                    "!canceled !canceled =query-outcome =reconcile !failed !completed !canceled - -",
    /* pivoting */  "= - ready = =resend-request !completed "
                    "!failed !canceled =query-outcome =reconcile !failed !completed !failed - -",
    /* concluded */ "= - = - - =finish =finish =finish = =finish =finish - - processed/emit-event -",
    /* processed */ "= - = - - =emit-event =emit-event =emit-event = =emit-event =emit-event "
                    "- - - reported/cleanup",
    /* reported */  "= - = - - =cleanup =cleanup =cleanup = =cleanup =cleanup - - - -",
};

/* Pull and commit: never ready, never pivoting; QEMU's "completed" means
 * the chain changed, whatever we had asked. */
static const char *const grid_one_phase[BLOCKJOB_STATE_LAST] = {
    /* new */       "running =discard - running - !completed "
                    "!failed !canceled =query-outcome =discard =discard - - - -",
    /* running */   "= - - = - !completed "
                    "!failed !canceled =query-outcome =reconcile !failed !completed !failed - -",
    /* ready */     "- - - - - - - - - - - - - - -",
    /* aborting */  "= - back = - !completed "
                    "!canceled !canceled =query-outcome =reconcile !failed !completed !canceled - -",
    /* pivoting */  "- - - - - - - - - - - - - - -",
    /* concluded */ "= - = - - =finish =finish =finish = =finish =finish - - processed/emit-event -",
    /* processed */ "= - = - - =emit-event =emit-event =emit-event = =emit-event =emit-event "
                    "- - - reported/cleanup",
    /* reported */  "= - = - - =cleanup =cleanup =cleanup = =cleanup =cleanup - - - -",
};

static void
check_transition(GString *bad, BlockJobType type, const Setup *setup, BlockJobEvent event,
                 const char *want)
{
    bool forced = false;
    g_autoptr(BlockJob) job = job_in_any(type, setup, &forced);
    g_autofree char *before = blockjob_format_string(job);
    g_autofree char *after = NULL;
    g_autoptr(GError) error = NULL;
    BlockJobStep step = { .effect = BLOCKJOB_EFFECT_LAST };
    bool ok = blockjob_apply_event(job, event, NULL, &step, &error);
    BlockJobState want_state = setup->state;
    BlockJobStatus want_outcome = setup->outcome;
    bool want_ready = setup->ready || (ok && event == BLOCKJOB_EVENT_READY);
    const char *want_effect = "none";
    g_autofree char *cell = g_strdup_printf("%s/%s/%s", blockjob_type_to_string(type), setup->name,
                                            blockjob_event_to_string(event));

    after = blockjob_format_string(job);
    if (strcmp(want, "-") == 0) {
        if (ok)
            g_string_append_printf(bad, "%s: allowed, to %s, want refused\n", cell,
                                   blockjob_state_to_string(job->state));
        else if (util_error_code(error) != VIR_ERR_INTERNAL_ERROR ||
                 (!forced && !strstr(error->message, blockjob_event_to_string(event))))
            g_string_append_printf(bad, "%s: wrong error %s: %s\n", cell,
                                   code_name(util_error_code(error)), error->message);
        else if (strcmp(before, after) != 0)
            g_string_append_printf(bad, "%s: refused but changed the job\n", cell);
        return;
    }
    if (!ok) {
        g_string_append_printf(bad, "%s: refused (%s), want %s\n", cell, error->message, want);
        return;
    }
    if (want[0] == '=') {
        if (want[1])
            want_effect = want + 1;
    } else if (want[0] == '!') {
        want_state = BLOCKJOB_STATE_CONCLUDED;
        want_outcome = blockjob_status_from_string(want + 1);
        want_effect = "finish";
    } else if (strcmp(want, "back") == 0) {
        want_state = setup->ready ? BLOCKJOB_STATE_READY : BLOCKJOB_STATE_RUNNING;
    } else {
        g_auto(GStrv) parts = g_strsplit(want, "/", 2);

        want_state = blockjob_state_from_string(parts[0]);
        if (parts[1])
            want_effect = want + strlen(parts[0]) + 1;
    }
    if (job->state != want_state)
        g_string_append_printf(bad, "%s: state %s, want %s\n", cell,
                               blockjob_state_to_string(job->state),
                               blockjob_state_to_string(want_state));
    if (want_state >= BLOCKJOB_STATE_CONCLUDED && job->outcome != want_outcome)
        g_string_append_printf(bad, "%s: outcome %s, want %s\n", cell,
                               blockjob_status_to_string(job->outcome),
                               blockjob_status_to_string(want_outcome));
    if (strcmp(blockjob_effect_to_string(step.effect), want_effect) != 0)
        g_string_append_printf(bad, "%s: effect %s, want %s\n", cell,
                               blockjob_effect_to_string(step.effect), want_effect);
    if (job->ready != want_ready)
        g_string_append_printf(bad, "%s: ready %d, want %d\n", cell, job->ready, want_ready);
    if (step.persist != (strcmp(before, after) != 0))
        g_string_append_printf(bad, "%s: persist %d but the record %s\n", cell, step.persist,
                               strcmp(before, after) ? "changed" : "did not change");
}

static void
test_transitions_all_cells(void)
{
    g_autoptr(GString) bad = g_string_new(NULL);
    unsigned int cells = 0;

    for (size_t t = 0; t < G_N_ELEMENTS(all_types); t++) {
        const char *const *grid = two_phase(all_types[t]) ? grid_two_phase : grid_one_phase;
        bool walked[BLOCKJOB_STATE_LAST] = { false };

        for (size_t s = 0; s < G_N_ELEMENTS(setups); s++) {
            g_auto(GStrv) words = g_strsplit_set(grid[setups[s].state], " ", -1);

            g_assert_cmpuint(g_strv_length(words), ==, G_N_ELEMENTS(grid_events));
            for (size_t e = 0; e < G_N_ELEMENTS(grid_events); e++) {
                check_transition(bad, all_types[t], &setups[s], grid_events[e], words[e]);
                cells++;
            }
            walked[setups[s].state] = true;
        }
        for (int st = 0; st < BLOCKJOB_STATE_LAST; st++)
            g_assert_true(walked[st]);
    }
    if (bad->len)
        g_test_message("%s", bad->str);
    g_assert_cmpstr(bad->str, ==, "");
    g_assert_cmpuint(cells, ==, G_N_ELEMENTS(all_types) * G_N_ELEMENTS(setups) * BLOCKJOB_EVENT_LAST);
}

static void
test_transitions_out_of_range(void)
{
    g_autoptr(BlockJob) job = new_job(BLOCKJOB_TYPE_COMMIT);
    g_autoptr(GError) error = NULL;
    BlockJobStep step = { 0 };

    g_assert_false(blockjob_apply_event(job, BLOCKJOB_EVENT_LAST, NULL, &step, &error));
    g_assert_cmpint(util_error_code(error), ==, VIR_ERR_INTERNAL_ERROR);
    g_assert_cmpint(job->state, ==, BLOCKJOB_STATE_NEW);
    g_clear_error(&error);
    g_assert_false(blockjob_apply_event(job, (BlockJobEvent)-1, NULL, &step, &error));
    g_assert_cmpint(util_error_code(error), ==, VIR_ERR_INTERNAL_ERROR);
}

/* ---------------------------------------------------------------------- */
/* every cell of the action table                                         */

static const BlockJobAction grid_actions[] = {
    BLOCKJOB_ACTION_START, BLOCKJOB_ACTION_ABORT, BLOCKJOB_ACTION_ABORT_ASYNC,
    BLOCKJOB_ACTION_PIVOT, BLOCKJOB_ACTION_SET_SPEED, BLOCKJOB_ACTION_INFO,
};
G_STATIC_ASSERT(G_N_ELEMENTS(grid_actions) == BLOCKJOB_ACTION_LAST);

/*
 * One line per state, one word per action (start abort abort-async pivot
 * set-speed info): "ok", "ok>STATE" (accepted, the job moves), "nojob"
 * (GetBlockJobInfo says there is no job), or the error code.  From spec
 * 3.3 and 4: a second job is BLOCK_COPY_ACTIVE on a mirrored disk, else
 * OPERATION_UNSUPPORTED; pivot before READY is BLOCK_COPY_ACTIVE; pivot of
 * a pull or commit is OPERATION_INVALID; anything but info while the job
 * is being ended is OPERATION_INVALID; once the end is applied the disk
 * has no job any more (INVALID_ARG; pivot OPERATION_INVALID).
 */
static const char *const actions_two_phase[BLOCKJOB_STATE_LAST] = {
    /* new */       "BLOCK_COPY_ACTIVE OPERATION_INVALID OPERATION_INVALID BLOCK_COPY_ACTIVE OPERATION_INVALID ok",
    /* running */   "BLOCK_COPY_ACTIVE ok>aborting ok>aborting BLOCK_COPY_ACTIVE ok ok",
    /* ready */     "BLOCK_COPY_ACTIVE ok>aborting ok>aborting ok>pivoting ok ok",
    /* aborting */  "BLOCK_COPY_ACTIVE OPERATION_INVALID OPERATION_INVALID OPERATION_INVALID OPERATION_INVALID ok",
    /* pivoting */  "BLOCK_COPY_ACTIVE OPERATION_INVALID OPERATION_INVALID OPERATION_INVALID OPERATION_INVALID ok",
    /* concluded */ "BLOCK_COPY_ACTIVE OPERATION_INVALID OPERATION_INVALID OPERATION_INVALID OPERATION_INVALID ok",
    /* processed */ "BLOCK_COPY_ACTIVE INVALID_ARG INVALID_ARG OPERATION_INVALID INVALID_ARG nojob",
    /* reported */  "BLOCK_COPY_ACTIVE INVALID_ARG INVALID_ARG OPERATION_INVALID INVALID_ARG nojob",
};

static const char *const actions_one_phase[BLOCKJOB_STATE_LAST] = {
    /* new */       "OPERATION_UNSUPPORTED OPERATION_INVALID OPERATION_INVALID OPERATION_INVALID OPERATION_INVALID ok",
    /* running */   "OPERATION_UNSUPPORTED ok>aborting ok>aborting OPERATION_INVALID ok ok",
    /* ready */     "INTERNAL_ERROR INTERNAL_ERROR INTERNAL_ERROR INTERNAL_ERROR INTERNAL_ERROR INTERNAL_ERROR",
    /* aborting */  "OPERATION_UNSUPPORTED OPERATION_INVALID OPERATION_INVALID OPERATION_INVALID OPERATION_INVALID ok",
    /* pivoting */  "INTERNAL_ERROR INTERNAL_ERROR INTERNAL_ERROR INTERNAL_ERROR INTERNAL_ERROR INTERNAL_ERROR",
    /* concluded */ "OPERATION_UNSUPPORTED OPERATION_INVALID OPERATION_INVALID OPERATION_INVALID OPERATION_INVALID ok",
    /* processed */ "OPERATION_UNSUPPORTED INVALID_ARG INVALID_ARG OPERATION_INVALID INVALID_ARG nojob",
    /* reported */  "OPERATION_UNSUPPORTED INVALID_ARG INVALID_ARG OPERATION_INVALID INVALID_ARG nojob",
};

/* A disk with no job at all. */
static const char *const actions_no_job = "ok INVALID_ARG INVALID_ARG OPERATION_INVALID INVALID_ARG nojob";

/* @job NULL: the disk has no job. */
static void
check_action(GString *bad, const char *cell, BlockJob *job, BlockJobAction action, const char *want)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GError) apply_error = NULL;
    g_autofree char *before = job ? blockjob_format_string(job) : NULL;
    g_autofree char *after = NULL;
    int rc = blockjob_check_action(job, "vda", action, &error);
    const char *got = rc > 0 ? "ok" : rc == 0 ? "nojob" : code_name(util_error_code(error));
    bool want_ok = g_str_has_prefix(want, "ok");
    BlockJobState old_state = job ? job->state : BLOCKJOB_STATE_LAST;

    if (rc >= 0 && error)
        g_string_append_printf(bad, "%s: error set although %d returned\n", cell, rc);
    if (rc < 0 && (!error || (!strstr(error->message, "vda") &&
                              !strstr(error->message, "does not support pivot"))))
        g_string_append_printf(bad, "%s: message '%s' does not name the disk\n", cell,
                               error ? error->message : "(none)");
    if (strcmp(got, want_ok ? "ok" : want) != 0)
        g_string_append_printf(bad, "%s: %s, want %s\n", cell, got, want);
    if (!job)
        return;
    after = blockjob_format_string(job);
    if (strcmp(before, after) != 0)
        g_string_append_printf(bad, "%s: checking changed the job\n", cell);

    /* applying it: refused exactly when the check refuses, and the move */
    if (action == BLOCKJOB_ACTION_START)
        return;
    if (blockjob_apply_action(job, action, &apply_error) != want_ok)
        g_string_append_printf(bad, "%s: apply disagrees with check\n", cell);
    if (want_ok) {
        const char *arrow = strchr(want, '>');
        BlockJobState next = arrow ? (BlockJobState)blockjob_state_from_string(arrow + 1) : old_state;

        if (job->state != next)
            g_string_append_printf(bad, "%s: moved to %s, want %s\n", cell,
                                   blockjob_state_to_string(job->state),
                                   blockjob_state_to_string(next));
    } else {
        g_autofree char *again = blockjob_format_string(job);

        if (strcmp(before, again) != 0)
            g_string_append_printf(bad, "%s: a refused action changed the job\n", cell);
        if (!apply_error || (rc < 0 && util_error_code(apply_error) != util_error_code(error)))
            g_string_append_printf(bad, "%s: apply gave another error\n", cell);
    }
}

static void
test_actions_all_cells(void)
{
    g_autoptr(GString) bad = g_string_new(NULL);
    g_auto(GStrv) none = g_strsplit(actions_no_job, " ", -1);
    unsigned int cells = 0;

    for (size_t a = 0; a < G_N_ELEMENTS(grid_actions); a++) {
        g_autofree char *cell = g_strdup_printf("no job/%s", blockjob_action_to_string(grid_actions[a]));

        check_action(bad, cell, NULL, grid_actions[a], none[a]);
        cells++;
    }
    for (size_t t = 0; t < G_N_ELEMENTS(all_types); t++) {
        const char *const *grid = two_phase(all_types[t]) ? actions_two_phase : actions_one_phase;

        for (size_t s = 0; s < G_N_ELEMENTS(setups); s++) {
            g_auto(GStrv) words = g_strsplit(grid[setups[s].state], " ", -1);

            g_assert_cmpuint(g_strv_length(words), ==, G_N_ELEMENTS(grid_actions));
            for (size_t a = 0; a < G_N_ELEMENTS(grid_actions); a++) {
                bool forced = false;
                g_autoptr(BlockJob) job = job_in_any(all_types[t], &setups[s], &forced);
                g_autofree char *cell = g_strdup_printf("%s/%s/%s", blockjob_type_to_string(all_types[t]),
                                                        setups[s].name,
                                                        blockjob_action_to_string(grid_actions[a]));

                check_action(bad, cell, job, grid_actions[a], words[a]);
                cells++;
            }
        }
    }
    if (bad->len)
        g_test_message("%s", bad->str);
    g_assert_cmpstr(bad->str, ==, "");
    g_assert_cmpuint(cells, ==, BLOCKJOB_ACTION_LAST * (1 + G_N_ELEMENTS(all_types) * G_N_ELEMENTS(setups)));
}

/* The messages a user reads.  setup: index in setups[], -1 for no job. */
static void
test_actions_messages(void)
{
    static const struct {
        BlockJobType type;
        int setup;
        BlockJobAction action;
        int code;
        const char *message;
    } cases[] = {
        { BLOCKJOB_TYPE_COPY, 1, BLOCKJOB_ACTION_PIVOT, VIR_ERR_BLOCK_COPY_ACTIVE,
          "disk 'vda' not ready for pivot yet" },
        { BLOCKJOB_TYPE_COPY, 1, BLOCKJOB_ACTION_START, VIR_ERR_BLOCK_COPY_ACTIVE,
          "disk 'vda' already in active block job" },
        { BLOCKJOB_TYPE_PULL, 1, BLOCKJOB_ACTION_START, VIR_ERR_OPERATION_UNSUPPORTED,
          "disk 'vda' already in active block job" },
        { BLOCKJOB_TYPE_PULL, 1, BLOCKJOB_ACTION_PIVOT, VIR_ERR_OPERATION_INVALID,
          "job type 'pull' does not support pivot" },
        { BLOCKJOB_TYPE_COPY, 4, BLOCKJOB_ACTION_ABORT, VIR_ERR_OPERATION_INVALID,
          "block job on disk 'vda' is still being ended" },
        { BLOCKJOB_TYPE_COMMIT, 0, BLOCKJOB_ACTION_SET_SPEED, VIR_ERR_OPERATION_INVALID,
          "block job on disk 'vda' is still being started" },
        { BLOCKJOB_TYPE_PULL, -1, BLOCKJOB_ACTION_ABORT, VIR_ERR_INVALID_ARG,
          "disk vda does not have an active block job" },
        { BLOCKJOB_TYPE_PULL, -1, BLOCKJOB_ACTION_SET_SPEED, VIR_ERR_INVALID_ARG,
          "disk vda does not have an active block job" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(BlockJob) job = cases[i].setup < 0 ? NULL : job_in(cases[i].type, &setups[cases[i].setup]);
        g_autoptr(GError) error = NULL;

        g_assert_cmpint(blockjob_check_action(job, "vda", cases[i].action, &error), ==, -1);
        g_assert_cmpstr(code_name(util_error_code(error)), ==, code_name(cases[i].code));
        g_assert_cmpint(util_error_domain(error), ==, VIR_FROM_QEMU);
        g_assert_cmpstr(error->message, ==, cases[i].message);
    }
}

/* ---------------------------------------------------------------------- */
/* sequences                                                              */

static void
assert_state(const BlockJob *job, BlockJobState state)
{
    g_assert_cmpstr(blockjob_state_to_string(job->state), ==, blockjob_state_to_string(state));
}

static int
lookup(const char *(*to_string)(int), int last, const char *name)
{
    for (int i = 0; i < last; i++) {
        if (strcmp(to_string(i), name) == 0)
            return i;
    }
    g_error("no such name '%s' in a test script", name);
}

static const char *event_name(int v) { return blockjob_event_to_string(v); }
static const char *effect_name(int v) { return blockjob_effect_to_string(v); }
static const char *action_name(int v) { return blockjob_action_to_string(v); }

/*
 * Runs a script of space-separated steps on @job:
 *   e:EVENT[=EFFECT]   feed EVENT; with @strict the effect must be EFFECT
 *                      ("none" when not written)
 *   a:ACTION           the action is accepted
 *   r:ACTION=CODE      the action is refused with CODE
 *   s:STATE            the job is in STATE
 *   o:OUTCOME/FINISH   concluded with OUTCOME; ending does FINISH
 *   c:OUTCOME          the recorded outcome is OUTCOME
 *   m:READY            <mirror ready='READY'>; "-": none
 *   d:0|1              whether the end unlinks the DELETE files
 *   i:1|0              GetBlockJobInfo finds a job (1) or none (0)
 */
static void
run_script(BlockJob *job, const char *script, bool strict)
{
    g_auto(GStrv) steps = g_strsplit(script, " ", -1);

    for (size_t i = 0; steps[i]; i++) {
        const char *step = steps[i];
        const char *arg = step + 2;
        g_autoptr(GError) error = NULL;
        g_auto(GStrv) parts = g_strsplit(arg, step[0] == 'o' ? "/" : "=", 2);

        if (!*step)
            continue;
        g_test_message("  %s", step);
        switch (step[0]) {
        case 'e': {
            BlockJobStep result = { 0 };
            BlockJobEvent event = lookup(event_name, BLOCKJOB_EVENT_LAST, parts[0]);

            if (!blockjob_apply_event(job, event, NULL, &result, &error))
                g_error("'%s' in %s: %s", step, blockjob_state_to_string(job->state), error->message);
            if (strict)
                g_assert_cmpstr(effect_name(result.effect), ==, parts[1] ? parts[1] : "none");
            else if (parts[1])
                g_assert_cmpint(result.effect, ==, lookup(effect_name, BLOCKJOB_EFFECT_LAST, parts[1]));
            break;
        }
        case 'a':
            if (!blockjob_apply_action(job, lookup(action_name, BLOCKJOB_ACTION_LAST, arg), &error))
                g_error("'%s' in %s: %s", step, blockjob_state_to_string(job->state), error->message);
            break;
        case 'r':
            g_assert_false(blockjob_apply_action(job, lookup(action_name, BLOCKJOB_ACTION_LAST, parts[0]),
                                                 &error));
            g_assert_cmpstr(code_name(util_error_code(error)), ==, parts[1]);
            break;
        case 's':
            g_assert_cmpstr(blockjob_state_to_string(job->state), ==, arg);
            break;
        case 'o':
            assert_state(job, BLOCKJOB_STATE_CONCLUDED);
            g_assert_cmpstr(blockjob_status_to_string(job->outcome), ==, parts[0]);
            g_assert_cmpstr(blockjob_finish_to_string(blockjob_finish_kind(job)), ==, parts[1]);
            break;
        case 'c':
            g_assert_cmpstr(blockjob_status_to_string(job->outcome), ==, arg);
            break;
        case 'm':
            g_assert_cmpstr(blockjob_mirror_ready(job), ==, strcmp(arg, "-") ? arg : NULL);
            break;
        case 'd':
            g_assert_cmpint(blockjob_finish_deletes(job), ==, atoi(arg));
            break;
        case 'i':
            g_assert_cmpint(blockjob_check_action(job, job->disk, BLOCKJOB_ACTION_INFO, NULL), ==, atoi(arg));
            break;
        default:
            g_error("bad test script step '%s'", step);
        }
    }
}

typedef struct {
    const char *name;
    BlockJobType type;
    unsigned int flags;
    const char *script;
} Sequence;

static const Sequence sequences[] = {
    /* QEMU: created, running, the reply, waiting, pending, completed, concluded */
    { "commit", BLOCKJOB_TYPE_COMMIT, BLOCKJOB_FLAG_DELETE,
      "s:new i:1 m:- e:running s:running e:start-ok a:set-speed e:running e:running "
      "e:completed=finish o:completed/commit d:1 e:concluded "
      "e:processed=emit-event i:0 e:reported=cleanup s:reported d:1" },
    /* so fast that QEMU concluded it before answering the start */
    { "fast-pull", BLOCKJOB_TYPE_PULL, 0,
      "e:running e:completed=finish e:concluded e:start-ok o:completed/pull d:0" },
    /* two-phase: pivot refused before READY, READY emitted once, pivot */
    { "active-commit-pivot", BLOCKJOB_TYPE_ACTIVE_COMMIT, BLOCKJOB_FLAG_DELETE,
      "e:start-ok m:- r:pivot=BLOCK_COPY_ACTIVE s:running e:ready=emit-ready e:ready m:yes "
      "a:pivot s:pivoting m:pivot r:abort=OPERATION_INVALID e:running e:running "
      "e:completed=finish o:completed/pivot d:1 m:- e:processed=emit-event i:0 e:reported=cleanup" },
    /* abort after READY keeps the original chain and reports CANCELED:
     * QEMU's soft cancel of a ready mirror says "completed" */
    { "abort-ready", BLOCKJOB_TYPE_COPY, 0,
      "e:start-ok e:ready=emit-ready a:abort s:aborting m:abort e:running "
      "e:completed=finish o:canceled/drop-mirror d:0" },
    /* the same for an active commit with DELETE: nothing is deleted */
    { "abort-ready-active-commit", BLOCKJOB_TYPE_ACTIVE_COMMIT, BLOCKJOB_FLAG_DELETE,
      "e:start-ok e:ready=emit-ready a:abort e:completed=finish o:canceled/drop-mirror d:0" },
    /* ABORT_ASYNC does to the job what ABORT does; only the caller's wait differs */
    { "abort-async", BLOCKJOB_TYPE_COPY, 0,
      "e:start-ok a:abort-async s:aborting i:1 r:abort-async=OPERATION_INVALID e:running "
      "e:cancelled=finish o:canceled/drop-mirror e:concluded" },
    /* a commit that finished before the cancel reached it did change the chain */
    { "abort-too-late", BLOCKJOB_TYPE_COMMIT, 0,
      "e:start-ok a:abort e:completed=finish o:completed/commit" },
    { "failure-commit", BLOCKJOB_TYPE_COMMIT, BLOCKJOB_FLAG_DELETE,
      "e:start-ok e:failed=finish o:failed/keep-chain d:0" },
    { "start-failed", BLOCKJOB_TYPE_PULL, 0, "e:start-failed=discard s:new" },
    /* QEMU refuses the complete or the cancel: back where the job was */
    { "request-refused-copy", BLOCKJOB_TYPE_COPY, 0,
      "e:start-ok e:ready=emit-ready a:pivot e:request-failed s:ready "
      "a:abort e:request-failed s:ready a:pivot e:completed=finish o:completed/pivot" },
    { "request-refused-pull", BLOCKJOB_TYPE_PULL, 0,
      "e:start-ok a:abort e:request-failed s:running" },
    /* concluded without an outcome event: ask; query-jobs says
     * "Operation canceled" */
    { "concluded-query", BLOCKJOB_TYPE_PULL, 0,
      "e:start-ok a:abort e:concluded=query-outcome s:aborting e:failed=finish o:canceled/keep-chain" },
    { "domain-stopped", BLOCKJOB_TYPE_COPY, 0,
      "e:start-ok e:ready=emit-ready e:domain-stopped=finish o:failed/drop-mirror" },
    { "domain-stopped-starting", BLOCKJOB_TYPE_COPY, 0, "e:domain-stopped=discard" },
    /* someone completed our mirror behind our back: only the graph can tell */
    { "unrequested-pivot", BLOCKJOB_TYPE_COPY, 0,
      "e:start-ok e:ready=emit-ready e:completed=reconcile s:ready e:graph-done=finish o:completed/pivot" },
    { "unrequested-end", BLOCKJOB_TYPE_COPY, 0,
      "e:start-ok e:completed=reconcile e:graph-unchanged=finish o:failed/drop-mirror" },
};

static void
test_sequence(gconstpointer data)
{
    const Sequence *seq = data;
    g_autoptr(BlockJob) job = new_job(seq->type);

    job->flags = seq->flags;
    run_script(job, seq->script, true);
}

/* The failure message is kept, and saving is asked for. */
static void
test_failure_detail(void)
{
    g_autoptr(BlockJob) job = new_job(BLOCKJOB_TYPE_COPY);
    g_autoptr(GError) error = NULL;
    BlockJobStep step = { 0 };

    run_script(job, "e:start-ok", true);
    g_assert_true(blockjob_apply_event(job, BLOCKJOB_EVENT_FAILED,
                                       "Source and target image have different sizes",
                                       &step, &error));
    g_assert_no_error(error);
    g_assert_cmpint(step.effect, ==, BLOCKJOB_EFFECT_FINISH);
    g_assert_true(step.persist);
    g_assert_cmpstr(job->error, ==, "Source and target image have different sizes");
    run_script(job, "o:failed/drop-mirror", true);
}

static void
test_finish_kinds(void)
{
    /* spec 3.4, one word per outcome: completed failed canceled */
    static const struct {
        BlockJobType type;
        const char *kinds;
    } want[] = {
        { BLOCKJOB_TYPE_PULL, "pull keep-chain keep-chain" },
        { BLOCKJOB_TYPE_COMMIT, "commit keep-chain keep-chain" },
        { BLOCKJOB_TYPE_ACTIVE_COMMIT, "pivot drop-mirror drop-mirror" },
        { BLOCKJOB_TYPE_COPY, "pivot drop-mirror drop-mirror" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(want); i++) {
        g_auto(GStrv) kinds = g_strsplit(want[i].kinds, " ", -1);

        for (int outcome = 0; outcome < 3; outcome++) {
            g_autoptr(BlockJob) job = new_job(want[i].type);

            job->flags = BLOCKJOB_FLAG_DELETE;
            feed(job, BLOCKJOB_EVENT_START_OK, BLOCKJOB_EFFECT_NONE);
            feed(job, outcome == 0 ? BLOCKJOB_EVENT_GRAPH_DONE :
                      outcome == 1 ? BLOCKJOB_EVENT_FAILED : BLOCKJOB_EVENT_CANCELLED,
                 BLOCKJOB_EFFECT_FINISH);
            g_assert_cmpint(job->outcome, ==, outcome);
            g_assert_cmpstr(blockjob_finish_to_string(blockjob_finish_kind(job)), ==, kinds[outcome]);
            g_assert_cmpint(blockjob_finish_deletes(job), ==,
                            outcome == 0 && (want[i].type == BLOCKJOB_TYPE_COMMIT ||
                                             want[i].type == BLOCKJOB_TYPE_ACTIVE_COMMIT));
        }
    }
}

/* GetBlockJobInfo: cur == end only when the job is ready; MiB rounded up. */
static void
test_info(void)
{
    static const struct {
        BlockJobType type;
        int setup;              /* index in setups[] */
        bool have;
        unsigned long long offset, len, speed;
        bool bytes;
        unsigned long long cur, end, bandwidth;
    } cases[] = {
        { BLOCKJOB_TYPE_COMMIT, 1, true, 100, 400, 0, false, 100, 400, 0 },
        { BLOCKJOB_TYPE_COMMIT, 1, true, 400, 400, 1048576, false, 399, 400, 1 },
        { BLOCKJOB_TYPE_COPY, 1, true, 400, 400, 1048577, false, 399, 400, 2 },
        { BLOCKJOB_TYPE_COPY, 2, true, 400, 400, 1048577, true, 400, 400, 1048577 },
        { BLOCKJOB_TYPE_COPY, 2, true, 0, 0, 0, false, 1, 1, 0 },
        { BLOCKJOB_TYPE_COPY, 1, true, 0, 0, 0, false, 0, 1, 0 },
        { BLOCKJOB_TYPE_ACTIVE_COMMIT, 5, true, 196608, 196608, 0, false, 196608, 196608, 0 },
        { BLOCKJOB_TYPE_PULL, 0, false, 0, 0, 0, false, 0, 1, 0 },
        { BLOCKJOB_TYPE_PULL, 1, true, 1, 1, 5 * 1048576, false, 0, 1, 5 },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(BlockJob) job = job_in(cases[i].type, &setups[cases[i].setup]);
        BlockJobInfo info = { 0 };

        blockjob_info(job, cases[i].have, cases[i].offset, cases[i].len, cases[i].speed,
                      cases[i].bytes, &info);
        g_test_message("info case %zu", i);
        g_assert_cmpint(info.type, ==, cases[i].type);
        g_assert_cmpuint(info.cur, ==, cases[i].cur);
        g_assert_cmpuint(info.end, ==, cases[i].end);
        g_assert_cmpuint(info.bandwidth, ==, cases[i].bandwidth);
    }
}

/* ---------------------------------------------------------------------- */
/* restart: persist, parse, feed what query-jobs says                     */

static BlockJob *
round_trip(const BlockJob *job)
{
    g_autofree char *xml = blockjob_format_string(job);
    g_autofree char *again = NULL;
    g_autoptr(GError) error = NULL;
    BlockJob *parsed = blockjob_parse_string(xml, &error);

    if (!parsed)
        g_error("parsing back\n%s: %s", xml, error->message);
    again = blockjob_format_string(parsed);
    g_assert_cmpstr(again, ==, xml);
    g_assert_cmpint(parsed->type, ==, job->type);
    g_assert_cmpint(parsed->state, ==, job->state);
    g_assert_cmpint(parsed->ready, ==, job->ready);
    g_assert_cmpstr(parsed->id, ==, job->id);
    g_assert_cmpstr(parsed->disk, ==, job->disk);
    if (job->state >= BLOCKJOB_STATE_CONCLUDED)
        g_assert_cmpint(parsed->outcome, ==, job->outcome);
    return parsed;
}

/*
 * The daemon was killed -9 with the job in a state; QEMU went on without
 * it.  After the restart the daemon parses its status file, asks
 * query-jobs, and feeds what it finds.  "query" is that event; "effect",
 * "state" and "outcome" what must follow.  Each case: type, the events and
 * actions that led to the state (e=event, a=action), query, result.
 */
/*
 * The daemon was killed -9 with the job in some state; QEMU went on
 * without it.  After the restart the daemon parses its status file, asks
 * query-jobs and feeds what it finds.  Each case: the type, the history
 * that led to the state (a script, effects not checked), and what
 * query-jobs says with what must follow (a script, effects checked).
 */
typedef struct {
    BlockJobType type;
    const char *history;
    const char *after;
} RestartCase;

static const RestartCase restart_cases[] = {
    /* started: the start command may or may not have reached QEMU */
    { BLOCKJOB_TYPE_COMMIT, "", "e:vanished=discard s:new" },
    { BLOCKJOB_TYPE_COMMIT, "", "e:running s:running" },
    { BLOCKJOB_TYPE_COMMIT, "", "e:completed=finish o:completed/commit" },
    { BLOCKJOB_TYPE_COPY, "", "e:ready=emit-ready s:ready" },
    /* running */
    { BLOCKJOB_TYPE_COMMIT, "e:start-ok", "e:running s:running" },
    { BLOCKJOB_TYPE_COMMIT, "e:start-ok", "e:completed=finish o:completed/commit" },
    { BLOCKJOB_TYPE_PULL, "e:start-ok", "e:failed=finish o:failed/keep-chain" },
    { BLOCKJOB_TYPE_PULL, "e:start-ok", "e:vanished=reconcile s:running" },
    { BLOCKJOB_TYPE_COPY, "e:start-ok", "e:ready=emit-ready s:ready" },
    { BLOCKJOB_TYPE_ACTIVE_COMMIT, "e:start-ok", "e:running s:running" },
    /* ready: READY is not emitted twice */
    { BLOCKJOB_TYPE_COPY, "e:start-ok e:ready", "e:ready s:ready" },
    { BLOCKJOB_TYPE_COPY, "e:start-ok e:ready", "e:failed=finish o:failed/drop-mirror" },
    { BLOCKJOB_TYPE_COPY, "e:start-ok e:ready", "e:vanished=reconcile s:ready" },
    /* pivoting: the complete may not have left */
    { BLOCKJOB_TYPE_ACTIVE_COMMIT, "e:start-ok e:ready a:pivot", "e:ready=resend-request s:pivoting" },
    { BLOCKJOB_TYPE_ACTIVE_COMMIT, "e:start-ok e:ready a:pivot", "e:running s:pivoting" },
    { BLOCKJOB_TYPE_ACTIVE_COMMIT, "e:start-ok e:ready a:pivot", "e:completed=finish o:completed/pivot" },
    { BLOCKJOB_TYPE_COPY, "e:start-ok e:ready a:pivot", "e:vanished=reconcile s:pivoting e:graph-done=finish o:completed/pivot" },
    /* aborting */
    { BLOCKJOB_TYPE_COPY, "e:start-ok e:ready a:abort", "e:ready=resend-request s:aborting" },
    { BLOCKJOB_TYPE_COPY, "e:start-ok e:ready a:abort", "e:completed=finish o:canceled/drop-mirror" },
    { BLOCKJOB_TYPE_COMMIT, "e:start-ok a:abort-async", "e:failed=finish o:canceled/keep-chain" },
    { BLOCKJOB_TYPE_COPY, "e:start-ok a:abort", "e:vanished=reconcile s:aborting e:graph-unchanged=finish o:canceled/drop-mirror" },
    /* finished, not yet processed: the chain update is still owed */
    { BLOCKJOB_TYPE_COMMIT, "e:start-ok e:completed", "e:completed=finish o:completed/commit" },
    { BLOCKJOB_TYPE_COPY, "e:start-ok e:ready a:abort e:completed", "e:completed=finish o:canceled/drop-mirror" },
    { BLOCKJOB_TYPE_PULL, "e:start-ok e:failed", "e:vanished=finish o:failed/keep-chain" },
    /* processed: the event is owed, not the chain update */
    { BLOCKJOB_TYPE_COMMIT, "e:start-ok e:completed e:processed", "e:completed=emit-event s:processed c:completed" },
    { BLOCKJOB_TYPE_COPY, "e:start-ok e:cancelled e:processed", "e:vanished=emit-event s:processed c:canceled" },
    /* reported: only the dismissal is owed; the event is not sent again */
    { BLOCKJOB_TYPE_COMMIT, "e:start-ok e:completed e:processed e:reported", "e:completed=cleanup s:reported c:completed" },
    { BLOCKJOB_TYPE_ACTIVE_COMMIT, "e:start-ok e:ready a:pivot e:completed e:processed e:reported", "e:vanished=cleanup s:reported c:completed" },
};

static void
test_restart(void)
{
    bool covered[2][BLOCKJOB_STATE_LAST] = { { false } };

    for (size_t i = 0; i < G_N_ELEMENTS(restart_cases); i++) {
        const RestartCase *c = &restart_cases[i];
        g_autoptr(BlockJob) before = new_job(c->type);
        g_autoptr(BlockJob) after = NULL;

        before->base_node = g_strdup("libvirt-3-format");
        run_script(before, c->history, false);
        covered[two_phase(c->type)][before->state] = true;
        after = round_trip(before);
        g_test_message("restart %s in %s: %s", blockjob_type_to_string(c->type),
                       blockjob_state_to_string(after->state), c->after);
        run_script(after, c->after, true);
    }
    /* every state a job of each kind can be in */
    for (int kind = 0; kind < 2; kind++) {
        for (int st = 0; st < BLOCKJOB_STATE_LAST; st++) {
            if (blockjob_state_possible(kind ? BLOCKJOB_TYPE_COPY : BLOCKJOB_TYPE_PULL, st) &&
                !covered[kind][st])
                g_error("no restart case for a %s-phase job in %s", kind ? "two" : "one",
                        blockjob_state_to_string(st));
        }
    }
}

/* ---------------------------------------------------------------------- */
/* status XML                                                             */

static void
test_xml_every_state(void)
{
    for (size_t t = 0; t < G_N_ELEMENTS(all_types); t++) {
        for (size_t s = 0; s < G_N_ELEMENTS(setups); s++) {
            g_autoptr(BlockJob) job = job_in(all_types[t], &setups[s]);
            g_autoptr(BlockJob) parsed = NULL;

            if (!job)
                continue;
            parsed = round_trip(job);
        }
    }
}

static void
test_xml_full(void)
{
    g_autoptr(BlockJob) job = new_job(BLOCKJOB_TYPE_COPY);
    g_autoptr(BlockJob) parsed = NULL;
    g_autoptr(BlockJob) copy = NULL;
    g_autofree char *xml = NULL;
    g_autoptr(GString) indented = g_string_new(NULL);
    const char *want =
        "<blockjob id='copy-vda-libvirt-1-format' type='copy' disk='vda' state='concluded'"
        " outcome='failed' ready='yes' flags='shallow,reuse-ext,sync-writes' bandwidth='4194304'>\n"
        "  <top node='libvirt-1-format'/>\n"
        "  <base node='libvirt-3-format'/>\n"
        "  <backing name='../base &amp; &lt;more&gt;.qcow2'/>\n"
        "  <mirror type='file' format='qcow2' path='/srv/vm/it&apos;s copy.qcow2'"
        " storage-node='libvirt-9-storage' format-node='libvirt-9-format'/>\n"
        "  <delete path='/srv/vm/a.qcow2'/>\n"
        "  <delete path='/srv/vm/b.qcow2'/>\n"
        "  <leftover node='libvirt-2-format'/>\n"
        "  <leftover node='libvirt-2-storage'/>\n"
        "  <leftover path='/srv/vm/mid.qcow2'/>\n"
        "  <error message='Source and target image have different sizes'/>\n"
        "</blockjob>\n";

    job->flags = BLOCKJOB_FLAG_SHALLOW | BLOCKJOB_FLAG_REUSE_EXT | BLOCKJOB_FLAG_SYNC_WRITES;
    job->bandwidth = 4194304;
    job->base_node = g_strdup("libvirt-3-format");
    job->backing_name = g_strdup("../base & <more>.qcow2");
    g_free(job->mirror->path);
    job->mirror->path = g_strdup("/srv/vm/it's copy.qcow2");
    job->mirror->node_name_storage = g_strdup("libvirt-9-storage");
    job->mirror->node_name_format = g_strdup("libvirt-9-format");
    g_ptr_array_add(job->delete_paths, g_strdup("/srv/vm/a.qcow2"));
    g_ptr_array_add(job->delete_paths, g_strdup("/srv/vm/b.qcow2"));
    blockjob_strings_add(job->leftover_nodes, "libvirt-2-format");
    blockjob_strings_add(job->leftover_nodes, "libvirt-2-storage");
    blockjob_strings_add(job->leftover_nodes, "libvirt-2-format");     /* once only */
    blockjob_strings_add(job->leftover_paths, "/srv/vm/mid.qcow2");
    feed(job, BLOCKJOB_EVENT_START_OK, BLOCKJOB_EFFECT_NONE);
    feed(job, BLOCKJOB_EVENT_READY, BLOCKJOB_EFFECT_EMIT_READY);
    {
        g_autoptr(GError) error = NULL;
        BlockJobStep step = { 0 };

        g_assert_true(blockjob_apply_event(job, BLOCKJOB_EVENT_FAILED,
                                           "Source and target image have different sizes",
                                           &step, &error));
    }
    xml = blockjob_format_string(job);
    g_assert_cmpstr(xml, ==, want);
    parsed = round_trip(job);
    g_assert_cmpuint(parsed->flags, ==, job->flags);
    g_assert_cmpuint(parsed->bandwidth, ==, 4194304);
    g_assert_cmpstr(parsed->backing_name, ==, "../base & <more>.qcow2");
    g_assert_cmpstr(parsed->mirror->path, ==, "/srv/vm/it's copy.qcow2");
    g_assert_cmpint(parsed->mirror->format, ==, CONF_STORAGE_FORMAT_QCOW2);
    g_assert_cmpstr(parsed->mirror->node_name_format, ==, "libvirt-9-format");
    g_assert_cmpuint(parsed->delete_paths->len, ==, 2);
    g_assert_cmpstr(g_ptr_array_index(parsed->delete_paths, 1), ==, "/srv/vm/b.qcow2");
    /* what the clean-up still has to do survives a restart */
    g_assert_cmpuint(parsed->leftover_nodes->len, ==, 2);
    g_assert_cmpstr(g_ptr_array_index(parsed->leftover_nodes, 0), ==, "libvirt-2-format");
    g_assert_cmpstr(g_ptr_array_index(parsed->leftover_nodes, 1), ==, "libvirt-2-storage");
    g_assert_cmpuint(parsed->leftover_paths->len, ==, 1);
    g_assert_cmpstr(g_ptr_array_index(parsed->leftover_paths, 0), ==, "/srv/vm/mid.qcow2");
    g_assert_cmpstr(parsed->error, ==, "Source and target image have different sizes");

    /* a copy formats the same */
    copy = blockjob_copy(job);
    {
        g_autofree char *copy_xml = blockjob_format_string(copy);

        g_assert_cmpstr(copy_xml, ==, want);
    }

    /* indented inside a status file */
    blockjob_format(indented, job, 4);
    g_assert_true(g_str_has_prefix(indented->str, "    <blockjob id="));
    g_assert_true(g_str_has_suffix(indented->str, "\n    </blockjob>\n"));
    g_assert_nonnull(strstr(indented->str, "\n      <top node="));
}

static void
test_xml_minimal(void)
{
    g_autoptr(BlockJob) job = blockjob_new(BLOCKJOB_TYPE_PULL, "sda", NULL);
    g_autofree char *xml = blockjob_format_string(job);
    g_autoptr(BlockJob) parsed = NULL;

    g_assert_cmpstr(xml, ==, "<blockjob id='pull-sda' type='pull' disk='sda' state='new'/>\n");
    parsed = round_trip(job);
    g_assert_null(parsed->top_node);
    g_assert_cmpuint(parsed->bandwidth, ==, 0);
}

static void
test_xml_errors(void)
{
    static const struct {
        const char *xml;
        const char *message;
    } cases[] = {
        { "<blockjob id='j' type='pull' disk='vda' state='paused'/>", "unknown state 'paused' of block job 'j'" },
        { "<blockjob id='j' type='pull' disk='vda'/>", "missing attribute 'state' in <blockjob>" },
        { "<blockjob type='pull' disk='vda' state='new'/>", "missing attribute 'id' in <blockjob>" },
        { "<blockjob id='j' disk='vda' state='new'/>", "missing attribute 'type' in <blockjob>" },
        { "<blockjob id='j' type='pull' state='new'/>", "missing attribute 'disk' in <blockjob>" },
        { "<blockjob id='j' type='pull' disk='' state='new'/>", "missing attribute 'disk' in <blockjob>" },
        { "<blockjob id='j' type='backup' disk='vda' state='new'/>", "unknown type 'backup'" },
        { "<blockjob id='j' type='pull' disk='vd a' state='new'/>", "invalid disk 'vd a'" },
        { "<blockjob id='j k' type='pull' disk='vda' state='new'/>", "invalid id 'j k'" },
        { "<blockjob id='j' type='pull' disk='vda' state='new' speed='1'/>", "unknown attribute 'speed' in <blockjob>" },
        { "<blockjob id='j' type='pull' disk='vda' state='ready' ready='yes'/>", "state 'ready' is impossible for a pull job" },
        { "<blockjob id='j' type='commit' disk='vda' state='pivoting'/>", "state 'pivoting' is impossible" },
        { "<blockjob id='j' type='pull' disk='vda' state='concluded'/>", "in state 'concluded' lacks an outcome" },
        { "<blockjob id='j' type='pull' disk='vda' state='running' outcome='completed'/>", "must not have an outcome" },
        { "<blockjob id='j' type='pull' disk='vda' state='reported' outcome='ready'/>", "unknown outcome 'ready'" },
        { "<blockjob id='j' type='pull' disk='vda' state='running' ready='yes'/>", "cannot be ready" },
        { "<blockjob id='j' type='active-commit' disk='vda' state='running' ready='yes'/>", "in state 'running' must not have ready='yes'" },
        { "<blockjob id='j' type='active-commit' disk='vda' state='pivoting'/>", "in state 'pivoting' lacks ready='yes'" },
        { "<blockjob id='j' type='active-commit' disk='vda' state='ready' ready='maybe'/>", "invalid ready 'maybe'" },
        { "<blockjob id='j' type='copy' disk='vda' state='running'/>", "copy job 'j' lacks <mirror>" },
        { "<blockjob id='j' type='commit' disk='vda' state='running'><mirror type='file' path='/x'/></blockjob>", "must not have <mirror>" },
        { "<blockjob id='j' type='pull' disk='vda' state='new' flags='shallow,deep'/>", "unknown flag 'deep'" },
        { "<blockjob id='j' type='pull' disk='vda' state='new' flags='delete,delete'/>", "repeated flag 'delete'" },
        { "<blockjob id='j' type='pull' disk='vda' state='new' bandwidth='-1'/>", "invalid bandwidth '-1'" },
        { "<blockjob id='j' type='pull' disk='vda' state='new' bandwidth='18446744073709551616'/>", "invalid bandwidth" },
        { "<blockjob id='j' type='pull' disk='vda' state='new'><top/></blockjob>", "missing attribute 'node' in <top>" },
        { "<blockjob id='j' type='pull' disk='vda' state='new'><top node='a'/><top node='b'/></blockjob>", "more than one <top>" },
        { "<blockjob id='j' type='pull' disk='vda' state='new'><top node='a b'/></blockjob>", "invalid node 'a b' in <top>" },
        { "<blockjob id='j' type='pull' disk='vda' state='new'><base node='a' name='b'/></blockjob>", "unknown attribute 'name' in <base>" },
        { "<blockjob id='j' type='pull' disk='vda' state='new'><chain/></blockjob>", "unknown element <chain> in <blockjob>" },
        { "<blockjob id='j' type='pull' disk='vda' state='new'>text</blockjob>", "unexpected text in <blockjob>" },
        { "<blockjob id='j' type='copy' disk='vda' state='new'><mirror type='file'/></blockjob>", "<mirror type='file'> needs 'path' only" },
        { "<blockjob id='j' type='copy' disk='vda' state='new'><mirror type='network' path='/x'/></blockjob>", "unknown mirror type 'network'" },
        { "<blockjob id='j' type='copy' disk='vda' state='new'><mirror type='file' format='vmdk' path='/x'/></blockjob>", "unknown mirror format 'vmdk'" },
        { "<blockjob id='j' type='copy' disk='vda' state='new'><mirror type='file' format='none' path='/x'/></blockjob>", "unknown mirror format 'none'" },
        { "<blockjob id='j' type='copy' disk='vda' state='new'><mirror type='volume' path='/x'/></blockjob>", "needs 'pool' and 'volume' only" },
        { "<blockjob id='j' type='pull' disk='vda' state='new'><delete/></blockjob>", "missing attribute 'path' in <delete>" },
        { "<blockjob id='j' type='pull' disk='vda' state='new'", "not well-formed XML" },
        { "<blockjobs/>", "expected <blockjob>, got <blockjobs>" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) error = NULL;
        g_autoptr(BlockJob) job = blockjob_parse_string(cases[i].xml, &error);

        if (job || !error)
            g_error("accepted: %s", cases[i].xml);
        g_assert_cmpint(util_error_code(error), ==, VIR_ERR_INTERNAL_ERROR);
        if (!strstr(error->message, cases[i].message))
            g_error("%s\n  gave: %s\n  want: %s", cases[i].xml, error->message, cases[i].message);
        g_assert_true(g_str_has_prefix(error->message, "block job status XML: "));
    }
}

/* A domain's jobs in its status file. */
static void
test_xml_list(void)
{
    g_autoptr(GPtrArray) jobs = g_ptr_array_new_with_free_func((GDestroyNotify)blockjob_free);
    g_autoptr(GPtrArray) parsed = NULL;
    g_autoptr(GPtrArray) none = NULL;
    g_autoptr(GString) out = g_string_new(NULL);
    g_autoptr(GString) again = g_string_new(NULL);
    g_autoptr(GString) empty = g_string_new(NULL);
    g_autoptr(GError) error = NULL;
    static const struct {
        const char *xml;
        const char *message;
    } bad[] = {
        { "<blockjobs><blockjob id='a' type='pull' disk='vda' state='new'/>"
          "<blockjob id='b' type='commit' disk='vda' state='new'/></blockjobs>", "two block jobs on disk 'vda'" },
        { "<blockjobs><blockjob id='a' type='pull' disk='vda' state='new'/>"
          "<blockjob id='a' type='commit' disk='vdb' state='new'/></blockjobs>", "two block jobs with id 'a'" },
        { "<blockjobs><blockjob id='a' type='pull' disk='vda' state='odd'/></blockjobs>", "unknown state 'odd'" },
        { "<blockjobs><job/></blockjobs>", "expected <blockjob>, got <job>" },
        { "<blockjobs active='yes'/>", "unknown attribute 'active' in <blockjobs>" },
        { "<blockjobs>x</blockjobs>", "unexpected text in <blockjobs>" },
        { "<blockjob id='a' type='pull' disk='vda' state='new'/>", "expected <blockjobs>, got <blockjob>" },
    };

    g_ptr_array_add(jobs, job_in(BLOCKJOB_TYPE_COPY, &setups[2]));
    g_ptr_array_add(jobs, blockjob_new(BLOCKJOB_TYPE_COMMIT, "vdb", "libvirt-7-format"));
    blockjob_format_list(out, jobs, 2);
    g_assert_true(g_str_has_prefix(out->str, "  <blockjobs>\n    <blockjob id='copy-vda-"));
    g_assert_true(g_str_has_suffix(out->str, "  </blockjobs>\n"));
    parsed = blockjob_parse_list_string(out->str, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(parsed->len, ==, 2);
    g_assert_cmpstr(((BlockJob *)g_ptr_array_index(parsed, 1))->disk, ==, "vdb");
    blockjob_format_list(again, parsed, 2);
    g_assert_cmpstr(again->str, ==, out->str);

    blockjob_format_list(empty, NULL, 0);
    g_assert_cmpstr(empty->str, ==, "<blockjobs/>\n");
    none = blockjob_parse_list_string(empty->str, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(none->len, ==, 0);

    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) err = NULL;
        g_autoptr(GPtrArray) list = blockjob_parse_list_string(bad[i].xml, &err);

        if (list || !err)
            g_error("accepted: %s", bad[i].xml);
        g_assert_cmpint(util_error_code(err), ==, VIR_ERR_INTERNAL_ERROR);
        if (!strstr(err->message, bad[i].message))
            g_error("%s\n  gave: %s\n  want: %s", bad[i].xml, err->message, bad[i].message);
    }
}

/* The ids can be told apart from anything else QEMU runs. */
static void
test_ids(void)
{
    static const struct {
        BlockJobType type;
        const char *disk;
        const char *node;
        const char *id;
    } good[] = {
        { BLOCKJOB_TYPE_COMMIT, "vda", "libvirt-5-format", "commit-vda-libvirt-5-format" },
        { BLOCKJOB_TYPE_ACTIVE_COMMIT, "vda", "libvirt-1-format", "active-commit-vda-libvirt-1-format" },
        { BLOCKJOB_TYPE_COPY, "sdb", "node#1", "copy-sdb-node#1" },
        { BLOCKJOB_TYPE_PULL, "hdc", NULL, "pull-hdc" },
    };
    static const char *const bad[] = {
        "backup-vda-libvirt-1-format", "commit", "commit-", "commit--x", "commit-vda-",
        "drive-virtio-disk0", "commitvda", "pull-v.a-x", "",
    };

    for (size_t i = 0; i < G_N_ELEMENTS(good); i++) {
        g_autofree char *id = blockjob_make_id(good[i].type, good[i].disk, good[i].node);
        g_autofree char *disk = NULL;
        g_autofree char *node = NULL;
        BlockJobType type = 0;

        g_assert_cmpstr(id, ==, good[i].id);
        g_assert_true(blockjob_parse_id(id, &type, &disk, &node));
        g_assert_cmpint(type, ==, good[i].type);
        g_assert_cmpstr(disk, ==, good[i].disk);
        g_assert_cmpstr(node, ==, good[i].node);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autofree char *disk = NULL;
        g_autofree char *node = NULL;
        BlockJobType type = 0;

        if (blockjob_parse_id(bad[i], &type, &disk, &node))
            g_error("'%s' taken for a block job id", bad[i]);
        g_assert_null(disk);
    }
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/blockjob/names", test_names);
    g_test_add_func("/blockjob/transitions/all-cells", test_transitions_all_cells);
    g_test_add_func("/blockjob/transitions/out-of-range", test_transitions_out_of_range);
    g_test_add_func("/blockjob/actions/all-cells", test_actions_all_cells);
    g_test_add_func("/blockjob/actions/messages", test_actions_messages);
    for (size_t i = 0; i < G_N_ELEMENTS(sequences); i++) {
        g_autofree char *path = g_strdup_printf("/blockjob/sequence/%s", sequences[i].name);

        g_test_add_data_func(path, &sequences[i], test_sequence);
    }
    g_test_add_func("/blockjob/sequence/failure-detail", test_failure_detail);
    g_test_add_func("/blockjob/finish-kinds", test_finish_kinds);
    g_test_add_func("/blockjob/info", test_info);
    g_test_add_func("/blockjob/restart", test_restart);
    g_test_add_func("/blockjob/xml/every-state", test_xml_every_state);
    g_test_add_func("/blockjob/xml/full", test_xml_full);
    g_test_add_func("/blockjob/xml/minimal", test_xml_minimal);
    g_test_add_func("/blockjob/xml/errors", test_xml_errors);
    g_test_add_func("/blockjob/xml/list", test_xml_list);
    g_test_add_func("/blockjob/ids", test_ids);
    return g_test_run();
}
