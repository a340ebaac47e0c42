/*-------------------------------------------------------------------------
 *
 * batch.h
 *	  A continuous view at run time, and the run of a batch of stream
 *	  events through its stages (stage.h).
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_BATCH_H
#define CONTINUOUS_BATCH_H

#include "executor/executor.h"
#include "nodes/execnodes.h"

#include "exec/view_groups.h"
#include "exec/view_runtime.h"
#include "source/decoder.h"
#include "source/stream_event.h"
#include "source/watermark.h"

/*
 * Build from a view_catalog row's analysed query, as the owner with the
 * view's search_path; in CurrentMemoryContext.
 */
extern ViewRuntime *view_runtime_create(Oid view, Oid stream, Oid storage,
										Oid owner, const char *search_path,
										Query *query,
										Interval *allowed_lateness);
extern void view_runtime_destroy(ViewRuntime *vr);

/*
 * A large transaction's events, run through the view's stages while the
 * transaction streams, before it commits, into a batch state of their own
 * (EarlyBatch, batch.c), in the memory of the view.
 */
typedef struct EarlyBatch EarlyBatch;

/* A run of a batch's events that an EarlyBatch holds already. */
typedef struct EarlyEvents
{
	int			first;			/* in the StreamEvents */
	int			count;
	EarlyBatch *early;
} EarlyEvents;

/*
 * Run a stream's events through the view's stages (filter, partial
 * aggregate) into the view's batch state.  An event
 * whose evaluation fails becomes a dead letter; an event whose window the
 * stream's clock (NULL: none) had closed before the batch is late, dropped
 * and counted; the others count.  early: EarlyEvents, in their order; a
 * run whose windows are all still open has its EarlyBatch's groups
 * combined instead of running its events again.  Runs in the flush
 * transaction.
 */
extern void view_process_events(ViewRuntime *vr, StreamEvents *events,
								StreamClock *clock, List *early);

/* Can the view take a transaction's events before it commits (stage.h)? */
extern bool view_runs_before_commit(ViewRuntime *vr);

/*
 * An EarlyBatch of the view; the events of its transaction, as they
 * stream, with the stream's clock (NULL: none): false if one was late or
 * failed, and the EarlyBatch is of no more use (its events are then run at
 * commit as any others).  Runs in a transaction, as the view's owner.
 */
extern EarlyBatch *early_batch_create(ViewRuntime *vr);
extern bool early_batch_process(ViewRuntime *vr, EarlyBatch *early,
								StreamEvent *events, int nevents,
								StreamClock *clock);
extern Size early_batch_memory(EarlyBatch *early);
extern void early_batch_destroy(EarlyBatch *early);

/*
 * A batch's committed events run before its flush, to give their memory
 * back when decoded events fill the worker's (worker.c): the view keeps
 * only their groups and dead letters (ViewRuntime.folded), which
 * view_process_events takes into the batch at the flush, as often as it
 * runs; a flush that commits forgets them.  Only for a view that
 * view_folds_between_flushes.  Runs in a transaction, as the view's owner.
 * early: runs of the events aggregated while their transaction streamed
 * (EarlyEvents), taken as view_process_events takes them.
 */
extern bool view_folds_between_flushes(ViewRuntime *vr);

extern void view_fold_events(ViewRuntime *vr, StreamEvents *events,
							 StreamClock *clock, List *early);
extern Size view_folded_memory(ViewRuntime *vr);

/* Does the view count the events of the transaction that committed there? */
extern bool view_takes_commit(ViewRuntime *vr, XLogRecPtr commit_lsn);

/*
 * Events that ran before their commit into early, not in the batch (a
 * large transaction's rows on disk, early_aggregation.c): could the view
 * take them as a run of the batch beginning now (its windows all open by
 * the clock as it stands), and then take them, as view_fold_events()
 * takes a run.  As the view's owner, in a transaction.
 */
extern bool view_early_open_now(ViewRuntime *vr, EarlyBatch *early,
								StreamClock *clock);
extern void view_fold_early(ViewRuntime *vr, EarlyBatch *early,
							int64 nevents);

/*
 * What the view's memory holds beyond what loading its definition took:
 * its batch's groups and states, what it keeps of events run before the
 * flush, its stages' batch state and the buckets of its group table (which
 * last from batch to batch), the filters of group_locations.c, and the
 * EarlyBatches of large transactions.
 */
extern Size view_batch_memory(ViewRuntime *vr);

/*
 * The stages write their state of the batch (the groups merged into
 * storage, a window's side state), in the flush transaction; nothing if
 * the batch had no events of the view.
 */
extern void view_flush_stages(ViewRuntime *vr);

/*
 * Forget the batch state: view_batch_committed after its flush committed,
 * view_batch_reset when it is thrown away (a failure, or to run it again).
 */
extern void view_batch_committed(ViewRuntime *vr);
extern void view_batch_reset(ViewRuntime *vr);

#endif							/* CONTINUOUS_BATCH_H */
