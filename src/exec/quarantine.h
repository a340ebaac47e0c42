/*-------------------------------------------------------------------------
 *
 * quarantine.h
 *	  One view's failure stops that view only.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_QUARANTINE_H
#define CONTINUOUS_QUARANTINE_H

#include "base/shmem.h"
#include "exec/view_runtime.h"

typedef void (*QuarantineStep) (ViewRuntime *vr, void *arg);

/*
 * step(vr, arg) in a subtransaction of the worker's transaction.  If it
 * fails by the view's fault, its work is rolled back, the view is marked
 * failed (vr->failed) and false returned; other errors are thrown on.
 */
extern bool quarantine_run(ViewRuntime *vr, QuarantineStep step, void *arg);

/*
 * The same without the consequences: the error if step failed (its work
 * rolled back; transient errors are thrown on), or NULL.  vr may be NULL.
 */
extern ErrorData *quarantine_attempt(QuarantineStep step, ViewRuntime *vr,
									 void *arg);

/*
 * Has the step that runs now used up continuous.view_time_limit?  Its
 * error is then the view's, not one event's: thrown on, not caught.
 */
extern bool quarantine_time_is_up(void);

/*
 * An owner's code runs from quarantine_limit_begin() to
 * quarantine_limit_end() under continuous.view_time_limit (in the worker
 * only; begin returns whether it armed the limit, to be passed to end).
 * what: the view, or the Kafka stream (is_stream) whose messages are
 * decoded, that fails if the code goes on after its cancel.  End returns
 * whether the time ran out (the cancel's error is the code's, not an
 * event's).  quarantine_attempt() does this around each view's step;
 * quarantine_limit_blame() names the view that the step of every view's
 * writes writes now.
 */
extern bool quarantine_limit_begin(Oid what, bool is_stream);
extern bool quarantine_limit_end(bool armed);
extern void quarantine_limit_blame(Oid view);

/* "<what> took longer than continuous.view_time_limit (N ms)" */
extern char *quarantine_time_limit_message(const char *what);

/*
 * After the worker was terminated for code that went on after its cancel:
 * mark that view failed (in a transaction, before views are set up), and
 * return it (InvalidOid: none).
 */
extern Oid	quarantine_fail_overran_view(void);

/*
 * Kafka streams whose decoding ran out of time: not consumed until the
 * catalog changes (quarantine_forget_stalled_streams()); kept across the
 * worker's restarts.
 */
extern void quarantine_stall_stream(Oid stream);
extern bool quarantine_stream_stalled(Oid stream);
extern void quarantine_forget_stalled_streams(void);

/* Could the error go away by itself (cancel, deadlock, resources, I/O)? */
extern bool quarantine_error_is_transient(ErrorData *edata);

/*
 * Throw edata on, failing the whole flush, rather than fail the view?
 * True for a transient error; for a deadlock, a serialization failure or
 * a lock not available, only three times in ten minutes for one view in a
 * worker, as its owner's code can bring those about.  view: the
 * view whose step failed, InvalidOid for a step of every view (then each
 * is run alone to find the view).
 */
extern bool quarantine_rethrow(ErrorData *edata, Oid view);

/*
 * The worker's strikes in shared memory; without (a backend), every
 * transient error is thrown on.
 */
extern void quarantine_use_strikes(TransientStrikes *strikes);

/* Mark a view failed with this error, in the worker's transaction. */
extern void quarantine_view(Oid view, const char *name, const char *message);

/*
 * continuous.sync(): a WARNING for each failed view of the database, and
 * for each view a lock holds back (view_progress.c).
 */
extern void quarantine_warn_failed_views(void);

#endif							/* CONTINUOUS_QUARANTINE_H */
