/*-------------------------------------------------------------------------
 *
 * stage.h
 *	  The interface of an operator stage: one step of a continuous view's
 *	  pipeline between the source and the flush, with state of its own.
 *
 * Pipeline position: batch and flush.  A view's events pass through its
 * stages in order (today: filter, then partial aggregate, or for a
 * transform the append stage), each stage
 * taking the events the one before it let through.  Each stage fills one
 * StageRoutine with its callbacks, as an FDW fills an FdwRoutine;
 * stage_registry.c lists the stages in pipeline order and is the only file
 * that names them, and batch.c drives whichever stages a view has.  A
 * callback left NULL means the stage has nothing to do at that step.
 *
 * A stage is handed a batch of events, not one event: the per-event loop
 * is the stage's own, so a stage costs one indirect call per run of
 * events (batch.c hands a decoded batch on in runs of up to 1,024
 * events), not per event.  Each stage sees the events in their order.  When an event of the batch fails, batch.c throws the batch's
 * state away (reset, committed = false) and hands each event again as a
 * batch of one, each in a subtransaction of its own (see batch.c); a stage
 * cannot tell the two runs apart and need not.
 *
 * Where each step runs:
 *
 *	 loading the view (stage_registry.c, for batch.c's view_runtime_create):
 *	 applies, create
 *	 each batch (batch.c, view_process_events): batch_begin, process,
 *	 batch_end; all with the view owner's privileges
 *	 the flush (batch.c, view_flush_stages), in the flush transaction, if
 *	 the view had events in the batch: flush
 *	 after the flush commits, or when the batch is thrown away: reset
 *	 dropping the view or reloading definitions: destroy
 *	 a large transaction's rows before it commits (before_commit stages
 *	 only; batch.c's EarlyBatch): batch_begin, process, batch_end, on a
 *	 batch state of the transaction's own
 *
 * Stages depend on this header, the view at run time (view_runtime.h), the
 * event's row (view_input.h) and the modules below the batch; never on
 * batch.c or the registry, which call them.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_STAGE_H
#define CONTINUOUS_STAGE_H

#include "exec/view_runtime.h"
#include "source/stream_event.h"

/*
 * The events of one view that a stage is handed.  process keeps the ones
 * it passes on in events[0 .. nevents-1], in their order; the others it
 * has consumed (aggregated, counted as late, made dead letters) or
 * dropped (filtered out).  A stage that passes on events of its own (the
 * lookup join's joined rows, more than it was handed) points events at an
 * array of its own; the events themselves must live until the stage's
 * reset, for later stages may keep them (late rows).
 */
typedef struct StageBatch
{
	StreamEvent **events;
	int			nevents;

	/*
	 * Set by a stage once it has changed state that rolling back the
	 * subtransaction does not undo (a transition function advanced a
	 * state in memory).  If the event then fails, the careful run cannot
	 * go on from there and starts over without that event.
	 */
	bool		state_moved;
} StageBatch;

typedef struct StageRoutine
{
	/* for messages and the server log: "filter", "partial aggregate" */
	const char *name;

	/* does a view of this plan have the stage?  NULL: every view does */
	bool		(*applies) (ContinuousPlan *plan);

	/*
	 * The stage's private state for the view, in the view's memory
	 * (CurrentMemoryContext, which lives as long as the definition).
	 * destroy releases what memory contexts do not (slots, hash tables).
	 */
	void	   *(*create) (ViewRuntime *vr);
	void		(*destroy) (ViewRuntime *vr, void *state);

	/*
	 * Around the batch, once each however the events are run: before the
	 * first process and after the last.
	 */
	void		(*batch_begin) (ViewRuntime *vr, void *state);
	void		(*batch_end) (ViewRuntime *vr, void *state);

	/*
	 * The batch's events: consume them, or pass on those the next stage
	 * takes (StageBatch).  Errors are thrown; batch.c turns them into dead
	 * letters.  Per-event garbage goes in vr->econtext's per-tuple memory,
	 * what the batch keeps in vr->state_cxt.
	 */
	void		(*process) (ViewRuntime *vr, void *state, StageBatch *batch);

	/* Write the stage's state of the batch, in the flush transaction. */
	void		(*flush) (ViewRuntime *vr, void *state);

	/*
	 * Forget the batch.  committed: its flush has committed, and state
	 * that outlives batches keeps what the batch added; otherwise the
	 * batch is thrown away (to be run again, or after a failure) and such
	 * state goes back to what the last committed flush saw.  vr->state_cxt
	 * is reset after every stage's reset.
	 */
	void		(*reset) (ViewRuntime *vr, void *state, bool committed);

	/*
	 * Can the stage take a large transaction's events while it streams,
	 * before it commits, into a batch state of that transaction's own
	 * (batch.c's EarlyBatch), whose groups are combined with the batch's
	 * at commit?  Only if what it does with an event depends on nothing
	 * that happens between now and the commit (other transactions' events,
	 * state kept across batches) and leaves nothing outside the batch's
	 * state.  NULL: it cannot, and the view takes such a transaction's
	 * events at commit.
	 */
	bool		(*before_commit) (ContinuousPlan *plan);
} StageRoutine;

/* A stage of one view: its routine and its private state. */
typedef struct Stage
{
	const StageRoutine *routine;
	void	   *state;
} Stage;

#endif							/* CONTINUOUS_STAGE_H */
