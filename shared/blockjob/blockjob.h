/*
 * blockjob.h: the block-job state machine (no I/O, no QEMU knowledge).
 *
 * A block job (pull, commit, active commit, copy) on one disk moves
 * through the states below.  What moves it is either a hypervisor event
 * (translated by the daemon from QMP into BlockJobEvent), the outcome of a
 * command the daemon sent, or a user action (BlockJobAction).  Two const
 * tables decide everything:
 *
 *   - transitions[phases][state][event]: the next state, the outcome
 *     recorded, and the effect the caller must perform (emit READY, ask
 *     QEMU for the outcome, apply the outcome to the definition, emit the
 *     final event, ...).  The caller performs the effect; this module
 *     never does I/O.
 *   - actions[phases][state][action]: whether a user action is accepted
 *     and, if not, the libvirt error code and message.
 *
 * "phases" is whether the job ends by itself (pull, commit: one phase) or
 * waits in READY for a pivot or an abort (copy, active commit: two
 * phases); QEMU's events mean different things for the two kinds.
 *
 * The job record is persisted in the domain's status XML at every change
 * (blockjob_format / blockjob_parse_node), so that a daemon restarted at
 * any moment can ask QEMU for its jobs, feed what it learns as events and
 * be told, by the same table, what is still owed.  See docs/blockjobs.md.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

#include <libxml/tree.h>

#include "libvirt/virterror.h"
#include "conf-domain.h"

/* The error domain of the errors this module sets: libvirt's own
 * block-job errors come from its qemu driver, the only one with jobs. */
#define BLOCKJOB_ERROR_DOMAIN VIR_FROM_QEMU

/* virDomainBlockJobType.  libvirt also has UNKNOWN = 0 (a placeholder a
 * job never has) and BACKUP = 5 (backup jobs, out of scope here); neither
 * is a value of this enum. */
typedef enum {
    BLOCKJOB_TYPE_PULL = 1,
    BLOCKJOB_TYPE_COPY = 2,
    BLOCKJOB_TYPE_COMMIT = 3,
    BLOCKJOB_TYPE_ACTIVE_COMMIT = 4,

    BLOCKJOB_TYPE_LAST
} BlockJobType;

#define BLOCKJOB_TYPE_FIRST BLOCKJOB_TYPE_PULL

/* virConnectDomainEventBlockJobStatus: the status a BLOCK_JOB /
 * BLOCK_JOB_2 event carries.  A job's outcome is one of the first three. */
typedef enum {
    BLOCKJOB_STATUS_COMPLETED = 0,
    BLOCKJOB_STATUS_FAILED = 1,
    BLOCKJOB_STATUS_CANCELED = 2,
    BLOCKJOB_STATUS_READY = 3,

    BLOCKJOB_STATUS_LAST
} BlockJobStatus;

/*
 * The job's states.  QEMU's own job statuses (created, running, paused,
 * ready, standby, waiting, pending, aborting, concluded, null) are folded
 * into these as far as the daemon needs them: everything alive and not
 * ready is RUNNING, ready and standby are READY.  What QEMU cannot tell
 * us, and we must remember, is what *we* asked for: ABORTING and
 * PIVOTING are entered (and persisted) before the cancel / complete
 * command is sent, so a restart knows a request may be in flight.
 *
 * Once QEMU has said how the job ended, the state is CONCLUDED and
 * job->outcome holds COMPLETED, FAILED or CANCELED.  The outcome is a
 * field and not three states because it does not change how the machine
 * reacts to anything: it only selects what the daemon does to the
 * definition (blockjob_finish_kind).  Ending is three persisted steps, so
 * that a restart neither redoes a chain update nor loses or repeats the
 * event: CONCLUDED (definition not yet updated) -> PROCESSED (definition
 * updated and saved, event owed) -> REPORTED (event emitted; QEMU's job
 * still to dismiss and the record to drop).
 *
 * "QEMU says concluded but we do not know how" is not a state: the
 * outcome depends on whether we were ABORTING or PIVOTING, which such a
 * state would forget.  It is the CONCLUDED event with the QUERY_OUTCOME
 * effect, the state unchanged; QEMU keeps a concluded job until it is
 * dismissed (jobs are started with auto-dismiss off), so a restart can
 * still ask.
 *
 * An asynchronous abort is not a state either: ABORT_ASYNC only changes
 * whether the API call waits for the end, not what the job does.
 */
typedef enum {
    BLOCKJOB_STATE_NEW,         /* record saved, start command not yet confirmed */
    BLOCKJOB_STATE_RUNNING,     /* QEMU has the job; not ready */
    BLOCKJOB_STATE_READY,       /* two-phase job in sync, waiting for pivot or abort */
    BLOCKJOB_STATE_ABORTING,    /* cancel requested, end not yet seen */
    BLOCKJOB_STATE_PIVOTING,    /* complete requested, end not yet seen */
    BLOCKJOB_STATE_CONCLUDED,   /* outcome known, definition not yet updated */
    BLOCKJOB_STATE_PROCESSED,   /* definition updated, final event not yet emitted */
    BLOCKJOB_STATE_REPORTED,    /* event emitted; dismiss in QEMU, drop the record */

    BLOCKJOB_STATE_LAST
} BlockJobState;

/* What the daemon feeds into the machine.  It translates QMP into these
 * (JOB_STATUS_CHANGE, BLOCK_JOB_READY / COMPLETED / CANCELLED / ERROR,
 * query-jobs after a reconnect, command replies); no QMP string reaches
 * this module. */
typedef enum {
    /* replies to the daemon's own commands */
    BLOCKJOB_EVENT_START_OK,        /* the start command succeeded */
    BLOCKJOB_EVENT_START_FAILED,    /* the start command failed: no job in QEMU */
    BLOCKJOB_EVENT_REQUEST_FAILED,  /* QEMU refused our cancel / complete */
    /* what QEMU reports about the job */
    BLOCKJOB_EVENT_RUNNING,         /* created, running, paused, waiting, pending, aborting */
    BLOCKJOB_EVENT_READY,           /* ready or standby; BLOCK_JOB_READY */
    BLOCKJOB_EVENT_COMPLETED,       /* ended without error (BLOCK_JOB_COMPLETED, query-jobs) */
    BLOCKJOB_EVENT_FAILED,          /* ended with an error (detail: QEMU's message) */
    BLOCKJOB_EVENT_CANCELLED,       /* BLOCK_JOB_CANCELLED */
    BLOCKJOB_EVENT_CONCLUDED,       /* concluded, outcome not told (status change only) */
    BLOCKJOB_EVENT_VANISHED,        /* QEMU does not know the job (after a reconnect) */
    BLOCKJOB_EVENT_DOMAIN_STOPPED,  /* the QEMU process is gone */
    /* what the daemon learnt from the block graph (after RECONCILE) */
    BLOCKJOB_EVENT_GRAPH_DONE,      /* the graph shows the job's change (pivoted, chain shortened) */
    BLOCKJOB_EVENT_GRAPH_UNCHANGED, /* the graph shows the original chain */
    /* the daemon's progress through the end of the job */
    BLOCKJOB_EVENT_PROCESSED,       /* FINISH done: the definition reflects the outcome */
    BLOCKJOB_EVENT_REPORTED,        /* EMIT_EVENT done: BLOCK_JOB and BLOCK_JOB_2 sent */

    BLOCKJOB_EVENT_LAST
} BlockJobEvent;

/* What the caller must do after an event.  Whenever BlockJobStep.persist
 * is set, save the status XML first. */
typedef enum {
    BLOCKJOB_EFFECT_NONE,
    /* emit BLOCK_JOB / BLOCK_JOB_2 with status READY; <mirror ready='yes'> */
    BLOCKJOB_EFFECT_EMIT_READY,
    /* ask QEMU (query-jobs) how the job ended; feed COMPLETED or FAILED */
    BLOCKJOB_EFFECT_QUERY_OUTCOME,
    /* QEMU cannot tell what happened (job gone, or ended without our
     * request): look at the block graph, feed GRAPH_DONE or GRAPH_UNCHANGED */
    BLOCKJOB_EFFECT_RECONCILE,
    /* QEMU's job is ready but our cancel / complete may never have reached
     * it (restart): send it again; if QEMU refuses it, just wait */
    BLOCKJOB_EFFECT_RESEND_REQUEST,
    /* the job never existed in QEMU: revert access grants, drop the
     * record; no event */
    BLOCKJOB_EFFECT_DISCARD,
    /* apply the outcome to the definition (blockjob_finish_kind), save,
     * feed PROCESSED */
    BLOCKJOB_EFFECT_FINISH,
    /* emit BLOCK_JOB / BLOCK_JOB_2 with job->outcome, feed REPORTED */
    BLOCKJOB_EFFECT_EMIT_EVENT,
    /* dismiss QEMU's job if it still has it, delete the graph nodes that
     * left the chain, unlink job->delete_paths if blockjob_finish_deletes,
     * drop the record */
    BLOCKJOB_EFFECT_CLEANUP,

    BLOCKJOB_EFFECT_LAST
} BlockJobEffect;

/* The user's requests on a disk.  START is any of Commit, Pull, Rebase,
 * Copy; ABORT and ABORT_ASYNC are BlockJobAbort without PIVOT, with and
 * without the ASYNC flag; PIVOT is BlockJobAbort with PIVOT; INFO is
 * GetBlockJobInfo. */
typedef enum {
    BLOCKJOB_ACTION_START,
    BLOCKJOB_ACTION_ABORT,
    BLOCKJOB_ACTION_ABORT_ASYNC,
    BLOCKJOB_ACTION_PIVOT,
    BLOCKJOB_ACTION_SET_SPEED,
    BLOCKJOB_ACTION_INFO,

    BLOCKJOB_ACTION_LAST
} BlockJobAction;

/* What ending a job does to the disk (spec section 3.4). */
typedef enum {
    BLOCKJOB_FINISH_KEEP_CHAIN,     /* pull/commit failed or canceled: nothing changes */
    BLOCKJOB_FINISH_DROP_MIRROR,    /* copy/active commit not pivoted: drop <mirror>, keep the chain */
    BLOCKJOB_FINISH_PULL,           /* active's backing becomes base (or none) */
    BLOCKJOB_FINISH_COMMIT,         /* top's overlay is backed by base; top..above base leave */
    BLOCKJOB_FINISH_PIVOT,          /* the disk moves to the mirror (copy) or to base
                                     * (active commit); <mirror> dropped */

    BLOCKJOB_FINISH_LAST
} BlockJobFinish;

/* The API flags a job keeps, independent of which API's bit values
 * carried them (commit, rebase and copy number them differently). */
typedef enum {
    BLOCKJOB_FLAG_SHALLOW = 1 << 0,
    BLOCKJOB_FLAG_DELETE = 1 << 1,      /* commit: unlink what it invalidated */
    BLOCKJOB_FLAG_RELATIVE = 1 << 2,    /* keep a relative backing name */
    BLOCKJOB_FLAG_REUSE_EXT = 1 << 3,   /* copy: the destination was supplied */
    BLOCKJOB_FLAG_TRANSIENT = 1 << 4,   /* copy: TRANSIENT_JOB */
    BLOCKJOB_FLAG_SYNC_WRITES = 1 << 5, /* copy: SYNCHRONOUS_WRITES */

    BLOCKJOB_FLAG_LAST = 1 << 6
} BlockJobFlags;

typedef struct _BlockJob BlockJob;
struct _BlockJob {
    BlockJobType type;
    char *disk;                 /* target, "vda" */
    char *id;                   /* QEMU job id, blockjob_make_id() */
    BlockJobState state;
    BlockJobStatus outcome;     /* COMPLETED/FAILED/CANCELED from CONCLUDED on */
    bool ready;                 /* has been ready; stays set until the end */
    unsigned int flags;         /* BlockJobFlags */
    unsigned long long bandwidth;   /* bytes/s, 0 = unlimited */

    /* Format node names in the block graph (stable across renumbering
     * and restarts).  pull: top = active layer, base = new backing (NULL:
     * pull everything).  commit: top, base, and top_parent = the overlay
     * whose backing is rewritten (NULL for an active commit).  copy: top
     * = active layer. */
    char *top_node;
    char *base_node;
    char *top_parent_node;
    char *backing_name;         /* backing string written into the overlay, or NULL */

    ConfStorageSource *mirror;  /* copy destination (no backing chain), else NULL */
    GPtrArray *delete_paths;    /* char *: files to unlink after success (DELETE) */
    char *error;                /* QEMU's message for a failed job, or NULL */

    /* What left the chain when the end was applied, for the clean-up
     * (kept in the status file, so a restart in between still does it):
     * graph nodes to delete, in order, and images to give back to their
     * owners once QEMU no longer opens them. */
    GPtrArray *leftover_nodes;  /* char * */
    GPtrArray *leftover_paths;  /* char * */
};

/* Append a copy of @item to @array (of char *) unless it is there already. */
void blockjob_strings_add(GPtrArray *array, const char *item);

typedef struct {
    BlockJobEffect effect;
    bool persist;               /* the record changed: save the status XML */
} BlockJobStep;

const char *blockjob_type_to_string(BlockJobType type);
int blockjob_type_from_string(const char *str);
const char *blockjob_status_to_string(BlockJobStatus status);
int blockjob_status_from_string(const char *str);
const char *blockjob_state_to_string(BlockJobState state);
int blockjob_state_from_string(const char *str);
const char *blockjob_event_to_string(BlockJobEvent event);
const char *blockjob_effect_to_string(BlockJobEffect effect);
const char *blockjob_action_to_string(BlockJobAction action);
const char *blockjob_finish_to_string(BlockJobFinish finish);
/* Name of one BlockJobFlags bit ("shallow", "reuse-ext", ...), NULL if
 * @flag is not exactly one known bit. */
const char *blockjob_flag_to_string(unsigned int flag);
int blockjob_flag_from_string(const char *str);

/* Copy and active commit wait in READY for a pivot or an abort. */
bool blockjob_type_is_two_phase(BlockJobType type);

/* Whether a job of @type can ever be in @state (one-phase jobs are never
 * READY or PIVOTING). */
bool blockjob_state_possible(BlockJobType type, BlockJobState state);

/* The QEMU job id for a job of @type on @disk whose top is @top_node:
 * "<type>-<disk>-<node>", e.g. "commit-vda-libvirt-5-format", or
 * "<type>-<disk>" without a node.  One job per disk, and node names are
 * unique in the graph, so the id is unique; the daemon can recognise its
 * own jobs in query-jobs with blockjob_parse_id. */
char *blockjob_make_id(BlockJobType type, const char *disk, const char *top_node);

/* Splits an id made by blockjob_make_id; false if @id is not one. */
bool blockjob_parse_id(const char *id, BlockJobType *ret_type, char **ret_disk,
                       char **ret_node);

/* A job in state NEW, its id made from @type, @disk and @top_node. */
BlockJob *blockjob_new(BlockJobType type, const char *disk, const char *top_node);
BlockJob *blockjob_copy(const BlockJob *job);
void blockjob_free(BlockJob *job);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(BlockJob, blockjob_free)

/*
 * Feeds @event into @job.  @detail is the hypervisor's message (a failed
 * job's error), may be NULL; it is kept in job->error.  On success the job
 * has moved (logged at debug level) and *ret_step says what to do.  An
 * event the table does not allow in the current state changes nothing and
 * is VIR_ERR_INTERNAL_ERROR; the daemon logs it and carries on.
 */
bool blockjob_apply_event(BlockJob *job, BlockJobEvent event, const char *detail,
                          BlockJobStep *ret_step, GError **error);

/*
 * Whether @action is accepted on disk @disk whose job is @job (NULL: the
 * disk has no job).  Returns 1 if accepted; 0 for INFO when there is no
 * job to report (GetBlockJobInfo returns 0, no error); -1 with the error
 * libvirt gives otherwise.  Jobs whose end has already been applied to the
 * definition (PROCESSED, REPORTED) count as no job, except for START,
 * which must wait until the record is gone.
 */
int blockjob_check_action(const BlockJob *job, const char *disk, BlockJobAction action,
                          GError **error);

/* blockjob_check_action, then the state change the action makes (ABORT,
 * ABORT_ASYNC -> ABORTING, PIVOT -> PIVOTING; others none).  Persist, then
 * send the command; if QEMU refuses it feed REQUEST_FAILED.  START is not
 * applied to a job: create one with blockjob_new. */
bool blockjob_apply_action(BlockJob *job, BlockJobAction action, GError **error);

/* What ending the job does to the disk, from its type and outcome; only
 * meaningful from CONCLUDED on. */
BlockJobFinish blockjob_finish_kind(const BlockJob *job);

/* Whether CLEANUP must unlink job->delete_paths: a COMPLETED commit or
 * active commit with the DELETE flag. */
bool blockjob_finish_deletes(const BlockJob *job);

/* Whether the disk has a <mirror> (copy / active commit not yet ended). */
bool blockjob_has_mirror(const BlockJob *job);

/* The <mirror ready='...'> value: "yes" (READY), "abort" (ABORTING),
 * "pivot" (PIVOTING), NULL while copying or when there is no mirror. */
const char *blockjob_mirror_ready(const BlockJob *job);

/* What virDomainGetBlockJobInfo returns (spec 3.5). */
typedef struct {
    BlockJobType type;
    unsigned long long bandwidth;   /* MiB/s rounded up, or bytes/s */
    unsigned long long cur;
    unsigned long long end;
} BlockJobInfo;

/* Shapes QEMU's progress for @job.  @have_progress: QEMU still lists the
 * job (@offset/@len/@speed from query-block-jobs or query-jobs); without
 * it cur=0, end=1.  A job not ready never shows cur == end > 0 (programs
 * poll for that), a ready job with nothing to copy shows 1/1.  @bytes:
 * VIR_DOMAIN_BLOCK_JOB_INFO_BANDWIDTH_BYTES. */
void blockjob_info(const BlockJob *job, bool have_progress, unsigned long long offset,
                   unsigned long long len, unsigned long long speed, bool bytes,
                   BlockJobInfo *ret_info);

/* ---- persistence in the domain status XML ---- */

/* Appends <blockjob .../> (or the element with its children) indented by
 * @indent spaces, ending with a newline. */
void blockjob_format(GString *out, const BlockJob *job, unsigned int indent);
char *blockjob_format_string(const BlockJob *job);

/* Parses a <blockjob> element written by blockjob_format.  Strict:
 * anything unknown, missing or inconsistent is VIR_ERR_INTERNAL_ERROR
 * naming the problem. */
BlockJob *blockjob_parse_node(const xmlNode *node, GError **error);
BlockJob *blockjob_parse_string(const char *xml, GError **error);

/* A domain's jobs: <blockjobs> with one <blockjob> each (an empty
 * <blockjobs/> when there are none).  @jobs holds BlockJob *. */
void blockjob_format_list(GString *out, GPtrArray *jobs, unsigned int indent);

/* Parses <blockjobs>: a GPtrArray of BlockJob * (freed with the array).
 * Two jobs on one disk, or two with one id, are an error too. */
GPtrArray *blockjob_parse_list_node(const xmlNode *node, GError **error);
GPtrArray *blockjob_parse_list_string(const char *xml, GError **error);
